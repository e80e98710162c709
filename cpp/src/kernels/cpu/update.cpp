// State updated in place between steps: the solver's update rules (Caffe's SGDSolver and its
// subclasses) and batch norm's running statistics, with the sums they need.
//
// This file is compiled without contracting a * b + c into one fused multiply-add
// (cpp/CMakeLists.txt): its arithmetic rounds as written at every level, so a training
// run's weights and statistics do not depend on the CPU it ran on.
#include <algorithm>
#include <cmath>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

// One rule per instantiation, so the element loop has no branch on the rule (it vectorises).
template <UpdateRule R, class T>
void update_by(const UpdateStep& s, int64_t n, T* w, const T* grad, T* h, T* h2) {
  const T rate = T(s.rate), decay = T(s.weight_decay), scale = T(s.grad_scale);
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
    if constexpr (R == UpdateRule::sgd) {
      h[i] = m * h[i] + rate * g;
      step = h[i];
    } else if constexpr (R == UpdateRule::nesterov) {
      const T previous = h[i];
      h[i] = m * h[i] + rate * g;
      step = (T(1) + m) * h[i] - m * previous;
    } else if constexpr (R == UpdateRule::adagrad) {
      h[i] += g * g;
      step = rate * g / (std::sqrt(h[i]) + delta);
    } else if constexpr (R == UpdateRule::rmsprop) {
      h[i] = rms * h[i] + (T(1) - rms) * g * g;
      step = rate * g / (std::sqrt(h[i]) + delta);
    } else if constexpr (R == UpdateRule::adadelta) {
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

}  // namespace

template <class T>
void update(const UpdateStep& s, int64_t n, T* w, const T* grad, T* h, T* h2) {
  switch (s.rule) {
    case UpdateRule::sgd: return update_by<UpdateRule::sgd>(s, n, w, grad, h, h2);
    case UpdateRule::nesterov: return update_by<UpdateRule::nesterov>(s, n, w, grad, h, h2);
    case UpdateRule::adagrad: return update_by<UpdateRule::adagrad>(s, n, w, grad, h, h2);
    case UpdateRule::rmsprop: return update_by<UpdateRule::rmsprop>(s, n, w, grad, h, h2);
    case UpdateRule::adadelta: return update_by<UpdateRule::adadelta>(s, n, w, grad, h, h2);
    case UpdateRule::adam: return update_by<UpdateRule::adam>(s, n, w, grad, h, h2);
  }
}

template <class T>
double sum_squares(const T* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

template <class T>
void batch_norm_invstd(const T* var, int64_t C, double eps, T* invstd) {
  for (int64_t c = 0; c < C; ++c) invstd[c] = static_cast<T>(1.0 / std::sqrt(double(var[c]) + eps));
}

template <class T>
void batch_norm_running(const T* mean, const T* var, int64_t C, double momentum, double unbias, T* running_mean,
                        T* running_var) {
  if (running_mean)
    for (int64_t c = 0; c < C; ++c)
      running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean[c]);
  if (running_var)
    for (int64_t c = 0; c < C; ++c)
      running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * var[c] * unbias);
}

void fill_update(Table& t) {
  LAMINA_FILL(t, update);
  LAMINA_FILL(t, sum_squares);
  LAMINA_FILL(t, batch_norm_invstd);
  LAMINA_FILL(t, batch_norm_running);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
