// lamina's C++ errors -> a Python hierarchy rooted at lamina.Error. Each class also
// derives from the builtin a Python user would catch (ValueError, OSError, ...), which
// PyErr_NewException allows through a tuple of bases.
#include "bind.hpp"
#include "lamina/distributed.hpp"

namespace lamina::bind {

namespace {

struct PyErrors {
  PyObject* error;
  PyObject* shape;
  PyObject* dtype;
  PyObject* value;
  PyObject* index;
  PyObject* file;
  PyObject* format;
  PyObject* prototxt;
  PyObject* device;
  PyObject* autograd;
  PyObject* distributed;
};
PyErrors g;

PyObject* make(py::module_& m, const char* name, std::initializer_list<PyObject*> bases,
               const char* doc) {
  py::tuple tb(bases.size());
  size_t i = 0;
  for (PyObject* b : bases) tb[i++] = py::reinterpret_borrow<py::object>(b);
  std::string qualified = std::string("lamina.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, tb.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));  // the module keeps it alive
  return cls;
}

// Messages quote user bytes (file names, prototxt text, names read from files) that need
// not be UTF-8: those bytes show as \xNN escapes instead of failing the conversion.
py::str text(const std::string& s) {
  PyObject* u = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (!u) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(u);
}

void set(PyObject* cls, const char* what) { PyErr_SetObject(cls, text(what).ptr()); }

void raise_prototxt(const PrototxtError& e) {
  py::object exc = py::reinterpret_borrow<py::object>(g.prototxt)(text(e.what()));
  exc.attr("file") = text(e.file());
  exc.attr("line") = e.line();
  exc.attr("column") = e.column();
  exc.attr("reason") = text(e.reason());
  PyErr_SetObject(g.prototxt, exc.ptr());
}

// ---- pybind11's refusals as lamina errors ----
// When no overload of a bound function accepts the arguments (a list where a Tensor goes, a
// string for a bool), pybind11 raises a plain TypeError inside its dispatcher, where no
// exception translator runs. Every bound function is therefore reached through a shim: it
// passes the call on unchanged and re-raises that one TypeError, the one whose message
// begins "<the function's name>(): incompatible", as lamina.DTypeError (a TypeError too)
// with pybind11's message, which lists the accepted signatures with their argument names
// and the types the call gave. Any other exception passes through untouched.

struct ShimDef {
  std::string name;  // pybind11's name of the function ("" for a property's setter)
  std::string doc;
  PyMethodDef def{};
};

// The exception being raised, taken out of the interpreter's error state.
PyObject* take_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  if (trace && value) PyException_SetTraceback(value, trace);
  Py_XDECREF(type);
  Py_XDECREF(trace);
  return value;
#endif
}

// pybind11's message when no overload takes the arguments (it starts with `prefix`), else null.
py::object refusal_message(PyObject* exc, PyObject* prefix) {
  if (Py_TYPE(exc) != reinterpret_cast<PyTypeObject*>(PyExc_TypeError)) return py::object();
  PyObject* s = PyObject_Str(exc);
  if (!s) {
    PyErr_Clear();
    return py::object();
  }
  py::str message = py::reinterpret_steal<py::str>(s);
  const Py_ssize_t starts = PyUnicode_Tailmatch(message.ptr(), prefix, 0, PY_SSIZE_T_MAX, -1);
  if (starts != 1) {
    if (starts < 0) PyErr_Clear();
    return py::object();
  }
  return std::move(message);
}

// self is (the bound function, the label a nameless setter's message starts with, the start
// of pybind11's refusal message: "<name>(): incompatible ").
PyObject* call_shim(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* result = PyObject_Vectorcall(PyTuple_GET_ITEM(self, 0), args, static_cast<size_t>(nargs), kwnames);
  if (result) return result;
  PyObject* exc = take_exception();
  if (!exc) return nullptr;  // a null result with no exception: Python reports that itself
  const py::object message = refusal_message(exc, PyTuple_GET_ITEM(self, 2));
  if (!message) {
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
    Py_INCREF(Py_TYPE(exc));
#endif
    return nullptr;
  }
  Py_DECREF(exc);
  PyObject* full = PyUnicode_Concat(PyTuple_GET_ITEM(self, 1), message.ptr());
  if (!full) return nullptr;
  PyErr_SetObject(g.dtype, full);
  Py_DECREF(full);
  return nullptr;
}

// A PyCFunction that calls `target` through call_shim, with target's name, doc and module;
// `label` starts the message of a refusal (a setter's "Tensor.requires_grad").
py::object shim(py::handle target, const std::string& label = "") {
  auto* d = new ShimDef;  // lives as long as the function: the module's lifetime
  d->name = py::str(target.attr("__name__"));
  const py::object doc = target.attr("__doc__");
  if (!doc.is_none()) d->doc = py::str(doc);
  d->def.ml_name = d->name.c_str();
  d->def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_shim));
  d->def.ml_flags = METH_FASTCALL | METH_KEYWORDS;
  d->def.ml_doc = doc.is_none() ? nullptr : d->doc.c_str();
  py::object module = py::getattr(target, "__module__", py::none());
  py::tuple self = py::make_tuple(target, py::str(label), py::str(d->name + "(): incompatible "));
  PyObject* f = PyCFunction_NewEx(&d->def, self.ptr(), module.ptr());
  if (!f) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(f);
}

// A function pybind11 made: a builtin whose self is its function record (a type's __new__
// has the type as self, a plain builtin the module).
bool is_bound_function(py::handle f) {
  if (!PyCFunction_Check(f.ptr())) return false;
  PyObject* self = PyCFunction_GET_SELF(f.ptr());
  return self && !PyType_Check(self) && !PyModule_Check(self) &&
         PyCFunction_GetFunction(f.ptr()) != reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_shim));
}

// The attribute's replacement, or None to keep it: functions, methods, static methods and the
// setter of a property (a getter takes only self). `label` names a setter's property.
py::object shimmed(py::handle attr, const std::string& label) {
  if (is_bound_function(attr)) return shim(attr);
  if (PyInstanceMethod_Check(attr.ptr())) {
    py::handle f = PyInstanceMethod_GET_FUNCTION(attr.ptr());
    if (is_bound_function(f)) return py::reinterpret_steal<py::object>(PyInstanceMethod_New(shim(f).ptr()));
  }
  if (Py_TYPE(attr.ptr()) == &PyStaticMethod_Type) {
    py::object f = attr.attr("__func__");
    if (is_bound_function(f)) return py::reinterpret_steal<py::object>(PyStaticMethod_New(shim(f).ptr()));
  }
  if (Py_TYPE(attr.ptr()) == &PyProperty_Type) {
    py::object fset = attr.attr("fset");
    if (is_bound_function(fset))
      return py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyProperty_Type))(
          attr.attr("fget"), shim(fset, label), attr.attr("fdel"), attr.attr("__doc__"));
  }
  return py::none();
}

void shim_namespace(py::handle owner, const std::string& package) {
  const std::string qualname = py::str(py::getattr(owner, "__qualname__", owner.attr("__name__")));
  const std::string owner_label = qualname.substr(qualname.rfind('.') + 1) + ".";
  const py::list items(owner.attr("__dict__").attr("items")());  // a snapshot: entries get replaced
  for (py::handle item : items) {
    const py::handle key = item[py::int_(0)], value = item[py::int_(1)];
    const std::string name = py::str(key);
    if (name.rfind("_pybind11", 0) == 0) continue;
    if (py::isinstance<py::module_>(value)) {
      const std::string sub = py::str(value.attr("__name__"));
      if (sub.rfind(package + ".", 0) == 0) shim_namespace(value, package);
      continue;
    }
    if (PyType_Check(value.ptr())) {
      const std::string mod = py::str(py::getattr(value, "__module__", py::str("")));
      if (mod.rfind(package, 0) == 0 && py::str(value.attr("__qualname__")).cast<std::string>().find('.') ==
                                            std::string::npos)
        shim_namespace(value, package);
      continue;
    }
    py::object replacement = shimmed(value, owner_label + name);
    if (!replacement.is_none()) py::setattr(owner, key, replacement);
  }
}

}  // namespace

void convert_refusals(py::module_& m) {
  const std::string package = py::str(m.attr("__name__"));
  shim_namespace(m, package);
}

void bind_errors(py::module_& m) {
  g.error = make(m, "Error", {PyExc_Exception}, "Base class of every error lamina raises.");
  g.shape = make(m, "ShapeError", {g.error, PyExc_ValueError}, "Shapes that do not fit an operation.");
  g.dtype = make(m, "DTypeError", {g.error, PyExc_TypeError}, "An unsupported or mismatched dtype.");
  g.value = make(m, "InvalidValueError", {g.error, PyExc_ValueError}, "A bad argument value.");
  g.index = make(m, "OutOfRangeError", {g.error, PyExc_IndexError}, "An index or axis out of range.");
  g.file = make(m, "FileError", {g.error, PyExc_OSError}, "A file that cannot be opened, read or written.");
  g.format = make(m, "FileFormatError", {g.file}, "A file whose contents are malformed.");
  g.prototxt = make(m, "PrototxtError", {g.error, PyExc_ValueError},
                    "Malformed or invalid prototxt; .file, .line, .column say where.");
  g.device = make(m, "DeviceError", {g.error, PyExc_RuntimeError}, "A device that is absent or failed.");
  g.autograd = make(m, "AutogradError", {g.error, PyExc_RuntimeError},
                    "Misuse of the tape: a freed graph, an in-place write to a saved tensor, ...");
  g.distributed = make(m, "DistributedError", {g.error, PyExc_RuntimeError},
                       "A collective between processes that failed (MPI's error, naming the rank).");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const PrototxtError& e) {
      raise_prototxt(e);
    } catch (const ShapeError& e) {
      set(g.shape, e.what());
    } catch (const DTypeError& e) {
      set(g.dtype, e.what());
    } catch (const ValueError& e) {
      set(g.value, e.what());
    } catch (const IndexError& e) {
      set(g.index, e.what());
    } catch (const FormatError& e) {
      set(g.format, e.what());
    } catch (const IOError& e) {
      set(g.file, e.what());
    } catch (const AutogradError& e) {
      set(g.autograd, e.what());
    } catch (const dist::DistributedError& e) {
      set(g.distributed, e.what());
    } catch (const DeviceError& e) {
      set(g.device, e.what());
    } catch (const Error& e) {
      set(g.error, e.what());
    } catch (const py::cast_error& e) {
      // A Python value that does not convert to the C++ type an argument needs (an int past
      // 2^64, a negative size): a bad argument value, not an internal failure.
      set(g.value, (std::string("an argument has the wrong type or does not fit: ") + e.what()).c_str());
    }
  });
}

}  // namespace lamina::bind
