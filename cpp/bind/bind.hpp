// Shared declarations of the binding (the only code that includes pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "args.hpp"
#include "lamina/lamina.hpp"

namespace lamina::bind {

namespace py = pybind11;

void bind_errors(py::module_& m);
// Last of all: the TypeError pybind11 raises when no overload takes the arguments becomes
// lamina.DTypeError in every function, method and property setter of m (errors.cpp).
void convert_refusals(py::module_& m);
py::class_<Tensor> bind_tensor(py::module_& m);
void bind_ops(py::module_& m, py::class_<Tensor>& tensor);
void bind_losses(py::module_& ops);  // into lamina.ops
void bind_prototxt(py::module_& m);
void bind_net(py::module_& m);
void bind_nn(py::module_& m);  // after bind_ops: adds to lamina.ops
void bind_optim(py::module_& m);
void bind_caffe(py::module_& m);
void bind_dlpack(py::module_& m, py::class_<Tensor>& tensor);
void bind_distributed(py::module_& m);

// Zero-copy in both directions (tensor.cpp): `owner` keeps the tensor's memory alive.
py::array to_numpy(const Tensor& t, py::handle owner);
Tensor from_numpy(py::array a);

// Python values -> lamina types, with lamina errors for bad values (integers: args.hpp).
// A seed: None -> the next seed of lamina's generator, else an int in [0, 2^64) (ValueError).
uint64_t to_seed(py::handle v, const char* what);
// A shape for a new tensor of `dtype`: to_shape plus checked_nbytes (the allocation limit).
Shape to_alloc_shape(py::handle obj, const char* what, DType dtype);
DType to_dtype(py::handle obj, const char* what, DType fallback = DType::f32);
// allow_infer: keep -1 entries (for reshape), otherwise negative extents raise ShapeError.
Shape to_shape(py::handle obj, const char* what, bool allow_infer = false);
py::dtype numpy_dtype(DType dtype);
// None -> an undefined tensor (an optional argument).
inline Tensor optional_tensor(py::handle v) { return v.is_none() ? Tensor() : v.cast<Tensor>(); }

}  // namespace lamina::bind
