#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
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
// loads per tap, far slower on this, the most common pooling.
// The generic level (one-lane vectors) keeps the plain loops below.
#if !defined(LAMINA_LEVEL_GENERIC)
namespace {

using simd::IVec;
using simd::kLanes;
using simd::Mask;
using simd::Vec;

// Where `better`, take tap (value) and its index `at`.
LAMINA_INLINE void keep_max(Mask better, Vec tap, IVec at, Vec& best, IVec& where) {
  best = simd::select(better, tap, best);
  where = simd::iselect(better, at, where);
}

// One output row of 2x2 max pooling, float32: a vector of outputs at a time, the two input
// rows' 2 kLanes values split into even and odd columns, then the same four comparisons in
// window order as the scalar loop (which GCC leaves scalar).
void max_pool2x2_row(const float* r0, const float* r1, int64_t OW, int32_t top, float* y, int32_t* arg,
                     int64_t W) {
  const IVec twice = simd::iadd(simd::iota(), simd::iota());
  for (int64_t o = 0; o < OW; o += kLanes) {
    const int64_t n = std::min<int64_t>(kLanes, OW - o), in = 2 * n;
    const Mask out = simd::lanes(0, n), lo = simd::lanes(0, in), hi = simd::lanes(0, in - kLanes);
    const Vec t0 = simd::load(lo, r0 + 2 * o), t1 = simd::load(hi, r0 + 2 * o + kLanes);
    const Vec b0 = simd::load(lo, r1 + 2 * o), b1 = simd::load(hi, r1 + 2 * o + kLanes);
    const Vec taps[4] = {simd::evens(t0, t1), simd::odds(t0, t1), simd::evens(b0, b1), simd::odds(b0, b1)};
    // Index of tap 0 of each window: top + 2 * (o + lane).
    const IVec at = simd::iadd(simd::iset1(static_cast<int32_t>(top + 2 * o)), twice);
    const int32_t shift[4] = {0, 1, static_cast<int32_t>(W), static_cast<int32_t>(W + 1)};
    Vec best = taps[0];
    IVec where = at;
    for (int t = 1; t < 4; ++t)
      keep_max(simd::greater(taps[t], best), taps[t], simd::iadd(at, simd::iset1(shift[t])), best, where);
    simd::store(out, y + o, best);
    simd::store(out, arg + o, where);
  }
}

// The load masks (lanes inside the image) of the 2 kLanes input columns under outputs
// [o, o + kLanes) of a stride-2 pooling row that kernel columns kw and kw + 1 (kw even)
// read, one per vector of columns. Worked out once for all the window's rows: per row and
// tap they were most of the instructions. Pairs past the first 8 (kernels over 16 wide)
// work theirs out when asked. (Kept as bits and made into masks where used: held as vector
// masks in this object, they slowed the stride-2 pools at avx2.)
class PairMasks {
 public:
  PairMasks(const PoolGeometry& g, int64_t o) : g_(g), o_(o) {
    for (int64_t kw = 0; kw < std::min(g.KW, 2 * kKept); kw += 2) kept_[kw / 2] = work_out(kw);
  }
  struct Pair {
    Mask first, second;  // the two vectors of input columns
  };
  Pair operator()(int64_t kw) const {
    const auto [m0, m1] = kw < 2 * kKept ? kept_[kw / 2] : work_out(kw);
    return {simd::from_bits(m0), simd::from_bits(m1)};
  }

 private:
  static constexpr int64_t kKept = 8;
  std::pair<simd::MaskBits, simd::MaskBits> work_out(int64_t kw) const {
    const int64_t start = 2 * o_ + kw - g_.pad_w;  // input column of lane 0's even tap
    return {simd::lane_bits(-start, g_.W - start), simd::lane_bits(-start - kLanes, g_.W - start - kLanes)};
  }
  const PoolGeometry& g_;
  int64_t o_;
  std::pair<simd::MaskBits, simd::MaskBits> kept_[kKept];
};

// One output row of max pooling with horizontal stride 2 (AlexNet's and CIFAR10's 3x3/2,
// any kernel, padding and ceil mode), float32: a vector of outputs at a time; per tap, the
// 2 kLanes input columns under them loaded with -inf outside the image, their even columns
// picked out, and compared in window order like the scalar sweep (which would read each
// tap with a stride-2 gather).
void max_pool_row_stride2(const float* xp, const PoolGeometry& g, int64_t h0, int64_t h1, float* y,
                          int32_t* arg) {
  const Vec lowest = simd::set1(-std::numeric_limits<float>::infinity());
  const IVec twice = simd::iadd(simd::iota(), simd::iota());
  for (int64_t o = 0; o < g.OW; o += kLanes) {
    const Mask out = simd::lanes(0, g.OW - o);
    // Each window's first inside column, clipped at 0 (the scalar rule for its argmax).
    const IVec unclipped = simd::iadd(simd::iset1(static_cast<int32_t>(2 * o - g.pad_w)), twice);
    const IVec first = simd::imax(unclipped, simd::iset1(0));
    Vec best = lowest;
    IVec where = simd::iadd(simd::iset1(static_cast<int32_t>(h0 * g.W)), first);
    // Kernel columns kw and kw + 1 from one pair of loads (PairMasks).
    const PairMasks inside(g, o);
    auto take = [&](Vec tap, int64_t at) {
      keep_max(simd::greater(tap, best), tap, simd::iadd(simd::iset1(static_cast<int32_t>(at)), twice), best, where);
    };
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t kw = 0; kw < g.KW; kw += 2) {
        const int64_t start = 2 * o + kw - g.pad_w;  // input column of lane 0's tap
        const float* row = xp + h * g.W + start;     // masked-off lanes are never read
        const auto [m0, m1] = inside(kw);
        const Vec t0 = simd::select(m0, simd::load(m0, row), lowest);
        const Vec t1 = simd::select(m1, simd::load(m1, row + kLanes), lowest);
        take(simd::evens(t0, t1), h * g.W + start);
        if (kw + 1 < g.KW) take(simd::odds(t0, t1), h * g.W + start + 1);
      }
    simd::store(out, y + o, best);
    simd::store(out, arg + o, where);
  }
}

// Average pooling with horizontal stride 2 (CIFAR10-quick's and GoogLeNet's 3x3/2, any
// kernel up to 16 wide, padding and ceil mode), float32, a vector of outputs at a time. The
// scalar sweeps read and wrote each tap with a stride of 2 and spent more time on loop
// control than on the adds.

// Caffe's window size for outputs [o, o + kLanes) of a row whose window spans hsize rows:
// the window clipped to the padded image, so windows over the padding count it. (Small
// integers, exact in float.)
inline Vec avg_divisors(const PoolGeometry& g, int64_t o, int64_t hsize) {
  const Vec w0 = simd::add(simd::set1(static_cast<float>(2 * o - g.pad_w)),
                           simd::to_float(simd::iadd(simd::iota(), simd::iota())));
  const Vec w1 = simd::min(simd::add(w0, simd::set1(static_cast<float>(g.KW))),
                           simd::set1(static_cast<float>(g.W + g.pad_w)));
  return simd::mul(simd::sub(w1, w0), simd::set1(static_cast<float>(hsize)));
}

// The rows of output row oh's windows: [h0, h1) inside the image, hsize counting padding.
inline void avg_rows(const PoolGeometry& g, int64_t oh, int64_t& h0, int64_t& h1, int64_t& hsize) {
  const int64_t top = oh * g.stride_h - g.pad_h;
  h0 = std::max<int64_t>(top, 0);
  h1 = std::min(top + g.KH, g.H);
  hsize = std::min(top + g.KH, g.H + g.pad_h) - top;
}

// Output row oh of one plane: per tap, the 2 kLanes input columns under a vector of outputs
// (0 outside the image), their even columns picked out and summed.
void avg_pool_row_stride2(const float* xp, const PoolGeometry& g, int64_t oh, float* y) {
  int64_t h0, h1, hsize;
  avg_rows(g, oh, h0, h1, hsize);
  for (int64_t o = 0; o < g.OW; o += kLanes) {
    Vec sum = simd::zero();
    // Kernel columns kw and kw + 1 from one pair of loads (PairMasks).
    const PairMasks inside(g, o);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t kw = 0; kw < g.KW; kw += 2) {
        const int64_t start = 2 * o + kw - g.pad_w;  // input column of lane 0's tap
        const float* row = xp + h * g.W + start;     // masked-off lanes are never read
        const auto [m0, m1] = inside(kw);
        const Vec t0 = simd::load(m0, row), t1 = simd::load(m1, row + kLanes);
        sum = simd::add(sum, simd::evens(t0, t1));
        if (kw + 1 < g.KW) sum = simd::add(sum, simd::odds(t0, t1));
      }
    simd::store(simd::lanes(0, g.OW - o), y + o, simd::div(sum, avg_divisors(g, o, hsize)));
  }
}

// Where each tap's share goes in avg_pool_plane_backward_stride2: position q (0 to
// 3 kLanes - 1 from a chunk's first input column) takes tap kw of output lane (q - kw) / 2
// where q - kw is even and in [0, 2 kLanes); lane[kw][v] says which output lane each lane
// of vector v reads, take[kw][v] which lanes take one.
struct BackwardLanes {
  static constexpr int kMaxKW = 16;
  int32_t lane[kMaxKW][3][kLanes];
  simd::MaskBits take[kMaxKW][3];
  explicit BackwardLanes(int64_t KW) {
    for (int64_t kw = 0; kw < KW; ++kw)
      for (int v = 0; v < 3; ++v) {
        take[kw][v] = 0;
        for (int l = 0; l < kLanes; ++l) {
          const int64_t q = kLanes * v + l - kw;
          lane[kw][v][l] = static_cast<int32_t>(q >= 0 ? q / 2 % kLanes : 0);
          if (q >= 0 && q % 2 == 0 && q / 2 < kLanes) take[kw][v] |= simd::MaskBits(1) << l;
        }
      }
  }
};

// One plane's input gradient, an input row at a time: the output rows whose windows cover
// it give d = dy / window size (a vector of outputs at a time); output column o + l adds
// d[l] to input columns 2(o + l) - pad + kw, which the KW taps place in three vectors of
// positions (lane permutes, BackwardLanes), the third carried into the next vector of
// outputs' first. Each input column is so written once per row (no read-modify-write of
// a row just stored with a mask, which cannot forward to the next load).
void avg_pool_plane_backward_stride2(const float* dy, const PoolGeometry& g, const BackwardLanes& bl, float* dx) {
  for (int64_t h = 0; h < g.H; ++h) {
    // Output rows oh with oh * stride_h - pad_h <= h < that + KH.
    const int64_t first = std::max<int64_t>(0, (h + g.pad_h - g.KH + g.stride_h) / g.stride_h);
    const int64_t last = std::min(g.OH - 1, (h + g.pad_h) / g.stride_h);
    if (first > last) continue;
    float* row = dx + h * g.W;
    Vec carry = simd::zero();
    int64_t start = -g.pad_w;
    for (int64_t o = 0; o < g.OW; o += kLanes, start += 2 * kLanes) {
      const Mask valid = simd::lanes(0, g.OW - o);
      Vec d = simd::zero();
      for (int64_t oh = first; oh <= last; ++oh) {
        int64_t h0, h1, hsize;
        avg_rows(g, oh, h0, h1, hsize);
        d = simd::add(d, simd::div(simd::load(valid, dy + oh * g.OW + o), avg_divisors(g, o, hsize)));
      }
      Vec seg[3] = {carry, simd::zero(), simd::zero()};
      for (int64_t kw = 0; kw < g.KW; ++kw)
        for (int v = 0; v < 3; ++v)
          seg[v] = simd::add(seg[v], simd::select(simd::from_bits(bl.take[kw][v]),
                                                  simd::permute(d, simd::iload(bl.lane[kw][v])), simd::zero()));
      for (int v = 0; v < 2; ++v) {
        const int64_t at = start + kLanes * v;
        const Mask in = simd::lanes(-at, g.W - at);
        simd::store(in, row + at, simd::add(simd::load(in, row + at), seg[v]));
      }
      carry = seg[2];
    }
    const Mask in = simd::lanes(-start, g.W - start);
    simd::store(in, row + start, simd::add(simd::load(in, row + start), carry));
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
#if !defined(LAMINA_LEVEL_GENERIC)
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
#if !defined(LAMINA_LEVEL_GENERIC)
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
// zero-fill first, then the scatter, would go to memory twice.
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

// Whether the vector average-pooling kernels above take this geometry.
inline bool avg_pool_vectors(const PoolGeometry& g) {
#if !defined(LAMINA_LEVEL_GENERIC)
  return g.stride_w == 2 && g.KW <= BackwardLanes::kMaxKW;
#else
  (void)g;
  return false;
#endif
}

template <class T>
void avg_pool2d(const T* x, const PoolGeometry& g, T* y) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  [[maybe_unused]] const bool vectors = std::is_same_v<T, float> && avg_pool_vectors(g);
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* yr = y + p * out_plane + oh * g.OW;
#if !defined(LAMINA_LEVEL_GENERIC)
      if constexpr (std::is_same_v<T, float>) {
        if (vectors) {
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
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (avg_pool_vectors(g)) {
      const BackwardLanes lanes(g.KW);
#pragma omp parallel for if (g.planes * out_plane * g.KH * g.KW >= kParallelGrain)
      for (int64_t p = 0; p < g.planes; ++p) {
        std::fill(dx + p * in_plane, dx + (p + 1) * in_plane, 0.0f);  // in cache for the adds
        avg_pool_plane_backward_stride2(dy + p * out_plane, g, lanes, dx + p * in_plane);
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

#include "kernels/cpu/simd_end.hpp"
