// What the float32 kernels with an AVX-512 path share: the guard that such a path can be
// compiled here (LAMINA_AVX512: x86-64 with GCC's target attributes), the run-time check
// that this CPU can run it, the lane masks for rows that do not fill a vector, and a lane sum.
#pragma once

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LAMINA_AVX512 1

namespace lamina::kernels::cpu {

// Whether this CPU has AVX-512F (asked once).
inline bool has_avx512f() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

// The lanes [a, b) of a 16-lane mask, a and b clamped to [0, 16]: lanes(0, n) is the first n
// lanes, lanes(lo - o, hi - o) the part of [lo, hi) in the vector starting at element o.
inline __mmask16 lanes(int64_t a, int64_t b) {
  a = a < 0 ? 0 : a;
  b = b > 16 ? 16 : b;
  return b <= a ? __mmask16(0) : static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

// The sum of v's lanes. (Masked shuffles with every lane set: the plain intrinsics, and
// _mm512_reduce_add_ps, pass an undefined vector that GCC 12 reports as uninitialised.)
__attribute__((target("avx512f"))) inline float lane_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

}  // namespace lamina::kernels::cpu
#endif
