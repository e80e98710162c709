// The MPI communicator (built with LAMINA_MPI). Every collective is nonblocking and
// polled against dist::timeout_seconds(); see distributed.hpp for the fault rules.
#include "distributed/mpi.hpp"

#include <dlfcn.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

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

// Polling without a pause for the first second of a wait (Request::wait).
constexpr double kSpinSeconds = 1.0;

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    default: return MPI_INT64_T;  // check_tensor admitted nothing else
  }
}

}  // namespace

namespace detail {

Mpi::Mpi() {
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
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "MPI_Comm_split_type");
  check(MPI_Comm_set_errhandler(node_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_size(node_, &node_size_), "MPI_Comm_size");
}

std::unique_ptr<Work> Mpi::allreduce_async(const Tensor& input, Tensor& output, ReduceOp op) {
  const bool apart = check_allreduce(input, output, op);
  auto work = std::make_unique<Request>(*this, output, op == ReduceOp::mean ? size_ : 1, "allreduce");
  if (apart) work->input = input;
  check(MPI_Iallreduce(apart ? input.raw_data() : MPI_IN_PLACE, output.raw_data(), count(output, "allreduce"),
                       mpi_type(output.dtype()), MPI_SUM, comm_, &work->request),
        "MPI_Iallreduce");
  return work;
}

void Mpi::broadcast(Tensor& t, int root) {
  check_tensor(t, "broadcast", false);
  LAMINA_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of a world of ", size_);
  Request work(*this, t, 1, "broadcast");
  check(MPI_Ibcast(t.raw_data(), count(t, "broadcast"), mpi_type(t.dtype()), root, comm_, &work.request),
        "MPI_Ibcast");
  work.wait();
}

void Mpi::barrier() {
  Request work(*this, Tensor(), 1, "barrier");
  check(MPI_Ibarrier(comm_, &work.request), "MPI_Ibarrier");
  work.wait();
}

void Mpi::abort(const std::string& message, int code) {
  std::cerr << "lamina: rank " << rank_ << " of " << size_ << ": " << message << std::endl;
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort returned (it should not)
}

Mpi::Request::~Request() {
  // MPI may still write into the tensor: never leave it behind (unless MPI is gone, or the
  // request failed already; a destructor throws nothing).
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (done || failed || finalized) return;
  try {
    wait();
  } catch (...) {
  }
}

bool Mpi::Request::test() {
  if (failed) std::rethrow_exception(failed);
  if (done) return true;
  int flag = 0;
  comm.check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), what);
  if (!flag) return false;
  if (then) {
    try {
      then();
    } catch (...) {
      failed = std::current_exception();
      throw;
    }
  }
  finish();
  return true;
}

void Mpi::Request::wait() {
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

void Mpi::Request::finish() {
  done = true;
  if (divide_by > 1) {
    NoGradGuard no_grad;
    tensor.mul_(1.0 / divide_by);
  }
}

int Mpi::count(const Tensor& t, const char* what) const {
  LAMINA_CHECK(t.numel() <= INT_MAX, what, ": ", t.numel(), " elements exceed MPI's count limit");
  return static_cast<int>(t.numel());
}

std::string Mpi::error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

DistributedError Mpi::error(const std::string& message) const {
  return DistributedError("lamina.distributed: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
                          message);
}

void Mpi::check(int code, const char* what) const {
  if (code != MPI_SUCCESS) throw error(std::string(what) + " failed: " + error_text(code));
}

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
