// Caffe's learning-rate policies (SGDSolver::GetLearningRate) and lamina's cosine.
#include <cmath>

#include "lamina/optim.hpp"

namespace lamina::optim {

std::string policy_problem(const LrPolicy& p, std::string* field) {
  auto blame = [&](const char* name, const std::string& problem) {
    if (field) *field = name;
    return problem;
  };
  const std::string& name = p.policy;
  if (name != "fixed" && name != "step" && name != "exp" && name != "inv" && name != "multistep" && name != "poly" &&
      name != "sigmoid" && name != "cosine")
    return blame("lr_policy", "unknown lr_policy \"" + name +
                                  "\" (known: fixed, step, exp, inv, multistep, poly, sigmoid, cosine)");
  if ((name == "step" || name == "sigmoid") && p.stepsize <= 0)
    return blame("lr_policy", "lr_policy \"" + name + "\" needs stepsize > 0");
  if (name == "multistep" && p.stepvalue.empty()) return blame("lr_policy", "lr_policy \"multistep\" needs stepvalue");
  if ((name == "poly" || name == "cosine") && p.max_iter <= p.warmup_iter)
    return blame("lr_policy", "lr_policy \"" + name + "\" needs max_iter > warmup_iter");
  if (p.warmup_iter < 0) return blame("warmup_iter", "warmup_iter must be >= 0");
  return "";
}

double policy_rate(const LrPolicy& p, int64_t iter, int& step) {
  const std::string problem = policy_problem(p);
  if (!problem.empty()) throw ValueError(problem);
  const std::string& policy = p.policy;
  const double base = p.base_lr, gamma = p.gamma, power = p.power;
  const double it = double(iter);
  if (policy == "fixed") return base;
  if (policy == "step") return base * std::pow(gamma, std::floor(it / double(p.stepsize)));
  if (policy == "exp") return base * std::pow(gamma, it);
  if (policy == "inv") return base * std::pow(1.0 + gamma * it, -power);
  if (policy == "multistep") {
    if (step < int(p.stepvalue.size()) && iter >= p.stepvalue[static_cast<size_t>(step)]) ++step;
    return base * std::pow(gamma, step);
  }
  if (policy == "poly") return base * std::pow(1.0 - it / double(p.max_iter), power);
  if (policy == "sigmoid") return base * (1.0 / (1.0 + std::exp(-gamma * (it - double(p.stepsize)))));
  // cosine, with a linear warm-up
  const double warm = double(p.warmup_iter), total = double(p.max_iter);
  if (it < warm) return base * (it + 1.0) / warm;
  return base * 0.5 * (1.0 + std::cos(M_PI * (it - warm) / (total - warm)));
}

}  // namespace lamina::optim
