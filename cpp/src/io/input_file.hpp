// The check every reader makes on a path before opening it: an ifstream opens a directory
// (and reads garbage sizes from it) and stops a path at its first NUL byte.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "lamina/error.hpp"

namespace lamina::io {

// Throws IOError naming `who` and the path when it holds a NUL byte or names a directory.
inline void check_input_path(const std::string& path, const char* who) {
  if (path.find('\0') != std::string::npos)
    detail::raise<IOError>(who, ": the path '", path.substr(0, path.find('\0')), "\\0...' holds a NUL byte");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) detail::raise<IOError>(who, ": ", path, " is a directory, not a file");
}

// The whole file's bytes (after check_input_path); IOError naming `who` if it cannot be read.
inline std::string read_whole(const std::string& path, const char* who) {
  check_input_path(path, who);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) detail::raise<IOError>(who, ": cannot open ", path);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::string bytes(size, '\0');
  if (size && !in.read(&bytes[0], static_cast<std::streamsize>(size))) detail::raise<IOError>(who, ": cannot read ", path);
  return bytes;
}

}  // namespace lamina::io
