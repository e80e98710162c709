// im2col / col2im for 2-d convolution. col is [C * KH * KW, OH * OW], row-major: row
// (c, kh, kw) holds, for every output position, the input pixel that kernel tap sees
// (0 where it falls in the padding). col2im is its adjoint: it adds each column entry
// back onto its pixel, so the caller zeroes `im` first.
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
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
          T* out = row + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            for (int64_t ow = 0; ow < g.OW; ++ow) out[ow] = T(0);
            continue;
          }
          const T* in = src + ih * g.W;
          const int64_t iw0 = kw * g.dilation_w - g.pad_w;
          if (g.stride_w == 1 && iw0 >= 0 && iw0 + g.OW <= g.W) {  // the common interior row
            for (int64_t ow = 0; ow < g.OW; ++ow) out[ow] = in[iw0 + ow];
            continue;
          }
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = iw0 + ow * g.stride_w;
            out[ow] = (iw >= 0 && iw < g.W) ? in[iw] : T(0);
          }
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
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          T* out = dst + ih * g.W;
          const T* in = row + oh * g.OW;
          const int64_t iw0 = kw * g.dilation_w - g.pad_w;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = iw0 + ow * g.stride_w;
            if (iw >= 0 && iw < g.W) out[iw] += in[ow];
          }
        }
      }
}

template void im2col<float>(const float*, const ConvGeometry&, float*);
template void im2col<double>(const double*, const ConvGeometry&, double*);
template void col2im<float>(const float*, const ConvGeometry&, float*);
template void col2im<double>(const double*, const ConvGeometry&, double*);

}  // namespace lamina::kernels::cpu
