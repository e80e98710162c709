// simd:: of the level this copy is compiled for (cpp/tests/CMakeLists.txt), behind the
// plain functions of simd_probe.hpp.
#include "simd_probe.hpp"

#include "kernels/cpu/simd.hpp"  // last: what follows is compiled for the level

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {

using simd_test::Op;

void apply(Op op, const float* a, const float* b, const float* c, float* out) {
  const simd::Vec x = simd::load(a), y = simd::load(b), z = simd::load(c);
  switch (op) {
    case Op::add: simd::store(out, simd::add(x, y)); return;
    case Op::sub: simd::store(out, simd::sub(x, y)); return;
    case Op::mul: simd::store(out, simd::mul(x, y)); return;
    case Op::div: simd::store(out, simd::div(x, y)); return;
    case Op::fma: simd::store(out, simd::fma(x, y, z)); return;
    case Op::fnma: simd::store(out, simd::fnma(x, y, z)); return;
    case Op::max: simd::store(out, simd::max(x, y)); return;
    case Op::min: simd::store(out, simd::min(x, y)); return;
    case Op::round: simd::store(out, simd::round(x)); return;
    case Op::evens: simd::store(out, simd::evens(x, y)); return;
    case Op::odds: simd::store(out, simd::odds(x, y)); return;
    case Op::select_greater: simd::store(out, simd::select(simd::greater(x, y), x, z)); return;
    case Op::pow2i: simd::store(out, simd::pow2i(x)); return;
    case Op::exp_nonpositive: simd::store(out, simd::exp_nonpositive(x)); return;
    case Op::reduce_add: out[0] = simd::reduce_add(x); return;
    case Op::reduce_max: out[0] = simd::reduce_max(x); return;
  }
}

void load_lanes(int64_t lo, int64_t hi, const float* p, float* out) {
  simd::store(out, simd::load(simd::lanes(lo, hi), p));
}
void store_lanes(int64_t lo, int64_t hi, const float* v, float* p) {
  simd::store(simd::lanes(lo, hi), p, simd::load(v));
}
void load_first(const float* p, int64_t n, float* out) { simd::store(out, simd::load_first(p, n)); }
void store_first(float* p, const float* v, int64_t n) { simd::store_first(p, simd::load(v), n); }
void gather(int64_t lo, int64_t hi, const float* p, int64_t stride, float* out) {
  simd::store(out, simd::gather(simd::lanes(lo, hi), p, stride));
}
void permute(const float* v, const int32_t* idx, float* out) {
  simd::store(out, simd::permute(simd::load(v), simd::iload(idx)));
}
void transpose(float* m) {
  simd::Vec v[simd::kLanes];
  for (int i = 0; i < simd::kLanes; ++i) v[i] = simd::load(m + i * simd::kLanes);
  simd::transpose(v);
  for (int i = 0; i < simd::kLanes; ++i) simd::store(m + i * simd::kLanes, v[i]);
}
uint32_t lane_bits(int64_t lo, int64_t hi) { return simd::lane_bits(lo, hi); }
void from_bits(uint32_t bits, float* out) {
  simd::store(out, simd::select(simd::from_bits(bits), simd::set1(1.0f), simd::zero()));
}
void ints(const int32_t* a, const int32_t* b, int64_t lo, int64_t hi, int32_t k, int32_t* out, float* f) {
  const simd::IVec x = simd::iload(a), y = simd::iload(b);
  const simd::Mask all = simd::all_lanes();
  simd::store(all, out, simd::iadd(x, y));
  simd::store(all, out + simd::kLanes, simd::imax(x, y));
  simd::store(all, out + 2 * simd::kLanes, simd::iselect(simd::lanes(lo, hi), x, y));
  simd::store(all, out + 3 * simd::kLanes, simd::iadd(simd::iota(), simd::iset1(k)));
  simd::store(f, simd::to_float(x));
}
void store_ints(int64_t lo, int64_t hi, const int32_t* v, int32_t* p) {
  simd::store(simd::lanes(lo, hi), p, simd::iload(v));
}

}  // namespace

simd_test::Level simd_probe() {
  return {simd::kLanes, &apply, &load_lanes, &store_lanes, &load_first, &store_first, &gather,
          &permute, &transpose, &lane_bits, &from_bits, &ints, &store_ints};
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
