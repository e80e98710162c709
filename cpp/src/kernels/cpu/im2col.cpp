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
#include "kernels/cpu/avx512.hpp"
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

#ifdef LAMINA_AVX512
namespace {

// Unit horizontal stride, float32, AVX-512: a row of outputs is 16 columns at a time, one
// masked load (lanes outside [lo, hi) read nothing and come back 0) and one store. With
// the rows of small images (8 to 32 columns) the plain three-part loop spent more time
// on loop control than on copying: im2col took longer than the GEMM after it (CIFAR10
// conv2: 160 us against 118 us per image).

// The output rows [r0, r1) of kernel row kh whose input row lies inside the image (the
// same rule as inside_columns, down the rows).
inline void inside_rows(const ConvGeometry& g, int64_t kh, int64_t& r0, int64_t& r1) {
  inside_columns(kh * g.dilation_h - g.pad_h, g.stride_h, g.H, g.OH, r0, r1);
}

void im2col_unit_stride(const float* im, const ConvGeometry& g, float* col,
                                                                     int64_t ldc) {
  const int64_t plane = g.OH * g.OW;
  // Stores are whole vectors: what spills past a row lands on a row written after it (the
  // padding rows below a tap's inside rows are zeroed after them), or between rows. Only
  // the end of the matrix takes a masked store. Masks and the inside rows are worked out
  // once per tap, so an inside row is one masked load and one store (8-column rows: 11 ->
  // 4 us per LeNet conv2 image).
  const float* end = col + (g.C * g.KH * g.KW - 1) * ldc + plane;
  const int64_t chunks = (g.OW + 15) / 16;
  for_each_tap(g, [&](int64_t tap, int64_t c, int64_t kh, int64_t off, int64_t lo, int64_t hi)
                      {
    float* row = col + tap * ldc;
    int64_t r0, r1;
    inside_rows(g, kh, r0, r1);
    std::fill(row, row + r0 * g.OW, 0.0f);
    // Masked-off lanes are never read, so `in` may point before the row.
    const float* in = im + c * g.H * g.W + (r0 * g.stride_h - g.pad_h + kh * g.dilation_h) * g.W + off;
    const int64_t in_step = g.stride_h * g.W;
    float* out = row + r0 * g.OW;
    if (g.stride_w == 2) {
      // Horizontal stride 2 (ResNet's first conv, its stride-2 projections): the 32 input
      // columns under 16 outputs, zero outside the image, then their even columns.
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW)
        for (int64_t o = 0; o < g.OW; o += 16) {
          const int64_t start = off + 2 * o;  // input column of this chunk's first output
          const __m512 t0 = _mm512_maskz_loadu_ps(lanes(-start, g.W - start), in + 2 * o);
          const __m512 t1 = _mm512_maskz_loadu_ps(lanes(-start - 16, g.W - start - 16), in + 2 * o + 16);
          const __m512 v = _mm512_permutex2var_ps(t0, even, t1);
          if (out + o + 16 <= end)
            _mm512_storeu_ps(out + o, v);
          else
            _mm512_mask_storeu_ps(out + o, lanes(0, g.OW - o), v);
        }
    } else if (g.OW <= 8) {  // half a vector: 8 lanes, so stores do not overlap
      const __mmask8 valid = static_cast<__mmask8>(lanes(lo, hi));
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW) {
        const __m256 v = _mm256_maskz_loadu_ps(valid, in);
        if (out + 8 <= end)
          _mm256_storeu_ps(out, v);
        else
          _mm256_mask_storeu_ps(out, static_cast<__mmask8>(lanes(0, g.OW)), v);
      }
    } else if (chunks == 1) {
      const __mmask16 valid = lanes(lo, hi);
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW) {
        const __m512 v = _mm512_maskz_loadu_ps(valid, in);
        if (out + 16 <= end)
          _mm512_storeu_ps(out, v);
        else
          _mm512_mask_storeu_ps(out, lanes(0, g.OW), v);
      }
    } else {
      for (int64_t oh = r0; oh < r1; ++oh, in += in_step, out += g.OW)
        for (int64_t o = 0; o < g.OW; o += 16) {
          const __m512 v = _mm512_maskz_loadu_ps(lanes(lo - o, hi - o), in + o);
          if (out + o + 16 <= end)
            _mm512_storeu_ps(out + o, v);
          else
            _mm512_mask_storeu_ps(out + o, lanes(0, g.OW - o), v);
        }
    }
    std::fill(row + r1 * g.OW, row + plane, 0.0f);
  });
}

// Adjoint of the above, one image row at a time: the KW shifted column rows that add onto
// it are summed in a register and the row is stored once (adding each tap straight into
// memory made every load wait on the overlapping store before it). Each (chunk, kw)
// mask is worked out once per call.
void col2im_unit_stride(const float* col, const ConvGeometry& g, float* im) {
  const int64_t plane = g.OH * g.OW, chunks = (g.W + 15) / 16;
  std::vector<int64_t> offs(static_cast<size_t>(g.KW));
  std::vector<__mmask16> valid(static_cast<size_t>(chunks * g.KW));
  for (int64_t kw = 0; kw < g.KW; ++kw) {
    int64_t lo, hi;
    offs[kw] = kw * g.dilation_w - g.pad_w;
    inside_columns(offs[kw], 1, g.W, g.OW, lo, hi);
    // Image column i + j takes output column i + j - off, if that is in [lo, hi).
    for (int64_t ch = 0; ch < chunks; ++ch)
      valid[ch * g.KW + kw] = lanes(lo + offs[kw] - ch * 16, hi + offs[kw] - ch * 16);
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
          const int64_t i = ch * 16;
          const __mmask16 tail = lanes(0, g.W - i);
          __m512 acc = _mm512_maskz_loadu_ps(tail, out + i);
          for (int64_t kw = 0; kw < g.KW; ++kw)
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(valid[ch * g.KW + kw], in + kw * plane + i - offs[kw]));
          _mm512_mask_storeu_ps(out + i, tail, acc);
        }
      }
    }
}

bool im2col_avx512(const ConvGeometry& g) { return (g.stride_w == 1 || g.stride_w == 2); }

bool unit_stride_avx512(const ConvGeometry& g) { return g.stride_w == 1; }

}  // namespace
#endif

template <class T>
void im2col(const T* im, const ConvGeometry& g, T* col, int64_t ldc) {
#ifdef LAMINA_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (im2col_avx512(g)) return im2col_unit_stride(im, g, col, ldc);
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
#ifdef LAMINA_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (unit_stride_avx512(g)) return col2im_unit_stride(col, g, im);
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
