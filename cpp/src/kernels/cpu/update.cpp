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
// The Caffe forms are Caffe's SGDSolver and subclasses; the torch_* forms torch.optim's.
template <UpdateRule R, class T>
void update_by(const UpdateStep& s, int64_t n, T* w, const T* grad, T* h, T* h2) {
  constexpr bool kAdam = R == UpdateRule::adam || R == UpdateRule::adamw;
  const T rate = T(s.rate), decay = T(s.weight_decay), scale = T(s.grad_scale);
  const T m = T(s.momentum), m2 = T(s.momentum2), delta = T(s.delta), rms = T(s.rms_decay);
  const bool l1 = s.l1, clamp = s.clip_weights >= 0, torch_momentum = s.torch_momentum, torch_eps = s.torch_eps;
  const T limit = T(s.clip_weights);
  // AdamW's decoupled decay: w * (1 - rate * decay), the factor rounded once as torch.optim does.
  const T keep = T(1.0 - s.rate * s.weight_decay), shrink = T(s.rate * s.weight_decay);
  // Adam's bias corrections for step t = iter + 1: Caffe folds both into the rate
  // (AdamSolver); torch.optim divides the rate by the first and sqrt(v) by the second's root.
  const double t = double(s.iter) + 1;
  const double c1 = 1.0 - std::pow(s.momentum, t), c2 = 1.0 - std::pow(s.momentum2, t);
  const T correction = T(std::sqrt(c2) / c1), step_size = T(s.rate / c1), root_c2 = T(std::sqrt(c2));
#pragma omp parallel for schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    T g = grad ? grad[i] * scale : T(0);
    if (decay != T(0)) {
      const T sign = T((w[i] > 0) - (w[i] < 0));
      if constexpr (R == UpdateRule::adamw) w[i] = l1 ? w[i] - shrink * sign : w[i] * keep;
      else g += decay * (l1 ? sign : w[i]);
    }
    T step;
    if constexpr (R == UpdateRule::sgd) {
      h[i] = m * h[i] + (torch_momentum ? g : rate * g);
      step = torch_momentum ? rate * h[i] : h[i];
    } else if constexpr (R == UpdateRule::nesterov) {
      const T previous = h[i];
      h[i] = m * h[i] + (torch_momentum ? g : rate * g);
      step = torch_momentum ? rate * (g + m * h[i]) : (T(1) + m) * h[i] - m * previous;
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
    } else {
      static_assert(kAdam);  // momentum is beta1, momentum2 beta2, delta epsilon
      h[i] = m * h[i] + (T(1) - m) * g;
      h2[i] = m2 * h2[i] + (T(1) - m2) * g * g;
      step = torch_eps ? step_size * (h[i] / (std::sqrt(h2[i]) / root_c2 + delta))
                       : rate * correction * h[i] / (std::sqrt(h2[i]) + delta);
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
    case UpdateRule::adamw: return update_by<UpdateRule::adamw>(s, n, w, grad, h, h2);
  }
}

template <class T>
void sum_scaled(const T* const* in, int64_t K, int64_t n, T scale, T* out) {
  // Block by block: the first input, each other added in order, then the scale (the order
  // the result's bits depend on, whatever the level or the number of threads).
  constexpr int64_t kBlock = 2048;
#pragma omp parallel for schedule(static) if (n >= (int64_t(1) << 18))
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    T* o = out + b;
    const T* first = in[0] + b;
    if (K == 2) {
      const T* second = in[1] + b;
      for (int64_t i = 0; i < m; ++i) o[i] = (first[i] + second[i]) * scale;
      continue;
    }
    for (int64_t i = 0; i < m; ++i) o[i] = first[i];
    for (int64_t k = 1; k < K; ++k) {
      const T* x = in[k] + b;
      for (int64_t i = 0; i < m; ++i) o[i] += x[i];
    }
    for (int64_t i = 0; i < m; ++i) o[i] *= scale;
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
  LAMINA_FILL(t, sum_scaled);
  LAMINA_FILL(t, sum_squares);
  LAMINA_FILL(t, batch_norm_invstd);
  LAMINA_FILL(t, batch_norm_running);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
