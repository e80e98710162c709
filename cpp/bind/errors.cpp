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

}  // namespace

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
