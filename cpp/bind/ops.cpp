// lamina.ops: every op of ops.hpp under the same name, and the tape's Python surface
// (Tensor.backward, .grad, no_grad's switch, grad(), custom functions).
#include <memory>

#include "bind.hpp"

namespace lamina::bind {

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

// A Python number becomes a 0-d tensor of the other operand's dtype (broadcasts anywhere).
Tensor as_tensor(py::handle v, const Tensor& like) {
  if (py::isinstance<Tensor>(v)) return v.cast<Tensor>();
  if (py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v))
    return Tensor::full({}, v.cast<double>(), like.dtype());
  throw DTypeError("expected a lamina.Tensor or a number, got " + py::str(py::type::of(v)).cast<std::string>());
}

std::vector<int64_t> axes_arg(py::handle axis) {
  if (axis.is_none()) return {};
  if (py::isinstance<py::int_>(axis)) return {axis.cast<int64_t>()};
  return axis.cast<std::vector<int64_t>>();
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

}  // namespace

void bind_ops(py::module_& m, py::class_<Tensor>& tensor) {
  py::module_ ops = m.def_submodule("ops", "lamina's operations on tensors (same names as in C++).");

#define LAMINA_UNARY(name, fwd, bwd) \
  ops.def(#name, py::overload_cast<const Tensor&>(&lamina::name), py::arg("x"), Release());
#include "lamina/pointwise.def"
#undef LAMINA_UNARY
  ops.def("leaky_relu", &leaky_relu, py::arg("x"), py::arg("negative_slope") = 0.01, Release());
  ops.def("elu", &elu, py::arg("x"), py::arg("alpha") = 1.0, Release());
  ops.def("power", &power, py::arg("x"), py::arg("power"), py::arg("scale") = 1.0, py::arg("shift") = 0.0, Release());
  ops.def("pow", py::overload_cast<const Tensor&, double>(&lamina::pow), py::arg("x"), py::arg("exponent"), Release());
  ops.def("clip", &clip, py::arg("x"), py::arg("lo"), py::arg("hi"), Release());
  ops.def("threshold", &threshold, py::arg("x"), py::arg("threshold") = 0.0, Release());
  ops.def("affine", &affine, py::arg("x"), py::arg("scale"), py::arg("shift") = 0.0, Release());
  ops.def("add", &add, py::arg("a"), py::arg("b"), Release());
  ops.def("sub", &sub, py::arg("a"), py::arg("b"), Release());
  ops.def("mul", &mul, py::arg("a"), py::arg("b"), Release());
  ops.def("div", &div, py::arg("a"), py::arg("b"), Release());
  ops.def("greater", &greater, py::arg("a"), py::arg("b"), Release());
  ops.def("less", &less, py::arg("a"), py::arg("b"), Release());
  ops.def("equal", &equal, py::arg("a"), py::arg("b"), Release());
  ops.def("sum", [](const Tensor& x, py::object axis, bool keepdim) { return sum(x, axes_arg(axis), keepdim); },
          py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false);
  ops.def("mean", [](const Tensor& x, py::object axis, bool keepdim) { return mean(x, axes_arg(axis), keepdim); },
          py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false);
  ops.def("sum_to", [](const Tensor& x, py::handle shape) { return sum_to(x, to_shape(shape, "sum_to")); });
  ops.def("expand", [](const Tensor& x, py::handle shape) { return expand(x, to_shape(shape, "expand")); });
  ops.def("matmul", &matmul, py::arg("a"), py::arg("b"), Release(), "a [M, K] @ b [K, N] -> [M, N].");
  ops.def("linear", &linear, py::arg("x"), py::arg("weight"), py::arg("bias") = Tensor(), Release(),
          "x [N, K] @ weight[O, K]^T + bias [O] -> [N, O].");
  ops.def("reshape", [](const Tensor& x, py::handle shape) { return reshape(x, to_shape(shape, "reshape", true)); });
  ops.def("transpose", [](const Tensor& x, py::object perm) {
    return transpose(x, perm.is_none() ? std::vector<int64_t>{} : perm.cast<std::vector<int64_t>>());
  }, py::arg("x"), py::arg("perm") = py::none());

  // ---- operators and autograd on Tensor ----
  tensor
      .def("__add__", [](const Tensor& a, py::handle b) { return add(a, as_tensor(b, a)); }, py::is_operator())
      .def("__radd__", [](const Tensor& a, py::handle b) { return add(as_tensor(b, a), a); }, py::is_operator())
      .def("__sub__", [](const Tensor& a, py::handle b) { return sub(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rsub__", [](const Tensor& a, py::handle b) { return sub(as_tensor(b, a), a); }, py::is_operator())
      .def("__mul__", [](const Tensor& a, py::handle b) { return mul(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rmul__", [](const Tensor& a, py::handle b) { return mul(as_tensor(b, a), a); }, py::is_operator())
      .def("__truediv__", [](const Tensor& a, py::handle b) { return div(a, as_tensor(b, a)); }, py::is_operator())
      .def("__rtruediv__", [](const Tensor& a, py::handle b) { return div(as_tensor(b, a), a); }, py::is_operator())
      .def("__gt__", [](const Tensor& a, py::handle b) { return greater(a, as_tensor(b, a)); }, py::is_operator())
      .def("__lt__", [](const Tensor& a, py::handle b) { return less(a, as_tensor(b, a)); }, py::is_operator())
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__matmul__", &matmul, Release())
      .def("sum", [](const Tensor& x, py::object axis, bool keepdim) { return sum(x, axes_arg(axis), keepdim); },
           py::arg("axis") = py::none(), py::arg("keepdim") = false)
      .def("mean", [](const Tensor& x, py::object axis, bool keepdim) { return mean(x, axes_arg(axis), keepdim); },
           py::arg("axis") = py::none(), py::arg("keepdim") = false)
      .def_property_readonly("T", [](const Tensor& x) { return transpose(x); })
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
