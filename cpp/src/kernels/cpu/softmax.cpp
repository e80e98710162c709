#include <cmath>

#include "kernels/kernels.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu {

template <class T>
void softmax(const T* x, int64_t outer, int64_t C, int64_t inner, bool log, T* y) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xr = x + o * C * inner + i;
      T* yr = y + o * C * inner + i;
      T m = xr[0];
      for (int64_t c = 1; c < C; ++c) m = xr[c * inner] > m ? xr[c * inner] : m;
      T s = T(0);
      for (int64_t c = 0; c < C; ++c) s += std::exp(xr[c * inner] - m);
      if (log) {
        const T ls = std::log(s) + m;
        for (int64_t c = 0; c < C; ++c) yr[c * inner] = xr[c * inner] - ls;
      } else {
        for (int64_t c = 0; c < C; ++c) yr[c * inner] = std::exp(xr[c * inner] - m) / s;
      }
    }
}

template <class T>
void softmax_backward(const T* y, const T* dy, int64_t outer, int64_t C, int64_t inner, bool log, T* dx) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * C * inner + i;
      T s = T(0);
      for (int64_t c = 0; c < C; ++c) s += log ? dy[base + c * inner] : dy[base + c * inner] * y[base + c * inner];
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = base + c * inner;
        dx[k] = log ? dy[k] - std::exp(y[k]) * s : y[k] * (dy[k] - s);
      }
    }
}

template void softmax<float>(const float*, int64_t, int64_t, int64_t, bool, float*);
template void softmax<double>(const double*, int64_t, int64_t, int64_t, bool, double*);
template void softmax_backward<float>(const float*, const float*, int64_t, int64_t, int64_t, bool, float*);
template void softmax_backward<double>(const double*, const double*, int64_t, int64_t, int64_t, bool, double*);

}  // namespace lamina::kernels::cpu
