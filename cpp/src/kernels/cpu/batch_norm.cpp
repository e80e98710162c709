// Batch normalisation over [N, C, S] (S = the spatial extent, 1 for [N, C]): statistics
// per channel, then y = (x - mean) * invstd * w + b, and a ReLU after it if asked (the
// net fuses BatchNorm + Scale + ReLU: the ReLU's passes saved, one each way). The
// training backward is the closed form of d/dx through the batch statistics:
//   xhat = (x - mean) * invstd, g = dy * w,
//   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)),
// where the means run over the channel's M = N * S values. Channels are independent, so
// threads split them; sums accumulate in double.
#include <cmath>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
#pragma omp parallel for if (N * C * S >= kParallelGrain)
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * S;
      double t = 0;
#pragma omp simd reduction(+ : t)
      for (int64_t i = 0; i < S; ++i) t += p[i];
      s += t;
    }
    const double m = s / static_cast<double>(N * S);
    double q = 0;  // second pass around the mean: no cancellation
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * S;
      double t = 0;
#pragma omp simd reduction(+ : t)
      for (int64_t i = 0; i < S; ++i) t += (p[i] - m) * (p[i] - m);
      q += t;
    }
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(q / static_cast<double>(N * S));
  }
}

namespace {

// Channel c's y = x * scale + shift (the forward's arithmetic, which the backward's ReLU
// mask repeats).
template <class T>
struct Affine {
  T scale, shift;
  Affine(const T* mean, const T* invstd, const T* w, const T* b, int64_t c)
      : scale(invstd[c] * (w ? w[c] : T(1))), shift((b ? b[c] : T(0)) - mean[c] * scale) {}
  T operator()(T x) const { return x * scale + shift; }
};

// dy where the fused ReLU passed y = f(x) (kRelu), else dy.
template <bool kRelu, class T>
inline T passed(T dy, T x, const Affine<T>& f) {
  if constexpr (kRelu) return f(x) > T(0) ? dy : T(0);
  return dy;
}

template <bool kRelu, class T>
void backward(const T* x, const T* dy, const T* mean, const T* invstd, const T* w, const T* b,
                               int64_t N, int64_t C, int64_t S, bool training, T* dx, T* dw, T* db) {
  // The sums are needed for dw, db and the training dx. Inference's dx = w * invstd * dy
  // reads dy alone (no x: a pass saved, and an infinite x gives no NaN through a 0 factor),
  // and x for the ReLU's mask.
  const bool sums = dw || db || (dx && training);
#pragma omp parallel for if (N * C * S >= kParallelGrain)
  for (int64_t c = 0; c < C; ++c) {
    const double m = mean[c], is = invstd[c];
    const Affine<T> f(mean, invstd, w, b, c);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; sums && n < N; ++n) {
      const T* p = x + (n * C + c) * S;
      const T* d = dy + (n * C + c) * S;
      double a = 0, b2 = 0;
#pragma omp simd reduction(+ : a, b2)
      for (int64_t i = 0; i < S; ++i) {
        const T g = passed<kRelu>(d[i], p[i], f);
        a += g;
        b2 += g * (p[i] - m);
      }
      sum_dy += a;
      sum_dy_xhat += b2 * is;
    }
    if (dw) dw[c] = static_cast<T>(sum_dy_xhat);
    if (db) db[c] = static_cast<T>(sum_dy);
    if (!dx) continue;
    const double wc = w ? w[c] : 1.0, M = static_cast<double>(N * S);
    const T k1 = static_cast<T>(wc * is);
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * S;
      const T* d = dy + (n * C + c) * S;
      T* o = dx + (n * C + c) * S;
      if (!training) {
#pragma omp simd
        for (int64_t i = 0; i < S; ++i) o[i] = k1 * passed<kRelu>(d[i], p[i], f);
        continue;
      }
      // dx = w*invstd * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M)
      const T k2 = static_cast<T>(sum_dy / M), k3 = static_cast<T>(sum_dy_xhat / M * is), mc = static_cast<T>(m);
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) o[i] = k1 * (passed<kRelu>(d[i], p[i], f) - k2 - (p[i] - mc) * k3);
    }
  }
}

}  // namespace

template <class T>
void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* w, const T* b, int64_t N,
                                       int64_t C, int64_t S, bool relu, T* y) {
#pragma omp parallel for collapse(2) if (N * C * S >= kParallelGrain)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const Affine<T> f(mean, invstd, w, b, c);
      const T* p = x + (n * C + c) * S;
      T* q = y + (n * C + c) * S;
      if (relu) {
#pragma omp simd
        for (int64_t i = 0; i < S; ++i) q[i] = f(p[i]) > T(0) ? f(p[i]) : T(0);
      } else {
#pragma omp simd
        for (int64_t i = 0; i < S; ++i) q[i] = f(p[i]);
      }
    }
}

template <class T>
void batch_norm_backward(const T* x, const T* dy, const T* mean, const T* invstd, const T* w, const T* b, int64_t N,
                         int64_t C, int64_t S, bool training, bool relu, T* dx, T* dw, T* db) {
  if (relu)
    backward<true>(x, dy, mean, invstd, w, b, N, C, S, training, dx, dw, db);
  else
    backward<false>(x, dy, mean, invstd, w, b, N, C, S, training, dx, dw, db);
}

#define LAMINA_BN_INSTANTIATE(T)                                                                              \
  template void batch_norm_stats<T>(const T*, int64_t, int64_t, int64_t, T*, T*);                             \
  template void batch_norm_apply<T>(const T*, const T*, const T*, const T*, const T*, int64_t, int64_t,       \
                                    int64_t, bool, T*);                                                       \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, int64_t,   \
                                       int64_t, int64_t, bool, bool, T*, T*, T*);
LAMINA_BN_INSTANTIATE(float)
LAMINA_BN_INSTANTIATE(double)

void fill_batch_norm(Table& t) {
  LAMINA_FILL(t, batch_norm_stats);
  LAMINA_FILL(t, batch_norm_apply);
  LAMINA_FILL(t, batch_norm_backward);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
