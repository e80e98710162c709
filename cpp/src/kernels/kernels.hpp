// Kernels: raw pointers and sizes only (no Tensor, no tape, no Python). cpu:: is the
// reference implementation; cuda:: will mirror it with the same names and arguments.
// Matrices are row-major with a leading dimension (elements between rows).
#pragma once

#include <cstdint>

namespace lamina::kernels::cpu {

// C[M,N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T.
// op(A) is M x K (A is K x M when trans_a), op(B) is K x N (B is N x K when trans_b).
// beta == 0 overwrites C without reading it (NaNs already in C do not propagate).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The same product by lamina's built-in kernel, whatever BLAS is configured (tests and
// benchmarks compare the two).
template <class T>
void gemm_builtin(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// What backs gemm: OpenBLAS's configuration string (with its core type), "system BLAS"
// or "built-in"; and its thread count (a no-op without OpenBLAS).
const char* blas_name();
void blas_set_num_threads(int n);

// Held (on the calling thread, outside the region) around a parallel region whose
// threads each call gemm: the BLAS runs single-threaded until the guard goes.
class BlasSerialGuard {
 public:
  BlasSerialGuard();
  ~BlasSerialGuard();
  BlasSerialGuard(const BlasSerialGuard&) = delete;
  BlasSerialGuard& operator=(const BlasSerialGuard&) = delete;

 private:
  int previous_ = 1;
};

}  // namespace lamina::kernels::cpu
