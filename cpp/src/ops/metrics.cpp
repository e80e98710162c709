// top_k and accuracy (ops/metrics.hpp): validation and the dispatch.
#include "ops/metrics.hpp"

#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k, int64_t axis_in) {
  const char* op = "top_k";
  check_defined(op, x);
  check_device(op, x);
  const int64_t axis = norm_axis(op, axis_in, x.dim());
  const AxisSplit s = split_at(x, axis);
  LAMINA_CHECK(k >= 0 && k <= s.C, op, ": k ", k, " is not in [0, ", s.C, "] for axis ", axis, " of shape ",
               x.shape());
  Shape shape = x.shape();
  shape[axis] = k;
  const Tensor xc = x.detach().contiguous();
  Tensor indices = Tensor::empty(shape, x.dtype()), values = Tensor::empty(shape, x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, xc).top_k(xc.data<T>(), s.outer, s.C, s.inner, k, indices.data<T>(), values.data<T>());
  });
  return {indices, values};
}

Tensor accuracy(const Tensor& scores, const Tensor& labels, int64_t top_k, int64_t axis_in, bool has_ignore,
                int64_t ignore_label, Tensor* per_class) {
  const char* op = "accuracy";
  check_defined(op, scores);
  check_defined(op, labels, "labels");
  check_device(op, scores);
  const int64_t axis = norm_axis(op, axis_in, scores.dim());
  const AxisSplit s = split_at(scores, axis);
  LAMINA_CHECK_SHAPE(labels.numel() == s.outer * s.inner, op, ": labels of shape ", labels.shape(),
                     " do not give one label per position of scores ", scores.shape(), " (classes on axis ", axis,
                     ")");
  const Tensor sc = scores.detach().contiguous(), lab = labels.detach().to(scores.dtype()).contiguous();
  Tensor pc = per_class ? Tensor::empty({s.C}, DType::f64) : Tensor();
  double value = 0;
  dispatch(scores.dtype(), [&](auto t) {
    using T = decltype(t);
    const int64_t bad = kernels_for<T>(op, sc).accuracy(sc.data<T>(), lab.data<T>(), s.outer, s.C, s.inner, top_k,
                                                        has_ignore, ignore_label, &value, data_or_null<double>(pc));
    LAMINA_CHECK(bad < 0, "Accuracy: label ", static_cast<int64_t>(lab.data<T>()[bad]), " is outside [0, ", s.C, ")");
  });
  if (per_class) *per_class = pc.to(scores.dtype());
  return Tensor::full({}, value, scores.dtype());
}

}  // namespace lamina
