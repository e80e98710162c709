// softmax, log_softmax, and softmax cross-entropy with Caffe's SoftmaxWithLoss semantics.
#include <cmath>

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

struct Split {
  int64_t outer, C, inner;
};
Split split_at(const Tensor& x, int64_t axis) {
  Split s{1, x.size(axis), 1};
  for (int64_t i = 0; i < axis; ++i) s.outer *= x.size(i);
  for (int64_t i = axis + 1; i < x.dim(); ++i) s.inner *= x.size(i);
  return s;
}

Tensor softmax_impl(const char* op, const Tensor& x, int64_t axis_in, bool log) {
  check_defined(op, x);
  check_cpu(op, x);
  LAMINA_CHECK_SHAPE(x.dim() >= 1 && x.numel() > 0, op, ": needs a non-empty tensor, got shape ", x.shape());
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  const Split s = split_at(x, axis);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::cpu::softmax(xc.data<T>(), s.outer, s.C, s.inner, log, y.data<T>());
  });
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {y}, [op, s, log, Y = SavedTensor(y)](const std::vector<Tensor>& g) {
      const Tensor& yv = Y.get(op);
      Tensor dy = g[0].contiguous();
      Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
      dispatch(yv.dtype(), [&](auto t) {
        using T = decltype(t);
        kernels::cpu::softmax_backward(yv.data<T>(), dy.data<T>(), s.outer, s.C, s.inner, log, dx.data<T>());
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
  check_cpu(op, logits);
  LAMINA_CHECK_SHAPE(logits.dim() >= 1 && logits.numel() > 0, op, ": needs non-empty logits, got ", logits.shape());
  const int64_t axis = norm_axis(op, o.axis, logits.dim());
  const Split s = split_at(logits, axis);
  LAMINA_CHECK_SHAPE(labels.numel() == s.outer * s.inner, op, ": labels of shape ", labels.shape(), " (",
                     labels.numel(), " values) do not match logits ", logits.shape(), " with classes on axis ",
                     axis, " (", s.outer * s.inner, " positions)");
  Tensor logp;
  {
    NoGradGuard no_grad;
    logp = log_softmax(logits.detach(), axis);
  }
  // Labels arrive as floats (Caffe's blobs are float); each must be a class index or the
  // ignore label.
  Tensor lab = labels.to(DType::f64).contiguous();
  const double* pl = lab.data<double>();
  int64_t valid = 0;
  double total = 0;
  dispatch(logp.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* lp = logp.data<T>();
    for (int64_t o2 = 0; o2 < s.outer; ++o2)
      for (int64_t i = 0; i < s.inner; ++i) {
        const double v = pl[o2 * s.inner + i];
        const int64_t k = static_cast<int64_t>(v);
        if (o.has_ignore_label && k == o.ignore_label) continue;
        LAMINA_CHECK(v == static_cast<double>(k) && k >= 0 && k < s.C, op, ": label ", v, " at position ",
                     o2 * s.inner + i, " is not a class index in [0, ", s.C, ")");
        total -= static_cast<double>(lp[(o2 * s.C + k) * s.inner + i]);
        ++valid;
      }
  });
  double norm = 1;
  switch (o.normalization) {
    case LossNormalization::full: norm = static_cast<double>(s.outer * s.inner); break;
    case LossNormalization::valid: norm = static_cast<double>(valid); break;
    case LossNormalization::batch_size: norm = static_cast<double>(s.outer); break;
    case LossNormalization::none: norm = 1; break;
  }
  norm = norm < 1 ? 1 : norm;  // Caffe: never divide by less than 1 (all labels ignored)
  Tensor loss = Tensor::full({}, total / norm, logits.dtype());
  if (autograd::needs_grad({&logits}))
    autograd::record(op, {logits, labels}, {loss}, [s, o, norm, P = SavedTensor(logp), L = SavedTensor(lab)](
                                                       const std::vector<Tensor>& g) {
      const Tensor& lp = P.get("softmax_cross_entropy");
      const double* pl2 = L.get("softmax_cross_entropy").data<double>();
      Tensor dx = Tensor::empty(lp.shape(), lp.dtype());
      const double scale = g[0].item() / norm;
      dispatch(lp.dtype(), [&](auto t) {
        using T = decltype(t);
        const T* p = lp.data<T>();
        T* d = dx.data<T>();
        for (int64_t o2 = 0; o2 < s.outer; ++o2)
          for (int64_t i = 0; i < s.inner; ++i) {
            const int64_t k = static_cast<int64_t>(pl2[o2 * s.inner + i]);
            const bool ignored = o.has_ignore_label && k == o.ignore_label;
            for (int64_t c = 0; c < s.C; ++c) {
              const int64_t at = (o2 * s.C + c) * s.inner + i;
              d[at] = ignored ? T(0) : static_cast<T>(scale * (std::exp(double(p[at])) - (c == k ? 1.0 : 0.0)));
            }
          }
      });
      return std::vector<Tensor>{dx, Tensor()};
    });
  return loss;
}

}  // namespace lamina
