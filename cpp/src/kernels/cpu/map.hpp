// Element-wise kernels, templated on the element type and the function applied. Raw
// pointers and sizes only. Loops are plain so that the compiler vectorises them; large
// ones are split across lamina's threads.
//
// Included after simd.hpp: the loops vectorise at the level the file is compiled for.
#pragma once

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// For a row of OW outputs whose input column is ow * stride + off: the outputs [lo, hi)
// whose input lies inside [0, W). Convolution and pooling use it to split a row into a
// padded edge, a plain interior loop, and the other padded edge.
inline __attribute__((always_inline)) void inside_columns(int64_t off, int64_t stride, int64_t W, int64_t OW,
                                                          int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = W - off <= 0 ? 0 : (W - off + stride - 1) / stride;
  lo = lo < OW ? lo : OW;
  hi = hi < OW ? hi : OW;
  if (hi < lo) hi = lo;
}

// Below this many elements a loop stays on one thread (thread start-up costs more).
constexpr int64_t kParallelGrain = 1 << 15;

template <class T, class F>
void map(int64_t n, const T* x, T* y, F f) {
#pragma omp parallel for simd if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T, class F>
void map2(int64_t n, const T* a, const T* b, T* y, F f) {
#pragma omp parallel for simd if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}

template <class T, class F>
void map3(int64_t n, const T* a, const T* b, const T* c, T* y, F f) {
#pragma omp parallel for simd if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i], c[i]);
}

// y[i] = f(a[ia], b[ib]) (y of its own type: a comparison's is bool) over an output of `ndim` extents `shape` (row-major), where ia
// and ib follow the strides sa, sb (0 along broadcast axes). Axes that both inputs walk
// contiguously are merged first (x [1, 256, 56, 56] times a per-channel [1, 256, 1, 1]
// becomes 256 rows of 3136), so rows are long. Rows (the last axis) are the unit of work:
// their start offsets are computed once, then the row loop is plain, with the common
// strides (1 and 1, 1 and 0, 0 and 1) as their own loops so they vectorise.
template <class T, class Y, class F>
void broadcast_map2(int ndim, const int64_t* shape_in, const T* a, const int64_t* sa_in, const T* b,
                    const int64_t* sb_in, Y* y, F f) {
  if (ndim == 0) {
    y[0] = f(a[0], b[0]);
    return;
  }
  int64_t shape[16], sa[16], sb[16];
  int n = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape_in[d] == 1) continue;  // a unit axis moves nothing
    if (n > 0 && sa[n - 1] == sa_in[d] * shape_in[d] && sb[n - 1] == sb_in[d] * shape_in[d]) {
      shape[n - 1] *= shape_in[d];  // the previous axis steps exactly over this one in both
      sa[n - 1] = sa_in[d];
      sb[n - 1] = sb_in[d];
      continue;
    }
    if (n == 16) {  // more axes than merging can take: the general loop on the originals
      n = -1;
      break;
    }
    shape[n] = shape_in[d];
    sa[n] = sa_in[d];
    sb[n] = sb_in[d];
    ++n;
  }
  if (n < 0) {
    n = ndim;
    std::copy(shape_in, shape_in + ndim, shape);
    std::copy(sa_in, sa_in + ndim, sa);
    std::copy(sb_in, sb_in + ndim, sb);
  }
  if (n == 0) {  // every axis has extent 1
    y[0] = f(a[0], b[0]);
    return;
  }
  const int64_t cols = shape[n - 1], sa_col = sa[n - 1], sb_col = sb[n - 1];
  int64_t rows = 1;
  for (int d = 0; d < n - 1; ++d) rows *= shape[d];
#pragma omp parallel for if (rows * cols >= kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa = 0, ob = 0, rem = r;
    for (int d = n - 2; d >= 0; --d) {
      const int64_t i = rem % shape[d];
      rem /= shape[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    Y* yr = y + r * cols;
    const T* ar = a + oa;
    const T* br = b + ob;
    if (sa_col == 1 && sb_col == 1) {
      for (int64_t c = 0; c < cols; ++c) yr[c] = f(ar[c], br[c]);
    } else if (sa_col == 1 && sb_col == 0) {
      const T bv = br[0];
      for (int64_t c = 0; c < cols; ++c) yr[c] = f(ar[c], bv);
    } else if (sa_col == 0 && sb_col == 1) {
      const T av = ar[0];
      for (int64_t c = 0; c < cols; ++c) yr[c] = f(av, br[c]);
    } else {
      for (int64_t c = 0; c < cols; ++c) yr[c] = f(ar[c * sa_col], br[c * sb_col]);
    }
  }
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
