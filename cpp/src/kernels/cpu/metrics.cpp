// Losses and scores read from class labels: softmax cross-entropy's loss value and Caffe's
// Accuracy.
#include <vector>

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

template <class T>
int64_t accuracy(const T* scores, const T* labels, int64_t outer, int64_t C, int64_t inner, int64_t top_k,
                 bool has_ignore, int64_t ignore_label, double* value, double* per_class) {
  std::vector<double> hits(static_cast<size_t>(C), 0), counts(static_cast<size_t>(C), 0);
  double correct = 0, valid = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const auto label = static_cast<int64_t>(labels[o * inner + i]);
      if (has_ignore && label == ignore_label) continue;
      if (label < 0 || label >= C) return o * inner + i;
      const T mine = scores[(o * C + label) * inner + i];
      int64_t better = 0;  // classes scoring strictly higher than the label's
      for (int64_t k = 0; k < C; ++k) better += scores[(o * C + k) * inner + i] > mine;
      const bool hit = better < top_k;
      correct += hit;
      valid += 1;
      hits[static_cast<size_t>(label)] += hit;
      counts[static_cast<size_t>(label)] += 1;
    }
  *value = valid > 0 ? correct / valid : 0.0;
  if (per_class)
    for (int64_t k = 0; k < C; ++k)
      per_class[k] = counts[static_cast<size_t>(k)] > 0 ? hits[static_cast<size_t>(k)] / counts[static_cast<size_t>(k)]
                                                        : 0.0;
  return -1;
}

void fill_metrics(Table& t) {
  LAMINA_FILL(t, softmax_cross_entropy_loss);
  LAMINA_FILL(t, accuracy);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
