// im2col / col2im for 2-d convolution. col is [C * KH * KW, OH * OW], row-major: row
// (c, kh, kw) holds, for every output position, the input pixel that kernel tap sees
// (0 where it falls in the padding). col2im is its adjoint: it adds each column entry
// back onto its pixel, so the caller zeroes `im` first.
//
// Per output row, the columns whose input pixel lies inside the image form one range
// [lo, hi): it is computed once, so the interior is a plain (or strided) copy and only
// the padding edges are filled with zeros.
#include <algorithm>

#include "kernels/cpu/map.hpp"
#include "kernels/kernels.hpp"

namespace lamina::kernels::cpu {


template <class T>
LAMINA_VECTORIZE void im2col(const T* im, const ConvGeometry& g, T* col) {
  const int64_t plane = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * plane;
        const T* src = im + c * g.H * g.W;
        const int64_t off = kw * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
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
      }
}

template <class T>
LAMINA_VECTORIZE void col2im(const T* col, const ConvGeometry& g, T* im) {
  const int64_t plane = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = col + ((c * g.KH + kh) * g.KW + kw) * plane;
        T* dst = im + c * g.H * g.W;
        const int64_t off = kw * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
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
      }
}

template <class T>
LAMINA_VECTORIZE void im2col_columns(const T* im, const ConvGeometry& g, int64_t p0, int64_t p1, T* col) {
  const int64_t width = p1 - p0;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * width - p0;  // row[p] for p in [p0, p1)
        const T* src = im + c * g.H * g.W;
        const int64_t off = kw * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
        for (int64_t oh = p0 / g.OW; oh <= (p1 - 1) / g.OW; ++oh) {
          // This output row's part of [p0, p1), as output columns [a, b).
          const int64_t a = std::max<int64_t>(p0 - oh * g.OW, 0), b = std::min(p1 - oh * g.OW, g.OW);
          T* out = row + oh * g.OW;
          const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
          if (ih < 0 || ih >= g.H) {
            for (int64_t ow = a; ow < b; ++ow) out[ow] = T(0);
            continue;
          }
          const T* in = src + ih * g.W + off;
          const int64_t l = std::max(a, lo), h = std::min(b, hi);
          for (int64_t ow = a; ow < std::min(b, l); ++ow) out[ow] = T(0);
          for (int64_t ow = l; ow < h; ++ow) out[ow] = in[ow * g.stride_w];
          for (int64_t ow = std::max(a, h); ow < b; ++ow) out[ow] = T(0);
        }
      }
}

template void im2col_columns<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*);
template void im2col_columns<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*);
template void im2col<float>(const float*, const ConvGeometry&, float*);
template void im2col<double>(const double*, const ConvGeometry&, double*);
template void col2im<float>(const float*, const ConvGeometry&, float*);
template void col2im<double>(const double*, const ConvGeometry&, double*);

}  // namespace lamina::kernels::cpu
