// In-place arithmetic on Tensor (add_, sub_, mul_, div_, clamp_); the autograd rules are in
// tensor.hpp. Unrecorded writes go straight into x (through a temporary when x is not
// contiguous). A recorded write computes the out-of-place op (on a clone of x when that op
// saves x for its backward, which the write would invalidate), copies the result into x,
// and commits it (tensor_impl.hpp): every backward rule is the out-of-place op's.
#include <limits>

#include "ops/common.hpp"
#include "tensor_impl.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// Writes r's values into x (which r was computed from) and bumps x's version.
void write_back(Tensor& x, const Tensor& r) {
  NoGradGuard no_grad;  // a plain copy: the caller records (or not)
  x.copy_(r);
}

Tensor& binary_in_place(const char* op, Tensor& x, const Tensor& other, kernels::Binary f,
                        Tensor (*out_of_place)(const Tensor&, const Tensor&), bool saves_x) {
  check_defined(op, x, "tensor");
  check_defined(op, other, "other operand");
  check_same(op, x, other);
  check_device(op, x);
  LAMINA_CHECK_SHAPE(broadcasts_to(other.shape(), x.shape()), op, ": cannot broadcast ",
                     other.shape(), " to ", x.shape(), ", the shape of the tensor written in place");
  const bool record = inplace::must_record(op, x, {&other});
  const Tensor y = other.storage() == x.storage() ? other.clone() : other;  // read before any write
  if (record) {
    const Tensor xv = inplace::current(x);
    Tensor r = out_of_place(saves_x ? xv.clone() : xv, y);
    write_back(x, r);
    inplace::commit(op, x, r);
    return x;
  }
  // Contiguous x is written where it is read; strided x goes through a temporary.
  Tensor out = x.is_contiguous() ? x : Tensor::empty(x.shape(), x.dtype());
  binary_into(op, f, x, y, out);
  if (out.is_same(x)) {
    x.storage()->bump_version();
  } else {
    write_back(x, out);
  }
  return x;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other) { return binary_in_place("add_", *this, other, kernels::Binary::add, &add, false); }
Tensor& Tensor::sub_(const Tensor& other) { return binary_in_place("sub_", *this, other, kernels::Binary::sub, &sub, false); }
Tensor& Tensor::mul_(const Tensor& other) { return binary_in_place("mul_", *this, other, kernels::Binary::mul, &mul, true); }
Tensor& Tensor::div_(const Tensor& other) { return binary_in_place("div_", *this, other, kernels::Binary::div, &div, true); }

// A number is a 0-d tensor of x's dtype.
#define LAMINA_SCALAR_IN_PLACE(name)                  \
  Tensor& Tensor::name(double other) {                \
    check_defined(#name, *this, "tensor");            \
    return name(Tensor::full({}, other, dtype()));    \
  }
LAMINA_SCALAR_IN_PLACE(add_)
LAMINA_SCALAR_IN_PLACE(sub_)
LAMINA_SCALAR_IN_PLACE(mul_)
LAMINA_SCALAR_IN_PLACE(div_)
#undef LAMINA_SCALAR_IN_PLACE

Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  const char* op = "clamp_";
  check_defined(op, *this, "tensor");
  check_device(op, *this);
  LAMINA_CHECK(lo || hi, op, ": needs a lower bound, an upper bound, or both");
  const double params[2] = {lo.value_or(-std::numeric_limits<double>::infinity()),
                            hi.value_or(std::numeric_limits<double>::infinity())};
  LAMINA_CHECK(params[0] <= params[1], op, ": lower bound ", params[0], " is above upper bound ", params[1]);
  if (inplace::must_record(op, *this, {})) {
    Tensor r = clip(inplace::current(*this).clone(), params[0], params[1]);  // clip saves its input: a clone
    write_back(*this, r);
    inplace::commit(op, *this, r);
    return *this;
  }
  if (!is_contiguous()) {
    Tensor r = clip(*this, params[0], params[1]);
    write_back(*this, r);
    return *this;
  }
  dispatch(dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, *this).clip(numel(), data<T>(), data<T>(), params);
  });
  storage()->bump_version();
  return *this;
}

}  // namespace lamina
