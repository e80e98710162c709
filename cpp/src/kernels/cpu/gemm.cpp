// GEMM: a BLAS when lamina is built with one (LAMINA_BLAS), else the built-in kernel.
//
// The built-in GEMM is blocked so that a KC x NC panel of B stays in L2 while every row
// of A streams past it; the innermost loop is an axpy over a contiguous row of the panel,
// which the compiler vectorises. It is the portable fallback.
//
// Threads: GEMMs called from inside one of lamina's parallel regions (conv over the
// batch) must each run on their caller's thread alone; OpenBLAS's pool (a pthreads
// build) would otherwise serialise the callers behind its lock or oversubscribe the
// cores. The code that opens such a region holds a BlasSerialGuard. A GEMM called from
// outside uses the BLAS's threads, whose count set_num_threads keeps equal to lamina's.
#include <algorithm>
#include <climits>
#include <vector>

#include "kernels/kernels.hpp"

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

BlasSerialGuard::BlasSerialGuard() {
#if defined(LAMINA_HAVE_OPENBLAS)
  previous_ = LAMINA_BLAS(openblas_get_num_threads)();
  if (previous_ != 1) LAMINA_BLAS(openblas_set_num_threads)(1);
#endif
}

BlasSerialGuard::~BlasSerialGuard() {
#if defined(LAMINA_HAVE_OPENBLAS)
  if (previous_ != 1) LAMINA_BLAS(openblas_set_num_threads)(previous_);
#endif
}

const char* blas_name() {
#if defined(LAMINA_HAVE_OPENBLAS)
  return LAMINA_BLAS(openblas_get_config)();
#elif defined(LAMINA_HAVE_BLAS)
  return "system BLAS";
#else
  return "built-in";
#endif
}

void blas_set_num_threads(int n) {
#if defined(LAMINA_HAVE_OPENBLAS)
  LAMINA_BLAS(openblas_set_num_threads)(n);
#else
  (void)n;
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
  const int64_t biggest = std::max({M, N, K, lda, ldb, ldc});
  if (biggest < INT_MAX && M * N < INT_MAX && M * K < INT_MAX && K * N < INT_MAX) {  // 32-bit BLAS ints
    const int m = int(M), n = int(N), k = int(K), la = int(std::max<int64_t>(lda, 1)),
              lb = int(std::max<int64_t>(ldb, 1)), lc = int(std::max<int64_t>(ldc, 1));
    blas_gemm(trans_a, trans_b, m, n, k, alpha, A, la, B, lb, beta, C, lc);
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
