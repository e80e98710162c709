// softmax, log_softmax, and softmax cross-entropy with Caffe's SoftmaxWithLoss semantics.
#include <memory>
#include <string>
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

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyOptions& o) {
  const char* op = "softmax_cross_entropy";
  check_defined(op, logits);
  check_defined(op, labels, "labels");
  check_device(op, logits);
  LAMINA_CHECK_SHAPE(logits.dim() >= 1 && logits.numel() > 0, op, ": needs non-empty logits, got ", logits.shape());
  const int64_t axis = norm_axis(op, o.axis, logits.dim());
  const AxisSplit s = split_at(logits, axis);
  LAMINA_CHECK_SHAPE(labels.numel() == s.outer * s.inner, op, ": labels of shape ", labels.shape(), " (",
                     labels.numel(), " values) do not match logits ", logits.shape(), " with classes on axis ",
                     axis, " (", s.outer * s.inner, " positions)");
  Tensor logp;
  {
    NoGradGuard no_grad;
    logp = log_softmax(logits.detach(), axis);
  }
  // Labels arrive as floats (Caffe's blobs are float) or integers; each must be a class index
  // or the ignore label. They are checked and converted once, here.
  const int64_t positions = s.outer * s.inner;
  auto classes = std::make_shared<std::vector<int64_t>>(label_indices(
      op, labels, s.C, o.has_ignore_label, o.ignore_label, "label", "a class index in [0, " + std::to_string(s.C) + ")"));
  // With no ignore label, use one no label can equal (labels are checked to be >= 0).
  const int64_t ignore = o.has_ignore_label ? o.ignore_label : -1;
  double total = 0;
  int64_t valid = 0;
  dispatch(logp.dtype(), [&](auto t) {
    using T = decltype(t);
    total = kernels_for<T>(op, logp).softmax_cross_entropy_loss(logp.data<T>(), classes->data(), s.outer, s.C,
                                                                s.inner, ignore, &valid);
  });
  double norm = 1;
  switch (o.normalization) {
    case LossNormalization::full: norm = static_cast<double>(positions); break;
    case LossNormalization::valid: norm = static_cast<double>(valid); break;
    case LossNormalization::batch_size: norm = static_cast<double>(s.outer); break;
    case LossNormalization::none: norm = 1; break;
  }
  norm = norm < 1 ? 1 : norm;  // Caffe: never divide by less than 1 (all labels ignored)
  Tensor loss = Tensor::full({}, total / norm, logits.dtype());
  if (autograd::needs_grad({&logits}))
    autograd::record(op, {logits, labels}, {loss}, [s, ignore, norm, classes, P = SavedTensor(logp)](
                                                       const std::vector<Tensor>& g) {
      const Tensor& lp = P.get("softmax_cross_entropy");
      Tensor dx = Tensor::empty(lp.shape(), lp.dtype());
      const double scale = g[0].item() / norm;
      dispatch(lp.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels_for<T>("softmax_cross_entropy", lp).softmax_cross_entropy_backward(lp.data<T>(), classes->data(), s.outer, s.C, s.inner,
                                                        ignore, static_cast<T>(scale), dx.data<T>());
      });
      return std::vector<Tensor>{dx, Tensor()};
    });
  return loss;
}

}  // namespace lamina
