// lamina._lamina.distributed: the communicator (distributed.hpp) for lamina.distributed.
#include "bind.hpp"
#include "lamina/distributed.hpp"

namespace lamina::bind {

namespace {

dist::ReduceOp reduce_op(const std::string& op) {
  if (op == "sum") return dist::ReduceOp::sum;
  if (op == "mean") return dist::ReduceOp::mean;
  throw ValueError("allreduce_: op '" + op + "' is not one of 'sum', 'mean'");
}

}  // namespace

void bind_distributed(py::module_& m) {
  py::module_ d = m.def_submodule("distributed", "The processes of one job (distributed.hpp).");
  d.def("init", [] { return dist::init().size(); }, "Joins MPI (also without a launcher); returns the world size.");
  d.def("rank", [] { return dist::world().rank(); });
  d.def("size", [] { return dist::world().size(); });
  d.def("backend", [] { return std::string(dist::world().backend()); });
  d.def("allreduce_", [](Tensor& t, const std::string& op) {
        const dist::ReduceOp r = reduce_op(op);
        py::gil_scoped_release release;
        dist::world().allreduce(t, r);
      }, py::arg("tensor"), py::arg("op") = "sum");
  def_checked(d, "broadcast_", [](Tensor& t, int root) {
        py::gil_scoped_release release;
        dist::world().broadcast(t, root);
      }, py::arg("tensor"), py::arg("root") = 0);
  d.def("barrier", [] {
    py::gil_scoped_release release;
    dist::world().barrier();
  });
  def_checked(d, "abort", [](const std::string& message, int code) { dist::world().abort(message, code); },
        py::arg("message"), py::arg("code") = 1);
  def_checked(d, "set_timeout", &dist::set_timeout_seconds, py::arg("seconds"));
  d.def("timeout", &dist::timeout_seconds);
  def_checked(d, "set_bucket_sizes", [](double first_mb, double rest_mb) { dist::set_bucket_sizes({first_mb, rest_mb}); },
        py::arg("first_mb"), py::arg("rest_mb"));
  d.def("bucket_sizes", [] {
    const dist::BucketSizes s = dist::bucket_sizes();
    return py::make_tuple(s.first_mb, s.rest_mb);
  });
  py::class_<dist::GradientReducer>(d, "GradientReducer")
      .def(py::init([](std::vector<Tensor> params, py::handle first_mb, py::handle rest_mb) {
             const dist::BucketSizes sizes{to_double(first_mb, "GradientReducer", "first_mb"),
                                           to_double(rest_mb, "GradientReducer", "rest_mb")};
             return std::make_unique<dist::GradientReducer>(dist::world(), std::move(params), sizes);
           }),
           py::arg("params"), py::arg("first_mb"), py::arg("rest_mb"))
      .def("backward", [](dist::GradientReducer& r, py::function fn) { r.backward([&] { fn(); }); })
      .def("finish", [](dist::GradientReducer& r) {
        py::gil_scoped_release release;
        return r.finish();
      })
      .def_property_readonly("num_buckets", &dist::GradientReducer::num_buckets)
      .def_property_readonly("num_launched", &dist::GradientReducer::num_launched)
      .def_property_readonly("method", [](const dist::GradientReducer& r) { return std::string(r.method()); });
  d.def("mpi_built", &dist::mpi_built);
  d.def("mpi_version", &dist::mpi_version);
}

}  // namespace lamina::bind
