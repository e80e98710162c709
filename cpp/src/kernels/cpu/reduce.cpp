// Sums over the middle axis of [outer, R, inner]: every reduction whose reduced axes form
// one contiguous block (leading axes: outer = 1; trailing: inner = 1). Accumulates in
// double so float32 sums of many terms keep their precision; integers in int64, exactly.
#include <cstddef>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

template <class T>
void sum_middle(const T* x, int64_t outer, int64_t R, int64_t inner, T* out) {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
  if (inner == 1) {  // each output is one contiguous run
#pragma omp parallel for if (outer * R >= kParallelGrain && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = x + o * R;
      Acc s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t r = 0; r < R; ++r) s += p[r];
      out[o] = static_cast<T>(s);
    }
    return;
  }
  // Rows of `inner` outputs accumulate R input rows each; with one outer block the rows
  // are split over the threads by column ranges.
  const int64_t chunks = outer > 1 ? outer : (inner >= 2048 ? 16 : 1);
#pragma omp parallel for if (outer * R * inner >= kParallelGrain && chunks > 1)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t o = outer > 1 ? k : 0;
    const int64_t j0 = outer > 1 ? 0 : inner * k / chunks, j1 = outer > 1 ? inner : inner * (k + 1) / chunks;
    std::vector<Acc> acc(static_cast<size_t>(j1 - j0), Acc(0));
    Acc* a = acc.data();
    for (int64_t r = 0; r < R; ++r) {
      const T* p = x + (o * R + r) * inner + j0;
#pragma omp simd
      for (int64_t j = 0; j < j1 - j0; ++j) a[j] += p[j];
    }
    for (int64_t j = j0; j < j1; ++j) out[o * inner + j] = static_cast<T>(a[j - j0]);
  }
}

template <class T>
T plane_sum(const T* x, int64_t S) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < S; ++i) s += x[i];
  return s;
}

// Each plane summed in its own type with a vector reduction, the planes in double: one
// double chain over every element took 7% of a LeNet training step (conv's bias gradient).
template <class T>
void channel_sums(const T* x, int64_t N, int64_t C, int64_t S, T* out) {
#pragma omp parallel for if (N * C * S >= kParallelGrain && C > 1)
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += plane_sum(x + (n * C + c) * S, S);
    out[c] = static_cast<T>(s);
  }
}

template float plane_sum<float>(const float*, int64_t);  // also called by depthwise.cpp
template double plane_sum<double>(const double*, int64_t);

void fill_reduce(Table& t) {
  LAMINA_FILL(t, sum_middle);
  LAMINA_FILL_INTEGERS(t, sum_middle);
  LAMINA_FILL(t, channel_sums);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
