#include "lamina/cpu.hpp"

#include <atomic>
#include <cstdlib>

#include "kernels/kernels.hpp"
#include "lamina/error.hpp"

namespace lamina {

namespace {

Isa detect() {
#if defined(__x86_64__) && defined(__GNUC__)
  // GCC's checks read CPUID and, for AVX and AVX-512, whether the OS saves those registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::generic;
#elif defined(__aarch64__)
  return Isa::neon;  // Advanced SIMD is part of every AArch64 CPU
#else
  return Isa::generic;
#endif
}

std::string levels_str() {
  std::string s;
  for (Isa a : available_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(a));
  return s;
}

// -1 until the first active_isa() reads LAMINA_ISA.
std::atomic<int> g_active{-1};

Isa from_environment() {
  const char* value = std::getenv("LAMINA_ISA");
  if (!value || !*value) return cpu_isa();
  Isa isa;
  try {
    isa = parse_isa(value);
  } catch (const ValueError&) {
    detail::raise<ValueError>("LAMINA_ISA=", value, ": not a level; use one of this CPU's: ", levels_str());
  }
  LAMINA_CHECK(can_run(isa), "LAMINA_ISA=", value, ": this CPU cannot run it; its levels are ", levels_str());
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::neon: return "neon";
    case Isa::generic: return "generic";
  }
  return "generic";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::neon, Isa::generic})
    if (name == isa_name(isa)) return isa;
  detail::raise<ValueError>("unknown ISA level '", name, "'; use avx512, avx2, neon or generic");
}

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

std::vector<Isa> available_isas() {
  switch (cpu_isa()) {
    case Isa::avx512: return {Isa::avx512, Isa::avx2, Isa::generic};
    case Isa::avx2: return {Isa::avx2, Isa::generic};
    case Isa::neon: return {Isa::neon, Isa::generic};
    case Isa::generic: break;
  }
  return {Isa::generic};
}

bool can_run(Isa isa) {
  // available_isas() without building its list: kernels::cpu::table asks on every op.
  const Isa top = cpu_isa();
  return isa == Isa::generic || isa == top || (top == Isa::avx512 && isa == Isa::avx2);
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(from_environment());  // throws (and stays unset) for a bad value
    int expected = -1;
    if (!g_active.compare_exchange_strong(expected, v)) v = expected;  // set_isa came first
  }
  return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
  LAMINA_CHECK(can_run(isa), "set_isa: this CPU cannot run ", isa_name(isa), "; its levels are ", levels_str());
  g_active.store(static_cast<int>(isa));
}

std::vector<std::pair<std::string, std::string>> kernel_paths() {
  return kernels::cpu::kernel_paths(active_isa());
}

}  // namespace lamina
