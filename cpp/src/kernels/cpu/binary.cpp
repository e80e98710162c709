// Binary elementwise kernels, same-shape (map2) and broadcast (broadcast_map2), each
// function a loop of its own so that it vectorises; comparisons write bool.
#include <cmath>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

// Calls f with the functor of `op`.
template <class T, class F>
void with_function(Binary op, F f) {
  switch (op) {
    case Binary::add: return f([](T a, T b) { return a + b; });
    case Binary::sub: return f([](T a, T b) { return a - b; });
    case Binary::mul: return f([](T a, T b) { return a * b; });
    case Binary::div: return f([](T a, T b) { return a / b; });  // the ops call it for floats only
    case Binary::pow: return f([](T a, T b) { return T(std::pow(a, b)); });  // floats only, as div
    case Binary::first: return f([](T a, T) { return a; });
    case Binary::logical_and: return f([](T a, T b) { return T(a != T(0) && b != T(0)); });
    case Binary::logical_or: return f([](T a, T b) { return T(a != T(0) || b != T(0)); });
  }
}

// Calls f with the functor of comparison `op`.
template <class T, class F>
void with_comparison(Compare op, F f) {
  switch (op) {
    case Compare::greater: return f([](T a, T b) { return a > b; });
    case Compare::less: return f([](T a, T b) { return a < b; });
    case Compare::equal: return f([](T a, T b) { return a == b; });
    case Compare::greater_equal: return f([](T a, T b) { return a >= b; });
    case Compare::less_equal: return f([](T a, T b) { return a <= b; });
    case Compare::not_equal: return f([](T a, T b) { return a != b; });
  }
}

template <class T>
void binary(Binary op, int64_t n, const T* a, const T* b, T* y) {
  with_function<T>(op, [&](auto fn) { map2(n, a, b, y, fn); });
}

template <class T>
void binary_strided(Binary op, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b,
                    const int64_t* sb, T* y) {
  with_function<T>(op, [&](auto fn) { broadcast_map2(ndim, shape, a, sa, b, sb, y, fn); });
}

template <class T>
void compare(Compare op, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b, const int64_t* sb,
             bool* y) {
  with_comparison<T>(op, [&](auto fn) { broadcast_map2(ndim, shape, a, sa, b, sb, y, fn); });
}

}  // namespace

void fill_binary(Table& t) {
  LAMINA_FILL_ALL(t, binary);
  LAMINA_FILL_ALL(t, binary_strided);
  LAMINA_FILL_ALL(t, compare);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
