// Picking elements by index or mask: where, index_select, gather and nonzero. Their
// backward scatter-adds the gradient into the positions it came from (repeated indices
// add up). Every dtype goes forward; indices may be int32 or int64 and are read as int64.
#include <memory>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// index as a contiguous int64 tensor; a float index is a DTypeError naming op.
Tensor int64_index(const char* op, const Tensor& index) {
  check_defined(op, index, "index");
  LAMINA_CHECK_DTYPE(index.dtype() == DType::i32 || index.dtype() == DType::i64, op,
                     ": the index must be an int32 or int64 tensor, got ", dtype_name(index.dtype()));
  return index.detach().to(DType::i64).contiguous();
}

// Throws IndexError naming op when a kernel reported index entry `bad` out of [0, extent).
void check_picked(const char* op, int64_t bad, const Tensor& index, int64_t axis, int64_t extent,
                  const Shape& shape) {
  LAMINA_CHECK_INDEX(bad < 0, op, ": index ", bad < 0 ? 0 : index.data<int64_t>()[bad], " is out of range for axis ",
                     axis, " of size ", extent, " (shape ", shape, ")");
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  const char* op = "where";
  check_defined(op, cond, "condition");
  check_defined(op, a_in, "first input");
  check_defined(op, b_in, "second input");
  const Promoted promoted = promote(a_in, b_in);  // not a structured binding: lambdas capture a, b
  const Tensor& a = promoted.a;
  const Tensor& b = promoted.b;
  LAMINA_CHECK_DTYPE(cond.dtype() == DType::b8, op, ": the condition must be a bool tensor, got ",
                     dtype_name(cond.dtype()));
  check_same(op, a, b);
  check_same_device(op, cond, a);
  check_any_device(op, a);
  const Shape shape = broadcast_shape(op, broadcast_shape(op, cond.shape(), a.shape()), b.shape());
  Tensor y = Tensor::empty(shape, a.dtype());
  const Shape sc = broadcast_strides(cond, shape), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  visit_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, a).where(static_cast<int>(shape.size()), shape.data(), cond.data<bool>(), sc.data(),
                                a.data<T>(), sa.data(), b.data<T>(), sb.data(), y.data<T>());
  });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(op, {cond, a, b}, {y}, [c = cond.detach(), sa = a.shape(), sb = b.shape(),
                                             na = a.requires_grad(), nb = b.requires_grad()](const std::vector<Tensor>& g) {
      const Tensor zero = Tensor::zeros({}, g[0].dtype());
      return std::vector<Tensor>{Tensor(), na ? sum_to(where(c, g[0], zero), sa) : Tensor(),
                                 nb ? sum_to(where(c, zero, g[0]), sb) : Tensor()};
    });
  return y;
}

namespace {

// y (y_shape: [outer, K, inner]) picked from xpart [outer, C, inner] (contiguous; x itself,
// or x restricted to the index's extents outside axis) by the kernel fwd selects; the
// backward adds dy back through the kernel bwd selects, into x's shape.
template <class Fwd, class Bwd>
Tensor pick(const char* op, const Tensor& x, const Tensor& xpart, int64_t axis, const Tensor& index,
            const Tensor& index_in, int64_t K, const Shape& y_shape, Fwd fwd, Bwd bwd) {
  const AxisSplit s = split_at(xpart, axis);
  Tensor y = Tensor::empty(y_shape, x.dtype());
  visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const int64_t bad = fwd(kernels_for<T>(op, xpart))(xpart.data<T>(), s.outer, s.C, s.inner, index.data<int64_t>(),
                                                        K, y.data<T>());
    check_picked(op, bad, index, axis, s.C, x.shape());
  });
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x, index_in}, {y}, [op, s, index, K, part = xpart.shape(), shape = x.shape(),
                                              bwd](const std::vector<Tensor>& g) {
      const Tensor dy = g[0].contiguous();
      Tensor dpart = Tensor::empty(part, dy.dtype());
      dispatch(dy.dtype(), [&](auto t) {
        using T = decltype(t);
        bwd(kernels_for<T>(op, dy))(dy.data<T>(), s.outer, s.C, s.inner, index.data<int64_t>(), K, dpart.data<T>());
      });
      if (part == shape) return std::vector<Tensor>{dpart, Tensor()};
      Tensor dx = Tensor::zeros(shape, dy.dtype());  // the part of x the index did not reach gets 0
      Tensor::from_storage(dx.storage(), part, dx.strides(), 0, dx.dtype()).copy_(dpart);
      return std::vector<Tensor>{dx, Tensor()};
    });
  return y;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t axis_in, const Tensor& index_in) {
  const char* op = "index_select";
  check_defined(op, x);
  check_any_device(op, x);
  const Tensor index = int64_index(op, index_in);
  LAMINA_CHECK_SHAPE(index.dim() <= 1, op, ": the index must be 1-d, got shape ", index.shape());
  LAMINA_CHECK_SHAPE(x.dim() >= 1, op, ": cannot index a 0-d tensor");
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  Shape shape = x.shape();
  shape[axis] = index.numel();
  return pick(op, x, x.contiguous(), axis, index, index_in, index.numel(), shape,
              [](const auto& k) -> const auto& { return k.index_select; },
              [](const auto& k) -> const auto& { return k.index_select_backward; });
}

Tensor gather(const Tensor& x, int64_t axis_in, const Tensor& index_in) {
  const char* op = "gather";
  check_defined(op, x);
  check_any_device(op, x);
  const Tensor index = int64_index(op, index_in);
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  bool fits = index.dim() == x.dim();
  for (int64_t d = 0; fits && d < x.dim(); ++d) fits = d == axis || index.size(d) <= x.size(d);
  LAMINA_CHECK_SHAPE(fits, op, ": index of shape ", index.shape(), " does not fit input ", x.shape(),
                     " (same number of axes, no larger than the input outside axis ", axis, ")");
  // x restricted to the index's extents outside axis: the index reads it as [outer, C, inner].
  Shape part = index.shape();
  part[axis] = x.size(axis);
  const Tensor xpart = Tensor::from_storage(x.storage(), part, x.strides(), x.offset(), x.dtype()).contiguous();
  return pick(op, x, xpart, axis, index, index_in, index.size(axis), index.shape(),
              [](const auto& k) -> const auto& { return k.gather; },
              [](const auto& k) -> const auto& { return k.gather_backward; });
}

Tensor nonzero(const Tensor& x_in) {
  const char* op = "nonzero";
  check_defined(op, x_in);
  check_any_device(op, x_in);
  const Tensor x = x_in.detach().contiguous();
  const int ndim = static_cast<int>(x.dim());
  return visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const auto& k = kernels_for<T>(op, x);
    Tensor y = Tensor::empty({k.count_nonzero(x.data<T>(), x.numel()), x.dim()}, DType::i64);
    k.nonzero(x.data<T>(), ndim, x.shape().data(), y.data<int64_t>());
    return y;
  });
}

}  // namespace lamina
