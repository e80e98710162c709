// Learning-rate policies and update rules with Caffe's formulas (SGDSolver and its
// subclasses); the updates themselves are the device's update kernel.
#include "solver/update_rules.hpp"

#include <cmath>
#include <map>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

std::string solver_type_name(const std::string& solver_type) {
  static const std::map<std::string, std::string> kNames = {{"SGD", "SGD"},         {"NESTEROV", "Nesterov"},
                                                            {"ADAGRAD", "AdaGrad"}, {"RMSPROP", "RMSProp"},
                                                            {"ADADELTA", "AdaDelta"}, {"ADAM", "Adam"}};
  return kNames.at(solver_type);
}

int history_slots(const std::string& type) { return type == "AdaDelta" || type == "Adam" ? 2 : 1; }

void check_solver_parameter(const schema::Params& p, const std::string& type) {
  if (!p.has("lr_policy")) p.fail("", "the solver needs an lr_policy (fixed, step, exp, inv, multistep, poly, sigmoid, cosine)");
  const std::string policy = p.get_string("lr_policy");
  if ((policy == "step" || policy == "sigmoid") && p.get_int("stepsize") <= 0)
    p.fail("lr_policy", "lr_policy \"" + policy + "\" needs stepsize > 0");
  if (policy == "multistep" && p.ints("stepvalue").empty()) p.fail("lr_policy", "lr_policy \"multistep\" needs stepvalue");
  if ((policy == "poly" || policy == "cosine") && p.get_int("max_iter") <= p.get_int("warmup_iter"))
    p.fail("lr_policy", "lr_policy \"" + policy + "\" needs max_iter > warmup_iter");
  if ((type == "AdaGrad" || type == "RMSProp") && p.get_float("momentum") != 0)
    p.fail("momentum", "momentum cannot be used with " + type);
  if (p.get_int("iter_size") < 1) p.fail("iter_size", "iter_size must be >= 1");
}

double policy_rate(const schema::Params& p, int iter, int& step) {
  const std::string policy = p.get_string("lr_policy");
  const double base = p.get_float("base_lr"), gamma = p.get_float("gamma"), power = p.get_float("power");
  const double it = iter;
  if (policy == "fixed") return base;
  if (policy == "step") return base * std::pow(gamma, std::floor(it / double(p.get_int("stepsize"))));
  if (policy == "exp") return base * std::pow(gamma, it);
  if (policy == "inv") return base * std::pow(1.0 + gamma * it, -power);
  if (policy == "multistep") {
    const auto values = p.ints("stepvalue");
    if (step < int(values.size()) && iter >= values[static_cast<size_t>(step)]) ++step;
    return base * std::pow(gamma, step);
  }
  if (policy == "poly") return base * std::pow(1.0 - it / double(p.get_int("max_iter")), power);
  if (policy == "sigmoid") return base * (1.0 / (1.0 + std::exp(-gamma * (it - double(p.get_int("stepsize"))))));
  if (policy == "cosine") {
    const double warm = double(p.get_int("warmup_iter")), total = double(p.get_int("max_iter"));
    if (it < warm) return base * (it + 1.0) / warm;
    return base * 0.5 * (1.0 + std::cos(M_PI * (it - warm) / (total - warm)));
  }
  p.fail("lr_policy", "unknown lr_policy \"" + policy + "\"");
}

UpdateSettings update_settings(const schema::Params& p, const std::string& type, double rate, int iter) {
  UpdateSettings s;
  s.type = type;
  s.rate = rate;
  s.momentum = p.get_float("momentum");
  s.momentum2 = p.get_float("momentum2");
  s.delta = p.get_float("delta");
  s.rms_decay = p.get_float("rms_decay");
  s.weight_decay = p.get_float("weight_decay");
  s.l1 = p.get_string("regularization_type") == "L1";
  s.iter = iter;
  s.clip_weights = p.get_float("clip_weights");
  return s;
}

double sum_squares(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch(c.dtype(), [&](auto z) {
    using T = decltype(z);
    return kernels_for<T>("Solver", c).sum_squares(c.data<T>(), c.numel());
  });
}

namespace {

kernels::UpdateRule rule_of(const std::string& type) {
  using kernels::UpdateRule;
  if (type == "SGD") return UpdateRule::sgd;
  if (type == "Nesterov") return UpdateRule::nesterov;
  if (type == "AdaGrad") return UpdateRule::adagrad;
  if (type == "RMSProp") return UpdateRule::rmsprop;
  if (type == "AdaDelta") return UpdateRule::adadelta;
  return UpdateRule::adam;
}

}  // namespace

void update_param(const UpdateSettings& s, const Tensor& w, const Tensor& grad, std::vector<Tensor>& history, double lr_mult,
                  double decay_mult) {
  LAMINA_CHECK(w.is_contiguous(), "Solver: parameter of shape ", w.shape(), " is not contiguous");
  const Tensor g = grad.defined() ? grad.contiguous().to(w.dtype()) : Tensor();
  const kernels::UpdateStep step{rule_of(s.type), s.rate * lr_mult, s.weight_decay * decay_mult, s.l1, s.grad_scale,
                                 s.momentum, s.momentum2, s.delta, s.rms_decay, s.iter, s.clip_weights};
  dispatch(w.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels_for<T>("Solver", w).update(step, w.numel(), w.data<T>(), data_or_null<T>(g), history[0].data<T>(),
                                       history.size() > 1 ? history[1].data<T>() : nullptr);
  });
  w.storage()->bump_version();
}

}  // namespace lamina
