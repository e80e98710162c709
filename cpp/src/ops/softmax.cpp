// softmax and log_softmax over one axis.
#include <vector>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

Tensor softmax_impl(const char* op, const Tensor& x, int64_t axis_in, bool log) {
  check_defined(op, x);
  check_device(op, x);
  LAMINA_CHECK_SHAPE(x.dim() >= 1 && x.numel() > 0, op, ": needs a non-empty tensor, got shape ", x.shape());
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  const AxisSplit s = split_at(x, axis);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, xc).softmax(xc.data<T>(), s.outer, s.C, s.inner, log, y.data<T>());
  });
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {y}, [op, s, log, Y = SavedTensor(y)](const std::vector<Tensor>& g) {
      const Tensor& yv = Y.get(op);
      Tensor dy = g[0].contiguous();
      Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
      dispatch(yv.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels_for<T>(op, yv).softmax_backward(yv.data<T>(), dy.data<T>(), s.outer, s.C, s.inner, log, dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) { return softmax_impl("softmax", x, axis, false); }
Tensor log_softmax(const Tensor& x, int64_t axis) { return softmax_impl("log_softmax", x, axis, true); }

}  // namespace lamina
