// Tensor::repr: the values, printed as NumPy prints an array (nested brackets, one row per
// line, columns aligned), with the first and last 3 entries of each axis past 1000 elements.
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

namespace {

constexpr int64_t kSummarizeOver = 1000;  // NumPy's threshold
constexpr int64_t kEdgeItems = 3;

// The entries of an axis of extent n that are printed; -1 marks the "..." between the edges.
std::vector<int64_t> shown(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

// Every printed element's offset in t (contiguous), in printing order.
void visit_shown(const Tensor& t, bool summarize, size_t axis, int64_t offset, std::vector<int64_t>& out) {
  if (axis == t.shape().size()) {
    out.push_back(offset);
    return;
  }
  for (int64_t i : shown(t.shape()[axis], summarize))
    if (i >= 0) visit_shown(t, summarize, axis + 1, offset + i * t.strides()[axis], out);
}

// Floats share one format, chosen from the printed values as NumPy chooses: whole numbers
// as "3.", very large or small magnitudes in scientific notation, the rest with 4 decimals.
struct FloatFormat {
  bool whole = true, scientific = false;
  std::string operator()(double v) const {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    if (scientific) std::snprintf(buf, sizeof buf, "%.4e", v);
    else if (whole) std::snprintf(buf, sizeof buf, "%.0f.", v);
    else std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
};

FloatFormat float_format(const std::vector<double>& values) {
  FloatFormat f;
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    const double a = std::fabs(v);
    f.whole = f.whole && v == std::floor(v);
    max_abs = a > max_abs ? a : max_abs;
    if (a > 0 && a < min_abs) min_abs = a;
  }
  f.scientific = max_abs >= 1e8 || (!f.whole && min_abs < 1e-4);
  return f;
}

// The printed text of each printed element (in printing order).
std::vector<std::string> cells(const Tensor& t, const std::vector<int64_t>& offsets) {
  std::vector<std::string> out;
  visit_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = static_cast<const T*>(t.raw_data());
    if constexpr (std::is_same_v<T, bool>) {
      for (int64_t o : offsets) out.push_back(p[o] ? "True" : "False");
    } else if constexpr (std::is_integral_v<T>) {
      for (int64_t o : offsets) out.push_back(std::to_string(p[o]));
    } else {
      std::vector<double> values;
      for (int64_t o : offsets) values.push_back(static_cast<double>(p[o]));
      const FloatFormat format = float_format(values);
      for (double v : values) out.push_back(format(v));
    }
  });
  return out;
}

struct Printer {
  const Tensor& t;
  bool summarize;
  const std::vector<std::string>& text;
  size_t width;
  size_t next = 0;  // the next cell of text
  std::string out;

  void print(size_t axis, size_t indent) {
    const size_t ndim = t.shape().size();
    if (axis == ndim) {
      const std::string& s = text[next++];
      out.append(width - s.size(), ' ');
      out += s;
      return;
    }
    out += '[';
    bool first = true;
    for (int64_t i : shown(t.shape()[axis], summarize)) {
      if (!first) {
        if (axis + 1 == ndim) {
          out += ", ";
        } else {  // rows on lines of their own; blocks of rows apart by blank lines
          out += ',';
          out.append(ndim - axis - 1, '\n');
          out.append(indent + 1, ' ');
        }
      }
      first = false;
      if (i < 0) out += "...";
      else print(axis + 1, indent + 1);
    }
    out += ']';
  }
};

}  // namespace

std::string Tensor::repr() const {
  if (!defined()) return "tensor(undefined)";
  std::string suffix = std::string(", dtype=") + dtype_name(dtype());
  if (device() != Device::cpu) suffix += std::string(", device=") + device_name(device());
  if (grad_fn()) suffix += ", grad_fn=<" + grad_fn()->name + ">";
  else if (requires_grad()) suffix += ", requires_grad=True";
  if (numel() == 0) {
    const std::string size = dim() == 1 ? "" : ", size=" + shape_str(shape());
    return "tensor([]" + size + suffix + ")";
  }
  if (device() != Device::cpu) return "tensor(<" + shape_str(shape()) + " on " + device_name(device()) + ">" + suffix + ")";
  const Tensor c = detach().contiguous();
  const bool summarize = numel() > kSummarizeOver;
  std::vector<int64_t> offsets;
  visit_shown(c, summarize, 0, 0, offsets);
  const std::vector<std::string> text = cells(c, offsets);
  size_t width = 0;
  for (const auto& s : text) width = s.size() > width ? s.size() : width;
  Printer p{c, summarize, text, width, 0, std::string()};
  p.print(0, 7);  // the width of "tensor("
  return "tensor(" + p.out + suffix + ")";
}

}  // namespace lamina
