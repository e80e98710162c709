// Direct depthwise convolution: one input channel per group, `mult` output channels per
// input channel (O = C * mult). A GEMM per channel would be [mult, KH*KW] x [KH*KW, OH*OW],
// far too thin for a BLAS; instead each kernel tap adds a shifted input row to an output
// row, a contiguous loop when the stride is 1 (the portable loops at the end), or, in
// float32 at every vector level, rows of outputs are built in registers (the section below).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// The generic level (one-lane vectors) keeps the loops at the end.
#if !defined(LAMINA_LEVEL_GENERIC)
namespace {

using simd::kLanes;
using simd::Mask;
using simd::MaskBits;
using simd::Vec;

// Float32, unit horizontal stride. The loops at the end add one kernel tap at a time into
// memory: a load and a store per FMA, each waiting on the one before. Here kRows output
// rows are built in registers at once, kV vectors per row, and stored once: each source
// row is loaded (KW shifted vectors) once for every output row it reaches, so a 3x3
// kernel takes 4.5 loads per 9 FMAs instead of 9. KW is a template argument (1 to 7) so
// that the taps unroll; wider kernels take the loops at the end.

constexpr int64_t kMaxKW = 7;
constexpr int kRows = 4;
constexpr int kV = simd::kRegisters >= 32 ? 2 : 1;  // vectors per row: kRows kV accumulators
constexpr int64_t kChunk = kV * kLanes;             // outputs of a row per step

// masks[ch * KW + k]: the lanes of vector ch of a `len`-long output row whose source
// column ch * kLanes + lane + first + k * step lies inside [0, width). Vectors are counted
// to a multiple of kV; the extra ones have no lanes.
std::vector<MaskBits> row_masks(int64_t len, int64_t width, int64_t KW, int64_t first, int64_t step) {
  const int64_t chunks = (len + kChunk - 1) / kChunk * kV;
  std::vector<MaskBits> m(static_cast<size_t>(chunks * KW));
  for (int64_t ch = 0; ch < chunks; ++ch)
    for (int64_t k = 0; k < KW; ++k) {
      const int64_t start = ch * kLanes + first + k * step;
      m[ch * KW + k] = simd::lane_bits(-start, width - start) & simd::lane_bits(0, len - ch * kLanes);
    }
  return m;
}

// The sources of a block of up to kRows output rows, as offsets that hold for every plane:
// source s is the row at src + src_off[s]; it meets output row r through the kernel row at
// wts + w_off[s * kRows + r] (-1: it does not reach row r).
struct RowBlock {
  int64_t first;  // the block's first output row
  int nout;       // its rows (kRows, fewer at the end)
  int64_t begin, nsrc;  // its sources in src_off
  // KH when the block is a band: kRows rows from kRows + KH - 1 sources, source s reaching
  // rows r with 0 <= s - r < KH (stride 1, no dilation, inside the image) through the same
  // kernel row for the same s - r; else 0.
  int band = 0;
};

struct RowPlan {
  std::vector<RowBlock> blocks;
  std::vector<int64_t> src_off;
  std::vector<int32_t> w_off;
  // Marks the block a band of KH (RowBlock::band) if it is one.
  void mark_band(RowBlock& blk, int64_t KH) const {
    if (blk.nout != kRows || blk.nsrc != kRows + KH - 1) return;
    for (int64_t s = 0; s < blk.nsrc; ++s)
      for (int r = 0; r < kRows; ++r)
        if ((w_off[(blk.begin + s) * kRows + r] >= 0) != (s - r >= 0 && s - r < KH) ||
            (s - r >= 0 && s - r < KH && w_off[(blk.begin + s) * kRows + r] != w_off[(blk.begin + s - r) * kRows]))
          return;
    blk.band = static_cast<int>(KH);
  }
  void add_source(int64_t off, const int32_t* w) {
    src_off.push_back(off);
    w_off.insert(w_off.end(), w, w + kRows);
  }
};

// For r < nout: out[r * out_stride + i], i < len, = (add ? itself : bias) + the sum over the
// block's sources s and k < KW of wts[w_off[s, r] + k] * src[src_off[s] + i + k * step].
// Source lanes outside the masks read as 0 and are never touched (so a source may start
// before its row).
// accumulate_rows for a band of KW x KW taps (RowBlock::band): which source reaches which
// row, and through which kernel row, is known at compile time, so the loops unroll without
// a test, the accumulators stay in registers and so do the weights, broadcast once per call
// where the level's registers hold them all.
template <int KW>
void accumulate_band(const float* src, const float* wts, const int64_t* soff, const int32_t* woff, int64_t step,
                     const MaskBits* masks, int64_t len, float bias, bool add, float* out, int64_t out_stride) {
  constexpr int kSources = kRows + KW - 1;
  constexpr bool kKeepWeights = KW * KW + kRows * kV + kV * KW <= simd::kRegisters;
  Vec wv[kKeepWeights ? KW * KW : 1];  // wv[d * KW + k]: tap k of the kernel row for s - r = d
  if constexpr (kKeepWeights)
    for (int d = 0; d < KW; ++d)
      for (int k = 0; k < KW; ++k) wv[d * KW + k] = simd::set1(wts[woff[d * kRows] + k]);
  for (int64_t o0 = 0; o0 < len; o0 += kChunk) {
    Mask m[kV][KW], t[kV];
    bool whole = true;  // every tap's lanes inside the row: plain loads
    for (int v = 0; v < kV; ++v) {
      t[v] = simd::lanes(0, len - o0 - v * kLanes);
      for (int k = 0; k < KW; ++k) {
        const MaskBits bits = masks[(o0 / kLanes + v) * KW + k];
        whole = whole && bits == simd::kAllBits;
        m[v][k] = simd::from_bits(bits);
      }
    }
    Vec a[kRows][kV];
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < kV; ++v)
        a[r][v] = add ? simd::load(t[v], out + r * out_stride + o0 + v * kLanes) : simd::set1(bias);
#pragma GCC unroll 16
    for (int s = 0; s < kSources; ++s) {
      const float* p = src + soff[s] + o0;
      Vec x[kV][KW];
      for (int v = 0; v < kV; ++v)
        for (int k = 0; k < KW; ++k)
          x[v][k] = whole ? simd::load(p + v * kLanes + k * step) : simd::load(m[v][k], p + v * kLanes + k * step);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        if (s - r < 0 || s - r >= KW) continue;  // (constant once unrolled)
        const float* wk = wts + woff[(s - r) * kRows];
        for (int k = 0; k < KW; ++k) {
          const Vec w = kKeepWeights ? wv[(s - r) * KW + k] : simd::set1(wk[k]);
          for (int v = 0; v < kV; ++v) a[r][v] = simd::fma(w, x[v][k], a[r][v]);
        }
      }
    }
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < kV; ++v) simd::store(t[v], out + r * out_stride + o0 + v * kLanes, a[r][v]);
  }
}

template <int KW>
void accumulate_rows(const float* src, const float* wts, const RowPlan& plan, const RowBlock& blk, int64_t step,
                     const MaskBits* masks, int64_t len, float bias, bool add, float* out, int64_t out_stride) {
  const int64_t* soff = plan.src_off.data() + blk.begin;
  const int32_t* woff = plan.w_off.data() + blk.begin * kRows;
  if constexpr (KW == 3 || KW == 5) {
    if (blk.band == KW) return accumulate_band<KW>(src, wts, soff, woff, step, masks, len, bias, add, out, out_stride);
  }
  for (int64_t o0 = 0; o0 < len; o0 += kChunk) {
    Mask m[kV][KW], t[kV];  // (worked out once for all the block's sources)
    for (int v = 0; v < kV; ++v) {
      t[v] = simd::lanes(0, len - o0 - v * kLanes);
      for (int k = 0; k < KW; ++k) m[v][k] = simd::from_bits(masks[(o0 / kLanes + v) * KW + k]);
    }
    Vec a[kRows][kV];
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < kV; ++v)
        a[r][v] = add && r < blk.nout ? simd::load(t[v], out + r * out_stride + o0 + v * kLanes) : simd::set1(bias);
    for (int64_t s = 0; s < blk.nsrc; ++s) {
      const float* p = src + soff[s] + o0;
      Vec x[kV][KW];
      for (int v = 0; v < kV; ++v)
        for (int k = 0; k < KW; ++k) x[v][k] = simd::load(m[v][k], p + v * kLanes + k * step);
      for (int r = 0; r < kRows; ++r) {
        if (woff[s * kRows + r] < 0) continue;
        const float* wk = wts + woff[s * kRows + r];
        for (int k = 0; k < KW; ++k) {
          const Vec wv = simd::set1(wk[k]);
          for (int v = 0; v < kV; ++v) a[r][v] = simd::fma(wv, x[v][k], a[r][v]);
        }
      }
    }
    for (int r = 0; r < blk.nout; ++r)
      for (int v = 0; v < kV; ++v) simd::store(t[v], out + r * out_stride + o0 + v * kLanes, a[r][v]);
  }
}

using AccumulateRows = void (*)(const float*, const float*, const RowPlan&, const RowBlock&, int64_t,
                                const MaskBits*, int64_t, float, bool, float*, int64_t);

// dw[kh * KW + k] += the sum over sources s < nsrc and i < len of
// dy[dy_off[s * KH + kh] + i] * x[x_off[s] + i + k * step] (x through the masks as above;
// dy_off -1: that kernel row pairs source s with no output row). Each x row is loaded once
// for all KH kernel rows, into KH * KW accumulators.
template <int KH, int KW>
void weight_grad_rows(const float* x, const float* dy, int64_t nsrc, const int64_t* x_off, const int64_t* dy_off,
                      int64_t step, const MaskBits* masks, int64_t len, float* dw) {
  Vec acc[KH * KW];
  for (int t = 0; t < KH * KW; ++t) acc[t] = simd::zero();
  for (int64_t s = 0; s < nsrc; ++s)
    for (int64_t o0 = 0; o0 < len; o0 += kLanes) {
      const MaskBits* m = masks + (o0 / kLanes) * KW;
      Vec xv[KW];
      for (int k = 0; k < KW; ++k) xv[k] = simd::load_bits(m[k], x + x_off[s] + o0 + k * step);
      const bool whole = o0 + kLanes <= len;
      for (int kh = 0; kh < KH; ++kh) {
        if (dy_off[s * KH + kh] < 0) continue;
        const float* q = dy + dy_off[s * KH + kh] + o0;
        const Vec dv = whole ? simd::load(q) : simd::load(simd::lanes(0, len - o0), q);
        for (int k = 0; k < KW; ++k) acc[kh * KW + k] = simd::fma(dv, xv[k], acc[kh * KW + k]);
      }
    }
  for (int t = 0; t < KH * KW; ++t) dw[t] += simd::reduce_add(acc[t]);
}

using WeightGradRows = void (*)(const float*, const float*, int64_t, const int64_t*, const int64_t*, int64_t,
                                const MaskBits*, int64_t, float*);

AccumulateRows accumulate_for(int64_t KW) {
  switch (KW) {
    case 1: return accumulate_rows<1>;
    case 2: return accumulate_rows<2>;
    case 3: return accumulate_rows<3>;
    case 4: return accumulate_rows<4>;
    case 5: return accumulate_rows<5>;
    case 6: return accumulate_rows<6>;
    case 7: return accumulate_rows<7>;
    default: return nullptr;
  }
}

// The weight gradient's register kernels: KH * KW accumulators and KW x vectors (past 16
// registers, AVX2 spills some of the 5x5 kernel's).
WeightGradRows weight_grad_for(int64_t KH, int64_t KW) {
  if (KH == 3 && KW == 3) return weight_grad_rows<3, 3>;
  if (KH == 5 && KW == 5) return weight_grad_rows<5, 5>;
  if (KH == 1 && KW == 1) return weight_grad_rows<1, 1>;
  if (KH == 7 && KW == 1) return weight_grad_rows<7, 1>;
  if (KH == 1 && KW == 7) return weight_grad_rows<1, 7>;
  return nullptr;
}

// Whether the vector forward and input gradient take this geometry (the weight gradient
// also needs weight_grad_for).
bool depthwise_vectors(const ConvGeometry& g) { return g.stride_w == 1 && g.KW <= kMaxKW; }

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Kernel row kh with t = kh * dilation, or -1 where t is not a whole multiple inside the kernel.
int32_t kernel_row(const ConvGeometry& g, int64_t t) {
  return t >= 0 && t % g.dilation_h == 0 && t / g.dilation_h < g.KH ? static_cast<int32_t>(t / g.dilation_h) : -1;
}

// Output row blocks of the forward: output row oh reads input row ih through kernel row
// kh where ih = oh * stride - pad + kh * dilation.
RowPlan forward_plan(const ConvGeometry& g) {
  RowPlan plan;
  const int64_t span = (kRows - 1) * g.stride_h + (g.KH - 1) * g.dilation_h + 1;
  for (int64_t oh0 = 0; oh0 < g.OH; oh0 += kRows) {
    RowBlock blk{oh0, static_cast<int>(std::min<int64_t>(kRows, g.OH - oh0)),
                 static_cast<int64_t>(plan.src_off.size()), 0};
    const int64_t top = oh0 * g.stride_h - g.pad_h;  // input row of output row oh0, kernel row 0
    for (int64_t ih = std::max<int64_t>(0, top); ih < std::min(g.H, top + span); ++ih) {
      int32_t w[kRows];
      bool any = false;
      for (int r = 0; r < kRows; ++r) {
        const int32_t kh = r < blk.nout ? kernel_row(g, ih - top - r * g.stride_h) : -1;
        w[r] = kh < 0 ? -1 : static_cast<int32_t>(kh * g.KW);
        any |= kh >= 0;
      }
      if (any) plan.add_source(ih * g.W - g.pad_w, w), ++blk.nsrc;
    }
    plan.mark_band(blk, g.KH);
    plan.blocks.push_back(blk);
  }
  return plan;
}

// Row blocks of dx, gathered from the dy rows of the `mult` output channels of an input
// channel (offsets from the first one's plane; weights from the first one's kernel).
RowPlan input_grad_plan(const ConvGeometry& g, int64_t mult) {
  RowPlan plan;
  for (int64_t ih0 = 0; ih0 < g.H; ih0 += kRows) {
    RowBlock blk{ih0, static_cast<int>(std::min<int64_t>(kRows, g.H - ih0)),
                 static_cast<int64_t>(plan.src_off.size()), 0};
    const int64_t lo = std::max<int64_t>(0, floor_div(ih0 + g.pad_h - (g.KH - 1) * g.dilation_h, g.stride_h));
    const int64_t hi = std::min(g.OH - 1, floor_div(ih0 + blk.nout - 1 + g.pad_h, g.stride_h));
    for (int64_t j = 0; j < mult; ++j)
      for (int64_t oh = lo; oh <= hi; ++oh) {
        int32_t w[kRows];
        bool any = false;
        for (int r = 0; r < kRows; ++r) {
          const int32_t kh = r < blk.nout ? kernel_row(g, ih0 + r + g.pad_h - oh * g.stride_h) : -1;
          w[r] = kh < 0 ? -1 : static_cast<int32_t>(j * g.KH * g.KW + kh * g.KW);
          any |= kh >= 0;
        }
        if (any) plan.add_source((j * g.OH + oh) * g.OW + g.pad_w, w), ++blk.nsrc;
      }
    plan.mark_band(blk, g.KH);
    plan.blocks.push_back(blk);
  }
  return plan;
}

void depthwise_forward_vectors(const float* x, const float* w, const float* b, int64_t N, int64_t mult,
                              const ConvGeometry& g, float* y) {
  const int64_t C = g.C, taps = g.KH * g.KW;
  const std::vector<MaskBits> masks = row_masks(g.OW, g.W, g.KW, -g.pad_w, g.dilation_w);
  const RowPlan plan = forward_plan(g);
  const AccumulateRows rows = accumulate_for(g.KW);
#pragma omp parallel for collapse(2) if (N * C > 1)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < mult; ++j) {
        const int64_t o = c * mult + j;
        float* yp = y + (n * C * mult + o) * g.OH * g.OW;
        for (const RowBlock& blk : plan.blocks)
          rows(x + (n * C + c) * g.H * g.W, w + o * taps, plan, blk, g.dilation_w, masks.data(), g.OW,
               b ? b[o] : 0.0f, false, yp + blk.first * g.OW, g.OW);
      }
}

// dx by gathering: input pixel (ih, iw) takes w[kh, kw] * dy[oh, iw + pad - kw * dilation]
// from every output channel of its input channel and every kernel row kh whose
// oh = (ih + pad - kh * dilation) / stride is whole and inside.
void depthwise_input_grad_vectors(const float* w, const float* dy, int64_t N, int64_t mult, const ConvGeometry& g,
                                 float* dx) {
  const int64_t C = g.C, taps = g.KH * g.KW;
  const std::vector<MaskBits> masks = row_masks(g.W, g.OW, g.KW, g.pad_w, -g.dilation_w);
  const RowPlan plan = input_grad_plan(g, mult);
  const AccumulateRows rows = accumulate_for(g.KW);
#pragma omp parallel for collapse(2) if (N * C > 1)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      float* dxp = dx + (n * C + c) * g.H * g.W;
      for (const RowBlock& blk : plan.blocks)
        rows(dy + (n * C + c) * mult * g.OH * g.OW, w + c * mult * taps, plan, blk, -g.dilation_w, masks.data(),
             g.W, 0.0f, true, dxp + blk.first * g.W, g.W);
    }
}

// dw, and db (if not null) from the same dy planes while they are in cache (as channel_sums
// would, plane by plane).
void depthwise_weight_grad_vectors(const float* x, const float* dy, int64_t N, int64_t mult, const ConvGeometry& g,
                                  float* dw, float* db) {
  const int64_t C = g.C, taps = g.KH * g.KW;
  const std::vector<MaskBits> masks = row_masks(g.OW, g.W, g.KW, -g.pad_w, g.dilation_w);
  const WeightGradRows rows = weight_grad_for(g.KH, g.KW);
  // x row ih meets dy row oh through kernel row kh where oh * stride = ih + pad - kh * dilation.
  std::vector<int64_t> x_off, dy_off;
  for (int64_t ih = 0; ih < g.H; ++ih) {
    bool any = false;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t t = ih + g.pad_h - kh * g.dilation_h;
      const bool pairs = t >= 0 && t % g.stride_h == 0 && t / g.stride_h < g.OH;
      dy_off.push_back(pairs ? t / g.stride_h * g.OW : -1);
      any |= pairs;
    }
    if (any)
      x_off.push_back(ih * g.W - g.pad_w);
    else
      dy_off.resize(dy_off.size() - static_cast<size_t>(g.KH));
  }
  const int64_t nsrc = static_cast<int64_t>(x_off.size());
  // One output channel per iteration: no two threads write the same dw entry.
#pragma omp parallel for if (C * mult > 1)
  for (int64_t o = 0; o < C * mult; ++o) {
    float* out = dw + o * taps;
    std::fill(out, out + taps, 0.0f);
    double bias = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float* dyp = dy + (n * C * mult + o) * g.OH * g.OW;
      rows(x + (n * C + o / mult) * g.H * g.W, dyp, nsrc, x_off.data(), dy_off.data(), g.dilation_w, masks.data(),
           g.OW, out);
      if (db) bias += plane_sum(dyp, g.OH * g.OW);
    }
    if (db) db[o] = static_cast<float>(bias);
  }
}

}  // namespace
#endif

template <class T>
void depthwise_conv2d(const T* x, const T* w, const T* b, int64_t N, int64_t mult,
                                       const ConvGeometry& g, T* y) {
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (depthwise_vectors(g)) return depthwise_forward_vectors(x, w, b, N, mult, g, y);
  }
#endif
  const int64_t C = g.C;  // here: all input channels (one per group)
#pragma omp parallel for collapse(2) if (N * C > 1)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* xp = x + (n * C + c) * g.H * g.W;
      for (int64_t j = 0; j < mult; ++j) {
        const int64_t o = c * mult + j;
        T* yp = y + (n * C * mult + o) * g.OH * g.OW;
        const T* wp = w + o * g.KH * g.KW;
        const T bias = b ? b[o] : T(0);
        for (int64_t i = 0; i < g.OH * g.OW; ++i) yp[i] = bias;
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const T wv = wp[kh * g.KW + kw];
            const int64_t off = kw * g.dilation_w - g.pad_w;
            int64_t lo, hi;
            inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              const T* xr = xp + ih * g.W + off;
              T* yr = yp + oh * g.OW;
              if (g.stride_w == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.stride_w];
              }
            }
          }
      }
    }
}

template <class T>
void depthwise_conv2d_backward(const T* x, const T* w, const T* dy, int64_t N, int64_t mult,
                                                const ConvGeometry& g, T* dx, T* dw, T* db) {
#if !defined(LAMINA_LEVEL_GENERIC)
  if constexpr (std::is_same_v<T, float>) {
    if (depthwise_vectors(g)) {
      if (dx) depthwise_input_grad_vectors(w, dy, N, mult, g, dx);
      if (dw && weight_grad_for(g.KH, g.KW)) return depthwise_weight_grad_vectors(x, dy, N, mult, g, dw, db);
      dx = nullptr;  // done; the loops below take dw and db
    }
  }
#endif
  const int64_t C = g.C;
  if (dx) {
#pragma omp parallel for collapse(2) if (N * C > 1)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        T* dxp = dx + (n * C + c) * g.H * g.W;  // zeroed by the caller
        for (int64_t j = 0; j < mult; ++j) {
          const int64_t o = c * mult + j;
          const T* dyp = dy + (n * C * mult + o) * g.OH * g.OW;
          const T* wp = w + o * g.KH * g.KW;
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const T wv = wp[kh * g.KW + kw];
              const int64_t off = kw * g.dilation_w - g.pad_w;
              int64_t lo, hi;
              inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
                if (ih < 0 || ih >= g.H) continue;
                T* xr = dxp + ih * g.W + off;
                const T* dr = dyp + oh * g.OW;
                if (g.stride_w == 1) {
                  for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += wv * dr[ow];
                } else {
                  for (int64_t ow = lo; ow < hi; ++ow) xr[ow * g.stride_w] += wv * dr[ow];
                }
              }
            }
        }
      }
  }
  if (dw) {
    // One output channel's taps per iteration: no two threads write the same dw entry.
#pragma omp parallel for if (C * mult > 1)
    for (int64_t o = 0; o < C * mult; ++o) {
      const int64_t c = o / mult;
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t off = kw * g.dilation_w - g.pad_w;
          int64_t lo, hi;
          inside_columns(off, g.stride_w, g.W, g.OW, lo, hi);
          T acc = T(0);
          for (int64_t n = 0; n < N; ++n) {
            const T* xp = x + (n * C + c) * g.H * g.W;
            const T* dyp = dy + (n * C * mult + o) * g.OH * g.OW;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              const T* xr = xp + ih * g.W + off;
              const T* dr = dyp + oh * g.OW;
              T s = T(0);
              if (g.stride_w == 1) {
#pragma omp simd reduction(+ : s)
                for (int64_t ow = lo; ow < hi; ++ow) s += dr[ow] * xr[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) s += dr[ow] * xr[ow * g.stride_w];
              }
              acc += s;
            }
          }
          dw[o * g.KH * g.KW + kh * g.KW + kw] = acc;
        }
    }
  }
  if (db) channel_sums(dy, N, C * mult, g.OH * g.OW, db);
}

void fill_depthwise(Table& t) {
  LAMINA_FILL(t, depthwise_conv2d);
  LAMINA_FILL(t, depthwise_conv2d_backward);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
