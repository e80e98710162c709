// SolverParameter -> lamina::optim, with the checks Caffe makes (as PrototxtErrors at the
// field).
#include "solver/settings.hpp"

#include "lamina/solver.hpp"

#include <map>

namespace lamina {

std::string solver_type_name(const std::string& solver_type) {
  static const std::map<std::string, std::string> kNames = {{"SGD", "SGD"},         {"NESTEROV", "Nesterov"},
                                                            {"ADAGRAD", "AdaGrad"}, {"RMSPROP", "RMSProp"},
                                                            {"ADADELTA", "AdaDelta"}, {"ADAM", "Adam"}};
  return kNames.at(solver_type);
}

void check_solver_parameter(const schema::Params& p, const std::string& type) {
  if (!p.has("lr_policy")) p.fail("", "the solver needs an lr_policy (fixed, step, exp, inv, multistep, poly, sigmoid, cosine)");
  std::string field;
  const std::string problem = optim::policy_problem(lr_policy_of(p), &field);
  if (!problem.empty()) p.fail(field, problem);
  if ((type == "AdaGrad" || type == "RMSProp") && p.get_float("momentum") != 0)
    p.fail("momentum", "momentum cannot be used with " + type);
  const std::string bad = optim::options_problem(optim::rule_from_name(type), group_options_of(p), &field);
  if (!bad.empty()) p.fail(field == "lr" ? "base_lr" : field, bad);
  if (p.get_int("iter_size") < 1) p.fail("iter_size", "iter_size must be >= 1");
}

optim::LrPolicy lr_policy_of(const schema::Params& p) {
  optim::LrPolicy l;
  l.policy = p.get_string("lr_policy");
  l.base_lr = p.get_float("base_lr");
  l.gamma = p.get_float("gamma");
  l.power = p.get_float("power");
  l.stepsize = p.get_int("stepsize");
  l.max_iter = p.get_int("max_iter");
  l.warmup_iter = p.get_int("warmup_iter");
  l.stepvalue = p.ints("stepvalue");
  return l;
}

optim::Options optimizer_options_of(const schema::Params& p, const std::string& type) {
  optim::Options o;
  o.rule = optim::rule_from_name(type);
  o.clip_gradients = p.get_float("clip_gradients");
  o.clip_weights = p.get_float("clip_weights");
  o.missing_grad_as_zero = true;
  return o;
}

optim::GroupOptions group_options_of(const schema::Params& p) {
  optim::GroupOptions g;
  g.lr = p.get_float("base_lr");
  g.weight_decay = p.get_float("weight_decay");
  g.l1 = p.get_string("regularization_type") == "L1";
  g.momentum = p.get_float("momentum");
  g.momentum2 = p.get_float("momentum2");
  g.delta = p.get_float("delta");
  g.rms_decay = p.get_float("rms_decay");
  return g;
}

SolverUpdate solver_update(const prototxt::Message& solver_parameter, const std::string& file) {
  schema::validate(solver_parameter, "SolverParameter", file);
  const schema::Params p(&solver_parameter, "SolverParameter", file);
  std::string type = p.get_string("type");
  if (!p.has("type") && p.has("solver_type")) type = solver_type_name(p.get_string("solver_type"));
  check_solver_parameter(p, type);
  return SolverUpdate{type, optimizer_options_of(p, type), group_options_of(p), lr_policy_of(p)};
}

}  // namespace lamina
