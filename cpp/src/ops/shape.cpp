// Shape ops: reshape and the axis views (Tensor's, as functions), transpose (a copy with
// permuted axes), and stack.
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

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) { return x.permute(dims); }
Tensor transpose(const Tensor& x, int64_t a, int64_t b) { return x.transpose(a, b); }
Tensor movedim(const Tensor& x, int64_t from, int64_t to) { return x.movedim(from, to); }
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axes) { return x.squeeze(axes); }
Tensor unsqueeze(const Tensor& x, int64_t axis) { return x.unsqueeze(axis); }
Tensor flatten(const Tensor& x, int64_t start, int64_t end) { return x.flatten(start, end); }

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  LAMINA_CHECK(!xs.empty(), "stack: needs at least one tensor");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_defined("stack", xs[i]);
    LAMINA_CHECK_SHAPE(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ", xs[i].shape(),
                       ", tensor 0 has ", xs[0].shape(), "; stacked tensors share one shape");
    parts.push_back(xs[i].unsqueeze(axis));  // a view (throws IndexError for a bad axis)
  }
  return concat(parts, axis < 0 ? axis + xs[0].dim() + 1 : axis);
}

}  // namespace lamina
