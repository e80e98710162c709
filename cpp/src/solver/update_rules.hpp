// Caffe's learning-rate policies and per-type update rules (update_rules.cpp).
#pragma once

#include <string>
#include <vector>

#include "lamina/schema.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

// "SGD" for the deprecated solver_type enum value SGD, "Nesterov" for NESTEROV, ...
std::string solver_type_name(const std::string& solver_type);
// Throws PrototxtError at the offending field for settings the type or policy cannot use.
void check_solver_parameter(const schema::Params& p, const std::string& type);
// History blobs per parameter: 2 for AdaDelta and Adam, else 1.
int history_slots(const std::string& type);

// The rate at iteration `iter`; `step` is multistep's position, advanced as Caffe does
// (one step when iter reaches the next stepvalue).
double policy_rate(const schema::Params& p, int iter, int& step);

struct UpdateSettings {
  std::string type;
  double rate = 0, momentum = 0, momentum2 = 0.999, delta = 1e-8, rms_decay = 0.99;
  double weight_decay = 0;
  bool l1 = false;
  double grad_scale = 1;  // global clipping factor / iter_size
  int iter = 0;
  double clip_weights = -1;
};
UpdateSettings update_settings(const schema::Params& p, const std::string& type, double rate, int iter);

double sum_squares(const Tensor& t);
// One parameter's update, in place: g' = g * grad_scale + decay term, the type's step from
// g' and the history, then w -= step (and the clamp of clip_weights). `grad` may be
// undefined (no gradient reached w: zeros).
void update_param(const UpdateSettings& s, const Tensor& w, const Tensor& grad, std::vector<Tensor>& history, double lr_mult,
                  double decay_mult);

}  // namespace lamina
