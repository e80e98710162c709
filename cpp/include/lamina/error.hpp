// lamina's errors. Nothing in lamina aborts or exits on bad input: it throws one of
// these, and the Python binding maps each to a lamina.Error subclass that also derives
// from the matching Python builtin (see python/lamina/__init__.py).
//
//   Error            base of everything lamina throws            lamina.Error
//   ShapeError       shapes that do not fit an operation          lamina.ShapeError (ValueError)
//   DTypeError       an unsupported or mismatched dtype           lamina.DTypeError (TypeError)
//   ValueError       a bad argument value (negative stride, ...)  lamina.InvalidValueError (ValueError)
//   IndexError       an index or axis out of range                lamina.OutOfRangeError (IndexError)
//   IOError          a file that cannot be opened, read, written  lamina.FileError (OSError)
//   FormatError      a file whose contents are malformed          lamina.FileFormatError (FileError)
//   PrototxtError    prototxt text that is malformed or invalid   lamina.PrototxtError (ValueError)
//   DeviceError      a device (CUDA) that is absent or failed     lamina.DeviceError (RuntimeError)
//
// Messages name the operation and the offending shapes or values, e.g.
//   "matmul: inner dimensions differ: a is [2, 3], b is [4, 5]".
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lamina {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { public: using Error::Error; };
class DTypeError : public Error { public: using Error::Error; };
class ValueError : public Error { public: using Error::Error; };
class IndexError : public Error { public: using Error::Error; };
class IOError : public Error { public: using Error::Error; };
class FormatError : public IOError { public: using IOError::IOError; };
class DeviceError : public Error { public: using Error::Error; };

// A prototxt error keeps where it happened; what() reads "file:line:col: message".
class PrototxtError : public Error {
 public:
  PrototxtError(std::string file, int line, int column, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  // The message without the "file:line:col: " prefix.
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string reason_;
};

// Shapes print as "[2, 3, 4]" in every message.
std::string shape_str(const std::vector<int64_t>& shape);

namespace detail {
inline void append(std::ostringstream& s, const std::vector<int64_t>& shape) { s << shape_str(shape); }
template <class A>
void append(std::ostringstream& s, const A& a) { s << a; }

template <class E, class... Args>
[[noreturn]] void raise(const Args&... args) {
  std::ostringstream s;
  (append(s, args), ...);
  throw E(s.str());
}
}  // namespace detail

}  // namespace lamina

// LAMINA_CHECK_AS(Type, cond, parts...): throw Type with the parts streamed together when
// cond is false. Shapes (std::vector<int64_t>) print as "[2, 3]".
#define LAMINA_CHECK_AS(E, cond, ...)                     \
  do {                                                    \
    if (!(cond)) ::lamina::detail::raise<E>(__VA_ARGS__); \
  } while (0)
#define LAMINA_CHECK(cond, ...) LAMINA_CHECK_AS(::lamina::ValueError, cond, __VA_ARGS__)
#define LAMINA_CHECK_SHAPE(cond, ...) LAMINA_CHECK_AS(::lamina::ShapeError, cond, __VA_ARGS__)
#define LAMINA_CHECK_DTYPE(cond, ...) LAMINA_CHECK_AS(::lamina::DTypeError, cond, __VA_ARGS__)
#define LAMINA_CHECK_INDEX(cond, ...) LAMINA_CHECK_AS(::lamina::IndexError, cond, __VA_ARGS__)
