// The machine's single-precision FMA peak, per thread: independent FMA chains on
// 512-bit (or 256-bit) registers, enough of them to cover the FMA latency. Printed as
// GFLOP/s; bench/ops.py divides every GEMM and conv figure by it.
//   g++ -O2 -march=native -fopenmp bench/fma_peak.cpp -o fma_peak && ./fma_peak
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>

template <class V, V (*fma)(V, V, V), V (*set1)(float)>
static double run(long iters) {
  constexpr int kChains = 12;  // > latency (4) x issue width (2 pipes), so the pipes stay full
  double total = 0;
#pragma omp parallel reduction(+ : total)
  {
    V acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = set1(float(i));
    const V a = set1(0.999999f), b = set1(1e-7f);
    auto t0 = std::chrono::steady_clock::now();
    for (long it = 0; it < iters; ++it) {
      // Unrolled so the chains live in registers (a rolled loop kept them on the stack,
      // and store-to-load forwarding, not the FMA pipes, set the pace: half the peak).
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = fma(acc[i], a, b);
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    float sink = 0;
    for (int i = 0; i < kChains; ++i) sink += reinterpret_cast<float*>(&acc[i])[0];
    if (sink == 12345.f) std::printf("#");  // keep the chains alive
    total += 2.0 * sizeof(V) / 4 * kChains * iters / s / 1e9;
  }
  return total;
}

static __m512 f512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static __m512 s512(float x) { return _mm512_set1_ps(x); }
static __m256 f256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static __m256 s256(float x) { return _mm256_set1_ps(x); }

int main() {
  const long iters = 200000000 / 12;
  for (int threads : {1, omp_get_num_procs()}) {
    omp_set_num_threads(threads);
    double best512 = 0, best256 = 0;
    for (int r = 0; r < 3; ++r) {
      double g512 = run<__m512, f512, s512>(iters), g256 = run<__m256, f256, s256>(iters);
      best512 = g512 > best512 ? g512 : best512;
      best256 = g256 > best256 ? g256 : best256;
    }
    std::printf("threads=%d avx512_fma_gflops=%.1f avx2_fma_gflops=%.1f\n", threads, best512, best256);
  }
}
