// The check every reader makes on a path before opening it: an ifstream opens a directory
// (and reads garbage sizes from it) and stops a path at its first NUL byte.
#pragma once

#include <filesystem>
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

}  // namespace lamina::io
