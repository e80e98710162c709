// PyTorch's losses of values (ops.hpp, "losses"; the class-label losses are in
// class_losses.cpp): compositions of pointwise and reduction ops, whose backward comes from
// the tape; binary_cross_entropy alone records a rule of its own (the tape's would divide 0
// by 0 where p is exactly 0 or 1).
#include <algorithm>
#include <limits>
#include <string>

#include "ops/common.hpp"
#include "ops/losses.hpp"

namespace lamina {

using namespace ops_detail;

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::batch_mean: return "batchmean";
  }
  return "?";
}

Reduction reduction_from_name(const char* op, const std::string& name) {
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batch_mean})
    if (name == reduction_name(r)) return r;
  const bool kl = std::string(op) == "kl_div";  // the only loss that takes batchmean
  const char* choices = kl ? "'none', 'mean', 'sum' or 'batchmean'" : "'none', 'mean' or 'sum'";
  throw ValueError(std::string(op) + ": reduction must be " + choices + ", got '" + name + "'");
}

namespace ops_detail {

void check_reduction(const char* op, Reduction reduction) {
  LAMINA_CHECK(reduction != Reduction::batch_mean, op, ": reduction 'batchmean' is kl_div's only");
}

Tensor reduce_loss(const char* op, const Tensor& loss, Reduction reduction) {
  check_reduction(op, reduction);
  if (reduction == Reduction::sum) return sum(loss);
  if (reduction == Reduction::mean) return mean(loss);
  return loss;
}

}  // namespace ops_detail

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Two inputs of a loss: defined, one dtype, shapes that broadcast (or, if same_shape, equal).
void check_pair(const char* op, const Tensor& a, const Tensor& b, const char* a_name, const char* b_name,
                bool same_shape = false) {
  check_defined(op, a, a_name);
  check_defined(op, b, b_name);
  check_device(op, a);
  check_same(op, a, b);
  if (same_shape)
    LAMINA_CHECK_SHAPE(a.shape() == b.shape(), op, ": ", a_name, " ", a.shape(), " and ", b_name, " ", b.shape(),
                       " differ in shape");
  else
    broadcast_shape(op, a.shape(), b.shape());
}

// An optional per-element weight: of x's dtype and broadcasting to x's shape.
void check_weight(const char* op, const Tensor& w, const Tensor& x, const char* name) {
  if (!w.defined()) return;
  check_same(op, x, w);
  LAMINA_CHECK_SHAPE(broadcast_shape(op, w.shape(), x.shape()) == x.shape(), op, ": ", name, " ", w.shape(),
                     " does not broadcast to the input ", x.shape());
}

Tensor scalar_like(double v, const Tensor& x) { return Tensor::full({}, v, x.dtype()); }

// 1 where y == v, else 0 (no gradient).
Tensor where_equal(const Tensor& y, double v) { return equal(y.detach(), scalar_like(v, y)).to(y.dtype()); }

// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): q (|d| - q / 2) with q = min(|d|, delta).
Tensor huber(const Tensor& d, double delta) {
  const Tensor a = abs(d);
  const Tensor q = clip(a, 0.0, delta);
  return mul(q, sub(a, affine(q, 0.5)));
}

// ||u - v + eps||_p over the last axis (PyTorch's pairwise_distance).
Tensor pairwise_distance(const Tensor& u, const Tensor& v, double p, double eps) {
  return pow(sum(pow(abs(affine(sub(u, v), 1.0, eps)), p), {-1}), 1.0 / p);
}

}  // namespace

Tensor binary_cross_entropy(const Tensor& p, const Tensor& t, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy";
  check_pair(op, p, t, "input", "target", true);
  check_weight(op, weight, p, "weight");
  check_reduction(op, reduction);
  const Tensor w = weight.defined() ? weight.detach() : Tensor();
  Tensor loss;
  {
    NoGradGuard no_grad;
    // -(t log p + (1 - t) log(1 - p)) = -(log(1 - p) + t (log p - log(1 - p))), logs >= -100.
    const Tensor log_p = clip(log(p), -100.0, kInf), log_q = clip(log(affine(p, -1.0, 1.0)), -100.0, kInf);
    loss = neg(add(log_q, mul(t, sub(log_p, log_q))));
    if (w.defined()) loss = mul(loss, w);
  }
  // PyTorch's gradients: dp = w (p - t) / max(p (1 - p), 1e-12), finite where p is 0 or 1;
  // dt = w (log(1 - p) - log p), the logs clamped as in the forward.
  if (autograd::needs_grad({&p, &t}))
    autograd::record(op, {p, t}, {loss}, [op, w, P = SavedTensor(p), Y = SavedTensor(t)](const std::vector<Tensor>& g) {
      const Tensor& pv = P.get(op);
      const Tensor& tv = Y.get(op);
      Tensor dy = w.defined() ? mul(g[0], w) : g[0];
      const Tensor dp = mul(dy, div(sub(pv, tv), clip(mul(pv, affine(pv, -1.0, 1.0)), 1e-12, kInf)));
      const Tensor dt = mul(dy, sub(clip(log(affine(pv, -1.0, 1.0)), -100.0, kInf), clip(log(pv), -100.0, kInf)));
      return std::vector<Tensor>{dp, dt};
    });
  return reduce_loss(op, loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& t, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, x, t, "input", "target", true);
  check_weight(op, weight, x, "weight");
  check_weight(op, pos_weight, x, "pos_weight");
  check_reduction(op, reduction);
  // softplus(x) - t x; with pos_weight, (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)
  // (the same when pos_weight is 1, as softplus(x) = x + softplus(-x)).
  Tensor loss = pos_weight.defined()
                    ? add(mul(affine(t, -1.0, 1.0), x),
                          mul(affine(mul(affine(pos_weight.detach(), 1.0, -1.0), t), 1.0, 1.0), softplus(neg(x))))
                    : sub(softplus(x), mul(t, x));
  if (weight.defined()) loss = mul(loss, weight.detach());
  return reduce_loss(op, loss, reduction);
}

Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets, LossNormalization normalization) {
  const char* op = "sigmoid_cross_entropy";
  check_pair(op, logits, targets, "logits", "targets", true);
  LAMINA_CHECK_SHAPE(logits.dim() >= 1 && logits.numel() > 0, op, ": empty logits ", logits.shape());
  double norm = 1;
  if (normalization == LossNormalization::full || normalization == LossNormalization::valid)
    norm = static_cast<double>(logits.numel());
  else if (normalization == LossNormalization::batch_size)
    norm = static_cast<double>(logits.size(0));
  return affine(binary_cross_entropy_with_logits(logits, targets, Tensor(), Tensor(), Reduction::sum), 1.0 / norm);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair("mse_loss", input, target, "input", "target");
  return reduce_loss("mse_loss", square(sub(input, target)), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair("l1_loss", input, target, "input", "target");
  return reduce_loss("l1_loss", abs(sub(input, target)), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  const char* op = "smooth_l1_loss";
  check_pair(op, input, target, "input", "target");
  LAMINA_CHECK(beta >= 0, op, ": beta must be >= 0, got ", beta);
  const Tensor d = sub(input, target);
  return reduce_loss(op, beta == 0 ? abs(d) : affine(huber(d, beta), 1.0 / beta), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  const char* op = "huber_loss";
  check_pair(op, input, target, "input", "target");
  LAMINA_CHECK(delta > 0, op, ": delta must be > 0, got ", delta);
  return reduce_loss(op, huber(sub(input, target), delta), reduction);
}

Tensor hinge_embedding_loss(const Tensor& x, const Tensor& y, double margin, Reduction reduction) {
  const char* op = "hinge_embedding_loss";
  check_pair(op, x, y, "input", "target");
  check_reduction(op, reduction);
  // PyTorch's terms: max(0, margin - x) where y != 1, x where y != -1.
  const Tensor far = mul(affine(where_equal(y, 1.0), -1.0, 1.0), relu(affine(x, -1.0, margin)));
  const Tensor near = mul(affine(where_equal(y, -1.0), -1.0, 1.0), x);
  return reduce_loss(op, add(far, near), reduction);
}

Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& y, double margin, Reduction reduction) {
  const char* op = "margin_ranking_loss";
  check_pair(op, x1, x2, "input1", "input2");
  check_pair(op, x1, y, "input1", "target");
  check_reduction(op, reduction);
  return reduce_loss(op, relu(affine(mul(neg(y), sub(x1, x2)), 1.0, margin)), reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin,
                           double p, double eps, bool swap, Reduction reduction) {
  const char* op = "triplet_margin_loss";
  check_pair(op, anchor, positive, "anchor", "positive");
  check_pair(op, anchor, negative, "anchor", "negative");
  LAMINA_CHECK_SHAPE((anchor.dim() == 1 || anchor.dim() == 2) && positive.dim() == anchor.dim() &&
                         negative.dim() == anchor.dim(),
                     op, ": anchor, positive and negative must all be [N, D] or all [D], got ", anchor.shape(), ", ",
                     positive.shape(), " and ", negative.shape());
  LAMINA_CHECK(p > 0, op, ": p must be > 0, got ", p);
  check_reduction(op, reduction);
  const Tensor d_pos = pairwise_distance(anchor, positive, p, eps);
  Tensor d_neg = pairwise_distance(anchor, negative, p, eps);
  if (swap) {  // min(d(a, n), d(p, n))
    const Tensor d_swap = pairwise_distance(positive, negative, p, eps);
    d_neg = sub(d_neg, relu(sub(d_neg, d_swap)));
  }
  return reduce_loss(op, relu(affine(sub(d_pos, d_neg), 1.0, margin)), reduction);
}

Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& y, double margin,
                             Reduction reduction) {
  const char* op = "cosine_embedding_loss";
  check_pair(op, x1, x2, "input1", "input2", true);
  check_defined(op, y, "target");
  check_same(op, x1, y);
  Shape per_sample = x1.shape();
  if (!per_sample.empty()) per_sample.pop_back();
  LAMINA_CHECK_SHAPE((x1.dim() == 1 || x1.dim() == 2) && y.shape() == per_sample, op, ": expected inputs [N, D] ",
                     "with target [N] (or [D] with a 0-d target), got ", x1.shape(), " and target ", y.shape());
  check_reduction(op, reduction);
  // cos = x1 . x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)), PyTorch's epsilon.
  const Tensor dot = sum(mul(x1, x2), {-1});
  const Tensor norms = mul(affine(sum(square(x1), {-1}), 1.0, 1e-12), affine(sum(square(x2), {-1}), 1.0, 1e-12));
  const Tensor cos = div(dot, sqrt(norms));
  const Tensor loss = add(mul(where_equal(y, 1.0), affine(cos, -1.0, 1.0)),
                          mul(where_equal(y, -1.0), relu(affine(cos, 1.0, -margin))));
  return reduce_loss(op, loss, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  const char* op = "kl_div";
  check_pair(op, input, target, "input", "target");
  Tensor loss;
  if (log_target) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // target log target, 0 where target is 0: the log of target clamped to the smallest
    // normal number, which changes nothing where target is not 0 but keeps 0 * log 0 at 0.
    const double tiny = input.dtype() == DType::f32 ? std::numeric_limits<float>::min()
                                                    : std::numeric_limits<double>::min();
    loss = sub(mul(target, log(clip(target, tiny, kInf))), mul(target, input));
  }
  if (reduction != Reduction::batch_mean) return reduce_loss(op, loss, reduction);
  const Tensor total = sum(loss);
  return input.dim() == 0 ? total : affine(total, 1.0 / static_cast<double>(input.size(0)));
}

}  // namespace lamina
