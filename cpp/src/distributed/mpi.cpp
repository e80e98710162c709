// The MPI communicator (built with LAMINA_MPI). Every collective is nonblocking and
// polled against dist::timeout_seconds(); see distributed.hpp for the fault rules.
#include <dlfcn.h>
#include <mpi.h>
#include <sys/statvfs.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "distributed/backends.hpp"
#include "lamina/autograd.hpp"
#include "ops/common.hpp"

namespace lamina::dist {

namespace {

bool g_we_initialized = false;

// A shared-memory window (MPI-3) holding buckets for every rank of the machine. Windows
// live until MPI finalizes and are reused by later bucket sets that fit: freeing one is
// collective, and ranks let go of a bucket set at different moments.
struct Segment {
  MPI_Win win = MPI_WIN_NULL;
  std::vector<char*> base;  // each rank's part, in this process's address space
  size_t bytes = 0;         // of each rank's part
  bool busy = false;
};
std::vector<std::unique_ptr<Segment>> g_segments;  // the same on every rank: made together

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
  if (finalized) return;
  for (auto& segment : g_segments) {
    MPI_Win_unlock_all(segment->win);
    MPI_Win_free(&segment->win);
  }
  g_segments.clear();
  MPI_Finalize();
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    default: return MPI_INT64_T;  // check_tensor admitted nothing else
  }
}

class SharedBuckets;

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
    // The ranks on this rank's machine, in world order.
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "MPI_Comm_split_type");
    check(MPI_Comm_set_errhandler(node_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_size(node_, &node_size_), "MPI_Comm_size");
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  std::unique_ptr<Work> allreduce_async(const Tensor& input, Tensor& output, ReduceOp op) override {
    const bool apart = detail::check_allreduce(input, output, op);
    auto work = std::make_unique<Request>(*this, output, op == ReduceOp::mean ? size_ : 1, "allreduce");
    if (apart) work->input = input;
    check(MPI_Iallreduce(apart ? input.raw_data() : MPI_IN_PLACE, output.raw_data(), count(output, "allreduce"),
                         mpi_type(output.dtype()), MPI_SUM, comm_, &work->request),
          "MPI_Iallreduce");
    return work;
  }

  std::unique_ptr<BucketSet> buckets(const std::vector<BucketSpec>& specs, ReduceOp op) override;

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
      while (!done) {
        int flag = 0;
        comm.check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), what);
        if (!flag) break;
        const auto next = std::move(then);  // runs once, even when it throws
        then = nullptr;
        if (!next || !next(request)) finish();
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
    Tensor input;   // and reads from this (out of place)
    // Runs when `request` completes: true when it started a next stage into it.
    std::function<bool(MPI_Request&)> then;
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

  // Whether this rank can hold `bytes` of buckets in shared memory (LAMINA_DIST_SHARED,
  // one machine, room in /dev/shm, where OpenMPI keeps its windows on Linux).
  bool shared_possible(size_t bytes) const {
    const char* v = std::getenv("LAMINA_DIST_SHARED");
    if ((v && std::string(v) == "0") || node_size_ != size_ || size_ > kMaxSharedRanks || bytes == 0) return false;
    struct statvfs fs {};
    return statvfs("/dev/shm", &fs) != 0 || double(fs.f_bavail) * double(fs.f_frsize) > 1.25 * double(bytes) * size_;
  }

  // A shared-memory window of `bytes` per rank, made by every rank together.
  Segment& new_segment(size_t bytes) {
    auto segment = std::make_unique<Segment>();
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each rank's part on its own pages
    void* mine = nullptr;
    const int code = MPI_Win_allocate_shared(MPI_Aint(bytes), 1, info, node_, &mine, &segment->win);
    MPI_Info_free(&info);
    check(code, "MPI_Win_allocate_shared");
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, segment->win), "MPI_Win_lock_all");
    segment->base.resize(size_t(size_));
    for (int r = 0; r < size_; ++r) {
      MPI_Aint size = 0;
      int unit = 0;
      void* base = nullptr;
      check(MPI_Win_shared_query(segment->win, r, &size, &unit, &base), "MPI_Win_shared_query");
      segment->base[size_t(r)] = static_cast<char*>(base);
    }
    segment->bytes = bytes;
    g_segments.push_back(std::move(segment));
    return *g_segments.back();
  }

  // Reads every rank's memory: beyond a few ranks MPI's own algorithms move less.
  static constexpr int kMaxSharedRanks = 4;

  friend class SharedBuckets;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm node_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, node_size_ = 1;
};

// Buckets in a shared-memory window. Each rank copies its pieces into its own part of the
// window, then an MPI barrier over the machine says every rank's bucket is there, and each
// rank sums all the ranks' copies itself into a result of its own (sum_scaled: the same
// bits on every rank). Each bucket has two places per rank, used in turn, so a rank may
// write the next step's bucket while a slower rank still reads this step's: before it
// writes that place again, it has passed a barrier the slower rank reached only after
// reading.
class SharedBuckets final : public BucketSet {
 public:
  SharedBuckets(Mpi& comm, Segment& segment, std::vector<BucketSpec> specs, ReduceOp op)
      : comm_(comm), segment_(segment), specs_(std::move(specs)), offsets_(specs_.size()), results_(specs_.size()),
        turn_(specs_.size(), 1), scale_(op == ReduceOp::mean ? 1.0 / comm.size_ : 1.0) {
    segment_.busy = true;
    for (size_t b = 0; b < specs_.size(); ++b) {
      offsets_[b] = half_;
      half_ += bucket_bytes(specs_[b]);
    }
    for (size_t b = 0; b < specs_.size(); ++b)
      for (int turn = 0; turn < 2; ++turn) {
        char* place = place_of(comm_.rank_, turn, b);
        const BucketSpec& spec = specs_[b];
        const size_t bytes = size_t(spec.numel) * dtype_size(spec.dtype);
        mine_[turn].push_back(Tensor::from_storage(Storage::wrap(place, bytes, Device::cpu, [] {}), {spec.numel}, {1},
                                                   0, spec.dtype));
      }
  }
  ~SharedBuckets() override { segment_.busy = false; }

  // The bytes of window a rank needs for these buckets: two places each, whole cache lines.
  static size_t bytes_needed(const std::vector<BucketSpec>& specs) {
    size_t bytes = 0;
    for (const BucketSpec& spec : specs) bytes += 2 * bucket_bytes(spec);
    return bytes;
  }

  std::unique_ptr<Work> start(size_t b, const std::vector<Tensor>& pieces) override {
    LAMINA_CHECK_INDEX(b < specs_.size(), "buckets: no bucket ", b, " (there are ", specs_.size(), ")");
    const int turn = turn_[b] ^= 1;
    detail::gather(pieces, mine_[turn][b]);
    MPI_Win_sync(segment_.win);  // this rank's copy is in memory before the others hear of it
    auto work = std::make_unique<Mpi::Request>(comm_, Tensor(), 1, "allreduce");
    comm_.check(MPI_Ibarrier(comm_.node_, &work->request), "MPI_Ibarrier");
    work->then = [this, b, turn](MPI_Request&) {
      MPI_Win_sync(segment_.win);
      sum(b, turn);
      return false;
    };
    return work;
  }
  Tensor result(size_t b) const override { return results_.at(b); }
  const char* method() const override { return "shared memory"; }

 private:
  static size_t bucket_bytes(const BucketSpec& spec) {
    const size_t line = Storage::kAlignment;
    return (size_t(spec.numel) * dtype_size(spec.dtype) + line - 1) / line * line;
  }
  char* place_of(int rank, int turn, size_t b) const {
    return segment_.base[size_t(rank)] + size_t(turn) * half_ + offsets_[b];
  }

  void sum(size_t b, int turn) {
    const BucketSpec& spec = specs_[b];
    Tensor out = Tensor::empty({spec.numel}, spec.dtype);
    ops_detail::dispatch(spec.dtype, [&](auto z) {
      using T = decltype(z);
      std::vector<const T*> in;
      for (int r = 0; r < comm_.size_; ++r) in.push_back(reinterpret_cast<const T*>(place_of(r, turn, b)));
      ops_detail::kernels_for<T>("allreduce", out)
          .sum_scaled(in.data(), comm_.size_, spec.numel, static_cast<T>(scale_), out.data<T>());
    });
    results_[b] = out;
  }

  Mpi& comm_;
  Segment& segment_;
  std::vector<BucketSpec> specs_;
  std::vector<size_t> offsets_;  // of each bucket in a place
  size_t half_ = 0;              // bytes of one place of every bucket
  std::vector<Tensor> mine_[2];  // this rank's places, as tensors
  std::vector<Tensor> results_;
  std::vector<int> turn_;  // the place each bucket used last
  double scale_;
};

std::unique_ptr<BucketSet> Mpi::buckets(const std::vector<BucketSpec>& specs, ReduceOp op) {
  detail::check_specs(specs);
  // Every rank states what it has; all learn the least of each (one allreduce): whether
  // every rank can share memory, whether their buckets match, and which free window, if
  // any, every rank would reuse.
  const size_t bytes = SharedBuckets::bytes_needed(specs);
  uint64_t signature = 1469598103934665603ull ^ uint64_t(op);
  for (const BucketSpec& spec : specs)
    for (uint64_t v : {uint64_t(spec.numel), uint64_t(spec.dtype)}) signature = (signature ^ v) * 1099511628211ull;
  const int64_t sig = int64_t(signature >> 2);  // -sig fits
  int64_t free_window = -1;
  for (size_t k = 0; k < g_segments.size() && free_window < 0; ++k)
    if (!g_segments[k]->busy && g_segments[k]->bytes >= bytes) free_window = int64_t(k);
  Tensor state = Tensor::empty({5}, DType::i64);
  int64_t* v = state.data<int64_t>();
  v[0] = shared_possible(bytes) ? 1 : 0;
  v[1] = sig;
  v[2] = -sig;
  v[3] = free_window;
  v[4] = -free_window;
  Request agree(*this, state, 1, "buckets");
  check(MPI_Iallreduce(MPI_IN_PLACE, v, 5, MPI_INT64_T, MPI_MIN, comm_, &agree.request), "MPI_Iallreduce");
  agree.wait();
  if (v[1] != -v[2])
    throw DistributedError("lamina.distributed: rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                           ": the ranks' gradient buckets differ (every rank must reduce the same parameters, in "
                           "the same order)");
  if (v[0] == 0) return Communicator::buckets(specs, op);
  Segment& segment = v[3] >= 0 && v[3] == -v[4] ? *g_segments[size_t(v[3])] : new_segment(bytes);
  return std::make_unique<SharedBuckets>(*this, segment, specs, op);
}

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
