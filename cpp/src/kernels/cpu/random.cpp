// A counter-based generator: the value at position i of stream `seed` is a hash of
// (seed, i), so a tensor's random fill does not depend on how many threads draw it or in
// which order (splitmix64's finaliser is the hash: full avalanche, one multiply-xorshift
// chain per value).
#include <cmath>

#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"
#include "kernels/cpu/map.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

namespace {
inline __attribute__((always_inline)) uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Uniform in (0, 1): 53 random bits, never exactly 0 (log() in Box-Muller needs that).
inline __attribute__((always_inline)) double unit(uint64_t seed, uint64_t i) {
  return (static_cast<double>(mix(seed * 0x9e3779b97f4a7c15ULL + i + 1) >> 11) + 0.5) * 0x1.0p-53;
}
}  // namespace

template <class T>
void uniform(uint64_t seed, int64_t n, T lo, T hi, T* out) {
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(lo + (hi - lo) * unit(seed, static_cast<uint64_t>(i)));
}

template <class T>
void gaussian(uint64_t seed, int64_t n, T mean, T stddev, T* out) {
  // Box-Muller on the pair (2k, 2k+1): element i uses pair i / 2, cosine or sine half.
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t k = static_cast<uint64_t>(i / 2);
    const double r = std::sqrt(-2.0 * std::log(unit(seed, 2 * k)));
    const double a = 6.283185307179586 * unit(seed, 2 * k + 1);
    out[i] = static_cast<T>(mean + stddev * r * ((i & 1) ? std::sin(a) : std::cos(a)));
  }
}

template <class T>
void dropout_mask(uint64_t seed, int64_t n, double p, T* out) {
  uniform(seed, n, T(0), T(1), out);
  const T scale = T(1.0 / (1.0 - p)), thr = T(p);
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = out[i] >= thr ? scale : T(0);
}

void fill_random(Table& t) {
  LAMINA_FILL(t, uniform);
  LAMINA_FILL(t, gaussian);
  LAMINA_FILL(t, dropout_mask);
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
