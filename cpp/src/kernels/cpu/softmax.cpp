// Softmax and log-softmax over the middle axis of [outer, C, inner]. When inner == 1 (the
// class axis is last, the common case) each row is contiguous and the three passes (max,
// sum of exponentials, scale) are plain vectorised loops (float32 on AVX-512: intrinsics,
// see softmax_row_avx512); otherwise the same passes run with a stride.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/avx512.hpp"
#include "kernels/cpu/map.hpp"
#include "kernels/cpu/vec_math.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

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

#ifdef LAMINA_AVX512
// softmax_row for float32 with AVX-512. The compiler's vectorisation of the loops above
// kept one accumulator for the max (a chain of dependent maxima) and spent 19 operations
// per 16 exponentials; here the max runs on four accumulators and the exponential is
// exp_nonpositive (avx512.hpp). 512x1000 rows, one thread: 0.24 -> 0.17 ms (PyTorch 0.34).
void softmax_row_avx512(const float* x, int64_t C, bool log, float* y) {
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest;
  int64_t c = 0;
  for (; c + 64 <= C; c += 64) {
    m0 = max16(_mm512_loadu_ps(x + c), m0);  // (a NaN x loses, as in softmax_row)
    m1 = max16(_mm512_loadu_ps(x + c + 16), m1);
    m2 = max16(_mm512_loadu_ps(x + c + 32), m2);
    m3 = max16(_mm512_loadu_ps(x + c + 48), m3);
  }
  for (; c < C; c += 16) m0 = max16(_mm512_mask_loadu_ps(lowest, lanes(0, C - c), x + c), m0);
  const float m = lane_max(max16(max16(m0, m1), max16(m2, m3)));
  const __m512 mv = _mm512_set1_ps(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (c = 0; c + 32 <= C; c += 32) {
    const __m512 e0 = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + c), mv));
    const __m512 e1 = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + c + 16), mv));
    if (!log) {
      _mm512_storeu_ps(y + c, e0);
      _mm512_storeu_ps(y + c + 16, e1);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; c < C; c += 16) {
    const __mmask16 k = lanes(0, C - c);
    const __m512 e = _mm512_maskz_mov_ps(k, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), mv)));
    if (!log) _mm512_mask_storeu_ps(y + c, k, e);
    s0 = _mm512_add_ps(s0, e);
  }
  const float s = lane_sum(_mm512_add_ps(s0, s1));
  if (log) {
    const __m512 ls = _mm512_set1_ps(std::log(s) + m);
    for (c = 0; c < C; c += 16) {
      const __mmask16 k = lanes(0, C - c);
      _mm512_mask_storeu_ps(y + c, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), ls));
    }
    return;
  }
  const __m512 inv = _mm512_set1_ps(1.0f / s);
  for (c = 0; c < C; c += 16) {
    const __mmask16 k = lanes(0, C - c);
    _mm512_mask_storeu_ps(y + c, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + c), inv));
  }
}
#endif

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
void softmax(const T* x, int64_t outer, int64_t C, int64_t inner, bool log, T* y) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t base = o * C * inner;
    if (inner == 1) {
#ifdef LAMINA_AVX512
      if constexpr (std::is_same_v<T, float>) {
        softmax_row_avx512(x + base, C, log, y + base);
        continue;
      }
#endif
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
void softmax_backward(const T* y, const T* dy, int64_t outer, int64_t C, int64_t inner, bool log, T* dx) {
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
void softmax_cross_entropy_backward(const T* logp, const int64_t* labels, int64_t outer, int64_t C,
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

void fill_softmax(Table& t) {
  LAMINA_FILL(t, softmax);
  LAMINA_FILL(t, softmax_backward);
  LAMINA_FILL(t, softmax_cross_entropy_backward);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
