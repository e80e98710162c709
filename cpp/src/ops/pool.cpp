// Pooling ops. Output size follows Caffe: ceil((H + 2p - k) / s) + 1 in ceil mode (the
// default of Caffe's Pooling layer), less one if that last window would start in the
// padding; floor((H + 2p - k) / s) + 1 otherwise.
#include <memory>
#include <vector>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t stride, bool ceil_mode) {
  const int64_t span = in + 2 * pad - k;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && pad > 0 && (out - 1) * stride >= in + pad) --out;
  return out;
}

kernels::PoolGeometry plan_pool(const char* op, const Tensor& x, const Pool2dOptions& o) {
  check_defined(op, x);
  check_device(op, x);
  LAMINA_CHECK_SHAPE(x.dim() == 4, op, ": expected input [N, C, H, W], got ", x.shape());
  LAMINA_CHECK_SHAPE(x.numel() > 0, op, ": empty input ", x.shape());
  const int64_t H = x.size(2), W = x.size(3);
  const int64_t KH = o.global ? H : o.kernel_h, KW = o.global ? W : o.kernel_w;
  const int64_t pad_h = o.global ? 0 : o.pad_h, pad_w = o.global ? 0 : o.pad_w;
  const int64_t sh = o.global ? 1 : o.stride_h, sw = o.global ? 1 : o.stride_w;
  LAMINA_CHECK(KH >= 1 && KW >= 1, op, ": kernel must be >= 1, got ", KH, "x", KW);
  LAMINA_CHECK(sh >= 1 && sw >= 1, op, ": stride must be >= 1, got ", sh, "x", sw);
  LAMINA_CHECK(pad_h >= 0 && pad_w >= 0 && pad_h < KH && pad_w < KW, op, ": padding ", pad_h, "x", pad_w,
               " must be >= 0 and smaller than the kernel ", KH, "x", KW);
  LAMINA_CHECK_SHAPE(H + 2 * pad_h >= KH && W + 2 * pad_w >= KW, op, ": kernel ", KH, "x", KW,
                     " is larger than the padded input of shape ", x.shape());
  kernels::PoolGeometry g{x.size(0) * x.size(1), H, W, KH, KW, sh, sw, pad_h, pad_w,
                          pooled_size(H, KH, pad_h, sh, o.ceil_mode), pooled_size(W, KW, pad_w, sw, o.ceil_mode)};
  return g;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  kernels::PoolGeometry g = plan_pool("max_pool2d", x, options);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype());
  // (Left uninitialised: the kernel writes every entry. A vector zero-filled them first.)
  std::shared_ptr<int32_t[]> argmax(new int32_t[static_cast<size_t>(y.numel())]);
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("max_pool2d", xc).max_pool2d(xc.data<T>(), g, y.data<T>(), argmax.get());
  });
  if (autograd::needs_grad({&x}))
    autograd::record("max_pool2d", {x}, {y}, [g, argmax, shape = x.shape()](const std::vector<Tensor>& grads) {
      Tensor dy = grads[0].contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype());
      dispatch(dy.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels_for<T>("max_pool2d", dy).max_pool2d_backward(dy.data<T>(), argmax.get(), g, dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  return y;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  kernels::PoolGeometry g = plan_pool("avg_pool2d", x, options);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("avg_pool2d", xc).avg_pool2d(xc.data<T>(), g, y.data<T>());
  });
  if (autograd::needs_grad({&x}))
    autograd::record("avg_pool2d", {x}, {y}, [g, shape = x.shape()](const std::vector<Tensor>& grads) {
      Tensor dy = grads[0].contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype());  // the kernel zeroes each plane before its adds
      dispatch(dy.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels_for<T>("avg_pool2d", dy).avg_pool2d_backward(dy.data<T>(), g, dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  return y;
}

}  // namespace lamina
