// Reductions along axes that reduce.cpp's blocks do not cover: sums over any set of axes,
// and the maximum, its index and the top k along one axis.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// One pass over x in memory order; an odometer tracks the output offset, which moves only
// along the axes that are kept.
template <class T>
void sum_axes(const T* x, int ndim, const int64_t* shape, const int64_t* out_strides, int64_t out_n, T* out) {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;  // integers: exact
  std::vector<Acc> acc(static_cast<size_t>(out_n), Acc(0));
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n > 0) {
    std::vector<int64_t> idx(static_cast<size_t>(ndim), 0);
    int64_t o = 0;
    for (int64_t k = 0; k < n; ++k) {
      acc[static_cast<size_t>(o)] += static_cast<Acc>(x[k]);
      for (int i = ndim - 1; i >= 0; --i) {
        if (++idx[static_cast<size_t>(i)] < shape[i]) {
          o += out_strides[i];
          break;
        }
        o -= out_strides[i] * (shape[i] - 1);
        idx[static_cast<size_t>(i)] = 0;
      }
    }
  }
  for (int64_t i = 0; i < out_n; ++i) out[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
}

namespace {

// Calls f(position, index) with the index along the middle axis of x [outer, C, inner] of
// each position's first maximum.
template <class T, class F>
void each_max(const T* x, int64_t outer, int64_t C, int64_t inner, F f) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xr = x + o * C * inner + i;
      int64_t best = 0;
      for (int64_t c = 1; c < C; ++c)
        if (xr[c * inner] > xr[best * inner]) best = c;
      f(o * inner + i, best, xr[best * inner]);
    }
}

}  // namespace

template <class T>
void max_along(const T* x, int64_t outer, int64_t C, int64_t inner, T* values, int64_t* index) {
  each_max(x, outer, C, inner, [&](int64_t k, int64_t best, T value) {
    values[k] = value;
    index[k] = best;
  });
}

template <class T>
void max_along_backward(const T* dy, const int64_t* index, int64_t outer, int64_t C, int64_t inner, T* dx) {
  std::fill(dx, dx + outer * C * inner, T(0));
  for (int64_t k = 0; k < outer * inner; ++k) dx[(k / inner * C + index[k]) * inner + k % inner] = dy[k];
}

template <class T>
void argmax(const T* x, int64_t outer, int64_t C, int64_t inner, int64_t* y) {
  each_max(x, outer, C, inner, [&](int64_t k, int64_t best, T) { y[k] = best; });
}

template <class T>
void top_k(const T* x, int64_t outer, int64_t C, int64_t inner, int64_t k, T* indices, T* values) {
  std::vector<int64_t> order(static_cast<size_t>(C));
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t c = 0; c < C; ++c) order[static_cast<size_t>(c)] = c;
      auto score = [&](int64_t c) { return x[(a * C + c) * inner + i]; };
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int64_t l, int64_t r) { return score(l) > score(r) || (score(l) == score(r) && l < r); });
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (a * k + j) * inner + i, c = order[static_cast<size_t>(j)];
        indices[at] = static_cast<T>(c);
        if (values) values[at] = score(c);
      }
    }
}

void fill_reduce_axes(Table& t) {
  LAMINA_FILL(t, sum_axes);
  LAMINA_FILL_INTEGERS(t, sum_axes);
  LAMINA_FILL(t, max_along);
  LAMINA_FILL(t, max_along_backward);
  LAMINA_FILL_ALL(t, argmax);
  LAMINA_FILL(t, top_k);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
