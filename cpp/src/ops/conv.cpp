// conv2d and conv_transpose2d: validation, the output, the tape's backward rule and the
// dispatch. The convolution itself (algorithm, threads, scratch) is the device's
// conv2d and conv2d_backward kernels (kernels.hpp; the CPU's in kernels/cpu/conv.cpp).
#include <algorithm>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

int64_t out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation) {
  return (in + 2 * pad - (dilation * (k - 1) + 1)) / stride + 1;
}

void check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& b) {
  check_defined(op, x);
  check_defined(op, w, "weight");
  LAMINA_CHECK_SHAPE(x.dim() == 4, op, ": expected input [N, C, H, W], got ", x.shape());
  LAMINA_CHECK_SHAPE(w.dim() == 4, op, ": expected a 4-d weight, got ", w.shape());
  LAMINA_CHECK_SHAPE(x.numel() > 0, op, ": empty input ", x.shape());
  check_same(op, x, w);
  check_device(op, x);
  if (b.defined()) check_same(op, x, b);
}

// The convolution of an input of shape xs ([N, C, H, W]) by w ([O, C/g, KH, KW]).
kernels::ConvShape conv_shape(const char* op, const Shape& xs, const Tensor& w, const Conv2dOptions& o) {
  LAMINA_CHECK(o.groups >= 1, op, ": groups must be >= 1, got ", o.groups);
  LAMINA_CHECK(o.stride_h >= 1 && o.stride_w >= 1, op, ": stride must be >= 1, got ", o.stride_h, "x", o.stride_w);
  LAMINA_CHECK(o.dilation_h >= 1 && o.dilation_w >= 1, op, ": dilation must be >= 1, got ", o.dilation_h, "x",
               o.dilation_w);
  LAMINA_CHECK(o.pad_h >= 0 && o.pad_w >= 0, op, ": padding must be >= 0, got ", o.pad_h, "x", o.pad_w);
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = w.size(0);
  LAMINA_CHECK_SHAPE(C % o.groups == 0 && O % o.groups == 0, op, ": ", C, " and ", O,
                     " channels are not divisible by groups=", o.groups);
  LAMINA_CHECK_SHAPE(w.size(1) == C / o.groups && w.size(2) >= 1 && w.size(3) >= 1, op, ": weight ", w.shape(),
                     " does not fit input ", xs, " with groups=", o.groups, " (expected [", O, ", ",
                     C / o.groups, ", KH, KW])");
  const int64_t KH = w.size(2), KW = w.size(3);
  kernels::ConvShape s{N, C, H, W, O, KH, KW, o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h, o.dilation_w,
                       o.groups, 0, 0};
  s.OH = out_size(H, KH, o.pad_h, o.stride_h, o.dilation_h);
  s.OW = out_size(W, KW, o.pad_w, o.stride_w, o.dilation_w);
  LAMINA_CHECK_SHAPE(s.OH >= 1 && s.OW >= 1, op, ": output size ", s.OH, "x", s.OW, " <= 0 for input ", xs,
                     ", kernel ", s.KH, "x", s.KW, ", pad ", o.pad_h, "x", o.pad_w, ", stride ", o.stride_h, "x",
                     o.stride_w, ", dilation ", o.dilation_h, "x", o.dilation_w);
  return s;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_conv_args("conv2d", x, weight, bias);
  const kernels::ConvShape s = conv_shape("conv2d", x.shape(), weight, options);
  LAMINA_CHECK_SHAPE(!bias.defined() || (bias.dim() == 1 && bias.size(0) == s.O), "conv2d: bias must be [", s.O,
                     "], got ", bias.defined() ? bias.shape() : Shape{});
  Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty({s.N, s.O, s.OH, s.OW}, x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("conv2d", xc).conv2d(s, xc.data<T>(), wc.data<T>(), data_or_null<T>(bc), y.data<T>());
  });
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record("conv2d", {x, weight, bias}, {y},
                     [s, X = SavedTensor(xc), Wt = SavedTensor(wc), nx = x.requires_grad(),
                      nw = weight.requires_grad(), nb = bias.defined() && bias.requires_grad()](
                         const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("conv2d");
                       const Tensor& wv = Wt.get("conv2d");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = nx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
                       Tensor dw = nw ? Tensor::empty(wv.shape(), wv.dtype()) : Tensor();
                       Tensor db = nb ? Tensor::empty({s.O}, wv.dtype()) : Tensor();
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         kernels_for<T>("conv2d", xv).conv2d_backward(s, xv.data<T>(), wv.data<T>(), dy.data<T>(),
                                                                      data_or_null<T>(dx), data_or_null<T>(dw),
                                                                      data_or_null<T>(db));
                       });
                       return std::vector<Tensor>{dx, dw, db};
                     });
  return y;
}

// conv_transpose2d is the adjoint of conv2d in its input: its forward is conv2d's data
// backward (GEMM + col2im), its data backward is conv2d's forward, and its weight
// gradient is conv2d's weight gradient with the roles of input and output swapped.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                        int64_t output_pad_h, int64_t output_pad_w) {
  const char* op = "conv_transpose2d";
  check_conv_args(op, x, weight, bias);
  LAMINA_CHECK(o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 && o.dilation_w >= 1 && o.groups >= 1, op,
               ": stride, dilation and groups must be >= 1");
  LAMINA_CHECK(output_pad_h >= 0 && output_pad_h < std::max(o.stride_h, o.dilation_h) && output_pad_w >= 0 &&
                   output_pad_w < std::max(o.stride_w, o.dilation_w),
               op, ": output padding ", output_pad_h, "x", output_pad_w, " must be smaller than stride or dilation");
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  LAMINA_CHECK_SHAPE(weight.size(0) == Cin, op, ": weight ", weight.shape(), " must be [", Cin,
                     ", out_channels/groups, KH, KW] for input ", x.shape());
  const int64_t Cout = weight.size(1) * o.groups;
  const int64_t OH = (H - 1) * o.stride_h - 2 * o.pad_h + o.dilation_h * (weight.size(2) - 1) + 1 + output_pad_h;
  const int64_t OW = (W - 1) * o.stride_w - 2 * o.pad_w + o.dilation_w * (weight.size(3) - 1) + 1 + output_pad_w;
  LAMINA_CHECK_SHAPE(OH >= 1 && OW >= 1, op, ": output size ", OH, "x", OW, " <= 0 for input ", x.shape(),
                     " and weight ", weight.shape());
  LAMINA_CHECK_SHAPE(!bias.defined() || (bias.dim() == 1 && bias.size(0) == Cout), op, ": bias must be [", Cout,
                     "], got ", bias.defined() ? bias.shape() : Shape{});
  // The convolution whose adjoint this is: input [N, Cout, OH, OW] -> output [N, Cin, H, W].
  const kernels::ConvShape s = conv_shape(op, {N, Cout, OH, OW}, weight, o);
  LAMINA_CHECK_SHAPE(s.OH == H && s.OW == W, op, ": internal shape mismatch for input ", x.shape());
  Tensor xc = x.contiguous(), wc = weight.contiguous();
  Tensor y = Tensor::empty({N, Cout, OH, OW}, x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, xc).conv2d_backward(s, nullptr, wc.data<T>(), xc.data<T>(), y.data<T>(), nullptr, nullptr);
  });
  if (bias.defined()) y = add(y, bias.detach().reshape({1, Cout, 1, 1}));
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record(op, {x, weight, bias}, {y},
                     [s, X = SavedTensor(xc), Wt = SavedTensor(wc), nx = x.requires_grad(), nw = weight.requires_grad(),
                      nb = bias.defined() && bias.requires_grad()](const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("conv_transpose2d");
                       const Tensor& wv = Wt.get("conv_transpose2d");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = nx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
                       Tensor dw = nw ? Tensor::empty(wv.shape(), wv.dtype()) : Tensor();
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         const kernels::Typed<T>& k = kernels_for<T>("conv_transpose2d", xv);
                         if (nx) k.conv2d(s, dy.data<T>(), wv.data<T>(), nullptr, dx.data<T>());
                         if (nw)
                           k.conv2d_backward(s, dy.data<T>(), wv.data<T>(), xv.data<T>(), nullptr, dw.data<T>(),
                                             nullptr);
                       });
                       Tensor db = nb ? sum(dy, {0, 2, 3}) : Tensor();
                       return std::vector<Tensor>{dx, dw, db};
                     });
  return y;
}

}  // namespace lamina
