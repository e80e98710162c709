// The MPI communicator (built with LAMINA_MPI). Every collective is nonblocking and
// polled against dist::timeout_seconds(); see distributed.hpp for the fault rules.
#include <dlfcn.h>
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "distributed/backends.hpp"
#include "lamina/autograd.hpp"

namespace lamina::dist {

namespace {

bool g_we_initialized = false;

// Python loads extension modules with their symbols private (RTLD_LOCAL); OpenMPI's plugins,
// which it loads at MPI_Init, look for MPI's symbols globally. Promote the MPI library
// already loaded to global visibility first (as mpi4py does).
void make_mpi_symbols_global() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    default: return MPI_INT64_T;  // check_tensor admitted nothing else
  }
}

class Mpi final : public Communicator {
 public:
  Mpi() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      make_mpi_symbols_global();
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw DistributedError("lamina.distributed: MPI_Init_thread failed");
      g_we_initialized = true;
      std::atexit(finalize_at_exit);
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  std::unique_ptr<Work> allreduce_async(Tensor& t, ReduceOp op) override {
    detail::check_tensor(t, "allreduce", op == ReduceOp::mean);
    auto work = std::make_unique<Request>(*this, t, op == ReduceOp::mean ? size_ : 1, "allreduce");
    check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), count(t, "allreduce"), mpi_type(t.dtype()), MPI_SUM, comm_,
                         &work->request),
          "MPI_Iallreduce");
    return work;
  }

  void broadcast(Tensor& t, int root) override {
    detail::check_tensor(t, "broadcast", false);
    LAMINA_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of a world of ", size_);
    Request work(*this, t, 1, "broadcast");
    check(MPI_Ibcast(t.raw_data(), count(t, "broadcast"), mpi_type(t.dtype()), root, comm_, &work.request),
          "MPI_Ibcast");
    work.wait();
  }

  void barrier() override {
    Request work(*this, Tensor(), 1, "barrier");
    check(MPI_Ibarrier(comm_, &work.request), "MPI_Ibarrier");
    work.wait();
  }

  [[noreturn]] void abort(const std::string& message, int code) override {
    std::cerr << "lamina: rank " << rank_ << " of " << size_ << ": " << message << std::endl;
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort returned (it should not)
  }

 private:
  static constexpr double kSpinSeconds = 1.0;

  struct Request final : Work {
    Request(Mpi& comm, const Tensor& t, int divide_by, const char* what)
        : comm(comm), tensor(t), divide_by(divide_by), what(what) {}
    ~Request() override {
      if (!done) wait();  // MPI may still write into the tensor: never leave it behind
    }
    bool test() override {
      if (!done) {
        int flag = 0;
        comm.check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), what);
        if (flag) finish();
      }
      return done;
    }
    void wait() override {
      const auto start = std::chrono::steady_clock::now();
      const double limit = timeout_seconds();
      while (!test()) {
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (waited > limit)
          comm.abort(std::string(what) + " did not complete within " + std::to_string(limit) +
                         " s (LAMINA_DIST_TIMEOUT_S): another rank died, raised, or stopped taking part; "
                         "aborting the job",
                     1);
        // A transfer over shared memory moves only while a rank polls, so a sleep between
        // polls stretches every collective; a wait past kSpinSeconds is a slow or dead rank,
        // polled gently from then on.
        if (waited < kSpinSeconds) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    void finish() {
      done = true;
      if (divide_by > 1) {
        NoGradGuard no_grad;
        tensor.mul_(1.0 / divide_by);
      }
    }
    Mpi& comm;
    Tensor tensor;  // kept alive while MPI writes into it
    int divide_by;
    const char* what;
    MPI_Request request = MPI_REQUEST_NULL;
    bool done = false;
  };

  int count(const Tensor& t, const char* what) const {
    LAMINA_CHECK(t.numel() <= INT_MAX, what, ": ", t.numel(), " elements exceed MPI's count limit");
    return static_cast<int>(t.numel());
  }

  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw DistributedError("lamina.distributed: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
                           what + " failed: " + std::string(text, static_cast<size_t>(length)));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

namespace detail {

std::unique_ptr<Communicator> make_mpi() { return std::make_unique<Mpi>(); }

bool launched_by_mpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return true;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

}  // namespace detail

bool mpi_built() { return true; }

std::string mpi_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string s(text, static_cast<size_t>(length));
  const size_t line = s.find_first_of("\n,");
  return line == std::string::npos ? s : s.substr(0, line);
}

}  // namespace lamina::dist
