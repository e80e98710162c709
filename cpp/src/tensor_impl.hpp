// The data behind a Tensor handle. Private to the library: tensor.cpp and autograd.cpp.
#pragma once

#include <memory>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;

  // Autograd. A leaf has no grad_fn; requires_grad on a non-leaf is implied by grad_fn.
  bool requires_grad = false;
  bool retain_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
};

}  // namespace lamina
