// PYBIND11_MODULE(_lamina): the compiled half of the `lamina` package. python/lamina
// re-exports it; see _lamina.pyi for the signatures.
#include "bind.hpp"

namespace lamina::bind {

PYBIND11_MODULE(_lamina, m) {
  m.doc() = "lamina's C++ core (tensors, kernels, errors).";
  m.attr("__version__") = LAMINA_VERSION_STRING;
  bind_errors(m);
  py::class_<Tensor> tensor = bind_tensor(m);
  bind_ops(m, tensor);
  bind_prototxt(m);
  bind_net(m);

  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Number of threads lamina's kernels use (>= 1).");
  m.def("num_threads", &num_threads, "Number of threads lamina's kernels use.");
  m.def("empty_cache", &empty_cache, "Frees the memory blocks lamina keeps for reuse.");
  m.def("blas_info", &blas_info, "What backs GEMM: OpenBLAS's configuration, 'system BLAS' or 'built-in'.");
}

}  // namespace lamina::bind
