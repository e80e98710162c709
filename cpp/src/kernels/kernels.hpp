// Kernels: raw pointers and sizes only (no Tensor, no tape, no Python).
//
// This header is the whole contract between the ops and a device. A device is a Table of
// kernels: ops get the table of their tensors' device from one place
// (ops_detail::kernels_for, src/ops/dispatch.hpp) and call its entries; an entry a device
// does not fill throws DeviceError naming the kernel, the device and the op, never
// crashes. The CPU fills every entry, once per vector level (kernels/cpu/simd.hpp):
// cpu::table() is the active level's. A CUDA backend fills a Table of its own with the
// same entries and arguments.
//
// Matrices are row-major with a leading dimension (elements between rows). Entries under
// Typed<T> exist for float and double; those marked "every dtype" also for int32_t, int64_t
// and bool (Table::i32, i64, b8), "integers" for int32_t and int64_t; the rest are float32
// only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lamina/cpu.hpp"

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

// A whole 2-d convolution, as the op validated it: x [N, C, H, W] by w [O, C / groups, KH,
// KW] into y [N, O, OH, OW], OH = (H + 2 pad_h - dilation_h (KH - 1) - 1) / stride_h + 1
// (OW alike).
struct ConvShape {
  int64_t N, C, H, W;
  int64_t O, KH, KW;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dilation_h, dilation_w;
  int64_t groups;
  int64_t OH, OW;
};

// The geometry of 2-d pooling over `planes` independent H x W planes (N * C).
struct PoolGeometry {
  int64_t planes, H, W;
  int64_t KH, KW;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t OH, OW;
};

// An im2col matrix never built: row j, position p of B is
// image[offsets[j] + p / width * pitch + p % width] (width a multiple of 16). For a stride-1
// convolution: image the input padded (rows `pitch` floats), offsets[j] tap j's first
// pixel, width the output rows' length.
struct ImageTaps {
  const float* image;
  const int64_t* offsets;
  int64_t width, pitch;
};

// conv_gemm's A: [M, K] (leading dimension lda), or given as its transpose [K, M].
struct ConvGemmA {
  const float* data;
  int64_t lda;
  bool trans;  // A [M, K] given as its transpose [K, M] (leading dimension lda)
};

// conv_gemm's B [K, P] given as its transpose [P, K] (a weight gradient's column matrix).
struct TransposedB {
  const float* data;
  int64_t ldb;
};

// The update rules of lamina::optim (optim.hpp gives each one's formula) and one step's
// settings for one parameter (Typed::update).
enum class UpdateRule : uint8_t { sgd, nesterov, adagrad, rmsprop, adadelta, adam, adamw };
struct UpdateStep {
  UpdateRule rule;
  double rate;          // the learning rate times the parameter's lr_mult
  double weight_decay;  // times the parameter's decay_mult
  bool l1;              // L1 regularisation: the decay term is weight_decay * sign(w), not * w
  double grad_scale;    // the gradient's factor (global clipping / iter_size)
  double momentum, momentum2, delta, rms_decay;  // Adam: beta1, beta2, epsilon
  int64_t iter;         // Adam's bias correction is for step iter + 1
  double clip_weights;  // w clamped to [-clip_weights, clip_weights] after the step; < 0: not
  bool torch_momentum;  // SGD, Nesterov: the history sums gradients, the rate applied after
  bool torch_eps;       // Adam, AdamW: epsilon added after sqrt(v)'s bias correction
};

// Elementwise binary functions (binary_* kernels): y = f(a, b). logical_and and logical_or
// read a nonzero operand as true and give 0 or 1.
enum class Binary : uint8_t { add, sub, mul, div, pow, first, logical_and, logical_or };
// Elementwise comparisons (compare): y = a OP b as bool.
enum class Compare : uint8_t { greater, less, equal, greater_equal, less_equal, not_equal };

// Throws DeviceError naming the op that asked (the last ops_detail::kernels_for on this
// thread) and its device: the device's table left the entry it called empty.
[[noreturn]] void missing_kernel();
// Records the op about to call a device's kernels (ops_detail::kernels_for).
void asked_by(const char* op, const char* device);

// One entry of a Table: a function pointer that, when the device left it empty, throws
// DeviceError instead of being called.
template <class Sig> class Kernel;
template <class R, class... A>
class Kernel<R(A...)> {
 public:
  Kernel() = default;
  Kernel(R (*f)(A...)) : f_(f) {}  // NOLINT: tables are filled by assignment
  R operator()(A... a) const {
    if (!f_) missing_kernel();
    return f_(a...);
  }
  explicit operator bool() const { return f_ != nullptr; }

 private:
  R (*f_)(A...) = nullptr;
};

// The kernels for element type T: float and double have them all; int32_t, int64_t and
// bool the ones marked so.
template <class T>
struct Typed {
  // ---- pointwise (pointwise.def's rows: y = f(x); dx = g(x, y, dy)), n elements ----
#define LAMINA_UNARY(op, f, g)                                  \
  Kernel<void(int64_t n, const T* x, T* y)> op;                 \
  Kernel<void(int64_t n, const T* x, const T* y, const T* dy, T* dx)> op##_backward;
#include "lamina/pointwise.def"
#undef LAMINA_UNARY
  // The pointwise ops with parameters (ops.hpp says what each computes); p is their
  // parameters in the op's order (leaky_relu: slope; elu: alpha; power: p, scale, shift;
  // clip: lo, hi; threshold: t; affine: scale, shift).
  Kernel<void(int64_t n, const T* x, T* y, const double* p)> leaky_relu, elu, power, clip, threshold, affine;
  Kernel<void(int64_t n, const T* x, const T* y, const T* dy, T* dx, const double* p)> leaky_relu_backward,
      elu_backward, power_backward, clip_backward, threshold_backward, affine_backward;

  // ---- binary elementwise (every dtype) ----
  // y[i] = f(a[i], b[i]) for n elements.
  Kernel<void(Binary f, int64_t n, const T* a, const T* b, T* y)> binary;
  // y = f(a, b) over an output of `ndim` extents `shape` (row-major), a and b read
  // through strides sa, sb (0 along broadcast axes).
  Kernel<void(Binary f, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b,
              const int64_t* sb, T* y)>
      binary_strided;
  // y = (a OP b) as bool, shapes and strides as binary_strided's.
  Kernel<void(Compare op, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b,
              const int64_t* sb, bool* y)>
      compare;

  // ---- picking by index or mask (every dtype; the backward entries float and double) ----
  // x read as [outer, C, inner]. index_select: y [outer, K, inner] = x's rows index[0..K)
  // along the middle axis. gather: y [outer, K, inner] = x[o, index[o, k, i], i] for index
  // [outer, K, inner]. Both check every index first and return -1, or (nothing written) the
  // position of the first index outside [0, C). Their backward: dx [outer, C, inner]
  // (overwritten) = dy added into the positions it was picked from.
  Kernel<int64_t(const T* x, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* y)>
      index_select;
  Kernel<void(const T* dy, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* dx)>
      index_select_backward;
  Kernel<int64_t(const T* x, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* y)>
      gather;
  Kernel<void(const T* dy, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* dx)>
      gather_backward;
  // y = c ? a : b over an output of `ndim` extents `shape`, each input read through its
  // strides (0 along broadcast axes).
  Kernel<void(int ndim, const int64_t* shape, const bool* c, const int64_t* sc, const T* a, const int64_t* sa,
              const T* b, const int64_t* sb, T* y)>
      where;
  // The number of nonzero elements of x [n]; nonzero writes the index (ndim entries) of
  // each, in row-major order, into out [count, ndim].
  Kernel<int64_t(const T* x, int64_t n)> count_nonzero;
  Kernel<void(const T* x, int ndim, const int64_t* shape, int64_t* out)> nonzero;
  // x[at[i]] = v[i] for i < n: v's elements written to the element offsets `at` (each valid;
  // a repeated offset keeps the last value).
  Kernel<void(T* x, const int64_t* at, int64_t n, const T* v)> put;
  // y[i] = start + i * step, converted to T, for i < n (computed in double).
  Kernel<void(int64_t n, double start, double step, T* y)> arange;

  // ---- convolution ----
  // y = conv2d(x, w) + b (b [O] may be null), shapes as ConvShape says. The device picks the
  // algorithm, the threads and the scratch memory (the CPU's: kernels/cpu/conv.cpp).
  Kernel<void(const ConvShape& s, const T* x, const T* w, const T* b, T* y)> conv2d;
  // conv2d's gradients from dy [N, O, OH, OW]: dx [N, C, H, W], dw [O, C / groups, KH, KW] and
  // db [O], each overwritten, each null when not wanted; x is read only for dw (null
  // without). conv_transpose2d runs on the same two: its forward is this dx.
  Kernel<void(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db)> conv2d_backward;
  // The parts the CPU's conv2d composes:
  // Depthwise convolution (one input channel per group): g.C is all N's input channels,
  // output channel o = c * mult + j reads input channel c. x [N, C, H, W], w [C*mult, 1, KH,
  // KW], b [C*mult] or null, y [N, C*mult, OH, OW]. The backward adds into dx (zeroed by
  // the caller) and overwrites dw and db (the bias gradient); any of them may be null.
  Kernel<void(const T* x, const T* w, const T* b, int64_t N, int64_t mult, const ConvGeometry& g, T* y)>
      depthwise_conv2d;
  Kernel<void(const T* x, const T* w, const T* dy, int64_t N, int64_t mult, const ConvGeometry& g, T* dx, T* dw,
              T* db)>
      depthwise_conv2d_backward;
  // col [C*KH*KW, OH*OW] (rows ldc >= OH*OW apart; what lies between rows is left
  // undefined) from one image im [C, H, W]; col2im adds col (rows OH*OW apart) back into im.
  Kernel<void(const T* im, const ConvGeometry& g, T* col, int64_t ldc)> im2col;
  Kernel<void(const T* col, const ConvGeometry& g, T* im)> col2im;

  // ---- GEMM ----
  // C[M,N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T. op(A) is M x K (A is K x M
  // when trans_a), op(B) is K x N (B is N x K when trans_b). beta == 0 overwrites C without
  // reading it (NaNs already in C do not propagate). Large products are split over
  // lamina's threads when called outside a parallel region.
  Kernel<void(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc)>
      gemm;
  // The same product by lamina's built-in kernel, whatever BLAS is configured (tests and
  // benchmarks compare the two).
  Kernel<void(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc)>
      gemm_builtin;

  // ---- normalisation ----
  // Batch normalisation of x [N, C, S]: per-channel mean and biased variance; y = (x - mean)
  // * invstd * w + b (w, b may be null), then max(y, 0) if relu; the backward through the
  // batch statistics (training) or through fixed ones (inference), with dy taken as 0 where
  // that y was not positive (recomputed from x, w and b: y itself is not read) if relu; dx,
  // dw, db may be null.
  Kernel<void(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var)> batch_norm_stats;
  Kernel<void(const T* x, const T* mean, const T* invstd, const T* w, const T* b, int64_t N, int64_t C, int64_t S,
              bool relu, T* y)>
      batch_norm_apply;
  Kernel<void(const T* x, const T* dy, const T* mean, const T* invstd, const T* w, const T* b, int64_t N, int64_t C,
              int64_t S, bool training, bool relu, T* dx, T* dw, T* db)>
      batch_norm_backward;
  // invstd[c] = 1 / sqrt(var[c] + eps) for C channels (in double).
  Kernel<void(const T* var, int64_t C, double eps, T* invstd)> batch_norm_invstd;
  // The running statistics, r = (1 - momentum) r + momentum s per channel: running_mean from
  // mean (s = mean), running_var from var (s = var * unbias, the unbiased variance for
  // unbias = M / (M - 1)); either may be null.
  Kernel<void(const T* mean, const T* var, int64_t C, double momentum, double unbias, T* running_mean,
              T* running_var)>
      batch_norm_running;
  // Local response normalisation across channels of x [N, C, S] (Caffe's ACROSS_CHANNELS):
  //   scale = k + alpha / size * (sum of x^2 over the `size` channels centred on c; zeros
  //   past the edges), y = x * scale^-beta (scale is kept for the backward);
  //   dx = dy * scale^-beta - 2 alpha beta / size * x * (sum over the same window of
  //   dy * y / scale).
  Kernel<void(const T* x, int64_t N, int64_t C, int64_t S, int64_t size, T alpha, T beta, T k, T* scale, T* y)>
      lrn_across_forward;
  Kernel<void(const T* x, const T* y, const T* scale, const T* dy, int64_t N, int64_t C, int64_t S, int64_t size,
              T alpha, T beta, T* dx)>
      lrn_across_backward;

  // ---- pooling ----
  // Max pooling; argmax[i] is the index (h * W + w) within its plane of output i's maximum.
  Kernel<void(const T* x, const PoolGeometry& g, T* y, int32_t* argmax)> max_pool2d;
  // dx (overwritten) = dy routed to each output's argmax, 0 where no output's maximum lies.
  Kernel<void(const T* dy, const int32_t* argmax, const PoolGeometry& g, T* dx)> max_pool2d_backward;
  // Average pooling with Caffe's divisor: the window clipped to the padded input (padding
  // counts, the overhang of a ceil-mode window past the padding does not).
  Kernel<void(const T* x, const PoolGeometry& g, T* y)> avg_pool2d;
  // dx (overwritten) = each output's dy / its divisor, added over the input its window covers.
  Kernel<void(const T* dy, const PoolGeometry& g, T* dx)> avg_pool2d_backward;

  // ---- reductions ----
  // out[o, j] = sum over r of x[o, r, j] for x [outer, R, inner] (double accumulation; in
  // int64 for the integers, which have this and sum_axes).
  Kernel<void(const T* x, int64_t outer, int64_t R, int64_t inner, T* out)> sum_middle;
  // out[c] = the sum of x [N, C, S] over N and S (a convolution's bias gradient).
  Kernel<void(const T* x, int64_t N, int64_t C, int64_t S, T* out)> channel_sums;
  // Any other sum over axes: out[o] = the sum (in double, in memory order) of the elements of
  // x (contiguous, `ndim` extents `shape`) whose offset in out is o, out_strides giving the
  // offset along each axis (0 along the summed ones); out_n outputs.
  Kernel<void(const T* x, int ndim, const int64_t* shape, const int64_t* out_strides, int64_t out_n, T* out)>
      sum_axes;
  // The sum of x[i]^2 over n elements, in double.
  Kernel<double(const T* x, int64_t n)> sum_squares;
  // The maximum along the middle axis of x [outer, C, inner] and the index of its first
  // occurrence: values and index [outer, inner].
  Kernel<void(const T* x, int64_t outer, int64_t C, int64_t inner, T* values, int64_t* index)> max_along;
  // dx [outer, C, inner] (overwritten) = dy [outer, inner] at each position's index, 0 elsewhere.
  Kernel<void(const T* dy, const int64_t* index, int64_t outer, int64_t C, int64_t inner, T* dx)>
      max_along_backward;
  // y [outer, inner] = max_along's index (every dtype).
  Kernel<void(const T* x, int64_t outer, int64_t C, int64_t inner, int64_t* y)> argmax;
  // The top_k largest along the middle axis of x [outer, C, inner], largest first (equal
  // values: the lower index first): their indices (as T) and values, each [outer, top_k,
  // inner]; values may be null.
  Kernel<void(const T* x, int64_t outer, int64_t C, int64_t inner, int64_t top_k, T* indices, T* values)> top_k;

  // ---- random fills: element i depends only on (seed, i), never on threads or level ----
  Kernel<void(uint64_t seed, int64_t n, T lo, T hi, T* out)> uniform;
  Kernel<void(uint64_t seed, int64_t n, T mean, T stddev, T* out)> gaussian;
  // Inverted dropout's mask: out[i] = 1 / (1 - p) where uniform(seed, n, 0, 1)'s element i is
  // >= p, else 0.
  Kernel<void(uint64_t seed, int64_t n, double p, T* out)> dropout_mask;

  // ---- rows and labels ----
  // y [N, D] = table [V, D]'s rows rows[0..N); the backward dw [V, D] (overwritten) = the sum
  // of dy [N, D]'s rows into the rows they came from (repeated rows accumulate).
  Kernel<void(const T* table, const int64_t* rows, int64_t N, int64_t D, T* y)> embedding;
  Kernel<void(const T* dy, const int64_t* rows, int64_t N, int64_t V, int64_t D, T* dw)> embedding_backward;
  // index[i] = x[i] (truncated) for n class labels stored as T (also the integers). Returns -1
  // when every x[i] is a whole number in [0, classes), or equals ignore_label if has_ignore;
  // else the first i where it is not.
  Kernel<int64_t(const T* x, int64_t n, int64_t classes, bool has_ignore, int64_t ignore_label, int64_t* index)>
      class_indices;
  // Caffe's Accuracy of scores [outer, C, inner] against labels [outer, inner] (class indices
  // stored as T, truncated): a position is a hit when fewer than top_k classes score higher
  // than its label; positions labelled ignore_label are skipped if has_ignore. *accuracy =
  // hits / positions counted, per_class [C] (may be null) the same per label (0 where
  // none). Returns -1, or (nothing written) the first position whose label is outside
  // [0, C).
  Kernel<int64_t(const T* scores, const T* labels, int64_t outer, int64_t C, int64_t inner, int64_t top_k,
                 bool has_ignore, int64_t ignore_label, double* accuracy, double* per_class)>
      accuracy;

  // ---- softmax ----
  // Softmax over the middle axis of [outer, C, inner], numerically stable (max subtracted).
  Kernel<void(const T* x, int64_t outer, int64_t C, int64_t inner, bool log, T* y)> softmax;
  // dx from y and dy: softmax dx = y * (dy - sum(dy * y)); log-softmax dx = dy - e^y * sum(dy).
  Kernel<void(const T* y, const T* dy, int64_t outer, int64_t C, int64_t inner, bool log, T* dx)> softmax_backward;
  // The gradient of cross-entropy in the logits, from their log-softmax logp [outer, C,
  // inner] and labels [outer, inner]: dx = scale * dy[j] * w[label] * (softmax - onehot(label))
  // at each position j, 0 where the label is ignore_label; weight [C] and dy (one per
  // position) may be null (all 1).
  Kernel<void(const T* logp, const int64_t* labels, const T* weight, const T* dy, int64_t outer, int64_t C,
              int64_t inner, int64_t ignore_label, T scale, T* dx)>
      softmax_cross_entropy_backward;

  // ---- class-label losses ----
  // The weighted negative log-likelihood of log-probabilities logp [outer, C, inner] at
  // labels [outer, inner]: loss[j] = -w[label_j] * logp[o, label_j, i] (w = 1 where weight
  // is null), 0 where label_j is ignore_label; loss may be null. Returns the sum of the
  // losses (in double); *weight_total = the sum of w[label_j] over the positions not ignored.
  Kernel<double(const T* logp, const int64_t* labels, const T* weight, int64_t outer, int64_t C, int64_t inner,
                int64_t ignore_label, T* loss, double* weight_total)>
      nll_loss;
  // Its gradient: dx [outer, C, inner] (overwritten) = -scale * dy[j] * w[label_j] at each
  // position's label, 0 elsewhere; weight and dy may be null (all 1).
  Kernel<void(const int64_t* labels, const T* weight, const T* dy, int64_t outer, int64_t C, int64_t inner,
              int64_t ignore_label, T scale, T* dx)>
      nll_loss_backward;

  // ---- solver ----
  // One parameter's update in place, rule s.rule over n elements: the gradient g = grad *
  // grad_scale (grad null: zeros) plus the decay term (AdamW: w shrunk instead), the step
  // from g and the history h (and h2 for AdaDelta, Adam, AdamW; else null), then w -= step,
  // clamped.
  Kernel<void(const UpdateStep& s, int64_t n, T* w, const T* grad, T* h, T* h2)> update;
  // out[i] = (in[0][i] + in[1][i] + ... + in[K-1][i]) * scale over n elements, summed in that
  // order and rounded as written at every level (a data-parallel allreduce over shared
  // memory: every rank computes the same bits).
  Kernel<void(const T* const* in, int64_t K, int64_t n, T scale, T* out)> sum_scaled;
};

struct Table {
  const char* device = "?";  // "cpu (avx2)", ...
  Typed<float> f32;
  Typed<double> f64;
  Typed<int32_t> i32;  // only the entries Typed marks "every dtype" or "integers"
  Typed<int64_t> i64;
  Typed<bool> b8;
  template <class T> const Typed<T>& of() const;

  // ---- float32 only ----
  // The convolution GEMM: C[m, p] = (accumulate ? C[m, p] : bias ? bias[m] : 0) + sum_k
  // A[m, k] B[k, p] for m < M and p0 <= p < p1, A and B read in place: B row-major (leading
  // dimension ldb), A as ConvGemmA says. stream: C is written by streaming (non-temporal)
  // stores, past the caches, where a tile writes it in one pass (not accumulating; K <= 256
  // when B's strips are copied), whole vectors aligned: for a C that is large and not read
  // again soon (a weight gradient, read at the solver's update; a forward output of many
  // megabytes, which the caches would not keep anyway).
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
              const float* bias, bool accumulate, float* C, int64_t ldc, bool stream)>
      conv_gemm;
  // The same over columns [0, P), split in tiles over lamina's threads (outside a parallel region).
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P, const float* bias,
              bool accumulate, float* C, int64_t ldc, bool stream)>
      conv_gemm_parallel;
  // Both with B image taps (columns p0, p1 and P multiples of 16).
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1, const float* bias,
              bool accumulate, float* C, int64_t ldc, bool stream)>
      conv_gemm_taps;
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P, const float* bias, bool accumulate,
              float* C, int64_t ldc, bool stream)>
      conv_gemm_taps_parallel;
  // Both with B [K, P] given as its transpose [P, K] (dW = dy [O, P] times col [K, P]
  // transposed), no bias.
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t p0, int64_t p1, bool accumulate,
              float* C, int64_t ldc, bool stream)>
      conv_gemm_tb;
  Kernel<void(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate, float* C,
              int64_t ldc, bool stream)>
      conv_gemm_tb_parallel;

  // C [M, N] += A [M, P] B [N, P]^T for a small C and long rows (a convolution's weight
  // gradient with few input channels). dot_gemm adds into acc, dot_gemm_size(M, N) floats
  // of per-lane partial sums that the caller zeroes once and may accumulate over many
  // calls; dot_gemm_finish adds acc's sums into C (leading dimension ldc).
  Kernel<size_t(int64_t M, int64_t N)> dot_gemm_size;
  Kernel<void(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb, float* acc)>
      dot_gemm;
  // The same with B image taps (an im2col matrix never built; ImageTaps above).
  Kernel<void(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B, float* acc)>
      dot_gemm_taps;
  Kernel<void(int64_t M, int64_t N, const float* acc, float* C, int64_t ldc)> dot_gemm_finish;

  // Winograd convolution: F(4x4, 3x3) for r = 3, F(4x4, 5x5) for r = 5; stride 1, dilation 1,
  // one group. winograd_weights transforms w [O, I, r, r] (adjoint: w [I, O, r, r]
  // transposed and turned 180 degrees, the kernel of the input gradient) into u,
  // winograd_weights_size(O, I, r) floats; then y [N, O, OH, OW] = conv(x [N, I, H, W] padded
  // by pad_h, pad_w) + bias (may be null), images x_image and y_image floats apart, over
  // lamina's threads. The weight gradient of that convolution, dw [O, I, r, r]
  // (overwritten), comes from x and dy [N, O, OH, OW] (images dy_image floats apart)
  // through the same transforms. Float32 error: a few times the direct sum's (the
  // transforms scale by up to 8 and down to 1/90).
  Kernel<size_t(int64_t O, int64_t I, int64_t r)> winograd_weights_size;
  Kernel<void(const float* w, int64_t O, int64_t I, int64_t r, bool adjoint, float* u)> winograd_weights;
  Kernel<void(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r, int64_t pad_h,
              int64_t pad_w, const float* u, int64_t O, const float* bias, float* y, int64_t y_image, int64_t OH,
              int64_t OW)>
      winograd_conv;
  Kernel<void(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r, int64_t pad_h,
              int64_t pad_w, const float* dy, int64_t dy_image, int64_t O, int64_t OH, int64_t OW, float* dw)>
      winograd_weight_grad;
};

template <> inline const Typed<float>& Table::of<float>() const { return f32; }
template <> inline const Typed<double>& Table::of<double>() const { return f64; }
template <> inline const Typed<int32_t>& Table::of<int32_t>() const { return i32; }
template <> inline const Typed<int64_t>& Table::of<int64_t>() const { return i64; }
template <> inline const Typed<bool>& Table::of<bool>() const { return b8; }

}  // namespace lamina::kernels

namespace lamina::kernels::cpu {

// The CPU's kernels at the active level (lamina::active_isa()).
const Table& table();
// The CPU's kernels at a given level; throws ValueError for a level this build or this CPU
// cannot run.
const Table& table(Isa level);

// What each family of kernels runs at `level` (lamina::kernel_paths()).
std::vector<std::pair<std::string, std::string>> kernel_paths(Isa level);

// What backs gemm: OpenBLAS's configuration string (with its core type), "system BLAS"
// or "built-in".
const char* blas_name();
// Makes the BLAS single-threaded (lamina's gemm splits large products over its own threads).
void blas_single_thread();

}  // namespace lamina::kernels::cpu
