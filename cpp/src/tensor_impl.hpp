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

  // For a view made by a view op (reshape, slice, index, permute, ...): the tensor it views
  // (never itself a view), and the storage's history() when the view was made or last
  // written (see Storage::history). Null for other tensors.
  std::shared_ptr<TensorImpl> base;
  uint64_t history_seen = 0;

  // Autograd. A leaf has no grad_fn; requires_grad on a non-leaf is implied by grad_fn.
  bool requires_grad = false;
  bool retain_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
};

// Row-major strides of a contiguous tensor of this shape (in elements).
Shape contiguous_strides(const Shape& shape);

// A view of x's storage (no history of its own yet), marked as a view.
Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset);
// Records y (a view of x made by op) on the tape with the backward dx = back(dy).
Tensor record_view(const char* op, const Tensor& x, Tensor y, std::function<Tensor(const Tensor&)> back);

// In-place writes (the rules are in tensor.hpp). A recorded write computes the new values
// r out of place from current(x) and the other operands, writes them into x, and commits:
// x takes r's history, or, for a view, its base takes a node that replaces the view's
// region of its old values by r (PyTorch's CopySlices) and the view becomes a view of that.
namespace inplace {

inline bool is_view(const Tensor& x) { return x.impl_ptr()->base != nullptr; }

// Before `op` writes into x, reading `others`: whether autograd must record the write.
// Throws AutogradError for a leaf x that requires grad (or a view of one), and for a
// recorded write into a view of a non-contiguous tensor.
bool must_record(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others);
// x's values with their current history: x itself, or for a view the same region read
// afresh from its base (whose history may have been rewritten since the view was made).
Tensor current(const Tensor& x);
// After r's values were written into x: x's history (or its base's) takes them in.
// r may be undefined: the values written are constants.
void commit(const char* op, const Tensor& x, const Tensor& r);
// A view taken before a recorded write into its base describes the base's old history:
// it is made a view of the current one (autograd::needs_grad calls this on every input).
void refresh(const Tensor& x);
// After a write into x (not a view): x's history becomes `fn` over `inputs`, whose first
// is x itself (its gradient goes to x's history from before the write).
void record(const char* op, const Tensor& x, const std::vector<Tensor>& inputs, BackwardFn fn);

}  // namespace inplace

}  // namespace lamina
