#include <atomic>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {
std::atomic<uint64_t> g_seed{0x5eed};
std::atomic<uint64_t> g_draws{0};
}  // namespace

void manual_seed(uint64_t seed) {
  g_seed = seed;
  g_draws = 0;
}

RngState rng_state() { return {g_seed.load(), g_draws.load()}; }

void set_rng_state(const RngState& state) {
  g_seed = state.seed;
  g_draws = state.draws;
}

uint64_t next_seed() {
  // Each draw gets its own stream: a hash of (global seed, draw number).
  const uint64_t k = g_draws.fetch_add(1);
  uint64_t z = g_seed.load() + 0x9e3779b97f4a7c15ULL * (k + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return z ^ (z >> 27);
}

Tensor rand(const Shape& shape, double lo, double hi, DType dtype, uint64_t seed) {
  LAMINA_CHECK(lo <= hi, "rand: lower bound ", lo, " is above upper bound ", hi);
  ops_detail::check_float("rand", dtype);
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&](auto z) {
    using T = decltype(z);
    ops_detail::kernels_for<T>("rand", t).uniform(seed, t.numel(), T(lo), T(hi), t.data<T>());
  });
  return t;
}

Tensor randn(const Shape& shape, double mean, double stddev, DType dtype, uint64_t seed) {
  LAMINA_CHECK(stddev >= 0, "randn: standard deviation must be >= 0, got ", stddev);
  ops_detail::check_float("randn", dtype);
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&](auto z) {
    using T = decltype(z);
    ops_detail::kernels_for<T>("randn", t).gaussian(seed, t.numel(), T(mean), T(stddev), t.data<T>());
  });
  return t;
}

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed) {
  check_defined("dropout", x);
  ops_detail::check_float("dropout", x.dtype());
  LAMINA_CHECK(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got ", p);
  if (!training || p == 0) return x;
  // Keep with probability 1 - p and scale by 1 / (1 - p) (inverted dropout, as Caffe and
  // PyTorch): the expectation of y is x, and inference needs no rescaling.
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto z) {
    using T = decltype(z);
    ops_detail::kernels_for<T>("dropout", x).dropout_mask(seed, mask.numel(), p, mask.data<T>());
  });
  return mul(x, mask);
}

}  // namespace lamina
