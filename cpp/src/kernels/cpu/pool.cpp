#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/avx512.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {
// Window bounds of output (oh, ow) clipped to the input.
struct Window {
  int64_t h0, h1, w0, w1;
};
inline __attribute__((always_inline)) Window window(const PoolGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = std::min(h0 + g.KH, g.H), w1 = std::min(w0 + g.KW, g.W);
  return {std::max<int64_t>(h0, 0), h1, std::max<int64_t>(w0, 0), w1};
}
}  // namespace

namespace {
inline __attribute__((always_inline)) int64_t avg_divisor(const PoolGeometry& g, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  const int64_t h1 = std::min(h0 + g.KH, g.H + g.pad_h), w1 = std::min(w0 + g.KW, g.W + g.pad_w);
  return (h1 - h0) * (w1 - w0);
}
}  // namespace

// 2x2 windows with stride 2 tiling the input exactly (LeNet, VGG): the four taps of each
// output read as two rows, compared in window order; the general sweep below does strided
// loads per tap and ran ~4x slower on this, the most common pooling.
#ifdef LAMINA_AVX512
namespace {
// One output row of 2x2 max pooling in float32 on AVX-512: 16 outputs at a time, the two
// input rows' 32 values split into even and odd columns by permutes, then the same four
// comparisons in window order as the scalar loop (which GCC left scalar: 6% of a LeNet
// training step).
void max_pool2x2_row(const float* r0, const float* r1, int64_t OW, int32_t top,
                                                        float* y, int32_t* arg, int64_t W) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t o = 0; o < OW; o += 16) {
    const int64_t n = std::min<int64_t>(16, OW - o), in = 2 * n;
    const __mmask16 out = lanes(0, n), lo = lanes(0, in), hi = lanes(0, in - 16);
    const __m512 t0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * o), t1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * o + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * o), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * o + 16);
    const __m512 taps[4] = {_mm512_permutex2var_ps(t0, even, t1), _mm512_permutex2var_ps(t0, odd, t1),
                            _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
    // Index of tap 0 of each window: top + 2 * (o + lane).
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(top + 2 * o)), even);
    const int32_t shift[4] = {0, 1, static_cast<int32_t>(W), static_cast<int32_t>(W + 1)};
    __m512 best = taps[0];
    __m512i where = at;
    for (int t = 1; t < 4; ++t) {
      const __mmask16 better = _mm512_cmp_ps_mask(taps[t], best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, better, taps[t]);
      where = _mm512_mask_add_epi32(where, better, at, _mm512_set1_epi32(shift[t]));
    }
    _mm512_mask_storeu_ps(y + o, out, best);
    _mm512_mask_storeu_epi32(arg + o, out, where);
  }
}

// The load masks (lanes inside the image) of the 32 input columns under outputs [o, o + 16)
// of a stride-2 pooling row that kernel columns kw and kw + 1 (kw even) read, as their even
// and odd columns. Worked out once for all the window's rows: per row and tap they were
// most of the instructions. Pairs past the first 8 (kernels over 16 wide) work theirs out
// when asked.
class PairMasks {
 public:
  PairMasks(const PoolGeometry& g, int64_t o) : g_(g), o_(o) {
    for (int64_t kw = 0; kw < std::min(g.KW, 2 * kKept); kw += 2) kept_[kw / 2] = work_out(kw);
  }
  std::pair<__mmask16, __mmask16> operator()(int64_t kw) const { return kw < 2 * kKept ? kept_[kw / 2] : work_out(kw); }

 private:
  static constexpr int64_t kKept = 8;
  std::pair<__mmask16, __mmask16> work_out(int64_t kw) const {
    const int64_t start = 2 * o_ + kw - g_.pad_w;  // input column of lane 0's even tap
    return {lanes(-start, g_.W - start), lanes(-start - 16, g_.W - start - 16)};
  }
  const PoolGeometry& g_;
  int64_t o_;
  std::pair<__mmask16, __mmask16> kept_[kKept];
};

// One output row of max pooling with horizontal stride 2 (AlexNet's and CIFAR10's 3x3/2,
// any kernel, padding and ceil mode), float32 on AVX-512: 16 outputs at a time; per tap,
// the 32 input columns under them loaded with -inf outside the image, their even columns
// picked by a permute, and compared in window order like the scalar sweep (which read
// each tap with a stride-2 gather: 3x slower).
void max_pool_row_stride2(const float* xp, const PoolGeometry& g, int64_t h0,
                                                             int64_t h1, float* y, int32_t* arg) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t o = 0; o < g.OW; o += 16) {
    const __mmask16 out = lanes(0, g.OW - o);
    // Each window's first inside column, clipped at 0 (the scalar rule for its argmax).
    // (_mm512_mask_max_epi32 with every lane: the plain form trips GCC 12's
    // -Wmaybe-uninitialized on the undefined vector it passes.)
    const __m512i unclipped = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * o - g.pad_w)), even);
    const __m512i first = _mm512_mask_max_epi32(unclipped, 0xFFFF, unclipped, _mm512_setzero_si512());
    __m512 best = lowest;
    __m512i where = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(h0 * g.W)), first);
    // Kernel columns kw and kw + 1 from one pair of loads (PairMasks; 3x3/2 on
    // 100x32x32x32, one thread: 2.0 -> 1.4 ms).
    const PairMasks inside(g, o);
    auto take = [&](__m512 tap, int64_t at) {
      const __mmask16 better = _mm512_cmp_ps_mask(tap, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, better, tap);
      where = _mm512_mask_add_epi32(where, better, _mm512_set1_epi32(static_cast<int32_t>(at)), even);
    };
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t kw = 0; kw < g.KW; kw += 2) {
        const int64_t start = 2 * o + kw - g.pad_w;  // input column of lane 0's tap
        const float* row = xp + h * g.W + start;     // masked-off lanes are never read
        const auto [m0, m1] = inside(kw);
        const __m512 t0 = _mm512_mask_loadu_ps(lowest, m0, row), t1 = _mm512_mask_loadu_ps(lowest, m1, row + 16);
        take(_mm512_permutex2var_ps(t0, even, t1), h * g.W + start);
        if (kw + 1 < g.KW) take(_mm512_permutex2var_ps(t0, odd, t1), h * g.W + start + 1);
      }
    _mm512_mask_storeu_ps(y + o, out, best);
    _mm512_mask_storeu_epi32(arg + o, out, where);
  }
}

// Average pooling with horizontal stride 2 (CIFAR10-quick's and GoogLeNet's 3x3/2, any
// kernel up to 16 wide, padding and ceil mode), float32 on AVX-512, 16 outputs at a time.
// The scalar sweeps read and wrote each tap with a stride of 2 and spent more time on loop
// control than on the adds (CIFAR10-quick's two average pools: 5.3 ms of a 66 ms training
// step).

// Caffe's window size for outputs [o, o + 16) of a row whose window spans hsize rows: the
// window clipped to the padded image, so windows over the padding count it.
inline __m512 avg_divisors(const PoolGeometry& g, int64_t o, int64_t hsize) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i w0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * o - g.pad_w)), _mm512_add_epi32(iota, iota));
  const __m512i w1 = _mm512_mask_min_epi32(w0, 0xFFFF, _mm512_add_epi32(w0, _mm512_set1_epi32(static_cast<int32_t>(g.KW))),
                                           _mm512_set1_epi32(static_cast<int32_t>(g.W + g.pad_w)));
  const __m512 wsize = _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_sub_epi32(w1, w0));
  return _mm512_mul_ps(wsize, _mm512_set1_ps(static_cast<float>(hsize)));
}

// The rows of output row oh's windows: [h0, h1) inside the image, hsize counting padding.
inline void avg_rows(const PoolGeometry& g, int64_t oh, int64_t& h0, int64_t& h1, int64_t& hsize) {
  const int64_t top = oh * g.stride_h - g.pad_h;
  h0 = std::max<int64_t>(top, 0);
  h1 = std::min(top + g.KH, g.H);
  hsize = std::min(top + g.KH, g.H + g.pad_h) - top;
}

// Output row oh of one plane: per tap, the 32 input columns under 16 outputs (0 outside
// the image), their even columns permuted out and summed.
void avg_pool_row_stride2(const float* xp, const PoolGeometry& g, int64_t oh,
                                                             float* y) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t h0, h1, hsize;
  avg_rows(g, oh, h0, h1, hsize);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t o = 0; o < g.OW; o += 16) {
    __m512 sum = _mm512_setzero_ps();
    // Kernel columns kw and kw + 1 from one pair of loads (PairMasks; 100x32x32x32, one
    // thread: 1.85 -> 1.2-1.7 ms).
    const PairMasks inside(g, o);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t kw = 0; kw < g.KW; kw += 2) {
        const int64_t start = 2 * o + kw - g.pad_w;  // input column of lane 0's tap
        const float* row = xp + h * g.W + start;     // masked-off lanes are never read
        const auto [m0, m1] = inside(kw);
        const __m512 t0 = _mm512_maskz_loadu_ps(m0, row), t1 = _mm512_maskz_loadu_ps(m1, row + 16);
        sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(t0, even, t1));
        if (kw + 1 < g.KW) sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(t0, odd, t1));
      }
    _mm512_mask_storeu_ps(y + o, lanes(0, g.OW - o), _mm512_div_ps(sum, avg_divisors(g, o, hsize)));
  }
}

// One plane's input gradient, an input row at a time: the output rows whose windows cover
// it give d = dy / window size (16 outputs at a time); output column o + l adds d[l] to
// input columns 2(o + l) - pad + kw, which the KW taps place in three vectors of positions
// (permutes with precomputed lanes), the third carried into the next 16 outputs' first.
// Each input column is so written once per row (no read-modify-write of a row just
// stored with a mask, which cannot forward to the next load).
void avg_pool_plane_backward_stride2(const float* dy, const PoolGeometry& g,
                                                                       const __m512i* idx, const __mmask16* take,
                                                                       float* dx) {
  for (int64_t h = 0; h < g.H; ++h) {
    // Output rows oh with oh * stride_h - pad_h <= h < that + KH.
    const int64_t first = std::max<int64_t>(0, (h + g.pad_h - g.KH + g.stride_h) / g.stride_h);
    const int64_t last = std::min(g.OH - 1, (h + g.pad_h) / g.stride_h);
    if (first > last) continue;
    float* row = dx + h * g.W;
    __m512 carry = _mm512_setzero_ps();
    int64_t start = -g.pad_w;
    for (int64_t o = 0; o < g.OW; o += 16, start += 32) {
      const __mmask16 valid = lanes(0, g.OW - o);
      __m512 d = _mm512_setzero_ps();
      for (int64_t oh = first; oh <= last; ++oh) {
        int64_t h0, h1, hsize;
        avg_rows(g, oh, h0, h1, hsize);
        d = _mm512_add_ps(d, _mm512_div_ps(_mm512_maskz_loadu_ps(valid, dy + oh * g.OW + o), avg_divisors(g, o, hsize)));
      }
      __m512 seg[3] = {carry, _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int64_t kw = 0; kw < g.KW; ++kw)
        for (int v = 0; v < 3; ++v)
          seg[v] = _mm512_add_ps(seg[v], _mm512_maskz_permutexvar_ps(take[kw * 3 + v], idx[kw * 3 + v], d));
      for (int v = 0; v < 2; ++v) {
        const int64_t at = start + 16 * v;
        const __mmask16 in = lanes(-at, g.W - at);
        _mm512_mask_storeu_ps(row + at, in, _mm512_add_ps(_mm512_maskz_loadu_ps(in, row + at), seg[v]));
      }
      carry = seg[2];
    }
    const __mmask16 in = lanes(-start, g.W - start);
    _mm512_mask_storeu_ps(row + start, in, _mm512_add_ps(_mm512_maskz_loadu_ps(in, row + start), carry));
  }
}

// For the backward above: position q (0..47 from a chunk's first input column) takes tap kw
// of output lane (q - kw) / 2 where q - kw is even and in [0, 32).
void avg_backward_lanes(int64_t KW, __m512i* idx, __mmask16* take) {
  for (int64_t kw = 0; kw < KW; ++kw)
    for (int v = 0; v < 3; ++v) {
      int32_t lane[16];
      __mmask16 m = 0;
      for (int l = 0; l < 16; ++l) {
        const int64_t q = 16 * v + l - kw;
        lane[l] = static_cast<int32_t>(q >= 0 ? q / 2 % 16 : 0);
        if (q >= 0 && q % 2 == 0 && q / 2 < 16) m = static_cast<__mmask16>(m | (1u << l));
      }
      idx[kw * 3 + v] = _mm512_loadu_si512(lane);
      take[kw * 3 + v] = m;
    }
}
}  // namespace
#endif

template <class T>
void max_pool2x2(const T* x, const PoolGeometry& g, T* y, int32_t* argmax) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * in_plane >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const T* r0 = xp + 2 * oh * g.W;
      const T* r1 = r0 + g.W;
      T* yr = y + p * out_plane + oh * g.OW;
      int32_t* ar = argmax + p * out_plane + oh * g.OW;
      const int32_t top = static_cast<int32_t>(2 * oh * g.W), bottom = static_cast<int32_t>(top + g.W);
#ifdef LAMINA_AVX512
      if constexpr (std::is_same_v<T, float>) {
        max_pool2x2_row(r0, r1, g.OW, top, yr, ar, g.W);
        continue;
      }
#endif
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
        const int32_t at = static_cast<int32_t>(2 * ow);
        T best = a;
        int32_t where = top + at;
        if (b > best) { best = b; where = top + at + 1; }
        if (c > best) { best = c; where = bottom + at; }
        if (d > best) { best = d; where = bottom + at + 1; }
        yr[ow] = best;
        ar[ow] = where;
      }
    }
  }
}

// Each output row is swept once per kernel tap (h, kw), in the window's row-major order;
// a strict > keeps the first maximum, as Caffe does. The sweep over ow is a plain
// (vectorised) loop instead of one small window loop per output.
template <class T>
void max_pool2d(const T* x, const PoolGeometry& g, T* y, int32_t* argmax) {
  if (g.KH == 2 && g.KW == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
      g.OH * 2 <= g.H && g.OW * 2 <= g.W) {
    max_pool2x2(x, g, y, argmax);
    return;
  }
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* yr = y + p * out_plane + oh * g.OW;
      int32_t* ar = argmax + p * out_plane + oh * g.OW;
#ifdef LAMINA_AVX512
      if constexpr (std::is_same_v<T, float>) {
        if (g.stride_w == 2) {
          max_pool_row_stride2(xp, g, std::max<int64_t>(oh * g.stride_h - g.pad_h, 0),
                               std::min(oh * g.stride_h - g.pad_h + g.KH, g.H), yr, ar);
          continue;
        }
      }
#endif
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window win = window(g, oh, ow);
        yr[ow] = -std::numeric_limits<T>::infinity();
        ar[ow] = static_cast<int32_t>(win.h0 * g.W + win.w0);
      }
      const int64_t h0 = std::max<int64_t>(oh * g.stride_h - g.pad_h, 0);
      const int64_t h1 = std::min(oh * g.stride_h - g.pad_h + g.KH, g.H);
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          int64_t lo, hi;
          inside_columns(kw - g.pad_w, g.stride_w, g.W, g.OW, lo, hi);
          const int64_t base = h * g.W + kw - g.pad_w;
          for (int64_t ow = lo; ow < hi; ++ow) {
            const int64_t at = base + ow * g.stride_w;
            const T v = xp[at];
            const bool better = v > yr[ow];
            yr[ow] = better ? v : yr[ow];
            ar[ow] = better ? static_cast<int32_t>(at) : ar[ow];
          }
        }
    }
  }
}

// A plane at a time, zeroed just before its scatter (in cache for it): a whole-tensor
// zero-fill first, then the scatter, went to memory twice (CIFAR10-quick's pool1 backward,
// 100x32x32x32: 2.3 -> 0.8 ms on one thread, 1.5 -> 0.6 on two).
template <class T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, const PoolGeometry& g, T* dx) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * in_plane >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    T* dxp = dx + p * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t i = 0; i < out_plane; ++i) dxp[argmax[p * out_plane + i]] += dy[p * out_plane + i];
  }
}

// Whether the AVX-512 average-pooling kernels above take this geometry.
inline bool avg_pool_avx512(const PoolGeometry& g) {
#ifdef LAMINA_AVX512
  return g.stride_w == 2 && g.KW <= 16;
#else
  (void)g;
  return false;
#endif
}

template <class T>
void avg_pool2d(const T* x, const PoolGeometry& g, T* y) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  [[maybe_unused]] const bool avx512 = std::is_same_v<T, float> && avg_pool_avx512(g);
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* yr = y + p * out_plane + oh * g.OW;
#ifdef LAMINA_AVX512
      if constexpr (std::is_same_v<T, float>) {
        if (avx512) {
          avg_pool_row_stride2(xp, g, oh, yr);
          continue;
        }
      }
#endif
      for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] = T(0);
      const int64_t h0 = std::max<int64_t>(oh * g.stride_h - g.pad_h, 0);
      const int64_t h1 = std::min(oh * g.stride_h - g.pad_h + g.KH, g.H);
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          int64_t lo, hi;
          inside_columns(kw - g.pad_w, g.stride_w, g.W, g.OW, lo, hi);
          const T* xr = xp + h * g.W + kw - g.pad_w;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += xr[ow * g.stride_w];
        }
      for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] /= static_cast<T>(avg_divisor(g, oh, ow));
    }
  }
}

template <class T>
void avg_pool2d_backward(const T* dy, const PoolGeometry& g, T* dx) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#ifdef LAMINA_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (avg_pool_avx512(g)) {
      __m512i idx[48];
      __mmask16 take[48];
      avg_backward_lanes(g.KW, idx, take);
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
      for (int64_t p = 0; p < g.planes; ++p) {
        std::fill(dx + p * in_plane, dx + (p + 1) * in_plane, 0.0f);  // in cache for the adds
        avg_pool_plane_backward_stride2(dy + p * out_plane, g, idx, take, dx + p * in_plane);
      }
      return;
    }
  }
#endif
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    T* dxp = dx + p * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window win = window(g, oh, ow);
        const T d = dy[p * out_plane + oh * g.OW + ow] / static_cast<T>(avg_divisor(g, oh, ow));
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) dxp[h * g.W + w] += d;
      }
  }
}

#define LAMINA_POOL_INSTANTIATE(T)                                                              \
  template void max_pool2d<T>(const T*, const PoolGeometry&, T*, int32_t*);                     \
  template void max_pool2d_backward<T>(const T*, const int32_t*, const PoolGeometry&, T*);      \
  template void avg_pool2d<T>(const T*, const PoolGeometry&, T*);                               \
  template void avg_pool2d_backward<T>(const T*, const PoolGeometry&, T*);
LAMINA_POOL_INSTANTIATE(float)
LAMINA_POOL_INSTANTIATE(double)

void fill_pool(Table& t) {
  LAMINA_FILL(t, max_pool2d);
  LAMINA_FILL(t, max_pool2d_backward);
  LAMINA_FILL(t, avg_pool2d);
  LAMINA_FILL(t, avg_pool2d_backward);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
