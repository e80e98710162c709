// Softmax and log-softmax over the middle axis of [outer, C, inner]. When inner == 1 (the
// class axis is last, the common case) each row is contiguous and the three passes (max,
// sum of exponentials, scale) are plain vectorised loops; otherwise the same passes run
// with a stride.
#include <cmath>

#include "kernels/cpu/map.hpp"
#include "kernels/cpu/vec_math.hpp"
#include "kernels/kernels.hpp"

namespace lamina::kernels::cpu {

namespace {

template <class T>
inline __attribute__((always_inline)) void softmax_row(const T* x, int64_t C, bool log, T* y) {
  T m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
  T s = T(0);
  if (log) {
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; ++c) s += vexp_nonpositive(x[c] - m);
    const T ls = static_cast<T>(std::log(s)) + m;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) y[c] = x[c] - ls;
    return;
  }
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < C; ++c) {
    y[c] = vexp_nonpositive(x[c] - m);
    s += y[c];
  }
  const T inv = T(1) / s;
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) y[c] *= inv;
}

template <class T>
inline __attribute__((always_inline)) void softmax_strided(const T* x, int64_t C, int64_t inner, bool log, T* y) {
  T m = x[0];
  for (int64_t c = 1; c < C; ++c) m = x[c * inner] > m ? x[c * inner] : m;
  T s = T(0);
  for (int64_t c = 0; c < C; ++c) {
    const T e = vexp_nonpositive(x[c * inner] - m);
    if (!log) y[c * inner] = e;
    s += e;
  }
  if (log) {
    const T ls = static_cast<T>(std::log(s)) + m;
    for (int64_t c = 0; c < C; ++c) y[c * inner] = x[c * inner] - ls;
  } else {
    const T inv = T(1) / s;
    for (int64_t c = 0; c < C; ++c) y[c * inner] *= inv;
  }
}

}  // namespace

template <class T>
LAMINA_VECTORIZE void softmax(const T* x, int64_t outer, int64_t C, int64_t inner, bool log, T* y) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t base = o * C * inner;
    if (inner == 1) {
      softmax_row(x + base, C, log, y + base);
      continue;
    }
    for (int64_t i = 0; i < inner; ++i) softmax_strided(x + base + i, C, inner, log, y + base + i);
  }
}

// One softmax (or log-softmax) backward over C values `step` apart. Called with step 1
// (a compile-time 1 after inlining) for contiguous rows: with a run-time stride the loops
// did not vectorise, and the cross-entropy backward took twice the whole forward.
template <class T>
inline __attribute__((always_inline)) void softmax_backward_row(const T* y, const T* dy, int64_t C, int64_t step,
                                                                bool log, T* dx) {
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < C; ++c) s += log ? dy[c * step] : dy[c * step] * y[c * step];
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) {
    const int64_t k = c * step;
    dx[k] = log ? dy[k] - vexp_nonpositive(y[k]) * s : y[k] * (dy[k] - s);
  }
}

template <class T>
LAMINA_VECTORIZE void softmax_backward(const T* y, const T* dy, int64_t outer, int64_t C, int64_t inner, bool log, T* dx) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t base = o * C * inner;
    if (inner == 1) {
      softmax_backward_row(y + base, dy + base, C, 1, log, dx + base);
      continue;
    }
    for (int64_t i = 0; i < inner; ++i) softmax_backward_row(y + base + i, dy + base + i, C, inner, log, dx + base + i);
  }
}

// dx = scale * e^logp over C values `step` apart (the label's entry is corrected by the caller).
template <class T>
inline __attribute__((always_inline)) void cross_entropy_backward_row(const T* logp, int64_t C, int64_t step, T scale,
                                                                      T* dx) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) dx[c * step] = scale * vexp_nonpositive(logp[c * step]);
}

template <class T>
LAMINA_VECTORIZE void softmax_cross_entropy_backward(const T* logp, const int64_t* labels, int64_t outer, int64_t C,
                                                     int64_t inner, int64_t ignore_label, T scale, T* dx) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * C * inner + i, k = labels[o * inner + i];
      const T sc = k == ignore_label ? T(0) : scale;
      // Contiguous rows with a constant step of 1, which vectorises (see softmax_backward_row).
      if (inner == 1)
        cross_entropy_backward_row(logp + base, C, 1, sc, dx + base);
      else
        cross_entropy_backward_row(logp + base, C, inner, sc, dx + base);
      if (k != ignore_label) dx[base + k * inner] -= sc;
    }
}

template void softmax_cross_entropy_backward<float>(const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t,
                                                    float, float*);
template void softmax_cross_entropy_backward<double>(const double*, const int64_t*, int64_t, int64_t, int64_t,
                                                     int64_t, double, double*);
template void softmax<float>(const float*, int64_t, int64_t, int64_t, bool, float*);
template void softmax<double>(const double*, int64_t, int64_t, int64_t, bool, double*);
template void softmax_backward<float>(const float*, const float*, int64_t, int64_t, int64_t, bool, float*);
template void softmax_backward<double>(const double*, const double*, int64_t, int64_t, int64_t, bool, double*);

}  // namespace lamina::kernels::cpu
