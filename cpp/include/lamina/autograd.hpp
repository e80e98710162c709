// The tape: define-by-run reverse-mode autograd.
//
// Every differentiable op, when grad mode is on and one of its inputs requires grad,
// records a Node on its output: the op's name, one Edge per input (to the node that
// produced that input, or to the input itself when it is a leaf), and the backward rule,
// a closure that maps the output gradients to the input gradients using lamina's ops
// and kernels. The rule is written beside the op's forward (see src/ops/).
//
// Tensor::backward() / lamina::backward() run the recorded graph in reverse topological
// order. Gradients reaching one tensor along several paths are summed. Leaves that
// require grad get .grad (accumulated across calls, like PyTorch); non-leaves only if
// retain_grad() was called. The graph's saved tensors are freed after a backward unless
// retain_graph is true; a second backward through a freed graph throws AutogradError.
//
// Saved tensors remember their storage's version: an in-place write to a tensor an op
// saved for backward makes that backward throw AutogradError naming the op, instead of
// silently producing wrong gradients.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

class AutogradError : public Error { public: using Error::Error; };

// Grad mode is per thread and on by default.
struct GradMode {
  static bool enabled();
  static void set_enabled(bool enabled);
};

// Turns recording off for its scope (and restores the previous mode).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// A tensor kept for backward, with the version its storage had when it was saved.
// It holds a detached alias (same storage, no autograd history), so saving an op's own
// output does not make a reference cycle.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  // The tensor; throws AutogradError naming `op` if it was modified in place since.
  const Tensor& get(const char* op) const;

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
};

struct Node;

// Where the gradient of one input goes: into `node` (as its output `output_nr`) or, for
// a leaf, into `leaf`'s .grad. Neither set: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  int output_nr = 0;
  std::shared_ptr<struct TensorImpl> leaf;
};

using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

struct Node {
  std::string name;              // the op's name, as in C++ and Python ("conv2d")
  std::vector<Edge> next;        // one per input of the op
  int num_outputs = 1;
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
  BackwardFn backward;           // empty once released
  bool released = false;
  // Non-leaf outputs whose .grad should be kept (retain_grad), by output number.
  std::vector<std::pair<int, std::weak_ptr<struct TensorImpl>>> retained;
};

namespace autograd {

// True when grad mode is on and any of `inputs` requires grad: the op must record.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records `fn` as the backward of `outputs` computed from `inputs` by op `name`. The
// closure gets one gradient per output (zeros where an output got none) and returns one
// per input (an undefined Tensor where an input needs none).
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn fn);

// Hooks into lamina::backward() on this thread, for its scope (a data-parallel solver
// starts averaging a bucket of gradients across processes while the rest of the backward
// still runs). leaf_ready(leaf): every node of this backward that feeds leaf's gradient has
// run, so its .grad is final for this backward (undefined if nothing reached it). Called
// once per leaf the graph reaches, in an order fixed by the graph. after_node: after each
// node, e.g. to let communication progress. Not called by grad().
struct BackwardHooks {
  std::function<void(const std::shared_ptr<struct TensorImpl>& leaf)> leaf_ready;
  std::function<void()> after_node;
};
class BackwardHooksGuard {
 public:
  explicit BackwardHooksGuard(BackwardHooks* hooks);
  ~BackwardHooksGuard();
  BackwardHooksGuard(const BackwardHooksGuard&) = delete;
  BackwardHooksGuard& operator=(const BackwardHooksGuard&) = delete;

 private:
  BackwardHooks* previous_;
};

}  // namespace autograd

// Runs backward from `outputs`, seeded with `grad_outputs` (may be empty for scalar
// outputs, which are seeded with 1). Throws AutogradError for a non-scalar output
// without a seed, an output that does not require grad, or a freed graph.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false);

// The gradients of `outputs` with respect to `inputs`, without touching any .grad.
// An input the outputs do not depend on gets an undefined Tensor, or throws when
// allow_unused is false.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace lamina
