// batch_norm: one op with a fused kernel (statistics, normalise, closed-form backward),
// see kernels/cpu/batch_norm.cpp; scale_shift, the same kernels with a mean of 0 and an
// inverse deviation of 1.
#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, bool relu) {
  const char* op = "batch_norm";
  check_defined(op, x);
  check_device(op, x);
  LAMINA_CHECK_SHAPE(x.dim() >= 2, op, ": expected input [N, C, ...], got ", x.shape());
  const int64_t N = x.size(0), C = x.size(1), S = C > 0 && N > 0 ? x.numel() / (N * C) : 0;
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias}) {
    if (!t->defined()) continue;
    LAMINA_CHECK_SHAPE(t->dim() == 1 && t->size(0) == C, op, ": per-channel tensors must be [", C, "], got ",
                       t->shape(), " for input ", x.shape());
    check_same(op, x, *t);
  }
  LAMINA_CHECK(eps > 0, op, ": eps must be > 0, got ", eps);
  for (const Tensor* t : {&running_mean, &running_var})
    LAMINA_CHECK(!t->defined() || t->is_contiguous(), op, ": running statistics must be contiguous (updated in place)");
  const int64_t M = N * S;
  if (training)
    LAMINA_CHECK_SHAPE(M > 1, op, ": training needs more than one value per channel, got input ", x.shape());
  else
    LAMINA_CHECK(running_mean.defined() && running_var.defined(), op,
                 ": inference needs running_mean and running_var");

  Tensor xc = x.contiguous();
  Tensor mean = Tensor::empty({C}, x.dtype()), invstd = Tensor::empty({C}, x.dtype());
  Tensor w = weight.defined() ? weight.contiguous() : Tensor(), b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const kernels::Typed<T>& k = kernels_for<T>(op, xc);
    T* pm = mean.data<T>();
    T* pi = invstd.data<T>();
    if (training) {
      Tensor var = Tensor::empty({C}, x.dtype());
      k.batch_norm_stats(xc.data<T>(), N, C, S, pm, var.data<T>());
      k.batch_norm_invstd(var.data<T>(), C, eps, pi);
      // Running averages (buffers, outside the graph); the variance kept is unbiased.
      k.batch_norm_running(pm, var.data<T>(), C, momentum, static_cast<double>(M) / static_cast<double>(M - 1),
                           data_or_null<T>(running_mean), data_or_null<T>(running_var));
      for (const Tensor* r : {&running_mean, &running_var})
        if (r->defined()) r->storage()->bump_version();
    } else {
      mean.copy_(running_mean);
      k.batch_norm_invstd(running_var.data<T>(), C, eps, pi);
    }
    k.batch_norm_apply(xc.data<T>(), pm, pi, data_or_null<T>(w), data_or_null<T>(b), N, C, S, relu, y.data<T>());
  });
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record(op, {x, weight, bias}, {y},
                     [X = SavedTensor(xc), W = SavedTensor(w), B = SavedTensor(relu ? b : Tensor()), mean,
                      invstd, training, relu, N, C, S, nx = x.requires_grad(),
                      nw = weight.defined() && weight.requires_grad(),
                      nb = bias.defined() && bias.requires_grad()](const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("batch_norm");
                       const Tensor& wv = W.get("batch_norm");
                       const Tensor& bv = B.get("batch_norm");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = nx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
                       Tensor dw = nw ? Tensor::empty({C}, xv.dtype()) : Tensor();
                       Tensor db = nb ? Tensor::empty({C}, xv.dtype()) : Tensor();
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         kernels_for<T>("batch_norm", xv).batch_norm_backward(
                             xv.data<T>(), dy.data<T>(), mean.data<T>(), invstd.data<T>(), data_or_null<T>(wv),
                             data_or_null<T>(bv), N, C, S, training, relu, data_or_null<T>(dx), data_or_null<T>(dw),
                             data_or_null<T>(db));
                       });
                       return std::vector<Tensor>{dx, dw, db};
                     });
  return y;
}

Tensor scale_shift(const Tensor& x, const Tensor& scale, const Tensor& shift, int64_t axis) {
  const char* op = "scale_shift";
  check_defined(op, x);
  check_defined(op, scale, "scale");
  check_device(op, x);
  check_same(op, x, scale);
  // Checked as axis <= dim - scale.dim() so that a huge axis cannot wrap around.
  LAMINA_CHECK_SHAPE(axis >= 0 && scale.dim() <= x.dim() && axis <= x.dim() - scale.dim() &&
                         std::equal(scale.shape().begin(), scale.shape().end(), x.shape().begin() + axis),
                     op, ": scale ", scale.shape(), " does not match input ", x.shape(), " from axis ", axis);
  if (shift.defined()) {
    check_same(op, x, shift);
    LAMINA_CHECK_SHAPE(shift.shape() == scale.shape(), op, ": shift ", shift.shape(), " differs from scale ",
                       scale.shape());
  }
  // x as [N, C, S]: the axes before, along and after scale's.
  const int64_t end = axis + scale.dim();
  int64_t N = 1, S = 1;
  for (int64_t i = 0; i < axis; ++i) N *= x.size(i);
  for (int64_t i = end; i < x.dim(); ++i) S *= x.size(i);
  const int64_t C = scale.numel();
  Tensor xc = x.contiguous(), s = scale.contiguous(), b = shift.defined() ? shift.contiguous() : Tensor();
  Tensor zeros = Tensor::zeros({C}, x.dtype()), ones = Tensor::full({C}, 1.0, x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, xc).batch_norm_apply(xc.data<T>(), zeros.data<T>(), ones.data<T>(), s.data<T>(),
                                            data_or_null<T>(b), N, C, S, false, y.data<T>());
  });
  if (autograd::needs_grad({&x, &scale, &shift}))
    autograd::record(op, {x, scale, shift}, {y},
                     [X = SavedTensor(xc), W = SavedTensor(s), zeros, ones, N, C, S, nx = x.requires_grad(),
                      ns = scale.requires_grad(), nb = shift.defined() && shift.requires_grad(),
                      shape = scale.shape()](const std::vector<Tensor>& g) {
                       const Tensor& xv = X.get("scale_shift");
                       const Tensor& wv = W.get("scale_shift");
                       Tensor dy = g[0].contiguous();
                       Tensor dx = nx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
                       Tensor ds = ns ? Tensor::empty(shape, xv.dtype()) : Tensor();
                       Tensor db = nb ? Tensor::empty(shape, xv.dtype()) : Tensor();
                       dispatch(xv.dtype(), [&](auto t) {
                         using T = decltype(t);
                         kernels_for<T>("scale_shift", xv).batch_norm_backward(
                             xv.data<T>(), dy.data<T>(), zeros.data<T>(), ones.data<T>(), wv.data<T>(), nullptr, N, C,
                             S, false, false, data_or_null<T>(dx), data_or_null<T>(ds), data_or_null<T>(db));
                       });
                       return std::vector<Tensor>{dx, ds, db};
                     });
  return y;
}

}  // namespace lamina
