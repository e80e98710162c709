// The losses of class labels: nll_loss, cross_entropy (PyTorch's) and softmax_cross_entropy
// (Caffe's SoftmaxWithLoss). One forward and backward serves all three: the nll kernels
// over log-probabilities, or, from logits, their log-softmax with the fused gradient
// (softmax - one hot); they differ only in checks and in what divides the sum.
#include <functional>
#include <memory>
#include <vector>

#include "ops/common.hpp"
#include "ops/losses.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// Labels checked and read as class indices, one per position of x [outer, C, inner].
struct ClassLabels {
  AxisSplit s;
  std::shared_ptr<std::vector<int64_t>> index;
  int64_t ignore;  // what ignored positions hold in index; when none are, a value no class has
};

// Each label must be a class of x (classes on `axis`) or, if has_ignore, the ignore label;
// the first that is neither throws E naming op. PyTorch's losses take integer labels only
// (DTypeError otherwise); Caffe's blobs hold them as floats (label_indices reads both).
template <class E>
ClassLabels class_labels(const char* op, const Tensor& x, int64_t axis, const Tensor& labels, bool has_ignore,
                         int64_t ignore, bool integer_labels) {
  LAMINA_CHECK_DTYPE(labels.dtype() == DType::i64 || labels.dtype() == DType::i32 ||
                         (!integer_labels && is_floating(labels.dtype())),
                     op, ": the target must hold class indices as int64 or int32", integer_labels ? "" : " or floats",
                     ", got ", dtype_name(labels.dtype()));
  const AxisSplit s = split_at(x, axis);
  auto index = std::make_shared<std::vector<int64_t>>(label_indices<E>(
      op, labels, s.C, has_ignore, ignore, "label", "a class index in [0, " + std::to_string(s.C) + ")"));
  // Checked labels are >= 0, so -1 stands for "nothing ignored".
  return ClassLabels{s, index, has_ignore ? ignore : -1};
}

// The negative log-likelihood of x's labelled positions: x holds log-probabilities, or
// logits when from_logits (then their log-softmax is taken, and the backward is the fused
// softmax - one hot). per_position: the losses, shaped `shape`; else their sum divided by
// divisor(the sum of the labels' weights). *weight_total, if given, gets that sum.
Tensor class_nll(const char* op, const Tensor& x, bool from_logits, const ClassLabels& labels, const Tensor& weight,
                 bool per_position, const Shape& shape, const std::function<double(double)>& divisor,
                 double* weight_total = nullptr) {
  Tensor logp;
  if (from_logits) {
    NoGradGuard no_grad;
    logp = log_softmax(x.detach(), labels.s.axis);
  } else {
    logp = x.detach().contiguous();
  }
  const Tensor w = weight.defined() ? weight.detach().clone() : Tensor();  // kept unchanged for the backward
  Tensor loss = per_position ? Tensor::empty(shape, x.dtype()) : Tensor();
  const AxisSplit s = labels.s;
  double total = 0, weights = 0;
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    total = kernels_for<T>(op, logp).nll_loss(logp.data<T>(), labels.index->data(), data_or_null<T>(w), s.outer, s.C,
                                              s.inner, labels.ignore, data_or_null<T>(loss), &weights);
  });
  if (weight_total) *weight_total = weights;
  const double norm = per_position ? 1.0 : divisor(weights);
  if (!per_position) loss = Tensor::full({}, total / norm, x.dtype());
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {loss}, [op, from_logits, labels, w, norm, per_position, shape = x.shape(),
                                       P = from_logits ? SavedTensor(logp) : SavedTensor()](
                                          const std::vector<Tensor>& g) {
      const AxisSplit s = labels.s;
      const Tensor dy = g[0].contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype());
      dispatch(dy.dtype(), [&](auto t) {
        using T = decltype(t);
        const auto& k = kernels_for<T>(op, dy);
        const T* dyp = per_position ? dy.data<T>() : nullptr;
        const T scale = static_cast<T>(per_position ? 1.0 : dy.item() / norm);
        if (from_logits)
          k.softmax_cross_entropy_backward(P.get(op).data<T>(), labels.index->data(), data_or_null<T>(w), dyp, s.outer,
                                           s.C, s.inner, labels.ignore, scale, dx.data<T>());
        else
          k.nll_loss_backward(labels.index->data(), data_or_null<T>(w), dyp, s.outer, s.C, s.inner, labels.ignore,
                              scale, dx.data<T>());
      });
      return std::vector<Tensor>{dx};
    });
  return loss;
}

// A class loss's input x [N, C, d...] (or [C], read as [1, C]) checked against its labels
// [N, d...] (or 0-d) and per-class weight [C] (or undefined).
Tensor class_input(const char* op, const Tensor& x, const Tensor& labels, const Tensor& weight, Reduction reduction) {
  check_defined(op, x);
  check_defined(op, labels, "target");
  check_device(op, x);
  check_reduction(op, reduction);
  LAMINA_CHECK_SHAPE(x.dim() >= 1 && x.numel() > 0, op, ": needs a non-empty input [N, C, ...] or [C], got ",
                     x.shape());
  Shape want = x.shape();
  want.erase(want.begin() + (x.dim() > 1 ? 1 : 0));
  LAMINA_CHECK_SHAPE(labels.shape() == want, op, ": target ", labels.shape(), " does not match input ", x.shape(),
                     " (expected ", want, ")");
  const int64_t C = x.size(x.dim() > 1 ? 1 : 0);
  if (weight.defined()) {
    check_same(op, x, weight);
    LAMINA_CHECK_SHAPE(weight.dim() == 1 && weight.numel() == C, op, ": weight must be [", C, "], got ",
                       weight.shape());
  }
  return x.dim() == 1 ? x.reshape({1, C}) : x;
}

// mean divides by the labels' total weight, sum by nothing.
double torch_divisor(Reduction reduction, double weight_total) {
  return reduction == Reduction::mean ? weight_total : 1.0;
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  const char* op = "nll_loss";
  const Tensor x = class_input(op, log_probs, labels, weight, reduction);
  const ClassLabels classes = class_labels<IndexError>(op, x, 1, labels, true, ignore_index, true);
  return class_nll(op, x, false, classes, weight, reduction == Reduction::none, labels.shape(),
                   [reduction](double w) { return torch_divisor(reduction, w); });
}

namespace {

// cross_entropy with class probabilities for targets (PyTorch's soft labels): per position
// -sum over c of weight[c] * p[n, c, d...] * log_softmax(logits)[n, c, d...], the
// probabilities smoothed toward 1 / C first; mean divides by the number of positions.
// Composed of ops: the gradient reaches the logits and the probabilities.
Tensor cross_entropy_probabilities(const Tensor& logits, const Tensor& probs, const Tensor& weight,
                                   Reduction reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  check_same(op, logits, probs);
  LAMINA_CHECK(reduction != Reduction::batch_mean, op, ": reduction 'batchmean' is kl_div's only");
  const int64_t C = logits.dim() == 1 ? logits.size(0) : logits.size(1);
  const int64_t class_axis = logits.dim() == 1 ? 0 : 1;
  Tensor p = probs;
  if (label_smoothing > 0) p = affine(p, 1.0 - label_smoothing, label_smoothing / double(C));
  Tensor terms = mul(p, log_softmax(logits, class_axis));
  if (weight.defined()) {
    check_same(op, logits, weight);
    LAMINA_CHECK_SHAPE(weight.shape() == Shape{C}, op, ": weight must be [", C, "] (one per class), got ",
                       weight.shape());
    Shape per_class(static_cast<size_t>(logits.dim()), 1);
    per_class[static_cast<size_t>(class_axis)] = C;
    terms = mul(terms, weight.detach().reshape(per_class));
  }
  const Tensor loss = neg(sum(terms, {class_axis}));
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    default:
      return mean(loss);
  }
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  LAMINA_CHECK(label_smoothing >= 0 && label_smoothing <= 1, op, ": label_smoothing must be in [0, 1], got ",
               label_smoothing);
  if (labels.defined() && is_floating(labels.dtype()) && labels.shape() == logits.shape() && logits.dim() >= 1)
    return cross_entropy_probabilities(logits, labels, weight, reduction, label_smoothing);
  const Tensor x = class_input(op, logits, labels, weight, reduction);
  const ClassLabels classes = class_labels<IndexError>(op, x, 1, labels, true, ignore_index, true);
  const bool none = reduction == Reduction::none;
  double weight_total = 0;
  const Tensor loss = class_nll(op, x, true, classes, weight, none, labels.shape(),
                                [reduction](double w) { return torch_divisor(reduction, w); }, &weight_total);
  if (label_smoothing == 0) return loss;
  // PyTorch's smoothing term: per position, the weighted sum over the classes of
  // -log_softmax, 0 at ignored positions; reduced as the loss (mean: by the same weight sum).
  const int64_t C = x.size(1);
  Tensor lp = log_softmax(x, 1);
  if (weight.defined()) {
    Shape per_class(static_cast<size_t>(x.dim()), 1);
    per_class[1] = C;
    lp = mul(lp, weight.detach().reshape(per_class));
  }
  const Tensor ignored =
      equal(labels.detach().to(x.dtype()), Tensor::full({}, double(ignore_index), x.dtype())).to(x.dtype());
  Tensor smooth = mul(neg(sum(lp, {1})).reshape(labels.shape()), affine(ignored, -1.0, 1.0));
  if (!none) smooth = affine(sum(smooth), 1.0 / torch_divisor(reduction, weight_total));
  return add(affine(loss, 1.0 - label_smoothing), affine(smooth, label_smoothing / double(C)));
}

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
  const ClassLabels classes = class_labels<ValueError>(op, logits, axis, labels, o.has_ignore_label, o.ignore_label,
                                                             false);
  const auto divisor = [&](double valid) {
    double norm = 1;
    switch (o.normalization) {
      case LossNormalization::full: norm = static_cast<double>(s.outer * s.inner); break;
      case LossNormalization::valid: norm = valid; break;
      case LossNormalization::batch_size: norm = static_cast<double>(s.outer); break;
      case LossNormalization::none: norm = 1; break;
    }
    return norm < 1 ? 1 : norm;  // Caffe: never divide by less than 1 (all labels ignored)
  };
  return class_nll(op, logits, true, classes, Tensor(), false, {}, divisor);
}

}  // namespace lamina
