// Local response normalisation across channels, fused: one pass forward, one backward,
// in place of the five ops (square, channel average pool, affine, pow, mul) and their
// tape that it replaced (AlexNet's two LRN layers took 16% of its training step that way).
//
// Work is split over (image, chunk of kChunk positions); within a chunk, every channel's
// row of positions is a plain loop that vectorises, and the window sum over channels is
// taken directly (size adds per output, exact, unlike a running sum that drifts).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

constexpr int64_t kChunk = 256;

// out[i] = in[i] * s[i]^-beta. Caffe's nets all use beta = 0.75, which is 1 / (s^1/2 s^1/4):
// two square roots (a loop that vectorises) instead of a pow per element.
template <class T>
inline void times_pow_neg_beta(const T* in, const T* s, T beta, int64_t len, T* out) {
  if (beta == T(0.75)) {
    for (int64_t i = 0; i < len; ++i) {
      const T r = std::sqrt(s[i]);
      out[i] = in[i] / (r * std::sqrt(r));
    }
  } else {
    for (int64_t i = 0; i < len; ++i) out[i] = in[i] * std::pow(s[i], -beta);
  }
}

template <class F>
void over_chunks(int64_t N, int64_t C, int64_t S, F f) {
  const int64_t chunks = (S + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelGrain)
  for (int64_t t = 0; t < N * chunks; ++t) {
    const int64_t n = t / chunks, s0 = (t % chunks) * kChunk;
    f(n, s0, std::min(kChunk, S - s0));
  }
}

}  // namespace

template <class T>
void lrn_across_forward(const T* x, int64_t N, int64_t C, int64_t S, int64_t size, T alpha, T beta,
                                         T k, T* scale, T* y) {
  const int64_t pad = (size - 1) / 2;
  const T a = alpha / T(size);
  over_chunks(N, C, S, [&](int64_t n, int64_t s0, int64_t len) {
    const T* xn = x + n * C * S + s0;
    T* sn = scale + n * C * S + s0;
    T* yn = y + n * C * S + s0;
    for (int64_t c = 0; c < C; ++c) {
      T* sc = sn + c * S;
      for (int64_t i = 0; i < len; ++i) sc[i] = T(0);
      for (int64_t j = std::max<int64_t>(0, c - pad); j <= std::min(C - 1, c + pad); ++j) {
        const T* xj = xn + j * S;
        for (int64_t i = 0; i < len; ++i) sc[i] += xj[i] * xj[i];
      }
      for (int64_t i = 0; i < len; ++i) sc[i] = k + a * sc[i];
      times_pow_neg_beta(xn + c * S, sc, beta, len, yn + c * S);
    }
  });
}

template <class T>
void lrn_across_backward(const T* x, const T* y, const T* scale, const T* dy, int64_t N, int64_t C,
                                          int64_t S, int64_t size, T alpha, T beta, T* dx) {
  const int64_t pad = (size - 1) / 2;
  const T ratio = T(2) * alpha * beta / T(size);
  over_chunks(N, C, S, [&](int64_t n, int64_t s0, int64_t len) {
    const int64_t off = n * C * S + s0;
    // t = dy * y / scale for this chunk, every channel (the window sums read it C times).
    thread_local std::vector<T> buffer;
    buffer.resize(static_cast<size_t>(C * kChunk));
    T* t = buffer.data();
    for (int64_t c = 0; c < C; ++c) {
      const T *d = dy + off + c * S, *yc = y + off + c * S, *sc = scale + off + c * S;
      T* tc = t + c * kChunk;
      for (int64_t i = 0; i < len; ++i) tc[i] = d[i] * yc[i] / sc[i];
    }
    for (int64_t c = 0; c < C; ++c) {
      const T *d = dy + off + c * S, *xc = x + off + c * S, *sc = scale + off + c * S;
      T* out = dx + off + c * S;
      times_pow_neg_beta(d, sc, beta, len, out);
      for (int64_t j = std::max<int64_t>(0, c - pad); j <= std::min(C - 1, c + pad); ++j) {
        const T* tj = t + j * kChunk;
        for (int64_t i = 0; i < len; ++i) out[i] -= ratio * xc[i] * tj[i];
      }
    }
  });
}

void fill_lrn(Table& t) {
  LAMINA_FILL(t, lrn_across_forward);
  LAMINA_FILL(t, lrn_across_backward);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
