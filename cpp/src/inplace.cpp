// Autograd for in-place writes: who may be written, and how a recorded write rewrites the
// history of the written tensor, or of the tensor a written view views (tensor_impl.hpp).
#include <algorithm>

#include "tensor_impl.hpp"

namespace lamina::inplace {

namespace {

// The region a view covers, in a tensor laid out as its (contiguous) base: the view's
// shape and strides at its offset from the base's.
struct Region {
  Shape shape, strides;
  int64_t offset;
  Tensor in(const Tensor& t) const {
    return Tensor::from_storage(t.storage(), shape, strides, t.offset() + offset, t.dtype());
  }
};

Region region_of(const Tensor& view) {
  return {view.shape(), view.strides(), view.offset() - view.impl_ptr()->base->offset};
}

Tensor base_of(const Tensor& view) { return Tensor::from_impl(view.impl_ptr()->base); }

// x's history is now grad_fn (set by the caller): a retain_grad() on x follows it.
void moved_history(const Tensor& x, const std::shared_ptr<Node>& old_fn) {
  TensorImpl& impl = *x.impl_ptr();
  if (!impl.retain_grad) return;
  if (old_fn) {
    auto& r = old_fn->retained;
    r.erase(std::remove_if(r.begin(), r.end(), [&](const auto& e) { return e.second.lock() == x.impl_ptr(); }),
            r.end());
  }
  if (impl.grad_fn) impl.grad_fn->retained.emplace_back(impl.output_nr, x.impl_ptr());
}

// Records `view` (of base) as a view of base's current history.
void record_as_view(const Tensor& base, const Tensor& view) {
  if (!autograd::needs_grad({&base})) return;
  autograd::record("view", {base}, {view}, [region = region_of(view), shape = base.shape()](const std::vector<Tensor>& g) {
    Tensor dx = Tensor::zeros(shape, g[0].dtype());
    region.in(dx).copy_(g[0]);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

bool must_record(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others) {
  if (!GradMode::enabled()) return false;
  const Tensor target = is_view(x) ? base_of(x) : x;
  LAMINA_CHECK_AS(AutogradError, !(target.is_leaf() && target.requires_grad()), op, ": in-place write to ",
                  is_view(x) ? "a view of " : "", "a leaf tensor of shape ", target.shape(), " that requires grad");
  bool record = x.requires_grad() || target.requires_grad();
  for (const Tensor* t : others) record = record || (t->defined() && t->requires_grad());
  LAMINA_CHECK_AS(AutogradError, !record || target.is_contiguous(), op, ": an in-place write that autograd must "
                  "record into a view of a non-contiguous tensor (shape ", target.shape(), ", strides ",
                  target.strides(), "); clone() the tensor first");
  return record;
}

Tensor current(const Tensor& x) {
  if (!is_view(x)) return x;
  const Tensor base = base_of(x);
  Tensor v = make_view(base, x.shape(), x.strides(), x.offset());
  record_as_view(base, v);
  return v;
}

void refresh(const Tensor& x) {
  TensorImpl& impl = *x.impl_ptr();
  if (!impl.base || impl.history_seen == impl.storage->history() || !GradMode::enabled()) return;
  std::shared_ptr<Node> old_fn = impl.grad_fn;
  impl.grad_fn = nullptr;
  impl.history_seen = impl.storage->history();
  record_as_view(base_of(x), x);
  moved_history(x, old_fn);
}

void record(const char* op, const Tensor& x, const std::vector<Tensor>& inputs, BackwardFn fn) {
  std::shared_ptr<Node> old_fn = x.grad_fn();
  autograd::record(op, inputs, {x}, std::move(fn));  // reads x's old history before replacing it
  x.storage()->bump_history();
  moved_history(x, old_fn);
}

void commit(const char* op, const Tensor& x, const Tensor& r) {
  if (!is_view(x)) {
    if (r.defined() && r.requires_grad()) {  // x takes r's history
      std::shared_ptr<Node> old_fn = x.grad_fn();
      x.impl_ptr()->grad_fn = r.grad_fn();
      x.impl_ptr()->output_nr = r.output_nr();
      x.storage()->bump_history();
      moved_history(x, old_fn);
    } else {  // constants: no gradient reaches the old values (x still requires grad)
      record(op, x, {x}, [](const std::vector<Tensor>&) { return std::vector<Tensor>{Tensor()}; });
    }
    return;
  }
  // The base's new values: its old ones outside the view's region, r inside it.
  const Tensor base = base_of(x);
  record(op, base, {base, r},
         [region = region_of(x), base_needs = base.requires_grad(), r_needs = r.defined() && r.requires_grad()](
             const std::vector<Tensor>& g) {
           const Tensor dy = g[0].contiguous();  // laid out as the (contiguous) base
           Tensor dbase, dr;
           if (base_needs) {
             dbase = dy.clone();
             region.in(dbase).fill_(0.0);
           }
           if (r_needs) dr = region.in(dy);
           return std::vector<Tensor>{dbase, dr};
         });
  refresh(x);  // the view is again a view of its base, now of the base's new history
}

}  // namespace lamina::inplace
