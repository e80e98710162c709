// dist::world(): MPI's world when the process is part of an MPI job, else one process.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

#include "distributed/backends.hpp"
#include "lamina/autograd.hpp"

namespace lamina::dist {

namespace {

class Single final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "single"; }
  std::unique_ptr<Work> allreduce_async(const Tensor& input, Tensor& output, ReduceOp op) override {
    if (detail::check_allreduce(input, output, op)) {
      NoGradGuard no_grad;
      output.copy_(input);
    }
    struct Done final : Work {
      bool test() override { return true; }
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void broadcast(Tensor& t, int root) override {
    detail::check_tensor(t, "broadcast", false);
    LAMINA_CHECK(root == 0, "broadcast: root ", root, " is not a rank of a world of 1 process");
  }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message, int code) override {
    std::cerr << "lamina: " << message << std::endl;
    std::_Exit(code);
  }
};

std::mutex g_mutex;
std::unique_ptr<Communicator> g_world;

double env_double(const char* name, double fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  LAMINA_CHECK(*end == 0 && v > 0, name, "='", text, "': expected a number > 0");
  return v;
}

double g_timeout = -1;  // -1: not read from the environment yet
BucketSizes g_buckets{-1, -1};

bool disabled_by_env() {
  const char* v = std::getenv("LAMINA_DIST");
  return v && std::string(v) == "0";
}

}  // namespace

namespace detail {

std::unique_ptr<Communicator> make_single() { return std::make_unique<Single>(); }

void check_tensor(const Tensor& t, const char* what, bool reduce_mean) {
  LAMINA_CHECK(t.defined(), what, ": the tensor is undefined");
  LAMINA_CHECK(t.device() == Device::cpu, what, ": the tensor is not on the CPU");
  LAMINA_CHECK(t.is_contiguous(), what, ": the tensor of shape ", t.shape(), " is not contiguous (works in place)");
  const DType d = t.dtype();
  LAMINA_CHECK_DTYPE(d == DType::f32 || d == DType::f64 || d == DType::i32 || d == DType::i64, what,
                     ": dtype ", dtype_name(d), " is not supported (f32, f64, i32, i64)");
  LAMINA_CHECK_DTYPE(!reduce_mean || is_floating(d), what, ": op 'mean' needs a floating tensor, got ",
                     dtype_name(d));
}

bool check_allreduce(const Tensor& input, const Tensor& output, ReduceOp op) {
  check_tensor(output, "allreduce", op == ReduceOp::mean);
  LAMINA_CHECK(input.defined(), "allreduce: the input is undefined");
  LAMINA_CHECK_SHAPE(input.shape() == output.shape(), "allreduce: input of shape ", input.shape(),
                     " and output of shape ", output.shape());
  if (input.storage() == output.storage() && input.offset() == output.offset()) return false;  // in place
  check_tensor(input, "allreduce", op == ReduceOp::mean);
  LAMINA_CHECK_DTYPE(input.dtype() == output.dtype(), "allreduce: input of dtype ", dtype_name(input.dtype()),
                     " and output of dtype ", dtype_name(output.dtype()));
  const size_t bytes = size_t(output.numel()) * dtype_size(output.dtype());
  const auto* a = static_cast<const char*>(input.raw_data());
  const auto* b = static_cast<const char*>(output.raw_data());
  LAMINA_CHECK(a + bytes <= b || b + bytes <= a, "allreduce: the input and output overlap (pass one tensor to work in place)");
  return true;
}

}  // namespace detail

Communicator& world() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_world) {
    if (!disabled_by_env() && detail::launched_by_mpi()) g_world = detail::make_mpi();
    if (!g_world) g_world = detail::make_single();
  }
  return *g_world;
}

Communicator& init() {
  LAMINA_CHECK_AS(DistributedError, mpi_built(),
                  "lamina.distributed.init: this lamina was built without MPI (LAMINA_MPI=OFF: CMake found no MPI; "
                  "install one, e.g. apt-get install libopenmpi-dev, and rebuild)");
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_world || std::string(g_world->backend()) != "mpi") g_world = detail::make_mpi();
  }
  return world();
}

void set_timeout_seconds(double seconds) {
  LAMINA_CHECK(seconds > 0, "set_timeout_seconds: the timeout must be > 0 seconds, got ", seconds);
  g_timeout = seconds;
}

double timeout_seconds() {
  if (g_timeout < 0) g_timeout = env_double("LAMINA_DIST_TIMEOUT_S", 300);
  return g_timeout;
}

void set_bucket_sizes(const BucketSizes& sizes) {
  LAMINA_CHECK(sizes.first_mb > 0 && sizes.rest_mb > 0, "set_bucket_sizes: sizes must be > 0 MiB, got ",
               sizes.first_mb, " and ", sizes.rest_mb);
  g_buckets = sizes;
}

BucketSizes bucket_sizes() {
  if (g_buckets.first_mb < 0) {
    g_buckets = BucketSizes{};
    if (const char* text = std::getenv("LAMINA_DIST_BUCKET_MB"); text && *text) {
      double first = 0, rest = 0;
      char tail = 0;
      LAMINA_CHECK(std::sscanf(text, "%lf,%lf%c", &first, &rest, &tail) == 2 && first > 0 && rest > 0,
                   "LAMINA_DIST_BUCKET_MB='", text, "': expected 'first,rest' in MiB, both > 0");
      g_buckets = {first, rest};
    }
  }
  return g_buckets;
}

}  // namespace lamina::dist
