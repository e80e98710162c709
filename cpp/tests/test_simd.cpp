// kernels/cpu/simd.hpp at each level this CPU runs (NEON included, under emulation on an
// x86-64 host: tests/run_aarch64.sh) against scalar arithmetic: masks, masked loads, stores
// and gathers and the memory they leave alone, the arithmetic's rounding and NaN rules,
// permutes and transposes, int32 lanes, reductions, 2^n and exp.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "levels.hpp"
#include "simd_probe.hpp"

// Each level's simd_level.cpp: the levels cpp/CMakeLists.txt compiles for this architecture.
#if defined(__x86_64__)
namespace lamina::kernels::cpu::avx512 { simd_test::Level simd_probe(); }
namespace lamina::kernels::cpu::avx2 { simd_test::Level simd_probe(); }
#elif defined(__aarch64__)
namespace lamina::kernels::cpu::neon { simd_test::Level simd_probe(); }
#endif
namespace lamina::kernels::cpu::generic { simd_test::Level simd_probe(); }

namespace lamina {

namespace {

using simd_test::Op;
constexpr int kMaxLanes = 16;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

simd_test::Level probe(Isa level) {
  switch (level) {
#if defined(__x86_64__)
    case Isa::avx512: return kernels::cpu::avx512::simd_probe();
    case Isa::avx2: return kernels::cpu::avx2::simd_probe();
#elif defined(__aarch64__)
    case Isa::neon: return kernels::cpu::neon::simd_probe();
#endif
    default: return kernels::cpu::generic::simd_probe();
  }
}

// The same float, NaNs equal to each other (their payloads may differ), -0 apart from +0.
bool same(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Every ordered pair of the special and ordinary values below, lanes at a time.
const std::vector<float>& values() {
  static const std::vector<float> v = {0.0f,  -0.0f,  1.0f,    -1.0f,  0.5f,    1.5f,    2.5f,    -2.5f,  3.7f,
                                       -0.3f, 1e-40f, -1e-40f, 1e30f,  -1e30f,  8388609.0f, 1.17549435e-38f,
                                       kInf,  -kInf,  kNaN,    -kNaN,  3.4e38f, -7.25f};
  return v;
}

}  // namespace

LAMINA_AT_EACH_LEVEL(Simd);

TEST(SimdLevels, EveryLevelOfThisArchitectureRuns) {
  // The levels the tests run at: a CPU check that dropped NEON would silently leave its
  // kernels untested.
#if defined(__aarch64__)
  EXPECT_EQ(available_isas(), (std::vector<Isa>{Isa::neon, Isa::generic}));
#endif
  for (Isa level : available_isas()) {
    const int lanes = probe(level).lanes;
    const int expected = level == Isa::avx512 ? 16 : level == Isa::avx2 ? 8 : level == Isa::neon ? 4 : 1;
    EXPECT_EQ(lanes, expected) << isa_name(level);
  }
}

TEST_P(Simd, MasksLoadAndStoreTheirLanesOnly) {
  const simd_test::Level s = probe(GetParam());
  const int L = s.lanes;
  float src[kMaxLanes], v[kMaxLanes];
  float strided[3 * kMaxLanes];
  for (int l = 0; l < kMaxLanes; ++l) src[l] = float(l + 1), v[l] = float(100 + l);
  for (int i = 0; i < 3 * kMaxLanes; ++i) strided[i] = float(-i - 1);
  const int64_t far = int64_t(1) << 40;  // past 32 bits: clamped, not truncated
  std::vector<int64_t> ends = {-far, -1, far};
  for (int64_t e = 0; e <= L + 1; ++e) ends.push_back(e);
  for (int64_t lo : ends)
    for (int64_t hi : ends) {
      float out[kMaxLanes], dst[kMaxLanes];
      std::fill(out, out + kMaxLanes, kNaN);
      std::fill(dst, dst + kMaxLanes, -1.0f);
      s.load_lanes(lo, hi, src, out);
      s.store_lanes(lo, hi, v, dst);
      for (int l = 0; l < L; ++l) {
        const bool on = lo <= l && l < hi;
        EXPECT_EQ(out[l], on ? src[l] : 0.0f) << "lanes [" << lo << ", " << hi << ") lane " << l;
        EXPECT_EQ(dst[l], on ? v[l] : -1.0f) << "lanes [" << lo << ", " << hi << ") lane " << l;
      }
      for (int64_t stride : {1, 3}) {
        std::fill(out, out + kMaxLanes, kNaN);
        s.gather(lo, hi, strided, stride, out);
        for (int l = 0; l < L; ++l)
          EXPECT_EQ(out[l], lo <= l && l < hi ? strided[l * stride] : 0.0f)
              << "gather, stride " << stride << ", lanes [" << lo << ", " << hi << ") lane " << l;
      }
    }
  for (int64_t n = 0; n <= L + 1; ++n) {
    float out[kMaxLanes], dst[kMaxLanes];
    std::fill(dst, dst + kMaxLanes, -1.0f);
    s.load_first(src, n, out);
    s.store_first(dst, v, n);
    for (int l = 0; l < L; ++l) {
      EXPECT_EQ(out[l], l < n ? src[l] : 0.0f) << "first " << n << " lane " << l;
      EXPECT_EQ(dst[l], l < n ? v[l] : -1.0f) << "first " << n << " lane " << l;
    }
  }
}

TEST_P(Simd, MaskedOffLanesNeverTouchMemory) {
  // A readable page between two that fault on any access: the lanes off a mask lie in the
  // faulting pages, so a load or store that touched them would crash this test.
  const simd_test::Level s = probe(GetParam());
  const int L = s.lanes;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* base = static_cast<char*>(map);
  ASSERT_EQ(mprotect(base, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(base + 2 * page, page, PROT_NONE), 0);
  float* begin = reinterpret_cast<float*>(base + page);
  float* end = reinterpret_cast<float*>(base + 2 * page);
  for (float* f = begin; f < end; ++f) *f = float(f - begin);
  float v[kMaxLanes], out[kMaxLanes];
  int32_t iv[kMaxLanes];
  for (int l = 0; l < kMaxLanes; ++l) v[l] = float(-1 - l), iv[l] = 1000 + l;
  for (int lo = 0; lo <= L; ++lo)
    for (int hi = lo; hi <= L; ++hi)
      for (float* p : {begin - lo, end - hi}) {  // lanes below lo before the page, from hi after it
        s.load_lanes(lo, hi, p, out);
        for (int l = lo; l < hi; ++l) EXPECT_EQ(out[l], p[l]);
        s.store_lanes(lo, hi, v, p);
        for (int l = lo; l < hi; ++l) EXPECT_EQ(p[l], v[l]);
        int32_t* q = reinterpret_cast<int32_t*>(p);  // the same lanes as int32
        s.store_ints(lo, hi, iv, q);
        for (int l = lo; l < hi; ++l) EXPECT_EQ(q[l], iv[l]);
      }
  for (int n = 0; n < L; ++n) {
    s.load_first(end - n, n, out);
    s.store_first(end - n, v, n);
  }
  const int stride = 3;  // lanes [lo, hi) at p[3 l], the others before or after the page
  for (int lo = 0; lo <= L; ++lo)
    for (int hi = lo + 1; hi <= L; ++hi)
      for (float* p : {begin - lo * stride, end - 1 - (hi - 1) * stride}) {
        s.gather(lo, hi, p, stride, out);
        for (int l = lo; l < hi; ++l) EXPECT_EQ(out[l], p[l * stride]);
      }
  munmap(map, 3 * page);
}

TEST_P(Simd, ArithmeticAsScalarFloats) {
  // add, sub, mul and div round as float does; fma and fnma round once where the level
  // fuses them (generic may round twice); max and min are a > b ? a : b and a < b ? a : b,
  // so the second where either is NaN and between zeros, and greater is false there too;
  // round is to nearest, ties to even.
  const simd_test::Level s = probe(GetParam());
  const bool fused = GetParam() != Isa::generic;
  const std::vector<float>& v = values();
  std::vector<float> as, bs, cs;
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = 0; j < v.size(); ++j) {
      as.push_back(v[i]);
      bs.push_back(v[j]);
      cs.push_back(v[(i + 3 * j + 1) % v.size()]);
    }
  // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: a fused fma and fnma keep the 2^-46 that rounding
  // the product first drops.
  const float e = 1.00000012f, e2 = 1.00000024f;
  for (float c : {-e2, e2}) as.push_back(e), bs.push_back(e), cs.push_back(c);
  while (as.size() % kMaxLanes) as.push_back(1.0f), bs.push_back(1.0f), cs.push_back(1.0f);
  for (size_t at = 0; at < as.size(); at += s.lanes) {
    const float *a = &as[at], *b = &bs[at], *c = &cs[at];
    float out[kMaxLanes];
    auto check = [&](Op op, const char* name, auto expected) {
      s.apply(op, a, b, c, out);
      for (int l = 0; l < s.lanes; ++l)
        EXPECT_TRUE(expected(a[l], b[l], c[l], out[l]))
            << name << "(" << a[l] << ", " << b[l] << ", " << c[l] << ") gave " << out[l];
    };
    check(Op::add, "add", [](float x, float y, float, float r) { return same(r, x + y); });
    check(Op::sub, "sub", [](float x, float y, float, float r) { return same(r, x - y); });
    check(Op::mul, "mul", [](float x, float y, float, float r) { return same(r, x * y); });
    check(Op::div, "div", [](float x, float y, float, float r) { return same(r, x / y); });
    check(Op::select_greater, "select(greater)", [](float x, float y, float z, float r) { return same(r, x > y ? x : z); });
    check(Op::max, "max", [](float x, float y, float, float r) { return same(r, x > y ? x : y); });
    check(Op::min, "min", [](float x, float y, float, float r) { return same(r, x < y ? x : y); });
    check(Op::round, "round", [](float x, float, float, float r) { return same(r, std::nearbyint(x)); });
    check(Op::fma, "fma", [&](float x, float y, float z, float r) {
      volatile float xy = x * y;  // rounded before the add, whatever the compiler contracts
      return same(r, std::fma(x, y, z)) || (!fused && same(r, xy + z));
    });
    check(Op::fnma, "fnma", [&](float x, float y, float z, float r) {
      volatile float xy = x * y;
      return same(r, std::fma(-x, y, z)) || (!fused && same(r, z - xy));
    });
  }
}

TEST_P(Simd, ReductionsOverTheLanes) {
  const simd_test::Level s = probe(GetParam());
  const int L = s.lanes;
  float a[kMaxLanes], out[kMaxLanes];
  for (int top = 0; top < L; ++top) {  // the largest value in each lane in turn
    double sum = 0;
    for (int l = 0; l < L; ++l) {
      a[l] = l == top ? 50.0f : float(-3 * l - 1);  // small integers: every order of sums is exact
      sum += a[l];
    }
    s.apply(Op::reduce_add, a, a, a, out);
    EXPECT_EQ(out[0], float(sum)) << "top lane " << top;
    s.apply(Op::reduce_max, a, a, a, out);
    EXPECT_EQ(out[0], 50.0f) << "top lane " << top;
  }
}

TEST_P(Simd, PowersOfTwo) {
  const simd_test::Level s = probe(GetParam());
  std::vector<float> n;
  for (int e = -126; e <= 127; ++e) n.push_back(float(e));
  while (n.size() % kMaxLanes) n.push_back(0.0f);
  float out[kMaxLanes];
  for (size_t at = 0; at < n.size(); at += s.lanes) {
    s.apply(Op::pow2i, &n[at], &n[at], &n[at], out);
    for (int l = 0; l < s.lanes; ++l) EXPECT_EQ(out[l], std::ldexp(1.0f, int(n[at + l]))) << "2^" << n[at + l];
  }
}

TEST_P(Simd, ExpOfNonPositiveArguments) {
  // Within 2 units in the last place of e^x (double) wherever that is a normal float
  // (x >= -87.3); below, 0 or (AVX-512, which underflows gradually) within 2 subnormal
  // steps; NaN for NaN.
  const simd_test::Level s = probe(GetParam());
  std::vector<float> x = {0.0f, -0.0f, -87.3f, -87.31f, -88.0f, -100.0f, -1e30f, -kInf, kNaN};
  for (int i = 0; i <= 200000; ++i) x.push_back(-104.0f * float(i) / 200000);
  while (x.size() % kMaxLanes) x.push_back(0.0f);
  float out[kMaxLanes];
  double worst = 0;
  for (size_t at = 0; at < x.size(); at += s.lanes) {
    s.apply(Op::exp_nonpositive, &x[at], &x[at], &x[at], out);
    for (int l = 0; l < s.lanes; ++l) {
      const float xi = x[at + l];
      if (std::isnan(xi)) {
        EXPECT_TRUE(std::isnan(out[l]));
        continue;
      }
      const double ref = std::exp(double(xi));
      if (xi < -87.3f && out[l] == 0.0f) continue;
      const double step = float(ref) >= std::numeric_limits<float>::min()
                              ? std::ldexp(1.0, std::ilogb(float(ref)) - 23)
                              : double(std::numeric_limits<float>::denorm_min());
      if (xi >= -87.3f) worst = std::max(worst, std::fabs(out[l] - ref) / step);
      ASSERT_LE(std::fabs(out[l] - ref), 2 * step) << "e^" << xi << " = " << ref << ", gave " << out[l];
    }
  }
  RecordProperty("worst_ulp", std::to_string(worst));
}

TEST_P(Simd, PermutesAndTransposes) {
  const simd_test::Level s = probe(GetParam());
  const int L = s.lanes;
  float a[2 * kMaxLanes], out[kMaxLanes];
  for (int i = 0; i < 2 * kMaxLanes; ++i) a[i] = float(i);
  // evens and odds of the 2 L floats a[0, 2L) held as two vectors
  s.apply(Op::evens, a, a + L, a, out);
  for (int l = 0; l < L; ++l) EXPECT_EQ(out[l], float(2 * l)) << "evens lane " << l;
  s.apply(Op::odds, a, a + L, a, out);
  for (int l = 0; l < L; ++l) EXPECT_EQ(out[l], float(2 * l + 1)) << "odds lane " << l;
  // permute: reversed, rotated by each amount, each lane broadcast
  std::vector<std::vector<int32_t>> orders;
  std::vector<int32_t> idx(kMaxLanes, 0);
  for (int l = 0; l < L; ++l) idx[l] = L - 1 - l;
  orders.push_back(idx);
  for (int r = 0; r < L; ++r) {
    for (int l = 0; l < L; ++l) idx[l] = (l + r) % L;
    orders.push_back(idx);
    for (int l = 0; l < L; ++l) idx[l] = r;
    orders.push_back(idx);
  }
  for (const auto& order : orders) {
    s.permute(a + 5, order.data(), out);
    for (int l = 0; l < L; ++l) EXPECT_EQ(out[l], a[5 + order[l]]) << "permute to lane " << l << " from " << order[l];
  }
  float m[kMaxLanes * kMaxLanes];
  for (int i = 0; i < L * L; ++i) m[i] = float(i);
  s.transpose(m);
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < L; ++j) EXPECT_EQ(m[i * L + j], float(j * L + i)) << "transposed (" << i << ", " << j << ")";
}

TEST_P(Simd, MaskBitsAndInt32Lanes) {
  const simd_test::Level s = probe(GetParam());
  const int L = s.lanes;
  for (int64_t lo = -1; lo <= L + 1; ++lo)
    for (int64_t hi = -1; hi <= L + 1; ++hi) {
      uint32_t expected = 0;
      for (int l = 0; l < L; ++l) expected |= uint32_t(lo <= l && l < hi) << l;
      EXPECT_EQ(s.lane_bits(lo, hi), expected) << "lane_bits(" << lo << ", " << hi << ")";
    }
  float out[kMaxLanes];
  for (uint32_t bits = 0; bits < (1u << L); ++bits) {
    s.from_bits(bits, out);
    for (int l = 0; l < L; ++l) ASSERT_EQ(out[l], float((bits >> l) & 1u)) << "from_bits(" << bits << ") lane " << l;
  }
  int32_t a[kMaxLanes], b[kMaxLanes], r[4 * kMaxLanes];
  for (int l = 0; l < kMaxLanes; ++l) a[l] = (l % 3 - 1) * (1 << 20) + l, b[l] = 7 - 2 * l;
  for (int64_t lo = 0; lo <= L; ++lo)
    for (int64_t hi = lo; hi <= L; ++hi) {
      s.ints(a, b, lo, hi, -3, r, out);
      for (int l = 0; l < L; ++l) {
        EXPECT_EQ(r[l], a[l] + b[l]) << "iadd lane " << l;
        EXPECT_EQ(r[L + l], std::max(a[l], b[l])) << "imax lane " << l;
        EXPECT_EQ(r[2 * L + l], lo <= l && l < hi ? a[l] : b[l]) << "iselect [" << lo << ", " << hi << ") lane " << l;
        EXPECT_EQ(r[3 * L + l], l - 3) << "iota + iset1 lane " << l;
        EXPECT_EQ(out[l], float(a[l])) << "to_float lane " << l;
      }
      int32_t dst[kMaxLanes];
      std::fill(dst, dst + kMaxLanes, -9);
      s.store_ints(lo, hi, a, dst);
      for (int l = 0; l < L; ++l) EXPECT_EQ(dst[l], lo <= l && l < hi ? a[l] : -9) << "int store lane " << l;
    }
}

}  // namespace lamina
