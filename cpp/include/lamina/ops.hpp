// lamina's operations on tensors: the one public entry point for every op, used by the
// layers, the Python API (lamina.ops, same names) and C++ embedders.
//
// Every op validates its arguments before any kernel runs and throws ShapeError /
// DTypeError / ValueError naming the op and the offending shapes. Inputs of one op share
// a dtype and a device. When grad mode is on and an input requires grad, the op records
// its backward rule on the tape (autograd.hpp); outputs are new, contiguous tensors.
#pragma once

#include <vector>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

// ---- pointwise (pointwise.def) -------------------------------------------------------
#define LAMINA_UNARY(name, fwd, bwd) Tensor name(const Tensor& x);
#include "lamina/pointwise.def"
#undef LAMINA_UNARY

// y = x if x > 0 else slope * x (Caffe's ReLU with negative_slope).
Tensor leaky_relu(const Tensor& x, double negative_slope);
// y = x if x > 0 else alpha * (e^x - 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
// y = (shift + scale * x) ^ power (Caffe's Power layer; pow(x, p) is the default shift/scale).
Tensor power(const Tensor& x, double power, double scale = 1.0, double shift = 0.0);
Tensor pow(const Tensor& x, double exponent);
// y = min(max(x, lo), hi); the gradient passes where lo < x < hi.
Tensor clip(const Tensor& x, double lo, double hi);
// y = 1 if x > threshold else 0 (no gradient: Caffe's Threshold).
Tensor threshold(const Tensor& x, double threshold);
// y = scale * x + shift.
Tensor affine(const Tensor& x, double scale, double shift = 0.0);

// ---- binary, with NumPy broadcasting ---------------------------------------------------
// Shapes broadcast from the right: extents equal, or one of them 1. The gradient of a
// broadcast input is summed back to its shape.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// Comparisons give 0/1 masks of a's dtype, with no gradient.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);

// ---- reductions ------------------------------------------------------------------------
// Over `axes` (negative counts from the end; empty = all axes).
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting `shape` to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Broadcasts x to `shape` (a copy).
Tensor expand(const Tensor& x, const Shape& shape);

// ---- linear algebra --------------------------------------------------------------------
// a [M, K] @ b [K, N] -> [M, N].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, K], weight [O, K], bias [O] or undefined -> x @ weight^T + bias, [N, O]
// (Caffe's InnerProduct layout).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- shape -----------------------------------------------------------------------------
// Differentiable views and copies (Tensor::reshape/slice/select also record).
Tensor reshape(const Tensor& x, const Shape& shape);
// Permutes the axes (a copy): y.shape[i] = x.shape[perm[i]]. Empty perm reverses 2-d.
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm = {});

}  // namespace lamina
