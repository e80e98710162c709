// Optimizer: groups, checks, clipping and the per-parameter update kernel call (the one
// place any training in lamina updates weights; the Solver goes through it too).
#include "lamina/optim.hpp"

#include <cmath>
#include <set>
#include <sstream>

#include "ops/common.hpp"

namespace lamina::optim {

using namespace ops_detail;

namespace {

struct RuleInfo {
  Rule rule;
  const char* name;
  kernels::UpdateRule kernel;
  std::vector<std::string> history;
};

const std::vector<RuleInfo>& rules() {
  using K = kernels::UpdateRule;
  static const std::vector<RuleInfo> kRules = {
      {Rule::sgd, "SGD", K::sgd, {"momentum_buffer"}},
      {Rule::nesterov, "Nesterov", K::nesterov, {"momentum_buffer"}},
      {Rule::adagrad, "AdaGrad", K::adagrad, {"sum"}},
      {Rule::rmsprop, "RMSProp", K::rmsprop, {"square_avg"}},
      {Rule::adadelta, "AdaDelta", K::adadelta, {"square_avg", "acc_delta"}},
      {Rule::adam, "Adam", K::adam, {"exp_avg", "exp_avg_sq"}},
      {Rule::adamw, "AdamW", K::adamw, {"exp_avg", "exp_avg_sq"}},
  };
  return kRules;
}

const RuleInfo& info(Rule rule) {
  for (const auto& r : rules())
    if (r.rule == rule) return r;
  throw ValueError("optim: unknown rule " + std::to_string(int(rule)));
}

// What PyTorch calls a GroupOptions field under `rule`, for messages ("" where the names agree).
std::string torch_name(Rule rule, const std::string& field) {
  if (field == "momentum" && rule == Rule::adadelta) return "rho";
  if (field == "momentum" && (rule == Rule::adam || rule == Rule::adamw)) return "betas[0]";
  if (field == "momentum2") return "betas[1]";
  if (field == "delta") return "eps";
  if (field == "rms_decay") return "alpha";
  return "";
}

void check_options(Rule rule, const GroupOptions& o) {
  const std::string problem = options_problem(rule, o);
  if (!problem.empty()) throw ValueError(problem);
}

ParamState zero_state(Rule rule, const Tensor& p) {
  ParamState s;
  for (size_t k = 0; k < info(rule).history.size(); ++k) s.history.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  return s;
}

double sum_squares(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch(c.dtype(), [&](auto z) {
    using T = decltype(z);
    return kernels_for<T>("Optimizer.step", c).sum_squares(c.data<T>(), c.numel());
  });
}

}  // namespace

const char* rule_name(Rule rule) { return info(rule).name; }

Rule rule_from_name(const std::string& name) {
  std::string known;
  for (const auto& r : rules()) {
    if (name == r.name) return r.rule;
    known += std::string(known.empty() ? "" : ", ") + r.name;
  }
  throw ValueError("optim: unknown rule '" + name + "' (known: " + known + ")");
}

std::vector<std::string> history_names(Rule rule) { return info(rule).history; }

std::string options_problem(Rule rule, const GroupOptions& o, std::string* field) {
  // PyTorch's ranges, for the fields the rule reads (multipliers are free, as in Caffe).
  const bool adam = rule == Rule::adam || rule == Rule::adamw;
  struct Range {
    const char* field;
    double value;
    bool applies;
    double hi;     // upper bound (inclusive unless open)
    bool open;
  };
  const double inf = HUGE_VAL;
  const Range ranges[] = {
      {"lr", o.lr, true, inf, false},
      {"weight_decay", o.weight_decay, true, inf, false},
      {"momentum", o.momentum, true, rule == Rule::adadelta ? 1.0 : adam ? 1.0 : inf, adam},
      {"momentum2", o.momentum2, adam, 1.0, true},
      {"delta", o.delta, rule != Rule::sgd && rule != Rule::nesterov, inf, false},
      {"rms_decay", o.rms_decay, rule == Rule::rmsprop, inf, false},
  };
  for (const Range& r : ranges) {
    if (!r.applies || (r.value >= 0 && (r.open ? r.value < r.hi : r.value <= r.hi))) continue;  // NaN fails
    if (field) *field = r.field;
    const std::string alias = torch_name(rule, r.field);
    std::ostringstream m;
    m << rule_name(rule) << ": " << r.field << (alias.empty() ? "" : " (" + alias + ")") << " must be ";
    if (r.hi == inf) m << ">= 0";
    else m << "in [0, " << r.hi << (r.open ? ")" : "]");
    m << ", got " << r.value;
    return m.str();
  }
  return "";
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, Options options) : options_(options) {
  info(options_.rule);
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::check(const ParamGroup& group) const {
  check_options(options_.rule, group.options);
  std::set<const void*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.storage().get());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    LAMINA_CHECK(p.defined(), "Optimizer: parameter ", i, " of the group is undefined");
    LAMINA_CHECK_DTYPE(p.dtype() == DType::f32 || p.dtype() == DType::f64, "Optimizer: parameter ", i, " has dtype ",
                       p.dtype(), "; parameters must be floating point");
    LAMINA_CHECK(p.is_contiguous(), "Optimizer: parameter ", i, " of shape ", p.shape(),
                 " is not contiguous (its update writes it in place)");
    LAMINA_CHECK(seen.insert(p.storage().get()).second, "Optimizer: parameter ", i, " of shape ", p.shape(),
                 " shares its memory with another parameter (each may appear once)");
  }
}

void Optimizer::add_param_group(ParamGroup group) {
  check(group);
  for (const auto& p : group.params) state_.push_back(zero_state(options_.rule, p));
  groups_.push_back(std::move(group));
}

void Optimizer::set_group_options(size_t i, const GroupOptions& options) {
  LAMINA_CHECK_INDEX(i < groups_.size(), "Optimizer: no group ", i, " (there are ", groups_.size(), ")");
  check_options(options_.rule, options);
  groups_[i].options = options;
}

void Optimizer::set_lr(double lr) {
  for (auto& g : groups_) g.options.lr = lr;
}

Optimizer::StepInfo Optimizer::step(int64_t iter_size) {
  LAMINA_CHECK(iter_size >= 1, "Optimizer.step: iter_size must be >= 1, got ", iter_size);
  NoGradGuard no_grad;
  // Caffe's ClipGradients: one factor from the norm over every updated parameter.
  StepInfo result;
  double scale = 1;
  if (options_.clip_gradients >= 0) {
    double sumsq = 0;
    for (const auto& g : groups_)
      if (g.options.lr_mult != 0)
        for (const auto& p : g.params)
          if (p.grad().defined()) sumsq += sum_squares(p.grad());
    result.grad_norm = std::sqrt(sumsq);
    if (result.grad_norm > options_.clip_gradients) {
      result.clip_scale = options_.clip_gradients / result.grad_norm;
      scale *= result.clip_scale;
    }
  }
  scale /= double(iter_size);
  size_t k = 0;
  for (const auto& g : groups_) {
    const GroupOptions& o = g.options;
    for (const auto& p : g.params) {
      ParamState& s = state_[k++];
      // lr_mult 0 leaves w where it is under every rule; Caffe's frozen blobs (and
      // BatchNorm's statistics) keep their history at zeros too.
      if (o.lr_mult == 0) continue;
      if (!p.grad().defined() && !options_.missing_grad_as_zero) continue;
      const Tensor grad = p.grad().defined() ? p.grad().contiguous().to(p.dtype()) : Tensor();
      kernels::UpdateStep u{};
      u.rule = info(options_.rule).kernel;
      u.rate = o.lr * o.lr_mult;
      u.weight_decay = o.weight_decay * o.decay_mult;
      u.l1 = o.l1;
      u.grad_scale = scale;
      u.momentum = o.momentum;
      u.momentum2 = o.momentum2;
      u.delta = o.delta;
      u.rms_decay = o.rms_decay;
      u.iter = s.step;
      u.clip_weights = options_.clip_weights;
      u.torch_momentum = options_.torch_momentum;
      u.torch_eps = options_.torch_eps;
      dispatch(p.dtype(), [&](auto z) {
        using T = decltype(z);
        kernels_for<T>("Optimizer.step", p).update(u, p.numel(), p.data<T>(), data_or_null<T>(grad),
                                                   s.history[0].data<T>(),
                                                   s.history.size() > 1 ? s.history[1].data<T>() : nullptr);
      });
      p.storage()->bump_version();
      ++s.step;
    }
  }
  return result;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        Tensor grad = p.grad();
        grad.fill_(0);
      }
    }
}

void Optimizer::load_state(const std::vector<ParamState>& state) {
  LAMINA_CHECK(state.size() == state_.size(), "Optimizer.load_state: ", state.size(), " parameter states for ",
               state_.size(), " parameters");
  const auto names = history_names(options_.rule);
  std::vector<ParamState> next;
  size_t k = 0;
  for (const auto& g : groups_)
    for (const auto& p : g.params) {
      const ParamState& s = state[k];
      LAMINA_CHECK(s.step >= 0, "Optimizer.load_state: parameter ", k, ": step ", s.step, " is negative");
      LAMINA_CHECK(s.history.size() == names.size(), "Optimizer.load_state: parameter ", k, " has ", s.history.size(),
                   " history tensors; ", rule_name(options_.rule), " keeps ", names.size());
      ParamState copy{s.step, {}};
      for (size_t j = 0; j < names.size(); ++j) {
        const Tensor& h = s.history[j];
        LAMINA_CHECK(h.defined(), "Optimizer.load_state: parameter ", k, ": '", names[j], "' is undefined");
        LAMINA_CHECK_SHAPE(h.shape() == p.shape(), "Optimizer.load_state: parameter ", k, ": '", names[j],
                           "' has shape ", h.shape(), " for a parameter of shape ", p.shape());
        copy.history.push_back(h.contiguous().to(p.dtype()).clone());
      }
      next.push_back(std::move(copy));
      ++k;
    }
  state_ = std::move(next);
}

}  // namespace lamina::optim
