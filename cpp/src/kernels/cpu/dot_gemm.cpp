// C += A B^T for a small C and long rows, float32, written once against simd.hpp: a
// convolution's weight gradient, dW [O, K] += dy [O, P] col^T [P, K], when O x K is small
// (few input channels: CIFAR10-quick's conv1 is 32 x 75) and P (output positions) long. A
// BLAS packs the transposed col into its own layout first, and with so few rows to
// amortise that the packing took as long as the multiplies.
//
// Here both operands are read in place along P: a tile of kMR rows of A by kNR rows of B
// keeps kMR kNR accumulators (each lane a partial dot product), so per vector of positions
// it loads kMR + kNR vectors for kMR kNR FMAs: 4 x 6 where the level has 32 vector
// registers, 3 x 4 where it has 16. The lanes stay apart across calls, in a buffer of
// partial sums (kLanes a pair), and are added up once at the end (dot_gemm_finish).
#include <algorithm>
#include <array>
#include <utility>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

#if !defined(LAMINA_LEVEL_GENERIC)  // (as conv_gemm, whose last columns it takes)

size_t dot_gemm_size(int64_t M, int64_t N) { return static_cast<size_t>(M * N * simd::kLanes); }

namespace {

using simd::kLanes;
using simd::Vec;
constexpr int kMR = simd::kRegisters >= 32 ? 4 : 3, kNR = simd::kRegisters >= 32 ? 6 : 4;  // rows of A and of B per tile
constexpr int64_t kPC = 1024;    // positions per pass over the tiles (rows of 4 KB)

// Where the tile's rows of B are: a matrix's row j at b + j * ldb, position p at p; an
// image's (kImage) row j at b + offsets[j], position p at q, q advancing kLanes at a time and
// skipping `pitch - width` after every `width` positions (an image row), `col` positions
// into the first.
struct Walk {
  const float* b;
  int64_t ldb;
  const int64_t* offsets;
  int64_t q, col, width, pitch;
};

// acc (the tile's first sum; rows of N sums) += the tile's MR x NR partial dot products
// over positions [0, P).
template <bool kImage, int MR, int NR>
void dot_tile(int64_t P, const float* A, int64_t lda, Walk w, float* acc, int64_t N) {
  Vec c[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i][j] = simd::load(acc + (i * N + j) * kLanes);
  int64_t off[NR];  // (an image's rows; a matrix's are written as the loads' addresses)
  for (int j = 0; j < NR; ++j) off[j] = kImage ? w.offsets[j] : 0;
  int64_t q = w.q, col = w.col;
  // (Written out twice, not as a lambda over c: through a lambda GCC kept the
  // accumulators in memory and stored them all every step.)
  int64_t p = 0;
  for (; p + kLanes <= P; p += kLanes) {
    Vec a[MR];
    for (int i = 0; i < MR; ++i) a[i] = simd::load(A + i * lda + p);
    for (int j = 0; j < NR; ++j) {
      const Vec bj = simd::load(kImage ? w.b + off[j] + q : w.b + j * w.ldb + p);
      for (int i = 0; i < MR; ++i) c[i][j] = simd::fma(a[i], bj, c[i][j]);
    }
    if (kImage) {
      q += kLanes;
      if ((col += kLanes) == w.width) {
        col = 0;
        q += w.pitch - w.width;
      }
    }
  }
  if (p < P) {  // (a matrix's last positions; image rows are whole vectors)
    const simd::Mask k = simd::lanes(0, P - p);
    Vec a[MR];
    for (int i = 0; i < MR; ++i) a[i] = simd::load(k, A + i * lda + p);
    for (int j = 0; j < NR; ++j) {
      const Vec bj = simd::load(k, w.b + j * w.ldb + p);
      for (int i = 0; i < MR; ++i) c[i][j] = simd::fma(a[i], bj, c[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) simd::store(acc + (i * N + j) * kLanes, c[i][j]);
}

using Tile = void (*)(int64_t, const float*, int64_t, Walk, float*, int64_t);

template <bool kImage, int MR, int... NR>
constexpr auto tile_row(std::integer_sequence<int, NR...>) {
  return std::array<Tile, kNR>{&dot_tile<kImage, MR, NR + 1>...};
}

// kTiles[kImage][MR - 1][NR - 1]: the edge tiles too.
template <bool kImage, int... MR>
constexpr std::array<std::array<Tile, kNR>, kMR> tiles(std::integer_sequence<int, MR...>) {
  return {tile_row<kImage, MR + 1>(std::make_integer_sequence<int, kNR>())...};
}
template <bool kImage>
constexpr std::array<std::array<Tile, kNR>, kMR> tiles() {
  return tiles<kImage>(std::make_integer_sequence<int, kMR>());
}
const std::array<std::array<std::array<Tile, kNR>, kMR>, 2> kTiles = {tiles<false>(), tiles<true>()};

// The product over B's rows, n.. of them starting at walk.b + n * walk.ldb or (an image,
// walk.offsets given) walk.b + walk.offsets[n].
void dot_walk(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, Walk walk, float* acc) {
  const bool image = walk.offsets != nullptr;
  // A chunk of positions at a time, B's tile (kNR rows of 4 KB) in L1 while every tile of
  // A passes over it.
  for (int64_t p0 = 0; p0 < P; p0 += kPC) {
    const int64_t pc = std::min(kPC, P - p0);
    Walk w = walk;
    if (image) {
      w.q = p0 / w.width * w.pitch + p0 % w.width;
      w.col = p0 % w.width;
    } else {
      w.b += p0;
    }
    for (int64_t n = 0; n < N; n += kNR) {
      Walk wn = w;
      if (image)
        wn.offsets += n;
      else
        wn.b += n * w.ldb;
      for (int64_t m = 0; m < M; m += kMR)
        kTiles[image][std::min<int64_t>(kMR, M - m) - 1][std::min<int64_t>(kNR, N - n) - 1](
            pc, A + m * lda + p0, lda, wn, acc + (m * N + n) * kLanes, N);
    }
  }
}

}  // namespace

void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb,
              float* acc) {
  dot_walk(M, N, P, A, lda, Walk{B, ldb, nullptr, 0, 0, 0, 0}, acc);
}

void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B, float* acc) {
  dot_walk(M, N, P, A, lda, Walk{B.image, 0, B.offsets, 0, 0, B.width, B.pitch}, acc);
}

void dot_gemm_finish(int64_t M, int64_t N, const float* acc, float* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) C[m * ldc + n] += simd::reduce_add(simd::load(acc + (m * N + n) * kLanes));
}

void fill_dot_gemm(Table& t) {
  t.dot_gemm_size = dot_gemm_size;
  t.dot_gemm = +[](int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb,
                  float* acc) { dot_gemm(M, N, P, A, lda, B, ldb, acc); };
  t.dot_gemm_taps = +[](int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const ImageTaps& B,
                       float* acc) { dot_gemm(M, N, P, A, lda, B, acc); };
  t.dot_gemm_finish = dot_gemm_finish;
}

#else

void fill_dot_gemm(Table&) {}

#endif

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
