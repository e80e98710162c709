// What the float32 kernels with AVX-512 code of their own (not yet written against
// simd.hpp) share: LAMINA_AVX512, set in the avx512 level's copy of each kernel file only,
// the lane masks for rows that do not fill a vector, lane sums and maxima, and softmax's
// exponential. Included after simd.hpp.
#pragma once

#if defined(LAMINA_LEVEL_AVX512)
#define LAMINA_AVX512 1

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// The lanes [a, b) of a 16-lane mask, a and b clamped to [0, 16]: lanes(0, n) is the first n
// lanes, lanes(lo - o, hi - o) the part of [lo, hi) in the vector starting at element o.
inline __mmask16 lanes(int64_t a, int64_t b) {
  a = a < 0 ? 0 : a;
  b = b > 16 ? 16 : b;
  return b <= a ? __mmask16(0) : static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

// vmaxps: a > b ? a : b per lane, so b where either is NaN. (Masked forms with every lane
// set, here and below: the plain intrinsics, and _mm512_reduce_add_ps, pass an undefined
// vector that GCC 12 reports as uninitialised.)
inline __m512 max16(__m512 a, __m512 b) {
  return _mm512_mask_max_ps(b, 0xFFFF, a, b);
}

// v's lanes combined by op (halves, quarters, pairs, then neighbours).
template <class Op>
__attribute__((always_inline)) inline float lane_reduce(__m512 v, Op op) {
  v = op(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = op(v, _mm512_mask_permute_ps(v, 0xFFFF, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_permute_ps(v, 0xFFFF, v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

struct Add16 {
  __m512 operator()(__m512 a, __m512 b) const { return _mm512_add_ps(a, b); }
};
struct Max16 {
  __m512 operator()(__m512 a, __m512 b) const { return max16(a, b); }
};

// The sum of v's lanes.
inline float lane_sum(__m512 v) { return lane_reduce(v, Add16()); }

// The largest of v's lanes (NaN lanes as max16 takes them).
inline float lane_max(__m512 v) { return lane_reduce(v, Max16()); }

// e^x for x <= 0 (softmax's x - max), to ~1 ulp where the result is a normal float:
// n = round(x / ln 2), r = x - n ln 2 by Cody-Waite (ln 2's high part exact in float),
// e^r by the degree-6 minimax polynomial of vec_math.hpp's exp_reduced in Horner form, and
// 2^n applied by vscalefps (which underflows gracefully: no exponent-bit arithmetic, no
// select). 13 vector operations against the portable form's 19 (the softmax rows are
// bound by them). x is clamped at -110 (e^-110 rounds to 0); NaN passes through.
inline __m512 exp_nonpositive(__m512 x) {
  x = max16(_mm512_set1_ps(-110.0f), x);  // (max returns its second operand for NaN)
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_mask_roundscale_ps(t, 0xFFFF, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));  // 1 + r/2 + ...
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));  // 1 + r + r^2/2 + ...
  return _mm512_mask_scalef_ps(p, 0xFFFF, p, n);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
#endif
