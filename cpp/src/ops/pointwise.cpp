// Unary pointwise ops: the table rows of pointwise.def, and the ones with parameters.
// Forward y = f(x); backward dx = g(x, y, dy), both one pass of kernels::cpu::map.
#include <cmath>

#include "kernels/cpu/map.hpp"
#include "kernels/cpu/vec_math.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;
using kernels::cpu::vexp;
using kernels::cpu::vsigmoid;

namespace {

template <class F, class G>
Tensor unary_op(const char* name, const Tensor& x_in, F f, G g) {
  check_defined(name, x_in);
  check_cpu(name, x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::cpu::map(n, x.data<T>(), y.data<T>(), [f](T v) { return static_cast<T>(f(v)); });
  });
  if (autograd::needs_grad({&x_in})) {
    autograd::record(name, {x_in}, {y}, [name, sx = SavedTensor(x), sy = SavedTensor(y), g](const std::vector<Tensor>& gy) {
      const Tensor& xs = sx.get(name);
      const Tensor& ys = sy.get(name);
      Tensor dy = gy[0].contiguous();
      Tensor dx = Tensor::empty(xs.shape(), xs.dtype());
      dispatch(xs.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels::cpu::map3(xs.numel(), xs.data<T>(), ys.data<T>(), dy.data<T>(), dx.data<T>(),
                           [g](T a, T b, T c) { return static_cast<T>(g(a, b, c)); });
      });
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}

}  // namespace

#define LAMINA_UNARY(name, fwd, bwd)                                                          \
  Tensor name(const Tensor& x_) {                                                             \
    return unary_op(                                                                          \
        #name, x_, [](auto x) { using T [[maybe_unused]] = decltype(x); return fwd; },                        \
        [](auto x, [[maybe_unused]] auto y, [[maybe_unused]] auto dy) {                       \
          using T [[maybe_unused]] = decltype(x);                                                              \
          (void)x;                                                                            \
          return bwd;                                                                         \
        });                                                                                   \
  }
#include "lamina/pointwise.def"
#undef LAMINA_UNARY

Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op(
      "leaky_relu", x, [slope](auto v) { using T [[maybe_unused]] = decltype(v); return v > T(0) ? v : T(slope) * v; },
      [slope](auto v, auto, auto dy) { using T [[maybe_unused]] = decltype(v); return v > T(0) ? dy : T(slope) * dy; });
}

Tensor elu(const Tensor& x, double alpha) {
  return unary_op(
      "elu", x, [alpha](auto v) { using T [[maybe_unused]] = decltype(v); return v > T(0) ? v : T(alpha) * (vexp(v) - T(1)); },
      [alpha](auto v, auto y, auto dy) { using T [[maybe_unused]] = decltype(v); return v > T(0) ? dy : dy * (y + T(alpha)); });
}

Tensor power(const Tensor& x, double p, double scale, double shift) {
  return unary_op(
      "power", x, [=](auto v) { using T [[maybe_unused]] = decltype(v); return T(std::pow(T(shift) + T(scale) * v, T(p))); },
      [=](auto v, auto, auto dy) {
        using T [[maybe_unused]] = decltype(v);
        return dy * T(p) * T(scale) * T(std::pow(T(shift) + T(scale) * v, T(p - 1)));
      });
}

Tensor pow(const Tensor& x, double exponent) { return power(x, exponent, 1.0, 0.0); }

Tensor clip(const Tensor& x, double lo, double hi) {
  LAMINA_CHECK(lo <= hi, "clip: lower bound ", lo, " is above upper bound ", hi);
  return unary_op(
      "clip", x, [=](auto v) { using T [[maybe_unused]] = decltype(v); return v < T(lo) ? T(lo) : (v > T(hi) ? T(hi) : v); },
      [=](auto v, auto, auto dy) { using T [[maybe_unused]] = decltype(v); return (v > T(lo) && v < T(hi)) ? dy : T(0); });
}

Tensor threshold(const Tensor& x, double t) {
  NoGradGuard no_grad;  // a step function: no gradient flows (as in Caffe)
  return unary_op(
      "threshold", x, [t](auto v) { using T [[maybe_unused]] = decltype(v); return v > T(t) ? T(1) : T(0); },
      [](auto v, auto, auto) { using T [[maybe_unused]] = decltype(v); return T(0); });
}

Tensor affine(const Tensor& x, double scale, double shift) {
  return unary_op(
      "affine", x, [=](auto v) { using T [[maybe_unused]] = decltype(v); return T(scale) * v + T(shift); },
      [=](auto v, auto, auto dy) { using T [[maybe_unused]] = decltype(v); return T(scale) * dy; });
}

}  // namespace lamina
