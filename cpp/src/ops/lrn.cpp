// lrn: across channels, one op with a fused kernel and its closed-form backward (see
// kernels/cpu/lrn.cpp); within a channel, a composition of ops whose backward comes from
// the tape.
#include <algorithm>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

Tensor lrn(const Tensor& x, int64_t size, double alpha, double beta, double k, bool across_channels) {
  const char* op = "lrn";
  check_defined(op, x);
  LAMINA_CHECK_SHAPE(x.dim() == 4, op, ": expected input [N, C, H, W], got ", x.shape());
  LAMINA_CHECK(size >= 1 && size % 2 == 1, op, ": local_size must be odd and >= 1, got ", size);
  if (!across_channels) {
    // Caffe's WITHIN_CHANNEL: 1 + alpha * (mean of x^2 over a size x size window, zeros
    // outside the plane). A window wider than 2E - 1 (E the plane's larger extent) covers
    // the whole plane from every position, so it is clamped to that: the pool then sums the
    // same cells, and its divisor (window^2) is rescaled to size^2 through alpha. A huge
    // local_size costs no more than the plane.
    const int64_t extent = std::max(x.size(2), x.size(3)), window = std::min(size, std::max<int64_t>(2 * extent - 1, 1));
    const double shrink = double(window) / double(size);
    Pool2dOptions o;
    o.kernel_h = o.kernel_w = window, o.stride_h = o.stride_w = 1, o.pad_h = o.pad_w = (window - 1) / 2;
    return mul(x, pow(affine(avg_pool2d(square(x), o), alpha * shrink * shrink, 1.0), -beta));
  }
  check_device(op, x);
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2) * x.size(3);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype()), scale = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, xc).lrn_across_forward(xc.data<T>(), N, C, S, size, T(alpha), T(beta), T(k), scale.data<T>(),
                                        y.data<T>());
  });
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {y},
                     [X = SavedTensor(xc), Y = SavedTensor(y), scale, N, C, S, size, alpha, beta](
                         const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("lrn");
                       const Tensor& yv = Y.get("lrn");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = Tensor::empty(xv.shape(), xv.dtype());
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         kernels_for<T>("lrn", xv).lrn_across_backward(xv.data<T>(), yv.data<T>(), scale.data<T>(),
                                                              dy.data<T>(), N, C, S, size, T(alpha), T(beta),
                                                              dx.data<T>());
                       });
                       return std::vector<Tensor>{dx};
                     });
  return y;
}

}  // namespace lamina
