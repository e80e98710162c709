// Losses read from class labels: softmax cross-entropy's loss value.
#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

template <class T>
double softmax_cross_entropy_loss(const T* logp, const int64_t* labels, int64_t outer, int64_t C, int64_t inner,
                                  int64_t ignore_label, int64_t* counted) {
  double total = 0;
  int64_t n = 0;
  for (int64_t j = 0; j < outer * inner; ++j) {
    const int64_t k = labels[j];
    if (k == ignore_label) continue;
    total -= static_cast<double>(logp[(j / inner * C + k) * inner + j % inner]);
    ++n;
  }
  *counted = n;
  return total;
}

void fill_metrics(Table& t) {
  LAMINA_FILL(t, softmax_cross_entropy_loss);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
