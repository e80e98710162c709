// GEMM: a BLAS when lamina is built with one (LAMINA_BLAS), else the built-in kernel.
//
// The built-in GEMM is blocked so that a KC x NC panel of B stays in L2 while every row
// of A streams past it; the innermost loop is an axpy over a contiguous row of the panel,
// which the compiler vectorises. It is the portable fallback.
//
// Threads: lamina has one thread pool, OpenMP's. The BLAS always runs single-threaded;
// a large GEMM called outside a parallel region is split into row or column blocks, one
// BLAS call per lamina thread. Two pools (OpenBLAS's pthreads and OpenMP) busy-wait
// against each other on a small machine: a whole LeNet step ran 2.5x slower that way,
// as each op handed the cores from one spinning pool to the other.
#include <algorithm>
#include <climits>
#include <vector>

#include "kernels/kernels.hpp"

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

namespace lamina::kernels::cpu {

namespace {
#ifdef _OPENMP
bool in_parallel() { return omp_in_parallel(); }
int max_threads() { return omp_get_max_threads(); }
#else
bool in_parallel() { return false; }
int max_threads() { return 1; }
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

const char* blas_name() {
#if defined(LAMINA_HAVE_OPENBLAS)
  return LAMINA_BLAS(openblas_get_config)();
#elif defined(LAMINA_HAVE_BLAS)
  return "system BLAS";
#else
  return "built-in";
#endif
}

void blas_single_thread() {
#if defined(LAMINA_HAVE_OPENBLAS)
  LAMINA_BLAS(openblas_set_num_threads)(1);
#endif
}

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

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#ifdef LAMINA_HAVE_BLAS
  static const bool single = (blas_single_thread(), true);  // one thread pool: ours
  (void)single;
  const int64_t biggest = std::max({M, N, K, lda, ldb, ldc});
  if (biggest < INT_MAX && M * N < INT_MAX && M * K < INT_MAX && K * N < INT_MAX) {  // 32-bit BLAS ints
    const int m = int(M), n = int(N), k = int(K), la = int(std::max<int64_t>(lda, 1)),
              lb = int(std::max<int64_t>(ldb, 1)), lc = int(std::max<int64_t>(ldc, 1));
    // Split the larger of M and N over lamina's threads when there is work for each.
    const int threads = in_parallel() ? 1 : max_threads();
    const int64_t flops = M * N * K;
    const int blocks = flops < (int64_t(1) << 20) ? 1 : int(std::min<int64_t>(threads, std::max(M, N) / 16));
    if (blocks <= 1) {
      blas_gemm(trans_a, trans_b, m, n, k, alpha, A, la, B, lb, beta, C, lc);
      return;
    }
    const bool by_rows = M >= N;
    const int64_t extent = by_rows ? M : N;
#pragma omp parallel for schedule(static) num_threads(blocks)
    for (int b = 0; b < blocks; ++b) {
      const int64_t lo = extent * b / blocks, hi = extent * (b + 1) / blocks;
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

template void gemm_builtin<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                  const float*, int64_t, float, float*, int64_t);
template void gemm_builtin<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                   const double*, int64_t, double, double*, int64_t);
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace lamina::kernels::cpu
