// Learning-rate policies and update rules with Caffe's formulas (SGDSolver and its
// subclasses), in plain loops over each parameter.
#include "solver/update_rules.hpp"

#include <algorithm>
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
  double s = 0;
  dispatch(c.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* x = c.data<T>();
    for (int64_t i = 0; i < c.numel(); ++i) s += double(x[i]) * double(x[i]);
  });
  return s;
}

namespace {

enum class Rule { sgd, nesterov, adagrad, rmsprop, adadelta, adam };

Rule rule_of(const std::string& type) {
  if (type == "SGD") return Rule::sgd;
  if (type == "Nesterov") return Rule::nesterov;
  if (type == "AdaGrad") return Rule::adagrad;
  if (type == "RMSProp") return Rule::rmsprop;
  if (type == "AdaDelta") return Rule::adadelta;
  return Rule::adam;
}

// One rule per instantiation, so the element loop has no branch on the type (it vectorises).
template <Rule R, class T>
void update(const UpdateSettings& s, int64_t n, T* w, const T* grad, T* h, T* h2, double lr_mult, double decay_mult) {
  const T rate = T(s.rate * lr_mult), decay = T(s.weight_decay * decay_mult), scale = T(s.grad_scale);
  const T m = T(s.momentum), m2 = T(s.momentum2), delta = T(s.delta), rms = T(s.rms_decay);
  const bool l1 = s.l1, clamp = s.clip_weights >= 0;
  const T limit = T(s.clip_weights);
  // Adam's bias correction for step t = iter + 1 (Caffe's AdamSolver).
  const double t = s.iter + 1;
  const T correction = T(std::sqrt(1.0 - std::pow(s.momentum2, t)) / (1.0 - std::pow(s.momentum, t)));
#pragma omp parallel for schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    T g = grad ? grad[i] * scale : T(0);
    if (decay != T(0)) g += decay * (l1 ? T((w[i] > 0) - (w[i] < 0)) : w[i]);
    T step;
    if constexpr (R == Rule::sgd) {
      h[i] = m * h[i] + rate * g;
      step = h[i];
    } else if constexpr (R == Rule::nesterov) {
      const T previous = h[i];
      h[i] = m * h[i] + rate * g;
      step = (T(1) + m) * h[i] - m * previous;
    } else if constexpr (R == Rule::adagrad) {
      h[i] += g * g;
      step = rate * g / (std::sqrt(h[i]) + delta);
    } else if constexpr (R == Rule::rmsprop) {
      h[i] = rms * h[i] + (T(1) - rms) * g * g;
      step = rate * g / (std::sqrt(h[i]) + delta);
    } else if constexpr (R == Rule::adadelta) {
      h[i] = m * h[i] + (T(1) - m) * g * g;
      const T u = g * std::sqrt((h2[i] + delta) / (h[i] + delta));
      h2[i] = m * h2[i] + (T(1) - m) * u * u;
      step = rate * u;
    } else {  // Adam: momentum is beta1, momentum2 beta2, delta epsilon
      h[i] = m * h[i] + (T(1) - m) * g;
      h2[i] = m2 * h2[i] + (T(1) - m2) * g * g;
      step = rate * correction * h[i] / (std::sqrt(h2[i]) + delta);
    }
    w[i] -= step;
    if (clamp) w[i] = std::clamp(w[i], -limit, limit);
  }
}

template <class T>
void update_any(const UpdateSettings& s, int64_t n, T* w, const T* g, T* h, T* h2, double lr, double dm) {
  switch (rule_of(s.type)) {
    case Rule::sgd: return update<Rule::sgd>(s, n, w, g, h, h2, lr, dm);
    case Rule::nesterov: return update<Rule::nesterov>(s, n, w, g, h, h2, lr, dm);
    case Rule::adagrad: return update<Rule::adagrad>(s, n, w, g, h, h2, lr, dm);
    case Rule::rmsprop: return update<Rule::rmsprop>(s, n, w, g, h, h2, lr, dm);
    case Rule::adadelta: return update<Rule::adadelta>(s, n, w, g, h, h2, lr, dm);
    case Rule::adam: return update<Rule::adam>(s, n, w, g, h, h2, lr, dm);
  }
}

}  // namespace

void update_param(const UpdateSettings& s, const Tensor& w, const Tensor& grad, std::vector<Tensor>& history, double lr_mult,
                  double decay_mult) {
  LAMINA_CHECK(w.is_contiguous(), "Solver: parameter of shape ", w.shape(), " is not contiguous");
  const Tensor g = grad.defined() ? grad.contiguous().to(w.dtype()) : Tensor();
  dispatch(w.dtype(), [&](auto z) {
    using T = decltype(z);
    update_any<T>(s, w.numel(), w.data<T>(), g.defined() ? g.data<T>() : nullptr, history[0].data<T>(),
              history.size() > 1 ? history[1].data<T>() : nullptr, lr_mult, decay_mult);
  });
  w.storage()->bump_version();
}

}  // namespace lamina
