// Kernels: raw pointers and sizes only (no Tensor, no tape, no Python). cpu:: is the
// reference implementation; cuda:: will mirror it with the same names and arguments.
// Matrices are row-major with a leading dimension (elements between rows).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lamina::kernels {

// The geometry of one image's 2-d convolution (per group: C is the group's channels).
struct ConvGeometry {
  int64_t C, H, W;            // input channels and size
  int64_t KH, KW;             // kernel
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dilation_h, dilation_w;
  int64_t OH, OW;             // output size
};

// The geometry of 2-d pooling over `planes` independent H x W planes (N * C).
struct PoolGeometry {
  int64_t planes, H, W;
  int64_t KH, KW;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t OH, OW;
};

}  // namespace lamina::kernels

namespace lamina::kernels::cpu {

// Depthwise convolution (one input channel per group): g.C is all N's input channels,
// output channel o = c * mult + j reads input channel c. x [N, C, H, W], w [C*mult, 1, KH, KW],
// b [C*mult] or null, y [N, C*mult, OH, OW]. The backward adds into dx (zeroed by the
// caller) and overwrites dw and db (the bias gradient); any of them may be null.
template <class T>
void depthwise_conv2d(const T* x, const T* w, const T* b, int64_t N, int64_t mult, const ConvGeometry& g, T* y);
template <class T>
void depthwise_conv2d_backward(const T* x, const T* w, const T* dy, int64_t N, int64_t mult, const ConvGeometry& g,
                               T* dx, T* dw, T* db);

// Batch normalisation of x [N, C, S]: per-channel mean and biased variance; y = (x - mean)
// * invstd * w + b (w, b may be null), then max(y, 0) if relu; the backward through the
// batch statistics (training) or through fixed ones (inference), with dy taken as 0 where
// that y was not positive (recomputed from x, w and b: y itself is not read) if relu; dx,
// dw, db may be null.
template <class T> void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var);
template <class T>
void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* w, const T* b, int64_t N, int64_t C,
                      int64_t S, bool relu, T* y);
template <class T>
void batch_norm_backward(const T* x, const T* dy, const T* mean, const T* invstd, const T* w, const T* b, int64_t N,
                         int64_t C, int64_t S, bool training, bool relu, T* dx, T* dw, T* db);

// Local response normalisation across channels of x [N, C, S] (Caffe's ACROSS_CHANNELS):
//   scale = k + alpha / size * (sum of x^2 over the `size` channels centred on c; zeros
//   past the edges), y = x * scale^-beta (scale is kept for the backward);
//   dx = dy * scale^-beta - 2 alpha beta / size * x * (sum over the same window of
//   dy * y / scale).
template <class T>
void lrn_across_forward(const T* x, int64_t N, int64_t C, int64_t S, int64_t size, T alpha, T beta, T k, T* scale,
                        T* y);
template <class T>
void lrn_across_backward(const T* x, const T* y, const T* scale, const T* dy, int64_t N, int64_t C, int64_t S,
                         int64_t size, T alpha, T beta, T* dx);

// Max pooling; argmax[i] is the index (h * W + w) within its plane of output i's maximum.
template <class T> void max_pool2d(const T* x, const PoolGeometry& g, T* y, int32_t* argmax);
// dx (overwritten) = dy routed to each output's argmax, 0 where no output's maximum lies.
template <class T> void max_pool2d_backward(const T* dy, const int32_t* argmax, const PoolGeometry& g, T* dx);
// Average pooling with Caffe's divisor: the window clipped to the padded input (padding
// counts, the overhang of a ceil-mode window past the padding does not).
template <class T> void avg_pool2d(const T* x, const PoolGeometry& g, T* y);
// dx (overwritten) = each output's dy / its divisor, added over the input its window covers.
template <class T> void avg_pool2d_backward(const T* dy, const PoolGeometry& g, T* dx);

// out[o, j] = sum over r of x[o, r, j] for x [outer, R, inner] (double accumulation).
template <class T> void sum_middle(const T* x, int64_t outer, int64_t R, int64_t inner, T* out);
// The sum of S values (in T, a vector reduction); out[c] = the sum of x [N, C, S] over N and
// S (planes by plane_sum, added in double): a convolution's bias gradient.
template <class T> T plane_sum(const T* x, int64_t S);
template <class T> void channel_sums(const T* x, int64_t N, int64_t C, int64_t S, T* out);

// Counter-based random fills: element i depends only on (seed, i), never on threads.
template <class T> void uniform(uint64_t seed, int64_t n, T lo, T hi, T* out);
template <class T> void gaussian(uint64_t seed, int64_t n, T mean, T stddev, T* out);

// Softmax over the middle axis of [outer, C, inner], numerically stable (max subtracted).
template <class T> void softmax(const T* x, int64_t outer, int64_t C, int64_t inner, bool log, T* y);
// dx from y and dy: softmax dx = y * (dy - sum(dy * y)); log-softmax dx = dy - e^y * sum(dy).
template <class T>
void softmax_backward(const T* y, const T* dy, int64_t outer, int64_t C, int64_t inner, bool log, T* dx);
// d(mean NLL)/d logits = scale * (softmax - onehot(label)), from log-softmax `logp`;
// positions whose label is ignore_label get 0.
template <class T>
void softmax_cross_entropy_backward(const T* logp, const int64_t* labels, int64_t outer, int64_t C, int64_t inner,
                                    int64_t ignore_label, T scale, T* dx);

// col [C*KH*KW, OH*OW] (rows ldc >= OH*OW apart; what lies between rows is left
// undefined) from one image im [C, H, W]; col2im adds col (rows OH*OW apart) back into im.
template <class T> void im2col(const T* im, const ConvGeometry& g, T* col, int64_t ldc);
template <class T> void col2im(const T* col, const ConvGeometry& g, T* im);

// C[M,N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T.
// op(A) is M x K (A is K x M when trans_a), op(B) is K x N (B is N x K when trans_b).
// beta == 0 overwrites C without reading it (NaNs already in C do not propagate).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The same product by lamina's built-in kernel, whatever BLAS is configured (tests and
// benchmarks compare the two).
template <class T>
void gemm_builtin(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// An im2col matrix never built: row j, position p of B is
// image[offsets[j] + p / width * pitch + p % width] (width a multiple of 16). For a stride-1
// convolution: image the input padded (rows `pitch` floats), offsets[j] tap j's first
// pixel, width the output rows' length.
struct ImageTaps {
  const float* image;
  const int64_t* offsets;
  int64_t width, pitch;
};

// The convolution GEMM (conv_gemm.cpp), float32 with AVX-512 only (check
// conv_gemm_available()): C[m, p] = (accumulate ? C[m, p] : bias ? bias[m] : 0) +
// sum_k A[m, k] B[k, p] for m < M and p0 <= p < p1, A and B read in place: B row-major
// (leading dimension ldb), A as ConvGemmA says. stream: C is written by streaming
// (non-temporal) stores, past the caches, where a tile writes it in one pass (not
// accumulating; K <= 256 when B's strips are copied), whole vectors 64-byte aligned: for a C
// that is large and not read again soon (a weight gradient, read at the solver's update; a
// forward output of many megabytes, which the caches would not keep anyway), whose
// write-allocate reads cost more than its arithmetic saves.
struct ConvGemmA {
  const float* data;
  int64_t lda;
  bool trans;  // A [M, K] given as its transpose [K, M] (leading dimension lda)
};
bool conv_gemm_available();
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
               const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false);
// The same over columns [0, P), split in tiles over lamina's threads (outside a parallel region).
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                        const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false);
// Both with B image taps (columns p0, p1 and P multiples of 16).
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1, const float* bias,
               bool accumulate, float* C, int64_t ldc, bool stream = false);
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P, const float* bias,
                        bool accumulate, float* C, int64_t ldc, bool stream = false);
// Both with B [K, P] given as its transpose [P, K] (a weight gradient's column matrix: dW =
// dy [O, P] times col [K, P] transposed), no bias.
struct TransposedB {
  const float* data;
  int64_t ldb;
};
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t p0, int64_t p1, bool accumulate,
               float* C, int64_t ldc, bool stream = false);
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                        float* C, int64_t ldc, bool stream = false);

// C [M, N] += A [M, P] B [N, P]^T for a small C and long rows (dot_gemm.cpp: a
// convolution's weight gradient with few input channels), float32 with AVX-512 only
// (conv_gemm_available()). dot_gemm adds into acc, dot_gemm_size(M, N) floats of per-lane
// partial sums that the caller zeroes once and may accumulate over many calls;
// dot_gemm_finish adds acc's sums into C (leading dimension ldc).
size_t dot_gemm_size(int64_t M, int64_t N);
void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb, float* acc);
// The same with B image taps (an im2col matrix never built; ImageTaps above).
void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B, float* acc);
void dot_gemm_finish(int64_t M, int64_t N, const float* acc, float* C, int64_t ldc);

// Winograd convolution (winograd.cpp): F(4x4, 3x3) for r = 3, F(4x4, 5x5) for r = 5;
// float32 with AVX-512 only (check winograd_available()); stride 1, dilation 1, one group.
// winograd_weights transforms w [O, I, r, r] (adjoint: w [I, O, r, r] transposed and
// turned 180 degrees, the kernel of the input gradient) into u, winograd_weights_size(O,
// I, r) floats; then y [N, O, OH, OW] = conv(x [N, I, H, W] padded by pad_h, pad_w) + bias
// (may be null), images x_image and y_image floats apart, over lamina's threads. The weight
// gradient of that convolution, dw [O, I, r, r] (overwritten), comes from x and dy
// [N, O, OH, OW] (images dy_image floats apart) through the same transforms. Float32
// error: a few times the direct sum's (the transforms scale by up to 8 and down to 1/90).
bool winograd_available();
size_t winograd_weights_size(int64_t O, int64_t I, int64_t r);
void winograd_weights(const float* w, int64_t O, int64_t I, int64_t r, bool adjoint, float* u);
void winograd_conv(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r,
                   int64_t pad_h, int64_t pad_w, const float* u, int64_t O, const float* bias, float* y,
                   int64_t y_image, int64_t OH, int64_t OW);
void winograd_weight_grad(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r,
                          int64_t pad_h, int64_t pad_w, const float* dy, int64_t dy_image, int64_t O, int64_t OH,
                          int64_t OW, float* dw);

// What backs gemm: OpenBLAS's configuration string (with its core type), "system BLAS"
// or "built-in".
const char* blas_name();
// Makes the BLAS single-threaded (lamina's gemm splits large products over its own threads).
void blas_single_thread();

}  // namespace lamina::kernels::cpu
