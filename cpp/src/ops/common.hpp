// Helpers shared by the op files: argument checks and the dtype switch.
#pragma once

#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/autograd.hpp"
#include "lamina/ops.hpp"

namespace lamina::ops_detail {

// An op that computes in floating point names itself and the dtype it was given when
// that is an integer or bool dtype (DTypeError).
inline void check_float(const char* op, DType dtype) {
  LAMINA_CHECK_DTYPE(is_floating(dtype), op, ": expected a float32 or float64 tensor, got ", dtype_name(dtype));
}

// Calls f(T{}) with T = float or double, the dtype of the op's inputs. The ops validated
// the dtype first (check_device); an integer or bool dtype reaching here still throws
// DTypeError rather than being read as a float.
template <class F>
auto dispatch(DType dtype, F&& f) {
  check_float("dispatch", dtype);
  return dtype == DType::f32 ? f(float{}) : f(double{});
}

// Inputs of one op share device, and (check_same) dtype.
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  LAMINA_CHECK_AS(DeviceError, a.device() == b.device(), op, ": devices differ: ", a.device(), " and ",
                  b.device());
}
inline void check_same(const char* op, const Tensor& a, const Tensor& b) {
  LAMINA_CHECK_DTYPE(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.dtype(), " and ", b.dtype());
  check_same_device(op, a, b);
}

// PyTorch's type promotion for two operands: the categories are bool < integer < floating
// and the wider dtype wins within one. A 0-d operand (a number, or a 0-d tensor) decides
// only when its category is above the other's when the other has axes: int32 [3] + an
// int64 0-d tensor stays int32, int64 [3] + 2.5 becomes float32 (a float number beside
// integers is made float32 by the binding, the default float dtype).
DType result_type(const Tensor& a, const Tensor& b);
// a and b converted to result_type(a, b) (differentiable; no copy when already of it).
struct Promoted {
  Tensor a, b;
};
Promoted promote(const Tensor& a, const Tensor& b);

// The one place an op's device picks its kernels (dispatch.cpp): the Table of `device`;
// a device lamina has no kernels for throws DeviceError naming the op and the device.
const kernels::Table& device_kernels(const char* op, Device device);

// Validation before the op allocates anything: x is a float tensor (DTypeError naming op
// and the dtype: integer and bool tensors reach only the ops that say they take them,
// which call check_any_device) on a device that has kernels.
inline void check_any_device(const char* op, const Tensor& x) { device_kernels(op, x.device()); }
inline void check_device(const char* op, const Tensor& x) {
  check_float(op, x.dtype());
  check_any_device(op, x);
}

// The kernels for element type T on x's device.
template <class T>
const kernels::Typed<T>& kernels_for(const char* op, const Tensor& x) {
  return device_kernels(op, x.device()).of<T>();
}

// t's elements, or null for an undefined (optional, or not wanted) tensor.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// x read as [outer, C, inner]: the extents before, along and after `axis` (in [0, dim)).
struct AxisSplit {
  int64_t axis, outer, C, inner;
};
inline AxisSplit split_at(const Tensor& x, int64_t axis) {
  AxisSplit s{axis, 1, x.size(axis), 1};
  for (int64_t d = 0; d < axis; ++d) s.outer *= x.size(d);
  for (int64_t d = axis + 1; d < x.dim(); ++d) s.inner *= x.size(d);
  return s;
}

// Whether shape `from` broadcasts to `to` without changing it (an in-place right side).
inline bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[off + i]) return false;
  return true;
}

// Strides that read x as if broadcast to `out` (0 along broadcast axes); x's shape
// broadcasts to out (broadcast_shape checked it).
inline Shape broadcast_strides(const Tensor& x, const Shape& out) {
  Shape s(out.size(), 0);
  const size_t off = out.size() - x.shape().size();
  for (size_t i = 0; i < x.shape().size(); ++i) s[off + i] = x.shape()[i] == 1 ? 0 : x.strides()[i];
  return s;
}

// out = f(a, b), a and b (checked, strided) broadcast to out's shape; out is contiguous
// and may be a itself (each element is read before it is written). binary.cpp.
void binary_into(const char* op, kernels::Binary f, const Tensor& a, const Tensor& b, const Tensor& out);

inline void check_defined(const char* op, const Tensor& x, const char* what = "input") {
  LAMINA_CHECK(x.defined(), op, ": the ", what, " is undefined");
}

// Class labels (or embedding rows) read once as int64 indices for the kernels: labels of a
// float dtype must hold whole numbers (Caffe's blobs are float), int32 and int64 are taken
// as they are; bool is a DTypeError. Each must lie in [0, classes) or equal the ignore label
// (has_ignore); the first that does not throws E: "<op>: <noun> <value> at position <i> is
// not <what>" (what, e.g. "a class index in [0, 10)").
template <class E = ValueError>
std::vector<int64_t> label_indices(const char* op, const Tensor& labels, int64_t classes, bool has_ignore,
                                   int64_t ignore_label, const char* noun, const std::string& what);

// Normalises an axis (negative counts from the end); throws IndexError naming op.
inline int64_t norm_axis(const char* op, int64_t axis, int64_t ndim) {
  LAMINA_CHECK_INDEX(axis >= -ndim && axis < ndim, op, ": axis ", axis, " is out of range for ", ndim,
                     "-d input");
  return axis < 0 ? axis + ndim : axis;
}

}  // namespace lamina::ops_detail
