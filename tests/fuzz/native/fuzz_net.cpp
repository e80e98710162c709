// libFuzzer target: prototxt text -> the parser, the upgrade and the net builder in the phase
// the first byte picks, then (its second bit) one forward and, in TRAIN, one backward.
#include <lamina/net.hpp>

#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lamina_fuzz::limit_memory(4);
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  lamina_fuzz::guarded([&] {
    lamina::NetOptions options;
    options.phase = (mode & 1) ? lamina::Phase::train : lamina::Phase::test;
    lamina::Net net = lamina::Net::from_text(text, options, "fuzz.prototxt");
    if (mode & 2) {
      net.forward();
      if (mode & 1) net.backward();
    }
  });
  return 0;
}
