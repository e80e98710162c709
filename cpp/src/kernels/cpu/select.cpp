// Elements picked by index or by mask, for every dtype: index_select, gather, where and
// nonzero, and the scatter-adds of their backward (repeated indices add up); put (writes
// at element offsets) and arange. Indices are int64; the picking kernels check every one
// before writing anything.
#include <algorithm>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

// -1, or the first k whose index[k] is outside [0, C).
int64_t first_outside(const int64_t* index, int64_t n, int64_t C) {
  for (int64_t k = 0; k < n; ++k)
    if (index[k] < 0 || index[k] >= C) return k;
  return -1;
}

}  // namespace

template <class T>
int64_t index_select(const T* x, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* y) {
  const int64_t bad = first_outside(index, K, C);
  if (bad >= 0) return bad;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const T* from = x + (o * C + index[k]) * inner;
      std::copy(from, from + inner, y + (o * K + k) * inner);
    }
  return -1;
}

template <class T>
void index_select_backward(const T* dy, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K,
                           T* dx) {
  std::fill(dx, dx + outer * C * inner, T(0));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const T* from = dy + (o * K + k) * inner;
      T* to = dx + (o * C + index[k]) * inner;
      for (int64_t i = 0; i < inner; ++i) to[i] += from[i];
    }
}

template <class T>
int64_t gather(const T* x, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* y) {
  const int64_t bad = first_outside(index, outer * K * inner, C);
  if (bad >= 0) return bad;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t* ir = index + (o * K + k) * inner;
      T* yr = y + (o * K + k) * inner;
      const T* xo = x + o * C * inner;
      for (int64_t i = 0; i < inner; ++i) yr[i] = xo[ir[i] * inner + i];
    }
  return -1;
}

template <class T>
void gather_backward(const T* dy, int64_t outer, int64_t C, int64_t inner, const int64_t* index, int64_t K, T* dx) {
  std::fill(dx, dx + outer * C * inner, T(0));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t* ir = index + (o * K + k) * inner;
      const T* dr = dy + (o * K + k) * inner;
      T* xo = dx + o * C * inner;
      for (int64_t i = 0; i < inner; ++i) xo[ir[i] * inner + i] += dr[i];
    }
}

// An odometer over all but the last axis; rows along the last axis are plain loops.
template <class T>
void where(int ndim, const int64_t* shape, const bool* c, const int64_t* sc, const T* a, const int64_t* sa,
           const T* b, const int64_t* sb, T* y) {
  if (ndim == 0) {
    y[0] = c[0] ? a[0] : b[0];
    return;
  }
  int64_t rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  const int64_t cols = shape[ndim - 1];
  if (rows * cols == 0) return;
  const int64_t lc = sc[ndim - 1], la = sa[ndim - 1], lb = sb[ndim - 1];
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oc = 0, oa = 0, ob = 0, rem = r;
    for (int d = ndim - 2; d >= 0; --d) {
      const int64_t i = rem % shape[d];
      rem /= shape[d];
      oc += i * sc[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    T* yr = y + r * cols;
    for (int64_t j = 0; j < cols; ++j) yr[j] = c[oc + j * lc] ? a[oa + j * la] : b[ob + j * lb];
  }
}

template <class T>
int64_t count_nonzero(const T* x, int64_t n) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += x[i] != T(0);
  return count;
}

template <class T>
void nonzero(const T* x, int ndim, const int64_t* shape, int64_t* out) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == T(0)) continue;
    int64_t rem = i;
    for (int d = ndim - 1; d >= 0; --d) {
      out[d] = rem % shape[d];
      rem /= shape[d];
    }
    out += ndim;
  }
}

template <class T>
void put(T* x, const int64_t* at, int64_t n, const T* v) {
  for (int64_t i = 0; i < n; ++i) x[at[i]] = v[i];
}

template <class T>
void arange(int64_t n, double start, double step, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(start + static_cast<double>(i) * step);
}

void fill_select(Table& t) {
  LAMINA_FILL_ALL(t, put);
  LAMINA_FILL_ALL(t, arange);
  LAMINA_FILL_ALL(t, index_select);
  LAMINA_FILL(t, index_select_backward);
  LAMINA_FILL_ALL(t, gather);
  LAMINA_FILL(t, gather_backward);
  LAMINA_FILL_ALL(t, where);
  LAMINA_FILL_ALL(t, count_nonzero);
  LAMINA_FILL_ALL(t, nonzero);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
