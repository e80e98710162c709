// Softmax and log-softmax over the middle axis of [outer, C, inner]. When inner == 1 (the
// class axis is last, the common case) each row is contiguous and the three passes (max,
// sum of exponentials, scale) are plain vectorised loops (float32: softmax_row_vectors);
// otherwise the same passes run with a stride.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"
#include "kernels/cpu/vec_math.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

template <class T>
inline __attribute__((always_inline)) void softmax_row(const T* x, int64_t C, bool log, T* y) {
  T m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
  // The sum in 8 running partial sums, in an order the code fixes (not the compiler's
  // vectorisation, which a sanitized or OpenMP-less build may not do): fewer sequential adds,
  // so its rounding error stays within the bound the tests hold, on every compiler.
  constexpr int64_t kParts = 8;
  T part[kParts] = {};
  int64_t c = 0;
  for (; c + kParts <= C; c += kParts)
    for (int64_t j = 0; j < kParts; ++j) {
      const T e = vexp_nonpositive(x[c + j] - m);
      if (!log) y[c + j] = e;
      part[j] += e;
    }
  for (; c < C; ++c) {
    const T e = vexp_nonpositive(x[c] - m);
    if (!log) y[c] = e;
    part[c % kParts] += e;
  }
  const T s = ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
  if (log) {
    // (x - max) - log(sum), not x - (max + log(sum)): the latter rounds log(sum) to the
    // precision of a large max.
    const T ls = static_cast<T>(std::log(s));
#pragma omp simd
    for (int64_t i = 0; i < C; ++i) y[i] = (x[i] - m) - ls;
    return;
  }
  const T inv = T(1) / s;
#pragma omp simd
  for (int64_t i = 0; i < C; ++i) y[i] *= inv;
}

#if !defined(LAMINA_LEVEL_GENERIC)
// softmax_row for float32 against simd.hpp. The compiler's vectorisation of the loops
// above keeps one accumulator for the max (a chain of dependent maxima) and its
// exponential takes more operations; here the max runs on four accumulators and the
// exponential is simd::exp_nonpositive.
void softmax_row_vectors(const float* x, int64_t C, bool log, float* y) {
  using simd::kLanes;
  using simd::Vec;
  const Vec lowest = simd::set1(-std::numeric_limits<float>::infinity());
  Vec m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest;
  int64_t c = 0;
  for (; c + 4 * kLanes <= C; c += 4 * kLanes) {
    m0 = simd::max(simd::load(x + c), m0);  // (a NaN x loses, as in softmax_row)
    m1 = simd::max(simd::load(x + c + kLanes), m1);
    m2 = simd::max(simd::load(x + c + 2 * kLanes), m2);
    m3 = simd::max(simd::load(x + c + 3 * kLanes), m3);
  }
  for (; c < C; c += kLanes) {
    const simd::Mask k = simd::lanes(0, C - c);
    m0 = simd::max(simd::select(k, simd::load(k, x + c), lowest), m0);
  }
  const float m = simd::reduce_max(simd::max(simd::max(m0, m1), simd::max(m2, m3)));
  const Vec mv = simd::set1(m);
  Vec s0 = simd::zero(), s1 = simd::zero();
  for (c = 0; c + 2 * kLanes <= C; c += 2 * kLanes) {
    const Vec e0 = simd::exp_nonpositive(simd::sub(simd::load(x + c), mv));
    const Vec e1 = simd::exp_nonpositive(simd::sub(simd::load(x + c + kLanes), mv));
    if (!log) {
      simd::store(y + c, e0);
      simd::store(y + c + kLanes, e1);
    }
    s0 = simd::add(s0, e0);
    s1 = simd::add(s1, e1);
  }
  for (; c < C; c += kLanes) {
    const simd::Mask k = simd::lanes(0, C - c);
    const Vec e = simd::select(k, simd::exp_nonpositive(simd::sub(simd::load(k, x + c), mv)), simd::zero());
    if (!log) simd::store(k, y + c, e);
    s0 = simd::add(s0, e);
  }
  const float s = simd::reduce_add(simd::add(s0, s1));
  if (log) {
    const Vec ls = simd::set1(std::log(s)), mv = simd::set1(m);
    for (c = 0; c < C; c += kLanes) {
      const simd::Mask k = simd::lanes(0, C - c);
      simd::store(k, y + c, simd::sub(simd::sub(simd::load(k, x + c), mv), ls));
    }
    return;
  }
  const Vec inv = simd::set1(1.0f / s);
  for (c = 0; c < C; c += kLanes) {
    const simd::Mask k = simd::lanes(0, C - c);
    simd::store(k, y + c, simd::mul(simd::load(k, y + c), inv));
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
    const T ls = static_cast<T>(std::log(s));
    for (int64_t c = 0; c < C; ++c) y[c * inner] = (x[c * inner] - m) - ls;
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
#if !defined(LAMINA_LEVEL_GENERIC)
      if constexpr (std::is_same_v<T, float>) {
        softmax_row_vectors(x + base, C, log, y + base);
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
void softmax_cross_entropy_backward(const T* logp, const int64_t* labels, const T* weight, const T* dy, int64_t outer,
                                    int64_t C, int64_t inner, int64_t ignore_label, T scale, T* dx) {
#pragma omp parallel for if (outer * C * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t j = o * inner + i, base = o * C * inner + i, k = labels[j];
      const T sc = k == ignore_label ? T(0) : scale * (weight ? weight[k] : T(1)) * (dy ? dy[j] : T(1));
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

#include "kernels/cpu/simd_end.hpp"
