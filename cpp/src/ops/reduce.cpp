// Reductions: sum and mean over axes, and sum_to (the adjoint of broadcasting).
#include <algorithm>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

std::vector<bool> axis_mask(const char* op, const std::vector<int64_t>& axes, int64_t ndim) {
  std::vector<bool> reduce(static_cast<size_t>(ndim), axes.empty());
  for (int64_t a : axes) {
    int64_t k = norm_axis(op, a, ndim);
    LAMINA_CHECK(!reduce[k] || axes.empty(), op, ": axis ", a, " given twice");
    reduce[k] = true;
  }
  return reduce;
}

// Sums x over the masked axes into a keepdim-shaped result. Accumulates in double, so
// float32 sums of many terms keep their precision.
Tensor sum_keepdim(const char* op, const Tensor& x_in, const std::vector<bool>& reduce) {
  check_cpu(op, x_in);
  Tensor x = x_in.contiguous();
  const Shape& shape = x.shape();
  Shape out_shape = shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (reduce[i]) out_shape[i] = 1;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const int64_t out_n = out.numel();
  // Group the input as [outer, inner] runs: the common cases (all axes, the last axes,
  // the first axis) become one tight loop each; the general case walks an odometer.
  std::vector<double> acc(static_cast<size_t>(out_n), 0.0);
  Shape out_strides = out.strides();
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    const int64_t n = x.numel(), d = static_cast<int64_t>(shape.size());
    if (n == 0) return;
    Shape idx(static_cast<size_t>(d), 0);
    int64_t o = 0;
    for (int64_t k = 0; k < n; ++k) {
      acc[static_cast<size_t>(o)] += static_cast<double>(px[k]);
      for (int64_t i = d - 1; i >= 0; --i) {
        if (++idx[i] < shape[i]) {
          if (!reduce[i]) o += out_strides[i];
          break;
        }
        if (!reduce[i]) o -= out_strides[i] * (shape[i] - 1);
        idx[i] = 0;
      }
    }
  });
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    T* po = out.data<T>();
    for (int64_t i = 0; i < out_n; ++i) po[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
  });
  return out;
}

Shape drop_axes(const Shape& shape, const std::vector<bool>& reduce) {
  Shape out;
  for (size_t i = 0; i < shape.size(); ++i)
    if (!reduce[i]) out.push_back(shape[i]);
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  check_defined("sum", x);
  std::vector<bool> reduce = axis_mask("sum", axes, x.dim());
  Tensor y = sum_keepdim("sum", x, reduce);
  Shape keep_shape = y.shape();
  if (!keepdim) y = y.view(drop_axes(x.shape(), reduce));
  if (autograd::needs_grad({&x}))
    autograd::record("sum", {x}, {y}, [sx = x.shape(), keep_shape](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{expand(g[0].reshape(keep_shape), sx)};
    });
  return y;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  check_defined("mean", x);
  std::vector<bool> reduce = axis_mask("mean", axes, x.dim());
  int64_t count = 1;
  for (size_t i = 0; i < reduce.size(); ++i)
    if (reduce[i]) count *= x.shape()[i];
  LAMINA_CHECK_SHAPE(count > 0, "mean: cannot average over an empty extent of shape ", x.shape());
  Tensor s;
  {
    NoGradGuard no_grad;
    s = sum(x, axes, keepdim);
  }
  Tensor y = affine(s.detach(), 1.0 / static_cast<double>(count));
  if (autograd::needs_grad({&x})) {
    Shape keep_shape = x.shape();
    for (size_t i = 0; i < reduce.size(); ++i)
      if (reduce[i]) keep_shape[i] = 1;
    autograd::record("mean", {x}, {y}, [sx = x.shape(), keep_shape, count](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{affine(expand(g[0].reshape(keep_shape), sx), 1.0 / static_cast<double>(count))};
    });
  }
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  LAMINA_CHECK_SHAPE(shape.size() <= x.shape().size(), "sum_to: cannot sum shape ", x.shape(), " to ", shape);
  const size_t off = x.shape().size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    if (i < off) {
      axes.push_back(static_cast<int64_t>(i));
      continue;
    }
    const int64_t want = shape[i - off];
    LAMINA_CHECK_SHAPE(want == x.shape()[i] || want == 1, "sum_to: cannot sum shape ", x.shape(), " to ", shape);
    if (want == 1 && x.shape()[i] != 1) axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, true).reshape(shape);
}

}  // namespace lamina
