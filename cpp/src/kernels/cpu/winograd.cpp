// Winograd F(4x4, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015), float32 with AVX-512. A 4x4 block of outputs (a tile) of a 3x3,
// stride-1 convolution comes from the 6x6 input patch under it:
//   Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A
// so the 36 products per tile and channel pair replace 144 multiply-adds: 36 GEMMs
// (one per element xi of the 6x6 transformed tile) of [O, I] transformed weights by
// [I, tiles] transformed inputs. The transforms are fixed sums (matrices below, with the
// interpolation points 0, 1, -1, 2, -2 and infinity).
//
// Tiles of every image are numbered together (n, tile row, tile column) and taken in
// blocks: each block's transformed inputs V [36, I, block] and products M [36, O, block]
// stay in cache, and each thread takes whole blocks with single-threaded GEMMs.
// Transforms go 16 tiles at a time, one tile per lane: masked gathers read the patches
// (0 outside the image) and masked scatters write the output tiles (clipped at the
// right and bottom edges).
#include <algorithm>
#include <vector>

#include "kernels/cpu/avx512.hpp"
#include "kernels/kernels.hpp"
#include "parallel_for.hpp"

namespace lamina::kernels::cpu {

#ifdef LAMINA_AVX512
namespace {

constexpr int kTile = 4;    // outputs per tile side
constexpr int kAlpha = 6;   // transformed tile side: kTile + 3 - 1
constexpr int kXi = kAlpha * kAlpha;

constexpr float kBT[kAlpha][kAlpha] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                       {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr float kG[kAlpha][3] = {{1.0f / 4, 0, 0},
                                 {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                 {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                 {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                 {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                 {0, 0, 1}};
constexpr float kAT[kTile][kAlpha] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
// Their transposes, for the weight gradient.
constexpr float kA[kAlpha][kTile] = {{1, 0, 0, 0}, {1, 1, 1, 1}, {1, -1, 1, -1}, {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};
constexpr float kGT[3][kAlpha] = {{1.0f / 4, -1.0f / 6, -1.0f / 6, 1.0f / 24, 1.0f / 24, 0},
                                  {0, -1.0f / 6, 1.0f / 6, 1.0f / 12, -1.0f / 12, 0},
                                  {0, -1.0f / 6, -1.0f / 6, 1.0f / 6, 1.0f / 6, 1}};

// out[i] = sum_j m[i][j] * v[j] for a constant matrix row: zero entries cost nothing (the
// loops unroll, so the entries are constants and the compiler drops the zeros).
template <int R, int C>
__attribute__((target("avx512f"), always_inline)) inline void apply(const float (&m)[R][C], const __m512* v,
                                                                    int64_t stride, __m512* out, int64_t out_stride) {
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    __m512 s = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      if (m[i][j] == 0.0f) continue;
      if (m[i][j] == 1.0f)
        s = _mm512_add_ps(s, v[j * stride]);
      else if (m[i][j] == -1.0f)
        s = _mm512_sub_ps(s, v[j * stride]);
      else
        s = _mm512_fmadd_ps(_mm512_set1_ps(m[i][j]), v[j * stride], s);
    }
    out[i * out_stride] = s;
  }
}

// Tiles are numbered over images, tile rows and tile columns. With 12 or more tiles per
// row, each row's tiles take whole groups of 16 slots (a group never spans two rows; slots
// past the row's end stay empty), so a group's patches are read and its outputs written
// as contiguous runs of a row. With fewer, the tiles are packed 16 to a group whatever
// their rows, and read and written lane by lane (gathers and scatters).
struct TileBlocks {
  int64_t tiles_h, tiles_w, groups_w, slots, block;
  bool rows;  // row-aligned groups (above)
  TileBlocks(int64_t N, int64_t OH, int64_t OW, int64_t block_)
      : tiles_h((OH + kTile - 1) / kTile), tiles_w((OW + kTile - 1) / kTile), groups_w((tiles_w + 15) / 16),
        slots(tiles_w >= 12 ? N * tiles_h * groups_w * 16 : N * tiles_h * tiles_w), block(block_),
        rows(tiles_w >= 12) {}
  int parts() const { return static_cast<int>(std::min<int64_t>(num_threads(), (slots + block - 1) / block)); }
  int64_t image_of(int64_t slot) const {
    return rows ? slot / 16 / (tiles_h * groups_w) : slot / (tiles_h * tiles_w);
  }
};

// Where the 16 tiles of a group sit.
struct TileLanes {
  int32_t base[16];        // each tile's top-left pixel, as an offset from image `first` of the block
  __mmask16 rows[kAlpha];  // lanes whose patch row r is inside the image
  __mmask16 cols[kAlpha];  // lanes whose patch column j is inside
  bool row;                // row-aligned: the tiles are consecutive in one row, starting at
  int64_t offset;          //   image `offset` floats from image `first`,
  int64_t top, left;       //   row `top`, column `left`
};

// The group of slots [t, t + 16) (slots past `count` empty) of H x W images
// `image_stride` floats apart, seen from each tile's corner (tile row * 4 - pad_h, tile
// column * 4 - pad_w), `extent` rows and columns per tile (6 for input patches, 4 for
// output tiles).
TileLanes tile_lanes(const TileBlocks& tb, int64_t t, int64_t count, int64_t first, int64_t H, int64_t W,
                     int64_t image_stride, int64_t pad_h, int64_t pad_w, int extent) {
  TileLanes l = {};
  int64_t top[16] = {}, left[16] = {};
  int lanes_used = 0;
  for (int i = 0; i < count; ++i) {
    int64_t image, th, tw;
    if (tb.rows) {
      const int64_t g = t / 16, per_image = tb.tiles_h * tb.groups_w;
      image = g / per_image;
      th = g % per_image / tb.groups_w;
      tw = g % tb.groups_w * 16 + i;
      if (tw >= tb.tiles_w) break;
      if (i == 0) {
        l.row = true;
        l.offset = (image - first) * image_stride;
        l.top = th * kTile - pad_h;
        l.left = tw * kTile - pad_w;
      }
    } else {
      const int64_t u = t + i, per_image = tb.tiles_h * tb.tiles_w;
      image = u / per_image;
      th = u % per_image / tb.tiles_w;
      tw = u % tb.tiles_w;
    }
    top[i] = th * kTile - pad_h;
    left[i] = tw * kTile - pad_w;
    l.base[i] = static_cast<int32_t>((image - first) * image_stride + top[i] * W + left[i]);
    lanes_used = i + 1;
  }
  for (int r = 0; r < extent; ++r) {
    __mmask16 rm = 0, cm = 0;
    for (int i = 0; i < lanes_used; ++i) {
      if (top[i] + r >= 0 && top[i] + r < H) rm |= __mmask16(1u << i);
      if (left[i] + r >= 0 && left[i] + r < W) cm |= __mmask16(1u << i);
    }
    l.rows[r] = rm;
    l.cols[r] = cm;
  }
  return l;
}

// Lane t of the result is element 4 t + j of the 64 floats v0..v3 (a row of 16 tiles, 4
// columns each): tiles 0-7 from v0, v1 and 8-15 from v2, v3.
template <int j>
__attribute__((target("avx512f"), always_inline)) inline __m512 every_fourth(__m512 v0, __m512 v1, __m512 v2,
                                                                            __m512 v3) {
  const __m512i idx = _mm512_setr_epi32(j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j, j, 4 + j, 8 + j,
                                        12 + j, 16 + j, 20 + j, 24 + j, 28 + j);
  return _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(v0, idx, v1), _mm512_permutex2var_ps(v2, idx, v3));
}

// The 16 runs of `n` (4 or 6) columns starting 4 apart at src (a row's columns from col
// on; 0 outside [0, width)), one vector per column offset j: d[j] lane t = src[4 t + j].
template <int n>
__attribute__((target("avx512f"))) inline void row_runs(const float* src, int64_t col, int64_t width, __m512* d) {
  __m512 v[5];
  for (int k = 0; k < (n > 4 ? 5 : 4); ++k)
    v[k] = _mm512_maskz_loadu_ps(lanes(-(col + 16 * k), width - (col + 16 * k)), src + 16 * k);
  d[0] = every_fourth<0>(v[0], v[1], v[2], v[3]);
  d[1] = every_fourth<1>(v[0], v[1], v[2], v[3]);
  d[2] = every_fourth<2>(v[0], v[1], v[2], v[3]);
  d[3] = every_fourth<3>(v[0], v[1], v[2], v[3]);
  if constexpr (n > 4) {
    // Columns 4 and 5 of tile t are columns 0 and 1 of tile t + 1; the last tile's come
    // from v[4]. (Masked forms with every lane set: the plain ones pass GCC an undefined
    // vector it reports as uninitialised.)
    const __m512i v4 = _mm512_castps_si512(v[4]);
    d[4] = _mm512_castsi512_ps(_mm512_mask_alignr_epi32(v4, 0xFFFF, v4, _mm512_castps_si512(d[0]), 1));
    const __m512i v4s = _mm512_mask_alignr_epi32(v4, 0xFFFF, v4, v4, 1);
    d[5] = _mm512_castsi512_ps(_mm512_mask_alignr_epi32(v4, 0xFFFF, v4s, _mm512_castps_si512(d[1]), 1));
  }
}

// Row r of the group's n x n patches (n = 6) or tiles (n = 4) in a plane of H x W (0
// outside it), one vector per column j: d[j] lane t = tile t's value at (r, j).
template <int n>
__attribute__((target("avx512f"))) inline void read_row(const float* plane, const TileLanes& l, int r, int64_t H,
                                                        int64_t W, __m512* d) {
  if (l.row) {
    const int64_t ih = l.top + r;
    if (ih < 0 || ih >= H) {
      for (int j = 0; j < n; ++j) d[j] = _mm512_setzero_ps();
      return;
    }
    row_runs<n>(plane + l.offset + ih * W + l.left, l.left, W, d);
    return;
  }
  const __m512i row = _mm512_add_epi32(_mm512_loadu_si512(l.base), _mm512_set1_epi32(static_cast<int32_t>(r * W)));
  for (int j = 0; j < n; ++j)
    d[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), l.rows[r] & l.cols[j],
                                    _mm512_add_epi32(row, _mm512_set1_epi32(j)), plane, 4);
}

// Writes row i of the group's 4x4 output tiles (out[j] lane t: tile t's column j) into a
// plane of OH x OW, clipped at its edges.
__attribute__((target("avx512f"))) inline void write_row(float* plane, const TileLanes& l, int i, int64_t OH,
                                                         int64_t OW, const __m512* out) {
  if (l.row) {
    const int64_t oh = l.top + i;
    if (oh >= OH) return;
    float* dst = plane + l.offset + oh * OW + l.left;
    // Vector k holds tiles 4k..4k+3, 4 columns each: columns 0, 1 picked from out[0], out[1]
    // and 2, 3 from out[2], out[3].
    for (int k = 0; k < 4; ++k) {
      const __m512i lo = _mm512_setr_epi32(4 * k, 16 + 4 * k, 0, 0, 4 * k + 1, 17 + 4 * k, 0, 0, 4 * k + 2,
                                           18 + 4 * k, 0, 0, 4 * k + 3, 19 + 4 * k, 0, 0);
      const __m512i hi = _mm512_setr_epi32(0, 0, 4 * k, 16 + 4 * k, 0, 0, 4 * k + 1, 17 + 4 * k, 0, 0, 4 * k + 2,
                                           18 + 4 * k, 0, 0, 4 * k + 3, 19 + 4 * k);
      const __m512 z = _mm512_mask_blend_ps(0xCCCC, _mm512_permutex2var_ps(out[0], lo, out[1]),
                                            _mm512_permutex2var_ps(out[2], hi, out[3]));
      _mm512_mask_storeu_ps(dst + 16 * k, lanes(0, OW - (l.left + 16 * k)), z);
    }
    return;
  }
  const __m512i row = _mm512_add_epi32(_mm512_loadu_si512(l.base), _mm512_set1_epi32(static_cast<int32_t>(i * OW)));
  for (int j = 0; j < kTile; ++j)
    _mm512_mask_i32scatter_ps(plane, l.rows[i] & l.cols[j], _mm512_add_epi32(row, _mm512_set1_epi32(j)), out[j], 4);
}

// V[xi, c, 16 g + lane] for one input channel (xc: its H x W plane in the block's first
// image) and the block's groups of 16 tiles: xi's blocks xi_stride apart. A channel's
// groups are taken together, so its plane is read in order.
__attribute__((target("avx512f"))) void transform_inputs(const float* xc, int64_t H, int64_t W,
                                                        const TileLanes* groups, int64_t ngroups, float* V,
                                                        int64_t xi_stride) {
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    __m512 rowt[kAlpha][kAlpha];  // rows of d B (each row of the patch times B)
    for (int r = 0; r < kAlpha; ++r) {
      __m512 d[kAlpha];
      read_row<kAlpha>(xc, groups[gi], r, H, W, d);
      apply(kBT, d, 1, rowt[r], 1);  // (d B)[r][b] = sum_j BT[b][j] d[r][j]
    }
    float* v = V + gi * 16;
    for (int b = 0; b < kAlpha; ++b) {
      __m512 col[kAlpha];
      apply(kBT, &rowt[0][b], kAlpha, col, 1);  // (B^T d B)[a][b]
      for (int a = 0; a < kAlpha; ++a) _mm512_storeu_ps(v + (a * kAlpha + b) * xi_stride, col[a]);
    }
  }
}

// One output channel's tiles (yo: its OH x OW plane in the block's first image) from
// M[xi, o, 16 g + lane] (mo: this channel's row of M, xi's blocks xi_stride apart), plus bias.
__attribute__((target("avx512f"))) void transform_outputs(const float* mo, int64_t xi_stride, float bias, int64_t OH,
                                                         int64_t OW, const TileLanes* groups, int64_t ngroups,
                                                         float* yo) {
  const __m512 bv = _mm512_set1_ps(bias);
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    __m512 m[kXi];
    for (int xi = 0; xi < kXi; ++xi) m[xi] = _mm512_loadu_ps(mo + xi * xi_stride + gi * 16);
    __m512 s[kTile][kAlpha];  // A^T M
    for (int b = 0; b < kAlpha; ++b) {
      __m512 col[kTile];
      apply(kAT, &m[b], kAlpha, col, 1);
      for (int i = 0; i < kTile; ++i) s[i][b] = col[i];
    }
    for (int i = 0; i < kTile; ++i) {
      __m512 out[kTile];
      apply(kAT, s[i], 1, out, 1);  // (A^T M A)[i][j]
      for (int j = 0; j < kTile; ++j) out[j] = _mm512_add_ps(out[j], bv);
      write_row(yo, groups[gi], i, OH, OW, out);
    }
  }
}

// D[xi, o, 16 g + lane] = (A dy A^T)[xi] for one output channel's 4x4 tiles of dy (dyo: its
// OH x OW plane in the block's first image; 0 past the edges), the weight gradient's
// counterpart of transform_inputs.
__attribute__((target("avx512f"))) void transform_grads(const float* dyo, int64_t OH, int64_t OW,
                                                       const TileLanes* groups, int64_t ngroups, float* D,
                                                       int64_t xi_stride) {
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    __m512 u[kTile][kAlpha];  // rows of dy A^T
    for (int i = 0; i < kTile; ++i) {
      __m512 d[kTile];
      read_row<kTile>(dyo, groups[gi], i, OH, OW, d);
      apply(kA, d, 1, u[i], 1);
    }
    float* out = D + gi * 16;
    for (int b = 0; b < kAlpha; ++b) {
      __m512 col[kAlpha];
      apply(kA, &u[0][b], kAlpha, col, 1);  // (A dy A^T)[a][b]
      for (int a = 0; a < kAlpha; ++a) _mm512_storeu_ps(out + (a * kAlpha + b) * xi_stride, col[a]);
    }
  }
}

// dw[o, i, 3, 3] = G^T M[., o, i] G for 16 input channels i0.. at a time, M the sum of
// the threads' parts (each [36, O, I]), over lamina's threads.
__attribute__((target("avx512f"))) void transform_weight_grads(const std::vector<std::vector<float>>& parts,
                                                              int64_t O, int64_t I, float* dw) {
  const __m512i nine = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(9));
#pragma omp parallel for if (O * I >= 4096)
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i0 = 0; i0 < I; i0 += 16) {
      const __mmask16 valid = lanes(0, I - i0);
      __m512 m[kXi];
      for (int xi = 0; xi < kXi; ++xi) {
        m[xi] = _mm512_maskz_loadu_ps(valid, parts[0].data() + (xi * O + o) * I + i0);
        for (size_t part = 1; part < parts.size(); ++part)
          m[xi] = _mm512_add_ps(m[xi], _mm512_maskz_loadu_ps(valid, parts[part].data() + (xi * O + o) * I + i0));
      }
      __m512 t[kAlpha][3];  // M G
      for (int a = 0; a < kAlpha; ++a) apply(kGT, &m[a * kAlpha], 1, t[a], 1);
      float* out = dw + (o * I + i0) * 9;
      for (int s = 0; s < 3; ++s) {
        __m512 col[3];
        apply(kGT, &t[0][s], 3, col, 1);  // (G^T M G)[r][s]
        for (int r = 0; r < 3; ++r)
          _mm512_mask_i32scatter_ps(out, valid, _mm512_add_epi32(nine, _mm512_set1_epi32(r * 3 + s)), col[r], 4);
      }
    }
}

}  // namespace

bool winograd_available() { return has_avx512f(); }

size_t winograd_weights_size(int64_t O, int64_t I) { return kXi * packed_a_size(O, I); }

void winograd_weights(const float* w, int64_t O, int64_t I, bool adjoint, float* packed) {
  // u[xi][o][i] = (G g G^T)[xi] for the filter g of (o, i), 16 filters i at a time.
  thread_local std::vector<float> scratch;  // (the calling thread's: other threads write through u)
  scratch.resize(static_cast<size_t>(kXi * O * I));
  float* u = scratch.data();
  const int64_t blocks = (I + 15) / 16;
#pragma omp parallel for if (O * I >= 4096)
  for (int64_t ob = 0; ob < O * blocks; ++ob) {
    const int64_t o = ob / blocks, i0 = (ob % blocks) * 16;
    [&]() __attribute__((target("avx512f"))) {
      const __mmask16 valid = lanes(0, I - i0);
      // Filter (o, i) is w[o, i] or, for the adjoint (the input gradient: a 3x3 convolution
      // of dy by the weights transposed and turned 180 degrees), w[i, o] reversed.
      const int64_t step = adjoint ? O * 9 : 9;
      const float* first = adjoint ? w + (i0 * O + o) * 9 : w + (o * I + i0) * 9;
      const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int32_t>(step)));
      __m512 g[9];
      for (int k = 0; k < 9; ++k)
        g[adjoint ? 8 - k : k] =
            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, _mm512_add_epi32(idx, _mm512_set1_epi32(k)), first, 4);
      __m512 gt[kAlpha][3];  // G g
      for (int c = 0; c < 3; ++c) {
        __m512 col[kAlpha];
        apply(kG, &g[c], 3, col, 1);
        for (int a = 0; a < kAlpha; ++a) gt[a][c] = col[a];
      }
      for (int a = 0; a < kAlpha; ++a) {
        __m512 row[kAlpha];
        apply(kG, gt[a], 1, row, 1);  // (G g G^T)[a][b] = sum_c G[b][c] (G g)[a][c]
        for (int b = 0; b < kAlpha; ++b)
          _mm512_mask_storeu_ps(u + ((a * kAlpha + b) * O + o) * I + i0, valid, row[b]);
      }
    }();
  }
  for (int64_t xi = 0; xi < kXi; ++xi)
    pack_a(u + xi * O * I, O, I, I, false, packed + xi * packed_a_size(O, I));
}

namespace {

// Calls f(part, first_block_of_part, count, image, in_lanes, out_lanes) for each block of
// tiles [t0, t0 + count): each thread takes an equal share of the tiles (whole blocks
// left one thread idle a ninth of the time on 8x64x56x56) in blocks; `image` is the
// first tile's; the lanes are the tiles as input patches (images H x W, x_image floats
// apart, padded) and as output tiles (OH x OW, y_image apart), 16 tiles per entry.
template <class F>
void over_blocks(const TileBlocks& tb, int64_t H, int64_t W, int64_t x_image, int64_t pad_h, int64_t pad_w,
                 int64_t OH, int64_t OW, int64_t y_image, F f) {
  const int parts = tb.parts();
  parallel_for(parts, parts > 1, [&](int, int64_t part) {
    // Shares in whole groups of 16 slots.
    const int64_t begin = tb.slots * part / parts / 16 * 16;
    const int64_t end = part + 1 == parts ? tb.slots : tb.slots * (part + 1) / parts / 16 * 16;
    std::vector<TileLanes> in_lanes, out_lanes;
    for (int64_t t0 = begin; t0 < end; t0 += tb.block) {
      const int64_t count = std::min(tb.block, end - t0), image = tb.image_of(t0);
      in_lanes.clear();
      out_lanes.clear();
      for (int64_t t = t0; t < t0 + count; t += 16) {
        const int64_t n = std::min<int64_t>(16, t0 + count - t);
        in_lanes.push_back(tile_lanes(tb, t, n, image, H, W, x_image, pad_h, pad_w, kAlpha));
        out_lanes.push_back(tile_lanes(tb, t, n, image, OH, OW, y_image, 0, 0, kTile));
      }
      f(static_cast<int>(part), t0 == begin, count, image, in_lanes, out_lanes);
    }
  });
}

}  // namespace

void winograd_conv3x3(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W, int64_t pad_h,
                      int64_t pad_w, const float* packed, int64_t O, const float* bias, float* y, int64_t y_image,
                      int64_t OH, int64_t OW) {
  // A block's V and M together near 2 MB, in whole 32-column strips of the GEMM.
  const TileBlocks tb(N, OH, OW, std::max<int64_t>(32, std::min<int64_t>(128, (2 << 20) / (4 * kXi * (I + O)) / 32 * 32)));
  const size_t packed_size = packed_a_size(O, I);
  // xi's blocks one cache line more than a multiple of 4 KB apart: the transforms touch all
  // 36 at once, which would otherwise share a few L1 sets.
  const int64_t v_stride = I * tb.block + 16, m_stride = O * tb.block + 16;
  over_blocks(tb, H, W, x_image, pad_h, pad_w, OH, OW, y_image,
              [&](int, bool, int64_t count, int64_t image, const std::vector<TileLanes>& in_lanes,
                  const std::vector<TileLanes>& out_lanes) {
                thread_local std::vector<float> V, M;
                V.resize(static_cast<size_t>(kXi * v_stride));
                M.resize(static_cast<size_t>(kXi * m_stride));
                const int64_t groups = static_cast<int64_t>(in_lanes.size()), block = tb.block;
                for (int64_t c = 0; c < I; ++c)
                  transform_inputs(x + image * x_image + c * H * W, H, W, in_lanes.data(), groups,
                                   V.data() + c * block, v_stride);
                for (int64_t xi = 0; xi < kXi; ++xi)
                  conv_gemm(O, I, packed + xi * packed_size, V.data() + xi * v_stride, block, 0, count, nullptr,
                            false, M.data() + xi * m_stride, block);
                for (int64_t o = 0; o < O; ++o)
                  transform_outputs(M.data() + o * block, m_stride, bias ? bias[o] : 0.0f, OH, OW,
                                    out_lanes.data(), groups, y + image * y_image + o * OH * OW);
              });
}

void winograd_conv3x3_weight_grad(const float* x, int64_t x_image, int64_t N, int64_t I, int64_t H, int64_t W,
                                   int64_t pad_h, int64_t pad_w, const float* dy, int64_t dy_image, int64_t O,
                                   int64_t OH, int64_t OW, float* dw) {
  // Over every tile t of every image: M[xi] [O, I] = sum_t (A dy_t A^T)[xi] (B^T x_t B)[xi]^T,
  // 36 GEMMs with the tiles as their depth, in blocks of tiles per thread (each thread
  // its own M, summed at the end); then dw = G^T M G per filter.
  const TileBlocks tb(N, OH, OW, std::max<int64_t>(32, std::min<int64_t>(512, (4 << 20) / (4 * kXi * (I + O)) / 16 * 16)));
  const int64_t x_stride = I * tb.block + 16, d_stride = O * tb.block + 16;  // (as in winograd_conv3x3)
  const int parts = tb.parts();
  std::vector<std::vector<float>> sums(static_cast<size_t>(parts));
  over_blocks(tb, H, W, x_image, pad_h, pad_w, OH, OW, dy_image,
              [&](int part, bool first_block, int64_t count, int64_t image,
                  const std::vector<TileLanes>& in_lanes, const std::vector<TileLanes>& out_lanes) {
                thread_local std::vector<float> X, D;
                X.resize(static_cast<size_t>(kXi * x_stride));
                D.resize(static_cast<size_t>(kXi * d_stride));
                std::vector<float>& M = sums[static_cast<size_t>(part)];
                M.resize(static_cast<size_t>(kXi * O * I));
                const int64_t groups = static_cast<int64_t>(in_lanes.size()), block = tb.block;
                for (int64_t c = 0; c < I; ++c)
                  transform_inputs(x + image * x_image + c * H * W, H, W, in_lanes.data(), groups,
                                   X.data() + c * block, x_stride);
                for (int64_t o = 0; o < O; ++o)
                  transform_grads(dy + image * dy_image + o * OH * OW, OH, OW, out_lanes.data(), groups,
                                  D.data() + o * block, d_stride);
                for (int64_t xi = 0; xi < kXi; ++xi)
                  gemm<float>(false, true, O, I, count, 1.0f, D.data() + xi * d_stride, block,
                              X.data() + xi * x_stride, block, first_block ? 0.0f : 1.0f, M.data() + xi * O * I, I);
              });
  transform_weight_grads(sums, O, I, dw);
}

#else

bool winograd_available() { return false; }
size_t winograd_weights_size(int64_t, int64_t) { return 0; }
void winograd_weights(const float*, int64_t, int64_t, bool, float*) {}
void winograd_conv3x3(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                      int64_t, const float*, float*, int64_t, int64_t, int64_t) {}
void winograd_conv3x3_weight_grad(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                   const float*, int64_t, int64_t, int64_t, int64_t, float*) {}

#endif

}  // namespace lamina::kernels::cpu
