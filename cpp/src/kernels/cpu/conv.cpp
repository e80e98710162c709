// conv2d by im2col + GEMM, one GEMM per image and group:
//   y[n, group] = W[group] [O/g, C/g*KH*KW] @ col(x[n, group]) [C/g*KH*KW, OH*OW]
// 1x1 stride-1 unpadded convolutions use x itself as the column matrix; other stride-1
// ones with output rows of whole vectors read it from x padded, never built
// (PaddedPlanes, image_taps_fit in conv.hpp). Two kinds take their own kernels: depthwise
// convolutions (depthwise.cpp), and float32 3x3 and 5x5 stride-1 ones with enough
// channels, by Winograd in each direction where it pays (use_winograd). The backward is
// conv_backward.cpp.
//
// Threads: with more than one image the batch is split over lamina's threads, each with
// its own column buffer and single-threaded GEMMs; small images are too small for a
// threaded GEMM to pay. One image: its output rows split over the threads when the plane
// is large (row_parallel), else the GEMM's own threads.
#include <cstdlib>
#include <optional>
#include <string>

#include "kernels/kernels.hpp"
#include "parallel_for.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/conv.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace conv {
namespace {

// y[Og, cols] (leading dimension ldy) = W_group @ B (+ bias) by conv_gemm, B as conv_gemm
// takes it (a matrix and its row stride, or image taps). A lone image (no batch to split)
// splits its own product over the threads.
template <class... B>
void conv_gemm_group(const ConvPlan& p, int64_t grp, const float* w, int64_t cols, const float* bias, float* y,
                     int64_t ldy, const B&... b) {
  const ConvGemmA a{w + grp * p.Og * p.K, p.K, false};
  const float* bg = bias ? bias + grp * p.Og : nullptr;
  if (!p.batch_parallel && !p.row_parallel)
    conv_gemm_parallel(p.Og, p.K, a, b..., cols, bg, false, y, ldy, stream_output(p));
  else
    conv_gemm(p.Og, p.K, a, b..., 0, cols, bg, false, y, ldy, stream_output(p));
}

// y[Og, cols] (leading dimension ldy) = W_group @ col [K, cols] (rows ldcol apart) (+ bias),
// by conv_gemm or gemm.
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
  typed<T>().gemm(false, false, p.Og, cols, p.K, T(1), w + grp * p.Og * p.K, p.K, col, ldcol, bias ? T(1) : T(0), y,
                  ldy);
}

void winograd_forward(const ConvPlan& p, const float* x, const float* w, const float* b, float* y) {
  const ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    table().winograd_conv(x + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, p.N, g.C, g.H, g.W, g.KH, g.pad_h,
                          g.pad_w, winograd_weights(p, w, grp, false), p.Og, b ? b + grp * p.Og : nullptr,
                          y + grp * p.Og * p.P, p.O * p.P, g.OH, g.OW);
}

}  // namespace

template <class T>
void conv2d(const ConvShape& s, const T* x, const T* w, const T* b, T* y) {
  const ConvPlan p = plan_conv(s);
  if (is_depthwise(p)) return typed<T>().depthwise_conv2d(x, w, b, p.N, p.Og, all_channels(p), y);
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
        const ConvGeometry g = output_band(p.g, oh0, std::min(band, r1 - oh0));
        // (Sized per band: a shorter last band may take the wider stride.)
        const int64_t cols = g.OH * p.g.OW, ldcol = column_stride(cols);
        T* c = col.get(static_cast<size_t>(p.K * ldcol));
        im2col_by_channels(xg, g, c, ldcol, !p.batch_parallel && !p.row_parallel);
        group_product(p, grp, w, c, cols, ldcol, b, yg + oh0 * p.g.OW, p.P);
      }
    }
  };
  if (p.row_parallel) {
    // One image: its output rows split into one range per thread (split by columns
    // instead, im2col went through its scalar path).
    const int threads = num_threads();
    parallel_for(threads, true, [&](int thread, int64_t t) {
      const int64_t r0 = p.g.OH * t / threads, r1 = p.g.OH * (t + 1) / threads;
      if (r0 < r1) output_rows(thread, 0, r0, r1);
    });
    return;
  }
  parallel_for(p.N, p.batch_parallel, [&](int thread, int64_t n) { output_rows(thread, n, 0, p.g.OH); });
}

template <class T>
void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db);

}  // namespace conv

void fill_conv(Table& t) {
  t.f32.conv2d = &conv::conv2d<float>;
  t.f64.conv2d = &conv::conv2d<double>;
  t.f32.conv2d_backward = &conv::conv2d_backward<float>;
  t.f64.conv2d_backward = &conv::conv2d_backward<double>;
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
