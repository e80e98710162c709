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
}  // namespace

Tensor prelu(const Tensor& x, const Tensor& slope) {
  check_defined("prelu", x);
  check_defined("prelu", slope, "slope");
  check_device("prelu", x);
  LAMINA_CHECK_SHAPE(slope.dim() == 1 && (slope.numel() == 1 || (x.dim() >= 2 && slope.numel() == x.size(1))),
                     "prelu: slope must be [1] or [C] for input ", x.shape(), ", got ", slope.shape());
  Tensor a = slope.numel() == 1 ? slope.reshape({}) : per_channel(slope, x);
  return sub(relu(x), mul(a, relu(neg(x))));  // x > 0 ? x : a * x
}

Tensor mse_loss(const Tensor& a, const Tensor& b) {
  check_defined("mse_loss", a);
  check_device("mse_loss", a);
  LAMINA_CHECK_SHAPE(a.shape() == b.shape(), "mse_loss: shapes differ: ", a.shape(), " and ", b.shape());
  return mean(square(sub(a, b)));
}

Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets, LossNormalization normalization) {
  check_defined("sigmoid_cross_entropy", logits);
  check_device("sigmoid_cross_entropy", logits);
  LAMINA_CHECK_SHAPE(logits.shape() == targets.shape(), "sigmoid_cross_entropy: logits ", logits.shape(),
                     " and targets ", targets.shape(), " differ");
  LAMINA_CHECK_SHAPE(logits.dim() >= 1 && logits.numel() > 0, "sigmoid_cross_entropy: empty logits ",
                     logits.shape());
  // -(t log s(x) + (1 - t) log(1 - s(x))) = softplus(x) - t x, stable for any x.
  Tensor total = sum(sub(softplus(logits), mul(targets, logits)));
  double norm = 1;
  if (normalization == LossNormalization::full || normalization == LossNormalization::valid)
    norm = static_cast<double>(logits.numel());
  else if (normalization == LossNormalization::batch_size)
    norm = static_cast<double>(logits.size(0));
  return affine(total, 1.0 / norm);
}

}  // namespace lamina
