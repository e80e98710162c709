// The one vector layer of lamina's CPU kernels, and the level a kernel file is compiled for.
//
// Every kernel file (kernels/cpu/*.cpp, listed in cpp/CMakeLists.txt) is compiled once per
// vector level the target architecture has: avx512, avx2 and generic on x86-64; neon and
// generic on aarch64; generic elsewhere. The build defines LAMINA_LEVEL_<LEVEL>; this header
// turns that into
//   - LAMINA_LEVEL, the level's name, which the file uses as its namespace
//     (lamina::kernels::cpu::LAMINA_LEVEL), so the copies never share a symbol;
//   - `#pragma GCC target` for the rest of the file (with clang, a target attribute region
//     that simd_end.hpp, included at the end of every kernel file, closes), so plain loops
//     vectorise at the level's width and the intrinsics below compile;
//   - simd::, a small set of float vector operations mapped onto the level's registers:
//     16 lanes (AVX-512), 8 (AVX2 + FMA), 4 (NEON), 1 (generic: plain floats).
// A kernel written against simd:: exists once and runs at every width; kernels.hpp's
// dispatch (cpu::table) picks the copy for lamina::active_isa() at run time.
//
// Include this header LAST, after every standard and lamina header: what follows it is
// compiled for the level, and an inline function or template defined after it outside
// the level's namespace would be compiled for it too and could be linked into callers on
// CPUs without it. Headers meant for kernel files (map.hpp, vec_math.hpp) are included
// after it and put everything in the level's namespace.
#pragma once

// The standard headers kernel files use, before the target pragma below (their templates
// are then compiled for the baseline wherever they are instantiated).
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(LAMINA_LEVEL_AVX512) || defined(LAMINA_LEVEL_AVX2)
#include <immintrin.h>
#elif defined(LAMINA_LEVEL_NEON)
#include <arm_neon.h>
#endif

#if defined(LAMINA_LEVEL_AVX512)
#define LAMINA_LEVEL avx512
#define LAMINA_LEVEL_TARGET "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe"
#elif defined(LAMINA_LEVEL_AVX2)
#define LAMINA_LEVEL avx2
#define LAMINA_LEVEL_TARGET "avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe"
#elif defined(LAMINA_LEVEL_NEON)
#define LAMINA_LEVEL neon
#elif defined(LAMINA_LEVEL_GENERIC)
#define LAMINA_LEVEL generic
#else
#error "kernel files are compiled per level: the build defines LAMINA_LEVEL_AVX512, _AVX2, _NEON or _GENERIC"
#endif

// clang has no `#pragma GCC target`; its attribute region also reaches the lambdas inside
// kernels, which its target attribute on an enclosing function would not.
#if defined(LAMINA_LEVEL_TARGET) && defined(__clang__)
#define LAMINA_PRAGMA(x) _Pragma(#x)
#define LAMINA_TARGET_REGION(t) LAMINA_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
LAMINA_TARGET_REGION(LAMINA_LEVEL_TARGET)
#elif defined(LAMINA_LEVEL_TARGET)
#define LAMINA_PRAGMA(x) _Pragma(#x)
#define LAMINA_TARGET_REGION(t) LAMINA_PRAGMA(GCC target(t))
LAMINA_TARGET_REGION(LAMINA_LEVEL_TARGET)
#endif

#if defined(__GNUC__)
#define LAMINA_INLINE inline __attribute__((always_inline))
#else
#define LAMINA_INLINE inline
#endif

namespace lamina::kernels::cpu::LAMINA_LEVEL::simd {

// ---- the level's registers ---------------------------------------------------------------
#if defined(LAMINA_LEVEL_AVX512)
constexpr int kLanes = 16;
constexpr int kRegisters = 32;  // vector registers the compiler can keep live
using Vec = __m512;
using Mask = __mmask16;  // lane l is set in bit l
#elif defined(LAMINA_LEVEL_AVX2)
constexpr int kLanes = 8;
constexpr int kRegisters = 16;
using Vec = __m256;
using Mask = __m256i;  // lane l set: all ones in 32-bit element l
#elif defined(LAMINA_LEVEL_NEON)
constexpr int kLanes = 4;
constexpr int kRegisters = 32;
using Vec = float32x4_t;
using Mask = uint32x4_t;
#else
constexpr int kLanes = 1;
constexpr int kRegisters = 16;
using Vec = float;
using Mask = bool;
#endif
// kLanes int32 (indices beside the floats: pooling's argmax).
#if defined(LAMINA_LEVEL_AVX512)
using IVec = __m512i;
#elif defined(LAMINA_LEVEL_AVX2)
using IVec = __m256i;
#elif defined(LAMINA_LEVEL_NEON)
using IVec = int32x4_t;
#else
using IVec = int32_t;
#endif

// A mask kept in memory as bits (lane l in bit l): vector masks are over-aligned types,
// which std containers do not reliably align under a target pragma.
using MaskBits = uint32_t;
// lanes(a, b) as bits.
LAMINA_INLINE MaskBits lane_bits(int64_t a, int64_t b) {
  a = a < 0 ? 0 : a;
  b = b > kLanes ? kLanes : b;
  return b <= a ? 0u : static_cast<MaskBits>(((uint64_t(1) << b) - 1u) & ~((uint64_t(1) << a) - 1u));
}
// The lanes [a, b) of a mask, a and b clamped to [0, kLanes]: lanes(0, n) is the first n
// lanes; lanes(lo - o, hi - o) the part of [lo, hi) in the vector starting at element o.
LAMINA_INLINE Mask lanes(int64_t a, int64_t b) {
  // Each end clamped both ways: AVX2 and NEON narrow them to 32 bits, where 2^32 + 1 is 1.
  a = a < 0 ? 0 : a > kLanes ? kLanes : a;
  b = b < 0 ? 0 : b > kLanes ? kLanes : b;
#if defined(LAMINA_LEVEL_AVX512)
  return static_cast<Mask>(lane_bits(a, b));
#elif defined(LAMINA_LEVEL_AVX2)
  const __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(static_cast<int>(a) - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(b)), i));
#elif defined(LAMINA_LEVEL_NEON)
  const int32_t idx[4] = {0, 1, 2, 3};
  const int32x4_t i = vld1q_s32(idx);
  return vandq_u32(vcgeq_s32(i, vdupq_n_s32(static_cast<int32_t>(a))),
                   vcltq_s32(i, vdupq_n_s32(static_cast<int32_t>(b))));
#else
  return lane_bits(a, b) != 0;
#endif
}
// Every lane.
LAMINA_INLINE Mask all_lanes() { return lanes(0, kLanes); }

// Every lane as bits, and bits back into a mask.
constexpr MaskBits kAllBits = static_cast<MaskBits>((uint64_t(1) << kLanes) - 1u);
LAMINA_INLINE Mask from_bits(MaskBits bits) {
#if defined(LAMINA_LEVEL_AVX512)
  return static_cast<Mask>(bits);
#elif defined(LAMINA_LEVEL_AVX2)
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), bit), bit);
#elif defined(LAMINA_LEVEL_NEON)
  const uint32_t b[4] = {1, 2, 4, 8};
  return vtstq_u32(vdupq_n_u32(bits), vld1q_u32(b));
#else
  return (bits & 1u) != 0;
#endif
}

// ---- loads and stores --------------------------------------------------------------------
LAMINA_INLINE Vec zero() {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_setzero_ps();
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_setzero_ps();
#elif defined(LAMINA_LEVEL_NEON)
  return vdupq_n_f32(0.0f);
#else
  return 0.0f;
#endif
}
LAMINA_INLINE Vec set1(float x) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_set1_ps(x);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_set1_ps(x);
#elif defined(LAMINA_LEVEL_NEON)
  return vdupq_n_f32(x);
#else
  return x;
#endif
}
// kLanes floats from p (any alignment).
LAMINA_INLINE Vec load(const float* p) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_loadu_ps(p);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_loadu_ps(p);
#elif defined(LAMINA_LEVEL_NEON)
  return vld1q_f32(p);
#else
  return *p;
#endif
}
LAMINA_INLINE void store(float* p, Vec v) {
#if defined(LAMINA_LEVEL_AVX512)
  _mm512_storeu_ps(p, v);
#elif defined(LAMINA_LEVEL_AVX2)
  _mm256_storeu_ps(p, v);
#elif defined(LAMINA_LEVEL_NEON)
  vst1q_f32(p, v);
#else
  *p = v;
#endif
}
// The lanes of m from p, zeros elsewhere; memory under the other lanes is not read.
LAMINA_INLINE Vec load(Mask m, const float* p) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_maskz_loadu_ps(m, p);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_maskload_ps(p, m);
#elif defined(LAMINA_LEVEL_NEON)
  uint32_t on[4];
  vst1q_u32(on, m);
  float buf[4];
  for (int l = 0; l < 4; ++l) buf[l] = on[l] ? p[l] : 0.0f;
  return vld1q_f32(buf);
#else
  return m ? *p : 0.0f;
#endif
}
// Stores the lanes of m; memory under the other lanes is not written. (AVX2's masked store
// is microcoded on some CPUs, several times slower than a plain one: a full mask takes the
// plain store.)
LAMINA_INLINE void store(Mask m, float* p, Vec v) {
#if defined(LAMINA_LEVEL_AVX512)
  _mm512_mask_storeu_ps(p, m, v);
#elif defined(LAMINA_LEVEL_AVX2)
  if (_mm256_testc_si256(m, _mm256_set1_epi32(-1)))
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, m, v);
#elif defined(LAMINA_LEVEL_NEON)
  uint32_t on[4];
  vst1q_u32(on, m);
  float buf[4];
  vst1q_f32(buf, v);
  for (int l = 0; l < 4; ++l)
    if (on[l]) p[l] = buf[l];
#else
  if (m) *p = v;
#endif
}
// load and store through a mask kept as bits; every lane set takes the plain form, without
// building the mask.
LAMINA_INLINE Vec load_bits(MaskBits bits, const float* p) {
  return bits == kAllBits ? load(p) : load(from_bits(bits), p);
}
LAMINA_INLINE void store_bits(MaskBits bits, float* p, Vec v) {
  if (bits == kAllBits)
    store(p, v);
  else
    store(from_bits(bits), p, v);
}
// The first n lanes (n may pass kLanes: then all of them).
LAMINA_INLINE Vec load_first(const float* p, int64_t n) { return n >= kLanes ? load(p) : load(lanes(0, n), p); }
LAMINA_INLINE void store_first(float* p, Vec v, int64_t n) {
  if (n >= kLanes)
    store(p, v);
  else
    store(lanes(0, n), p, v);
}
// Lane l of m from p[l * stride], zeros elsewhere (stride * kLanes must fit an int32).
LAMINA_INLINE Vec gather(Mask m, const float* p, int64_t stride) {
#if defined(LAMINA_LEVEL_AVX512)
  const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        _mm512_set1_epi32(static_cast<int>(stride)));
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, at, p, 4);
#elif defined(LAMINA_LEVEL_AVX2)
  const __m256i at =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(stride)));
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, at, _mm256_castsi256_ps(m), 4);
#elif defined(LAMINA_LEVEL_NEON)
  uint32_t on[4];
  vst1q_u32(on, m);
  float buf[4];
  for (int l = 0; l < 4; ++l) buf[l] = on[l] ? p[l * stride] : 0.0f;
  return vld1q_f32(buf);
#else
  (void)stride;
  return m ? *p : 0.0f;
#endif
}
// A store past the caches (p aligned to the vector's size) where the level has one; the
// caller orders such stores with stream_fence() before C is read again.
LAMINA_INLINE void stream(float* p, Vec v) {
#if defined(LAMINA_LEVEL_AVX512)
  _mm512_stream_ps(p, v);
#elif defined(LAMINA_LEVEL_AVX2)
  _mm256_stream_ps(p, v);
#else
  store(p, v);
#endif
}
LAMINA_INLINE void stream_fence() {
#if defined(LAMINA_LEVEL_AVX512) || defined(LAMINA_LEVEL_AVX2)
  _mm_sfence();
#endif
}
// A hint to fetch p's cache line into L1.
LAMINA_INLINE void prefetch(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// ---- arithmetic --------------------------------------------------------------------------
LAMINA_INLINE Vec add(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_add_ps(a, b);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_add_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vaddq_f32(a, b);
#else
  return a + b;
#endif
}
LAMINA_INLINE Vec sub(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_sub_ps(a, b);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_sub_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vsubq_f32(a, b);
#else
  return a - b;
#endif
}
LAMINA_INLINE Vec mul(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mul_ps(a, b);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_mul_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vmulq_f32(a, b);
#else
  return a * b;
#endif
}
LAMINA_INLINE Vec div(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_div_ps(a, b);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_div_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vdivq_f32(a, b);
#else
  return a / b;
#endif
}
// a * b + c, rounded once (fused) where the level has FMA; generic rounds twice.
LAMINA_INLINE Vec fma(Vec a, Vec b, Vec c) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_fmadd_ps(a, b, c);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_fmadd_ps(a, b, c);
#elif defined(LAMINA_LEVEL_NEON)
  return vfmaq_f32(c, a, b);
#else
  return a * b + c;
#endif
}
// c - a * b (fused where fma is).
LAMINA_INLINE Vec fnma(Vec a, Vec b, Vec c) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_fnmadd_ps(a, b, c);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_fnmadd_ps(a, b, c);
#elif defined(LAMINA_LEVEL_NEON)
  return vfmsq_f32(c, a, b);
#else
  return c - a * b;
#endif
}
// a > b ? a : b per lane: b where either is NaN (x86's maxps; the others made to agree).
LAMINA_INLINE Vec max(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_max_ps(b, 0xFFFF, a, b);  // (masked: see half())
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_max_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vbslq_f32(vcgtq_f32(a, b), a, b);
#else
  return a > b ? a : b;
#endif
}
// a < b ? a : b per lane: b where either is NaN.
LAMINA_INLINE Vec min(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_min_ps(b, 0xFFFF, a, b);  // (masked: see half())
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_min_ps(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vbslq_f32(vcltq_f32(a, b), a, b);
#else
  return a < b ? a : b;
#endif
}
// Rounds each lane to the nearest integer, ties to even.
LAMINA_INLINE Vec round(Vec a) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_roundscale_ps(a, 0xFFFF, a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // (see half())
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(LAMINA_LEVEL_NEON)
  return vrndnq_f32(a);
#elif defined(__clang__)
  return std::nearbyint(a);  // ties to even in the default rounding mode (clang 14 lacks roundeven)
#else
  return __builtin_roundevenf(a);
#endif
}

// ---- permutes ---------------------------------------------------------------------------
// The even lanes of a then those of b: elements 0, 2, 4, ... of the 2 kLanes floats a, b.
LAMINA_INLINE Vec evens(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, even, b);
#elif defined(LAMINA_LEVEL_AVX2)
  // a0 a2 b0 b2 | a4 a6 b4 b6 within the halves, then the middle quarters swapped.
  const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
#elif defined(LAMINA_LEVEL_NEON)
  return vuzp1q_f32(a, b);
#else
  (void)b;
  return a;
#endif
}

// ---- comparisons and selects -------------------------------------------------------------
// The lanes where a > b (false where either is NaN).
LAMINA_INLINE Mask greater(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ));
#elif defined(LAMINA_LEVEL_NEON)
  return vcgtq_f32(a, b);
#else
  return a > b;
#endif
}
// m ? a : b per lane.
LAMINA_INLINE Vec select(Mask m, Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_mov_ps(b, m, a);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m));
#elif defined(LAMINA_LEVEL_NEON)
  return vbslq_f32(m, a, b);
#else
  return m ? a : b;
#endif
}

// ---- int32 lanes ------------------------------------------------------------------------
LAMINA_INLINE IVec iset1(int32_t x) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_set1_epi32(x);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_set1_epi32(x);
#elif defined(LAMINA_LEVEL_NEON)
  return vdupq_n_s32(x);
#else
  return x;
#endif
}
// 0, 1, 2, ... kLanes - 1.
LAMINA_INLINE IVec iota() {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#elif defined(LAMINA_LEVEL_NEON)
  const int32_t i[4] = {0, 1, 2, 3};
  return vld1q_s32(i);
#else
  return 0;
#endif
}
LAMINA_INLINE IVec iadd(IVec a, IVec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_add_epi32(a, b);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_add_epi32(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vaddq_s32(a, b);
#else
  return a + b;
#endif
}
LAMINA_INLINE IVec imax(IVec a, IVec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_max_epi32(a, 0xFFFF, a, b);  // (masked: see half())
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_max_epi32(a, b);
#elif defined(LAMINA_LEVEL_NEON)
  return vmaxq_s32(a, b);
#else
  return a > b ? a : b;
#endif
}
// m ? a : b per lane.
LAMINA_INLINE IVec iselect(Mask m, IVec a, IVec b) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_mov_epi32(b, m, a);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_blendv_epi8(b, a, m);
#elif defined(LAMINA_LEVEL_NEON)
  return vbslq_s32(m, a, b);
#else
  return m ? a : b;
#endif
}
// Stores the lanes of m; memory under the other lanes is not written.
LAMINA_INLINE void store(Mask m, int32_t* p, IVec v) {
#if defined(LAMINA_LEVEL_AVX512)
  _mm512_mask_storeu_epi32(p, m, v);
#elif defined(LAMINA_LEVEL_AVX2)
  if (_mm256_testc_si256(m, _mm256_set1_epi32(-1)))  // (as the float store above)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  else
    _mm256_maskstore_epi32(p, m, v);
#elif defined(LAMINA_LEVEL_NEON)
  uint32_t on[4];
  vst1q_u32(on, m);
  int32_t buf[4];
  vst1q_s32(buf, v);
  for (int l = 0; l < 4; ++l)
    if (on[l]) p[l] = buf[l];
#else
  if (m) *p = v;
#endif
}
// kLanes int32 from p.
LAMINA_INLINE IVec iload(const int32_t* p) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_loadu_si512(p);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
#elif defined(LAMINA_LEVEL_NEON)
  return vld1q_s32(p);
#else
  return *p;
#endif
}
// The floats of the int32 lanes (exact below 2^24).
LAMINA_INLINE Vec to_float(IVec v) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_maskz_cvtepi32_ps(0xFFFF, v);
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_cvtepi32_ps(v);
#elif defined(LAMINA_LEVEL_NEON)
  return vcvtq_f32_s32(v);
#else
  return static_cast<float>(v);
#endif
}

// The odd lanes of a then those of b: elements 1, 3, 5, ... of the 2 kLanes floats a, b.
LAMINA_INLINE Vec odds(Vec a, Vec b) {
#if defined(LAMINA_LEVEL_AVX512)
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_ps(a, odd, b);
#elif defined(LAMINA_LEVEL_AVX2)
  const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
#elif defined(LAMINA_LEVEL_NEON)
  return vuzp2q_f32(a, b);
#else
  (void)a;
  return b;
#endif
}
// Lane l of the result is lane idx[l] of v (0 <= idx[l] < kLanes).
LAMINA_INLINE Vec permute(Vec v, IVec idx) {
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_permutexvar_ps(v, 0xFFFF, idx, v);  // (masked: see half())
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_permutevar8x32_ps(v, idx);
#elif defined(LAMINA_LEVEL_NEON)
  // Byte indices 4 idx + 0..3 of each lane.
  const uint8_t within[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  const uint8x16_t lane = vreinterpretq_u8_s32(vmulq_n_s32(idx, 0x04040404));
  return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(v), vaddq_u8(lane, vld1q_u8(within))));
#else
  (void)idx;
  return v;
#endif
}

// ---- lanes combined ----------------------------------------------------------------------
#if defined(LAMINA_LEVEL_AVX512)
// Lanes 0 to 7 (lo) or 8 to 15. (The masked form with every lane set: the plain one, and
// the cast to __m256 built on it, pass an undefined vector that GCC 12 reports as
// uninitialised.)
template <int kHalf>
LAMINA_INLINE __m256 half(__m512 v) {
  return _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xFF, _mm512_castps_pd(v), kHalf));
}
#endif
// The sum of v's lanes (pairwise: halves first).
LAMINA_INLINE float reduce_add(Vec v) {
#if defined(LAMINA_LEVEL_AVX512)
  __m256 h = _mm256_add_ps(half<0>(v), half<1>(v));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
#elif defined(LAMINA_LEVEL_AVX2)
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
#elif defined(LAMINA_LEVEL_NEON)
  return vaddvq_f32(v);
#else
  return v;
#endif
}
// The largest of v's lanes (NaN lanes as max takes them).
LAMINA_INLINE float reduce_max(Vec v) {
#if defined(LAMINA_LEVEL_AVX512)
  __m256 h = _mm256_max_ps(half<0>(v), half<1>(v));
  __m128 q = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_max_ps(q, _mm_movehl_ps(q, q));
  q = _mm_max_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
#elif defined(LAMINA_LEVEL_AVX2)
  __m128 q = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_max_ps(q, _mm_movehl_ps(q, q));
  q = _mm_max_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
#elif defined(LAMINA_LEVEL_NEON)
  float l[4];
  vst1q_f32(l, v);
  float m = l[0];
  for (int i = 1; i < 4; ++i) m = l[i] > m ? l[i] : m;
  return m;
#else
  return v;
#endif
}

// ---- transposes -------------------------------------------------------------------------
// v[0..kLanes) as a kLanes x kLanes matrix (v[i] lane j: element (i, j)) transposed in place.
LAMINA_INLINE void transpose(Vec* v) {
#if defined(LAMINA_LEVEL_AVX512)
  // (No kernel transposes 16 x 16 in a hot loop; through memory it is short and plainly right.)
  alignas(64) float m[16 * 16];
  for (int i = 0; i < 16; ++i) _mm512_store_ps(m + 16 * i, v[i]);
  for (int j = 0; j < 16; ++j) v[j] = gather(all_lanes(), m + j, 16);
#elif defined(LAMINA_LEVEL_AVX2)
  // Pairs of rows interleaved, then quadruples within each 128-bit half, then the halves.
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
#elif defined(LAMINA_LEVEL_NEON)
  const float32x4x2_t a = vtrnq_f32(v[0], v[1]), b = vtrnq_f32(v[2], v[3]);
  v[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
  v[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
  v[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
  v[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
#else
  (void)v;  // one lane: nothing to move
#endif
}

// ---- exponential -------------------------------------------------------------------------
// 2^n for integral n in [-126, 127] (a float holding an integer).
LAMINA_INLINE Vec pow2i(Vec n) {
#if defined(LAMINA_LEVEL_AVX512)
  const __m512i e =  // (masked: see half())
      _mm512_add_epi32(_mm512_mask_cvtps_epi32(_mm512_setzero_si512(), 0xFFFF, n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_mask_slli_epi32(e, 0xFFFF, e, 23));
#elif defined(LAMINA_LEVEL_AVX2)
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
#elif defined(LAMINA_LEVEL_NEON)
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23));
#else
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float s;
  std::memcpy(&s, &bits, sizeof s);
  return s;
#endif
}
// e^x for x <= 0 (softmax's x - max) to ~1 ulp where the result is a normal float; NaN
// stays NaN. n = round(x / ln 2), r = x - n ln 2 by Cody-Waite (ln 2's high part exact in
// float), e^r by a degree-6 minimax polynomial (vec_math.hpp's exp_reduced, the same
// coefficients), times 2^n: by vscalefps on AVX-512 (which underflows gradually, no select
// needed; x clamped at -110, where e^x rounds to 0), else by exponent bits (x below -87.3,
// where the result would be subnormal, gives 0).
LAMINA_INLINE Vec exp_nonpositive(Vec x) {
#if defined(LAMINA_LEVEL_AVX512)
  const Vec xc = max(set1(-110.0f), x);  // (max returns its second operand for NaN)
#else
  const Vec lo = set1(-87.3f);
  const Vec xc = max(x, lo);  // NaN: max returns lo; restored by the select below
#endif
  const Vec n = round(mul(xc, set1(1.44269504088896341f)));
  Vec r = fnma(n, set1(0.693359375f), xc);
  r = fma(n, set1(2.12194440e-4f), r);
  Vec p = set1(1.9875691500e-4f);
  p = fma(p, r, set1(1.3981999507e-3f));
  p = fma(p, r, set1(8.3334519073e-3f));
  p = fma(p, r, set1(4.1665795894e-2f));
  p = fma(p, r, set1(1.6666665459e-1f));
  p = fma(p, r, set1(5.0000001201e-1f));
  p = fma(p, r, set1(1.0f));  // 1 + r/2 + ...
  p = fma(p, r, set1(1.0f));  // 1 + r + r^2/2 + ...
#if defined(LAMINA_LEVEL_AVX512)
  return _mm512_mask_scalef_ps(p, 0xFFFF, p, n);  // (masked: see half())
#else
  const Vec y = mul(p, pow2i(n));
#if defined(LAMINA_LEVEL_AVX2)
  const __m256 tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return _mm256_blendv_ps(_mm256_andnot_ps(tiny, y), x, nan);
#elif defined(LAMINA_LEVEL_NEON)
  const uint32x4_t keep = vcgeq_f32(x, lo);  // false for NaN and below lo
  const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
  return vbslq_f32(nan, x, vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(y))));
#else
  return x != x ? x : (x < lo ? 0.0f : y);
#endif
#endif
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL::simd
