// Rows gathered by index (embedding) and scattered back, and class labels, stored as
// floats or integers, checked and read as indices.
#include <algorithm>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

template <class T>
void embedding(const T* table, const int64_t* rows, int64_t N, int64_t D, T* y) {
  for (int64_t i = 0; i < N; ++i) std::copy(table + rows[i] * D, table + (rows[i] + 1) * D, y + i * D);
}

template <class T>
void embedding_backward(const T* dy, const int64_t* rows, int64_t N, int64_t V, int64_t D, T* dw) {
  std::fill(dw, dw + V * D, T(0));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) dw[rows[i] * D + d] += dy[i * D + d];
}

template <class T>
int64_t class_indices(const T* x, int64_t n, int64_t classes, bool has_ignore, int64_t ignore_label, int64_t* index) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = 0;
    bool whole = true;
    if constexpr (std::is_integral_v<T>) {
      k = static_cast<int64_t>(x[i]);
    } else {
      const double v = static_cast<double>(x[i]);
      // Outside int64's range (or NaN) the conversion is undefined: such a label is bad anyway.
      if (!(v > -9.2e18 && v < 9.2e18)) return i;
      k = static_cast<int64_t>(v);
      whole = v == static_cast<double>(k);
    }
    index[i] = k;
    if (has_ignore && k == ignore_label && whole) continue;
    if (!(whole && k >= 0 && k < classes)) return i;
  }
  return -1;
}

void fill_index(Table& t) {
  LAMINA_FILL(t, embedding);
  LAMINA_FILL(t, embedding_backward);
  LAMINA_FILL(t, class_indices);
  LAMINA_FILL_INTEGERS(t, class_indices);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
