// Temporary file + rename (see atomic_file.hpp).
#include "io/atomic_file.hpp"

#include <cstdio>
#include <fstream>

#include "lamina/error.hpp"

namespace lamina::io {

void write_atomically(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) detail::raise<IOError>(who, ": cannot write ", tmp);
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      detail::raise<IOError>(who, ": writing ", tmp, " failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    detail::raise<IOError>(who, ": cannot rename ", tmp, " to ", path);
  }
}

void write_atomically(const std::string& path, const char* who, const std::string& bytes) {
  write_atomically(path, who, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace lamina::io
