// arange: evenly spaced values, as NumPy's and PyTorch's.
#include <cmath>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

Tensor arange(double start, double stop, double step, DType dtype) {
  const char* op = "arange";
  LAMINA_CHECK(std::isfinite(start) && std::isfinite(stop) && std::isfinite(step), op, ": start ", start, ", stop ",
               stop, " and step ", step, " must be finite");
  LAMINA_CHECK(step != 0, op, ": step cannot be zero");
  const double count = std::ceil((stop - start) / step);
  LAMINA_CHECK_SHAPE(count < 9.0e18, op, ": [", start, ", ", stop, ") in steps of ", step, " has too many elements");
  Tensor y = Tensor::empty({count > 0 ? static_cast<int64_t>(count) : 0}, dtype);
  visit_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, y).arange(y.numel(), start, step, y.data<T>());
  });
  return y;
}

}  // namespace lamina
