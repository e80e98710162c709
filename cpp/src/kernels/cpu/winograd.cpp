// Winograd convolution F(4x4, 3x3) and F(4x4, 5x5) (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015), float32. A 4 x 4 block of outputs
// (a tile) of an r x r, stride-1 convolution comes from the alpha x alpha input patch
// under it (alpha = 4 + r - 1: 6 or 8):
//   Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A
// so alpha^2 products per tile and channel pair replace 16 r^2 multiply-adds (36 for 144
// with 3x3, 64 for 400 with 5x5): alpha^2 GEMMs (one per element xi of the transformed
// tile) of [O, I] transformed weights by [I, tiles] transformed inputs. The transforms are
// fixed sums (matrices below, from the interpolation points 0, 1, -1, 2, -2 (and 1/2,
// -1/2 for 5x5) and infinity: A and G evaluate the 4- and r-term polynomials at the
// points, B^T is what makes the identity hold).
//
// Tiles of every image are numbered together (n, tile row, tile column) and taken in
// blocks: each block's transformed inputs V [xi, I, block] and products M [xi, O, block]
// stay in cache, and each thread takes its share of the tiles with single-threaded
// GEMMs (conv_gemm). Transforms go a vector of tiles at a time, one tile per lane
// (TileBlocks below), written once against simd.hpp; only how a group's patches are read
// into lanes and its outputs written back differs: AVX-512 picks them out of whole rows
// by permutes, the other levels load each tile's row and transpose.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "lamina/error.hpp"
#include "parallel_for.hpp"

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// The transforms need vectors of tiles and conv_gemm: not at the generic level.
#if !defined(LAMINA_LEVEL_GENERIC)
namespace {

using simd::kLanes;
using simd::Mask;
using simd::Vec;
constexpr int kMaxAlpha = 8;

// F(4 x 4, r x r): BT [alpha, alpha], AT [4, alpha], G [alpha, r], and the transposes A
// and GT for the weight gradient.
template <int kernel> struct Winograd;

template <> struct Winograd<3> {
  static constexpr int m = 4, r = 3, alpha = 6, xi = alpha * alpha;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0},
                                     {0, 1, -1, 8, -8, 1}};
  static constexpr float A[6][4] = {{1, 0, 0, 0}, {1, 1, 1, 1},   {1, -1, 1, -1},
                                    {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};
  static constexpr float G[6][3] = {{1.0f / 4, 0, 0},
                                    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                    {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                    {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                    {0, 0, 1}};
  static constexpr float GT[3][6] = {{1.0f / 4, -1.0f / 6, -1.0f / 6, 1.0f / 24, 1.0f / 24, 0},
                                     {0, -1.0f / 6, 1.0f / 6, 1.0f / 12, -1.0f / 12, 0},
                                     {0, -1.0f / 6, -1.0f / 6, 1.0f / 6, 1.0f / 6, 1}};
};

// (Its float32 error is about 1.5 times that of F(2x2, 5x5), which it replaced for 2.8
// times fewer products per output and fewer transforms.)
template <> struct Winograd<5> {
  static constexpr int m = 4, r = 5, alpha = 8, xi = alpha * alpha;
  static constexpr float BT[8][8] = {{-1, 0, 21.0f / 4, 0, -21.0f / 4, 0, 1, 0},
                                     {0, 1, 1, -17.0f / 4, -17.0f / 4, 1, 1, 0},
                                     {0, -1, 1, 17.0f / 4, -17.0f / 4, -1, 1, 0},
                                     {0, 1.0f / 2, 1.0f / 4, -5.0f / 2, -5.0f / 4, 2, 1, 0},
                                     {0, -1.0f / 2, 1.0f / 4, 5.0f / 2, -5.0f / 4, -2, 1, 0},
                                     {0, 2, 4, -5.0f / 2, -5, 1.0f / 2, 1, 0},
                                     {0, -2, 4, 5.0f / 2, -5, -1.0f / 2, 1, 0},
                                     {0, -1, 0, 21.0f / 4, 0, -21.0f / 4, 0, 1}};
  static constexpr float AT[4][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                     {0, 1, -1, 2, -2, 1.0f / 2, -1.0f / 2, 0},
                                     {0, 1, 1, 4, 4, 1.0f / 4, 1.0f / 4, 0},
                                     {0, 1, -1, 8, -8, 1.0f / 8, -1.0f / 8, 1}};
  static constexpr float A[8][4] = {{1, 0, 0, 0},   {1, 1, 1, 1},
                                    {1, -1, 1, -1}, {1, 2, 4, 8},
                                    {1, -2, 4, -8}, {1, 1.0f / 2, 1.0f / 4, 1.0f / 8},
                                    {1, -1.0f / 2, 1.0f / 4, -1.0f / 8}, {0, 0, 0, 1}};
  static constexpr float G[8][5] = {{-1, 0, 0, 0, 0},
                                    {-2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9},
                                    {-2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9},
                                    {1.0f / 90, 1.0f / 45, 2.0f / 45, 4.0f / 45, 8.0f / 45},
                                    {1.0f / 90, -1.0f / 45, 2.0f / 45, -4.0f / 45, 8.0f / 45},
                                    {32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45},
                                    {32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45},
                                    {0, 0, 0, 0, 1}};
  static constexpr float GT[5][8] = {
      {-1, -2.0f / 9, -2.0f / 9, 1.0f / 90, 1.0f / 90, 32.0f / 45, 32.0f / 45, 0},
      {0, -2.0f / 9, 2.0f / 9, 1.0f / 45, -1.0f / 45, 16.0f / 45, -16.0f / 45, 0},
      {0, -2.0f / 9, -2.0f / 9, 2.0f / 45, 2.0f / 45, 8.0f / 45, 8.0f / 45, 0},
      {0, -2.0f / 9, 2.0f / 9, 4.0f / 45, -4.0f / 45, 4.0f / 45, -4.0f / 45, 0},
      {0, -2.0f / 9, -2.0f / 9, 8.0f / 45, 8.0f / 45, 2.0f / 45, 2.0f / 45, 1}};
};

// sum_j m[i][j] * v[j] over the columns j of the given parity (0 even, 1 odd, -1 all) of a
// constant matrix row: zero entries cost nothing (the loops unroll, so the entries are
// constants and the compiler drops the zeros).
template <int R, int C>
LAMINA_INLINE Vec row_sum(const float (&m)[R][C], int i, int parity, const Vec* v, int64_t stride) {
  Vec s = simd::zero();
#pragma GCC unroll 8
  for (int j = 0; j < C; ++j) {
    if (m[i][j] == 0.0f || (parity >= 0 && j % 2 != parity)) continue;
    if (m[i][j] == 1.0f)
      s = simd::add(s, v[j * stride]);
    else if (m[i][j] == -1.0f)
      s = simd::sub(s, v[j * stride]);
    else
      s = simd::fma(simd::set1(m[i][j]), v[j * stride], s);
  }
  return s;
}

// Whether row i + 1 of m is row i with its odd columns negated (the rows of interpolation
// points p and -p), with entries of both parities.
template <int R, int C>
constexpr bool mirrored(const float (&m)[R][C], int i) {
  if (i + 1 >= R) return false;
  bool even = false, odd = false;
  for (int j = 0; j < C; ++j) {
    if (m[i + 1][j] != (j % 2 == 0 ? m[i][j] : -m[i][j])) return false;
    if (m[i][j] != 0.0f) (j % 2 == 0 ? even : odd) = true;
  }
  return even && odd;
}

// out[i] = sum_j M[i][j] * v[j] for rows i.. of the constant matrix M. A mirrored pair of
// rows (decided at compile time) shares its even and odd partial sums E and O, as E + O and
// E - O: 8 operations instead of 12 for a pair of F(4x4, 5x5)'s B^T rows.
template <const auto& M, int i = 0>
LAMINA_INLINE void apply(const Vec* v, int64_t stride, Vec* out, int64_t out_stride) {
  constexpr int R = std::extent_v<std::remove_reference_t<decltype(M)>, 0>;
  if constexpr (i < R) {
    if constexpr (mirrored(M, i)) {
      const Vec e = row_sum(M, i, 0, v, stride), o = row_sum(M, i, 1, v, stride);
      out[i * out_stride] = simd::add(e, o);
      out[(i + 1) * out_stride] = simd::sub(e, o);
      apply<M, i + 2>(v, stride, out, out_stride);
    } else {
      out[i * out_stride] = row_sum(M, i, -1, v, stride);
      apply<M, i + 1>(v, stride, out, out_stride);
    }
  }
}

#if defined(LAMINA_LEVEL_AVX512)

// Tiles are numbered over images, tile rows and tile columns. With 12 or more tiles per
// row, each row's tiles take whole groups of 16 slots (a group never spans two rows; slots
// past the row's end stay empty), so a group's patches are read and its outputs written
// as contiguous runs of a row. With fewer, a group stacks whole tile rows: 16 / tiles_w of
// them (consecutive over the images), lane s * tiles_w + i holding tile i of its row s,
// each row read as a run and its tiles picked out by permutes. (Masked gathers, one per
// patch element, are far slower than the permutes.)
struct TileBlocks {
  int64_t tile;  // m: outputs per tile side
  int64_t images, tiles_h, tiles_w, groups_w, stack, slots, block;
  bool rows;  // row-aligned groups (above); else stacked rows
  TileBlocks(int64_t m, int64_t N, int64_t OH, int64_t OW, int64_t block_)
      : tile(m), images(N), tiles_h((OH + m - 1) / m), tiles_w((OW + m - 1) / m), groups_w((tiles_w + 15) / 16),
        stack(16 / std::min<int64_t>(tiles_w, 16)),
        slots(tiles_w >= 12 ? N * tiles_h * groups_w * 16 : (N * tiles_h + stack - 1) / stack * 16),
        block(block_), rows(tiles_w >= 12) {}
  // One part per thread while each gets a group of 16 slots, though a part may then be less
  // than a block (else a lone 56x56 image's 224 slots, one weight-gradient block, would
  // run on one thread of two).
  int parts() const { return static_cast<int>(std::min<int64_t>(num_threads(), slots / 16)); }
  int64_t image_of(int64_t slot) const {
    return rows ? slot / 16 / (tiles_h * groups_w) : slot / 16 * stack / tiles_h;
  }
};

// Where the 16 tiles of a group sit: `rows` runs of tiles (one for a row-aligned group,
// up to 16 stacked ones), run s starting `offsets[s]` floats from image `first` at its
// tiles' top-left corner (row tops[s], column `left`), `tiles` tiles each, in lanes
// s * tiles from there on.
struct TileLanes {
  bool row;  // row-aligned (read by row_runs)
  int rows, tiles;
  int64_t left;
  int64_t offsets[16], tops[16];
  // Stacked rows, read as `extent` columns per tile: the lanes' positions (column m i of
  // their run) in a 32-float permute table holding one run, or two when runs fit in 16,
  // and each table's lanes.
  int32_t pos[16];
  int tables;
  __mmask16 table_lanes[16];
  // Where row r of run s is read (worked out here once, for all the channels that take the
  // group): its offset from image `first`, all lanes or none (a row outside the plane, or a
  // run the group does not have), and the columns inside the plane per vector of the run.
  int64_t row_offset[16][kMaxAlpha];
  __mmask16 row_lanes[16][kMaxAlpha];
  __mmask16 col_lanes[3];
};

// The group of slots [t, t + 16) of H x W images `image_stride` floats apart, seen from
// each tile's corner (tile row * m - pad_h, tile column * m - pad_w), read as `extent`
// columns per tile (alpha for input patches, m for output tiles).
TileLanes tile_lanes(const TileBlocks& tb, int64_t t, int64_t first, int64_t H, int64_t W, int64_t image_stride,
                     int64_t pad_h, int64_t pad_w, int extent) {
  TileLanes l = {};
  const int64_t m = tb.tile;
  if (tb.rows) {
    const int64_t g = t / 16, per_image = tb.tiles_h * tb.groups_w;
    const int64_t image = g / per_image, th = g % per_image / tb.groups_w;
    l.row = true;
    l.rows = 1;
    l.tiles = 16;
    l.left = g % tb.groups_w * 16 * m - pad_w;
    l.tops[0] = th * m - pad_h;
    l.offsets[0] = (image - first) * image_stride + l.tops[0] * W + l.left;
    return l;
  }
  l.tiles = static_cast<int>(tb.tiles_w);
  l.left = -pad_w;
  for (int64_t s = 0; s < tb.stack; ++s) {
    const int64_t R = t / 16 * tb.stack + s;  // tile row over all images
    const int64_t image = R / tb.tiles_h;
    if (image >= tb.images) break;
    l.tops[s] = R % tb.tiles_h * m - pad_h;
    l.offsets[s] = (image - first) * image_stride + l.tops[s] * W + l.left;
    l.rows = static_cast<int>(s + 1);
  }
  const int per_table = (l.tiles - 1) * m + extent <= 16 ? 2 : 1;
  l.tables = (l.rows + per_table - 1) / per_table;
  for (int s = 0; s < l.rows; ++s)
    for (int i = 0; i < l.tiles; ++i) {
      const int lane = s * l.tiles + i;
      l.pos[lane] = static_cast<int32_t>(s % per_table * 16 + m * i);
      l.table_lanes[s / per_table] |= __mmask16(1u << lane);
    }
  for (int s = 0; s < l.rows; ++s)
    for (int r = 0; r < extent; ++r) {
      const int64_t ih = l.tops[s] + r;
      l.row_offset[s][r] = l.offsets[s] + r * W;
      l.row_lanes[s][r] = ih >= 0 && ih < H ? 0xFFFF : 0;
    }
  for (int k = 0; k < 3; ++k) l.col_lanes[k] = simd::lanes(-(l.left + 16 * k), W - (l.left + 16 * k));
  return l;
}

// Lane t of the result is element m t + j of the row segment v0, v1, ... (16 tiles m = 4
// columns apart): tiles 0-7 come from v0, v1 and 8-15 from v2, v3.
template <int m, int j>
__attribute__((always_inline)) inline __m512 every_mth(const __m512* v) {
  static_assert(m == 4, "both transforms take 4 x 4 output tiles");
  const __m512i idx = _mm512_setr_epi32(j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j, j, 4 + j, 8 + j,
                                        12 + j, 16 + j, 20 + j, 24 + j, 28 + j);
  return _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(v[0], idx, v[1]),
                              _mm512_permutex2var_ps(v[2], idx, v[3]));
}

// d shifted down one lane, lane 15 taking element `e` of next. (Masked forms with every
// lane set: the plain ones pass GCC an undefined vector it reports as uninitialised.)
template <int e>
__attribute__((always_inline)) inline __m512 next_tile(__m512 d, __m512 next) {
  __m512i n = _mm512_castps_si512(next);
  if constexpr (e > 0) n = _mm512_mask_alignr_epi32(n, 0xFFFF, n, n, e);
  return _mm512_castsi512_ps(_mm512_mask_alignr_epi32(n, 0xFFFF, n, _mm512_castps_si512(d), 1));
}

// The 16 runs of n columns starting m apart at src (a row's columns from col on; 0
// outside [0, width)), one vector per column offset j: d[j] lane t = src[m t + j].
template <int m, int n>
inline void row_runs(const float* src, int64_t col, int64_t width, __m512* d) {
  constexpr int loads = (15 * m + n + 15) / 16;  // vectors spanning the runs
  __m512 v[loads];
  for (int k = 0; k < loads; ++k)
    v[k] = _mm512_maskz_loadu_ps(simd::lanes(-(col + 16 * k), width - (col + 16 * k)), src + 16 * k);
  d[0] = every_mth<m, 0>(v);
  d[1] = every_mth<m, 1>(v);
  d[2] = every_mth<m, 2>(v);
  d[3] = every_mth<m, 3>(v);
  // Column j >= m of tile t is column j - m of tile t + 1; the last tile's comes from the
  // last vector loaded.
  for (int j = m; j < n; ++j) {
    if (j - m == 0) d[j] = next_tile<0>(d[j - m], v[loads - 1]);
    if (j - m == 1) d[j] = next_tile<1>(d[j - m], v[loads - 1]);
    if (j - m == 2) d[j] = next_tile<2>(d[j - m], v[loads - 1]);
    if (j - m == 3) d[j] = next_tile<3>(d[j - m], v[loads - 1]);
  }
}

// Row r of the group's n x n patches (n = alpha) or m x m tiles (n = m) in a plane of H x W (0
// outside it), one vector per column j: d[j] lane t = tile t's value at (r, j).
template <int m, int n>
inline void read_row(const float* plane, const TileLanes& l, int r, int64_t H,
                                                        int64_t W, __m512* d) {
  // Vector k of run s's row r (0 outside the plane; a load with no lanes reads nothing).
  auto load = [&](int s, int k) {
    return _mm512_maskz_loadu_ps(l.col_lanes[k] & l.row_lanes[s][r], plane + l.row_offset[s][r] + 16 * k);
  };
  if (l.row) {
    if (l.tops[0] + r < 0 || l.tops[0] + r >= H) {
      for (int j = 0; j < n; ++j) d[j] = _mm512_setzero_ps();
      return;
    }
    row_runs<m, n>(plane + l.offsets[0] + r * W, l.left, W, d);
    return;
  }
  // Stacked runs of (tiles - 1) m + n columns: one or two per 32-float table (two vectors),
  // or up to 48 columns (three vectors: the lanes past 32 permuted from the last two).
  const int64_t run = (l.tiles - 1) * m + n;
  const bool wide = run > 32, paired = run <= 16;
  const __m512i pos = _mm512_loadu_si512(l.pos);
#pragma GCC unroll 8
  for (int j = 0; j < n; ++j) d[j] = _mm512_setzero_ps();  // (and lanes no run fills)
  for (int q = 0; q < l.tables; ++q) {
    const __m512 v0 = load(paired ? 2 * q : q, 0), v1 = paired ? load(2 * q + 1, 0) : load(q, 1);
    const __m512 v2 = wide ? load(q, 2) : _mm512_setzero_ps();
    // (Unrolled, so d stays in registers: merged into memory by masked stores, it was read
    // back by the transform before they retired, and the loads waited on each.)
#pragma GCC unroll 8
    for (int j = 0; j < n; ++j) {
      const __m512i idx = _mm512_add_epi32(pos, _mm512_set1_epi32(j));
      __m512 p = _mm512_permutex2var_ps(v0, idx, v1);
      if (wide)
        p = _mm512_mask_mov_ps(p, _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(32)),
                               _mm512_permutex2var_ps(v1, _mm512_sub_epi32(idx, _mm512_set1_epi32(16)), v2));
      d[j] = _mm512_mask_mov_ps(d[j], l.table_lanes[q], p);
    }
  }
}

// Writes row i of the group's m x m output tiles (out[j] lane t: tile t's column j) into a
// plane of OH x OW, clipped at its edges: element e of a run's row is tile e / m's column
// e % m, picked from out[e % m] by permutes (two tables, blended).
template <int m>
inline void write_row(float* plane, const TileLanes& l, int i, int64_t OH,
                                                         int64_t OW, const __m512* out) {
  const int64_t run = int64_t(l.tiles) * m;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int s = 0; s < l.rows; ++s) {
    if (l.tops[s] + i >= OH) continue;
    float* dst = plane + l.offsets[s] + i * OW;
    for (int64_t k = 0; 16 * k < run; ++k) {
      const __m512i e = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int32_t>(16 * k)));
      const __m512i tile = _mm512_add_epi32(_mm512_maskz_srli_epi32(0xFFFF, e, 2), _mm512_set1_epi32(s * l.tiles));
      const __m512i idx = _mm512_or_si512(tile, _mm512_maskz_slli_epi32(0xFFFF, _mm512_and_si512(e, _mm512_set1_epi32(1)), 4));
      __m512 z = _mm512_permutex2var_ps(out[0], idx, out[1]);
      z = _mm512_mask_blend_ps(0xCCCC, z, _mm512_permutex2var_ps(out[2], idx, out[3]));
      const int64_t c = l.left + 16 * k;
      _mm512_mask_storeu_ps(dst + 16 * k, simd::lanes(-c, OW - c) & simd::lanes(0, run - 16 * k), z);
    }
  }
}

#else

// Tiles are numbered densely over images, tile rows and tile columns, a group of kLanes
// consecutive tiles to a vector (the last group's lanes past the end stay empty); a tile's
// patch row is loaded as one or two vectors and a group's rows transposed into lanes.
struct TileBlocks {
  int64_t tile;  // m: outputs per tile side
  int64_t images, tiles_h, tiles_w, tiles, slots, block;
  TileBlocks(int64_t m, int64_t N, int64_t OH, int64_t OW, int64_t block_)
      : tile(m), images(N), tiles_h((OH + m - 1) / m), tiles_w((OW + m - 1) / m), tiles(N * tiles_h * tiles_w),
        slots((tiles + kLanes - 1) / kLanes * kLanes), block(block_) {}
  // One part per thread while each gets a group of slots (as at AVX-512 above).
  int parts() const { return static_cast<int>(std::min<int64_t>(num_threads(), slots / kLanes)); }
  int64_t image_of(int64_t slot) const { return std::min(slot, tiles - 1) / (tiles_h * tiles_w); }
};

constexpr int kChunks = (kMaxAlpha + kLanes - 1) / kLanes;  // vectors across a patch row

// A group's tiles: `count` of them; tile t's corner (row tops[t], column lefts[t]) at
// offsets[t] floats from image `first`'s plane, and the lanes of its row's vectors inside
// the plane (columns [0, W)) and inside the tile (`extent` columns).
struct TileLanes {
  int count;
  int64_t offsets[kLanes], tops[kLanes];
  simd::MaskBits columns[kLanes][kChunks];
};

// The group of slots [t, t + kLanes) of H x W images `image_stride` floats apart, seen from
// each tile's corner (tile row * m - pad_h, tile column * m - pad_w), read as `extent`
// columns per tile (alpha for input patches, m for output tiles).
TileLanes tile_lanes(const TileBlocks& tb, int64_t t, int64_t first, int64_t H, int64_t W, int64_t image_stride,
                     int64_t pad_h, int64_t pad_w, int extent) {
  (void)H;
  TileLanes l = {};
  const int64_t m = tb.tile, per_image = tb.tiles_h * tb.tiles_w;
  l.count = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(kLanes, tb.tiles - t)));
  for (int i = 0; i < l.count; ++i) {
    const int64_t tile = t + i, image = tile / per_image, th = tile % per_image / tb.tiles_w;
    const int64_t left = tile % tb.tiles_w * m - pad_w;
    l.tops[i] = th * m - pad_h;
    l.offsets[i] = (image - first) * image_stride + l.tops[i] * W + left;
    for (int c = 0; c < kChunks; ++c) {
      const int64_t c0 = int64_t(c) * kLanes;
      l.columns[i][c] = simd::lane_bits(-(left + c0), std::min<int64_t>(W - (left + c0), extent - c0));
    }
  }
  return l;
}

// Row r of the group's n x n patches (n = alpha) or m x m tiles (n = m) in a plane of H x W
// (0 outside it), one vector per column j: d[j] lane t = tile t's value at (r, j).
template <int m, int n>
inline void read_row(const float* plane, const TileLanes& l, int r, int64_t H, int64_t W, Vec* d) {
  (void)m;
  for (int c = 0; c * kLanes < n; ++c) {
    Vec rows[kLanes];
    for (int t = 0; t < kLanes; ++t) {
      const int64_t ih = l.tops[t] + r;
      rows[t] = t >= l.count || ih < 0 || ih >= H
                    ? simd::zero()
                    : simd::load_bits(l.columns[t][c], plane + l.offsets[t] + r * W + c * kLanes);
    }
    simd::transpose(rows);
    for (int j = 0; j < kLanes && c * kLanes + j < n; ++j) d[c * kLanes + j] = rows[j];
  }
}

// Writes row i of the group's m x m output tiles (out[j] lane t: tile t's column j) into a
// plane of OH x OW, clipped at its edges.
template <int m>
inline void write_row(float* plane, const TileLanes& l, int i, int64_t OH, int64_t OW, const Vec* out) {
  for (int c = 0; c * kLanes < m; ++c) {
    Vec rows[kLanes];
    for (int j = 0; j < kLanes; ++j) rows[j] = c * kLanes + j < m ? out[c * kLanes + j] : simd::zero();
    simd::transpose(rows);
    for (int t = 0; t < l.count; ++t)
      if (l.tops[t] + i < OH)
        simd::store_bits(l.columns[t][c], plane + l.offsets[t] + i * OW + c * kLanes, rows[t]);
  }
}

#endif

// V[xi, c, kLanes g + lane] for one input channel (xc: its H x W plane in the block's first
// image) and the block's groups of kLanes tiles: xi's blocks xi_stride apart. A channel's
// groups are taken together, so its plane is read in order.
template <class F>
void transform_inputs(const float* xc, int64_t H, int64_t W,
                                                        const TileLanes* groups, int64_t ngroups, float* V,
                                                        int64_t xi_stride) {
  constexpr int alpha = F::alpha;
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    Vec rowt[alpha][alpha];  // rows of d B (each row of the patch times B)
    for (int r = 0; r < alpha; ++r) {
      Vec d[alpha];
      read_row<F::m, alpha>(xc, groups[gi], r, H, W, d);
      apply<F::BT>(d, 1, rowt[r], 1);  // (d B)[r][b] = sum_j BT[b][j] d[r][j]
    }
    float* v = V + gi * kLanes;
    for (int b = 0; b < alpha; ++b) {
      Vec col[alpha];
      apply<F::BT>(&rowt[0][b], alpha, col, 1);  // (B^T d B)[a][b]
      for (int a = 0; a < alpha; ++a) simd::store(v + (a * alpha + b) * xi_stride, col[a]);
    }
  }
}

// One output channel's tiles (yo: its OH x OW plane in the block's first image) from
// M[xi, o, kLanes g + lane] (mo: this channel's row of M, xi's blocks xi_stride apart), plus bias.
template <class F>
void transform_outputs(const float* mo, int64_t xi_stride, float bias, int64_t OH,
                                                         int64_t OW, const TileLanes* groups, int64_t ngroups,
                                                         float* yo) {
  constexpr int m = F::m, alpha = F::alpha;
  const Vec bv = simd::set1(bias);
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    Vec mv[F::xi];
    for (int xi = 0; xi < F::xi; ++xi) mv[xi] = simd::load(mo + xi * xi_stride + gi * kLanes);
    Vec s[m][alpha];  // A^T M
    for (int b = 0; b < alpha; ++b) {
      Vec col[m];
      apply<F::AT>(&mv[b], alpha, col, 1);
      for (int i = 0; i < m; ++i) s[i][b] = col[i];
    }
    for (int i = 0; i < m; ++i) {
      Vec out[m];
      apply<F::AT>(s[i], 1, out, 1);  // (A^T M A)[i][j]
      for (int j = 0; j < m; ++j) out[j] = simd::add(out[j], bv);
      write_row<m>(yo, groups[gi], i, OH, OW, out);
    }
  }
}

// D[xi, o, kLanes g + lane] = (A dy A^T)[xi] for one output channel's m x m tiles of dy (dyo:
// its OH x OW plane in the block's first image; 0 past the edges), the weight gradient's
// counterpart of transform_inputs.
template <class F>
void transform_grads(const float* dyo, int64_t OH, int64_t OW,
                                                       const TileLanes* groups, int64_t ngroups, float* D,
                                                       int64_t xi_stride) {
  constexpr int m = F::m, alpha = F::alpha;
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    Vec u[m][alpha];  // rows of dy A^T
    for (int i = 0; i < m; ++i) {
      Vec d[m];
      read_row<m, m>(dyo, groups[gi], i, OH, OW, d);
      apply<F::A>(d, 1, u[i], 1);
    }
    float* out = D + gi * kLanes;
    for (int b = 0; b < alpha; ++b) {
      Vec col[alpha];
      apply<F::A>(&u[0][b], alpha, col, 1);  // (A dy A^T)[a][b]
      for (int a = 0; a < alpha; ++a) simd::store(out + (a * alpha + b) * xi_stride, col[a]);
    }
  }
}

// dw[o, i, r, r] = G^T M[., o, i] G for a vector of input channels i0.. at a time, M the
// sum of the threads' parts (each [xi, O, I]), over lamina's threads (from 512 filters).
template <class F>
void transform_weight_grads(const std::vector<std::vector<float>>& parts, int64_t O, int64_t I, float* dw) {
  constexpr int r = F::r, alpha = F::alpha;
#pragma omp parallel for if (O * I >= 512)
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i0 = 0; i0 < I; i0 += kLanes) {
      const int64_t n = std::min<int64_t>(kLanes, I - i0);
      const Mask valid = simd::lanes(0, n);
      Vec mv[F::xi];
      for (int xi = 0; xi < F::xi; ++xi) {
        mv[xi] = simd::load(valid, parts[0].data() + (xi * O + o) * I + i0);
        for (size_t part = 1; part < parts.size(); ++part)
          mv[xi] = simd::add(mv[xi], simd::load(valid, parts[part].data() + (xi * O + o) * I + i0));
      }
      Vec t[alpha][r];  // M G
      for (int a = 0; a < alpha; ++a) apply<F::GT>(&mv[a * alpha], 1, t[a], 1);
      float* out = dw + (o * I + i0) * r * r;
      for (int s = 0; s < r; ++s) {
        Vec col[r];
        apply<F::GT>(&t[0][s], r, col, 1);  // (G^T M G)[q][s]
        for (int q = 0; q < r; ++q) {
          float lane[kLanes];  // filter i's tap (q, s) is r^2 floats after filter i - 1's
          simd::store(lane, col[q]);
          for (int64_t i = 0; i < n; ++i) out[i * r * r + q * r + s] = lane[i];
        }
      }
    }
}

// u[xi][o][i] = (G g G^T)[xi] for the filter g of (o, i), a vector of filters i at a time:
// each xi's [O, I] the A of a conv_gemm.
template <class F>
void transform_weights(const float* w, int64_t O, int64_t I, bool adjoint, float* u) {
  constexpr int r = F::r, taps = r * r, alpha = F::alpha;
  const int64_t blocks = (I + kLanes - 1) / kLanes;
#pragma omp parallel for if (O * I >= 512)
  for (int64_t ob = 0; ob < O * blocks; ++ob) {
    const int64_t o = ob / blocks, i0 = (ob % blocks) * kLanes;
    [&]() {
      const Mask valid = simd::lanes(0, I - i0);
      // Filter (o, i) is w[o, i] or, for the adjoint (the input gradient: an r x r
      // convolution of dy by the weights transposed and turned 180 degrees), w[i, o] reversed.
      const int64_t step = adjoint ? O * taps : taps;
      const float* first = adjoint ? w + (i0 * O + o) * taps : w + (o * I + i0) * taps;
      Vec g[taps];
      for (int k = 0; k < taps; ++k) g[adjoint ? taps - 1 - k : k] = simd::gather(valid, first + k, step);
      Vec gt[alpha][r];  // G g
      for (int c = 0; c < r; ++c) {
        Vec col[alpha];
        apply<F::G>(&g[c], r, col, 1);
        for (int a = 0; a < alpha; ++a) gt[a][c] = col[a];
      }
      for (int a = 0; a < alpha; ++a) {
        Vec row[alpha];
        apply<F::G>(gt[a], 1, row, 1);  // (G g G^T)[a][b] = sum_c G[b][c] (G g)[a][c]
        for (int b = 0; b < alpha; ++b) simd::store(valid, u + ((a * alpha + b) * O + o) * I + i0, row[b]);
      }
    }();
  }
}

// Calls f(part, first_block_of_part, count, image, in_lanes, out_lanes) for each block of
// slots [t0, t0 + count): each thread takes an equal share of the slots (whole blocks
// could leave one thread idle for long), in whole groups, in blocks;
// `image` is the first tile's; the lanes are the tiles as input patches (images H x W,
// x_image floats apart, padded) and as output tiles (OH x OW, y_image apart), a group per
// entry.
template <class Fn>
void over_blocks(const TileBlocks& tb, int alpha, int64_t H, int64_t W, int64_t x_image, int64_t pad_h,
                 int64_t pad_w, int64_t OH, int64_t OW, int64_t y_image, Fn f) {
  const int parts = tb.parts();
  parallel_for(parts, parts > 1, [&](int, int64_t part) {
    const int64_t begin = tb.slots * part / parts / kLanes * kLanes;
    const int64_t end = part + 1 == parts ? tb.slots : tb.slots * (part + 1) / parts / kLanes * kLanes;
    std::vector<TileLanes> in_lanes, out_lanes;
    for (int64_t t0 = begin; t0 < end; t0 += tb.block) {
      const int64_t count = std::min(tb.block, end - t0), image = tb.image_of(t0);
      in_lanes.clear();
      out_lanes.clear();
      for (int64_t t = t0; t < t0 + count; t += kLanes) {
        in_lanes.push_back(tile_lanes(tb, t, image, H, W, x_image, pad_h, pad_w, alpha));
        out_lanes.push_back(tile_lanes(tb, t, image, OH, OW, y_image, 0, 0, static_cast<int>(tb.tile)));
      }
      f(static_cast<int>(part), t0 == begin, count, image, in_lanes, out_lanes);
    }
  });
}

template <class F>
void convolve(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t pad_h,
              int64_t pad_w, const float* u, int64_t O, const float* bias, float* y, int64_t y_image, int64_t OH,
              int64_t OW) {
  // A block's V and M together near 512 KB (half the L2, leaving room for the weights), in
  // whole 32-column strips of the GEMM.
  const TileBlocks tb(F::m, N, OH, OW,
                      std::max<int64_t>(32, std::min<int64_t>(128, (512 << 10) / (4 * F::xi * (I + O)) / 32 * 32)));
  // xi's blocks one cache line more than a multiple of 4 KB apart: the transforms touch all
  // xi at once, which would otherwise share a few L1 sets.
  const int64_t v_stride = I * tb.block + 16, m_stride = O * tb.block + 16;  // (16 floats: a line)
  over_blocks(tb, F::alpha, H, W, x_image, pad_h, pad_w, OH, OW, y_image,
              [&](int, bool, int64_t count, int64_t image, const std::vector<TileLanes>& in_lanes,
                  const std::vector<TileLanes>& out_lanes) {
                thread_local std::vector<float> V, M;
                V.resize(static_cast<size_t>(F::xi * v_stride));
                M.resize(static_cast<size_t>(F::xi * m_stride));
                const int64_t groups = static_cast<int64_t>(in_lanes.size()), block = tb.block;
                for (int64_t c = 0; c < I; ++c)
                  transform_inputs<F>(x + image * x_image + c * H * W, H, W, in_lanes.data(), groups,
                                      V.data() + c * block, v_stride);
                for (int64_t xi = 0; xi < F::xi; ++xi)
                  conv_gemm(O, I, ConvGemmA{u + xi * O * I, I, false}, V.data() + xi * v_stride, block, 0, count, nullptr,
                            false, M.data() + xi * m_stride, block);
                for (int64_t o = 0; o < O; ++o)
                  transform_outputs<F>(M.data() + o * block, m_stride, bias ? bias[o] : 0.0f, OH, OW,
                                       out_lanes.data(), groups, y + image * y_image + o * OH * OW);
              });
}

template <class F>
void weight_gradient(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t pad_h,
                     int64_t pad_w, const float* dy, int64_t dy_image, int64_t O, int64_t OH, int64_t OW,
                     float* dw) {
  // Over every tile t of every image: M[xi] [O, I] = sum_t (A dy_t A^T)[xi] (B^T x_t B)[xi]^T,
  // xi GEMMs with the tiles as their depth, in blocks of tiles per thread (each thread
  // its own M, summed at the end); then dw = G^T M G per filter.
  const TileBlocks tb(F::m, N, OH, OW,
                      std::max<int64_t>(32, std::min<int64_t>(512, (4 << 20) / (4 * F::xi * (I + O)) / 16 * 16)));
  const int64_t x_stride = I * tb.block + 16, d_stride = O * tb.block + 16;  // (as in convolve)
  const int parts = tb.parts();
  std::vector<std::vector<float>> sums(static_cast<size_t>(parts));
  over_blocks(tb, F::alpha, H, W, x_image, pad_h, pad_w, OH, OW, dy_image,
              [&](int part, bool first_block, int64_t count, int64_t image,
                  const std::vector<TileLanes>& in_lanes, const std::vector<TileLanes>& out_lanes) {
                thread_local std::vector<float> X, D;
                X.resize(static_cast<size_t>(F::xi * x_stride));
                D.resize(static_cast<size_t>(F::xi * d_stride));
                std::vector<float>& M = sums[static_cast<size_t>(part)];
                M.resize(static_cast<size_t>(F::xi * O * I));
                const int64_t groups = static_cast<int64_t>(in_lanes.size()), block = tb.block;
                for (int64_t c = 0; c < I; ++c)
                  transform_inputs<F>(x + image * x_image + c * H * W, H, W, in_lanes.data(), groups,
                                      X.data() + c * block, x_stride);
                for (int64_t o = 0; o < O; ++o)
                  transform_grads<F>(dy + image * dy_image + o * OH * OW, OH, OW, out_lanes.data(), groups,
                                     D.data() + o * block, d_stride);
                for (int64_t xi = 0; xi < F::xi; ++xi)
                  gemm<float>(false, true, O, I, count, 1.0f, D.data() + xi * d_stride, block,
                              X.data() + xi * x_stride, block, first_block ? 0.0f : 1.0f, M.data() + xi * O * I, I);
              });
  transform_weight_grads<F>(sums, O, I, dw);
}

// Calls f with the Winograd<r> of a kernel side r (3 or 5; anything else throws).
template <class Fn>
void with_transform(int64_t r, Fn f) {
  LAMINA_CHECK(r == 3 || r == 5, "winograd: the kernel must be 3x3 or 5x5, got ", r, "x", r);
  if (r == 3)
    f(Winograd<3>());
  else
    f(Winograd<5>());
}

}  // namespace

size_t winograd_weights_size(int64_t O, int64_t I, int64_t r) {
  size_t xi = 0;
  with_transform(r, [&](auto f) { xi = decltype(f)::xi; });
  return xi * static_cast<size_t>(O * I);
}

void winograd_weights(const float* w, int64_t O, int64_t I, int64_t r, bool adjoint, float* u) {
  with_transform(r, [&](auto f) { transform_weights<decltype(f)>(w, O, I, adjoint, u); });
}

void winograd_conv(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r,
                   int64_t pad_h, int64_t pad_w, const float* u, int64_t O, const float* bias, float* y,
                   int64_t y_image, int64_t OH, int64_t OW) {
  with_transform(r, [&](auto f) {
    convolve<decltype(f)>(x, x_image, N, I, H, W, pad_h, pad_w, u, O, bias, y, y_image, OH, OW);
  });
}

void winograd_weight_grad(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t r,
                          int64_t pad_h, int64_t pad_w, const float* dy, int64_t dy_image, int64_t O, int64_t OH,
                          int64_t OW, float* dw) {
  with_transform(r, [&](auto f) {
    weight_gradient<decltype(f)>(x, x_image, N, I, H, W, pad_h, pad_w, dy, dy_image, O, OH, OW, dw);
  });
}

void fill_winograd(Table& t) {
  t.winograd_weights_size = winograd_weights_size;
  t.winograd_weights = winograd_weights;
  t.winograd_conv = winograd_conv;
  t.winograd_weight_grad = winograd_weight_grad;
}

#else

void fill_winograd(Table&) {}  // (its entries stay empty: conv2d takes im2col + gemm)

#endif

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
