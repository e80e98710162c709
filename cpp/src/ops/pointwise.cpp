// Unary pointwise ops: the table rows of pointwise.def, and the ones with parameters.
// Forward y = f(x); backward dx = g(x, y, dy), each a kernel of the device's Table
// (kernels/cpu/pointwise.cpp on the CPU).
#include <limits>
#include <cstring>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// y = f(x) by the entry `fwd` of x's device; the backward by `bwd`. F and B pick the
// entries from a Typed<T> (fwd(k) and bwd(k) call them on the flat arrays).
template <class F, class B>
Tensor unary_op(const char* name, const Tensor& x_in, F fwd, B bwd) {
  check_defined(name, x_in);
  // neg is the one row integers take: 0 - x (bool has none, as in PyTorch: use logical_not).
  if (x_in.dtype() == DType::i32 || x_in.dtype() == DType::i64)
    if (std::strcmp(name, "neg") == 0) return sub(Tensor::zeros({}, x_in.dtype()), x_in);
  check_device(name, x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    fwd(kernels_for<T>(name, x), n, x.data<T>(), y.data<T>());
  });
  if (autograd::needs_grad({&x_in})) {
    autograd::record(name, {x_in}, {y}, [name, sx = SavedTensor(x), sy = SavedTensor(y), bwd](const std::vector<Tensor>& gy) {
      const Tensor& xs = sx.get(name);
      const Tensor& ys = sy.get(name);
      Tensor dy = gy[0].contiguous();
      Tensor dx = Tensor::empty(xs.shape(), xs.dtype());
      dispatch(xs.dtype(), [&](auto t) {
        using T = decltype(t);
        bwd(kernels_for<T>(name, xs), xs.numel(), xs.data<T>(), ys.data<T>(), dy.data<T>(), dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}

// The op `name` whose kernels are the entries fwd, bwd with parameters p.
#define LAMINA_PARAM_OP(name, ...)                                                                      \
  [&] {                                                                                                 \
    const double params_[3] = {__VA_ARGS__};                                                                  \
    return unary_op(                                                                                    \
        #name, x, [params_](const auto& k, int64_t n, const auto* a, auto* y) { k.name(n, a, y, params_); },        \
        [params_](const auto& k, int64_t n, const auto* a, const auto* y, const auto* dy, auto* dx) {   \
          k.name##_backward(n, a, y, dy, dx, params_);                                                        \
        });                                                                                             \
  }()

}  // namespace

#define LAMINA_UNARY(name, fwd, bwd)                                                                    \
  Tensor name(const Tensor& x) {                                                                        \
    return unary_op(                                                                                    \
        #name, x, [](const auto& k, int64_t n, const auto* a, auto* y) { k.name(n, a, y); },            \
        [](const auto& k, int64_t n, const auto* a, const auto* y, const auto* dy, auto* dx) {          \
          k.name##_backward(n, a, y, dy, dx);                                                           \
        });                                                                                             \
  }
#include "lamina/pointwise.def"
#undef LAMINA_UNARY

Tensor leaky_relu(const Tensor& x, double slope) { return LAMINA_PARAM_OP(leaky_relu, slope); }

Tensor elu(const Tensor& x, double alpha) { return LAMINA_PARAM_OP(elu, alpha); }

Tensor power(const Tensor& x, double p, double scale, double shift) {
  return LAMINA_PARAM_OP(power, p, scale, shift);
}

Tensor pow(const Tensor& x, double exponent) { return power(x, exponent, 1.0, 0.0); }

Tensor clip(const Tensor& x, double lo, double hi) {
  LAMINA_CHECK(lo <= hi, "clip: lower bound ", lo, " is above upper bound ", hi);
  return LAMINA_PARAM_OP(clip, lo, hi);
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  LAMINA_CHECK(lo || hi, "clamp: needs a lower bound, an upper bound, or both");
  return clip(x, lo.value_or(-std::numeric_limits<double>::infinity()),
              hi.value_or(std::numeric_limits<double>::infinity()));
}

Tensor threshold(const Tensor& x, double t) {
  NoGradGuard no_grad;  // a step function: no gradient flows (as in Caffe)
  return LAMINA_PARAM_OP(threshold, t);
}

Tensor affine(const Tensor& x, double scale, double shift) { return LAMINA_PARAM_OP(affine, scale, shift); }

}  // namespace lamina
