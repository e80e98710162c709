// Ops without gradients that only layers use (not in lamina/ops.hpp): the top k along an
// axis (ArgMax) and Caffe's Accuracy.
#pragma once

#include <utility>

#include "lamina/tensor.hpp"

namespace lamina {

// The k largest of x along `axis` (0 <= k <= its extent), largest first (equal values: the
// lower index first): their indices (in x's dtype) and their values, each shaped as x with
// axis's extent k. No gradient.
std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k, int64_t axis);

// Caffe's Accuracy: the fraction of the positions of scores (classes along `axis`) whose
// label is among the top_k scores, as a 0-d tensor of scores' dtype. labels: one class index
// per position (as floats, truncated), in the positions' order; positions labelled
// ignore_label are skipped when has_ignore. per_class, when given, is set to [C]: the same
// fraction per label class (0 for a class no position has). A label outside [0, C) throws
// ValueError. No gradient.
Tensor accuracy(const Tensor& scores, const Tensor& labels, int64_t top_k, int64_t axis, bool has_ignore,
                int64_t ignore_label, Tensor* per_class = nullptr);

}  // namespace lamina
