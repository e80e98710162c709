// Ops written as compositions of other ops: their backward comes from the tape, with no
// rule of their own. (A fused kernel replaces a composition when a benchmark pays for it.)
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {
// v [C] viewed as [1, C, 1, ...] against x [N, C, ...], for per-channel broadcasting.
Tensor per_channel(const Tensor& v, const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = v.numel();
  return v.reshape(s);
}
// The [out, in] matrix averaging `in` positions into `out` adaptive windows.
Tensor adaptive_weights(int64_t in, int64_t out, DType dtype) {
  Tensor a = Tensor::zeros({out, in}, DType::f64);
  double* p = a.data<double>();
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = i * in / out, stop = ((i + 1) * in + out - 1) / out;
    for (int64_t k = start; k < stop; ++k) p[i * in + k] = 1.0 / static_cast<double>(stop - start);
  }
  return a.to(dtype);
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_defined("adaptive_avg_pool2d", x);
  LAMINA_CHECK_SHAPE(x.dim() == 4 && x.numel() > 0, "adaptive_avg_pool2d: expected a non-empty [N, C, H, W], got ",
                     x.shape());
  LAMINA_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avg_pool2d: output size must be >= 1, got ", out_h, "x", out_w);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  if (H % out_h == 0 && W % out_w == 0) {  // equal windows: plain average pooling
    Pool2dOptions o;
    o.kernel_h = o.stride_h = H / out_h;
    o.kernel_w = o.stride_w = W / out_w;
    o.pad_h = o.pad_w = 0;
    return avg_pool2d(x, o);
  }
  // Windows of unequal sizes: the average is separable, A_h X A_w^T per plane.
  const Tensor rows = matmul(x.reshape({N * C * H, W}), adaptive_weights(W, out_w, x.dtype()).t());
  const Tensor cols = transpose(rows.reshape({N * C, H, out_w}), {0, 2, 1}).reshape({N * C * out_w, H});
  const Tensor y = matmul(cols, adaptive_weights(H, out_h, x.dtype()).t());
  return transpose(y.reshape({N * C, out_w, out_h}), {0, 2, 1}).reshape({N, C, out_h, out_w});
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t pad,
              int64_t dilation, int64_t groups) {
  check_defined("conv1d", x);
  check_defined("conv1d", weight, "weight");
  LAMINA_CHECK_SHAPE(x.dim() == 3 && weight.dim() == 3, "conv1d: expected x [N, C, L] and weight [O, C/groups, K], got ",
                     x.shape(), " and ", weight.shape());
  Conv2dOptions o;
  o.stride_w = stride;
  o.pad_w = pad;
  o.dilation_w = dilation;
  o.groups = groups;
  const Tensor y = conv2d(x.reshape({x.size(0), x.size(1), 1, x.size(2)}),
                          weight.reshape({weight.size(0), weight.size(1), 1, weight.size(2)}), bias, o);
  return y.reshape({y.size(0), y.size(1), y.size(3)});
}

Tensor prelu(const Tensor& x, const Tensor& slope) {
  check_defined("prelu", x);
  check_defined("prelu", slope, "slope");
  check_device("prelu", x);
  LAMINA_CHECK_SHAPE(slope.dim() == 1 && (slope.numel() == 1 || (x.dim() >= 2 && slope.numel() == x.size(1))),
                     "prelu: slope must be [1] or [C] for input ", x.shape(), ", got ", slope.shape());
  Tensor a = slope.numel() == 1 ? slope.reshape({}) : per_channel(slope, x);
  return sub(relu(x), mul(a, relu(neg(x))));  // x > 0 ? x : a * x
}

}  // namespace lamina
