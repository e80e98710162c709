// The built-in GEMM: blocked so that a KC x NC panel of B stays in L2 while every row of
// A streams past it; the innermost loop is an axpy over a contiguous row of the panel,
// which the compiler vectorises. It is the portable fallback; a BLAS replaces it when
// one is configured.
#include <algorithm>
#include <vector>

#include "kernels/kernels.hpp"

namespace lamina::kernels::cpu {

namespace {
constexpr int64_t kKC = 256;  // depth of a panel
constexpr int64_t kNC = 512;  // width of a panel
}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
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

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace lamina::kernels::cpu
