// im2col / col2im for 2-d convolution. col is [C * KH * KW, OH * OW], row-major: row
// (c, kh, kw) holds, for every output position, the input pixel that kernel tap sees
// (0 where it falls in the padding). col2im is its adjoint: it adds each column entry
// back onto its pixel, so the caller zeroes `im` first.
//
// Per output row, the columns whose input pixel lies inside the image form one range
// [lo, hi): it is computed once, so the interior is a plain (or strided) copy and only
// the padding edges are filled with zeros.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// Calls f(tap, c, kh, off, lo, hi) for every kernel tap (c, kh, kw), with `tap` its row
// of col, `off` the input column its first output reads (kw * dilation - pad), and
// [lo, hi) the outputs of a row whose input column lies inside the image.
template <class F>
inline __attribute__((always_inline)) void for_each_tap(const ConvGeometry& g, F f) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t off = kw * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
        f((c * g.KH + kh) * g.KW + kw, c, kh, off, lo, hi);
      }
}

// The generic level (one-lane vectors) keeps the plain loops below.
#if !defined(LAMINA_LEVEL_GENERIC)
namespace {

using simd::kLanes;
using simd::Vec;

// Horizontal stride 1 or 2, float32: a row of outputs is a vector of columns at a time,
// one masked load (lanes outside [lo, hi) read nothing and come back 0) and one store.
// With the rows of small images (8 to 32 columns) the plain three-part loop spent more
// time on loop control than on copying.

// The output rows [r0, r1) of kernel row kh whose input row lies inside the image (the
// same rule as inside_columns, down the rows).
inline void inside_rows(const ConvGeometry& g, int64_t kh, int64_t& r0, int64_t& r1) {
  inside_columns(kh * g.dilation_h - g.pad_h, g.stride_h, g.H, g.OH, r0, r1);
}

void im2col_vectors(const float* im, const ConvGeometry& g, float* col, int64_t ldc) {
  const int64_t plane = g.OH * g.OW;
  // Stores are whole vectors: what spills past a row lands on a row written after it (the
  // padding rows below a tap's inside rows are zeroed after them), or between rows. Only
  // the end of the matrix takes a masked store. Masks and the inside rows are worked out
  // once per tap, so an inside row is one masked load and one store.
  const float* end = col + (g.C * g.KH * g.KW - 1) * ldc + plane;
  const int64_t chunks = (g.OW + kLanes - 1) / kLanes;
  for_each_tap(g, [&](int64_t tap, int64_t c, int64_t kh, int64_t off, int64_t lo, int64_t hi) {
    float* row = col + tap * ldc;
    int64_t r0, r1;
    inside_rows(g, kh, r0, r1);
    std::fill(row, row + r0 * g.OW, 0.0f);
    // Masked-off lanes are never read, so `in` may point before the row.
    const float* in = im + c * g.H * g.W + (r0 * g.stride_h - g.pad_h + kh * g.dilation_h) * g.W + off;
    const int64_t in_step = g.stride_h * g.W;
    float* out = row + r0 * g.OW;
    auto put = [&](float* at, int64_t o, Vec v) {
      if (at + o + kLanes <= end)
        simd::store(at + o, v);
      else
        simd::store(simd::lanes(0, g.OW - o), at + o, v);
    };
    if (g.stride_w == 2) {
      // Horizontal stride 2 (ResNet's first conv, its stride-2 projections): the two
      // vectors of input columns under a vector of outputs, zero outside the image, then
      // their even columns.
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW)
        for (int64_t o = 0; o < g.OW; o += kLanes) {
          const int64_t start = off + 2 * o;  // input column of this chunk's first output
          const Vec t0 = simd::load(simd::lanes(-start, g.W - start), in + 2 * o);
          const Vec t1 = simd::load(simd::lanes(-start - kLanes, g.W - start - kLanes), in + 2 * o + kLanes);
          put(out, o, simd::evens(t0, t1));
        }
#if defined(LAMINA_LEVEL_AVX512)
    } else if (g.OW <= 8) {  // half a vector: 8 lanes, so stores do not overlap
      const __mmask8 valid = static_cast<__mmask8>(simd::lanes(lo, hi));
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW) {
        const __m256 v = _mm256_maskz_loadu_ps(valid, in);
        if (out + 8 <= end)
          _mm256_storeu_ps(out, v);
        else
          _mm256_mask_storeu_ps(out, static_cast<__mmask8>(simd::lanes(0, g.OW)), v);
      }
#endif
    } else if (chunks == 1) {
      const simd::Mask valid = simd::lanes(lo, hi);
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW) put(out, 0, simd::load(valid, in));
    } else {
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW)
        for (int64_t o = 0; o < g.OW; o += kLanes) put(out, o, simd::load(simd::lanes(lo - o, hi - o), in + o));
    }
    std::fill(row + r1 * g.OW, row + plane, 0.0f);
  });
}

// Adjoint of the above for stride 1, one image row at a time: the KW shifted column rows
// that add onto it are summed in a register and the row is stored once (adding each tap
// straight into memory made every load wait on the overlapping store before it). Each
// (chunk, kw) mask is worked out once per call.
void col2im_vectors(const float* col, const ConvGeometry& g, float* im) {
  const int64_t plane = g.OH * g.OW, chunks = (g.W + kLanes - 1) / kLanes;
  std::vector<int64_t> offs(static_cast<size_t>(g.KW));
  std::vector<simd::MaskBits> valid(static_cast<size_t>(chunks * g.KW));
  for (int64_t kw = 0; kw < g.KW; ++kw) {
    int64_t lo, hi;
    offs[kw] = kw * g.dilation_w - g.pad_w;
    inside_columns(offs[kw], 1, g.W, g.OW, lo, hi);
    // Image column i + j takes output column i + j - off, if that is in [lo, hi).
    for (int64_t ch = 0; ch < chunks; ++ch)
      valid[ch * g.KW + kw] = simd::lane_bits(lo + offs[kw] - ch * kLanes, hi + offs[kw] - ch * kLanes);
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const float* rows = col + (c * g.KH + kh) * g.KW * plane;  // the KW rows of (c, kh)
      int64_t r0, r1;
      inside_rows(g, kh, r0, r1);
      for (int64_t oh = r0; oh < r1; ++oh) {
        float* out = im + c * g.H * g.W + (oh * g.stride_h - g.pad_h + kh * g.dilation_h) * g.W;
        const float* in = rows + oh * g.OW;
        for (int64_t ch = 0; ch < chunks; ++ch) {
          const int64_t i = ch * kLanes;
          const simd::Mask tail = simd::lanes(0, g.W - i);
          Vec acc = simd::load(tail, out + i);
          for (int64_t kw = 0; kw < g.KW; ++kw)
            acc = simd::add(acc, simd::load(simd::from_bits(valid[ch * g.KW + kw]), in + kw * plane + i - offs[kw]));
          simd::store(tail, out + i, acc);
        }
      }
    }
}

}  // namespace
#endif

template <class T>
void im2col(const T* im, const ConvGeometry& g, T* col, int64_t ldc) {
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (g.stride_w == 1 || g.stride_w == 2) return im2col_vectors(im, g, col, ldc);
  }
#endif
  for_each_tap(g, [&](int64_t tap, int64_t c, int64_t kh, int64_t off, int64_t lo, int64_t hi) {
    T* row = col + tap * ldc;
    const T* src = im + c * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
      T* out = row + oh * g.OW;
      if (ih < 0 || ih >= g.H) {
        std::fill(out, out + g.OW, T(0));
        continue;
      }
      const T* in = src + ih * g.W + off;
      std::fill(out, out + lo, T(0));
      if (g.stride_w == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.stride_w];
      }
      std::fill(out + hi, out + g.OW, T(0));
    }
  });
}

template <class T>
void col2im(const T* col, const ConvGeometry& g, T* im) {
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (g.stride_w == 1) return col2im_vectors(col, g, im);
  }
#endif
  const int64_t plane = g.OH * g.OW;
  for_each_tap(g, [&](int64_t tap, int64_t c, int64_t kh, int64_t off, int64_t lo, int64_t hi) {
    const T* row = col + tap * plane;
    T* dst = im + c * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
      if (ih < 0 || ih >= g.H) continue;
      T* out = dst + ih * g.W + off;
      const T* in = row + oh * g.OW;
      if (g.stride_w == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) out[ow] += in[ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) out[ow * g.stride_w] += in[ow];
      }
    }
  });
}

void fill_im2col(Table& t) {
  LAMINA_FILL(t, im2col);
  LAMINA_FILL(t, col2im);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
