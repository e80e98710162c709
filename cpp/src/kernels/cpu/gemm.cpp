// GEMM: a BLAS when lamina is built with one (LAMINA_BLAS), else the built-in kernel.
// float32 at every vector level (simd.hpp) takes three shapes the BLAS handles badly (it
// packs its operands first) to kernels of its own: a few rows of A times a large B or B^T
// (an InnerProduct's forward and input gradient at a small batch), and a small depth into
// a large C (its weight gradient), below.
//
// The built-in GEMM is blocked so that a KC x NC panel of B stays in L2 while every row
// of A streams past it; the innermost loop is an axpy over a contiguous row of the panel,
// which the compiler vectorises. It is the portable fallback.
//
// Threads: lamina has one thread pool, OpenMP's. The BLAS always runs single-threaded;
// a large GEMM called outside a parallel region is split into row or column blocks, one
// BLAS call per lamina thread. Two pools (OpenBLAS's pthreads and OpenMP) would busy-wait
// against each other on a small machine, each op handing the cores from one spinning pool
// to the other.
#include <algorithm>
#include <array>
#include <climits>
#include <utility>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef LAMINA_HAVE_BLAS
#include <cblas.h>
#ifndef LAMINA_BLAS_PREFIX
#define LAMINA_BLAS_PREFIX
#endif
#define LAMINA_CAT_(a, b) a##b
#define LAMINA_CAT(a, b) LAMINA_CAT_(a, b)
#define LAMINA_BLAS(name) LAMINA_CAT(LAMINA_BLAS_PREFIX, name)
#endif

#include "kernels/kernels.hpp"
#include "lamina/parallel.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {
// Used only by the vector levels' few-rows kernels and the BLAS path: the generic level of a
// build without a BLAS (LAMINA_BLAS=none, as tests/run_aarch64.sh builds) calls neither.
#ifdef _OPENMP
[[maybe_unused]] bool in_parallel() { return omp_in_parallel(); }
[[maybe_unused]] int max_threads() { return omp_get_max_threads(); }
#else
[[maybe_unused]] bool in_parallel() { return false; }
[[maybe_unused]] int max_threads() { return 1; }
#endif
}  // namespace

#ifdef LAMINA_HAVE_BLAS
namespace {
void blas_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc) {
  LAMINA_BLAS(cblas_sgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                           M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void blas_gemm(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
               const double* B, int ldb, double beta, double* C, int ldc) {
  LAMINA_BLAS(cblas_dgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                           M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
}  // namespace
#endif

namespace {
constexpr int64_t kKC = 256;  // depth of a panel
constexpr int64_t kNC = 512;  // width of a panel
}  // namespace

template <class T>
static void builtin_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                         const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  // Scale C once up front, so the panels below only accumulate.
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) std::fill(c, c + N, T(0));
    else if (beta != T(1)) for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
  if (K == 0 || alpha == T(0)) return;
  const bool parallel = M * N * K >= (int64_t(1) << 18) && M > 1;

  for (int64_t p0 = 0; p0 < K; p0 += kKC) {
    const int64_t kc = std::min(kKC, K - p0);
    for (int64_t j0 = 0; j0 < N; j0 += kNC) {
      const int64_t nc = std::min(kNC, N - j0);
      // Pack the panel op(B)[p0:p0+kc, j0:j0+nc] contiguously (rows of nc).
      std::vector<T> panel(static_cast<size_t>(kc * nc));
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < nc; ++j)
          panel[p * nc + j] = trans_b ? B[(j0 + j) * ldb + p0 + p] : B[(p0 + p) * ldb + j0 + j];
      const T* pb = panel.data();
#pragma omp parallel for schedule(static) if (parallel)
      for (int64_t i = 0; i < M; ++i) {
        T* c = C + i * ldc + j0;
        for (int64_t p = 0; p < kc; ++p) {
          const T a = alpha * (trans_a ? A[(p0 + p) * lda + i] : A[i * lda + p0 + p]);
          const T* b = pb + p * nc;
          for (int64_t j = 0; j < nc; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

// The generic level (one-lane vectors) leaves these products to the BLAS.
#if !defined(LAMINA_LEVEL_GENERIC)
namespace {

using simd::kLanes;
using simd::Vec;

// C = alpha A B^T + beta C for a few rows of A (M <= kSmallM) and a large B [N, K]: an
// InnerProduct layer's forward at a small batch (AlexNet's fc6: x [10, 9216] against
// W [4096, 9216]). Each row of B is read once, in order, and dotted with every row of A
// (K in blocks that keep A's block in L1); a BLAS packs all of B first, a second pass
// over all of it. kSmallM rows' accumulators fit the level's registers.
constexpr int64_t kSmallM = simd::kRegisters >= 32 ? 16 : 12;

// kM is a constant so that the accumulators live in registers (a runtime row count left
// them on the stack: slower than the BLAS).
template <int kM>
void small_m_nt_rows(int64_t n0, int64_t n1, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float beta, float* C, int64_t ldc) {
  // A's block: up to 384 KB (in L2). B is then read in whole rows, which streams at about
  // twice the bandwidth of row pieces.
  const int64_t block = std::max<int64_t>(kLanes, (384 * 1024 / 4 / kM) / kLanes * kLanes);
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t m = 0; m < kM; ++m) C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
  // A's block is copied into rows one cache line longer than a multiple of 64 bytes: rows
  // whose stride is a multiple of 4 KB (9216 floats, or a 6144-float block) all fall in
  // the same L1 sets and evict one another.
  thread_local std::vector<float> a_block;
  for (int64_t k0 = 0; k0 < K; k0 += block) {
    const int64_t k1 = std::min(K, k0 + block), len = k1 - k0, full = len / kLanes * kLanes;
    const int64_t stride = (len + 15) / 16 * 16 + 16;
    const simd::Mask tail = simd::lanes(0, len - full);
    a_block.resize(static_cast<size_t>(kM * stride));
    for (int m = 0; m < kM; ++m) std::copy(A + m * lda + k0, A + m * lda + k1, a_block.data() + m * stride);
    const float* a = a_block.data();
    for (int64_t n = n0; n < n1; ++n) {
      const float* b = B + n * ldb + k0;
      Vec acc[kM];
      for (int m = 0; m < kM; ++m) acc[m] = simd::zero();
      for (int64_t k = 0; k < full; k += kLanes) {
        simd::prefetch(b + k + 512);  // 2 KB ahead
        const Vec bv = simd::load(b + k);
        for (int m = 0; m < kM; ++m) acc[m] = simd::fma(simd::load(a + m * stride + k), bv, acc[m]);
      }
      if (len > full) {
        const Vec bv = simd::load(tail, b + full);
        for (int m = 0; m < kM; ++m) acc[m] = simd::fma(simd::load(tail, a + m * stride + full), bv, acc[m]);
      }
      for (int m = 0; m < kM; ++m) C[m * ldc + n] += alpha * simd::reduce_add(acc[m]);
    }
  }
}

// C = alpha A B + beta C for a few rows of A (M <= kSmallM) and a large B [K, N] read in
// place: an InnerProduct's input gradient at a small batch (dy [10, 4096] times AlexNet's
// fc6 weights [4096, 9216]). A block of kV vectors of columns keeps its M rows of C in
// registers while k runs down B, one or two cache lines of each row of B, rows a page or
// more apart: those are fetched 8 rows ahead, which the prefetchers do not do across
// pages. (The BLAS packed all of B first: a pass over it to memory and back.)
template <int kM>
void small_m_nn_columns(int64_t n0, int64_t n1, int64_t K, float alpha, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Accumulators kM kV, B's kV vectors and a broadcast within the level's registers.
  constexpr int kV = 2 * kM + 3 <= simd::kRegisters ? 2 : 1;
  for (int64_t n = n0; n < n1; n += kLanes * kV) {
    const simd::Mask mask[2] = {simd::lanes(0, n1 - n), simd::lanes(0, n1 - n - kLanes)};
    Vec acc[kM][kV];
    for (int m = 0; m < kM; ++m)
      for (int v = 0; v < kV; ++v) acc[m][v] = simd::zero();
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb + n;
      for (int v = 0; v < kV; ++v) simd::prefetch(b + 8 * ldb + kLanes * v);
      Vec bv[kV];
      for (int v = 0; v < kV; ++v) bv[v] = simd::load(mask[v], b + kLanes * v);
      for (int m = 0; m < kM; ++m) {
        const Vec a = simd::set1(A[m * lda + k]);
        for (int v = 0; v < kV; ++v) acc[m][v] = simd::fma(a, bv[v], acc[m][v]);
      }
    }
    for (int m = 0; m < kM; ++m)
      for (int v = 0; v < kV; ++v) {
        float* c = C + m * ldc + n + kLanes * v;
        Vec out = simd::mul(simd::set1(alpha), acc[m][v]);
        if (beta != 0.0f) out = simd::fma(simd::set1(beta), simd::load(mask[v], c), out);
        simd::store(mask[v], c, out);
      }
  }
}

using SmallMRows = void (*)(int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                            float*, int64_t);
// The kernels for 1 to kSmallM rows, B given transposed (small_m_nt_rows) or not.
template <bool kTransB, int... kMs>
constexpr std::array<SmallMRows, sizeof...(kMs)> small_m_table(std::integer_sequence<int, kMs...>) {
  return {(kTransB ? &small_m_nt_rows<kMs + 1> : &small_m_nn_columns<kMs + 1>)...};
}

// kernel(n0, n1, ...) over ranges of B's columns [0, N), one per lamina thread (one range
// inside a parallel region), each a whole number of `unit` columns.
void over_columns(SmallMRows kernel, int64_t unit, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int threads = in_parallel() ? 1 : max_threads();
  const int64_t units = (N + unit - 1) / unit;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#ifdef _OPENMP
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int64_t t = 0, nt = 1;
#endif
    const int64_t n0 = std::min(N, units * t / nt * unit), n1 = std::min(N, units * (t + 1) / nt * unit);
    if (n0 < n1) kernel(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

// A few rows of A times a large B^T or B (N * K >= 2^20), by the kernels above.
bool small_m(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (trans_a || M > kSmallM || N * K < (int64_t(1) << 20)) return false;
  static constexpr auto nt = small_m_table<true>(std::make_integer_sequence<int, kSmallM>());
  static constexpr auto nn = small_m_table<false>(std::make_integer_sequence<int, kSmallM>());
  // (B's rows 32 columns at a time: each thread's a whole number of blocks)
  over_columns(trans_b ? nt[M - 1] : nn[M - 1], trans_b ? 1 : 32, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  return true;
}

// C = A B (+ C) of a small depth (K <= 16) into a large C (4 MB or more), by conv_gemm with
// C streamed past the caches: an InnerProduct's weight gradient at a small batch (dy^T
// [4096, 10] times x [10, 9216] for AlexNet's fc6), which the BLAS zeroed and then added
// into, two passes over C through the caches for a few multiplies per element.
bool small_k(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (!has_conv_gemm() || K > 16 || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) ||
      M * N < (int64_t(1) << 20))
    return false;
  const ConvGemmA a{A, lda, trans_a};
  if (trans_b)
    conv_gemm_parallel(M, K, a, TransposedB{B, ldb}, N, beta != 0.0f, C, ldc, true);
  else
    conv_gemm_parallel(M, K, a, B, ldb, N, nullptr, beta != 0.0f, C, ldc, true);
  return true;
}

}  // namespace
#endif

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (small_m(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    if (small_k(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
  }
#endif
#ifdef LAMINA_HAVE_BLAS
  static const bool single = (blas_single_thread(), true);  // one thread pool: ours
  (void)single;
  const int64_t biggest = std::max({M, N, K, lda, ldb, ldc});
  if (biggest < INT_MAX && M * N < INT_MAX && M * K < INT_MAX && K * N < INT_MAX) {  // 32-bit BLAS ints
    const int m = int(M), n = int(N), k = int(K), la = int(std::max<int64_t>(lda, 1)),
              lb = int(std::max<int64_t>(ldb, 1)), lc = int(std::max<int64_t>(ldc, 1));
    // Split the larger of M and N over lamina's threads when there is work for each: one
    // block per thread, or in deterministic mode (parallel.hpp) blocks of kFixedBlock
    // whatever the thread count, since a BLAS's sums for a row can depend on the extent of
    // the call it is in.
    constexpr int64_t kFixedBlock = 128;
    const int threads = in_parallel() ? 1 : max_threads();
    const bool big = M * N * K >= (int64_t(1) << 20), fixed = deterministic();
    const bool by_rows = M >= N;
    const int64_t extent = by_rows ? M : N;
    const int64_t blocks = !big ? 1
                           : fixed ? (extent + kFixedBlock - 1) / kFixedBlock
                                   : std::min<int64_t>(threads, std::max(M, N) / 16);
    if (blocks <= 1) {
      blas_gemm(trans_a, trans_b, m, n, k, alpha, A, la, B, lb, beta, C, lc);
      return;
    }
#pragma omp parallel for schedule(static) num_threads(int(std::min<int64_t>(blocks, threads)))
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t lo = fixed ? b * kFixedBlock : extent * b / blocks;
      const int64_t hi = fixed ? std::min(extent, lo + kFixedBlock) : extent * (b + 1) / blocks;
      if (by_rows) {
        const T* a = trans_a ? A + lo : A + lo * lda;
        blas_gemm(trans_a, trans_b, int(hi - lo), n, k, alpha, a, la, B, lb, beta, C + lo * ldc, lc);
      } else {
        const T* bb = trans_b ? B + lo * ldb : B + lo;
        blas_gemm(trans_a, trans_b, m, int(hi - lo), k, alpha, A, la, bb, lb, beta, C + lo, lc);
      }
    }
    return;
  }
#endif
  builtin_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_builtin(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  builtin_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void fill_gemm(Table& t) {
  LAMINA_FILL(t, gemm);
  LAMINA_FILL(t, gemm_builtin);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
