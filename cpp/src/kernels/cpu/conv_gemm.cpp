// The GEMM inside convolution, C[M, P] = A[M, K] B[K, P], for float32 on AVX-512 CPUs.
//
// Why not the BLAS: in a convolution B is the im2col matrix of one image, used by only M
// rows of A (the output channels, often 20 to 64). A BLAS packs B into its own layout
// before multiplying, and with so few rows to amortise it the packing took a third of
// the GEMM time (perf: sgemm_itcopy 16% beside sgemm_kernel 38% on CIFAR10-quick conv2).
// Here both are read in place, A (the weights) in panels of 8 rows: a strip of 32 columns
// of B, K rows deep, stays in L2 (or is copied to L1, below) while every panel of A
// passes over it.
//
// Micro-kernel: an 8 x 32 tile of C in 16 zmm accumulators; per k, two loads of B, eight
// broadcasts of A and sixteen FMAs.
//
// A was packed once per call into contiguous panels (k-major, 8 rows a column) until
// measured against reading it where it lies (one thread, weights cold in cache as in a
// net, pack + product -> in place): 512x4608 by 4608x49 4.04 -> 2.86 ms, 256x2304 by
// 2304x196 2.97 -> 2.62, 64x576 by 576x3136 2.90 -> 2.85; the eight rows of a panel are
// eight streams the prefetchers follow, and the pass that packed them went to memory and
// back. A given transposed (the input gradient's W^T) is read the same way, eight
// consecutive floats per k. B given transposed (a weight gradient's column matrix) is
// gathered into the copied strips.
#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#else
static bool omp_in_parallel() { return false; }
static int omp_get_num_threads() { return 1; }
static int omp_get_thread_num() { return 0; }
#endif

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/avx512.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {
constexpr int64_t kMR = 8;   // rows of a panel of A
constexpr int64_t kNR = 32;  // columns of a strip of B
constexpr int64_t kKC = 256;  // rows of a copied strip (32 KB)
constexpr int64_t kGroup = 2;  // strips copied together
constexpr int64_t kDotColumns = 8;  // the most columns left over from the vectors taken as dot products
}  // namespace

#ifdef LAMINA_AVX512

bool has_conv_gemm() { return true; }

namespace {

// B as conv_gemm reads it: a matrix (row k at b + k * ldb, column s at s) or image taps
// (kernels.hpp: row k at b + offsets[k], column s at s / width * pitch + s % width).
struct Source {
  const float* b;
  int64_t ldb;
  const int64_t* offsets;
  int64_t width, pitch;
  bool trans = false;  // B [K, P] given as its transpose [P, K] (rows ldb apart)
  const float* row(int64_t k) const { return offsets ? b + offsets[k] : b + k * ldb; }
  int64_t column(int64_t s) const { return offsets ? s / width * pitch + s % width : s; }
  float at(int64_t k, int64_t s) const { return trans ? b[s * ldb + k] : row(k)[column(s)]; }
};

// Rows m0.. of A from `a` (row m0, column k0): element (m0 + r, k0 + k) at a[r * rs + k * cs].
// Rows past `rows` read row m0 again (their sums are not stored), so nothing outside A is read.
// kNV vectors of 16 columns: 2 for a strip of 32, 1 for a last strip of 16 or fewer (a
// 32-wide tile there spent half its FMAs on masked-out zeros). Row k of the strip of B
// from b + k * ldb, or (kTaps) b + offsets[k]; its second vector `second` floats after the
// first (16 in a matrix; a pitch further in an image of 16-column output rows). `stream`:
// a full tile of C 64-byte aligned, rows a multiple of 16 floats apart, is stored past the
// caches. kPrefetchA, for A given transposed (a panel's eight rows are eight consecutive
// floats of each row of W, one page apart): each k fetches ahead the cache line the panel
// after next reads (two panels share a line), since the hardware prefetchers do not follow
// one line per page; they waited on memory for each (input gradient, 512x4608 by 49
// positions from cold weights, two threads: 1.81 -> 1.42 ms).
template <bool kFull, int kNV, bool kTaps, bool kPrefetchA = false>
void tile(int64_t K, const float* a, int64_t rs, int64_t cs, const float* b,
                                              int64_t ldb, const int64_t* offsets, int64_t second, __mmask16 m0,
                                              __mmask16 m1, float* c, int64_t ldc, int64_t rows, const float* bias,
                                              bool accumulate, bool stream = false) {
  const __mmask16 mask[2] = {m0, m1};
  __m512 acc[kMR][kNV];
  const float* ar[kMR];
  for (int64_t r = 0; r < kMR; ++r) {
    ar[r] = a + (r < rows ? r : 0) * rs;
    for (int v = 0; v < kNV; ++v)
      acc[r][v] = r < rows && accumulate ? _mm512_maskz_loadu_ps(mask[v], c + r * ldc + 16 * v)
                  : bias && r < rows     ? _mm512_set1_ps(bias[r])
                                         : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    const float* bk = kTaps ? b + offsets[k] : b + k * ldb;
    __m512 bv[kNV];
    for (int v = 0; v < kNV; ++v) {
      const float* at = bk + v * (kTaps ? second : 16);
      bv[v] = kFull ? _mm512_loadu_ps(at) : _mm512_maskz_loadu_ps(mask[v], at);
    }
    const int64_t at = k * cs;
    if constexpr (kPrefetchA) _mm_prefetch(reinterpret_cast<const char*>(ar[0] + at + 16), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      const __m512 x = _mm512_set1_ps(ar[r][at]);
      for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  if (kFull && stream && reinterpret_cast<uintptr_t>(c) % 64 == 0 && ldc % 16 == 0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int v = 0; v < kNV; ++v) _mm512_stream_ps(c + r * ldc + 16 * v, acc[r][v]);
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int v = 0; v < kNV; ++v) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, mask[v], acc[r][v]);
}

// The tile of rows m.. by the strip at column s of B read in place, `width` columns (1 to
// 32).
template <bool kTaps>
void strip_tile(int64_t width, int64_t K, const float* a, int64_t rs, int64_t cs, const Source& B, int64_t s,
                float* c, int64_t ldc, int64_t rows, const float* bias, bool accumulate, bool stream) {
  const __mmask16 m0 = lanes(0, width), m1 = lanes(0, width - 16);
  const float* b = B.b + B.column(s);
  const int64_t second = B.column(s + 16) - B.column(s);
  if (width > 16) {
    if (width == 32)
      tile<true, 2, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate, stream);
    else
      tile<false, 2, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate);
  } else if (width == 16) {
    tile<true, 1, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate, stream);
  } else {
    tile<false, 1, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate);
  }
}

// The tile of rows m.. by a copied strip (rows of 32 columns, zeros past `width`).
void copied_tile(int64_t width, int64_t K, const float* a, int64_t rs, int64_t cs, const float* strip, float* c,
                 int64_t ldc, int64_t rows, const float* bias, bool accumulate, bool stream) {
  const __mmask16 m0 = lanes(0, width), m1 = lanes(0, width - 16);
  const bool wide = width > 16, streamed = stream && width == (wide ? 32 : 16), transposed = rs == 1;
  if (wide && transposed)
    tile<true, 2, false, true>(K, a, rs, cs, strip, kNR, nullptr, 16, m0, m1, c, ldc, rows, bias, accumulate, streamed);
  else if (wide)
    tile<true, 2, false>(K, a, rs, cs, strip, kNR, nullptr, 16, m0, m1, c, ldc, rows, bias, accumulate, streamed);
  else if (transposed)
    tile<true, 1, false, true>(K, a, rs, cs, strip, kNR, nullptr, 16, m0, m1, c, ldc, rows, bias, accumulate, streamed);
  else
    tile<true, 1, false>(K, a, rs, cs, strip, kNR, nullptr, 16, m0, m1, c, ldc, rows, bias, accumulate, streamed);
}

// Rows [k0, k0 + K) of B's 32 columns from s (those past the masks read as zero) into
// out [K, 32].
void copy_strip(const Source& B, int64_t k0, int64_t K, int64_t s, __mmask16 m0,
                                                   __mmask16 m1, float* out) {
  if (B.trans) {  // column s + j of B is row s + j of the transpose: gathered 16 rows at a time
    const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(static_cast<int>(B.ldb)));
    const float* b0 = B.b + s * B.ldb + k0;
    const float* b1 = b0 + 16 * B.ldb;
    for (int64_t k = 0; k < K; ++k) {
      _mm512_storeu_ps(out + k * kNR, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, rows, b0 + k, 4));
      _mm512_storeu_ps(out + k * kNR + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, rows, b1 + k, 4));
    }
    return;
  }
  const int64_t q0 = B.column(s), q1 = B.column(s + 16);
  for (int64_t k = 0; k < K; ++k) {
    const float* row = B.row(k0 + k);
    _mm512_storeu_ps(out + k * kNR, _mm512_maskz_loadu_ps(m0, row + q0));
    _mm512_storeu_ps(out + k * kNR + 16, _mm512_maskz_loadu_ps(m1, row + q1));
  }
}

void product(int64_t M, int64_t K, ConvGemmA A, const Source& B, int64_t p0, int64_t p1, const float* bias,
             bool accumulate, float* C, int64_t ldc, bool stream) {
  // Row m, column k of A: at A.data + m * rs + k * cs.
  const int64_t rs = A.trans ? 1 : A.lda, cs = A.trans ? A.lda : 1;
  // A strip of B is copied, kKC rows at a time, into contiguous rows of 32 that stay in L1
  // while every panel of A passes over them, when that pays (measured, one thread):
  //  - its span in place passes 1 MB (K rows of ldb floats): K=576 rows of a 56x56 plane
  //    are 12.5 KB apart, one page each; 56 GFLOP/s in place, 81 copied;
  //  - or 8 panels or more use it: a 7x7 plane's 49 columns against 512x4608 weights,
  //    46 GFLOP/s in place (the strip and the weights both streamed from L2), 78 copied.
  // With a few panels (M=32, 50) the copy costs more than it saves (112 -> 93 GFLOP/s).
  // (Image taps span the image, not K rows. With K = 0 there is nothing to copy: the tiles
  // in place write C's starting values.)
  const bool copy =
      K > 0 && (B.trans || (M > kMR && ((!B.offsets && K * B.ldb >= (int64_t(1) << 18)) || M >= 8 * kMR)));
  // Streamed stores where the tiles write C once: not accumulating, and with the strips
  // copied, in one slice of K.
  const bool streamed = stream && !accumulate && (!copy || K <= kKC);
  if (!copy) {
    for (int64_t s = p0; s < p1; s += kNR)
      for (int64_t m = 0; m < M; m += kMR) {
        const int64_t width = std::min(kNR, p1 - s), rows = std::min(kMR, M - m);
        const float* bias_m = bias ? bias + m : nullptr;
        float* c = C + m * ldc + s;
        if (B.offsets)
          strip_tile<true>(width, K, A.data + m * rs, rs, cs, B, s, c, ldc, rows, bias_m, accumulate, streamed);
        else
          strip_tile<false>(width, K, A.data + m * rs, rs, cs, B, s, c, ldc, rows, bias_m, accumulate, streamed);
      }
    if (streamed) _mm_sfence();  // the streamed stores ordered before whatever reads C next
    return;
  }
  // The last r < 16 columns, when A's rows lie in place (not transposed), are not given
  // vector lanes of their own: each is a dot product along k of a row of A and a column
  // of B (copied contiguous), by dot_gemm, whose per-lane sums carry over the slices.
  // Vectors along the columns left 15 of 64 lanes idle on a 7x7 plane (49 columns) and
  // 12 of 208 on 14x14 (196).
  const int64_t r = !A.trans && !B.offsets && (p1 - p0) % 16 <= kDotColumns ? (p1 - p0) % 16 : 0, pv = p1 - r;
  // kGroup strips at a time, kKC rows deep, are copied (64 KB); then every panel of A
  // takes its kKC-row slice (8 KB, in L1) across all of them. So A is streamed once per
  // group of strips, not once per strip: with 512x4608 weights (9 MB, past L2) and a 7x7
  // plane (2 strips), streaming it twice cost more than the arithmetic (59 -> 83 GFLOP/s).
  // Groups of 1, 2 and 4 measured within 5% of each other on the other shapes. The dot
  // products' columns go with the last group.
  thread_local std::vector<float> strips, sums;
  strips.resize(static_cast<size_t>((kGroup * kNR + r) * kKC));
  float* columns = strips.data() + kGroup * kNR * kKC;  // then the dot products' columns of B, [r, kc]
  if (r) sums.assign(dot_gemm_size(M, r), 0.0f);
  for (int64_t g = p0;; g += kGroup * kNR) {
    const int64_t g1 = std::min(pv, g + kGroup * kNR), dots = g1 == pv ? r : 0;
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      const int64_t kc = std::min(kKC, K - k0);
      for (int64_t s = g; s < g1; s += kNR)
        copy_strip(B, k0, kc, s, lanes(0, g1 - s), lanes(0, g1 - s - 16), strips.data() + (s - g) / kNR * kKC * kNR);
      for (int64_t j = 0; j < dots; ++j)
        for (int64_t k = 0; k < kc; ++k) columns[j * kc + k] = B.at(k0 + k, pv + j);
      for (int64_t m = 0; m < M; m += kMR) {
        const int64_t rows = std::min(kMR, M - m);
        const float* am = A.data + m * rs + k0 * cs;
        for (int64_t s = g; s < g1; s += kNR)
          copied_tile(std::min(kNR, g1 - s), kc, am, rs, cs, strips.data() + (s - g) / kNR * kKC * kNR, C + m * ldc + s,
                      ldc, rows, bias && k0 == 0 ? bias + m : nullptr, accumulate || k0 > 0, streamed);
        if (dots) dot_gemm(rows, dots, kc, am, rs, columns, kc, sums.data() + m * dots * 16);
      }
    }
    if (g1 == pv) break;
  }
  if (r) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < r && !accumulate; ++j) C[m * ldc + pv + j] = bias ? bias[m] : 0.0f;
    dot_gemm_finish(M, r, sums.data(), C + pv, ldc);
  }
  if (streamed) _mm_sfence();  // the streamed stores ordered before whatever reads C next
}

void product_parallel(int64_t M, int64_t K, ConvGemmA A, const Source& B, int64_t P, const float* bias,
                      bool accumulate, float* C, int64_t ldc, bool stream) {
  // One image's product split over lamina's threads (used when there is no batch to
  // split: a batch of one, or the input gradient of one image). Each thread takes one
  // contiguous block, so conv_gemm still sees many panels of A (and copies its strips of
  // B, see above): a range of panels when there are enough of them, else a range of
  // strips. (Dealt out one 8x32 tile at a time, every tile ran in place, uncopied: the
  // 7x7 planes of ResNet-50 ran at half speed, on 1 thread or 2.) B given transposed is
  // always split by strips: each thread gathers only its own strips' columns (split by
  // panels, both gathered all of them: 512x49 by 49x4608, 1.67 -> 1.40 ms).
  const int64_t panels = (M + kMR - 1) / kMR, strips = (P + kNR - 1) / kNR;
  const bool parallel = !omp_in_parallel() && panels * strips > 1 && M * P * K >= (int64_t(1) << 18);
#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    if (!B.trans && (panels >= 4 * threads || panels >= strips)) {
      const int64_t m0 = panels * t / threads * kMR, m1 = std::min(M, panels * (t + 1) / threads * kMR);
      const ConvGemmA rows{A.data + (A.trans ? m0 : m0 * A.lda), A.lda, A.trans};
      if (m0 < m1)
        product(m1 - m0, K, rows, B, 0, P, bias ? bias + m0 : nullptr, accumulate, C + m0 * ldc, ldc, stream);
    } else {
      const int64_t p0 = strips * t / threads * kNR, p1 = std::min(P, strips * (t + 1) / threads * kNR);
      if (p0 < p1) product(M, K, A, B, p0, p1, bias, accumulate, C, ldc, stream);
    }
  }
}

}  // namespace

void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
               const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
  product(M, K, A, Source{B, ldb, nullptr, 0, 0}, p0, p1, bias, accumulate, C, ldc, stream);
}

void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1, const float* bias,
               bool accumulate, float* C, int64_t ldc, bool stream) {
  product(M, K, A, Source{B.image, 0, B.offsets, B.width, B.pitch}, p0, p1, bias, accumulate, C, ldc, stream);
}

void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                        const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
  product_parallel(M, K, A, Source{B, ldb, nullptr, 0, 0}, P, bias, accumulate, C, ldc, stream);
}

void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P, const float* bias,
                        bool accumulate, float* C, int64_t ldc, bool stream) {
  product_parallel(M, K, A, Source{B.image, 0, B.offsets, B.width, B.pitch}, P, bias, accumulate, C, ldc, stream);
}

void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t p0, int64_t p1, bool accumulate,
               float* C, int64_t ldc, bool stream) {
  product(M, K, A, Source{B.data, B.ldb, nullptr, 0, 0, true}, p0, p1, nullptr, accumulate, C, ldc, stream);
}

void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                        float* C, int64_t ldc, bool stream) {
  product_parallel(M, K, A, Source{B.data, B.ldb, nullptr, 0, 0, true}, P, nullptr, accumulate, C, ldc, stream);
}

void fill_conv_gemm(Table& t) {
  t.conv_gemm = +[](int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
                   const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
    conv_gemm(M, K, A, B, ldb, p0, p1, bias, accumulate, C, ldc, stream);
  };
  t.conv_gemm_parallel = +[](int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                            const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
    conv_gemm_parallel(M, K, A, B, ldb, P, bias, accumulate, C, ldc, stream);
  };
  t.conv_gemm_taps = +[](int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t p0, int64_t p1,
                        const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
    conv_gemm(M, K, A, B, p0, p1, bias, accumulate, C, ldc, stream);
  };
  t.conv_gemm_taps_parallel = +[](int64_t M, int64_t K, ConvGemmA A, const ImageTaps& B, int64_t P,
                                 const float* bias, bool accumulate, float* C, int64_t ldc, bool stream) {
    conv_gemm_parallel(M, K, A, B, P, bias, accumulate, C, ldc, stream);
  };
  t.conv_gemm_tb = +[](int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t p0, int64_t p1,
                      bool accumulate, float* C, int64_t ldc, bool stream) {
    conv_gemm(M, K, A, B, p0, p1, accumulate, C, ldc, stream);
  };
  t.conv_gemm_tb_parallel = +[](int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                               float* C, int64_t ldc, bool stream) {
    conv_gemm_parallel(M, K, A, B, P, accumulate, C, ldc, stream);
  };
}

#else

// No conv_gemm at this level yet: its Table entries stay empty and callers use gemm.
bool has_conv_gemm() { return false; }
void fill_conv_gemm(Table&) {}

#endif

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
