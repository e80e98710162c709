// conv2d by im2col + GEMM, one GEMM per image and group:
//   y[n, group] = W[group] [O/g, C/g*KH*KW] @ col(x[n, group]) [C/g*KH*KW, OH*OW]
// Backward (one node): dW[group] += dy[n, group] @ col^T (by dot_gemm when dW is small and
// the rows long, see use_dot_gemm), dcol = W[group]^T @ dy[n, group] then col2im into dx,
// db = sum of dy over N and the plane. 1x1 stride-1 unpadded
// convolutions use x itself as the column matrix; other stride-1 ones with output rows of
// whole vectors read it from x padded, never built (PaddedPlanes, image_taps_fit), in the
// forward and the weight gradient. Two kinds take their own kernels:
// depthwise convolutions (kernels/cpu/depthwise.cpp), and float32 3x3 and 5x5 stride-1 ones
// with enough channels, by Winograd in each direction where it pays (use_winograd below).
//
// Threads: with more than one image the batch is split over lamina's threads, each with
// its own column buffer (and, in backward, its dW sums: thread 0's into dw) and single-threaded
// GEMMs; small images are too small for a threaded GEMM to pay. One image: the GEMM's
// own threads.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"
#include "parallel_for.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// The CPU kernels this convolution engine composes. (The engine itself is CPU code: its
// plans, thread splits and scratch buffers move into kernels/cpu/ behind one Table entry.)
const kernels::Table& ck() { return device_kernels("conv2d", Device::cpu); }

using kernels::ConvGemmA;
using kernels::ImageTaps;
using kernels::TransposedB;

bool conv_gemm_available() { return bool(ck().conv_gemm); }
bool winograd_available() { return bool(ck().winograd_conv); }
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
               const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false) {
  ck().conv_gemm(M, K, A, B, ldb, p0, p1, bias, accumulate, C, ldc, stream);
}
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1, const float* bias,
               bool accumulate, float* C, int64_t ldc, bool stream = false) {
  ck().conv_gemm_taps(M, K, A, B, p0, p1, bias, accumulate, C, ldc, stream);
}
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                        const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false) {
  ck().conv_gemm_parallel(M, K, A, B, ldb, P, bias, accumulate, C, ldc, stream);
}
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P, const float* bias,
                        bool accumulate, float* C, int64_t ldc, bool stream = false) {
  ck().conv_gemm_taps_parallel(M, K, A, B, P, bias, accumulate, C, ldc, stream);
}
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                        float* C, int64_t ldc, bool stream = false) {
  ck().conv_gemm_tb_parallel(M, K, A, B, P, accumulate, C, ldc, stream);
}
size_t dot_gemm_size(int64_t M, int64_t N) { return ck().dot_gemm_size(M, N); }
void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb, float* acc) {
  ck().dot_gemm(M, N, P, A, lda, B, ldb, acc);
}
void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B, float* acc) {
  ck().dot_gemm_taps(M, N, P, A, lda, B, acc);
}
void dot_gemm_finish(int64_t M, int64_t N, const float* acc, float* C, int64_t ldc) {
  ck().dot_gemm_finish(M, N, acc, C, ldc);
}
size_t winograd_weights_size(int64_t O, int64_t I, int64_t r) { return ck().winograd_weights_size(O, I, r); }
template <class... A> void winograd_weights(A... a) { ck().winograd_weights(a...); }
template <class... A> void winograd_conv(A... a) { ck().winograd_conv(a...); }
template <class... A> void winograd_weight_grad(A... a) { ck().winograd_weight_grad(a...); }
template <class T, class... A> void gemm(A... a) { ck().of<T>().gemm(a...); }
template <class T> void im2col(const T* im, const kernels::ConvGeometry& g, T* col, int64_t ldc) {
  ck().of<T>().im2col(im, g, col, ldc);
}
template <class T> void col2im(const T* col, const kernels::ConvGeometry& g, T* im) { ck().of<T>().col2im(col, g, im); }
template <class T>
void depthwise_conv2d(const T* x, const T* w, const T* b, int64_t N, int64_t mult, const kernels::ConvGeometry& g,
                      T* y) {
  ck().of<T>().depthwise_conv2d(x, w, b, N, mult, g, y);
}
template <class T>
void depthwise_conv2d_backward(const T* x, const T* w, const T* dy, int64_t N, int64_t mult,
                               const kernels::ConvGeometry& g, T* dx, T* dw, T* db) {
  ck().of<T>().depthwise_conv2d_backward(x, w, dy, N, mult, g, dx, dw, db);
}
template <class T> void channel_sums(const T* x, int64_t N, int64_t C, int64_t S, T* out) {
  ck().of<T>().channel_sums(x, N, C, S, out);
}

struct ConvPlan {
  kernels::ConvGeometry g;  // one group of one image
  int64_t N, O, groups;
  int64_t Og, K, P;         // out channels per group, GEMM depth, output plane
  bool direct;              // 1x1, stride 1, no padding: col is the input itself
  bool batch_parallel;      // images split over threads
  bool row_parallel;        // one image: its output rows split over threads (forward)
};

int64_t out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation) {
  return (in + 2 * pad - (dilation * (k - 1) + 1)) / stride + 1;
}

void check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& b) {
  check_defined(op, x);
  check_defined(op, w, "weight");
  LAMINA_CHECK_SHAPE(x.dim() == 4, op, ": expected input [N, C, H, W], got ", x.shape());
  LAMINA_CHECK_SHAPE(w.dim() == 4, op, ": expected a 4-d weight, got ", w.shape());
  LAMINA_CHECK_SHAPE(x.numel() > 0, op, ": empty input ", x.shape());
  check_same(op, x, w);
  check_device(op, x);
  if (b.defined()) check_same(op, x, b);
}

// The plan of a convolution of an input of shape xs ([N, C, H, W]) by w ([O, C/g, KH, KW]).
ConvPlan plan_conv(const char* op, const Shape& xs, const Tensor& w, const Conv2dOptions& o) {
  LAMINA_CHECK(o.groups >= 1, op, ": groups must be >= 1, got ", o.groups);
  LAMINA_CHECK(o.stride_h >= 1 && o.stride_w >= 1, op, ": stride must be >= 1, got ", o.stride_h, "x", o.stride_w);
  LAMINA_CHECK(o.dilation_h >= 1 && o.dilation_w >= 1, op, ": dilation must be >= 1, got ", o.dilation_h, "x",
               o.dilation_w);
  LAMINA_CHECK(o.pad_h >= 0 && o.pad_w >= 0, op, ": padding must be >= 0, got ", o.pad_h, "x", o.pad_w);
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = w.size(0);
  LAMINA_CHECK_SHAPE(C % o.groups == 0 && O % o.groups == 0, op, ": ", C, " and ", O,
                     " channels are not divisible by groups=", o.groups);
  LAMINA_CHECK_SHAPE(w.size(1) == C / o.groups && w.size(2) >= 1 && w.size(3) >= 1, op, ": weight ", w.shape(),
                     " does not fit input ", xs, " with groups=", o.groups, " (expected [", O, ", ",
                     C / o.groups, ", KH, KW])");
  ConvPlan p;
  p.g = {C / o.groups, H, W, w.size(2), w.size(3), o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h,
         o.dilation_w, out_size(H, w.size(2), o.pad_h, o.stride_h, o.dilation_h),
         out_size(W, w.size(3), o.pad_w, o.stride_w, o.dilation_w)};
  LAMINA_CHECK_SHAPE(p.g.OH >= 1 && p.g.OW >= 1, op, ": output size ", p.g.OH, "x", p.g.OW, " <= 0 for input ",
                     xs, ", kernel ", p.g.KH, "x", p.g.KW, ", pad ", o.pad_h, "x", o.pad_w, ", stride ",
                     o.stride_h, "x", o.stride_w, ", dilation ", o.dilation_h, "x", o.dilation_w);
  p.N = N;
  p.O = O;
  p.groups = o.groups;
  p.Og = O / o.groups;
  p.K = p.g.C * p.g.KH * p.g.KW;
  p.P = p.g.OH * p.g.OW;
  p.direct = p.g.KH == 1 && p.g.KW == 1 && o.stride_h == 1 && o.stride_w == 1 && o.pad_h == 0 && o.pad_w == 0;
  p.batch_parallel = N > 1 && num_threads() > 1;
  // A lone image with a large output plane: split its rows so every core works (a
  // threaded BLAS scales poorly on these wide, shallow GEMMs).
  p.row_parallel = N == 1 && num_threads() > 1 && p.P >= 1024 && !p.direct && p.g.C > 0;
  return p;
}

// A per-thread buffer that is not zero-filled (std::vector would memset every column
// matrix it allocates; im2col overwrites all of it anyway).
template <class T>
class Scratch {
 public:
  T* get(size_t n) {
    if (n > size_) {
      data_.reset(new T[n]);
      size_ = n;
    }
    return data_.get();
  }
  T* data() const { return data_.get(); }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

// Per-thread column buffers of the calling thread's convolutions, kept between calls
// (slot: forward columns, backward columns, their gradient, weight-gradient sums), so that
// a convolution does not allocate and page-fault its matrices afresh each time.
template <class T>
std::vector<Scratch<T>>& column_buffers(int slot) {
  thread_local std::vector<Scratch<T>> buffers[4];
  auto& b = buffers[slot];
  if (b.size() < static_cast<size_t>(num_threads())) b.resize(static_cast<size_t>(num_threads()));
  return b;
}

// Rows of output per band of a convolution's column matrix (at most OH). A matrix past 2 MB is built
// and multiplied a band of output rows at a time, each band's matrix under 1 MB (still in
// L2 when the GEMM reads it, with short rows): whole, ResNet-50's 7x7/2 conv1 matrix
// (147 x 12544, 7 MB) went to memory and back, and each of its copied strips touched 147
// pages (conv1 3.55 -> 3.05 ms, a 56x56x64 3x3 image 3.77 -> 3.15 ms, one thread).
template <class T>
int64_t band_rows(const ConvPlan& p) {
  const int64_t row_bytes = p.K * p.g.OW * int64_t(sizeof(T));
  if (row_bytes * p.g.OH <= (int64_t(2) << 20)) return p.g.OH;
  return std::max<int64_t>(1, (int64_t(1) << 20) / row_bytes);
}

// The row stride of a column matrix of `cols` columns. Rows a multiple of 1 KB apart fall
// in the same few L1 sets, and when dy's rows (as far apart) fall in the same ones too,
// dot_gemm's ten streams thrash them; one more cache line between rows spreads them. It
// depends on where the two buffers happen to lie: CIFAR10-quick's conv1 weight gradient
// ran 8.0 -> 6.9 ms (one thread, 100 images) in a C++ harness where they collided, and
// 6.9 either way from Python, where they did not; dot_gemm alone on 32x75 by 75x1024,
// colliding: 56-72 -> 88-94 GFLOP/s.
int64_t column_stride(int64_t cols) { return cols % 256 == 0 ? cols + 16 : cols; }

// Output rows [oh0, oh0 + rows) of g (clipped), as a geometry over the same input.
kernels::ConvGeometry output_band(const kernels::ConvGeometry& g, int64_t oh0, int64_t rows) {
  kernels::ConvGeometry band = g;
  band.OH = std::min(rows, g.OH - oh0);
  band.pad_h = g.pad_h - oh0 * g.stride_h;
  return band;
}

// One input channel per group (depthwise): the direct kernel, not a GEMM per channel.
bool is_depthwise(const ConvPlan& p) { return p.groups > 1 && p.g.C == 1; }

kernels::ConvGeometry all_channels(const ConvPlan& p) {
  kernels::ConvGeometry g = p.g;
  g.C = p.groups;
  return g;
}

// Whether a float32 product goes to conv_gemm (kernels.hpp), which reads the weights in
// place: the forward's A = W [Og, K] always; the input gradient's A = W^T [K, Og] for a
// batch (one pass over W^T per call, where the BLAS packs it again for every image) of
// planes of 64 positions or more, and for a lone image under 1024 positions. There W^T's
// eight rows of a panel are one stride of W per k, a page apart, and conv_gemm fetches
// them ahead (weights cold as in a net, BLAS -> conv_gemm, two threads: 512x4608 by
// 4608x49 1.70 -> 1.42 ms, 1024x2048 by 2048x49 1.71 -> 1.32, 2304x256 by 256x196 1.29
// -> 1.23; one thread 3.30 -> 2.77, 3.14 -> 2.55, 2.53 -> 2.40, 256x512 by 512x784 2.03
// -> 1.96); from 3136 positions on the BLAS was even or faster.
template <class T>
bool use_conv_gemm(const ConvPlan& p, bool transposed) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() &&
           (!transposed || (p.batch_parallel && p.P >= 64) || (p.N == 1 && p.P < 1024));
  }
  return false;
}

// Whether the forward writes its output by streaming stores (conv_gemm's stream): from 8 MB
// on, the output has left the caches anyway before the next layer reads it, and the
// write-allocate reads of its lines cost more than they saved. CIFAR10-quick's conv1
// (100x32x32x32 out, 13 MB), per-layer minima, two threads: 3.0-3.2 -> 2.5 ms; the net's
// step 21.3-21.9 -> 20.5-21.4 ms (five alternations). LeNet's conv1 (2.9 MB) measured even
// either way.
bool stream_output(const ConvPlan& p) { return p.N * p.O * p.P * int64_t(sizeof(float)) >= (int64_t(8) << 20); }

// y[Og, cols] (leading dimension ldy) = W_group @ B (+ bias) by conv_gemm, B as conv_gemm
// takes it (a matrix and its row stride, or image taps). A lone image (no batch to split)
// splits its own product over the threads.
template <class... B>
void conv_gemm_group(const ConvPlan& p, int64_t grp, const float* w, int64_t cols, const float* bias, float* y,
                     int64_t ldy, const B&... b) {
  const kernels::ConvGemmA a{w + grp * p.Og * p.K, p.K, false};
  const float* bg = bias ? bias + grp * p.Og : nullptr;
  if (!p.batch_parallel && !p.row_parallel)
    conv_gemm_parallel(p.Og, p.K, a, b..., cols, bg, false, y, ldy, stream_output(p));
  else
    conv_gemm(p.Og, p.K, a, b..., 0, cols, bg, false, y, ldy, stream_output(p));
}

// y[Og, cols] (leading dimension ldy) = W_group @ col [K, cols] (rows ldcol apart) (+ bias), by
// conv_gemm or gemm.
template <class T>
void group_product(const ConvPlan& p, int64_t grp, const T* w, const T* col, int64_t cols, int64_t ldcol,
                   const T* bias, T* y, int64_t ldy) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_conv_gemm<T>(p, false)) return conv_gemm_group(p, grp, w, cols, bias, y, ldy, col, ldcol);
  }
  if (bias) {  // y starts as the bias, then y += W @ col
    for (int64_t o = 0; o < p.Og; ++o)
      for (int64_t i = 0; i < cols; ++i) y[o * ldy + i] = bias[grp * p.Og + o];
  }
  gemm<T>(false, false, p.Og, cols, p.K, T(1), w + grp * p.Og * p.K, p.K, col, ldcol,
                        bias ? T(1) : T(0), y, ldy);
}

// Calls f(c0, slice) for slices of g's input channels [c0, c0 + slice.C), one per thread
// when the caller runs alone (`split`: a lone image whose GEMMs take every thread) and the
// slices are worth a parallel region, else once for all of them. For im2col and col2im,
// which ran on one thread while the other waited (ResNet-50 b1's 14x14 and 7x7 3x3 layers:
// 57-103 us each way).
template <class F>
void by_channels(const kernels::ConvGeometry& g, bool split, F f) {
  const int threads = num_threads();
  const int parts = split && threads > 1 && g.C >= threads && g.C * g.KH * g.KW * g.OH * g.OW >= (int64_t(1) << 16)
                        ? threads
                        : 1;
  parallel_for(parts, parts > 1, [&](int, int64_t t) {
    kernels::ConvGeometry slice = g;
    const int64_t c0 = g.C * t / parts, c1 = g.C * (t + 1) / parts;
    slice.C = c1 - c0;
    f(c0, slice);
  });
}

// im2col of one group's input x [C, H, W] into col (rows ldcol apart), by_channels.
template <class T>
void im2col_by_channels(const T* x, const kernels::ConvGeometry& g, T* col, int64_t ldcol, bool split) {
  by_channels(g, split, [&](int64_t c0, const kernels::ConvGeometry& slice) {
    im2col(x + c0 * g.H * g.W, slice, col + c0 * g.KH * g.KW * ldcol, ldcol);
  });
}

// An im2col matrix read from the input padded once instead of built (kernels.hpp,
// ImageTaps), float32 on AVX-512: stride 1 and output rows of whole vectors. For the
// forward's conv_gemm and the weight gradient's dot_gemm. CIFAR10-quick's conv1
// (100x3x32x32 5x5, 32 outputs), one thread: im2col took 1.1 of its 7.4 ms backward.
template <class T>
bool image_taps_fit(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && !p.direct && p.g.stride_h == 1 && p.g.stride_w == 1 &&
           p.g.OW % 16 == 0;
  }
  return false;
}

// One group's input planes padded (pitch floats a row, size floats in all) and each tap's
// first pixel in them.
struct PaddedPlanes {
  int64_t pitch, size;
  std::vector<int64_t> offsets;

  explicit PaddedPlanes(const kernels::ConvGeometry& g)
      : pitch(g.W + 2 * g.pad_w), size(g.C * (g.H + 2 * g.pad_h) * pitch) {
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw)
          offsets.push_back((c * (g.H + 2 * g.pad_h) + kh * g.dilation_h) * pitch + kw * g.dilation_w);
  }

  // x [C, H, W] padded into out (size floats, zeros around); the taps of output rows r0...
  kernels::ImageTaps taps(const float* x, const kernels::ConvGeometry& g, int64_t r0, float* out) const {
    const int64_t rows = g.H + 2 * g.pad_h;
    std::fill(out, out + size, 0.0f);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t h = 0; h < g.H; ++h)
        std::copy(x + (c * g.H + h) * g.W, x + (c * g.H + h + 1) * g.W,
                  out + (c * rows + h + g.pad_h) * pitch + g.pad_w);
    return {out + r0 * pitch, offsets.data(), g.OW, pitch};
  }
};

// Winograd (kernels/cpu/winograd.cpp) for float32 3x3 and 5x5 stride-1 convolutions:
// F(4x4, 3x3) does a quarter of the multiplies, F(4x4, 5x5) 16 %, where the tiles cover
// the plane well, at the price of transforms whose work grows with the channels in and
// out. LAMINA_WINOGRAD=0 in the environment turns it off (its float32 error is a few
// times the direct sum's).
bool winograd_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("LAMINA_WINOGRAD");
    return !(v && std::string(v) == "0");
  }();
  return on && winograd_available();
}

enum class ConvPass { forward, input_gradient, weight_gradient };

bool use_winograd(const ConvPlan& p, ConvPass pass) {
  const kernels::ConvGeometry& g = p.g;
  const int64_t r = g.KH, m = 4, alpha = m + r - 1;  // kernel, tile and transformed tile sides
  const bool shape = (r == 3 || r == 5) && g.KW == r && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
                     g.dilation_w == 1 && g.pad_h < r && g.pad_w < r && g.OH >= m && g.OW >= m;
  if (!shape || !winograd_enabled()) return false;
  // Multiplies saved per tile grow with C * Og, transform work with C + Og: measured, one
  // thread, Winograd wins down to 8 channels each side (16x8x32x32 3x3 to 8 outputs: forward
  // 0.50 -> 0.42 ms) and loses with 3 inputs (CIFAR10-quick's conv1 by F(4x4, 5x5): forward
  // 7.3 -> 6.6 ms on one thread but 4.2 -> 5.3 on two, backward 17 -> 18 and 9.4 -> 16).
  // Each call also transforms alpha^2 C Og weights (and the weight gradient keeps as many
  // sums), which the tiles must pay for: ResNet-50's 512-channel 7x7 layers at batch 1 (4
  // tiles) ran 6x slower by Winograd, its 128-channel 28x28 ones (49 tiles) 1.5x faster.
  const int64_t tiles = p.N * ((g.OH + m - 1) / m) * ((g.OW + m - 1) / m);
  if (g.C * p.Og < 4 * (g.C + p.Og) || tiles < 48 || tiles * 2048 < g.C * p.Og) return false;
  // The tiles must also cover the plane with little waste: at most half the direct
  // multiplies. The input gradient is a convolution of dy padded by r - 1 - pad, tiled
  // over the input plane: for an unpadded 5x5 on small planes (LeNet's conv2, 8x8 from
  // 12x12) that is 36 % of the direct count by 4x4 tiles (it was 81 % by 2x2 tiles with
  // F(2x2, 5x5), and ran 3.3 -> 5.0 ms then); its backward now runs 5.3 -> 3.4 ms.
  const int64_t out_h = pass == ConvPass::input_gradient ? g.H : g.OH;
  const int64_t out_w = pass == ConvPass::input_gradient ? g.W : g.OW;
  const int64_t plane_tiles = ((out_h + m - 1) / m) * ((out_w + m - 1) / m);
  return 2 * alpha * alpha * plane_tiles <= r * r * g.OH * g.OW;
}

// The group's Winograd-transformed weights, for y = conv(x) (adjoint false: Og outputs from
// C inputs) or the input gradient (adjoint: C outputs from Og), in a per-thread buffer.
const float* winograd_weights(const ConvPlan& p, const float* w, int64_t grp, bool adjoint) {
  thread_local Scratch<float> buffers[2];
  const int64_t outs = adjoint ? p.g.C : p.Og, ins = adjoint ? p.Og : p.g.C;
  float* data = buffers[adjoint].get(winograd_weights_size(outs, ins, p.g.KH));
  winograd_weights(w + grp * p.Og * p.K, outs, ins, p.g.KH, adjoint, data);
  return data;
}

void winograd_forward(const ConvPlan& p, const float* x, const float* w, const float* b, float* y) {
  const kernels::ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    winograd_conv(x + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, p.N, g.C, g.H, g.W, g.KH,
                                g.pad_h, g.pad_w, winograd_weights(p, w, grp, false), p.Og,
                                b ? b + grp * p.Og : nullptr, y + grp * p.Og * p.P, p.O * p.P, g.OH, g.OW);
}

// dx = the r x r convolution of dy, padded by r - 1 - pad, with the weights transposed and
// turned.
void winograd_input_gradient(const ConvPlan& p, const float* w, const float* dy, float* dx) {
  const kernels::ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    winograd_conv(dy + grp * p.Og * p.P, p.O * p.P, p.N, p.Og, g.OH, g.OW, g.KH, g.KH - 1 - g.pad_h,
                                g.KW - 1 - g.pad_w, winograd_weights(p, w, grp, true), g.C, nullptr,
                                dx + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, g.H, g.W);
}

void winograd_weight_gradient(const ConvPlan& p, const float* x, const float* dy, float* dw) {
  const kernels::ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    winograd_weight_grad(x + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, p.N, g.C, g.H, g.W,
                                       g.KH, g.pad_h, g.pad_w, dy + grp * p.Og * p.P, p.O * p.P, p.Og, g.OH, g.OW,
                                       dw + grp * p.Og * p.K);
}

template <class T>
void conv_forward(const ConvPlan& p, const T* x, const T* w, const T* b, T* y) {
  if (is_depthwise(p)) {
    depthwise_conv2d(x, w, b, p.N, p.Og, all_channels(p), y);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (use_winograd(p, ConvPass::forward)) return winograd_forward(p, x, w, b, y);
  }
  const int64_t in_image = p.g.C * p.groups * p.g.H * p.g.W, in_group = p.g.C * p.g.H * p.g.W;
  std::vector<Scratch<T>>& cols = column_buffers<T>(0);
  const int64_t band = band_rows<T>(p);
  std::optional<PaddedPlanes> planes;
  if (image_taps_fit<T>(p)) planes.emplace(p.g);
  // Output rows [r0, r1) of image n, each group's column matrix built and multiplied a band
  // of rows at a time.
  auto output_rows = [&](int thread, int64_t n, int64_t r0, int64_t r1) {
    Scratch<T>& col = cols[static_cast<size_t>(thread)];
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* xg = x + n * in_image + grp * in_group;
      T* yg = y + (n * p.O + grp * p.Og) * p.P;
      if (p.direct) {
        group_product(p, grp, w, xg, p.P, p.P, b, yg, p.P);
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        if (planes) {
          conv_gemm_group(p, grp, w, (r1 - r0) * p.g.OW, b, yg + r0 * p.g.OW, p.P,
                          planes->taps(xg, p.g, r0, col.get(static_cast<size_t>(planes->size))));
          continue;
        }
      }
      for (int64_t oh0 = r0; oh0 < r1; oh0 += band) {
        const kernels::ConvGeometry g = output_band(p.g, oh0, std::min(band, r1 - oh0));
        // (Sized per band: a shorter last band may take the wider stride.)
        const int64_t cols = g.OH * p.g.OW, ldcol = column_stride(cols);
        T* c = col.get(static_cast<size_t>(p.K * ldcol));
        im2col_by_channels(xg, g, c, ldcol, !p.batch_parallel && !p.row_parallel);
        group_product(p, grp, w, c, cols, ldcol, b, yg + oh0 * p.g.OW, p.P);
      }
    }
  };
  if (p.row_parallel) {
    // One image: its output rows split into one range per thread (split by columns instead,
    // ResNet-50's conv1 went through a scalar im2col; its forward on 2 threads 2.28 -> 2.07 ms).
    const int threads = num_threads();
    parallel_for(threads, true, [&](int thread, int64_t t) {
      const int64_t r0 = p.g.OH * t / threads, r1 = p.g.OH * (t + 1) / threads;
      if (r0 < r1) output_rows(thread, 0, r0, r1);
    });
    return;
  }
  parallel_for(p.N, p.batch_parallel, [&](int thread, int64_t n) { output_rows(thread, n, 0, p.g.OH); });
}

// The weight gradient by dot_gemm (kernels.hpp) rather than the BLAS: float32 on AVX-512,
// with each thread's partial sums (16 per weight) within 1 MB and rows of 256 positions or
// more. Measured, one thread (backward ms, BLAS -> dot_gemm): 100x3x32x32 5x5 32 outputs
// 14.1 -> 10.1, 1x3x224x224 7x7/2 3.6 -> 3.4, LeNet's conv1 even; past 1 MB of sums it lost
// (64x20x12x12 5x5 50 outputs: 5.7 -> 9.0; 512x512 3x3 on 7x7: 12x slower).
template <class T>
bool use_dot_gemm(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && p.O * p.K <= 16384 && p.P >= 256;
  }
  return false;
}

// The weight gradient of a lone image's small plane by conv_gemm, its column matrix read
// as the transpose of conv_gemm's B (kernels.hpp, TransposedB) and dW streamed out past the
// caches (without, conv_gemm was slower than the BLAS), rather than the BLAS (which zeroes
// C, then adds the product into it): float32 on AVX-512, one image (nothing to add over a
// batch), 256 positions or fewer (one pass over dW). Measured, two threads, weights cold
// (BLAS -> conv_gemm): 512x4608 by 49 positions 1.69 -> 1.40 ms, 2048x1024 by 49 1.36 ->
// 1.12, 512x2048 by 49 0.81 -> 0.59, 1024x256 by 196 0.52 -> 0.48; from 784 positions on,
// even or slower.
template <class T>
bool use_transposed_dw(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && p.N == 1 && p.P <= 256 && !use_dot_gemm<T>(p);
  }
  return false;
}

template <class T>
void conv_backward(const ConvPlan& p, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  if (is_depthwise(p)) {
    depthwise_conv2d_backward(x, w, dy, p.N, p.Og, all_channels(p), dx, dw, db);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (dx && use_winograd(p, ConvPass::input_gradient)) {
      winograd_input_gradient(p, w, dy, dx);
      dx = nullptr;  // done
    }
    if (dw && use_winograd(p, ConvPass::weight_gradient)) {
      winograd_weight_gradient(p, x, dy, dw);
      dw = nullptr;  // done; db below
    }
  }
  const int64_t in_image = p.g.C * p.groups * p.g.H * p.g.W, in_group = p.g.C * p.g.H * p.g.W;
  const int threads = num_threads();
  std::vector<Scratch<T>>& cols = column_buffers<T>(1);
  std::vector<Scratch<T>>& dcols = column_buffers<T>(2);
  // Thread 0 accumulates dW into dw itself, the others into their own buffers, added at the
  // end (at batch 1, a buffer zeroed, filled and added per call, with its page faults, cost
  // three passes over ResNet-50's 25M weights every backward). Or, for a small float32 dW,
  // each thread's per-lane partial sums of dot_gemm (all groups).
  std::vector<Scratch<T>>& dws = column_buffers<T>(3);  // kept between calls, zeroed on first use
  std::vector<char> used(static_cast<size_t>(threads), 0);
  const bool dot = dw && use_dot_gemm<T>(p);
  const size_t dot_size = dot ? dot_gemm_size(p.Og, p.K) : 0;
  const size_t dw_size = dot ? dot_size * static_cast<size_t>(p.groups) : static_cast<size_t>(p.O * p.K);
  // Thread 0's first product into each group's dW overwrites it (beta 0) instead of dw being
  // zero-filled first. OpenBLAS still zeroes C for beta 0, but inside each thread's block of
  // the product, just before it adds into it (ResNet-50 b1, A/B against a zero-fill first:
  // medians 282-288 against 284-298 ms on one thread, 165-198 against 170-211 on two).
  // Groups it never reached are zeroed after.
  std::vector<char> started(static_cast<size_t>(p.groups), 0);
  std::optional<PaddedPlanes> planes;  // the weight gradient's taps
  if (dot && image_taps_fit<T>(p)) planes.emplace(p.g);
  // dcol [K, cols] = W_group^T @ dy_group[:, cols] (dy's rows P apart), by conv_gemm or gemm.
  auto input_gradient = [&](const T* wg, const T* dyg, int64_t cols, T* out) {
    if constexpr (std::is_same_v<T, float>) {
      if (use_conv_gemm<T>(p, true)) {
        const kernels::ConvGemmA a{wg, p.K, true};
        if (p.batch_parallel)
          conv_gemm(p.K, p.Og, a, dyg, p.P, 0, cols, nullptr, false, out, cols);
        else
          conv_gemm_parallel(p.K, p.Og, a, dyg, p.P, cols, nullptr, false, out, cols);
        return;
      }
    }
    gemm<T>(true, false, p.K, cols, p.Og, T(1), wg, p.K, dyg, p.P, T(0), out, cols);
  };
  const int64_t rows = band_rows<T>(p);
  // Output rows [r0, r1) of image n: their share of dW (if want_dw) and of dx (if want_dx);
  // `alone`: no other thread is at work (im2col and col2im may split by channels).
  auto image_rows = [&](int thread, int64_t n, int64_t r0, int64_t r1, bool want_dw, bool want_dx, bool alone) {
    Scratch<T>& col = cols[static_cast<size_t>(thread)];
    Scratch<T>& dcol = dcols[static_cast<size_t>(thread)];
    const bool own = want_dw && (dot || thread > 0);  // this thread's sums go to a buffer
    T* dwt = own ? dws[static_cast<size_t>(thread)].get(dw_size) : nullptr;
    if (own && !used[static_cast<size_t>(thread)]) {
      std::fill(dwt, dwt + dw_size, T(0));
      used[static_cast<size_t>(thread)] = 1;
    }
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* dyg = dy + (n * p.O + grp * p.Og) * p.P;
      const T* wg = w + grp * p.Og * p.K;
      const T* xg = x ? x + n * in_image + grp * in_group : nullptr;
      T* dxg = want_dx ? dx + n * in_image + grp * in_group : nullptr;
      T* dwg = want_dw ? (own ? dwt : dw) + (dot ? grp * dot_size : grp * p.Og * p.K) : nullptr;
      // dW += dy [Og, cols] (rows P apart) times col [K, cols] (rows ldc apart), transposed.
      auto weight_gradient = [&](const T* dyc, const T* col, int64_t cols, int64_t ldc) {
        if constexpr (std::is_same_v<T, float>) {
          if (dot) return dot_gemm(p.Og, p.K, cols, dyc, p.P, col, ldc, dwg);
        }
        const bool first = !own && !started[static_cast<size_t>(grp)];
        if (!own) started[static_cast<size_t>(grp)] = 1;
        if constexpr (std::is_same_v<T, float>) {
          if (use_transposed_dw<T>(p))
            return conv_gemm_parallel(p.Og, cols, kernels::ConvGemmA{dyc, p.P, false},
                                                    kernels::TransposedB{col, ldc}, p.K, !first, dwg, p.K, true);
        }
        gemm<T>(false, true, p.Og, p.K, cols, T(1), dyc, p.P, col, ldc, first ? T(0) : T(1), dwg, p.K);
      };
      if (p.direct) {
        const int64_t c0 = r0 * p.g.OW, cols = (r1 - r0) * p.g.OW;
        if (want_dw) weight_gradient(dyg + c0, xg + c0, cols, p.P);
        if (want_dx) input_gradient(wg, dyg, p.P, dxg);  // (want_dx only for whole images)
        continue;
      }
      bool band_dw = want_dw;
      if constexpr (std::is_same_v<T, float>) {
        if (want_dw && planes) {
          dot_gemm(p.Og, p.K, (r1 - r0) * p.g.OW, dyg + r0 * p.g.OW, p.P,
                                 planes->taps(xg, p.g, r0, col.get(static_cast<size_t>(planes->size))), dwg);
          band_dw = false;
        }
      }
      if (!band_dw && !want_dx) continue;
      // In bands of output rows, as the forward (conv_forward): dW += dy[:, band] col^T,
      // dcol = W^T dy[:, band] added back into dx by col2im (bands share input rows; the
      // adds accumulate).
      for (int64_t oh0 = r0; oh0 < r1; oh0 += rows) {
        const kernels::ConvGeometry band = output_band(p.g, oh0, std::min(rows, r1 - oh0));
        const int64_t cols = band.OH * p.g.OW;
        const T* dyb = dyg + oh0 * p.g.OW;
        if (band_dw) {
          const int64_t ldcol = column_stride(cols);
          col.get(static_cast<size_t>(p.K * ldcol));
          im2col_by_channels(xg, band, col.data(), ldcol, alone);
          weight_gradient(dyb, col.data(), cols, ldcol);
        }
        if (want_dx) {
          dcol.get(static_cast<size_t>(p.K * cols));
          input_gradient(wg, dyb, cols, dcol.data());
          by_channels(band, alone, [&](int64_t c0, const kernels::ConvGeometry& slice) {
            // (dx was zeroed by the caller)
            col2im(dcol.data() + c0 * band.KH * band.KW * cols, slice, dxg + c0 * band.H * band.W);
          });
        }
      }
    }
  };
  if (dw && p.N == 1 && threads > 1 && p.P >= 1024) {
    // A lone image's dW sums over many positions into few weights, which the BLAS does not
    // split over its threads (ResNet-50's 256x64 1x1 on 56x56: 1.65 ms on one thread and
    // on two); here each thread takes a range of output rows, into its own sums. dx after,
    // whole (its bands would add into shared input rows), by the BLAS's own threads.
    parallel_for(threads, true, [&](int thread, int64_t t) {
      const int64_t r0 = p.g.OH * t / threads, r1 = p.g.OH * (t + 1) / threads;
      if (r0 < r1) image_rows(thread, 0, r0, r1, true, false, false);
    });
    if (dx) image_rows(0, 0, 0, p.g.OH, false, true, true);
  } else if (dx || dw) {
    parallel_for(p.N, p.batch_parallel,
                 [&](int thread, int64_t n) {
                   image_rows(thread, n, 0, p.g.OH, dw != nullptr, dx != nullptr, !p.batch_parallel);
                 });
  }
  if (dw) {
    for (int64_t grp = 0; grp < p.groups; ++grp)
      if (!started[static_cast<size_t>(grp)]) std::fill(dw + grp * p.Og * p.K, dw + (grp + 1) * p.Og * p.K, T(0));
    for (int t = 0; t < threads; ++t) {
      if (!used[static_cast<size_t>(t)]) continue;
      const T* part = dws[static_cast<size_t>(t)].data();
      if constexpr (std::is_same_v<T, float>) {
        if (dot) {
          for (int64_t grp = 0; grp < p.groups; ++grp)
            dot_gemm_finish(p.Og, p.K, part + grp * dot_size, dw + grp * p.Og * p.K, p.K);
          continue;
        }
      }
      for (size_t i = 0; i < dw_size; ++i) dw[i] += part[i];
    }
  }
  if (db) channel_sums(dy, p.N, p.O, p.P, db);
}

// Whether conv_backward writes every element of dx, which then need not be zeroed first:
// the 1x1 direct path and Winograd's input gradient do; col2im and the depthwise kernel
// add into it.
bool dx_overwritten(const ConvPlan& p, DType dtype) {
  if (is_depthwise(p)) return false;
  return p.direct || (dtype == DType::f32 && use_winograd(p, ConvPass::input_gradient));
}

}  // namespace

// Runs f(T{}) on the dtype. (The plan's parallel regions call gemm from each thread;
// gemm sees it is inside one and stays on its thread.)
template <class F>
void run_plan(const ConvPlan&, bool, DType dtype, F&& f) {
  dispatch(dtype, f);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_conv_args("conv2d", x, weight, bias);
  ConvPlan p = plan_conv("conv2d", x.shape(), weight, options);
  LAMINA_CHECK_SHAPE(!bias.defined() || (bias.dim() == 1 && bias.size(0) == p.O), "conv2d: bias must be [", p.O,
                     "], got ", bias.defined() ? bias.shape() : Shape{});
  Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty({p.N, p.O, p.g.OH, p.g.OW}, x.dtype());
  run_plan(p, true, x.dtype(), [&](auto t) {
    using T = decltype(t);
    conv_forward<T>(p, xc.data<T>(), wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr, y.data<T>());
  });
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record("conv2d", {x, weight, bias}, {y},
                     [p, X = SavedTensor(xc), Wt = SavedTensor(wc), nx = x.requires_grad(),
                      nw = weight.requires_grad(), nb = bias.defined() && bias.requires_grad()](
                         const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("conv2d");
                       const Tensor& wv = Wt.get("conv2d");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = !nx                                   ? Tensor()
                                   : dx_overwritten(p, xv.dtype()) ? Tensor::empty(xv.shape(), xv.dtype())
                                                                   : Tensor::zeros(xv.shape(), xv.dtype());
                       Tensor dw = nw ? Tensor::empty(wv.shape(), wv.dtype()) : Tensor();
                       Tensor db = nb ? Tensor::empty({p.O}, wv.dtype()) : Tensor();
                       run_plan(p, false, xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         conv_backward<T>(p, xv.data<T>(), wv.data<T>(), dy.data<T>(), nx ? dx.data<T>() : nullptr,
                                          nw ? dw.data<T>() : nullptr, nb ? db.data<T>() : nullptr);
                       });
                       return std::vector<Tensor>{dx, dw, db};
                     });
  return y;
}

// conv_transpose2d is the adjoint of conv2d in its input: its forward is conv2d's data
// backward (GEMM + col2im), its data backward is conv2d's forward, and its weight
// gradient is conv2d's weight gradient with the roles of input and output swapped.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                        int64_t output_pad_h, int64_t output_pad_w) {
  const char* op = "conv_transpose2d";
  check_conv_args(op, x, weight, bias);
  LAMINA_CHECK(o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 && o.dilation_w >= 1 && o.groups >= 1, op,
               ": stride, dilation and groups must be >= 1");
  LAMINA_CHECK(output_pad_h >= 0 && output_pad_h < std::max(o.stride_h, o.dilation_h) && output_pad_w >= 0 &&
                   output_pad_w < std::max(o.stride_w, o.dilation_w),
               op, ": output padding ", output_pad_h, "x", output_pad_w, " must be smaller than stride or dilation");
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  LAMINA_CHECK_SHAPE(weight.size(0) == Cin, op, ": weight ", weight.shape(), " must be [", Cin,
                     ", out_channels/groups, KH, KW] for input ", x.shape());
  const int64_t Cout = weight.size(1) * o.groups;
  const int64_t OH = (H - 1) * o.stride_h - 2 * o.pad_h + o.dilation_h * (weight.size(2) - 1) + 1 + output_pad_h;
  const int64_t OW = (W - 1) * o.stride_w - 2 * o.pad_w + o.dilation_w * (weight.size(3) - 1) + 1 + output_pad_w;
  LAMINA_CHECK_SHAPE(OH >= 1 && OW >= 1, op, ": output size ", OH, "x", OW, " <= 0 for input ", x.shape(),
                     " and weight ", weight.shape());
  LAMINA_CHECK_SHAPE(!bias.defined() || (bias.dim() == 1 && bias.size(0) == Cout), op, ": bias must be [", Cout,
                     "], got ", bias.defined() ? bias.shape() : Shape{});
  // The convolution whose adjoint this is: input [N, Cout, OH, OW] -> output [N, Cin, H, W].
  ConvPlan p = plan_conv(op, {N, Cout, OH, OW}, weight, o);
  LAMINA_CHECK_SHAPE(p.g.OH == H && p.g.OW == W, op, ": internal shape mismatch for input ", x.shape());
  Tensor xc = x.contiguous(), wc = weight.contiguous();
  Tensor y = Tensor::zeros({N, Cout, OH, OW}, x.dtype());
  run_plan(p, false, x.dtype(), [&](auto t) {
    using T = decltype(t);
    conv_backward<T>(p, nullptr, wc.data<T>(), xc.data<T>(), y.data<T>(), nullptr, nullptr);
  });
  if (bias.defined()) y = add(y, bias.detach().reshape({1, Cout, 1, 1}));
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record(op, {x, weight, bias}, {y},
                     [p, X = SavedTensor(xc), Wt = SavedTensor(wc), nx = x.requires_grad(), nw = weight.requires_grad(),
                      nb = bias.defined() && bias.requires_grad()](const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("conv_transpose2d");
                       const Tensor& wv = Wt.get("conv_transpose2d");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = nx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
                       Tensor dw = nw ? Tensor::empty(wv.shape(), wv.dtype()) : Tensor();
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         if (nx) conv_forward<T>(p, dy.data<T>(), wv.data<T>(), nullptr, dx.data<T>());
                         if (nw) conv_backward<T>(p, dy.data<T>(), wv.data<T>(), xv.data<T>(), nullptr, dw.data<T>(), nullptr);
                       });
                       Tensor db = nb ? sum(dy, {0, 2, 3}) : Tensor();
                       return std::vector<Tensor>{dx, dw, db};
                     });
  return y;
}

}  // namespace lamina
