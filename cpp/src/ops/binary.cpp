// Binary element-wise ops with NumPy broadcasting: arithmetic (add, sub, mul also on
// integers), comparisons into bool, and the logical ops. Backward: each input's gradient is
// the pointwise rule summed back over the axes it was broadcast along (sum_to).
#include <algorithm>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LAMINA_CHECK_SHAPE(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                       " do not broadcast (axis ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Which dtypes an elementwise op takes besides float32 and float64.
enum class Takes { floats, numbers, all };  // numbers: and the integers; all: and bool

// Validates a binary op's inputs (defined, one dtype the op takes, one device) and
// returns the broadcast shape.
Shape check_binary(const char* op, const Tensor& a, const Tensor& b, Takes takes) {
  check_defined(op, a, "first input");
  check_defined(op, b, "second input");
  check_same(op, a, b);
  const DType d = a.dtype();
  if (takes == Takes::floats || (takes == Takes::numbers && d == DType::b8)) check_float(op, d);
  check_any_device(op, a);
  return broadcast_shape(op, a.shape(), b.shape());
}

// out = f(a, b) elementwise with broadcasting; a and b may be strided.
Tensor apply(const char* op, const Tensor& a, const Tensor& b, kernels::Binary f, Takes takes) {
  Tensor out = Tensor::empty(check_binary(op, a, b, takes), a.dtype());
  binary_into(op, f, a, b, out);
  return out;
}

}  // namespace

namespace ops_detail {

namespace {

int category(DType d) { return d == DType::b8 ? 0 : (is_floating(d) ? 2 : 1); }

DType wider(DType a, DType b) {
  if (category(a) != category(b)) return category(a) > category(b) ? a : b;
  return dtype_size(a) >= dtype_size(b) ? a : b;
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  const DType da = a.dtype(), db = b.dtype();
  if ((a.dim() == 0) == (b.dim() == 0)) return wider(da, db);
  const DType axes = a.dim() ? da : db, scalar = a.dim() ? db : da;
  return category(scalar) > category(axes) ? scalar : axes;
}

Promoted promote(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.dtype() == b.dtype()) return {a, b};
  const DType d = result_type(a, b);
  return {a.dtype() == d ? a : a.to(d), b.dtype() == d ? b : b.to(d)};
}

void binary_into(const char* op, kernels::Binary f, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape& shape = out.shape();
  visit_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    const auto& k = kernels_for<T>(op, a);
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
      k.binary(f, out.numel(), a.data<T>(), b.data<T>(), out.data<T>());
    } else {
      Shape sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
      k.binary_strided(f, static_cast<int>(shape.size()), shape.data(), a.data<T>(), sa.data(), b.data<T>(),
                       sb.data(), out.data<T>());
    }
  });
}

}  // namespace ops_detail

namespace {

// out = (a OP b) as bool, with broadcasting (the operands promoted to one dtype first).
Tensor comparison(const char* op, const Tensor& a_in, const Tensor& b_in, kernels::Compare c) {
  // Named tensors, not a structured binding: C++17 lambdas cannot capture bindings.
  const Promoted promoted = promote(a_in, b_in);
  const Tensor& a = promoted.a;
  const Tensor& b = promoted.b;
  Shape shape = check_binary(op, a, b, Takes::all);
  Tensor out = Tensor::empty(shape, DType::b8);
  Shape sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  visit_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>(op, a).compare(c, static_cast<int>(shape.size()), shape.data(), a.data<T>(), sa.data(),
                                  b.data<T>(), sb.data(), out.data<bool>());
  });
  return out;
}

// div is true division: integer and bool operands become float32 (as PyTorch's /).
Promoted true_division(const Tensor& a, const Tensor& b) {
  Promoted p = promote(a, b);
  if (p.a.defined() && p.b.defined() && !is_floating(p.a.dtype())) p = {p.a.to(DType::f32), p.b.to(DType::f32)};
  return p;
}

struct Needs {
  bool a, b;
};
Needs needs(const Tensor& a, const Tensor& b) { return {a.requires_grad(), b.requires_grad()}; }

}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = promote(a_in, b_in);
  Tensor y = apply("add", a, b, kernels::Binary::add, Takes::all);
  if (autograd::needs_grad({&a, &b}))
    autograd::record("add", {a, b}, {y}, [sa = a.shape(), sb = b.shape(), n = needs(a, b)](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{n.a ? sum_to(g[0], sa) : Tensor(), n.b ? sum_to(g[0], sb) : Tensor()};
    });
  return y;
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = promote(a_in, b_in);
  Tensor y = apply("sub", a, b, kernels::Binary::sub, Takes::numbers);
  if (autograd::needs_grad({&a, &b}))
    autograd::record("sub", {a, b}, {y}, [sa = a.shape(), sb = b.shape(), n = needs(a, b)](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{n.a ? sum_to(g[0], sa) : Tensor(), n.b ? sum_to(neg(g[0]), sb) : Tensor()};
    });
  return y;
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = promote(a_in, b_in);
  Tensor y = apply("mul", a, b, kernels::Binary::mul, Takes::all);
  if (autograd::needs_grad({&a, &b}))
    // Each input is saved only for the other's gradient: x * 2 keeps nothing of x, so
    // writing x in place afterwards leaves this backward valid.
    autograd::record("mul", {a, b}, {y}, [A = SavedTensor(needs(a, b).b ? a : Tensor()), B = SavedTensor(needs(a, b).a ? b : Tensor()),
                                          sa = a.shape(), sb = b.shape(), n = needs(a, b)](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{n.a ? sum_to(mul(g[0], B.get("mul")), sa) : Tensor(),
                                 n.b ? sum_to(mul(g[0], A.get("mul")), sb) : Tensor()};
    });
  return y;
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = true_division(a_in, b_in);
  Tensor y = apply("div", a, b, kernels::Binary::div, Takes::floats);
  if (autograd::needs_grad({&a, &b}))
    autograd::record("div", {a, b}, {y}, [B = SavedTensor(b), Y = SavedTensor(needs(a, b).b ? y : Tensor()), sa = a.shape(),
                                          n = needs(a, b)](const std::vector<Tensor>& g) {
      const Tensor& bv = B.get("div");
      Tensor ga = div(g[0], bv);  // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b = -y/b
      return std::vector<Tensor>{n.a ? sum_to(ga, sa) : Tensor(),
                                 n.b ? sum_to(neg(mul(ga, Y.get("div"))), bv.shape()) : Tensor()};
    });
  return y;
}

Tensor pow(const Tensor& a_in, const Tensor& b_in) {
  const auto [a, b] = promote(a_in, b_in);
  Tensor y = apply("pow", a, b, kernels::Binary::pow, Takes::floats);
  if (autograd::needs_grad({&a, &b}))
    autograd::record("pow", {a, b}, {y}, [A = SavedTensor(a), B = SavedTensor(b), Y = SavedTensor(y), n = needs(a, b)](const std::vector<Tensor>& g) {
      const Tensor& av = A.get("pow");
      const Tensor& bv = B.get("pow");
      const Tensor zero = Tensor::zeros({}, av.dtype()), one = Tensor::full({}, 1.0, av.dtype());
      Tensor da, db;
      // da = g b a^(b-1), taken as 0 where b = 0 (a^(b-1) may be infinite there): the
      // exponent b - 1 + [b = 0] gives b a^0 = 0 at those points.
      if (n.a) da = sum_to(mul(g[0], mul(bv, pow(av, add(sub(bv, one), equal(bv, zero).to(av.dtype()))))), av.shape());
      // db = g y log(a), taken as 0 where a = 0 and b >= 0 (y is 0 or 1 there; log(a) is
      // -inf): log(a + [a = 0 and b >= 0]) is log(1) = 0 at those points. As PyTorch.
      if (n.b) {
        Tensor at_zero = mul(equal(av, zero).to(av.dtype()), sub(one, less(bv, zero).to(av.dtype())));
        db = sum_to(mul(mul(g[0], Y.get("pow")), log(add(av, at_zero))), bv.shape());
      }
      return std::vector<Tensor>{da, db};
    });
  return y;
}

Tensor greater(const Tensor& a, const Tensor& b) { return comparison("greater", a, b, kernels::Compare::greater); }
Tensor less(const Tensor& a, const Tensor& b) { return comparison("less", a, b, kernels::Compare::less); }
Tensor equal(const Tensor& a, const Tensor& b) { return comparison("equal", a, b, kernels::Compare::equal); }
Tensor greater_equal(const Tensor& a, const Tensor& b) {
  return comparison("greater_equal", a, b, kernels::Compare::greater_equal);
}
Tensor less_equal(const Tensor& a, const Tensor& b) {
  return comparison("less_equal", a, b, kernels::Compare::less_equal);
}
Tensor not_equal(const Tensor& a, const Tensor& b) {
  return comparison("not_equal", a, b, kernels::Compare::not_equal);
}

// The logical ops read any dtype as x != 0 (the kernels do), and give bool.
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return apply("logical_and", a, b, kernels::Binary::logical_and, Takes::all).to(DType::b8);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return apply("logical_or", a, b, kernels::Binary::logical_or, Takes::all).to(DType::b8);
}
Tensor logical_not(const Tensor& x) {
  check_defined("logical_not", x);
  return comparison("logical_not", x, Tensor::zeros({}, x.dtype()), kernels::Compare::equal);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Shape out = broadcast_shape("expand", x.shape(), shape);
  LAMINA_CHECK_SHAPE(out == shape, "expand: cannot expand shape ", x.shape(), " to ", shape);
  check_any_device("expand", x);
  // x read through its broadcast strides, straight into the output (no second operand).
  Tensor y = Tensor::empty(shape, x.dtype());
  const Shape sx = broadcast_strides(x, shape);
  visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("expand", x).binary_strided(kernels::Binary::first, static_cast<int>(shape.size()), shape.data(),
                                               x.data<T>(), sx.data(), x.data<T>(), sx.data(), y.data<T>());
  });
  if (autograd::needs_grad({&x}))
    autograd::record("expand", {x}, {y}, [sx = x.shape()](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{sum_to(g[0], sx)};
    });
  return y;
}

}  // namespace lamina
