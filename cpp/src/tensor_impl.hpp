// The data behind a Tensor handle, and the helpers that views and in-place writes share.
// Private to the library (tensor*.cpp, autograd.cpp, ops/inplace.cpp).
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;

  // A view made by a view op (reshape, slice, index, permute, ...), and its storage's
  // history() when it was made (see Storage::history).
  bool is_view = false;
  uint64_t history_seen = 0;

  // Autograd. A leaf has no grad_fn; requires_grad on a non-leaf is implied by grad_fn.
  bool requires_grad = false;
  bool retain_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
};

// A view of x's storage (no history of its own yet), marked as a view.
Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset);
// Records y (a view of x made by op) on the tape with the backward dx = back(dy).
Tensor record_view(const char* op, const Tensor& x, Tensor y, std::function<Tensor(const Tensor&)> back);

// In-place writes (the rules are in tensor.hpp).
namespace inplace {

// Before `op` writes into x, reading `others`: whether autograd must record the write.
// Throws AutogradError for a leaf x that requires grad, and for a view x when recording.
bool must_record(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others);
// After the write: x's history becomes `fn` over `inputs`, whose first is x itself (its
// gradient goes to x's history from before the write).
void record(const char* op, const Tensor& x, const std::vector<Tensor>& inputs, BackwardFn fn);
// After the write of r's values into x: x's history becomes r's.
void adopt(const Tensor& x, const Tensor& r);

}  // namespace inplace

}  // namespace lamina
