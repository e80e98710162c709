// The Solver's SolverParameter fields as lamina::optim values (settings.cpp): the Solver
// trains with optim::Optimizer and optim::policy_rate, nothing of its own.
#pragma once

#include <string>

#include "lamina/optim.hpp"
#include "lamina/schema.hpp"

namespace lamina {

// "SGD" for the deprecated solver_type enum value SGD, "Nesterov" for NESTEROV, ...
std::string solver_type_name(const std::string& solver_type);
// Throws PrototxtError at the offending field for settings the type or policy cannot use.
void check_solver_parameter(const schema::Params& p, const std::string& type);

optim::LrPolicy lr_policy_of(const schema::Params& p);
// Caffe's semantics: the rule of `type`, clip_gradients, clip_weights, and a parameter
// that no gradient reached updated with zeros.
optim::Options optimizer_options_of(const schema::Params& p, const std::string& type);
// base_lr, weight_decay, regularization_type, momentum, momentum2, delta, rms_decay (the
// multipliers are each parameter's own).
optim::GroupOptions group_options_of(const schema::Params& p);

}  // namespace lamina
