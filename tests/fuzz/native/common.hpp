// Shared by the native (libFuzzer) targets: the contract is that any input either works or
// throws a lamina::Error. Another exception escapes to libFuzzer as a finding (an uncaught
// exception aborts); a crash, a hang or a sanitizer report is one by itself.
#pragma once

#include <lamina/error.hpp>
#include <lamina/tensor.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace lamina_fuzz {

// Hostile sizes fail fast: a small central limit on any one tensor (libFuzzer's
// -rss_limit_mb stays the guard over all of them). The zoo's nets then build up to their
// first large blob, which is where their time would go under the sanitizers.
inline void limit_memory(uint64_t megabytes = 64) {
  static const bool done = (lamina::set_max_alloc_bytes(megabytes << 20), true);
  (void)done;
}

// Runs fn(); a lamina::Error is the promised answer to bad input.
template <class Fn>
void guarded(Fn&& fn) {
  try {
    fn();
  } catch (const lamina::Error&) {
  }
}

// The readers take paths: the input as this process's scratch file (rewritten per input).
inline std::string scratch_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string base = "/tmp/lamina-fuzz-native-" + std::to_string(getpid());
  std::string path = base + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace lamina_fuzz
