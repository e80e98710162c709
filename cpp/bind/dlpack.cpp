// DLPack, the array interchange protocol of NumPy, PyTorch, CuPy and JAX: Tensor.__dlpack__
// and __dlpack_device__ hand a tensor's memory to another library without a copy, and
// lamina.from_dlpack takes another library's array the same way. Both directions keep the
// memory alive for as long as either side holds it.
//
// The structs below are DLPack's C ABI (dlpack.h, version 1.0; the layout is the
// protocol, so it is declared here rather than depended on). A capsule named "dltensor"
// carries a DLManagedTensor, one named "dltensor_versioned" a DLManagedTensorVersioned; the
// consumer renames it "used_..." once it owns the tensor, and a capsule never consumed
// calls the deleter when it dies.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "bind.hpp"

namespace lamina::bind {

namespace {

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null: compact row-major
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};

constexpr int32_t kCPU = 1, kCUDAHost = 3;  // DLDeviceType values lamina's CPU can read
constexpr uint8_t kInt = 0, kUInt = 1, kFloat = 2, kBool = 6;  // DLDataTypeCode
constexpr uint64_t kReadOnly = 1, kIsCopied = 2;                 // DLManagedTensorVersioned.flags
constexpr const char* kLegacy = "dltensor";
constexpr const char* kVersioned = "dltensor_versioned";

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::f32: return {kFloat, 32, 1};
    case DType::f64: return {kFloat, 64, 1};
    case DType::i32: return {kInt, 32, 1};
    case DType::i64: return {kInt, 64, 1};
    case DType::b8: return {kBool, 8, 1};
  }
  throw DTypeError("__dlpack__: unknown dtype");
}

DType lamina_dtype(DLDataType t) {
  LAMINA_CHECK_DTYPE(t.lanes == 1, "from_dlpack: vector dtypes (", int(t.lanes), " lanes) have no lamina dtype");
  if (t.code == kFloat && t.bits == 32) return DType::f32;
  if (t.code == kFloat && t.bits == 64) return DType::f64;
  if (t.code == kInt && t.bits == 32) return DType::i32;
  if (t.code == kInt && t.bits == 64) return DType::i64;
  if (t.code == kBool && t.bits == 8) return DType::b8;
  const char* kind = t.code == kFloat ? "float" : t.code == kInt ? "int" : t.code == kUInt ? "uint"
                     : t.code == kBool ? "bool" : nullptr;
  const std::string name = kind ? kind + std::to_string(int(t.bits))
                                : "of type code " + std::to_string(int(t.code)) + ", " + std::to_string(int(t.bits)) + " bits,";
  throw DTypeError("from_dlpack: dtype " + name +
                   " has no lamina dtype (lamina has float32, float64, int32, int64 and bool); convert it first");
}

// What an exported capsule owns: the tensor (its storage stays alive), the shape and
// strides the DLTensor points at, and the managed struct itself.
template <class M>
struct Export {
  M managed{};
  Tensor keep;
  std::vector<int64_t> shape, strides;
};

template <class M>
void delete_export(M* m) {
  delete static_cast<Export<M>*>(m->manager_ctx);  // may drop a NumPy array: its release takes the GIL
}

// A capsule dying unconsumed (still under its unused name) frees what it carries.
template <class M>
void capsule_destructor(PyObject* capsule) {
  const char* name = std::is_same_v<M, DLManagedTensorVersioned> ? kVersioned : kLegacy;
  if (!PyCapsule_IsValid(capsule, name)) return;  // consumed (renamed): the consumer owns it
  auto* m = static_cast<M*>(PyCapsule_GetPointer(capsule, name));
  if (m && m->deleter) m->deleter(m);
}

template <class M>
py::capsule export_capsule(const Tensor& t, uint64_t flags) {
  auto* ctx = new Export<M>();
  ctx->keep = t;
  ctx->shape.assign(t.shape().begin(), t.shape().end());
  ctx->strides.assign(t.strides().begin(), t.strides().end());
  DLTensor& dl = ctx->managed.dl_tensor;
  dl.data = t.raw_data();
  dl.device = {kCPU, 0};
  dl.ndim = static_cast<int32_t>(t.dim());
  dl.dtype = dl_dtype(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = &delete_export<M>;
  if constexpr (std::is_same_v<M, DLManagedTensorVersioned>) {
    ctx->managed.version = {1, 0};
    ctx->managed.flags = flags;
  }
  const char* name = std::is_same_v<M, DLManagedTensorVersioned> ? kVersioned : kLegacy;
  PyObject* capsule = PyCapsule_New(&ctx->managed, name, &capsule_destructor<M>);
  if (!capsule) {
    delete ctx;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

py::capsule dlpack(const Tensor& t, py::handle stream, py::handle max_version, py::handle dl_device,
                   py::handle copy) {
  LAMINA_CHECK_AS(DeviceError, t.device() == Device::cpu, "__dlpack__: only cpu tensors can be exported, this one is on ",
                  t.device());
  LAMINA_CHECK_AS(AutogradError, !t.requires_grad(), "__dlpack__: cannot export a tensor that requires grad; export "
                  "t.detach() (the consumer's writes would bypass the tape)");
  LAMINA_CHECK(stream.is_none() || (is_int_like(stream) && to_int64(stream, "__dlpack__", "stream") == -1),
               "__dlpack__: a cpu tensor takes no stream, got ", py::repr(stream).cast<std::string>());
  if (!dl_device.is_none()) {
    const std::vector<int64_t> dev = to_int64s(dl_device, "__dlpack__", "dl_device");
    LAMINA_CHECK(dev.size() == 2, "__dlpack__: dl_device must be a (device type, id) pair, got ",
                 py::repr(dl_device).cast<std::string>());
    LAMINA_CHECK_AS(DeviceError, dev[0] == kCPU, "__dlpack__: cannot export to device type ", dev[0],
                    " (lamina's tensors are on the cpu, type 1)");
  }
  const bool copied = !copy.is_none() && copy.cast<bool>();
  const Tensor out = copied ? t.detach().clone() : t.detach();
  bool versioned = false;
  if (!max_version.is_none()) {
    const std::vector<int64_t> v = to_int64s(max_version, "__dlpack__", "max_version");
    LAMINA_CHECK(v.size() == 2, "__dlpack__: max_version must be a (major, minor) pair, got ",
                 py::repr(max_version).cast<std::string>());
    versioned = v[0] >= 1;
  }
  return versioned ? export_capsule<DLManagedTensorVersioned>(out, copied ? kIsCopied : 0)
                   : export_capsule<DLManagedTensor>(out, 0);
}

// A consumed DLManagedTensor(Versioned) as a lamina tensor over the same memory; its
// deleter runs when the last lamina tensor over that memory is gone.
// copy: the data copied out at once (a read-only producer, or copy=True).
template <class M>
Tensor adopt(M* m, bool copy) {
  std::shared_ptr<M> owner(m, [](M* p) {
    if (!p->deleter) return;
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;  // the producer's deleter may release Python objects
      p->deleter(p);
    } else {
      p->deleter(p);
    }
  });
  const DLTensor& dl = m->dl_tensor;
  LAMINA_CHECK_AS(DeviceError, dl.device.device_type == kCPU || dl.device.device_type == kCUDAHost,
                  "from_dlpack: the array is on device type ", dl.device.device_type,
                  "; lamina reads cpu memory (type 1) only");
  LAMINA_CHECK_SHAPE(dl.ndim >= 0 && dl.ndim <= 64, "from_dlpack: ", dl.ndim, " dimensions");
  const DType dtype = lamina_dtype(dl.dtype);
  const int64_t item = static_cast<int64_t>(dtype_size(dtype));
  Shape shape(dl.shape, dl.shape + dl.ndim), strides(static_cast<size_t>(dl.ndim));
  int64_t numel = 1, span = 1;  // span: elements from the first to one past the last
  for (int64_t d = dl.ndim - 1, s = 1; d >= 0; --d) {
    LAMINA_CHECK_SHAPE(shape[d] >= 0, "from_dlpack: negative extent in shape ", shape);
    strides[d] = dl.strides ? dl.strides[d] : s;
    LAMINA_CHECK(strides[d] >= 0 || shape[d] <= 1, "from_dlpack: negative strides ", strides,
                 " are not supported; pass a copy (e.g. numpy.ascontiguousarray)");
    if (shape[d] <= 1) strides[d] = std::max<int64_t>(strides[d], 0);
    s *= std::max<int64_t>(shape[d], 1);
    numel = shape[d] == 0 || numel == 0 ? 0 : numel * shape[d];
    span += (shape[d] - 1) * strides[d];
  }
  char* data = static_cast<char*>(dl.data) + dl.byte_offset;
  const size_t nbytes = numel == 0 ? 0 : static_cast<size_t>(span * item);
  LAMINA_CHECK(numel == 0 || reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(item) == 0,
               "from_dlpack: the data is not aligned to its ", item, "-byte elements");
  auto storage = Storage::wrap(numel == 0 ? nullptr : data, nbytes, Device::cpu, [owner]() mutable { owner.reset(); });
  Tensor t = Tensor::from_storage(storage, shape, strides, 0, dtype);
  return copy ? t.clone() : t;  // lamina has no read-only tensors: a copy, never a write into them
}

Tensor from_dlpack(py::object x, py::handle copy) {
  py::object capsule = x;
  if (!PyCapsule_CheckExact(x.ptr())) {
    LAMINA_CHECK_AS(DTypeError, py::hasattr(x, "__dlpack__"), "from_dlpack: ", py::str(py::type::of(x)).cast<std::string>(),
                    " does not support DLPack (no __dlpack__)");
    if (py::hasattr(x, "__dlpack_device__")) {
      const auto dev = x.attr("__dlpack_device__")().cast<std::pair<int64_t, int64_t>>();
      LAMINA_CHECK_AS(DeviceError, dev.first == kCPU || dev.first == kCUDAHost, "from_dlpack: the array is on "
                      "device type ", dev.first, "; lamina reads cpu memory (type 1) only");
    }
    try {
      capsule = x.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;  // a producer older than DLPack 1.0 takes no max_version
      capsule = x.attr("__dlpack__")();
    }
  }
  const bool want_copy = !copy.is_none() && copy.cast<bool>();
  if (PyCapsule_IsValid(capsule.ptr(), kVersioned)) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule.ptr(), kVersioned));
    if (m->version.major > 1) throw ValueError("from_dlpack: DLPack version " + std::to_string(m->version.major) +
                                                      " is newer than lamina reads (1)");
    PyCapsule_SetName(capsule.ptr(), "used_dltensor_versioned");
    return adopt(m, want_copy || (m->flags & kReadOnly) != 0);
  }
  if (PyCapsule_IsValid(capsule.ptr(), kLegacy)) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kLegacy));
    PyCapsule_SetName(capsule.ptr(), "used_dltensor");
    return adopt(m, want_copy);
  }
  throw ValueError("from_dlpack: expected a DLPack capsule named 'dltensor' or 'dltensor_versioned' (an "
                          "unused one), got " + py::repr(capsule).cast<std::string>());
}

}  // namespace

void bind_dlpack(py::module_& m, py::class_<Tensor>& tensor) {
  tensor.def("__dlpack__", &dlpack, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
             py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
             "This tensor's memory as a DLPack capsule (no copy unless copy=True): for numpy.from_dlpack, "
             "torch.from_dlpack and any DLPack consumer. A tensor that requires grad is refused (export detach()).");
  tensor.def("__dlpack_device__", [](const Tensor&) { return py::make_tuple(kCPU, 0); },
             "(1, 0): DLPack's cpu device.");
  m.def("from_dlpack", &from_dlpack, py::arg("x"), py::kw_only(), py::arg("copy") = py::none(),
        "A tensor over the memory of x (anything with __dlpack__: a NumPy array, a torch tensor, ...; or a "
        "DLPack capsule), without a copy; x's memory stays alive while the tensor does. Read-only arrays "
        "and copy=True give a copy. Other devices raise DeviceError, dtypes lamina lacks DTypeError.");
}

}  // namespace lamina::bind
