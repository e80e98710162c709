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

}  // namespace lamina
