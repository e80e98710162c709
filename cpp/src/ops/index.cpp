// Data movement along an axis: concat, slice (a range of one axis), and embedding
// (a gather of rows, whose backward scatter-adds).
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// A view of x restricted to [start, start + length) along axis (no recording).
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
  Shape shape = x.shape();
  shape[axis] = length;
  return Tensor::from_storage(x.storage(), shape, x.strides(), x.offset() + start * x.strides()[axis], x.dtype());
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t axis_in) {
  const char* op = "concat";
  LAMINA_CHECK(!xs.empty(), op, ": needs at least one tensor");
  for (const Tensor& x : xs) check_defined(op, x);
  const Tensor& first = xs[0];
  const int64_t axis = norm_axis(op, axis_in, first.dim());
  Shape shape = first.shape();
  shape[axis] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same(op, first, xs[i]);
    check_any_device(op, xs[i]);
    bool fits = xs[i].dim() == first.dim();
    for (int64_t d = 0; fits && d < first.dim(); ++d) fits = d == axis || xs[i].size(d) == first.size(d);
    LAMINA_CHECK_SHAPE(fits, op, ": tensor ", i, " has shape ", xs[i].shape(), ", which does not match ",
                       first.shape(), " outside axis ", axis);
    shape[axis] += xs[i].size(axis);
  }
  Tensor y = Tensor::empty(shape, first.dtype());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    narrow(y, axis, at, x.size(axis)).copy_(x.detach());  // concat records, not the copy
    sizes.push_back(x.size(axis));
    at += x.size(axis);
  }
  if (autograd::needs_grad(xs))
    autograd::record(op, xs, {y}, [axis, sizes](const std::vector<Tensor>& g) {
      std::vector<Tensor> grads;
      int64_t start = 0;
      for (int64_t n : sizes) {
        grads.push_back(narrow(g[0], axis, start, n).contiguous());
        start += n;
      }
      return grads;
    });
  return y;
}

Tensor cat(const std::vector<Tensor>& xs, int64_t axis) { return concat(xs, axis); }

Tensor slice(const Tensor& x, int64_t axis_in, int64_t start, int64_t stop) {
  const char* op = "slice";
  check_defined(op, x);
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  const int64_t n = x.size(axis);
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  LAMINA_CHECK_INDEX(0 <= start && start <= stop && stop <= n, op, ": range [", start, ", ", stop,
                     ") is out of bounds for axis ", axis, " of size ", n, " (shape ", x.shape(), ")");
  Tensor y = narrow(x, axis, start, stop - start).contiguous();
  if (y.storage() == x.storage()) y = y.clone();  // always a new tensor: the tape links it to x
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {y}, [axis, start, stop, shape = x.shape()](const std::vector<Tensor>& g) {
      Tensor dx = Tensor::zeros(shape, g[0].dtype());
      narrow(dx, axis, start, stop - start).copy_(g[0]);
      return std::vector<Tensor>{dx};
    });
  return y;
}

namespace ops_detail {

template <class E>
std::vector<int64_t> label_indices(const char* op, const Tensor& labels, int64_t classes, bool has_ignore,
                                   int64_t ignore_label, const char* noun, const std::string& what) {
  check_defined(op, labels, "labels");
  LAMINA_CHECK_DTYPE(labels.dtype() != DType::b8, op, ": ", noun, "s must be int32, int64, or whole numbers in a "
                     "float tensor, got a bool tensor");
  // One conversion: floats read as double (whole numbers checked), integers as int64.
  const Tensor lab = labels.detach().to(is_floating(labels.dtype()) ? DType::f64 : DType::i64).contiguous();
  check_any_device(op, lab);
  std::vector<int64_t> index(static_cast<size_t>(lab.numel()));
  visit_dtype(lab.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, double> || std::is_same_v<T, int64_t>) {
      const int64_t bad = kernels_for<T>(op, lab).class_indices(lab.data<T>(), lab.numel(), classes, has_ignore,
                                                                ignore_label, index.data());
      if (bad >= 0) detail::raise<E>(op, ": ", noun, " ", lab.data<T>()[bad], " at position ", bad, " is not ", what);
    }
  });
  return index;
}

template std::vector<int64_t> label_indices<ValueError>(const char*, const Tensor&, int64_t, bool, int64_t,
                                                        const char*, const std::string&);
template std::vector<int64_t> label_indices<IndexError>(const char*, const Tensor&, int64_t, bool, int64_t,
                                                        const char*, const std::string&);

}  // namespace ops_detail

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  const char* op = "embedding";
  check_defined(op, indices, "indices");
  check_defined(op, weight, "weight");
  check_device(op, weight);
  LAMINA_CHECK_SHAPE(weight.dim() == 2, op, ": weight must be [num_embeddings, dim], got ", weight.shape());
  const int64_t V = weight.size(0), D = weight.size(1);
  const int64_t n = indices.numel();
  auto rows = std::make_shared<std::vector<int64_t>>(label_indices<IndexError>(
      op, indices, V, false, 0, "index", "a row of a table with " + std::to_string(V) + " rows"));
  Shape shape = indices.shape();
  shape.push_back(D);
  Tensor wc = weight.contiguous();
  Tensor y = Tensor::empty(shape, weight.dtype());
  dispatch(wc.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels_for<T>(op, wc).embedding(wc.data<T>(), rows->data(), n, D, y.data<T>());
  });
  if (autograd::needs_grad({&weight}))
    autograd::record(op, {indices, weight}, {y}, [rows, n, V, D](const std::vector<Tensor>& g) {
      Tensor dy = g[0].contiguous();
      Tensor dw = Tensor::empty({V, D}, dy.dtype());
      dispatch(dy.dtype(), [&](auto z) {
        using T = decltype(z);
        kernels_for<T>("embedding", dy).embedding_backward(dy.data<T>(), rows->data(), n, V, D, dw.data<T>());
      });
      return std::vector<Tensor>{Tensor(), dw};
    });
  return y;
}

}  // namespace lamina
