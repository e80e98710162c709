// Sums over the middle axis of [outer, R, inner]: every reduction whose reduced axes form
// one contiguous block (leading axes: outer = 1; trailing: inner = 1). Accumulates in
// double so float32 sums of many terms keep their precision.
#include <cstddef>
#include <vector>

#include "kernels/cpu/map.hpp"
#include "kernels/kernels.hpp"

namespace lamina::kernels::cpu {

template <class T>
LAMINA_VECTORIZE void sum_middle(const T* x, int64_t outer, int64_t R, int64_t inner, T* out) {
  if (inner == 1) {  // each output is one contiguous run
#pragma omp parallel for if (outer * R >= kParallelGrain && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = x + o * R;
      double s = 0;
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
    std::vector<double> acc(static_cast<size_t>(j1 - j0), 0.0);
    double* a = acc.data();
    for (int64_t r = 0; r < R; ++r) {
      const T* p = x + (o * R + r) * inner + j0;
#pragma omp simd
      for (int64_t j = 0; j < j1 - j0; ++j) a[j] += p[j];
    }
    for (int64_t j = j0; j < j1; ++j) out[o * inner + j] = static_cast<T>(a[j - j0]);
  }
}

template void sum_middle<float>(const float*, int64_t, int64_t, int64_t, float*);
template void sum_middle<double>(const double*, int64_t, int64_t, int64_t, double*);

}  // namespace lamina::kernels::cpu
