// The built-in GEMM and matmul against a naive triple loop in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/lamina.hpp"
#include "levels.hpp"

namespace lamina {

template <class T>
using GemmFn = kernels::Kernel<void(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T,
                                    T*, int64_t)>;

// The active level's kernels.
const kernels::Table& cpu() { return kernels::cpu::table(); }

LAMINA_AT_EACH_LEVEL(Gemm);
LAMINA_AT_EACH_LEVEL(ConvGemm);
LAMINA_AT_EACH_LEVEL(DotGemm);

template <class T>
static void check_gemm(GemmFn<T> gemm, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta) {
  std::mt19937 rng(static_cast<unsigned>(M * 131 + N * 17 + K));
  std::normal_distribution<double> normal;
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;  // padded rows
  std::vector<T> A((ta ? K : M) * lda), B((tb ? N : K) * ldb), C(M * ldc);
  for (auto& v : A) v = static_cast<T>(normal(rng));
  for (auto& v : B) v = static_cast<T>(normal(rng));
  for (auto& v : C) v = static_cast<T>(normal(rng));
  std::vector<T> C0 = C;
  gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0, mag = 0;
      for (int64_t p = 0; p < K; ++p) {
        double a = ta ? A[p * lda + i] : A[i * lda + p];
        double b = tb ? B[j * ldb + p] : B[p * ldb + j];
        acc += a * b;
        mag += std::fabs(a * b);
      }
      double ref = alpha * acc + (beta == T(0) ? 0.0 : beta * double(C0[i * ldc + j]));
      ASSERT_NEAR(C[i * ldc + j], ref, tol * (1 + std::fabs(alpha) * mag))
          << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K << " at " << i << "," << j;
    }
}

TEST_P(Gemm, MatchesNaiveLoopAcrossShapesAndTransposes) {
  // Odd sizes, sizes crossing the 256/512 panel edges, K = 1, M = 1.
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1}, {3, 5, 7}, {17, 33, 1}, {1, 600, 300}, {64, 513, 257}, {129, 40, 520}};
  for (auto [M, N, K] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        for (GemmFn<float> f : {cpu().f32.gemm, cpu().f32.gemm_builtin})
          check_gemm<float>(f, ta, tb, M, N, K, 1.0f, 0.0f);
        for (GemmFn<double> f : {cpu().f64.gemm, cpu().f64.gemm_builtin})
          check_gemm<double>(f, ta, tb, M, N, K, -0.5, 2.0);
      }
}

TEST_P(Gemm, FewRowsTimesATransposedWideMatrix) {
  // A [M <= 16, K] B^T with N * K >= 2^20: an InnerProduct forward at a small batch, which
  // has its own float32 kernel (K with a tail past the last 16; K in two blocks for M=16).
  for (auto [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 300, 3500}, {10, 300, 3500},
                                                                           {16, 160, 7000}}) {
    check_gemm<float>(cpu().f32.gemm, false, true, M, N, K, 1.0f, 0.0f);
    check_gemm<float>(cpu().f32.gemm, false, true, M, N, K, -0.5f, 2.0f);
  }
  std::vector<float> A(3 * 1100, 1.0f), B(1000 * 1100, 0.5f), C(3 * 1000, NAN);
  cpu().f32.gemm(false, true, 3, 1000, 1100, 1.0f, A.data(), 1100, B.data(), 1100, 0.0f, C.data(), 1000);
  for (float c : C) ASSERT_EQ(c, 550.0f);  // beta = 0: the NaNs in C are not read
}

TEST_P(Gemm, FewRowsTimesAWideMatrix) {
  // A [M <= 16, K] B [K, N] with N * K >= 2^20: an InnerProduct's input gradient at a small
  // batch, which has its own float32 kernel: 32-column blocks for up to 14 rows, 16 past;
  // N off the blocks (a partial last one, and on two threads unequal shares).
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (auto [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 3500, 300}, {10, 3500, 300}, {14, 1001, 1100}, {15, 2000, 600}, {16, 1617, 700}}) {
      check_gemm<float>(cpu().f32.gemm, false, false, M, N, K, 1.0f, 0.0f);
      check_gemm<float>(cpu().f32.gemm, false, false, M, N, K, -0.5f, 2.0f);
    }
    std::vector<float> A(3 * 1100, 1.0f), B(1100 * 1000, 0.5f), C(3 * 1000, NAN);
    cpu().f32.gemm(false, false, 3, 1000, 1100, 1.0f, A.data(), 1100, B.data(), 1000, 0.0f, C.data(), 1000);
    for (float c : C) ASSERT_EQ(c, 550.0f);  // beta = 0: the NaNs in C are not read
  }
  set_num_threads(before);
}

TEST_P(Gemm, SmallDepthIntoALargeC) {
  // K <= 16 into a C of 1M floats or more with alpha 1 and beta 0 or 1 (an InnerProduct's
  // weight gradient at a small batch): by conv_gemm, C streamed past the caches where its
  // rows are whole cache lines from a 64-byte boundary. Padded rows (never streamed), every
  // transpose, on one thread and two; then aligned rows, whose NaNs beta 0 must not read.
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    // (K = 0 too: C is beta C, zeros for beta 0.)
    for (auto [M, N, K] :
         std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1000, 1100, 1}, {1030, 1030, 10}, {1024, 1100, 0}})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (float beta : {0.0f, 1.0f}) check_gemm<float>(cpu().f32.gemm, ta, tb, M, N, K, 1.0f, beta);
    const int64_t M = 1024, N = 1040, K = 9;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::vector<float> A(K * M), B(K * N), Cbuf(M * N + 16, NAN);
    for (auto* v : {&A, &B})
      for (auto& e : *v) e = normal(rng);
    float* C = Cbuf.data() + (64 - reinterpret_cast<uintptr_t>(Cbuf.data()) % 64) % 64 / sizeof(float);
    cpu().f32.gemm(true, false, M, N, K, 1.0f, A.data(), M, B.data(), N, 0.0f, C, N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double ref = 0;
        for (int64_t p = 0; p < K; ++p) ref += double(A[p * M + i]) * B[p * N + j];
        ASSERT_NEAR(C[i * N + j], ref, 1e-5 * (1 + std::fabs(ref))) << "threads " << threads << " at " << i << "," << j;
      }
  }
  set_num_threads(before);
}

TEST_P(Gemm, BetaZeroIgnoresNaNsInC) {
  for (GemmFn<float> f : {cpu().f32.gemm, cpu().f32.gemm_builtin}) {
    std::vector<float> A = {1, 2}, B = {3, 4}, C = {NAN};
    f(false, false, 1, 1, 2, 1.0f, A.data(), 2, B.data(), 1, 0.0f, C.data(), 1);
    EXPECT_EQ(C[0], 11.0f);
  }
}

TEST_P(Gemm, CallsFromInsideAParallelRegionAgree) {
  // Each thread runs its own GEMM (as conv does over the batch); results match serial ones.
  const int64_t M = 37, N = 29, K = 53, batch = 8;
  std::vector<float> A(batch * M * K), B(K * N), C(batch * M * N), ref(batch * M * N);
  for (size_t i = 0; i < A.size(); ++i) A[i] = float((i * 7) % 13) - 6.0f;
  for (size_t i = 0; i < B.size(); ++i) B[i] = float((i * 5) % 11) - 5.0f;
  for (int64_t b = 0; b < batch; ++b)
    cpu().f32.gemm_builtin(false, false, M, N, K, 1.0f, &A[b * M * K], K, B.data(), N, 0.0f,
                                      &ref[b * M * N], N);
#pragma omp parallel for
  for (int64_t b = 0; b < batch; ++b)
    cpu().f32.gemm(false, false, M, N, K, 1.0f, &A[b * M * K], K, B.data(), N, 0.0f, &C[b * M * N], N);
  EXPECT_EQ(C, ref);  // small integers: exact in float whatever the summation order
}

TEST_P(Gemm, LargeProductsSplitOverThreadsAgree) {
  // Big enough for gemm to split rows (M >= N) or columns (N > M) over the threads, in
  // every transpose combination and with padded leading dimensions.
  set_num_threads(2);
  for (auto [M, N] : {std::pair<int64_t, int64_t>{300, 70}, {40, 260}}) {
    const int64_t K = 120, pad = 3;
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        std::vector<float> A((ta ? K : M) * lda), B((tb ? N : K) * ldb), C(M * ldc, 7.0f), ref(M * ldc, 7.0f);
        for (size_t i = 0; i < A.size(); ++i) A[i] = float((i * 7) % 13) - 6.0f;
        for (size_t i = 0; i < B.size(); ++i) B[i] = float((i * 5) % 11) - 5.0f;
        cpu().f32.gemm_builtin(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 2.0f, ref.data(), ldc);
        cpu().f32.gemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 2.0f, C.data(), ldc);
        EXPECT_EQ(C, ref) << M << "x" << N << " ta=" << ta << " tb=" << tb;
      }
  }
}

// conv_gemm (the convolution GEMM, A read in place): A row-major and given transposed,
// panels cut short (M off the 8-row panels: the rows past M must not be read or written),
// strips cut short (columns off the 32-column strips, a sub-range [p0, p1)), depths past
// one 256-row copied slice, bias and accumulate, the strips read in place and copied (64
// rows or more), and the product split over two threads. With the strips copied, the last
// 1-8 columns past a multiple of 16 are dot products: 49 of [3, 52) (one), 100 of [3, 103)
// (four, after two groups of strips), 5 (only dot products), and on two threads 49 (each
// thread's rows) and 292 (the second thread's strips [160, 292)). Each with B a matrix and
// given transposed (gathered into the copied strips), and with streaming stores asked for
// (C from a 64-byte boundary, its rows whole cache lines apart). K = 0 (72 rows, which
// would copy strips): C is the bias, zeros or left as it was.
TEST_P(ConvGemm, MatchesNaiveLoop) {
  if (!cpu().conv_gemm) GTEST_SKIP() << "no conv_gemm at level " << isa_name(GetParam());
  const int before = num_threads();
  for (const auto& [M, K, P] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 5, 17}, {8, 300, 32},
                                {13, 600, 49}, {64, 37, 100}, {72, 520, 70}, {20, 9, 200},
                                {80, 600, 57}, {136, 520, 108}, {72, 300, 5}, {256, 300, 49},
                                {56, 1000, 292}, {72, 0, 100}}) {
    for (bool bt : {false, true})  // B as a matrix, or given transposed (TransposedB)
      for (bool stream : {false, true})
        for (bool trans : {false, true})
          for (int mode = 0; mode < 3; ++mode) {  // plain, bias, accumulate
            if (bt && mode == 1) continue;        // (no bias with B transposed)
            std::mt19937 rng(static_cast<unsigned>(M * 7 + K * 3 + P + trans));
            std::normal_distribution<float> normal;
            // A exactly [M, K] (or [K, M]) with nothing after it: a read past A reads past the
            // vector. Streamed, C's rows are whole cache lines apart from a 64-byte boundary.
            const int64_t lda = trans ? M : K, ldb = bt ? K + 3 : P + 3;
            const int64_t ldc = stream ? (P + 2 + 15) / 16 * 16 : P + 2;
            std::vector<float> A(static_cast<size_t>(M * K)), B(bt ? P * ldb : K * ldb), bias(M), Cbuf(M * ldc + 16);
            for (auto* v : {&A, &B, &bias, &Cbuf})
              for (auto& e : *v) e = normal(rng);
            float* C = Cbuf.data() + (64 - reinterpret_cast<uintptr_t>(Cbuf.data()) % 64) % 64 / sizeof(float);
            const std::vector<float> C0(C, C + M * ldc);
            const int64_t p0 = P > 40 ? 3 : 0, p1 = P > 40 ? P - 5 : P;
            const kernels::ConvGemmA a{A.data(), lda, trans};
            const kernels::TransposedB b_t{B.data(), ldb};
            const float* bias_or_null = mode == 1 ? bias.data() : nullptr;
            for (int threads : {1, 2}) {
              std::copy(C0.begin(), C0.end(), C);
              set_num_threads(threads);
              if (threads == 1 && bt)
                cpu().conv_gemm_tb(M, K, a, b_t, p0, p1, mode == 2, C, ldc, stream);
              else if (threads == 1)
                cpu().conv_gemm(M, K, a, B.data(), ldb, p0, p1, bias_or_null, mode == 2, C, ldc, stream);
              else if (bt)
                cpu().conv_gemm_tb_parallel(M, K, a, b_t, p1, mode == 2, C, ldc, stream);
              else
                cpu().conv_gemm_parallel(M, K, a, B.data(), ldb, p1, bias_or_null, mode == 2, C, ldc, stream);
              const int64_t first = threads == 1 ? p0 : 0;
              for (int64_t m = 0; m < M; ++m)
                for (int64_t j = 0; j < ldc; ++j) {
                  const float c = C[m * ldc + j];
                  if (j < first || j >= p1) {
                    ASSERT_EQ(c, C0[m * ldc + j]) << "column " << j << " outside the range written";
                    continue;
                  }
                  double ref = mode == 1 ? bias[m] : mode == 2 ? C0[m * ldc + j] : 0.0, mag = std::fabs(ref);
                  for (int64_t k = 0; k < K; ++k) {
                    const double t =
                        double(trans ? A[k * lda + m] : A[m * lda + k]) * (bt ? B[j * ldb + k] : B[k * ldb + j]);
                    ref += t;
                    mag += std::fabs(t);
                  }
                  ASSERT_NEAR(c, ref, 1e-5 * (1 + mag))
                      << M << "x" << K << "x" << P << " B transposed " << bt << " stream " << stream << " trans=" << trans
                      << " mode " << mode << " threads " << threads << " at " << m << "," << j;
                }
            }
          }
  }
  set_num_threads(before);
}

// dot_gemm (a convolution's weight gradient): C += A B^T from per-lane partial sums, over
// every edge tile (1-4 rows of A by 1-6 of B), positions off the 16-lane steps and past one
// 1024-position pass, padded rows, and sums accumulated over two calls.
TEST_P(DotGemm, MatchesNaiveLoop) {
  if (!cpu().conv_gemm) GTEST_SKIP() << "no conv_gemm at level " << isa_name(GetParam());
  for (const auto& [M, N, P] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {4, 6, 16}, {3, 5, 17},
                                {32, 75, 1024}, {7, 13, 2500}, {20, 25, 576}, {2, 11, 33}}) {
    std::mt19937 rng(static_cast<unsigned>(M * 7 + N * 3 + P));
    std::normal_distribution<float> normal;
    const int64_t lda = P + 5, ldb = P + 3, ldc = N + 2;
    std::vector<float> A(M * lda), B(N * ldb), C(M * ldc);
    for (auto& v : A) v = normal(rng);
    for (auto& v : B) v = normal(rng);
    for (auto& v : C) v = normal(rng);
    const std::vector<float> C0 = C;
    std::vector<float> acc(cpu().dot_gemm_size(M, N), 0.0f);
    const int64_t half = P / 2;  // two calls: positions [0, half) then [half, P)
    cpu().dot_gemm(M, N, half, A.data(), lda, B.data(), ldb, acc.data());
    cpu().dot_gemm(M, N, P - half, A.data() + half, lda, B.data() + half, ldb, acc.data());
    cpu().dot_gemm_finish(M, N, acc.data(), C.data(), ldc);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double ref = C0[i * ldc + j], mag = std::fabs(ref);
        for (int64_t p = 0; p < P; ++p) {
          ref += double(A[i * lda + p]) * B[j * ldb + p];
          mag += std::fabs(double(A[i * lda + p]) * B[j * ldb + p]);
        }
        ASSERT_NEAR(C[i * ldc + j], ref, 1e-5 * (1 + mag)) << M << "x" << N << " P=" << P << " at " << i << "," << j;
      }
    for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[j], C0[j]) << "padding of C written";
  }
}

TEST(Matmul, ValuesAndErrors) {
  Tensor a = Tensor::full({2, 3}, 2.0, DType::f64), b = Tensor::full({3, 4}, 0.5, DType::f64);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 4}));
  EXPECT_DOUBLE_EQ(c.at({1, 2}), 3.0);
  Tensor strided = Tensor::full({6, 3}, 1.0, DType::f64).slice(0, 6, 2);  // non-contiguous input
  EXPECT_DOUBLE_EQ(matmul(strided, b).at({2, 3}), 1.5);
  EXPECT_THROW(matmul(a, a), ShapeError);
  EXPECT_THROW(matmul(a, Tensor::zeros({3, 4})), DTypeError);
  EXPECT_THROW(matmul(Tensor::zeros({3}), b), ShapeError);
  try {
    matmul(a, a);
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "matmul: inner dimensions differ: a is [2, 3], b is [2, 3]");
  }
}

}  // namespace lamina
