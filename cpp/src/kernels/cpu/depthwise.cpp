// Direct depthwise convolution: one input channel per group, `mult` output channels per
// input channel (O = C * mult). A GEMM per channel would be [mult, KH*KW] x [KH*KW, OH*OW],
// far too thin for a BLAS; instead each kernel tap adds a shifted input row to an output
// row, a contiguous loop when the stride is 1.
#include <algorithm>

#include "kernels/cpu/map.hpp"
#include "kernels/kernels.hpp"

namespace lamina::kernels::cpu {


template <class T>
LAMINA_VECTORIZE void depthwise_conv2d(const T* x, const T* w, const T* b, int64_t N, int64_t mult,
                                       const ConvGeometry& g, T* y) {
  const int64_t C = g.C;  // here: all input channels (one per group)
#pragma omp parallel for collapse(2) if (N * C > 1)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* xp = x + (n * C + c) * g.H * g.W;
      for (int64_t j = 0; j < mult; ++j) {
        const int64_t o = c * mult + j;
        T* yp = y + (n * C * mult + o) * g.OH * g.OW;
        const T* wp = w + o * g.KH * g.KW;
        const T bias = b ? b[o] : T(0);
        for (int64_t i = 0; i < g.OH * g.OW; ++i) yp[i] = bias;
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const T wv = wp[kh * g.KW + kw];
            const int64_t off = kw * g.dilation_w - g.pad_w;
            int64_t lo, hi;
            inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              const T* xr = xp + ih * g.W + off;
              T* yr = yp + oh * g.OW;
              if (g.stride_w == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.stride_w];
              }
            }
          }
      }
    }
}

template <class T>
LAMINA_VECTORIZE void depthwise_conv2d_backward(const T* x, const T* w, const T* dy, int64_t N, int64_t mult,
                                                const ConvGeometry& g, T* dx, T* dw) {
  const int64_t C = g.C;
  if (dx) {
#pragma omp parallel for collapse(2) if (N * C > 1)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        T* dxp = dx + (n * C + c) * g.H * g.W;  // zeroed by the caller
        for (int64_t j = 0; j < mult; ++j) {
          const int64_t o = c * mult + j;
          const T* dyp = dy + (n * C * mult + o) * g.OH * g.OW;
          const T* wp = w + o * g.KH * g.KW;
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const T wv = wp[kh * g.KW + kw];
              const int64_t off = kw * g.dilation_w - g.pad_w;
              int64_t lo, hi;
              inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
                if (ih < 0 || ih >= g.H) continue;
                T* xr = dxp + ih * g.W + off;
                const T* dr = dyp + oh * g.OW;
                if (g.stride_w == 1) {
                  for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += wv * dr[ow];
                } else {
                  for (int64_t ow = lo; ow < hi; ++ow) xr[ow * g.stride_w] += wv * dr[ow];
                }
              }
            }
        }
      }
  }
  if (dw) {
    // One output channel's taps per iteration: no two threads write the same dw entry.
#pragma omp parallel for if (C * mult > 1)
    for (int64_t o = 0; o < C * mult; ++o) {
      const int64_t c = o / mult;
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t off = kw * g.dilation_w - g.pad_w;
          int64_t lo, hi;
          inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
          T acc = T(0);
          for (int64_t n = 0; n < N; ++n) {
            const T* xp = x + (n * C + c) * g.H * g.W;
            const T* dyp = dy + (n * C * mult + o) * g.OH * g.OW;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              const T* xr = xp + ih * g.W + off;
              const T* dr = dyp + oh * g.OW;
              T s = T(0);
              if (g.stride_w == 1) {
#pragma omp simd reduction(+ : s)
                for (int64_t ow = lo; ow < hi; ++ow) s += dr[ow] * xr[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) s += dr[ow] * xr[ow * g.stride_w];
              }
              acc += s;
            }
          }
          dw[o * g.KH * g.KW + kh * g.KW + kw] = acc;
        }
    }
  }
}

template void depthwise_conv2d<float>(const float*, const float*, const float*, int64_t, int64_t,
                                      const ConvGeometry&, float*);
template void depthwise_conv2d<double>(const double*, const double*, const double*, int64_t, int64_t,
                                       const ConvGeometry&, double*);
template void depthwise_conv2d_backward<float>(const float*, const float*, const float*, int64_t, int64_t,
                                               const ConvGeometry&, float*, float*);
template void depthwise_conv2d_backward<double>(const double*, const double*, const double*, int64_t, int64_t,
                                                const ConvGeometry&, double*, double*);

}  // namespace lamina::kernels::cpu
