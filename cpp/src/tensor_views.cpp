// The axis views of Tensor: permute, transpose, movedim, squeeze, unsqueeze, flatten. Each
// is a new shape and new strides over the same storage; the backward undoes the move.
#include <numeric>

#include "ops/common.hpp"
#include "tensor_impl.hpp"

namespace lamina {

using ops_detail::norm_axis;

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  const char* op = "permute";
  ops_detail::check_defined(op, *this);
  const int64_t d = dim();
  LAMINA_CHECK_SHAPE(static_cast<int64_t>(dims.size()) == d, op, ": ", dims.size(), " axes ", Shape(dims),
                     " for a tensor of shape ", shape());
  std::vector<bool> seen(static_cast<size_t>(d), false);
  Shape sh(dims.size()), st(dims.size()), inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t p = norm_axis(op, dims[i], d);
    LAMINA_CHECK(!seen[p], op, ": axis ", dims[i], " repeated in ", Shape(dims));
    seen[p] = true;
    sh[i] = shape()[p];
    st[i] = strides()[p];
    inverse[p] = static_cast<int64_t>(i);
  }
  return record_view(op, *this, make_view(*this, sh, st, offset()),
                     [inverse](const Tensor& g) { return g.permute(inverse); });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  ops_detail::check_defined("transpose", *this);
  std::vector<int64_t> dims(static_cast<size_t>(dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[norm_axis("transpose", a, dim())], dims[norm_axis("transpose", b, dim())]);
  return permute(dims);
}

Tensor Tensor::movedim(int64_t from, int64_t to) const {
  ops_detail::check_defined("movedim", *this);
  const int64_t f = norm_axis("movedim", from, dim()), t = norm_axis("movedim", to, dim());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < dim(); ++i)
    if (i != f) dims.push_back(i);
  dims.insert(dims.begin() + t, f);
  return permute(dims);
}

Tensor Tensor::squeeze(const std::vector<int64_t>& axes) const {
  const char* op = "squeeze";
  ops_detail::check_defined(op, *this);
  std::vector<bool> drop(static_cast<size_t>(dim()), axes.empty());
  for (int64_t a : axes) drop[norm_axis(op, a, dim())] = true;
  Shape sh, st;
  for (int64_t i = 0; i < dim(); ++i) {
    if (drop[i] && shape()[i] == 1) continue;
    sh.push_back(shape()[i]);
    st.push_back(strides()[i]);
  }
  return record_view(op, *this, make_view(*this, sh, st, offset()),
                     [from = shape()](const Tensor& g) { return g.reshape(from); });
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  const char* op = "unsqueeze";
  ops_detail::check_defined(op, *this);
  LAMINA_CHECK_INDEX(axis >= -dim() - 1 && axis <= dim(), op, ": axis ", axis, " is out of range [", -dim() - 1, ", ",
                     dim(), "] for a tensor of shape ", shape());
  const int64_t a = axis < 0 ? axis + dim() + 1 : axis;
  Shape sh = shape(), st = strides();
  // The stride of the new axis is never stepped over; this one keeps a contiguous tensor's
  // strides row-major.
  const int64_t stride = a < dim() ? shape()[a] * strides()[a] : 1;
  sh.insert(sh.begin() + a, 1);
  st.insert(st.begin() + a, stride);
  return record_view(op, *this, make_view(*this, sh, st, offset()),
                     [from = shape()](const Tensor& g) { return g.reshape(from); });
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  const char* op = "flatten";
  ops_detail::check_defined(op, *this);
  if (dim() == 0) return reshape({1});
  const int64_t s = norm_axis(op, start, dim()), e = norm_axis(op, end, dim());
  LAMINA_CHECK(s <= e, op, ": start axis ", start, " comes after end axis ", end, " for shape ", shape());
  Shape sh(shape().begin(), shape().begin() + s);
  sh.push_back(shape_numel(Shape(shape().begin() + s, shape().begin() + e + 1)));
  sh.insert(sh.end(), shape().begin() + e + 1, shape().end());
  return reshape(sh);
}

}  // namespace lamina
