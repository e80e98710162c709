// Autograd for in-place writes: who may be written, and how a recorded write rewrites the
// written tensor's history (the rules are in tensor.hpp).
#include <algorithm>

#include "tensor_impl.hpp"

namespace lamina::inplace {

namespace {

// x's history was rewritten: views taken before now are out of date, and a retain_grad()
// on x follows it to its new node.
void rewrote_history(const Tensor& x, const std::shared_ptr<Node>& old_fn) {
  TensorImpl& impl = *x.impl_ptr();
  impl.storage->bump_history();
  if (!impl.retain_grad) return;
  if (old_fn) {
    auto& r = old_fn->retained;
    r.erase(std::remove_if(r.begin(), r.end(), [&](const auto& e) { return e.second.lock() == x.impl_ptr(); }),
            r.end());
  }
  if (impl.grad_fn) impl.grad_fn->retained.emplace_back(impl.output_nr, x.impl_ptr());
}

}  // namespace

bool must_record(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others) {
  if (!GradMode::enabled()) return false;
  LAMINA_CHECK_AS(AutogradError, !(x.is_leaf() && x.requires_grad()), op, ": in-place write to a leaf tensor of shape ",
                  x.shape(), " that requires grad");
  bool record = x.requires_grad();
  for (const Tensor* t : others) record = record || (t->defined() && t->requires_grad());
  LAMINA_CHECK_AS(AutogradError, !record || !x.impl_ptr()->is_view, op, ": an in-place write that autograd must record "
                  "into a view of shape ", x.shape(), ": the tensor it views would keep its old history; write through "
                  "that tensor (x[index] = value) or clone() the view first");
  return record;
}

void record(const char* op, const Tensor& x, const std::vector<Tensor>& inputs, BackwardFn fn) {
  std::shared_ptr<Node> old_fn = x.grad_fn();
  autograd::record(op, inputs, {x}, std::move(fn));  // reads x's old history before replacing it
  rewrote_history(x, old_fn);
}

void adopt(const Tensor& x, const Tensor& r) {
  std::shared_ptr<Node> old_fn = x.grad_fn();
  TensorImpl& impl = *x.impl_ptr();
  impl.grad_fn = r.grad_fn();
  impl.output_nr = r.output_nr();
  rewrote_history(x, old_fn);
}

}  // namespace lamina::inplace
