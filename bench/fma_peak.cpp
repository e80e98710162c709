// The machine's single-precision peak, per thread, at each CPU vector level lamina runs:
// independent chains of 512-bit FMAs (avx512), of 256-bit FMAs (avx2), and of 128-bit
// multiplies each followed by an add (generic: baseline x86-64 has SSE2 but no FMA), enough
// chains to cover the latency. Printed as GFLOP/s, one line per thread count, a level the
// compiler's target lacks left out; bench/ops.py divides every GEMM and conv figure by the
// one of the level it runs at.
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

#ifdef __AVX512F__
static __m512 f512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static __m512 s512(float x) { return _mm512_set1_ps(x); }
#endif
#ifdef __FMA__
static __m256 f256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static __m256 s256(float x) { return _mm256_set1_ps(x); }
#endif
// A multiply, then an add: the empty asm keeps the compiler from fusing them into an FMA
// (-ffp-contract=fast, GCC's default, would under -march=native).
static __m128 ma128(__m128 a, __m128 b, __m128 c) {
  __m128 p = _mm_mul_ps(a, b);
  asm("" : "+x"(p));
  return _mm_add_ps(p, c);
}
static __m128 s128(float x) { return _mm_set1_ps(x); }

int main() {
  const long iters = 200000000 / 12;
  for (int threads : {1, omp_get_num_procs()}) {
    omp_set_num_threads(threads);
    double best512 = 0, best256 = 0, best128 = 0;
    for (int r = 0; r < 3; ++r) {
      double g;
#ifdef __AVX512F__
      g = run<__m512, f512, s512>(iters);
      best512 = g > best512 ? g : best512;
#endif
#ifdef __FMA__
      g = run<__m256, f256, s256>(iters);
      best256 = g > best256 ? g : best256;
#endif
      g = run<__m128, ma128, s128>(iters);
      best128 = g > best128 ? g : best128;
    }
    std::printf("threads=%d", threads);
#ifdef __AVX512F__
    std::printf(" avx512_fma_gflops=%.1f", best512);
#endif
#ifdef __FMA__
    std::printf(" avx2_fma_gflops=%.1f", best256);
#endif
    std::printf(" sse_mul_add_gflops=%.1f\n", best128);
  }
}
