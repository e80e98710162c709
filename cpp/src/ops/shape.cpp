// Shape ops: reshape (a view) and transpose (a copy with permuted axes).
#include <algorithm>
#include <numeric>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x);
  return x.reshape(shape);
}

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm_in) {
  check_defined("transpose", x);
  const int64_t d = x.dim();
  std::vector<int64_t> perm = perm_in;
  if (perm.empty()) {
    LAMINA_CHECK_SHAPE(d == 2, "transpose: without a permutation the input must be 2-d, got ", x.shape());
    perm = {1, 0};
  }
  LAMINA_CHECK_SHAPE(static_cast<int64_t>(perm.size()) == d, "transpose: permutation ", Shape(perm),
                     " for a tensor of shape ", x.shape());
  std::vector<bool> seen(static_cast<size_t>(d), false);
  Shape shape(perm.size()), strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    const int64_t p = norm_axis("transpose", perm[i], d);
    LAMINA_CHECK(!seen[p], "transpose: axis ", perm[i], " repeated in ", Shape(perm));
    seen[p] = true;
    perm[i] = p;
    shape[i] = x.shape()[p];
    strides[i] = x.strides()[p];
  }
  Tensor view = Tensor::from_storage(x.storage(), shape, strides, x.offset(), x.dtype());
  Tensor y = Tensor::empty(shape, x.dtype());
  y.copy_(view);
  if (autograd::needs_grad({&x})) {
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
    autograd::record("transpose", {x}, {y}, [inverse](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{transpose(g[0], inverse)};
    });
  }
  return y;
}

}  // namespace lamina
