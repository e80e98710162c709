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

// Where 16 consecutive tiles (numbered over images, tile rows, tile columns) sit.
struct TileLanes {
  int32_t base[16];        // each tile's top-left pixel, as an offset from image `first` of the block
  __mmask16 rows[kAlpha];  // lanes whose patch row r is inside the image
  __mmask16 cols[kAlpha];  // lanes whose patch column j is inside
};

// The tiles [t, t + 16) (lanes past `count` off) of H x W images `image_stride` floats
// apart, seen from each tile's corner (tile row * 4 - pad_h, tile column * 4 - pad_w),
// `extent` rows and columns per tile (6 for input patches, 4 for output tiles).
TileLanes tile_lanes(int64_t t, int64_t count, int64_t first, int64_t tiles_h, int64_t tiles_w, int64_t H, int64_t W,
                     int64_t image_stride, int64_t pad_h, int64_t pad_w, int extent) {
  TileLanes l = {};
  int64_t top[16] = {}, left[16] = {};
  for (int i = 0; i < count; ++i) {
    const int64_t u = t + i, per_image = tiles_h * tiles_w;
    top[i] = (u % per_image) / tiles_w * kTile - pad_h;
    left[i] = u % tiles_w * kTile - pad_w;
    l.base[i] = static_cast<int32_t>((u / per_image - first) * image_stride + top[i] * W + left[i]);
  }
  for (int r = 0; r < extent; ++r) {
    __mmask16 rm = 0, cm = 0;
    for (int i = 0; i < count; ++i) {
      if (top[i] + r >= 0 && top[i] + r < H) rm |= __mmask16(1u << i);
      if (left[i] + r >= 0 && left[i] + r < W) cm |= __mmask16(1u << i);
    }
    l.rows[r] = rm;
    l.cols[r] = cm;
  }
  return l;
}

// V[xi, c, 16 g + lane] for one input channel (xc: its plane in the block's first image)
// and the block's groups of 16 tiles: V's rows of tiles ldv apart, xi's blocks xi_stride
// apart. A channel's groups are taken together, so its plane is read in order.
__attribute__((target("avx512f"))) void transform_inputs(const float* xc, int64_t W, const TileLanes* groups,
                                                        int64_t ngroups, float* V, int64_t xi_stride) {
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    const TileLanes& l = groups[gi];
    __m512 rowt[kAlpha][kAlpha];  // rows of d B (each row of the patch times B)
    for (int r = 0; r < kAlpha; ++r) {
      __m512 d[kAlpha];
      const __m512i row = _mm512_add_epi32(_mm512_loadu_si512(l.base), _mm512_set1_epi32(static_cast<int32_t>(r * W)));
      for (int j = 0; j < kAlpha; ++j)
        d[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), l.rows[r] & l.cols[j],
                                        _mm512_add_epi32(row, _mm512_set1_epi32(j)), xc, 4);
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

// One output channel's tiles (yo: its plane in the block's first image) from
// M[xi, o, 16 g + lane] (mo: this channel's row of M, xi's blocks xi_stride apart), plus bias.
__attribute__((target("avx512f"))) void transform_outputs(const float* mo, int64_t xi_stride, float bias, int64_t OW,
                                                         const TileLanes* groups, int64_t ngroups, float* yo) {
  const __m512 bv = _mm512_set1_ps(bias);
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    const TileLanes& l = groups[gi];
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
      const __m512i row = _mm512_add_epi32(_mm512_loadu_si512(l.base), _mm512_set1_epi32(static_cast<int32_t>(i * OW)));
      for (int j = 0; j < kTile; ++j)
        _mm512_mask_i32scatter_ps(yo, l.rows[i] & l.cols[j], _mm512_add_epi32(row, _mm512_set1_epi32(j)),
                                  _mm512_add_ps(out[j], bv), 4);
    }
  }
}

// D[xi, o, 16 g + lane] = (A dy A^T)[xi] for one output channel's 4x4 tiles of dy (dyo: its
// plane in the block's first image; 0 past the edges), the weight gradient's counterpart
// of transform_inputs.
__attribute__((target("avx512f"))) void transform_grads(const float* dyo, int64_t OW, const TileLanes* groups,
                                                       int64_t ngroups, float* D, int64_t xi_stride) {
  for (int64_t gi = 0; gi < ngroups; ++gi) {
    const TileLanes& l = groups[gi];
    __m512 u[kTile][kAlpha];  // rows of dy A^T
    for (int i = 0; i < kTile; ++i) {
      __m512 d[kTile];
      const __m512i row = _mm512_add_epi32(_mm512_loadu_si512(l.base), _mm512_set1_epi32(static_cast<int32_t>(i * OW)));
      for (int j = 0; j < kTile; ++j)
        d[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), l.rows[i] & l.cols[j],
                                        _mm512_add_epi32(row, _mm512_set1_epi32(j)), dyo, 4);
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

// Tiles of every image numbered together, in blocks of at most `block`.
struct TileBlocks {
  int64_t tiles_h, tiles_w, tiles, block;
  TileBlocks(int64_t N, int64_t OH, int64_t OW, int64_t block_)
      : tiles_h((OH + kTile - 1) / kTile), tiles_w((OW + kTile - 1) / kTile), tiles(N * tiles_h * tiles_w),
        block(block_) {}
  int parts() const { return static_cast<int>(std::min<int64_t>(num_threads(), (tiles + block - 1) / block)); }
};

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
    const int64_t begin = tb.tiles * part / parts, end = tb.tiles * (part + 1) / parts;
    std::vector<TileLanes> in_lanes, out_lanes;
    for (int64_t t0 = begin; t0 < end; t0 += tb.block) {
      const int64_t count = std::min(tb.block, end - t0), image = t0 / (tb.tiles_h * tb.tiles_w);
      in_lanes.clear();
      out_lanes.clear();
      for (int64_t t = t0; t < t0 + count; t += 16) {
        const int64_t n = std::min<int64_t>(16, t0 + count - t);
        in_lanes.push_back(tile_lanes(t, n, image, tb.tiles_h, tb.tiles_w, H, W, x_image, pad_h, pad_w, kAlpha));
        out_lanes.push_back(tile_lanes(t, n, image, tb.tiles_h, tb.tiles_w, OH, OW, y_image, 0, 0, kTile));
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
                  transform_inputs(x + image * x_image + c * H * W, W, in_lanes.data(), groups, V.data() + c * block,
                                   v_stride);
                for (int64_t xi = 0; xi < kXi; ++xi)
                  conv_gemm(O, I, packed + xi * packed_size, V.data() + xi * v_stride, block, 0, count, nullptr,
                            false, M.data() + xi * m_stride, block);
                for (int64_t o = 0; o < O; ++o)
                  transform_outputs(M.data() + o * block, m_stride, bias ? bias[o] : 0.0f, OW, out_lanes.data(),
                                    groups, y + image * y_image + o * OH * OW);
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
                  transform_inputs(x + image * x_image + c * H * W, W, in_lanes.data(), groups, X.data() + c * block,
                                   x_stride);
                for (int64_t o = 0; o < O; ++o)
                  transform_grads(dy + image * dy_image + o * OH * OW, OW, out_lanes.data(), groups,
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
