// lamina.Tensor and the conversions to and from NumPy, both without copying:
//  - Tensor -> NumPy through the buffer protocol (np.asarray(t)) or t.numpy(); the
//    array's base holds the Tensor, which holds the storage.
//  - NumPy -> Tensor through from_numpy(a): a C-contiguous, writeable float32, float64,
//    int32, int64 or bool array with its natural alignment is wrapped; the storage holds a reference to the
//    array and drops it (under the GIL) when the last tensor goes.
#include <cstring>
#include <limits>

#include "bind.hpp"

namespace lamina::bind {

static const char* const kDTypes = "lamina tensors are float32, float64, int32, int64 or bool";

DType to_dtype(py::handle obj, const char* what, DType fallback) {
  if (obj.is_none()) return fallback;
  py::dtype dt;
  try {
    dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(obj));
  } catch (py::error_already_set&) {
    throw DTypeError(std::string(what) + ": unsupported dtype " + py::str(obj).cast<std::string>() + ": " + kDTypes);
  }
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::b8})
    if (dt.equal(numpy_dtype(d))) return d;
  throw DTypeError(std::string(what) + ": unsupported dtype " + py::str(dt).cast<std::string>() + ": " + kDTypes);
}

py::dtype numpy_dtype(DType dtype) {
  return visit_dtype(dtype, [](auto t) { return py::dtype::of<decltype(t)>(); });
}

bool is_int_like(py::handle v) { return PyLong_Check(v.ptr()) || (PyIndex_Check(v.ptr()) && !PySequence_Check(v.ptr())); }

py::int_ to_py_int(py::handle v, const char* what, const char* name) {
  LAMINA_CHECK(PyIndex_Check(v.ptr()), what, ": ", name, " must be an int, got ", py::repr(v).cast<std::string>());
  py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
  if (!i) throw py::error_already_set();
  return i;
}

void throw_out_of_range(py::handle v, const char* what, const char* name, const std::string& range) {
  throw ValueError(std::string(what) + ": " + name + " " + py::repr(v).cast<std::string>() + " is outside " + range);
}

std::vector<int64_t> to_int64s(py::handle v, const char* what, const char* name) {
  if (is_int_like(v)) return {to_int64(v, what, name)};
  LAMINA_CHECK(py::isinstance<py::sequence>(v) && !py::isinstance<py::str>(v) && !py::isinstance<py::bytes>(v), what,
               ": ", name, " must be an int or a sequence of ints, got ", py::repr(v).cast<std::string>());
  const auto s = py::reinterpret_borrow<py::sequence>(v);
  std::vector<int64_t> out;
  for (size_t i = 0, n = py::len(s); i < n; ++i) out.push_back(to_int64(s[i], what, name));
  return out;
}

double to_double(py::handle v, const char* what, const char* name) {
  if (!py::isinstance<py::str>(v) && !py::isinstance<py::bytes>(v)) {
    const double x = PyFloat_AsDouble(v.ptr());
    if (!(x == -1.0 && PyErr_Occurred())) return x;
    PyErr_Clear();
  }
  throw ValueError(std::string(what) + ": " + name + " must be a number, got " + py::repr(v).cast<std::string>());
}

uint64_t to_seed(py::handle v, const char* what) {
  return v.is_none() ? next_seed() : to_int<uint64_t>(v, what, "seed");
}

Shape to_alloc_shape(py::handle obj, const char* what, DType dtype) {
  Shape shape = to_shape(obj, what);
  checked_nbytes(what, shape, dtype);
  return shape;
}

Shape to_shape(py::handle obj, const char* what, bool allow_infer) {
  Shape shape;
  auto extent = [&](py::handle d) {
    LAMINA_CHECK_AS(ShapeError, is_int_like(d), what, ": shape entries must be ints, got ",
                    py::repr(obj).cast<std::string>());
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(to_py_int(d, what, "shape").ptr(), &overflow);
    LAMINA_CHECK_AS(ShapeError, overflow == 0, what, ": shape ", py::repr(obj).cast<std::string>(),
                    " has an extent that does not fit a 64-bit integer");
    shape.push_back(static_cast<int64_t>(x));
  };
  if (is_int_like(obj)) {
    extent(obj);
  } else if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    for (py::handle d : obj) extent(d);
  } else {
    throw ShapeError(std::string(what) + ": a shape is an int or a sequence of ints, got " +
                     py::repr(obj).cast<std::string>());
  }
  if (allow_infer) return shape;  // reshape/view check -1 and the element count themselves
  for (int64_t d : shape)
    LAMINA_CHECK_SHAPE(d >= 0, what, ": shape ", shape, " has a negative extent");
  try {
    shape_numel(shape);  // rejects overflow with a ShapeError
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(what) + ": " + e.what());
  }
  return shape;
}

py::array to_numpy(const Tensor& t, py::handle owner) {
  LAMINA_CHECK_AS(DeviceError, t.device() == Device::cpu, "numpy: tensor is on ", t.device(),
                  "; NumPy views need a cpu tensor");
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * static_cast<py::ssize_t>(dtype_size(t.dtype())));
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), owner);
}

Tensor from_numpy(py::array a) {
  // A non-native byte order (a big-endian '>f4' on a little-endian machine) is converted:
  // a copy in native order, never the bytes read as if they were native.
  if (!a.dtype().attr("isnative").cast<bool>())
    a = py::array::ensure(a.attr("astype")(a.dtype().attr("newbyteorder")("=")));
  DType dtype = to_dtype(a.dtype(), "from_numpy");
  const auto item = static_cast<uintptr_t>(dtype_size(dtype));
  const bool wrap = (a.flags() & py::array::c_style) && a.writeable() &&
                    reinterpret_cast<uintptr_t>(a.data()) % item == 0;
  Shape shape(a.shape(), a.shape() + a.ndim());
  if (!wrap) {  // documented: other arrays are copied into a new aligned tensor
    py::array c = py::array::ensure(a, py::array::c_style | py::array::forcecast);
    Tensor t = Tensor::empty(shape, dtype);
    std::memcpy(t.raw_data(), c.data(), static_cast<size_t>(t.numel()) * item);
    return t;
  }
  auto* keep = new py::object(a);
  auto storage = Storage::wrap(a.mutable_data(), static_cast<size_t>(a.nbytes()), Device::cpu, [keep] {
    if (!Py_IsInitialized()) return;  // interpreter gone: nothing left to release
    py::gil_scoped_acquire gil;
    delete keep;
  });
  Shape strides(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) strides[i] = a.strides()[i] / static_cast<py::ssize_t>(item);
  return Tensor::from_storage(std::move(storage), shape, strides, 0, dtype);
}

// The dtype lamina.tensor gives data without a dtype: as PyTorch, integers become int64
// (int32 stays int32), booleans bool; float64 stays float64, other floats become float32.
static DType natural_dtype(const py::dtype& dt) {
  switch (dt.kind()) {
    case 'b': return DType::b8;
    case 'i': return dt.itemsize() == 4 ? DType::i32 : DType::i64;
    case 'u': return DType::i64;
    default: return dt.itemsize() == 8 ? DType::f64 : DType::f32;
  }
}

static Tensor tensor_from_data(py::handle data, py::handle dtype_obj) {
  if (py::isinstance<Tensor>(data)) {  // a copy, converted when a dtype is given
    const Tensor& src = data.cast<const Tensor&>();
    return src.detach().to(to_dtype(dtype_obj, "tensor", src.dtype())).clone();
  }
  py::array a = py::array::ensure(data);
  LAMINA_CHECK_DTYPE(a, "tensor: cannot convert ", py::repr(data).cast<std::string>(), " to an array");
  char kind = a.dtype().kind();
  LAMINA_CHECK_DTYPE(kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b', "tensor: data of dtype ",
                     py::str(a.dtype()).cast<std::string>(), " cannot become a tensor: ", kDTypes);
  DType dtype = to_dtype(dtype_obj, "tensor", natural_dtype(a.dtype()));
  py::array c = py::array::ensure(a.attr("astype")(numpy_dtype(dtype)), py::array::c_style);
  Tensor t = Tensor::empty(Shape(c.shape(), c.shape() + c.ndim()), dtype);
  std::memcpy(t.raw_data(), c.data(), static_cast<size_t>(c.nbytes()));
  return t;
}

static py::object item(const Tensor& t) {
  if (is_floating(t.dtype())) return py::float_(t.item());
  if (t.dtype() == DType::b8) return py::bool_(t.item_int() != 0);
  return py::int_(t.item_int());
}

// Python's index items -> IndexItem: ints (anything with __index__), slices, None, ...;
// tensors pass through; lists and NumPy arrays of ints or bools become int64 or bool
// tensors (an empty list an empty int64 index, as NumPy).
static IndexItem index_item(py::handle h) {
  if (h.is_none()) return NewAxis{};
  if (h.ptr() == Py_Ellipsis) return Ellipsis{};
  if (py::isinstance<Tensor>(h)) return h.cast<Tensor>();
  if (py::isinstance<py::array>(h) || py::isinstance<py::list>(h)) {
    py::array a = py::array::ensure(h);
    LAMINA_CHECK_INDEX(a, "Tensor index: cannot read ", py::repr(h).cast<std::string>(), " as an array of indices");
    const char kind = a.dtype().kind();
    if (a.size() == 0 && kind == 'f') return Tensor::zeros(Shape(a.shape(), a.shape() + a.ndim()), DType::i64);
    LAMINA_CHECK_INDEX(kind == 'i' || kind == 'u' || kind == 'b', "Tensor index: arrays used as indices must hold ints "
                       "or bools, got dtype ", py::str(a.dtype()).cast<std::string>());
    return tensor_from_data(a, kind == 'b' ? numpy_dtype(DType::b8) : numpy_dtype(DType::i64));
  }
  auto integer = [](py::handle v) { return to_int64(v, "Tensor index", "index"); };
  if (py::isinstance<py::slice>(h)) {
    Slice s;
    auto part = [&](const char* name) -> std::optional<int64_t> {
      py::object v = h.attr(name);
      if (v.is_none()) return std::nullopt;
      LAMINA_CHECK_INDEX(PyIndex_Check(v.ptr()), "Tensor index: slice bounds must be ints or None, got ",
                         py::repr(h).cast<std::string>());
      return integer(v);
    };
    s.start = part("start");
    s.stop = part("stop");
    s.step = part("step");
    return s;
  }
  LAMINA_CHECK_INDEX(!py::isinstance<py::bool_>(h), "Tensor index: a bool (", py::repr(h).cast<std::string>(),
                     ") as an index is not supported; use a bool tensor as a mask");
  LAMINA_CHECK_INDEX(PyIndex_Check(h.ptr()), "Tensor index: ", py::repr(h).cast<std::string>(),
                     " is not an index: use ints, slices, None, ... (tuples of them)");
  return integer(h);
}

static std::vector<IndexItem> index_items(py::handle key) {
  std::vector<IndexItem> items;
  if (py::isinstance<py::tuple>(key)) {
    for (py::handle h : key) items.push_back(index_item(h));
  } else {
    items.push_back(index_item(key));
  }
  return items;
}

static void setitem(Tensor& t, py::handle key, py::handle value) {
  std::vector<IndexItem> items = index_items(key);
  if (py::isinstance<Tensor>(value)) {
    t.index_put_(items, value.cast<Tensor>());
  } else if (py::isinstance<py::float_>(value) || py::isinstance<py::int_>(value)) {
    t.index_put_(items, value.cast<double>());
  } else {  // array-likes: a copy in the tensor's dtype
    t.index_put_(items, tensor_from_data(value, numpy_dtype(t.dtype())));
  }
}

static Shape shape_args(const py::args& args, const char* what, bool allow_infer = false) {
  if (args.size() == 1) return to_shape(args[0], what, allow_infer);
  return to_shape(args, what, allow_infer);
}

// The shape of a new tensor (empty, zeros, ones): checked against the allocation limit,
// so that the error names the function called.
static Shape alloc_args(const py::args& args, const char* what, DType dtype) {
  return to_alloc_shape(args.size() == 1 ? py::handle(args[0]) : py::handle(args), what, dtype);
}

py::class_<Tensor> bind_tensor(py::module_& m) {
  m.attr("float32") = numpy_dtype(DType::f32);
  m.attr("float64") = numpy_dtype(DType::f64);
  m.attr("int32") = numpy_dtype(DType::i32);
  m.attr("int64") = numpy_dtype(DType::i64);
  m.attr("bool_") = numpy_dtype(DType::b8);

  py::class_<Tensor> cls(m, "Tensor", py::buffer_protocol(), R"doc(
An n-d float32, float64, int32, int64 or bool array on a device. Views (reshape, t[i], t[a:b]) share storage.
np.asarray(t) and lamina.from_numpy(a) convert without copying.)doc");
  cls.def_buffer([](Tensor& t) -> py::buffer_info {
        LAMINA_CHECK_AS(DeviceError, t.device() == Device::cpu, "buffer: tensor is on ", t.device());
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
        for (int64_t s : t.strides())
          strides.push_back(s * static_cast<py::ssize_t>(dtype_size(t.dtype())));
        return py::buffer_info(t.raw_data(), static_cast<py::ssize_t>(dtype_size(t.dtype())),
                               visit_dtype(t.dtype(), [](auto z) { return py::format_descriptor<decltype(z)>::format(); }),
                               t.dim(), shape, strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("strides", [](const Tensor& t) { return py::tuple(py::cast(t.strides())); },
                             "Strides in elements (NumPy's are in bytes).")
      .def_property_readonly("dtype", [](const Tensor& t) { return numpy_dtype(t.dtype()); })
      .def_property_readonly("device", [](const Tensor& t) { return std::string(device_name(t.device())); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("size", &Tensor::numel, "Number of elements.")
      .def("numel", &Tensor::numel)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("numpy", [](py::object self) { return to_numpy(self.cast<const Tensor&>(), self); },
           "A NumPy view of the data (no copy); it keeps the tensor alive.")
      .def("reshape", [](const Tensor& t, py::args shape) { return t.reshape(shape_args(shape, "reshape", true)); })
      .def("view", [](const Tensor& t, py::args shape) { return t.view(shape_args(shape, "view", true)); })
      .def("contiguous", &Tensor::contiguous)
      .def("clone", &Tensor::clone)
      .def("to", [](const Tensor& t, py::handle dtype) { return t.to(to_dtype(dtype, "Tensor.to")); }, py::arg("dtype"))
      .def("float", [](const Tensor& t) { return t.to(DType::f32); })
      .def("double", [](const Tensor& t) { return t.to(DType::f64); })
      .def("int", [](const Tensor& t) { return t.to(DType::i32); })
      .def("long", [](const Tensor& t) { return t.to(DType::i64); })
      .def("bool", [](const Tensor& t) { return t.to(DType::b8); })
      .def_property_readonly("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype()); })
      .def("item", &item, "The value of a one-element tensor: a float, an int or a bool by the dtype.")
      .def("tolist", [](py::object self) { return py::module_::import("numpy").attr("asarray")(self).attr("tolist")(); })
      .def("__float__", &Tensor::item)
      .def("__int__", [](const Tensor& t) { return is_floating(t.dtype()) ? py::int_(py::float_(t.item())) : py::int_(t.item_int()); })
      .def("__bool__", [](const Tensor& t) {
        LAMINA_CHECK(t.numel() == 1, "bool(Tensor): the truth value of a tensor of shape ", t.shape(),
                     " is ambiguous; use .any() or .all() of a comparison");
        return is_floating(t.dtype()) ? t.item() != 0 : t.item_int() != 0;
      })
      .def("__len__", [](const Tensor& t) {
        // DTypeError is a TypeError, as Python's len() raises, and a lamina.Error: a 0-d tensor
        // given where the binding reads a sequence (a stride, an axis list) fails the same way.
        LAMINA_CHECK_AS(DTypeError, t.dim() > 0, "len() of a 0-d tensor");
        return t.size(0);
      })
      .def("__getitem__", [](const Tensor& t, py::handle key) { return t.index(index_items(key)); })
      .def("__setitem__", &setitem)
      .def("__repr__", &Tensor::repr);
  def_checked(cls, "fill_", [](Tensor& t, double v) { return t.fill_(v); }, py::arg("value"));

  m.def("from_numpy", &from_numpy, py::arg("array"), R"doc(
Wraps a NumPy array as a Tensor. A C-contiguous, writeable float32, float64, int32, int64
or bool array with its natural alignment is shared without copying (writes show on both
sides, and the tensor keeps the array's memory alive); any other array of those dtypes is
copied into a new 64-byte aligned tensor, and so is an array in non-native byte order
(converted to native order). Other dtypes raise DTypeError.)doc");
  m.def("set_max_alloc_mb", [](py::handle mb) {
    const int64_t v = to_int64(mb, "set_max_alloc_mb", "the limit");
    LAMINA_CHECK(v > 0 && uint64_t(v) <= (std::numeric_limits<uint64_t>::max() >> 20),
                 "set_max_alloc_mb: the limit must be a positive number of megabytes, got ", v);
    set_max_alloc_bytes(uint64_t(v) << 20);
  }, py::arg("mb"), "The most megabytes one tensor may take (default: physical memory, or LAMINA_MAX_ALLOC_MB).");
  m.def("max_alloc_mb", [] { return max_alloc_bytes() >> 20; }, "The allocation limit in megabytes.");
  m.def("tensor", &tensor_from_data, py::arg("data"), py::arg("dtype") = py::none(),
        "A new tensor holding a copy of data. Without a dtype, as PyTorch: ints become int64 "
        "(int32 arrays stay int32), bools bool, float64 stays float64, other floats float32.");
  m.def("empty", [](py::args shape, py::object dtype) {
          const DType d = to_dtype(dtype, "empty");
          return Tensor::empty(alloc_args(shape, "empty", d), d);
        },
        py::kw_only(), py::arg("dtype") = py::none(), "A new tensor with uninitialised data.");
  m.def("zeros", [](py::args shape, py::object dtype) {
          const DType d = to_dtype(dtype, "zeros");
          return Tensor::zeros(alloc_args(shape, "zeros", d), d);
        },
        py::kw_only(), py::arg("dtype") = py::none());
  m.def("ones", [](py::args shape, py::object dtype) {
          const DType d = to_dtype(dtype, "ones");
          return Tensor::full(alloc_args(shape, "ones", d), 1.0, d);
        },
        py::kw_only(), py::arg("dtype") = py::none());
  m.def("arange", [](py::object start, py::object stop, py::object step, py::object dtype) {
          const bool whole = py::isinstance<py::int_>(start) && py::isinstance<py::int_>(step) &&
                             (stop.is_none() || py::isinstance<py::int_>(stop));
          const DType dt = to_dtype(dtype, "arange", whole ? DType::i64 : DType::f32);
          if (stop.is_none()) return arange(0, start.cast<double>(), step.cast<double>(), dt);
          return arange(start.cast<double>(), stop.cast<double>(), step.cast<double>(), dt);
        }, py::arg("start"), py::arg("stop") = py::none(), py::arg("step") = 1, py::kw_only(),
        py::arg("dtype") = py::none(),
        "Values from start (0 when only one bound is given) up to but excluding stop, step apart, "
        "as NumPy's and PyTorch's arange: int64 when the bounds and the step are ints, else float32.");
  def_checked(m, "full", [](py::handle shape, double value, py::object dtype) {
          const DType d = to_dtype(dtype, "full");
          return Tensor::full(to_alloc_shape(shape, "full", d), value, d);
        }, py::arg("shape"), py::arg("value"), py::kw_only(), py::arg("dtype") = py::none());
  return cls;
}

}  // namespace lamina::bind
