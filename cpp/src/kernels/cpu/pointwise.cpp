// The pointwise kernels: pointwise.def's rows (y = f(x), dx = g(x, y, dy)) and the ops
// with parameters, each one plain loop (map, map3) that vectorises at the file's level.
#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"
#include "kernels/cpu/vec_math.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

#define LAMINA_UNARY(op, fwd, bwd)                                                                      \
  template <class T>                                                                                    \
  void op##_forward(int64_t n, const T* x_, T* y_) {                                                    \
    map(n, x_, y_, [](T x) { return static_cast<T>(fwd); });                                            \
  }                                                                                                     \
  template <class T>                                                                                    \
  void op##_backward(int64_t n, const T* x_, const T* y_, const T* dy_, T* dx_) {                       \
    map3(n, x_, y_, dy_, dx_, [](T x, [[maybe_unused]] T y, [[maybe_unused]] T dy) {                   \
      (void)x;                                                                                          \
      return static_cast<T>(bwd);                                                                       \
    });                                                                                                 \
  }
#include "lamina/pointwise.def"
#undef LAMINA_UNARY

// The ops with parameters: p holds them in the op's order (kernels.hpp).
template <class T>
void leaky_relu_forward(int64_t n, const T* x, T* y, const double* p) {
  const T slope = T(p[0]);
  map(n, x, y, [slope](T v) { return v > T(0) ? v : slope * v; });
}
template <class T>
void leaky_relu_backward(int64_t n, const T* x, const T*, const T* dy, T* dx, const double* p) {
  const T slope = T(p[0]);
  map2(n, x, dy, dx, [slope](T v, T d) { return v > T(0) ? d : slope * d; });
}
template <class T>
void elu_forward(int64_t n, const T* x, T* y, const double* p) {
  const T alpha = T(p[0]);
  map(n, x, y, [alpha](T v) { return v > T(0) ? v : alpha * (vexp(v) - T(1)); });
}
template <class T>
void elu_backward(int64_t n, const T* x, const T* y, const T* dy, T* dx, const double* p) {
  const T alpha = T(p[0]);
  map3(n, x, y, dy, dx, [alpha](T v, T w, T d) { return v > T(0) ? d : d * (w + alpha); });
}
template <class T>
void power_forward(int64_t n, const T* x, T* y, const double* p) {
  const T e = T(p[0]), scale = T(p[1]), shift = T(p[2]);
  map(n, x, y, [=](T v) { return T(std::pow(shift + scale * v, e)); });
}
template <class T>
void power_backward(int64_t n, const T* x, const T*, const T* dy, T* dx, const double* p) {
  const T e = T(p[0]), scale = T(p[1]), shift = T(p[2]);
  map2(n, x, dy, dx, [=](T v, T d) { return d * e * scale * T(std::pow(shift + scale * v, e - T(1))); });
}
template <class T>
void clip_forward(int64_t n, const T* x, T* y, const double* p) {
  const T lo = T(p[0]), hi = T(p[1]);
  map(n, x, y, [=](T v) { return v < lo ? lo : (v > hi ? hi : v); });
}
template <class T>
void clip_backward(int64_t n, const T* x, const T*, const T* dy, T* dx, const double* p) {
  const T lo = T(p[0]), hi = T(p[1]);
  map2(n, x, dy, dx, [=](T v, T d) { return (v > lo && v < hi) ? d : T(0); });
}
template <class T>
void threshold_forward(int64_t n, const T* x, T* y, const double* p) {
  const T t = T(p[0]);
  map(n, x, y, [t](T v) { return v > t ? T(1) : T(0); });
}
template <class T>
void threshold_backward(int64_t n, const T* x, const T*, const T*, T* dx, const double*) {
  map(n, x, dx, [](T) { return T(0); });
}
template <class T>
void affine_forward(int64_t n, const T* x, T* y, const double* p) {
  const T scale = T(p[0]), shift = T(p[1]);
  map(n, x, y, [=](T v) { return scale * v + shift; });
}
template <class T>
void affine_backward(int64_t n, const T*, const T*, const T* dy, T* dx, const double* p) {
  const T scale = T(p[0]);
  map(n, dy, dx, [scale](T d) { return scale * d; });
}

template <class T>
void fill_typed(Typed<T>& k) {
#define LAMINA_ENTRIES(op) \
  k.op = &op##_forward<T>; \
  k.op##_backward = &op##_backward<T>;
#define LAMINA_UNARY(op, f, g) LAMINA_ENTRIES(op)
#include "lamina/pointwise.def"
#undef LAMINA_UNARY
  LAMINA_ENTRIES(leaky_relu) LAMINA_ENTRIES(elu) LAMINA_ENTRIES(power) LAMINA_ENTRIES(clip)
  LAMINA_ENTRIES(threshold) LAMINA_ENTRIES(affine)
#undef LAMINA_ENTRIES
}

}  // namespace

void fill_pointwise(Table& t) {
  fill_typed(t.f32);
  fill_typed(t.f64);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
