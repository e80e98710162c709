// UTF-8 validity of bytes that become Python str (prototxt strings, protobuf string
// fields, safetensors names and metadata), checked where they are read.
#pragma once

#include <cstdint>
#include <string>

namespace lamina::detail {

// Where s stops being UTF-8 (std::string::npos when it all is). Overlong forms,
// surrogates and code points past U+10FFFF count as invalid, as in Python's decoder.
inline size_t utf8_error(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b >> 6) != 2) return i;
      cp = cp << 6 | (b & 0x3f);
    }
    const uint32_t min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return i;
    i += n;
  }
  return std::string::npos;
}

}  // namespace lamina::detail
