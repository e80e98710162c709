// What the loss files share (ops.hpp, "losses").
#pragma once

#include "lamina/ops.hpp"

namespace lamina::ops_detail {

// Throws ValueError naming op for batch_mean, which only kl_div takes.
void check_reduction(const char* op, Reduction reduction);
// The per-element losses reduced: none as they are, sum, mean (batch_mean throws).
Tensor reduce_loss(const char* op, const Tensor& loss, Reduction reduction);

}  // namespace lamina::ops_detail
