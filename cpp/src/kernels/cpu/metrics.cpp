// Losses and scores read from class labels: the negative log-likelihood (nll_loss,
// cross_entropy) and its gradient, and Caffe's Accuracy.
#include <algorithm>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

template <class T>
double nll_loss(const T* logp, const int64_t* labels, const T* weight, int64_t outer, int64_t C, int64_t inner,
                int64_t ignore_label, T* loss, double* weight_total) {
  double total = 0, weights = 0;
  for (int64_t j = 0; j < outer * inner; ++j) {
    const int64_t k = labels[j];
    if (k == ignore_label) {
      if (loss) loss[j] = T(0);
      continue;
    }
    const T w = weight ? weight[k] : T(1);
    const T l = -w * logp[(j / inner * C + k) * inner + j % inner];
    if (loss) loss[j] = l;
    total += static_cast<double>(l);
    weights += static_cast<double>(w);
  }
  *weight_total = weights;
  return total;
}

template <class T>
void nll_loss_backward(const int64_t* labels, const T* weight, const T* dy, int64_t outer, int64_t C, int64_t inner,
                       int64_t ignore_label, T scale, T* dx) {
  std::fill(dx, dx + outer * C * inner, T(0));
  for (int64_t j = 0; j < outer * inner; ++j) {
    const int64_t k = labels[j];
    if (k == ignore_label) continue;
    dx[(j / inner * C + k) * inner + j % inner] = -scale * (weight ? weight[k] : T(1)) * (dy ? dy[j] : T(1));
  }
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
  LAMINA_FILL(t, nll_loss);
  LAMINA_FILL(t, nll_loss_backward);
  LAMINA_FILL(t, accuracy);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
