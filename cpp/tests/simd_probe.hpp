// kernels/cpu/simd.hpp of one level behind plain functions: simd_level.cpp is compiled
// once per level, as the kernel files are, and test_simd.cpp (compiled for the baseline)
// calls the levels this CPU runs. Only declarations here: simd_level.cpp includes this
// before simd.hpp's target pragma.
#pragma once

#include <cstdint>

namespace lamina::simd_test {

enum class Op {
  add, sub, mul, div, fma, fnma, max, min, round, evens, odds,
  select_greater,  // select(greater(a, b), a, c)
  pow2i, exp_nonpositive, reduce_add, reduce_max
};

struct Level {
  int lanes;  // simd::kLanes
  // out = op(load(a), load(b), load(c)) for the lanes, or out[0] for a reduction (of a);
  // pow2i reads integral floats.
  void (*apply)(Op op, const float* a, const float* b, const float* c, float* out);
  // out = load(lanes(lo, hi), p), all lanes of out written.
  void (*load_lanes)(int64_t lo, int64_t hi, const float* p, float* out);
  // store(lanes(lo, hi), p, load(v)).
  void (*store_lanes)(int64_t lo, int64_t hi, const float* v, float* p);
  // out = load_first(p, n); store_first(p, load(v), n).
  void (*load_first)(const float* p, int64_t n, float* out);
  void (*store_first)(float* p, const float* v, int64_t n);
  // out = gather(lanes(lo, hi), p, stride).
  void (*gather)(int64_t lo, int64_t hi, const float* p, int64_t stride, float* out);
  // out = permute(load(v), iload(idx)).
  void (*permute)(const float* v, const int32_t* idx, float* out);
  // m, kLanes x kLanes row-major, through transpose() in place.
  void (*transpose)(float* m);
  // lane_bits(lo, hi); out = select(from_bits(bits), 1, 0).
  uint32_t (*lane_bits)(int64_t lo, int64_t hi);
  void (*from_bits)(uint32_t bits, float* out);
  // The int32 lanes, kLanes each: out = iadd(iload(a), iload(b)), then imax(a, b),
  // iselect(lanes(lo, hi), a, b), iadd(iota(), iset1(k)); then a's to_float in f.
  void (*ints)(const int32_t* a, const int32_t* b, int64_t lo, int64_t hi, int32_t k, int32_t* out, float* f);
  // store(lanes(lo, hi), p, iload(v)).
  void (*store_ints)(int64_t lo, int64_t hi, const int32_t* v, int32_t* p);
};

}  // namespace lamina::simd_test
