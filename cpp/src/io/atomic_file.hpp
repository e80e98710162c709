// Files lamina writes appear whole or not at all: the bytes go to "<path>.tmp" in the same
// directory, are flushed, and the temporary is renamed over `path` (atomic on POSIX).
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace lamina::io {

// Calls `write` on a binary stream into the temporary, then renames it to `path`. Any
// failure (cannot open, short write, rename) removes the temporary and throws IOError
// naming `who` (the caller, e.g. "save_safetensors") and the file.
void write_atomically(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write);

// The same for bytes already in memory.
void write_atomically(const std::string& path, const char* who, const std::string& bytes);

}  // namespace lamina::io
