// lamina's operations on tensors. Each validates its arguments before any kernel runs
// and throws ShapeError / DTypeError naming the operation and the shapes.
#pragma once

#include "lamina/tensor.hpp"

namespace lamina {

// matmul(a, b): a [M, K] @ b [K, N] -> [M, N]. Both 2-d, same dtype, same device.
// Non-contiguous inputs are copied first.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace lamina
