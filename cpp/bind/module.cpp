// PYBIND11_MODULE(_lamina): the compiled half of the `lamina` package. python/lamina
// re-exports it; see _lamina.pyi for the signatures.
#include "bind.hpp"
#include "lamina/distributed.hpp"

namespace lamina::bind {

PYBIND11_MODULE(_lamina, m) {
  m.doc() = "lamina's C++ core (tensors, kernels, errors).";
  m.attr("__version__") = LAMINA_VERSION_STRING;
  bind_errors(m);
  py::class_<Tensor> tensor = bind_tensor(m);
  bind_ops(m, tensor);
  bind_prototxt(m);
  bind_net(m);
  bind_nn(m);
  bind_optim(m);
  bind_caffe(m);
  bind_dlpack(m, tensor);
  bind_distributed(m);

  def_checked(m, "set_num_threads", &set_num_threads, py::arg("n"),
        "Number of threads lamina's kernels use (>= 1).");
  m.def("num_threads", &num_threads, "Number of threads lamina's kernels use.");
  m.def("set_deterministic", &set_deterministic, py::arg("on"),
        "Deterministic mode: results bit-identical at any thread count (conv2d's weight gradient then sums "
        "the batch in one fixed order on one thread). Off by default; LAMINA_DETERMINISTIC=1 turns it on.");
  m.def("deterministic", &deterministic, "Whether deterministic mode is on (set_deterministic).");
  m.def("empty_cache", &empty_cache, "Frees the memory blocks lamina keeps for reuse.");
  m.def("set_isa", [](const std::string& level) { set_isa(parse_isa(level)); }, py::arg("level"),
        "Makes lamina's CPU kernels use `level` ('avx512', 'avx2', 'neon', 'generic'); a level this CPU "
        "cannot run raises lamina.InvalidValueError.");
  m.def("isa", [] { return std::string(isa_name(active_isa())); }, "The vector level lamina's CPU kernels use now.");
  m.def("cpu_info", [] {
    py::dict d;
    d["cpu_isa"] = isa_name(cpu_isa());
    d["isa"] = isa_name(active_isa());
    py::list levels;
    for (Isa l : available_isas()) levels.append(isa_name(l));
    d["available"] = levels;
    py::dict paths;
    for (const auto& [kernel, path] : kernel_paths()) paths[kernel.c_str()] = path;
    d["kernels"] = paths;
    d["blas"] = blas_info();
    return d;
  }, "What lamina's CPU kernels run on: the CPU's best level ('cpu_isa'), the active one ('isa', lower when "
     "LAMINA_ISA or set_isa asked for it), the levels this CPU runs ('available'), each kernel family's path at "
     "the active level ('kernels') and the BLAS.");
  m.def("build_info", [] {
    py::dict d;
    d["version"] = LAMINA_VERSION_STRING;
    d["blas"] = blas_info();
    d["mpi"] = dist::mpi_built();
    d["mpi_version"] = dist::mpi_version();
    return d;
  }, "What this lamina was built with: 'mpi' (LAMINA_MPI: lamina.distributed over MPI) and its "
     "'mpi_version', the 'blas'.");
  m.def("blas_info", &blas_info, "What backs GEMM: OpenBLAS's configuration, 'system BLAS' or 'built-in'.");
  convert_refusals(m);
}

}  // namespace lamina::bind
