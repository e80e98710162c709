// The GEMM inside convolution, C[M, P] = A[M, K] B[K, P], for float32 on AVX-512 CPUs.
//
// Why not the BLAS: in a convolution B is the im2col matrix of one image, used by only M
// rows of A (the output channels, often 20 to 64). A BLAS packs B into its own layout
// before multiplying, and with so few rows to amortise it the packing took a third of
// the GEMM time (perf: sgemm_itcopy 16% beside sgemm_kernel 38% on CIFAR10-quick conv2).
// Here A (the weights, shared by every image) is packed once per call into panels of 8
// rows, and B is read in place: a strip of 32 columns of B, K rows deep, stays in L2 while
// every 8-row panel of A passes over it.
//
// Micro-kernel: an 8 x 32 tile of C in 16 zmm accumulators; per k, two loads of B, eight
// broadcasts of A and sixteen FMAs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/avx512.hpp"
#include "kernels/kernels.hpp"

#ifdef _OPENMP
#include <omp.h>
#else
static bool omp_in_parallel() { return false; }
static int omp_get_num_threads() { return 1; }
static int omp_get_thread_num() { return 0; }
#endif

namespace lamina::kernels::cpu {

namespace {
constexpr int64_t kMR = 8;   // rows of a panel of A
constexpr int64_t kNR = 32;  // columns of a strip of B
constexpr int64_t kKC = 256;  // rows of a copied strip (32 KB)
constexpr int64_t kGroup = 2;  // strips copied together
}  // namespace

size_t packed_a_size(int64_t M, int64_t K) {
  return static_cast<size_t>((M + kMR - 1) / kMR * kMR * K);
}

namespace {

// Columns [k0, k1) of panel m0 of A (rows m0..m0+8, zeros past M) in scalar loops: the
// transposed and portable paths, and the tail columns of the vector path.
void pack_panel(const float* A, int64_t M, int64_t k0, int64_t k1, int64_t lda, bool trans, int64_t m0,
                float* panel) {
  for (int64_t k = k0; k < k1; ++k)
    for (int64_t r = 0; r < kMR; ++r) {
      const int64_t m = m0 + r;
      panel[k * kMR + r] = m < M ? (trans ? A[k * lda + m] : A[m * lda + k]) : 0.0f;
    }
}

#ifdef LAMINA_AVX512
// Panel m0 of a row-major A: 16 columns at a time, the 8 rows loaded and transposed in
// registers (8x16 -> 16x8: pairs of rows interleaved, then pairs of pairs, then the
// 128-bit lanes gathered). The scalar loop above gathered one float per store, and packing
// ResNet-50's weights took 14 ms of a 140 ms forward at batch 1.
__attribute__((target("avx512f"))) void pack_panel_rows(const float* A, int64_t M, int64_t K, int64_t lda,
                                                                 int64_t m0, float* panel) {
  const int64_t k16 = K / 16 * 16;
  // Lanes 0-3 of each half: 4 rows from the first source, then 4 from the second.
  const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int64_t k = 0; k < k16; k += 16) {
    __m512 r[kMR];
    for (int64_t i = 0; i < kMR; ++i) r[i] = m0 + i < M ? _mm512_loadu_ps(A + (m0 + i) * lda + k) : _mm512_setzero_ps();
    // The masked forms with every lane set: the plain ones pass _mm512_undefined_ps to the
    // builtin, which GCC 12's -Wmaybe-uninitialized reports.
    __m512 t[kMR], u[kMR];
    for (int64_t i = 0; i < kMR; i += 2) {
      t[i] = _mm512_mask_unpacklo_ps(r[i], 0xFFFF, r[i], r[i + 1]);
      t[i + 1] = _mm512_mask_unpackhi_ps(r[i], 0xFFFF, r[i], r[i + 1]);
    }
    for (int64_t i = 0; i < kMR; i += 4) {  // u[i + j]: in lane l, column 4l + j of rows i..i+3
      const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
      const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
      u[i] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(t0, 0xFF, t0, t2));
      u[i + 1] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(t0, 0xFF, t0, t2));
      u[i + 2] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(t1, 0xFF, t1, t3));
      u[i + 3] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(t1, 0xFF, t1, t3));
    }
    float* out = panel + k * kMR;
    for (int64_t j = 0; j < 4; ++j) {  // columns j, 4 + j, 8 + j, 12 + j
      const __m512 a = _mm512_permutex2var_ps(u[j], lo, u[4 + j]);  // columns j and 4 + j, rows 0-7
      const __m512 b = _mm512_permutex2var_ps(u[j], hi, u[4 + j]);  // columns 8 + j and 12 + j
      // Each half to its column's place: lanes 8-15 stored at (place - 8) under a mask.
      _mm512_mask_storeu_ps(out + j * kMR, 0x00FF, a);
      _mm512_mask_storeu_ps(out + (4 + j) * kMR - 8, 0xFF00, a);
      _mm512_mask_storeu_ps(out + (8 + j) * kMR, 0x00FF, b);
      _mm512_mask_storeu_ps(out + (12 + j) * kMR - 8, 0xFF00, b);
    }
  }
  pack_panel(A, M, k16, K, lda, false, m0, panel);
}
#endif

}  // namespace

void pack_a(const float* A, int64_t M, int64_t K, int64_t lda, bool trans, float* out) {
  const int64_t panels = (M + kMR - 1) / kMR;
#ifdef LAMINA_AVX512
  const bool vector = conv_gemm_available();
#else
  const bool vector = false;
#endif
  // A transposed A gives 8 floats of each of its rows to a panel; taking 64 rows at a time
  // for every panel keeps the rows' pages in the TLB (all rows per panel: 1.5x slower).
  const int64_t block = trans ? 64 : K;
#pragma omp parallel if (!omp_in_parallel() && M * K >= (int64_t(1) << 16))
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t i0 = panels * t / threads, i1 = panels * (t + 1) / threads;
    for (int64_t k0 = 0; k0 < K; k0 += block) {
      const int64_t k1 = std::min(K, k0 + block);
      for (int64_t i = i0; i < i1; ++i) {
        float* panel = out + i * kMR * K;
        const int64_t m0 = i * kMR;
#ifdef LAMINA_AVX512
        if (vector && !trans) {
          pack_panel_rows(A, M, K, lda, m0, panel);
          continue;
        }
#endif
        if (trans && m0 + kMR <= M) {  // a full panel of A^T: 8 contiguous floats per row
          for (int64_t k = k0; k < k1; ++k) std::memcpy(panel + k * kMR, A + k * lda + m0, kMR * sizeof(float));
          continue;
        }
        pack_panel(A, M, k0, k1, lda, trans, m0, panel);
      }
    }
  }
}

#ifdef LAMINA_AVX512

bool conv_gemm_available() { return has_avx512f(); }

namespace {

template <bool kFull>
__attribute__((target("avx512f"))) void tile(int64_t K, const float* a, const float* b, int64_t ldb, __mmask16 m0,
                                              __mmask16 m1, float* c, int64_t ldc, int64_t rows, const float* bias,
                                              bool accumulate) {
  __m512 acc[kMR][2];
  for (int64_t r = 0; r < kMR; ++r) {
    if (r < rows && accumulate) {
      acc[r][0] = _mm512_maskz_loadu_ps(m0, c + r * ldc);
      acc[r][1] = _mm512_maskz_loadu_ps(m1, c + r * ldc + 16);
    } else {
      acc[r][0] = acc[r][1] = bias && r < rows ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    const float* bk = b + k * ldb;
    const __m512 b0 = kFull ? _mm512_loadu_ps(bk) : _mm512_maskz_loadu_ps(m0, bk);
    const __m512 b1 = kFull ? _mm512_loadu_ps(bk + 16) : _mm512_maskz_loadu_ps(m1, bk + 16);
    const float* ak = a + k * kMR;
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(ak[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
  }
}

// K rows of 32 columns of B (the columns past the masks read as zero) into out [K, 32].
__attribute__((target("avx512f"))) void copy_strip(const float* b, int64_t ldb, int64_t K, __mmask16 m0,
                                                   __mmask16 m1, float* out) {
  for (int64_t k = 0; k < K; ++k) {
    _mm512_storeu_ps(out + k * kNR, _mm512_maskz_loadu_ps(m0, b + k * ldb));
    _mm512_storeu_ps(out + k * kNR + 16, _mm512_maskz_loadu_ps(m1, b + k * ldb + 16));
  }
}

}  // namespace

void conv_gemm(int64_t M, int64_t K, const float* packed_a, const float* B, int64_t ldb, int64_t p0, int64_t p1,
               const float* bias, bool accumulate, float* C, int64_t ldc) {
  // A strip of B is copied, kKC rows at a time, into contiguous rows of 32 that stay in L1
  // while every panel of A passes over them, when that pays (measured, one thread):
  //  - its span in place passes 1 MB (K rows of ldb floats): K=576 rows of a 56x56 plane
  //    are 12.5 KB apart, one page each; 56 GFLOP/s in place, 81 copied;
  //  - or 8 panels or more use it: a 7x7 plane's 49 columns against 512x4608 weights,
  //    46 GFLOP/s in place (the strip and the weights both streamed from L2), 78 copied.
  // With a few panels (M=32, 50) the copy costs more than it saves (112 -> 93 GFLOP/s).
  const bool copy = M > kMR && (K * ldb >= (int64_t(1) << 18) || M >= 8 * kMR);
  auto masks = [&](int64_t s, __mmask16& m0, __mmask16& m1) {
    const int64_t width = std::min(kNR, p1 - s);
    m0 = lanes(0, width);
    m1 = lanes(0, width - 16);
    return width;
  };
  if (copy) {
    // kGroup strips at a time, kKC rows deep, are copied (64 KB); then every panel of A
    // takes its kKC-row slice (8 KB, in L1) across all of them. So A is streamed once per
    // group of strips, not once per strip: with 512x4608 weights (9 MB, past L2) and a 7x7
    // plane (2 strips), streaming it twice cost more than the arithmetic (59 -> 83 GFLOP/s).
    // Groups of 1, 2 and 4 measured within 5% of each other on the other shapes.
    thread_local std::vector<float> strips;
    if (strips.size() < static_cast<size_t>(kGroup * kKC * kNR)) strips.resize(static_cast<size_t>(kGroup * kKC * kNR));
    for (int64_t g = p0; g < p1; g += kGroup * kNR) {
      const int64_t g1 = std::min(p1, g + kGroup * kNR);
      for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        for (int64_t s = g; s < g1; s += kNR) {
          __mmask16 m0, m1;
          masks(s, m0, m1);
          copy_strip(B + k0 * ldb + s, ldb, kc, m0, m1, strips.data() + (s - g) / kNR * kKC * kNR);
        }
        for (int64_t m = 0; m < M; m += kMR)
          for (int64_t s = g; s < g1; s += kNR) {
            __mmask16 m0, m1;
            masks(s, m0, m1);
            tile<true>(kc, packed_a + m * K + k0 * kMR, strips.data() + (s - g) / kNR * kKC * kNR, kNR, m0, m1,
                       C + m * ldc + s, ldc, std::min(kMR, M - m), bias && k0 == 0 ? bias + m : nullptr,
                       accumulate || k0 > 0);
          }
      }
    }
    return;
  }
  for (int64_t s = p0; s < p1; s += kNR) {
    __mmask16 m0, m1;
    const int64_t width = masks(s, m0, m1);
    for (int64_t m = 0; m < M; m += kMR) {
      const int64_t rows = std::min(kMR, M - m);
      const float* bias_m = bias ? bias + m : nullptr;
      if (width == kNR)
        tile<true>(K, packed_a + m * K, B + s, ldb, m0, m1, C + m * ldc + s, ldc, rows, bias_m, accumulate);
      else
        tile<false>(K, packed_a + m * K, B + s, ldb, m0, m1, C + m * ldc + s, ldc, rows, bias_m, accumulate);
    }
  }
}

void conv_gemm_parallel(int64_t M, int64_t K, const float* packed_a, const float* B, int64_t ldb, int64_t P,
                        const float* bias, bool accumulate, float* C, int64_t ldc) {
  // One image's product split over lamina's threads (used when there is no batch to
  // split: a batch of one, or the input gradient of one image). Each thread takes one
  // contiguous block, so conv_gemm still sees many panels of A (and copies its strips of
  // B, see above): a range of panels when there are enough of them, else a range of
  // strips. (Dealt out one 8x32 tile at a time, every tile ran in place, uncopied: the
  // 7x7 planes of ResNet-50 ran at half speed, on 1 thread or 2.)
  const int64_t panels = (M + kMR - 1) / kMR, strips = (P + kNR - 1) / kNR;
  const bool parallel = !omp_in_parallel() && panels * strips > 1 && M * P * K >= (int64_t(1) << 18);
#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    if (panels >= 4 * threads || panels >= strips) {
      const int64_t m0 = panels * t / threads * kMR, m1 = std::min(M, panels * (t + 1) / threads * kMR);
      if (m0 < m1)
        conv_gemm(m1 - m0, K, packed_a + m0 * K, B, ldb, 0, P, bias ? bias + m0 : nullptr, accumulate,
                  C + m0 * ldc, ldc);
    } else {
      const int64_t p0 = strips * t / threads * kNR, p1 = std::min(P, strips * (t + 1) / threads * kNR);
      if (p0 < p1) conv_gemm(M, K, packed_a, B, ldb, p0, p1, bias, accumulate, C, ldc);
    }
  }
}

#else

bool conv_gemm_available() { return false; }

void conv_gemm_parallel(int64_t, int64_t, const float*, const float*, int64_t, int64_t, const float*, bool, float*,
                        int64_t) {}

void conv_gemm(int64_t, int64_t, const float*, const float*, int64_t, int64_t, int64_t, const float*, bool, float*,
               int64_t) {
  // Callers check conv_gemm_available() first; without AVX-512 they use gemm.
}

#endif

}  // namespace lamina::kernels::cpu
