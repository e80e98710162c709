// The autograd engine: recording, and backward in reverse topological order.
#include "lamina/autograd.hpp"

#include <algorithm>
#include <unordered_map>

#include "lamina/ops.hpp"
#include "tensor_impl.hpp"

namespace lamina {

namespace {
thread_local bool g_grad_enabled = true;
thread_local autograd::BackwardHooks* g_hooks = nullptr;
}

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool enabled) { g_grad_enabled = enabled; }

SavedTensor::SavedTensor(const Tensor& t)
    : tensor_(t.defined() ? t.detach() : Tensor()), version_(t.defined() ? t.storage()->version() : 0) {}

const Tensor& SavedTensor::get(const char* op) const {
  LAMINA_CHECK_AS(AutogradError, !tensor_.defined() || tensor_.storage()->version() == version_,
                  op, ": a tensor of shape ", tensor_.shape(), " saved for its backward was modified in "
                  "place afterwards (version ", version_, " -> ", tensor_.storage()->version(),
                  "); clone() it before writing to it");
  return tensor_;
}

// ---- recording ----------------------------------------------------------------------

namespace autograd {

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::enabled()) return false;
  bool needs = false;
  for (const Tensor* t : inputs) {
    if (!t->defined()) continue;
    inplace::refresh(*t);
    needs = needs || t->requires_grad();
  }
  return needs;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  bool needs = false;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    inplace::refresh(t);
    needs = needs || t.requires_grad();
  }
  return needs;
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn fn) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(fn);
  node->num_outputs = static_cast<int>(outputs.size());
  for (const Tensor& in : inputs) {
    Edge e;
    if (in.defined() && in.requires_grad()) {
      if (in.grad_fn()) {
        e.node = in.grad_fn();
        e.output_nr = in.output_nr();
      } else {
        e.leaf = in.impl_ptr();
      }
    }
    node->next.push_back(std::move(e));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl& impl = *outputs[i].impl_ptr();
    node->output_shapes.push_back(impl.shape);
    node->output_dtypes.push_back(impl.dtype);
    if (!is_floating(impl.dtype)) continue;  // an integer or bool output (indices) has no gradient
    impl.grad_fn = node;
    impl.output_nr = static_cast<int>(i);
  }
}

}  // namespace autograd

// ---- Tensor's autograd accessors ----------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && (impl_->requires_grad || impl_->grad_fn); }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  LAMINA_CHECK_DTYPE(!requires_grad || is_floating(dtype()), "requires_grad_: a tensor of dtype ",
                     dtype_name(dtype()), " cannot require grad; only float32 and float64 tensors have gradients");
  LAMINA_CHECK_AS(AutogradError, is_leaf(), "requires_grad_: the tensor is the output of ",
                  impl_->grad_fn->name, "; only leaves can be marked (use detach() first)");
  impl_->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return !grad_fn(); }
const Tensor& Tensor::grad() const { return impl().grad; }
void Tensor::set_grad(const Tensor& grad) {
  LAMINA_CHECK(defined(), "set_grad: the tensor is undefined");
  LAMINA_CHECK_SHAPE(!grad.defined() || grad.shape() == shape(), "set_grad: gradient of shape ",
                     grad.defined() ? grad.shape() : Shape{}, " for a tensor of shape ", shape());
  impl_->grad = grad;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  LAMINA_CHECK(defined(), "grad_fn: the tensor is undefined");
  return impl_->grad_fn;
}
int Tensor::output_nr() const { return impl_ ? impl_->output_nr : 0; }

void Tensor::retain_grad() {
  LAMINA_CHECK_AS(AutogradError, requires_grad(), "retain_grad: the tensor does not require grad");
  if (is_leaf() || impl_->retain_grad) return;
  impl_->retain_grad = true;
  impl_->grad_fn->retained.emplace_back(impl_->output_nr, impl_);
}

Tensor Tensor::detach() const {
  return from_storage(storage(), shape(), strides(), offset(), dtype());
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  lamina::backward({*this}, grad.defined() ? std::vector<Tensor>{grad} : std::vector<Tensor>{}, retain_graph);
}

autograd::BackwardHooksGuard::BackwardHooksGuard(BackwardHooks* hooks) : previous_(g_hooks) { g_hooks = hooks; }
autograd::BackwardHooksGuard::~BackwardHooksGuard() { g_hooks = previous_; }

// ---- the engine ---------------------------------------------------------------------

namespace {

// Sums b into the slot a (a may be undefined). Gradients are never modified in place:
// a tensor handed to a backward closure may be kept by it.
void accumulate(Tensor& slot, const Tensor& g) {
  slot = slot.defined() ? add(slot, g) : g;
}

struct Run {
  // Where leaf gradients go: into .grad (backward) or into `captured` (grad()).
  bool capture = false;
  std::unordered_map<const TensorImpl*, Tensor> captured;
  std::unordered_map<const Node*, const TensorImpl*> capture_nodes;  // non-leaf inputs of grad()
};

void run_backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds_in,
                  bool retain_graph, Run& run) {
  LAMINA_CHECK_AS(AutogradError, seeds_in.empty() || seeds_in.size() == outputs.size(), "backward: ",
                  outputs.size(), " outputs but ", seeds_in.size(), " gradients");
  for (const Tensor& out : outputs)
    if (out.defined()) inplace::refresh(out);  // a view whose base was written in place since
  NoGradGuard no_grad;  // backward rules compute with ops but record nothing
  std::vector<Tensor> seeds(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    LAMINA_CHECK_AS(AutogradError, out.defined() && out.requires_grad(), "backward: output ", i,
                    " does not require grad (no input of it requires grad, or it was computed under no_grad)");
    if (i < seeds_in.size() && seeds_in[i].defined()) {
      LAMINA_CHECK_AS(ShapeError, seeds_in[i].shape() == out.shape(), "backward: gradient of shape ",
                      seeds_in[i].shape(), " for an output of shape ", out.shape());
      seeds[i] = seeds_in[i].to(out.dtype());
    } else {
      LAMINA_CHECK_AS(AutogradError, out.numel() == 1, "backward: output of shape ", out.shape(),
                      " is not a scalar; pass a gradient of the same shape to seed it");
      seeds[i] = Tensor::full(out.shape(), 1.0, out.dtype());
    }
  }

  // Gradient buffers of every node still to run, and how many producers feed each.
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack;
  auto deliver_leaf = [&](const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    if (run.capture) {
      auto it = run.captured.find(leaf.get());
      if (it != run.captured.end()) accumulate(it->second, g);
      return;
    }
    Tensor& slot = leaf->grad;
    if (slot.defined()) {
      slot = add(slot, g);
      return;
    }
    // .grad owns its memory: a gradient nothing else refers to (a backward rule's fresh
    // result: this handle is its only one, and it is its storage's only tensor) is taken as
    // it is; anything shared (an identity rule's pass-through, a view, a wrapped array) is
    // copied. Copying every one cost 1.7% of a ResNet-50 training step (25M weights).
    const bool alone = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.storage()->owned() &&
                       g.offset() == 0 && g.is_contiguous();
    slot = alone ? g : g.clone();
  };

  // Count dependencies over the reachable graph (iterative DFS: deep nets, no recursion).
  for (const Tensor& out : outputs) {
    Node* n = out.grad_fn().get();
    if (n && !pending.count(n)) {
      pending[n] = 0;
      stack.push_back(n);
    }
  }
  // With hooks: how many nodes still to run feed each leaf (leaf_ready at zero).
  autograd::BackwardHooks* hooks = run.capture ? nullptr : g_hooks;
  autograd::BackwardHooksGuard not_nested(nullptr);  // a backward inside a rule gets none
  std::unordered_map<const TensorImpl*, int> leaf_pending;
  std::vector<Node*> walk = stack;
  while (!walk.empty()) {
    Node* n = walk.back();
    walk.pop_back();
    for (const Edge& e : n->next) {
      if (hooks && e.leaf) ++leaf_pending[e.leaf.get()];
      if (!e.node) continue;
      auto [it, inserted] = pending.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) walk.push_back(e.node.get());
    }
  }

  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (out.is_leaf()) {
      deliver_leaf(out.impl_ptr(), seeds[i]);
      continue;
    }
    auto& buf = buffers[out.grad_fn().get()];
    buf.resize(out.grad_fn()->num_outputs);
    accumulate(buf[out.output_nr()], seeds[i]);
  }

  std::vector<Node*> ready;
  for (Node* n : stack)
    if (pending[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    LAMINA_CHECK_AS(AutogradError, !n->released, "backward: the graph through ", n->name,
                    " was already freed by an earlier backward; pass retain_graph=True to the first "
                    "backward to run it twice");
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(n->num_outputs);
    for (int k = 0; k < n->num_outputs; ++k)
      if (!grads[k].defined()) grads[k] = Tensor::zeros(n->output_shapes[k], n->output_dtypes[k]);
    for (auto& [k, weak] : n->retained)
      if (auto impl = weak.lock()) impl->grad = grads[k];
    if (run.capture) {
      auto it = run.capture_nodes.find(n);
      if (it != run.capture_nodes.end()) accumulate(run.captured[it->second], grads[0]);
    }

    std::vector<Tensor> in_grads = n->backward(grads);
    if (!retain_graph) {
      n->backward = nullptr;  // frees the saved tensors
      n->released = true;
    }
    LAMINA_CHECK_AS(AutogradError, in_grads.size() == n->next.size(), n->name, ": backward returned ",
                    in_grads.size(), " gradients for ", n->next.size(), " inputs");
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      if (e.leaf && in_grads[i].defined()) deliver_leaf(e.leaf, in_grads[i]);
      if (hooks && e.leaf && --leaf_pending[e.leaf.get()] == 0 && hooks->leaf_ready) hooks->leaf_ready(e.leaf);
      if (!e.node) continue;
      if (in_grads[i].defined()) {
        auto& buf = buffers[e.node.get()];
        buf.resize(e.node->num_outputs);
        accumulate(buf[e.output_nr], in_grads[i]);
      }
      if (--pending[e.node.get()] == 0) ready.push_back(e.node.get());
    }
    if (hooks && hooks->after_node) hooks->after_node();
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  Run run;
  run_backward(outputs, grad_outputs, retain_graph, run);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  Run run;
  run.capture = true;
  for (const Tensor& in : inputs) {
    LAMINA_CHECK_AS(AutogradError, in.defined() && in.requires_grad(),
                    "grad: every input must require grad; one of shape ",
                    in.defined() ? in.shape() : Shape{}, " does not");
    run.captured.emplace(in.impl_ptr().get(), Tensor());
    // A non-leaf input's gradient is what its producer receives for its output: read it
    // there. (Only single-output producers: the usual case for grad() on activations.)
    if (!in.is_leaf()) {
      LAMINA_CHECK_AS(AutogradError, in.grad_fn()->num_outputs == 1, "grad: input produced by ",
                      in.grad_fn()->name, " (an op with several outputs) is not supported");
      run.capture_nodes.emplace(in.grad_fn().get(), in.impl_ptr().get());
    }
  }
  run_backward(outputs, grad_outputs, retain_graph, run);
  std::vector<Tensor> result;
  for (const Tensor& in : inputs) {
    Tensor g = run.captured[in.impl_ptr().get()];
    LAMINA_CHECK_AS(AutogradError, g.defined() || allow_unused, "grad: an input of shape ", in.shape(),
                    " was not used to compute the outputs (pass allow_unused=True to get None)");
    result.push_back(g);
  }
  return result;
}

}  // namespace lamina
