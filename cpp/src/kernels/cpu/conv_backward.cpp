// conv2d's backward (the forward is conv.cpp), one pass over the images:
//   dW[group] += dy[n, group] @ col^T (by dot_gemm when dW is small and the rows long, see
//   use_dot_gemm), dcol = W[group]^T @ dy[n, group] then col2im into dx,
//   db = the sum of dy over N and the plane.
// Depthwise convolutions take their own kernel, and Winograd takes the input or weight
// gradient where it pays (use_winograd in conv.hpp).
//
// Threads: with more than one image the batch is split over lamina's threads, each with its
// own column buffers and dW sums (thread 0's into dw itself), added at the end. One image
// with a large plane: its dW split by output rows over the threads (the BLAS does not
// split a product with so few outputs), then dx by the GEMM's own threads.
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

// dx = the r x r convolution of dy, padded by r - 1 - pad, with the weights transposed and
// turned.
void winograd_input_gradient(const ConvPlan& p, const float* w, const float* dy, float* dx) {
  const ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    table().winograd_conv(dy + grp * p.Og * p.P, p.O * p.P, p.N, p.Og, g.OH, g.OW, g.KH, g.KH - 1 - g.pad_h,
                          g.KW - 1 - g.pad_w, winograd_weights(p, w, grp, true), g.C, nullptr,
                          dx + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, g.H, g.W);
}

void winograd_weight_gradient(const ConvPlan& p, const float* x, const float* dy, float* dw) {
  const ConvGeometry& g = p.g;
  for (int64_t grp = 0; grp < p.groups; ++grp)
    table().winograd_weight_grad(x + grp * g.C * g.H * g.W, p.groups * g.C * g.H * g.W, p.N, g.C, g.H, g.W, g.KH,
                                 g.pad_h, g.pad_w, dy + grp * p.Og * p.P, p.O * p.P, p.Og, g.OH, g.OW,
                                 dw + grp * p.Og * p.K);
}

// Whether the backward writes every element of dx, which then need not be zeroed first:
// the 1x1 direct path and Winograd's input gradient do; col2im and the depthwise kernel
// add into it.
template <class T>
bool dx_overwritten(const ConvPlan& p) {
  if (is_depthwise(p)) return false;
  return p.direct || (std::is_same_v<T, float> && use_winograd(p, ConvPass::input_gradient));
}

}  // namespace

template <class T>
void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  const ConvPlan p = plan_conv(s);
  const int64_t in_image = p.g.C * p.groups * p.g.H * p.g.W, in_group = p.g.C * p.g.H * p.g.W;
  if (dx && !dx_overwritten<T>(p)) std::fill(dx, dx + p.N * in_image, T(0));
  if (is_depthwise(p)) return typed<T>().depthwise_conv2d_backward(x, w, dy, p.N, p.Og, all_channels(p), dx, dw, db);
  if constexpr (std::is_same_v<T, float>) {
    if (dx && use_winograd(p, ConvPass::input_gradient)) {
      winograd_input_gradient(p, w, dy, dx);
      dx = nullptr;  // done
    }
    if (dw && use_winograd(p, ConvPass::weight_gradient) && !deterministic()) {  // its parts follow the threads
      winograd_weight_gradient(p, x, dy, dw);
      dw = nullptr;  // done; db below
    }
  }
  const int threads = num_threads();
  // Deterministic mode (parallel.hpp): dW summed over the images in order on one thread.
  const bool fixed_order = dw && threads > 1 && deterministic();
  std::vector<Scratch<T>>& cols = column_buffers<T>(1);
  std::vector<Scratch<T>>& dcols = column_buffers<T>(2);
  // Thread 0 accumulates dW into dw itself, the others into their own buffers, added at the
  // end (at batch 1, a buffer zeroed, filled and added per call, with its page faults, cost
  // three passes over a large net's weights every backward). Or, for a small float32 dW,
  // each thread's per-lane partial sums of dot_gemm (all groups).
  std::vector<Scratch<T>>& dws = column_buffers<T>(3);  // kept between calls, zeroed on first use
  std::vector<char> used(static_cast<size_t>(threads), 0);
  const bool dot = dw && use_dot_gemm<T>(p);
  const size_t dot_size = dot ? table().dot_gemm_size(p.Og, p.K) : 0;
  const size_t dw_size = dot ? dot_size * static_cast<size_t>(p.groups) : static_cast<size_t>(p.O * p.K);
  // Thread 0's first product into each group's dW overwrites it (beta 0) instead of dw being
  // zero-filled first: OpenBLAS zeroes C for beta 0 inside each thread's block of the
  // product, just before it adds into it, while the block is in cache. Groups it never
  // reached are zeroed after.
  std::vector<char> started(static_cast<size_t>(p.groups), 0);
  std::optional<PaddedPlanes> planes;  // the weight gradient's taps
  if (dot && image_taps_fit<T>(p)) planes.emplace(p.g);
  // dcol [K, cols] = W_group^T @ dy_group[:, cols] (dy's rows P apart), by conv_gemm or gemm.
  auto input_gradient = [&](const T* wg, const T* dyg, int64_t cols, T* out) {
    if constexpr (std::is_same_v<T, float>) {
      if (use_conv_gemm<T>(p, true)) {
        const ConvGemmA a{wg, p.K, true};
        if (p.batch_parallel)
          conv_gemm(p.K, p.Og, a, dyg, p.P, 0, cols, nullptr, false, out, cols);
        else
          conv_gemm_parallel(p.K, p.Og, a, dyg, p.P, cols, nullptr, false, out, cols);
        return;
      }
    }
    typed<T>().gemm(true, false, p.K, cols, p.Og, T(1), wg, p.K, dyg, p.P, T(0), out, cols);
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
            return conv_gemm_parallel(p.Og, cols, ConvGemmA{dyc, p.P, false}, TransposedB{col, ldc}, p.K, !first,
                                      dwg, p.K, true);
        }
        typed<T>().gemm(false, true, p.Og, p.K, cols, T(1), dyc, p.P, col, ldc, first ? T(0) : T(1), dwg, p.K);
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
      // In bands of output rows, as the forward: dW += dy[:, band] col^T, dcol = W^T
      // dy[:, band] added back into dx by col2im (bands share input rows; the adds
      // accumulate).
      for (int64_t oh0 = r0; oh0 < r1; oh0 += rows) {
        const ConvGeometry band = output_band(p.g, oh0, std::min(rows, r1 - oh0));
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
          by_channels(band, alone, [&](int64_t c0, const ConvGeometry& slice) {
            typed<T>().col2im(dcol.data() + c0 * band.KH * band.KW * cols, slice, dxg + c0 * band.H * band.W);
          });
        }
      }
    }
  };
  if (fixed_order) {
#ifdef LAMINA_HAVE_OPENMP
    // Thread 0 sums dW over the images in order, its GEMMs on one thread (inside this
    // region), as a single-threaded run does; the other threads share dx's images.
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      if (t == 0) {
        for (int64_t n = 0; n < p.N; ++n) image_rows(0, n, 0, p.g.OH, true, false, false);
        if (nt == 1 && dx)
          for (int64_t n = 0; n < p.N; ++n) image_rows(0, n, 0, p.g.OH, false, true, false);
      } else if (dx) {
        for (int64_t n = t - 1; n < p.N; n += nt - 1) image_rows(t, n, 0, p.g.OH, false, true, false);
      }
    }
#endif
  } else if (dw && p.N == 1 && threads > 1 && p.P >= 1024 && !deterministic()) {
    // A lone image's dW sums over many positions into few weights, which the BLAS does not
    // split over its threads; here each thread takes a range of output rows, into its own
    // sums. dx after, whole (its bands would add into shared input rows), by the BLAS's own
    // threads.
    parallel_for(threads, true, [&](int thread, int64_t t) {
      const int64_t r0 = p.g.OH * t / threads, r1 = p.g.OH * (t + 1) / threads;
      if (r0 < r1) image_rows(thread, 0, r0, r1, true, false, false);
    });
    if (dx) image_rows(0, 0, 0, p.g.OH, false, true, true);
  } else if (dx || dw) {
    parallel_for(p.N, p.batch_parallel, [&](int thread, int64_t n) {
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
            table().dot_gemm_finish(p.Og, p.K, part + grp * dot_size, dw + grp * p.Og * p.K, p.K);
          continue;
        }
      }
      for (size_t i = 0; i < dw_size; ++i) dw[i] += part[i];
    }
  }
  if (db) typed<T>().channel_sums(dy, p.N, p.O, p.P, db);
}

template void conv2d_backward<float>(const ConvShape&, const float*, const float*, const float*, float*, float*,
                                     float*);
template void conv2d_backward<double>(const ConvShape&, const double*, const double*, const double*, double*,
                                      double*, double*);

}  // namespace conv

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
