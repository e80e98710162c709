// Math functions written so that loops calling them vectorise (no libm calls, no
// branches): float exp to ~1 ulp. double keeps libm (gradient checks want it exact).
// Included after simd.hpp (kernel files only).
#pragma once

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// e^r for x = n ln 2 + r, r in [-ln2/2, ln2/2], with n = round(x / ln 2) left in t as
// 1.5 * 2^23 + n (t's bits are 0x4B400000 + n): Cody-Waite reduction (ln 2 split in a high
// part exact in float and a low correction) and Cephes' degree-6 minimax polynomial. The
// callers scale by 2^n.
constexpr float kRoundingOffset = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
inline __attribute__((always_inline)) float exp_reduced(float x, float& t) {
  t = x * 1.44269504088896341f + kRoundingOffset;
  const float n = t - kRoundingOffset;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

// exp(x) = 2^n * e^r (exp_reduced), 2^n built from exponent bits in two factors so that
// n in [-150, 128] stays in range (subnormal results, and exp(88.72) ~ FLT_MAX).
inline __attribute__((always_inline)) float vexp(float x) {
  x = x < -104.0f ? -104.0f : (x > 88.8f ? 88.8f : x);  // NaN passes through both tests
  float t;
  const float e = exp_reduced(x, t);
  // n from t's bits (t = 1.5 * 2^23 + n), not by converting t - offset: for NaN that
  // conversion is undefined behaviour (UBSan), the bits are not (e is NaN, so y is too).
  uint32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const int32_t ni = static_cast<int32_t>(tb - 0x4B400000u);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  // (unsigned: for NaN's n the shifts would overflow an int, undefined behaviour)
  const uint32_t b1 = (static_cast<uint32_t>(n1) + 127u) << 23, b2 = (static_cast<uint32_t>(n2) + 127u) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, sizeof s1);
  std::memcpy(&s2, &b2, sizeof s2);
  const float y = e * s1 * s2;
  return x >= 88.8f ? HUGE_VALF : y;  // beyond FLT_MAX: inf, as exp does
}

inline double vexp(double x) { return std::exp(x); }

// exp(x) for x <= 0, as softmax takes it (x - max): the same polynomial, with no overflow
// handling and one exponent factor, 2^n with n >= -126; below -87.6 (where n would pass
// that, and exp(x) < 1e-38) it returns 0 instead of a subnormal. About a third fewer
// instructions than vexp: the softmax row loop is this function.
inline __attribute__((always_inline)) float vexp_nonpositive(float x) {
  float t;
  const float e = exp_reduced(x, t);
  uint32_t bits;  // n from t's bits, in unsigned arithmetic (-inf wraps, then loses the select)
  std::memcpy(&bits, &t, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < -87.6f ? 0.0f : e * scale;  // NaN fails the test and stays NaN
}
inline double vexp_nonpositive(double x) { return std::exp(x); }

// 1 / (1 + e^-x) through e = e^-|x| <= 1, so that the short exp above serves either sign
// and neither side overflows: 1 / (1 + e) for x >= 0, e / (1 + e) below.
inline __attribute__((always_inline)) float vsigmoid(float x) {
  const float e = vexp_nonpositive(-std::fabs(x));
  const float r = 1.0f / (1.0f + e);
  return x >= 0.0f ? r : e * r;
}
inline double vsigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL
