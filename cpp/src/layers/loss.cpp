// Loss layers (their first top gets loss_weight 1 by default) and Accuracy. Over an empty
// batch (N = 0) every loss is 0, as Caffe's normaliser is never below 1, and Accuracy is 0.
#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "ops/metrics.hpp"

namespace lamina::layers {

namespace {

// Caffe's normalisation: `normalization`, or the deprecated `normalize` (true = VALID,
// false = BATCH_SIZE) when only that is given.
LossNormalization normalization(const LayerSpec& spec) {
  const auto p = spec.param_message("loss_param");
  std::string mode = p.get_string("normalization");
  if (!p.has("normalization") && p.has("normalize")) mode = p.get_bool("normalize") ? "VALID" : "BATCH_SIZE";
  if (mode == "FULL") return LossNormalization::full;
  if (mode == "BATCH_SIZE") return LossNormalization::batch_size;
  if (mode == "NONE") return LossNormalization::none;
  return LossNormalization::valid;
}

// The labels of a [N, C, ...] prediction as one class per position: labels may come as
// [N], [N, 1, 1, 1] or [N, ...spatial]; only the count has to match.
Tensor labels_for(const LayerSpec& spec, const Tensor& scores, const Tensor& labels, int64_t axis) {
  Shape want;
  for (int64_t k = 0; k < scores.dim(); ++k)
    if (k != axis) want.push_back(scores.size(k));
  if (labels.numel() != span(want, 0, int64_t(want.size())))
    spec.fail("labels " + shape_str(labels.shape()) + " do not give one label per position of the scores " +
              shape_str(scores.shape()) + " (expected " + shape_str(want) + ")");
  return labels.detach().reshape(want);
}

// The loss over an empty batch: 0 (Caffe's normaliser is at least 1), still on the tape so
// that a backward gives x its (empty) gradient. For the ops that refuse empty input.
Tensor empty_batch_loss(const Tensor& x) { return affine(sum(x), 0.0); }

Forward softmax_with_loss(const LayerSpec& spec) {
  const auto loss = spec.param_message("loss_param");
  CrossEntropyOptions o;
  o.normalization = normalization(spec);
  o.has_ignore_label = loss.has("ignore_label");
  o.ignore_label = loss.get_int("ignore_label");
  const int64_t axis = spec.param_message("softmax_param").get_int("axis");
  const bool with_prob = spec.tops.size() > 1;
  return [=](const Tensors& b) {
    CrossEntropyOptions oo = o;
    oo.axis = canonical_axis(spec, axis, b[0].dim());
    const Tensor labels = labels_for(spec, b[0], b[1], oo.axis);
    Tensors out{b[0].numel() == 0 ? empty_batch_loss(b[0]) : softmax_cross_entropy(b[0], labels, oo)};
    if (with_prob) out.push_back(softmax(b[0], oo.axis));
    return out;
  };
}

// The batch a loss is averaged over (a 0-d bottom is one item).
double batch(const Tensor& x) { return x.dim() == 0 ? 1.0 : 1.0 / per_items(x.size(0)); }

Forward euclidean(const LayerSpec& spec) {
  return [spec](const Tensors& b) {
    if (b[0].numel() != b[1].numel())
      spec.fail("bottoms " + shape_str(b[0].shape()) + " and " + shape_str(b[1].shape()) + " differ in size");
    return Tensors{affine(mse_loss(b[0], b[1].reshape(b[0].shape()), Reduction::sum), 0.5 / batch(b[0]))};
  };
}

// sum over n, k of max(0, 1 - t_nk x_nk)^p / N, t = +1 at the label and -1 elsewhere: the
// margin ranking loss of x against 0 with margin 1.
Forward hinge(const LayerSpec& spec) {
  const bool l2 = spec.param_message("hinge_loss_param").get_string("norm") == "L2";
  return [=](const Tensors& b) {
    const int64_t n = b[0].size(0);
    const Tensor x = b[0].reshape({n, per_item(b[0])});
    const Tensor t = affine(one_hot(labels_for(spec, x, b[1], 1), x.size(1), x.dtype()), 2.0, -1.0);
    const Tensor margin = margin_ranking_loss(x, Tensor::zeros({}, x.dtype()), t, 1.0, Reduction::none);
    return Tensors{affine(sum(l2 ? square(margin) : margin), per_items(n))};
  };
}

Forward sigmoid_cross_entropy_loss(const LayerSpec& spec) {
  if (spec.param_message("loss_param").has("ignore_label"))
    spec.fail("ignore_label is not supported by lamina's SigmoidCrossEntropyLoss", "loss_param");
  const LossNormalization n = normalization(spec);
  return [=](const Tensors& b) {
    if (b[0].numel() != b[1].numel())
      spec.fail("targets " + shape_str(b[1].shape()) + " do not match the logits " + shape_str(b[0].shape()));
    return Tensors{sigmoid_cross_entropy(b[0], b[1].detach().reshape(b[0].shape()), n)};
  };
}

// Siamese loss over pairs (a, b) with similarity y: (y d^2 + (1 - y) max(margin - d, 0)^2) / 2N,
// or with legacy_version max(margin - d^2, 0) for dissimilar pairs.
Forward contrastive(const LayerSpec& spec) {
  const auto p = spec.param_message("contrastive_loss_param");
  const double margin = p.get_float("margin");
  const bool legacy = p.get_bool("legacy_version");
  return [=](const Tensors& b) {
    const int64_t n = b[0].size(0);
    if (b[1].shape() != b[0].shape() || b[2].numel() != n)
      spec.fail("needs two bottoms of one shape and one similarity per pair, got " + shape_str(b[0].shape()) + ", " +
                shape_str(b[1].shape()) + ", " + shape_str(b[2].shape()));
    const Tensor d = sub(b[0], b[1]).reshape({n, per_item(b[0])});
    const Tensor d2 = sum(square(d), {1});
    const Tensor y = b[2].detach().reshape({n}).to(d2.dtype());
    const Tensor far = legacy ? relu(affine(d2, -1.0, margin))
                              : square(relu(affine(sqrt(affine(d2, 1.0, 1e-12)), -1.0, margin)));
    const Tensor per_pair = add(mul(y, d2), mul(affine(y, -1.0, 1.0), far));
    return Tensors{affine(sum(per_pair), 0.5 * per_items(n))};
  };
}

// -sum over n of sum_k w_nk log(max(p_nk, 1e-20)) / N, w = one-hot labels (nll_loss of the
// labels) or H[label].
Forward logistic(const LayerSpec& spec, bool infogain) {
  if (infogain && spec.bottoms.size() < 3)
    spec.fail("needs the infogain matrix H as its third bottom (reading infogain_loss_param.source is not supported)");
  const int64_t axis_field = infogain ? spec.param_message("infogain_loss_param").get_int("axis") : 1;
  return [=](const Tensors& b) {
    const int64_t axis = canonical_axis(spec, axis_field, b[0].dim());
    if (axis != 1) spec.fail("lamina supports the class axis 1 only");
    const int64_t n = b[0].size(0), c = per_item(b[0]);
    const Tensor p = b[0].reshape({n, c});
    const Tensor labels = labels_for(spec, p, b[1], 1);
    if (p.numel() == 0) return Tensors{empty_batch_loss(p)};
    const Tensor logp = log(clip(p, 1e-20, std::numeric_limits<double>::max()));
    if (!infogain) {  // Caffe's labels are floats; nll_loss takes integers (a float label is truncated, as Caffe's)
      const Tensor classes = labels.to(DType::i64);
      return Tensors{affine(nll_loss(logp, classes, Tensor(), -100, Reduction::sum), per_items(n))};
    }
    if (b[2].numel() != c * c)
      spec.fail("H must be " + std::to_string(c) + "x" + std::to_string(c) + ", got " + shape_str(b[2].shape()));
    const Tensor w = embedding(labels, b[2].detach().reshape({c, c}));
    return Tensors{affine(sum(mul(w, logp)), -per_items(n))};
  };
}

// The fraction of positions whose label is among the top_k scores (no gradient); an
// optional second top gives the accuracy of each class.
Forward accuracy(const LayerSpec& spec) {
  const auto p = spec.param_message("accuracy_param");
  const int64_t top_k = p.get_int("top_k"), axis_field = p.get_int("axis");
  const bool has_ignore = p.has("ignore_label");
  const int64_t ignore = p.get_int("ignore_label");
  const bool per_class = spec.tops.size() > 1;
  return [=](const Tensors& b) {
    const int64_t axis = canonical_axis(spec, axis_field, b[0].dim());
    const int64_t c = b[0].size(axis);
    if (top_k > c) spec.fail("top_k " + std::to_string(top_k) + " exceeds the " + std::to_string(c) + " classes");
    const Tensor labels = labels_for(spec, b[0], b[1], axis);
    Tensor per_class_accuracy;
    Tensors out{lamina::accuracy(b[0], labels, top_k, axis, has_ignore, ignore,
                                 per_class ? &per_class_accuracy : nullptr)};
    if (per_class) out.push_back(per_class_accuracy);
    return out;
  };
}

}  // namespace

void register_loss(LayerRegistry& r) {
  add_function(r, LayerInfo{"SoftmaxWithLoss", 2, 2, 1, 2, true, false, {}}, softmax_with_loss);
  add_function(r, LayerInfo{"EuclideanLoss", 2, 2, 1, 1, true, false, {}}, euclidean);
  add_function(r, LayerInfo{"HingeLoss", 2, 2, 1, 1, true, false, {}}, hinge);
  add_function(r, LayerInfo{"SigmoidCrossEntropyLoss", 2, 2, 1, 1, true, false, {}}, sigmoid_cross_entropy_loss);
  add_function(r, LayerInfo{"ContrastiveLoss", 3, 3, 1, 1, true, false, {}}, contrastive);
  add_function(r, LayerInfo{"MultinomialLogisticLoss", 2, 2, 1, 1, true, false, {}},
               [](const LayerSpec& spec) { return logistic(spec, false); });
  add_function(r, LayerInfo{"InfogainLoss", 2, 3, 1, 1, true, false, {}},
               [](const LayerSpec& spec) { return logistic(spec, true); });
  add_function(r, LayerInfo{"Accuracy", 2, 2, 1, 2, false, false, {}}, accuracy);
}

}  // namespace lamina::layers
