// lamina.ops: every op of ops.hpp under the same name, and the tape's Python surface
// (Tensor.backward, .grad, no_grad's switch, grad(), custom functions).
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>

#include "bind.hpp"

namespace lamina::bind {

namespace {

// A Python number becomes a 0-d tensor of the other operand's dtype when its kind fits
// (an int beside any number, a bool beside anything); otherwise of its own default dtype
// (float32 for a float, int64 for an int), which the op's type promotion then picks (an
// int64 tensor times 2.5 is float32, as PyTorch). An int is exact up to 2^53 (a double).
Tensor as_tensor(py::handle v, const Tensor& like) {
  if (py::isinstance<Tensor>(v)) return v.cast<Tensor>();
  if (py::isinstance<py::float_>(v) && !is_floating(like.dtype())) return Tensor::full({}, v.cast<double>(), DType::f32);
  if (py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v) && like.dtype() == DType::b8)
    return Tensor::full({}, v.cast<double>(), DType::i64);
  if (py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v))  // bool is an int
    return Tensor::full({}, v.cast<double>(), like.dtype());
  throw DTypeError("expected a lamina.Tensor or a number, got " + py::str(py::type::of(v)).cast<std::string>());
}

// A binary op with a Python number on either side (reflected: the number comes first).
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor with_number(const Tensor& a, py::handle b) {
  return F(a, as_tensor(b, a));
}
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor with_number_reflected(const Tensor& a, py::handle b) {
  return F(as_tensor(b, a), a);
}
// == and != with something that is neither a tensor nor a number (None, a string) are
// Python's identity comparisons (False, True), as PyTorch's.
template <Tensor (*F)(const Tensor&, const Tensor&)>
py::object equality(const Tensor& a, py::handle b) {
  if (!py::isinstance<Tensor>(b) && !py::isinstance<py::int_>(b) && !py::isinstance<py::float_>(b))
    return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  return py::cast(F(a, as_tensor(b, a)));
}

std::vector<int64_t> axes_arg(py::handle axis, const char* what) {
  return axis.is_none() ? std::vector<int64_t>{} : to_int64s(axis, what, "axis");
}

// Holds a Python callable from C++ closures that may die without the GIL.
std::shared_ptr<py::object> keep(py::object fn) {
  return std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    delete p;
  });
}

void record_function(const std::string& name, const std::vector<Tensor>& inputs,
                     const std::vector<Tensor>& outputs, py::object backward) {
  if (!autograd::needs_grad(inputs)) return;
  auto fn = keep(std::move(backward));
  auto label = std::make_shared<std::string>(name);
  autograd::record(label->c_str(), inputs, outputs, [fn, label, n = inputs.size()](const std::vector<Tensor>& g) {
    py::gil_scoped_acquire gil;
    py::tuple args(g.size());
    for (size_t i = 0; i < g.size(); ++i) args[i] = py::cast(g[i]);
    py::object r = (*fn)(*args);
    std::vector<Tensor> grads;
    if (py::isinstance<py::tuple>(r) || py::isinstance<py::list>(r)) {
      for (py::handle h : r) grads.push_back(h.is_none() ? Tensor() : h.cast<Tensor>());
    } else {
      grads.push_back(r.is_none() ? Tensor() : r.cast<Tensor>());
    }
    LAMINA_CHECK_AS(AutogradError, grads.size() == n, *label, ".backward returned ", grads.size(),
                    " gradients for ", n, " inputs");
    return grads;
  });
}

// An int or an (h, w) pair.
std::pair<int64_t, int64_t> pair_arg(py::handle v, const char* op, const char* what) {
  if (is_int_like(v)) return {to_int64(v, op, what), to_int64(v, op, what)};
  if (py::isinstance<py::sequence>(v) && py::len(v) == 2) {
    auto s = v.cast<py::sequence>();
    return {to_int64(s[0], op, what), to_int64(s[1], op, what)};
  }
  throw ValueError(std::string(op) + ": " + what + " must be an int or an (h, w) pair, got " +
                   py::repr(v).cast<std::string>());
}

std::optional<double> optional_double(py::handle v) {
  return v.is_none() ? std::nullopt : std::optional<double>(v.cast<double>());
}

// base ** exponent: a number exponent is pow(x, double); otherwise both become tensors.
Tensor pow_arg(py::handle base, py::handle exponent) {
  if (py::isinstance<Tensor>(base) && (py::isinstance<py::float_>(exponent) || py::isinstance<py::int_>(exponent)))
    return pow(base.cast<Tensor>(), exponent.cast<double>());  // pow checks the dtype, naming itself
  if (py::isinstance<Tensor>(base) && !py::isinstance<Tensor>(exponent))
    return pow(base.cast<Tensor>(), as_tensor(exponent, base.cast<Tensor>()).item());
  if (py::isinstance<Tensor>(base)) return pow(base.cast<Tensor>(), exponent.cast<Tensor>());
  const Tensor e = exponent.cast<Tensor>();
  return pow(as_tensor(base, e), e);
}

// x.method(other) in place for a tensor or a number; returns the same Python object.
template <Tensor& (Tensor::*method)(const Tensor&)>
py::object in_place(py::object self, py::handle other) {
  Tensor& t = self.cast<Tensor&>();
  (t.*method)(as_tensor(other, t));
  return self;
}

// x.max(axis) / x.argmax(axis); no axis: over all elements (argmax: the flat index).
template <Tensor (*fn)(const Tensor&, int64_t, bool)>
Tensor over_axis(const Tensor& x, py::handle axis, bool keepdim) {
  if (!axis.is_none()) return fn(x, to_int64(axis, "max/argmax", "axis"), keepdim);
  Tensor y = fn(x.reshape({-1}), 0, false);
  return keepdim ? y.reshape(Shape(static_cast<size_t>(x.dim()), 1)) : y;
}

// Axis lists given as ints, one sequence, or varargs (permute(2, 0, 1) or permute((2, 0, 1))).
std::vector<int64_t> axes_args(const py::args& args, const char* what) {
  return args.size() == 1 ? to_shape(args[0], what, true) : to_shape(args, what, true);
}

Pool2dOptions pool_args(const char* op, py::handle kernel, py::handle stride, py::handle pad, bool ceil_mode,
                        bool global) {
  Pool2dOptions o;
  o.global = global;
  o.ceil_mode = ceil_mode;
  if (!global) std::tie(o.kernel_h, o.kernel_w) = pair_arg(kernel, op, "kernel");
  std::tie(o.stride_h, o.stride_w) = stride.is_none() ? std::make_pair(o.kernel_h, o.kernel_w) : pair_arg(stride, op, "stride");
  std::tie(o.pad_h, o.pad_w) = pair_arg(pad, op, "pad");
  return o;
}

}  // namespace

void bind_ops(py::module_& m, py::class_<Tensor>& tensor) {
  py::module_ ops = m.def_submodule("ops", "lamina's operations on tensors (same names as in C++).");

#define LAMINA_UNARY(name, fwd, bwd) \
  ops.def(#name, py::overload_cast<const Tensor&>(&lamina::name), py::arg("x"), Release());
#include "lamina/pointwise.def"
#undef LAMINA_UNARY
  def_checked(ops, "leaky_relu", &leaky_relu, py::arg("x"), py::arg("negative_slope") = 0.01, Release());
  def_checked(ops, "elu", &elu, py::arg("x"), py::arg("alpha") = 1.0, Release());
  def_checked(ops, "power", &power, py::arg("x"), py::arg("power"), py::arg("scale") = 1.0, py::arg("shift") = 0.0, Release());
  ops.def("pow", &pow_arg, py::arg("x"), py::arg("exponent"),
          "x ** exponent; either may be a tensor (broadcast) or a number.");
  def_checked(ops, "clip", &clip, py::arg("x"), py::arg("lo"), py::arg("hi"), Release());
  ops.def("clamp", [](const Tensor& x, py::object lo, py::object hi) { return clamp(x, optional_double(lo), optional_double(hi)); },
          py::arg("x"), py::arg("min") = py::none(), py::arg("max") = py::none());
  def_checked(ops, "threshold", &threshold, py::arg("x"), py::arg("threshold") = 0.0, Release());
  def_checked(ops, "affine", &affine, py::arg("x"), py::arg("scale"), py::arg("shift") = 0.0, Release());
  ops.def("add", &add, py::arg("a"), py::arg("b"), Release());
  ops.def("sub", &sub, py::arg("a"), py::arg("b"), Release());
  ops.def("mul", &mul, py::arg("a"), py::arg("b"), Release());
  ops.def("div", &div, py::arg("a"), py::arg("b"), Release());
  for (auto [name, fn] : {std::pair{"greater", &greater}, std::pair{"less", &less}, std::pair{"equal", &equal},
                          std::pair{"greater_equal", &greater_equal}, std::pair{"less_equal", &less_equal},
                          std::pair{"not_equal", &not_equal}, std::pair{"logical_and", &logical_and},
                          std::pair{"logical_or", &logical_or}})
    ops.def(name, fn, py::arg("a"), py::arg("b"), Release());
  ops.def("logical_not", &logical_not, py::arg("x"), Release());
  ops.def("where", &where, py::arg("cond"), py::arg("a"), py::arg("b"), Release(),
          "cond (bool) ? a : b elementwise, broadcasting; the gradient goes to a where cond holds, else to b.");
  def_checked(ops, "index_select", &index_select, py::arg("x"), py::arg("axis"), py::arg("index"), Release(),
          "x's slices index[0..K) (a 1-d int32/int64 tensor) along axis.");
  def_checked(ops, "gather", &gather, py::arg("x"), py::arg("axis"), py::arg("index"), Release(),
          "PyTorch's gather: y[i][j][k] = x[i][index[i][j][k]][k] for axis 1.");
  ops.def("nonzero", &nonzero, py::arg("x"), Release(), "The indices of x's nonzero elements: int64 [K, x.ndim].");
  ops.def("sum", [](const Tensor& x, py::object axis, bool keepdim) { return sum(x, axes_arg(axis, "sum"), keepdim); },
          py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false);
  ops.def("mean", [](const Tensor& x, py::object axis, bool keepdim) { return mean(x, axes_arg(axis, "mean"), keepdim); },
          py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false);
  def_checked(ops, "max", &lamina::max, py::arg("x"), py::arg("axis"), py::arg("keepdim") = false, Release());
  def_checked(ops, "argmax", &argmax, py::arg("x"), py::arg("axis"), py::arg("keepdim") = false, Release());
  def_checked(ops, "l2_normalize", &l2_normalize, py::arg("x"), py::arg("axis") = 1, py::arg("eps") = 1e-12, Release());
  ops.def("sum_to", [](const Tensor& x, py::handle shape) { return sum_to(x, to_shape(shape, "sum_to")); });
  ops.def("expand", [](const Tensor& x, py::handle shape) { return expand(x, to_shape(shape, "expand")); });
  ops.def("matmul", &matmul, py::arg("a"), py::arg("b"), Release(), "a [M, K] @ b [K, N] -> [M, N].");
  ops.def("linear", [](const Tensor& x, const Tensor& w, py::object b) {
    const Tensor bias = optional_tensor(b);
    py::gil_scoped_release release;
    return linear(x, w, bias);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), "x [N, K] @ weight[O, K]^T + bias [O] -> [N, O].");
  def_checked(ops, "conv2d", [](const Tensor& x, const Tensor& w, py::object b, py::object stride, py::object pad,
                       py::object dilation, int64_t groups) {
    Conv2dOptions o;
    std::tie(o.stride_h, o.stride_w) = pair_arg(stride, "conv2d", "stride");
    std::tie(o.pad_h, o.pad_w) = pair_arg(pad, "conv2d", "pad");
    std::tie(o.dilation_h, o.dilation_w) = pair_arg(dilation, "conv2d", "dilation");
    o.groups = groups;
    Tensor bias = optional_tensor(b);
    py::gil_scoped_release release;
    return conv2d(x, w, bias, o);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("pad") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1,
     "x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] -> [N, O, OH, OW].");
  for (auto [name, fn] : {std::pair{"max_pool2d", &max_pool2d}, std::pair{"avg_pool2d", &avg_pool2d}}) {
    ops.def(name, [name = name, fn = fn](const Tensor& x, py::object kernel, py::object stride, py::object pad,
                                         bool ceil_mode, bool global_pooling) {
      Pool2dOptions o = pool_args(name, kernel, stride, pad, ceil_mode, global_pooling);
      py::gil_scoped_release release;
      return fn(x, o);
    }, py::arg("x"), py::arg("kernel") = 2, py::arg("stride") = py::none(), py::arg("pad") = 0,
       py::arg("ceil_mode") = false, py::arg("global_pooling") = false);
  }
  def_checked(ops, "softmax", &softmax, py::arg("x"), py::arg("axis") = -1, Release());
  def_checked(ops, "log_softmax", &log_softmax, py::arg("x"), py::arg("axis") = -1, Release());
  def_checked(ops, "conv_transpose2d", [](const Tensor& x, const Tensor& w, py::object b, py::object stride, py::object pad,
                                 py::object dilation, int64_t groups, py::object output_pad) {
    Conv2dOptions o;
    std::tie(o.stride_h, o.stride_w) = pair_arg(stride, "conv_transpose2d", "stride");
    std::tie(o.pad_h, o.pad_w) = pair_arg(pad, "conv_transpose2d", "pad");
    std::tie(o.dilation_h, o.dilation_w) = pair_arg(dilation, "conv_transpose2d", "dilation");
    o.groups = groups;
    auto [oph, opw] = pair_arg(output_pad, "conv_transpose2d", "output_pad");
    Tensor bias = optional_tensor(b);
    py::gil_scoped_release release;
    return conv_transpose2d(x, w, bias, o, oph, opw);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("pad") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("output_pad") = 0,
     "x [N, C_in, H, W], weight [C_in, C_out/groups, KH, KW], bias [C_out] -> [N, C_out, OH, OW].");
  ops.def("prelu", &prelu, py::arg("x"), py::arg("slope"), Release());
  def_checked(ops, "batch_norm", [](const Tensor& x, py::object rm, py::object rv, py::object w, py::object b, bool training,
                           double momentum, double eps, bool relu) {
    return batch_norm(x, optional_tensor(rm), optional_tensor(rv), optional_tensor(w), optional_tensor(b), training,
                      momentum, eps, relu);
  }, py::arg("x"), py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(),
     py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("training") = true,
     py::arg("momentum") = 0.1, py::arg("eps") = 1e-5, py::arg("relu") = false);
  def_checked(ops, "scale_shift", [](const Tensor& x, const Tensor& scale, py::object shift, int64_t axis) {
    const Tensor b = optional_tensor(shift);
    py::gil_scoped_release release;
    return scale_shift(x, scale, b, axis);
  }, py::arg("x"), py::arg("scale"), py::arg("shift") = py::none(), py::arg("axis") = 1);
  def_checked(ops, "lrn", &lrn, py::arg("x"), py::arg("size") = 5, py::arg("alpha") = 1e-4, py::arg("beta") = 0.75,
          py::arg("k") = 1.0, py::arg("across_channels") = true, Release());
  def_checked(ops, "dropout", [](const Tensor& x, double p, bool training, py::object seed) {
    uint64_t s = to_seed(seed, "dropout");
    py::gil_scoped_release release;
    return dropout(x, p, training, s);
  }, py::arg("x"), py::arg("p") = 0.5, py::arg("training") = true, py::arg("seed") = py::none(),
     "Inverted dropout; the same seed gives the same mask whatever the thread count.");
  def_checked(ops, "concat", &concat, py::arg("tensors"), py::arg("axis") = 1, Release());
  def_checked(ops, "cat", &cat, py::arg("tensors"), py::arg("axis") = 0, Release());
  def_checked(ops, "stack", &stack, py::arg("tensors"), py::arg("axis") = 0, Release());
  def_checked(ops, "slice", &lamina::slice, py::arg("x"), py::arg("axis"), py::arg("start"), py::arg("stop"), Release());
  ops.def("embedding", &embedding, py::arg("indices"), py::arg("weight"), Release());
  bind_losses(ops);
  def_checked(m, "manual_seed", &manual_seed, py::arg("seed"), "Seeds the generator behind dropout, rand and randn.");
  def_checked(m, "rand", [](py::handle shape, double lo, double hi, py::object dtype, py::object seed) {
    const DType d = to_dtype(dtype, "rand");
    return rand(to_alloc_shape(shape, "rand", d), lo, hi, d, to_seed(seed, "rand"));
  }, py::arg("shape"), py::arg("low") = 0.0, py::arg("high") = 1.0, py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("seed") = py::none());
  def_checked(m, "randn", [](py::handle shape, double mean, double std, py::object dtype, py::object seed) {
    const DType d = to_dtype(dtype, "randn");
    return randn(to_alloc_shape(shape, "randn", d), mean, std, d, to_seed(seed, "randn"));
  }, py::arg("shape"), py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("seed") = py::none());
  ops.def("reshape", [](const Tensor& x, py::handle shape) { return reshape(x, to_shape(shape, "reshape", true)); });
  ops.def("transpose", [](const Tensor& x, py::object perm, py::object b) {
    if (!b.is_none()) return transpose(x, to_int64(perm, "transpose", "axis"), to_int64(b, "transpose", "axis"));  // two axes: a swapping view
    return transpose(x, perm.is_none() ? std::vector<int64_t>{} : to_int64s(perm, "transpose", "perm"));
  }, py::arg("x"), py::arg("perm") = py::none(), py::arg("b") = py::none(),
     "transpose(x, perm): a copy with the axes in perm's order; transpose(x, a, b): a view with axes a, b swapped.");
  ops.def("permute", [](const Tensor& x, py::handle dims) { return permute(x, to_shape(dims, "permute", true)); },
          py::arg("x"), py::arg("dims"));
  def_checked(ops, "movedim", &movedim, py::arg("x"), py::arg("source"), py::arg("destination"));
  ops.def("squeeze", [](const Tensor& x, py::object axis) { return squeeze(x, axes_arg(axis, "squeeze")); }, py::arg("x"),
          py::arg("axis") = py::none());
  def_checked(ops, "unsqueeze", &unsqueeze, py::arg("x"), py::arg("axis"));
  def_checked(ops, "flatten", &flatten, py::arg("x"), py::arg("start") = 0, py::arg("end") = -1);

  // ---- operators, methods and autograd on Tensor ----
#define LAMINA_UNARY(name, fwd, bwd) tensor.def(#name, py::overload_cast<const Tensor&>(&lamina::name));
#include "lamina/pointwise.def"
#undef LAMINA_UNARY
  tensor
      .def("__add__", [](const Tensor& a, py::handle b) { return add(a, as_tensor(b, a)); }, py::is_operator())
      .def("__radd__", [](const Tensor& a, py::handle b) { return add(as_tensor(b, a), a); }, py::is_operator())
      .def("__sub__", [](const Tensor& a, py::handle b) { return sub(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rsub__", [](const Tensor& a, py::handle b) { return sub(as_tensor(b, a), a); }, py::is_operator())
      .def("__mul__", [](const Tensor& a, py::handle b) { return mul(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rmul__", [](const Tensor& a, py::handle b) { return mul(as_tensor(b, a), a); }, py::is_operator())
      .def("__truediv__", [](const Tensor& a, py::handle b) { return div(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rtruediv__", [](const Tensor& a, py::handle b) { return div(as_tensor(b, a), a); }, py::is_operator())
      .def("__gt__", &with_number<greater>, py::is_operator())
      .def("__lt__", &with_number<less>, py::is_operator())
      .def("__ge__", &with_number<greater_equal>, py::is_operator())
      .def("__le__", &with_number<less_equal>, py::is_operator())
      .def("__eq__", &equality<equal>, py::is_operator())
      .def("__ne__", &equality<not_equal>, py::is_operator())
      .def("__and__", &with_number<logical_and>, py::is_operator())
      .def("__rand__", &with_number_reflected<logical_and>, py::is_operator())
      .def("__or__", &with_number<logical_or>, py::is_operator())
      .def("__ror__", &with_number_reflected<logical_or>, py::is_operator())
      .def("__invert__", [](const Tensor& a) {
        LAMINA_CHECK_DTYPE(a.dtype() == DType::b8, "~: the tensor is ", dtype_name(a.dtype()),
                           "; ~ is logical_not of a bool tensor");
        return logical_not(a);
      })
      // == gives a tensor, so hashing falls back to identity, as PyTorch's (tensors stay
      // usable as dict keys and set members).
      .def("__hash__", [](py::handle self) { return static_cast<py::ssize_t>(reinterpret_cast<uintptr_t>(self.ptr()) >> 4); })
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__abs__", [](const Tensor& a) { return abs(a); })
      .def("__pow__", [](py::handle a, py::handle b) { return pow_arg(a, b); }, py::is_operator())
      .def("__rpow__", [](py::handle a, py::handle b) { return pow_arg(b, a); }, py::is_operator())
      .def("__iadd__", &in_place<&Tensor::add_>, py::is_operator())
      .def("__isub__", &in_place<&Tensor::sub_>, py::is_operator())
      .def("__imul__", &in_place<&Tensor::mul_>, py::is_operator())
      .def("__itruediv__", &in_place<&Tensor::div_>, py::is_operator())
      .def("add_", &in_place<&Tensor::add_>, py::arg("other"))
      .def("sub_", &in_place<&Tensor::sub_>, py::arg("other"))
      .def("mul_", &in_place<&Tensor::mul_>, py::arg("other"))
      .def("div_", &in_place<&Tensor::div_>, py::arg("other"))
      .def("copy_", [](py::object self, const Tensor& src) {
        self.cast<Tensor&>().copy_(src);
        return self;
      }, py::arg("src"))
      .def("zero_", [](py::object self) {
        self.cast<Tensor&>().zero_();
        return self;
      })
      .def("clamp_", [](py::object self, py::object lo, py::object hi) {
        self.cast<Tensor&>().clamp_(optional_double(lo), optional_double(hi));
        return self;
      }, py::arg("min") = py::none(), py::arg("max") = py::none())
      .def("clamp", [](const Tensor& x, py::object lo, py::object hi) { return clamp(x, optional_double(lo), optional_double(hi)); },
           py::arg("min") = py::none(), py::arg("max") = py::none())
      .def("pow", [](py::handle x, py::handle e) { return pow_arg(x, e); }, py::arg("exponent"))
      .def("max", &over_axis<&lamina::max>, py::arg("axis") = py::none(), py::arg("keepdim") = false,
           "The maximum along axis (all elements when None); values only (no indices, unlike PyTorch).")
      .def("argmax", &over_axis<&argmax>, py::arg("axis") = py::none(), py::arg("keepdim") = false)
      .def("matmul", &matmul, py::arg("other"), Release())
      .def("t", &Tensor::t)
      .def("permute", [](const Tensor& x, py::args dims) { return x.permute(axes_args(dims, "permute")); })
      .def("squeeze", [](const Tensor& x, py::object axis) { return x.squeeze(axes_arg(axis, "squeeze")); }, py::arg("axis") = py::none())
      .def("__matmul__", &matmul, Release())
      .def("sum", [](const Tensor& x, py::object axis, bool keepdim) { return sum(x, axes_arg(axis, "sum"), keepdim); },
           py::arg("axis") = py::none(), py::arg("keepdim") = false)
      .def("any", [](const Tensor& x) { return greater(sum(logical_not(logical_not(x))), Tensor::zeros({}, DType::i64)); },
           "True when some element is nonzero (a 0-d bool tensor).")
      .def("all", [](const Tensor& x) { return equal(sum(logical_not(x)), Tensor::zeros({}, DType::i64)); },
           "True when every element is nonzero (a 0-d bool tensor).")
      .def("mean", [](const Tensor& x, py::object axis, bool keepdim) { return mean(x, axes_arg(axis, "mean"), keepdim); },
           py::arg("axis") = py::none(), py::arg("keepdim") = false)
      .def_property_readonly("T", [](const Tensor& x) { return x.dim() == 2 ? x.t() : transpose(x); })
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool r) { t.set_requires_grad(r); })
      .def("requires_grad_", [](Tensor& t, bool r) { return t.set_requires_grad(r); }, py::arg("requires_grad") = true)
      .def_property("grad", [](const Tensor& t) -> py::object {
        return t.grad().defined() ? py::cast(t.grad()) : py::none();
      }, [](Tensor& t, py::object g) { t.set_grad(g.is_none() ? Tensor() : g.cast<Tensor>()); })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("grad_fn", [](const Tensor& t) -> py::object {
        return t.grad_fn() ? py::cast(t.grad_fn()->name) : py::none();
      }, "The name of the op that produced this tensor, or None for a leaf.")
      .def("retain_grad", &Tensor::retain_grad)
      .def("detach", &Tensor::detach)
      .def("backward", [](const Tensor& t, py::object grad, bool retain_graph) {
        Tensor g = grad.is_none() ? Tensor() : grad.cast<Tensor>();
        py::gil_scoped_release release;
        t.backward(g, retain_graph);
      }, py::arg("grad") = py::none(), py::arg("retain_graph") = false);
  def_checked(tensor, "softmax", &softmax, py::arg("axis") = -1);
  def_checked(tensor, "log_softmax", &log_softmax, py::arg("axis") = -1);
  def_checked(tensor, "transpose", &Tensor::transpose, py::arg("a"), py::arg("b"));
  def_checked(tensor, "movedim", &Tensor::movedim, py::arg("source"), py::arg("destination"));
  def_checked(tensor, "unsqueeze", &Tensor::unsqueeze, py::arg("axis"));
  def_checked(tensor, "flatten", &Tensor::flatten, py::arg("start") = 0, py::arg("end") = -1);
  def_checked(tensor, "argmax", &argmax, py::arg("axis"), py::arg("keepdim") = false, Release());

  m.def("_grad_enabled", &GradMode::enabled);
  m.def("_set_grad_enabled", &GradMode::set_enabled);
  m.def("_record_function", &record_function);
  m.def("backward", [](const std::vector<Tensor>& outputs, std::vector<Tensor> grads, bool retain_graph) {
    py::gil_scoped_release release;
    backward(outputs, grads, retain_graph);
  }, py::arg("outputs"), py::arg("grad_outputs") = std::vector<Tensor>{}, py::arg("retain_graph") = false);
  m.def("_grad", [](const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                    const std::vector<Tensor>& grads, bool retain_graph, bool allow_unused) {
    std::vector<Tensor> r;
    {
      py::gil_scoped_release release;
      r = grad(outputs, inputs, grads, retain_graph, allow_unused);
    }
    py::list out;
    for (const Tensor& g : r) out.append(g.defined() ? py::cast(g) : py::none());
    return out;
  });
}

}  // namespace lamina::bind
