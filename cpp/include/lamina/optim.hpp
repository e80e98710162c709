// Optimizers over any tensors: the update rules of Caffe's solvers (the Solver trains with
// this very code) and PyTorch's forms of them, with Caffe's learning-rate policies.
//
//   using namespace lamina;
//   optim::Optimizer opt({{{w, b}, optim::GroupOptions{}.with_lr(0.1).with_momentum(0.9)}},
//                        optim::Options{optim::Rule::sgd});
//   for (...) { opt.zero_grad(); loss(w, b).backward(); opt.step(); }
//
// One step (Caffe's ApplyUpdate): when clip_gradients >= 0, the gradients of all updated
// parameters are scaled by clip_gradients / ||g|| where their global L2 norm ||g|| exceeds
// it; they are divided by iter_size; then each parameter gets one fused pass over its
// elements (the device's update kernel): the decay term, the rule's step, w -= step, the
// clamp of clip_weights. Per parameter, with rate = lr * lr_mult, wd = weight_decay *
// decay_mult, g the scaled gradient plus wd * w (L2) or wd * sign(w) (L1), t the
// parameter's update count (1 at its first update), and v, s its history:
//
//   sgd        v = momentum v + rate g            w -= v                          (Caffe)
//              v = momentum v + g                 w -= rate v           (torch_momentum)
//   nesterov   v' = momentum v + rate g           w -= (1 + momentum) v' - momentum v
//              v = momentum v + g                 w -= rate (g + momentum v)  (torch_momentum)
//   adagrad    v += g^2                           w -= rate g / (sqrt(v) + delta)
//   rmsprop    v = rms_decay v + (1 - rms_decay) g^2;  w -= rate g / (sqrt(v) + delta)
//   adadelta   v = momentum v + (1 - momentum) g^2;  u = g sqrt((s + delta) / (v + delta));
//              s = momentum s + (1 - momentum) u^2;  w -= rate u
//   adam       v = momentum v + (1 - momentum) g;  s = momentum2 s + (1 - momentum2) g^2;
//              c1 = 1 - momentum^t, c2 = 1 - momentum2^t
//              w -= rate sqrt(c2) / c1 * v / (sqrt(s) + delta)                       (Caffe)
//              w -= rate / c1 * v / (sqrt(s) / sqrt(c2) + delta)                 (torch_eps)
//   adamw      adam with the decay decoupled (Loshchilov & Hutter, torch.optim.AdamW): g
//              has no decay term; first w *= 1 - rate wd (L1: w -= rate wd sign(w)).
//
// Caffe and torch.optim agree where lr is constant (sgd, nesterov: rate v_torch = v_caffe)
// and differ where it changes between steps (a schedule): Caffe's velocity keeps the rates it
// was built with, PyTorch's applies today's rate to all of it. Adam's epsilon differs by
// the factor sqrt(c2) in its weight (negligible after the first few hundred steps). The
// other rules are the same formulas in both, up to rounding (AdaDelta's sqrt of a quotient
// is PyTorch's quotient of square roots). Names: Caffe's momentum is PyTorch's momentum,
// AdaDelta's rho and Adam's beta1; momentum2 is beta2; delta is eps; rms_decay is alpha.
//
// Gradients are read from each parameter's grad() (any dtype, converted), after the
// backward the caller ran; step() records nothing on the tape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::optim {

enum class Rule : uint8_t { sgd, nesterov, adagrad, rmsprop, adadelta, adam, adamw };

// "SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam" (Caffe's solver types) and
// "AdamW"; rule_from_name throws ValueError naming the known ones.
const char* rule_name(Rule rule);
Rule rule_from_name(const std::string& name);
// Each parameter's history tensors, by PyTorch's state names: sgd, nesterov
// {"momentum_buffer"}; adagrad {"sum"}; rmsprop {"square_avg"}; adadelta {"square_avg",
// "acc_delta"}; adam, adamw {"exp_avg", "exp_avg_sq"}.
std::vector<std::string> history_names(Rule rule);

// One group's hyper-parameters (PyTorch's param group; Caffe's multipliers per blob).
struct GroupOptions {
  double lr = 0.01;          // >= 0; the Solver sets it to its policy's rate every iteration
  double lr_mult = 1;        // 0 freezes the group: no update, no part in clipping
  double weight_decay = 0;   // >= 0
  double decay_mult = 1;
  bool l1 = false;           // L1 regularisation (Caffe's regularization_type "L1")
  double momentum = 0;       // sgd, nesterov: >= 0; adadelta's rho: [0, 1]; adam's beta1: [0, 1)
  double momentum2 = 0.999;  // adam's beta2: [0, 1)
  double delta = 1e-8;       // >= 0: the epsilon of adagrad, rmsprop, adadelta, adam
  double rms_decay = 0.99;   // >= 0: rmsprop's alpha

  GroupOptions& with_lr(double v) { lr = v; return *this; }
  GroupOptions& with_momentum(double v) { momentum = v; return *this; }
  GroupOptions& with_weight_decay(double v, bool use_l1 = false) { weight_decay = v; l1 = use_l1; return *this; }
};

// Empty when `rule` can use the options (PyTorch's ranges, above; the multipliers are free,
// as in Caffe); else what is wrong, naming the field and its PyTorch name, with *field the
// field to blame.
std::string options_problem(Rule rule, const GroupOptions& options, std::string* field = nullptr);

struct ParamGroup {
  std::vector<Tensor> params;  // float32 or float64, contiguous, each in one group only
  GroupOptions options;
};

struct Options {
  Rule rule = Rule::sgd;
  double clip_gradients = -1;   // the cap on the gradients' global L2 norm; < 0: none
  double clip_weights = -1;     // weights clamped to [-clip_weights, clip_weights]; < 0: not
  bool torch_momentum = false;  // sgd, nesterov: PyTorch's velocity (see the table above)
  bool torch_eps = false;       // adam, adamw: PyTorch's epsilon placement
  // A parameter whose grad() is undefined: false skips it entirely (PyTorch: no decay, no
  // history change, its t does not advance); true updates it with a zero gradient (Caffe).
  bool missing_grad_as_zero = false;
};

// One parameter's state: all an exact resume needs besides the weights and the options.
struct ParamState {
  int64_t step = 0;             // updates applied so far (t - 1 at the next one)
  std::vector<Tensor> history;  // history_names(rule) in order, the parameter's shape and dtype
};

class Optimizer {
 public:
  // Throws ValueError naming the option (and its PyTorch name) that is out of range, or
  // the parameter that is repeated, undefined or not contiguous; DTypeError for a
  // parameter that is not floating point. History starts at zeros.
  explicit Optimizer(std::vector<ParamGroup> groups = {}, Options options = {});

  // Scales the gradients as the header says, updates every parameter of every group whose
  // lr_mult is not 0, and returns what clipping saw. `iter_size`: the gradients hold the
  // sum of that many passes (Caffe's iter_size), so they are divided by it.
  struct StepInfo {
    double grad_norm = -1;  // the global L2 norm before clipping (-1: clipping is off)
    double clip_scale = 1;  // the factor clipping applied (1: none)
  };
  StepInfo step(int64_t iter_size = 1);
  // Clears every parameter's grad(): to undefined, or to zeros in place.
  void zero_grad(bool set_to_none = true);

  const Options& options() const { return options_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Appends a group (checked as in the constructor, its history zeros).
  void add_param_group(ParamGroup group);
  // Replaces group i's options (checked first); its parameters and state stay.
  void set_group_options(size_t i, const GroupOptions& options);
  // Every group's lr (the Solver's policy rate), unchecked.
  void set_lr(double lr);

  // Every parameter's state, groups in order and parameters in order within each: the
  // live tensors, not copies.
  const std::vector<ParamState>& state() const { return state_; }
  // Replaces the state with copies of `state` (converted to each parameter's dtype),
  // after checking all of it: ValueError for a wrong number of parameters, of history
  // tensors or a negative step; ShapeError for a history tensor of the wrong shape.
  void load_state(const std::vector<ParamState>& state);

 private:
  void check(const ParamGroup& group) const;
  std::vector<ParamGroup> groups_;
  Options options_;
  std::vector<ParamState> state_;  // flat, in group order
};

// Caffe's learning-rate policies as a value (the Solver's lr_policy fields).
//   fixed      base_lr
//   step       base_lr gamma^floor(iter / stepsize)
//   exp        base_lr gamma^iter
//   inv        base_lr (1 + gamma iter)^-power
//   multistep  base_lr gamma^k, k the stepvalues passed (see policy_rate)
//   poly       base_lr (1 - iter / max_iter)^power
//   sigmoid    base_lr / (1 + exp(-gamma (iter - stepsize)))
//   cosine     lamina's: base_lr (iter + 1) / warmup_iter while iter < warmup_iter, then
//              base_lr (1 + cos(pi (iter - warmup_iter) / (max_iter - warmup_iter))) / 2
struct LrPolicy {
  std::string policy = "fixed";
  double base_lr = 0.01, gamma = 0, power = 0;
  int64_t stepsize = 0, max_iter = 0, warmup_iter = 0;
  std::vector<int64_t> stepvalue;
};
// The rate at iteration `iter`. `step` is multistep's position, advanced as Caffe does: by
// one when iter reaches the next stepvalue (so call it for every iteration in turn, from a
// step of 0). Throws ValueError for what policy_problem reports.
double policy_rate(const LrPolicy& policy, int64_t iter, int& step);
// Empty when the policy can be used; else what is wrong, with *field the field to blame.
std::string policy_problem(const LrPolicy& policy, std::string* field = nullptr);

}  // namespace lamina::optim
