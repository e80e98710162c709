// Reductions: sum and mean over axes, and sum_to (the adjoint of broadcasting).
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/kernels.hpp"
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

// Sums x (float, or int64) over the masked axes into a keepdim-shaped result. Accumulates
// in double, so float32 sums of many terms keep their precision (int64: in int64).
Tensor sum_keepdim(const char* op, const Tensor& x_in, const std::vector<bool>& reduce) {
  check_any_device(op, x_in);
  Tensor x = x_in.contiguous();
  const Shape& shape = x.shape();
  Shape out_shape = shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (reduce[i]) out_shape[i] = 1;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const int64_t out_n = out.numel();
  // The reduced axes of extent > 1 form one contiguous block: x is [outer, R, inner].
  int64_t first = -1, last = -1;
  bool block = true;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!reduce[i] || shape[i] == 1) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    else if (last != static_cast<int64_t>(i) - 1) {
      for (int64_t k = last + 1; k < static_cast<int64_t>(i); ++k) block = block && shape[k] == 1;
    }
    last = static_cast<int64_t>(i);
  }
  if (block && x.numel() > 0) {
    int64_t outer = 1, R = 1, inner = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      const int64_t at = static_cast<int64_t>(i);
      if (first >= 0 && at >= first && at <= last) R *= shape[i];
      else if (first < 0 || at < first) outer *= shape[i];
      else inner *= shape[i];
    }
    visit_dtype(x.dtype(), [&](auto t) {
      using T = decltype(t);
      kernels_for<T>(op, x).sum_middle(x.data<T>(), outer, R, inner, out.data<T>());
    });
    return out;
  }
  // Any other set of axes: out's strides, 0 along the summed axes.
  Shape out_strides = out.strides();
  for (size_t i = 0; i < shape.size(); ++i)
    if (reduce[i]) out_strides[i] = 0;
  visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, x).sum_axes(x.data<T>(), static_cast<int>(shape.size()), shape.data(), out_strides.data(),
                                   out_n, out.data<T>());
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
  // Integers and bools sum into int64, as in PyTorch and NumPy (a count of true values).
  Tensor y = sum_keepdim("sum", is_floating(x.dtype()) ? x : x.to(DType::i64), reduce);
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
  check_device("mean", x);  // an integer mean is a DTypeError, as PyTorch's
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

namespace {

// any_dtype: the op takes integer and bool tensors too.
AxisSplit split_axis(const char* op, const Tensor& x, int64_t axis_in, bool any_dtype = false) {
  check_defined(op, x);
  if (any_dtype) check_any_device(op, x);
  else check_device(op, x);
  LAMINA_CHECK_SHAPE(x.dim() >= 1, op, ": needs at least one axis, got shape ", x.shape());
  const AxisSplit s = split_at(x, norm_axis(op, axis_in, x.dim()));
  LAMINA_CHECK_SHAPE(s.C > 0, op, ": axis ", s.axis, " of shape ", x.shape(), " is empty");
  return s;
}

Shape reduced_shape(const Shape& shape, int64_t axis, bool keepdim) {
  Shape out = shape;
  if (keepdim) out[axis] = 1;
  else out.erase(out.begin() + axis);
  return out;
}

}  // namespace

Tensor max(const Tensor& x, int64_t axis, bool keepdim) {
  const AxisSplit s = split_axis("max", x, axis);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(reduced_shape(x.shape(), s.axis, keepdim), x.dtype());
  auto index = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(s.outer * s.inner));
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("max", xc).max_along(xc.data<T>(), s.outer, s.C, s.inner, y.data<T>(), index->data());
  });
  if (autograd::needs_grad({&x}))  // the gradient goes to the first maximum, like max pooling
    autograd::record("max", {x}, {y}, [s, index, shape = x.shape()](const std::vector<Tensor>& g) {
      Tensor dy = g[0].contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype());
      dispatch(dy.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels_for<T>("max", dy).max_along_backward(dy.data<T>(), index->data(), s.outer, s.C, s.inner,
                                                     dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  return y;
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  const AxisSplit s = split_axis("argmax", x, axis, true);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(reduced_shape(x.shape(), s.axis, keepdim), DType::i64);
  visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("argmax", xc).argmax(xc.data<T>(), s.outer, s.C, s.inner, y.data<int64_t>());
  });
  return y;  // int64 indices, no gradient
}

Tensor l2_normalize(const Tensor& x, int64_t axis, double eps) {
  check_defined("l2_normalize", x);
  check_device("l2_normalize", x);
  LAMINA_CHECK(eps > 0, "l2_normalize: eps must be > 0, got ", eps);
  const int64_t a = norm_axis("l2_normalize", axis, x.dim());
  return div(x, sqrt(affine(sum(square(x), {a}, true), 1.0, eps)));
}

}  // namespace lamina
