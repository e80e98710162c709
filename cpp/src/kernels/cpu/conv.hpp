// The convolution engine's plan and algorithm choices, shared by its forward (conv.cpp) and
// backward (conv_backward.cpp). Included after simd.hpp and level.hpp: compiled per level.
//
// The engine composes the level's own kernels through the level's Table (table.cpp), not
// by name: a kernel a level does not have is an empty entry there, which the choices
// below test for, never a missing symbol. The file including this one includes <cstdlib>,
// <string> and parallel_for.hpp before simd.hpp.
#pragma once

namespace lamina::kernels::cpu::LAMINA_LEVEL::conv {

// ---- the level's kernels (kernels.hpp says what each computes) ----
inline bool conv_gemm_available() { return bool(table().conv_gemm); }
inline bool winograd_available() { return bool(table().winograd_conv); }
inline void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
                      const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false) {
  table().conv_gemm(M, K, A, B, ldb, p0, p1, bias, accumulate, C, ldc, stream);
}
inline void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1,
                      const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false) {
  table().conv_gemm_taps(M, K, A, B, p0, p1, bias, accumulate, C, ldc, stream);
}
inline void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                               const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false) {
  table().conv_gemm_parallel(M, K, A, B, ldb, P, bias, accumulate, C, ldc, stream);
}
inline void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P, const float* bias,
                               bool accumulate, float* C, int64_t ldc, bool stream = false) {
  table().conv_gemm_taps_parallel(M, K, A, B, P, bias, accumulate, C, ldc, stream);
}
inline void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                               float* C, int64_t ldc, bool stream = false) {
  table().conv_gemm_tb_parallel(M, K, A, B, P, accumulate, C, ldc, stream);
}
inline void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb,
                     float* acc) {
  table().dot_gemm(M, N, P, A, lda, B, ldb, acc);
}
inline void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B, float* acc) {
  table().dot_gemm_taps(M, N, P, A, lda, B, acc);
}
template <class T> const Typed<T>& typed() { return table().of<T>(); }

// ---- the plan ----
struct ConvPlan {
  ConvGeometry g;        // one group of one image
  int64_t N, O, groups;
  int64_t Og, K, P;      // out channels per group, GEMM depth, output plane
  bool direct;           // 1x1, stride 1, no padding: col is the input itself
  bool batch_parallel;   // images split over threads
  bool row_parallel;     // one image: its output rows split over threads (forward)
};

inline ConvPlan plan_conv(const ConvShape& s) {
  ConvPlan p;
  p.g = {s.C / s.groups, s.H,     s.W,          s.KH,        s.KW,         s.stride_h, s.stride_w,
         s.pad_h,        s.pad_w, s.dilation_h, s.dilation_w, s.OH,        s.OW};
  p.N = s.N;
  p.O = s.O;
  p.groups = s.groups;
  p.Og = s.O / s.groups;
  p.K = p.g.C * p.g.KH * p.g.KW;
  p.P = p.g.OH * p.g.OW;
  p.direct = p.g.KH == 1 && p.g.KW == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
  // In deterministic mode (parallel.hpp) the choices below, which pick the kernels and so
  // the order of the sums, do not depend on the thread count: the batch is split as with
  // several threads, a lone image's rows are not.
  const bool det = deterministic();
  p.batch_parallel = s.N > 1 && (num_threads() > 1 || det);
  // A lone image with a large output plane: split its rows so every core works (a
  // threaded BLAS scales poorly on these wide, shallow GEMMs).
  p.row_parallel = s.N == 1 && num_threads() > 1 && !det && p.P >= 1024 && !p.direct && p.g.C > 0;
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

// Rows of output per band of a convolution's column matrix (at most OH). A matrix past 2 MB
// is built and multiplied a band of output rows at a time, each band's matrix under 1 MB:
// it is still in L2 when the GEMM reads it, where a whole one (ResNet-50's 7x7/2 conv1:
// 147 x 12544, 7 MB) went to memory and back, and each copied strip touched a page per row.
template <class T>
int64_t band_rows(const ConvPlan& p) {
  const int64_t row_bytes = p.K * p.g.OW * int64_t(sizeof(T));
  if (row_bytes * p.g.OH <= (int64_t(2) << 20)) return p.g.OH;
  return std::max<int64_t>(1, (int64_t(1) << 20) / row_bytes);
}

// The row stride of a column matrix of `cols` columns. Rows a multiple of 1 KB apart fall
// in the same few L1 sets, and when dy's rows (as far apart) fall in the same ones too,
// dot_gemm's ten streams thrash them; one more cache line between rows spreads them.
inline int64_t column_stride(int64_t cols) { return cols % 256 == 0 ? cols + 16 : cols; }

// Output rows [oh0, oh0 + rows) of g (clipped), as a geometry over the same input.
inline ConvGeometry output_band(const ConvGeometry& g, int64_t oh0, int64_t rows) {
  ConvGeometry band = g;
  band.OH = std::min(rows, g.OH - oh0);
  band.pad_h = g.pad_h - oh0 * g.stride_h;
  return band;
}

// One input channel per group (depthwise): the direct kernel, not a GEMM per channel.
inline bool is_depthwise(const ConvPlan& p) { return p.groups > 1 && p.g.C == 1; }

inline ConvGeometry all_channels(const ConvPlan& p) {
  ConvGeometry g = p.g;
  g.C = p.groups;
  return g;
}

// ---- algorithm choices (float32 only: double always takes im2col + gemm) ----

// Whether a float32 product goes to conv_gemm (kernels.hpp), which reads the weights in
// place: the forward's A = W [Og, K] always; the input gradient's A = W^T [K, Og] for a
// batch (one pass over W^T per call, where the BLAS packs it again for every image) of
// planes of 64 positions or more, and for a lone image under 1024 positions. There W^T's
// eight rows of a panel are one stride of W per k, a page apart, and conv_gemm fetches
// them ahead; on larger planes the BLAS was as fast.
template <class T>
bool use_conv_gemm(const ConvPlan& p, bool transposed) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && (!transposed || (p.batch_parallel && p.P >= 64) || (p.N == 1 && p.P < 1024));
  }
  return false;
}

// Whether the forward writes its output by streaming stores (conv_gemm's stream): from 8 MB
// on, the output has left the caches anyway before the next layer reads it, and the
// write-allocate reads of its lines cost more than they saved.
inline bool stream_output(const ConvPlan& p) { return p.N * p.O * p.P * int64_t(sizeof(float)) >= (int64_t(8) << 20); }

// An im2col matrix read from the input padded once instead of built (kernels.hpp,
// ImageTaps), float32 where the level has conv_gemm: stride 1 and output rows of whole
// vectors. For the forward's conv_gemm and the weight gradient's dot_gemm; building the
// matrix was a large part of a 3-channel first layer's time.
template <class T>
bool image_taps_fit(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && !p.direct && p.g.stride_h == 1 && p.g.stride_w == 1 && p.g.OW % simd::kLanes == 0;
  }
  return false;
}

// The weight gradient by dot_gemm (kernels.hpp) rather than the BLAS: float32 where the
// level has it, with each thread's partial sums (kLanes per weight) within 1 MB and rows of
// 256 positions or more; past 1 MB of sums it lost to the BLAS.
template <class T>
bool use_dot_gemm(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && p.O * p.K * simd::kLanes <= (int64_t(1) << 18) && p.P >= 256;
  }
  return false;
}

// The weight gradient of a lone image's small plane by conv_gemm, its column matrix read
// as the transpose of conv_gemm's B (kernels.hpp, TransposedB) and dW streamed out past the
// caches (without, conv_gemm was slower than the BLAS), rather than the BLAS (which zeroes
// C, then adds the product into it): float32, one image (nothing to add over a batch), 256
// positions or fewer (one pass over dW); from 784 positions on it was even or slower.
template <class T>
bool use_transposed_dw(const ConvPlan& p) {
  if constexpr (std::is_same_v<T, float>) {
    return conv_gemm_available() && p.N == 1 && p.P <= 256 && !use_dot_gemm<T>(p);
  }
  return false;
}

// Winograd (kernels/cpu/winograd.cpp) for float32 3x3 and 5x5 stride-1 convolutions:
// F(4x4, 3x3) does a quarter of the multiplies, F(4x4, 5x5) 16 %, where the tiles cover
// the plane well, at the price of transforms whose work grows with the channels in and
// out. LAMINA_WINOGRAD=0 in the environment turns it off (its float32 error is a few
// times the direct sum's).
inline bool winograd_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("LAMINA_WINOGRAD");
    return !(v && std::string(v) == "0");
  }();
  return on && winograd_available();
}

enum class ConvPass { forward, input_gradient, weight_gradient };

inline bool use_winograd(const ConvPlan& p, ConvPass pass) {
  const ConvGeometry& g = p.g;
  const int64_t r = g.KH, m = 4, alpha = m + r - 1;  // kernel, tile and transformed tile sides
  const bool shape = (r == 3 || r == 5) && g.KW == r && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
                     g.dilation_w == 1 && g.pad_h < r && g.pad_w < r && g.OH >= m && g.OW >= m;
  if (!shape || !winograd_enabled()) return false;
  // Multiplies saved per tile grow with C * Og, transform work with C + Og: Winograd wins
  // down to 8 channels each side and loses with 3 inputs (a first layer). Each call also
  // transforms alpha^2 C Og weights (and the weight gradient keeps as many sums), which the
  // tiles must pay for: ResNet-50's 512-channel 7x7 layers at batch 1 (4 tiles) ran far
  // slower by Winograd, its 128-channel 28x28 ones (49 tiles) faster.
  const int64_t tiles = p.N * ((g.OH + m - 1) / m) * ((g.OW + m - 1) / m);
  if (g.C * p.Og < 4 * (g.C + p.Og) || tiles < 48 || tiles * 2048 < g.C * p.Og) return false;
  // The tiles must also cover the plane with little waste: at most half the direct
  // multiplies. The input gradient is a convolution of dy padded by r - 1 - pad, tiled
  // over the input plane: for an unpadded 5x5 on small planes (LeNet's conv2, 8x8 from
  // 12x12) that is 36 % of the direct count by 4x4 tiles (81 % by F(2x2, 5x5)'s 2x2 tiles,
  // which lost to the direct sum).
  const int64_t out_h = pass == ConvPass::input_gradient ? g.H : g.OH;
  const int64_t out_w = pass == ConvPass::input_gradient ? g.W : g.OW;
  const int64_t plane_tiles = ((out_h + m - 1) / m) * ((out_w + m - 1) / m);
  return 2 * alpha * alpha * plane_tiles <= r * r * g.OH * g.OW;
}

// The group's Winograd-transformed weights, for y = conv(x) (adjoint false: Og outputs from
// C inputs) or the input gradient (adjoint: C outputs from Og), in a per-thread buffer.
inline const float* winograd_weights(const ConvPlan& p, const float* w, int64_t grp, bool adjoint) {
  thread_local Scratch<float> buffers[2];
  const int64_t outs = adjoint ? p.g.C : p.Og, ins = adjoint ? p.Og : p.g.C;
  float* data = buffers[adjoint].get(table().winograd_weights_size(outs, ins, p.g.KH));
  table().winograd_weights(w + grp * p.Og * p.K, outs, ins, p.g.KH, adjoint, data);
  return data;
}

// ---- column matrices ----

// Calls f(c0, slice) for slices of g's input channels [c0, c0 + slice.C), one per thread
// when the caller runs alone (`split`: a lone image whose GEMMs take every thread) and the
// slices are worth a parallel region, else once for all of them: im2col and col2im ran on
// one thread while the others waited.
template <class F>
void by_channels(const ConvGeometry& g, bool split, F f) {
  const int threads = num_threads();
  const int parts =
      split && threads > 1 && g.C >= threads && g.C * g.KH * g.KW * g.OH * g.OW >= (int64_t(1) << 16) ? threads : 1;
  parallel_for(parts, parts > 1, [&](int, int64_t t) {
    ConvGeometry slice = g;
    const int64_t c0 = g.C * t / parts, c1 = g.C * (t + 1) / parts;
    slice.C = c1 - c0;
    f(c0, slice);
  });
}

// im2col of one group's input x [C, H, W] into col (rows ldcol apart), by_channels.
template <class T>
void im2col_by_channels(const T* x, const ConvGeometry& g, T* col, int64_t ldcol, bool split) {
  by_channels(g, split, [&](int64_t c0, const ConvGeometry& slice) {
    typed<T>().im2col(x + c0 * g.H * g.W, slice, col + c0 * g.KH * g.KW * ldcol, ldcol);
  });
}

// One group's input planes padded (pitch floats a row, size floats in all) and each tap's
// first pixel in them.
struct PaddedPlanes {
  int64_t pitch, size;
  std::vector<int64_t> offsets;

  explicit PaddedPlanes(const ConvGeometry& g) : pitch(g.W + 2 * g.pad_w), size(g.C * (g.H + 2 * g.pad_h) * pitch) {
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw)
          offsets.push_back((c * (g.H + 2 * g.pad_h) + kh * g.dilation_h) * pitch + kw * g.dilation_w);
  }

  // x [C, H, W] padded into out (size floats, zeros around); the taps of output rows r0...
  ImageTaps taps(const float* x, const ConvGeometry& g, int64_t r0, float* out) const {
    const int64_t rows = g.H + 2 * g.pad_h;
    std::fill(out, out + size, 0.0f);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t h = 0; h < g.H; ++h)
        std::copy(x + (c * g.H + h) * g.W, x + (c * g.H + h + 1) * g.W,
                  out + (c * rows + h + g.pad_h) * pitch + g.pad_w);
    return {out + r0 * pitch, offsets.data(), g.OW, pitch};
  }
};

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL::conv
