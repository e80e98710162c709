// The GEMM inside convolution, C[M, P] = A[M, K] B[K, P], float32, written once against
// simd.hpp for every vector level.
//
// Why not the BLAS: in a convolution B is the im2col matrix of one image, used by only M
// rows of A (the output channels, often 20 to 64). A BLAS packs B into its own layout
// before multiplying, and with so few rows to amortise it the packing took a third of the
// GEMM time. Here both are read in place, A (the weights) in panels of kMR rows: a strip
// of kNR columns of B, K rows deep, stays in L2 (or is copied to L1, below) while every
// panel of A passes over it.
//
// Micro-kernel: a kMR x kNR tile of C (kNR = two vectors) in 2 kMR accumulators; per k,
// two loads of B, kMR broadcasts of A and 2 kMR FMAs. kMR is 8 where the level has 32
// vector registers (AVX-512, NEON) and 6 where it has 16 (AVX2): accumulators, the two B
// vectors and a broadcast must all stay in registers.
//
// A is read where it lies, not packed: the kMR rows of a panel are kMR streams the
// prefetchers follow, and a pass that packed them went to memory and back. A given
// transposed (the input gradient's W^T) is read the same way, kMR consecutive floats per
// k. B given transposed (a weight gradient's column matrix) is gathered into the copied
// strips.
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
#include "lamina/parallel.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {
using simd::kLanes;
using simd::Mask;
using simd::Vec;
constexpr int64_t kMR = simd::kRegisters >= 32 ? 8 : 6;  // rows of a panel of A
constexpr int64_t kNR = 2 * kLanes;                     // columns of a strip of B
constexpr int64_t kKC = 256;                             // rows of a copied strip
constexpr int64_t kGroup = 2;                            // strips copied together
// The most columns left over from the vectors taken as dot products (half a vector).
constexpr int64_t kDotColumns = kLanes / 2;
}  // namespace

// One-lane vectors would make the tiles scalar code slower than the BLAS behind gemm.
#if !defined(LAMINA_LEVEL_GENERIC)

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
// kNV vectors of columns: 2 for a whole strip, 1 for a last strip of one vector or less (a
// two-vector tile there spent half its FMAs on masked-out zeros). Row k of the strip of B
// from b + k * ldb, or (kTaps) b + offsets[k]; its second vector `second` floats after the
// first (kLanes in a matrix; a pitch further in an image whose output rows are one vector).
// kWhole: the tile has all kNV vectors of columns (B loaded and C stored without masks);
// else the masks say which (a copied strip's rows are padded with zeros, so those are
// loaded whole anyway: kWholeLoads). `stream`: a whole tile of C aligned to the vector,
// rows a multiple of kLanes floats apart, is stored past the caches. kPrefetchA, for A
// given transposed (a panel's rows are kMR consecutive floats of each row of W, one page
// apart): each k fetches ahead the cache line the panel after next reads, since the
// hardware prefetchers do not follow one line per page.
template <bool kWhole, int kNV, bool kTaps, bool kPrefetchA = false, bool kWholeLoads = kWhole>
void tile(int64_t K, const float* a, int64_t rs, int64_t cs, const float* b, int64_t ldb, const int64_t* offsets,
          int64_t second, Mask m0, Mask m1, float* c, int64_t ldc, int64_t rows, const float* bias, bool accumulate,
          bool stream = false) {
  const Mask mask[2] = {m0, m1};
  Vec acc[kMR][kNV];
  const float* ar[kMR];
  for (int64_t r = 0; r < kMR; ++r) {
    ar[r] = a + (r < rows ? r : 0) * rs;
    for (int v = 0; v < kNV; ++v)
      acc[r][v] = r < rows && accumulate ? simd::load(mask[v], c + r * ldc + kLanes * v)
                  : bias && r < rows     ? simd::set1(bias[r])
                                         : simd::zero();
  }
  for (int64_t k = 0; k < K; ++k) {
    const float* bk = kTaps ? b + offsets[k] : b + k * ldb;
    Vec bv[kNV];
    for (int v = 0; v < kNV; ++v) {
      const float* at = bk + v * (kTaps ? second : kLanes);
      bv[v] = kWholeLoads ? simd::load(at) : simd::load(mask[v], at);
    }
    const int64_t at = k * cs;
    if constexpr (kPrefetchA) simd::prefetch(ar[0] + at + 2 * kMR);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      const Vec x = simd::set1(ar[r][at]);
      for (int v = 0; v < kNV; ++v) acc[r][v] = simd::fma(x, bv[v], acc[r][v]);
    }
  }
  if (kWhole && stream && reinterpret_cast<uintptr_t>(c) % (4 * kLanes) == 0 && ldc % kLanes == 0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int v = 0; v < kNV; ++v) simd::stream(c + r * ldc + kLanes * v, acc[r][v]);
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int v = 0; v < kNV; ++v) {
      if (kWhole)
        simd::store(c + r * ldc + kLanes * v, acc[r][v]);
      else
        simd::store(mask[v], c + r * ldc + kLanes * v, acc[r][v]);
    }
}

// The tile of rows m.. by the strip at column s of B read in place, `width` columns (1 to
// kNR).
template <bool kTaps>
void strip_tile(int64_t width, int64_t K, const float* a, int64_t rs, int64_t cs, const Source& B, int64_t s,
                float* c, int64_t ldc, int64_t rows, const float* bias, bool accumulate, bool stream) {
  const Mask m0 = simd::lanes(0, width), m1 = simd::lanes(0, width - kLanes);
  const float* b = B.b + B.column(s);
  const int64_t second = B.column(s + kLanes) - B.column(s);
  if (width > kLanes) {
    if (width == kNR)
      tile<true, 2, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate, stream);
    else
      tile<false, 2, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate);
  } else if (width == kLanes) {
    tile<true, 1, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate, stream);
  } else {
    tile<false, 1, kTaps>(K, a, rs, cs, b, B.ldb, B.offsets, second, m0, m1, c, ldc, rows, bias, accumulate);
  }
}

// The tile of rows m.. by a copied strip (rows of kNR columns, zeros past `width`).
void copied_tile(int64_t width, int64_t K, const float* a, int64_t rs, int64_t cs, const float* strip, float* c,
                 int64_t ldc, int64_t rows, const float* bias, bool accumulate, bool stream) {
  const Mask m0 = simd::lanes(0, width), m1 = simd::lanes(0, width - kLanes);
  const bool wide = width > kLanes, streamed = stream && width == (wide ? kNR : kLanes), transposed = rs == 1;
  if (wide && width == kNR && transposed)
    tile<true, 2, false, true>(K, a, rs, cs, strip, kNR, nullptr, kLanes, m0, m1, c, ldc, rows, bias, accumulate,
                               streamed);
  else if (wide && width == kNR)
    tile<true, 2, false>(K, a, rs, cs, strip, kNR, nullptr, kLanes, m0, m1, c, ldc, rows, bias, accumulate, streamed);
  else if (wide)
    tile<false, 2, false, false, true>(K, a, rs, cs, strip, kNR, nullptr, kLanes, m0, m1, c, ldc, rows, bias,
                                       accumulate);
  else if (width == kLanes)
    tile<true, 1, false>(K, a, rs, cs, strip, kNR, nullptr, kLanes, m0, m1, c, ldc, rows, bias, accumulate, streamed);
  else
    tile<false, 1, false, false, true>(K, a, rs, cs, strip, kNR, nullptr, kLanes, m0, m1, c, ldc, rows, bias,
                                       accumulate);
}

// Rows [k0, k0 + K) of B's kNR columns from s (those past the masks read as zero) into
// out [K, kNR].
void copy_strip(const Source& B, int64_t k0, int64_t K, int64_t s, Mask m0, Mask m1, float* out) {
  if (B.trans) {  // column s + j of B is row s + j of the transpose: gathered a vector of rows at a time
    const float* b0 = B.b + s * B.ldb + k0;
    const float* b1 = b0 + kLanes * B.ldb;
    for (int64_t k = 0; k < K; ++k) {
      simd::store(out + k * kNR, simd::gather(m0, b0 + k, B.ldb));
      simd::store(out + k * kNR + kLanes, simd::gather(m1, b1 + k, B.ldb));
    }
    return;
  }
  const int64_t q0 = B.column(s), q1 = B.column(s + kLanes);
  for (int64_t k = 0; k < K; ++k) {
    const float* row = B.row(k0 + k);
    simd::store(out + k * kNR, simd::load(m0, row + q0));
    simd::store(out + k * kNR + kLanes, simd::load(m1, row + q1));
  }
}

void product(int64_t M, int64_t K, ConvGemmA A, const Source& B, int64_t p0, int64_t p1, const float* bias,
             bool accumulate, float* C, int64_t ldc, bool stream) {
  // Row m, column k of A: at A.data + m * rs + k * cs.
  const int64_t rs = A.trans ? 1 : A.lda, cs = A.trans ? A.lda : 1;
  // A strip of B is copied, kKC rows at a time, into contiguous rows of kNR that stay in
  // L1 while every panel of A passes over them, when that pays: when its span in place
  // passes 1 MB (K rows of ldb floats, each row on a page of its own, which the TLB and
  // prefetchers do not follow), or when 8 panels or more use it (then the strip and the
  // weights would both stream from L2). With a few panels the copy costs more than it
  // saves. (Image taps span the image, not K rows.)
  if (K == 0) {  // C's starting values only; A and B may be empty (null) then
    for (int64_t m = 0; m < M && !accumulate; ++m)
      std::fill(C + m * ldc + p0, C + m * ldc + p1, bias ? bias[m] : 0.0f);
    return;
  }
  const bool copy = B.trans || (M > kMR && ((!B.offsets && K * B.ldb >= (int64_t(1) << 18)) || M >= 8 * kMR));
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
    if (streamed) simd::stream_fence();  // the streamed stores ordered before whatever reads C next
    return;
  }
  // The last r < kLanes columns, when A's rows lie in place (not transposed), are not given
  // vector lanes of their own: each is a dot product along k of a row of A and a column
  // of B (copied contiguous), by dot_gemm, whose per-lane sums carry over the slices:
  // a vector along the columns there would leave most of its lanes idle (a 7x7 plane has
  // 49 columns).
  const int64_t r = !A.trans && !B.offsets && (p1 - p0) % kLanes <= kDotColumns ? (p1 - p0) % kLanes : 0, pv = p1 - r;
  // kGroup strips at a time, kKC rows deep, are copied; then every panel of A takes its
  // kKC-row slice (in L1) across all of them. So A is streamed once per group of strips,
  // not once per strip: large weights (ResNet's 512x4608, past L2) against a plane of two
  // strips cost more to stream twice than to multiply. The dot products' columns go with
  // the last group.
  thread_local std::vector<float> strips, sums;
  strips.resize(static_cast<size_t>((kGroup * kNR + r) * kKC));
  float* columns = strips.data() + kGroup * kNR * kKC;  // then the dot products' columns of B, [r, kc]
  if (r) sums.assign(dot_gemm_size(M, r), 0.0f);
  for (int64_t g = p0;; g += kGroup * kNR) {
    const int64_t g1 = std::min(pv, g + kGroup * kNR), dots = g1 == pv ? r : 0;
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      const int64_t kc = std::min(kKC, K - k0);
      for (int64_t s = g; s < g1; s += kNR)
        copy_strip(B, k0, kc, s, simd::lanes(0, g1 - s), simd::lanes(0, g1 - s - kLanes),
                   strips.data() + (s - g) / kNR * kKC * kNR);
      for (int64_t j = 0; j < dots; ++j)
        for (int64_t k = 0; k < kc; ++k) columns[j * kc + k] = B.at(k0 + k, pv + j);
      for (int64_t m = 0; m < M; m += kMR) {
        const int64_t rows = std::min(kMR, M - m);
        const float* am = A.data + m * rs + k0 * cs;
        for (int64_t s = g; s < g1; s += kNR)
          copied_tile(std::min(kNR, g1 - s), kc, am, rs, cs, strips.data() + (s - g) / kNR * kKC * kNR, C + m * ldc + s,
                      ldc, rows, bias && k0 == 0 ? bias + m : nullptr, accumulate || k0 > 0, streamed);
        if (dots) dot_gemm(rows, dots, kc, am, rs, columns, kc, sums.data() + m * dots * kLanes);
      }
    }
    if (g1 == pv) break;
  }
  if (r) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < r && !accumulate; ++j) C[m * ldc + pv + j] = bias ? bias[m] : 0.0f;
    dot_gemm_finish(M, r, sums.data(), C + pv, ldc);
  }
  if (streamed) simd::stream_fence();  // the streamed stores ordered before whatever reads C next
}

void product_parallel(int64_t M, int64_t K, ConvGemmA A, const Source& B, int64_t P, const float* bias,
                      bool accumulate, float* C, int64_t ldc, bool stream) {
  // One image's product split over lamina's threads (used when there is no batch to
  // split: a batch of one, or the input gradient of one image). Each thread takes one
  // contiguous block, so conv_gemm still sees many panels of A (and copies its strips of
  // B, see above): a range of panels when there are enough of them, else a range of
  // strips. (Dealt out one tile at a time, every tile would run in place, uncopied.) B
  // given transposed is always split by strips: each thread gathers only its own strips'
  // columns (split by panels, every thread would gather all of them).
  const int64_t panels = (M + kMR - 1) / kMR, strips = (P + kNR - 1) / kNR;
  const bool parallel = !omp_in_parallel() && panels * strips > 1 && M * P * K >= (int64_t(1) << 18);
  if (deterministic()) {
    // Deterministic mode (parallel.hpp): blocks of a fixed size whatever the thread count
    // (product's choices, and so its sums, depend on the block: copied strips or not, the
    // dot-product columns), dealt out to the threads. Row blocks of kFixedPanels panels
    // (enough that the strips are copied as in one large block), or, with B transposed,
    // column blocks of kFixedStrips strips.
    constexpr int64_t kFixedPanels = 8, kFixedStrips = 4;
    const bool by_rows = !B.trans;
    const int64_t unit = by_rows ? kFixedPanels * kMR : kFixedStrips * kNR, extent = by_rows ? M : P;
    const int64_t blocks = (extent + unit - 1) / unit;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t lo = b * unit, hi = std::min(extent, lo + unit);
      if (by_rows)
        product(hi - lo, K, ConvGemmA{A.data + (A.trans ? lo : lo * A.lda), A.lda, A.trans}, B, 0, P,
                bias ? bias + lo : nullptr, accumulate, C + lo * ldc, ldc, stream);
      else
        product(M, K, A, B, lo, hi, bias, accumulate, C, ldc, stream);
    }
    return;
  }
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

// No conv_gemm at the generic level: its Table entries stay empty and callers use gemm.
bool has_conv_gemm() { return false; }
void fill_conv_gemm(Table&) {}

#endif

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
