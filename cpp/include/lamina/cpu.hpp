// The CPU's vector instruction level, as lamina's kernels see it.
//
// One function decides what this CPU can run (cpu_isa(), asked once); the kernels use
// active_isa(), which is that level unless a lower one was asked for, by the environment
// variable LAMINA_ISA (avx512, avx2, neon or generic, read at the first call) or by
// set_isa(). Every kernel has a path at every level, so forcing a lower one changes speed
// and rounding, never which results exist: tests run their tables once per level the
// machine has, and benchmarks compare levels on one machine.
//
//   Isa::avx512   x86-64 with AVX-512 F, BW, DQ and VL (16 float lanes)
//   Isa::avx2     x86-64 with AVX2 and FMA (8 lanes)
//   Isa::neon     aarch64's Advanced SIMD (4 lanes; every aarch64 CPU has it)
//   Isa::generic  plain C++ (what the compiler makes of it for the baseline target)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lamina {

// Ordered so that a higher level runs everything a lower one on the same architecture
// does (neon and avx2 never meet on one CPU).
enum class Isa : uint8_t { generic, neon, avx2, avx512 };

// "avx512", "avx2", "neon", "generic".
const char* isa_name(Isa isa);
// The level named by one of isa_name's strings; throws ValueError for any other.
Isa parse_isa(const std::string& name);

// The highest level this CPU (and its operating system) can run.
Isa cpu_isa();
// The levels this CPU can run, highest first (always ending with generic).
std::vector<Isa> available_isas();
// Whether `isa` is one of them.
bool can_run(Isa isa);
// The level the kernels use now. Throws ValueError when LAMINA_ISA names no level or one
// above cpu_isa().
Isa active_isa();
// Makes the kernels use `isa` from now on (every thread). Throws ValueError for a level
// this CPU cannot run.
void set_isa(Isa isa);

// What each family of kernels runs at the active level, as (kernel, path) pairs: the path
// is the level its vector code was compiled for, or what stands in for it ("blas").
std::vector<std::pair<std::string, std::string>> kernel_paths();

}  // namespace lamina
