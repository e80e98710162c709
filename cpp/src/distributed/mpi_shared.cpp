// Buckets in MPI shared memory (Communicator::buckets over MPI, distributed.hpp): for a
// job whose ranks all share one machine, each bucket is copied into an MPI-3 shared-memory
// window, an MPI barrier over the machine says every rank's copy is there, and each rank
// sums all the copies itself into a result of its own (sum_scaled: the same bits on every
// rank). Elsewhere, the default buckets: one MPI allreduce each.
#include <sys/statvfs.h>

#include <cstdlib>
#include <string>

#include "distributed/mpi.hpp"
#include "ops/common.hpp"

namespace lamina::dist::detail {

namespace {

// Reads every rank's memory: beyond a few ranks MPI's own algorithms move less.
constexpr int kMaxSharedRanks = 4;

// A window holding buckets for every rank of the machine. Windows are kept and reused by
// later bucket sets that fit, since freeing one is collective and ranks let go of a bucket
// set at different moments; MPI_Finalize frees them (free_windows). The list is the same
// on every rank: its windows are made together, and a failure to make one ends the job.
struct Segment {
  MPI_Win win = MPI_WIN_NULL;
  std::vector<char*> base;  // each rank's part, in this process's address space
  size_t bytes = 0;         // of each rank's part
  bool busy = false;
};
std::vector<std::shared_ptr<Segment>> g_segments;

// Runs at the start of MPI_Finalize, whoever calls it (lamina or mpi4py): an attribute of
// MPI_COMM_SELF is deleted first, while MPI still works.
int free_windows(MPI_Comm, int, void*, void*) {
  for (auto& segment : g_segments) {
    MPI_Win_unlock_all(segment->win);
    MPI_Win_free(&segment->win);
    segment->base.clear();
  }
  return MPI_SUCCESS;
}

void free_windows_at_finalize() {
  static bool registered = false;
  if (registered) return;
  int key = MPI_KEYVAL_INVALID;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, free_windows, &key, nullptr);
  MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr);
  registered = true;
}

// A rank's part of the window for these buckets: two places per bucket, whole cache lines.
size_t bucket_bytes(const BucketSpec& spec) {
  const size_t line = Storage::kAlignment;
  return (size_t(spec.numel) * dtype_size(spec.dtype) + line - 1) / line * line;
}

// The places of a set's buckets and its results: shared with the Work of a bucket in
// flight, which may outlive the set.
struct Places {
  std::shared_ptr<Segment> segment;
  std::vector<BucketSpec> specs;
  std::vector<size_t> offsets;  // of each bucket in a place
  size_t half = 0;              // bytes of one place of every bucket
  int ranks = 1;
  double scale = 1;
  std::vector<Tensor> results;
  std::vector<bool> pending;  // started, not summed yet

  // The window is free for another set once no set or Work uses these places.
  ~Places() {
    if (segment) segment->busy = false;
  }
  char* place(int rank, int turn, size_t b) const {
    return segment->base[size_t(rank)] + size_t(turn) * half + offsets[b];
  }
  void sum(size_t b, int turn) {
    const BucketSpec& spec = specs[b];
    Tensor out = Tensor::empty({spec.numel}, spec.dtype);
    ops_detail::dispatch(spec.dtype, [&](auto z) {
      using T = decltype(z);
      std::vector<const T*> in;
      for (int r = 0; r < ranks; ++r) in.push_back(reinterpret_cast<const T*>(place(r, turn, b)));
      ops_detail::kernels_for<T>("allreduce", out)
          .sum_scaled(in.data(), ranks, spec.numel, static_cast<T>(scale), out.data<T>());
    });
    results[b] = out;
    pending[b] = false;
  }
};

// Each bucket has two places per rank, used in turn, so that a rank may write the next
// step's bucket while a slower rank still reads this step's: before a rank writes a place
// again it has passed the barrier of the bucket's next step, which the slower rank joins
// only after summing.
class SharedBuckets final : public BucketSet {
 public:
  SharedBuckets(Mpi& comm, std::shared_ptr<Segment> segment, std::vector<BucketSpec> specs, ReduceOp op)
      : comm_(comm), places_(std::make_shared<Places>()), turn_(specs.size(), 1) {
    Places& p = *places_;
    p.segment = std::move(segment);
    p.segment->busy = true;
    p.specs = std::move(specs);
    p.ranks = comm.size();
    p.scale = op == ReduceOp::mean ? 1.0 / comm.size() : 1.0;
    p.results.resize(p.specs.size());
    p.pending.assign(p.specs.size(), false);
    for (const BucketSpec& spec : p.specs) {
      p.offsets.push_back(p.half);
      p.half += bucket_bytes(spec);
    }
    for (int turn = 0; turn < 2; ++turn)
      for (size_t b = 0; b < p.specs.size(); ++b) {
        const BucketSpec& spec = p.specs[b];
        const size_t bytes = size_t(spec.numel) * dtype_size(spec.dtype);
        mine_[turn].push_back(Tensor::from_storage(Storage::wrap(p.place(comm.rank(), turn, b), bytes, Device::cpu, [] {}),
                                                   {spec.numel}, {1}, 0, spec.dtype));
      }
  }
  std::unique_ptr<Work> start(size_t b, const std::vector<Tensor>& pieces) override {
    Places& p = *places_;
    const BucketSpec& spec = spec_of(p.specs, b);
    LAMINA_CHECK(!p.pending[b], "buckets: bucket ", b, " started again before its last reduction completed");
    const int turn = turn_[b] ^ 1;
    gather(spec, pieces, mine_[turn][b]);
    turn_[b] = turn;
    p.pending[b] = true;
    MPI_Win_sync(p.segment->win);  // this rank's copy is in memory before the others hear of it
    auto work = std::make_unique<Mpi::Request>(comm_, Tensor(), 1, "allreduce");
    comm_.check(MPI_Ibarrier(comm_.node(), &work->request), "MPI_Ibarrier");
    work->then = [places = places_, b, turn] {
      MPI_Win_sync(places->segment->win);
      places->sum(b, turn);
    };
    return work;
  }
  Tensor result(size_t b) const override { return places_->results.at(b); }
  const char* method() const override { return "shared memory"; }

  // The bytes of a rank's part these buckets need.
  static size_t bytes_needed(const std::vector<BucketSpec>& specs) {
    size_t bytes = 0;
    for (const BucketSpec& spec : specs) bytes += 2 * bucket_bytes(spec);
    return bytes;
  }

 private:
  Mpi& comm_;
  std::shared_ptr<Places> places_;
  std::vector<Tensor> mine_[2];  // this rank's places, as tensors
  std::vector<int> turn_;        // the place each bucket used last
};

// Whether this rank can hold `bytes` of buckets in shared memory: LAMINA_DIST_SHARED, one
// machine, few ranks, and room where OpenMPI keeps its windows (/dev/shm on Linux unless
// set otherwise; a tmpfs short of room would end the job with SIGBUS).
bool shared_possible(const Mpi& comm, size_t bytes) {
  const char* v = std::getenv("LAMINA_DIST_SHARED");
  if ((v && std::string(v) == "0") || comm.node_size() != comm.size() || comm.size() > kMaxSharedRanks || bytes == 0)
    return false;
  const char* dir = std::getenv("OMPI_MCA_osc_sm_backing_directory");
  struct statvfs fs {};
  if (statvfs(dir && *dir ? dir : "/dev/shm", &fs) != 0) return true;
  return double(fs.f_bavail) * double(fs.f_frsize) > 1.25 * double(bytes) * comm.size();
}

// A window of `bytes` per rank, made by every rank together. A rank that cannot ends the
// job: the ranks' lists of windows must stay the same.
std::shared_ptr<Segment> new_segment(Mpi& comm, size_t bytes) {
  const auto fail = [&](int code, const char* what) {
    if (code != MPI_SUCCESS)
      comm.abort(std::string(what) + " failed: " + Mpi::error_text(code) +
                     " (LAMINA_DIST_SHARED=0 keeps gradients out of shared memory); aborting the job",
                 1);
  };
  auto segment = std::make_shared<Segment>();
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each rank's part on its own pages
  void* mine = nullptr;
  const int code = MPI_Win_allocate_shared(MPI_Aint(bytes), 1, info, comm.node(), &mine, &segment->win);
  MPI_Info_free(&info);
  fail(code, "MPI_Win_allocate_shared");
  fail(MPI_Win_set_errhandler(segment->win, MPI_ERRORS_RETURN), "MPI_Win_set_errhandler");
  fail(MPI_Win_lock_all(MPI_MODE_NOCHECK, segment->win), "MPI_Win_lock_all");
  for (int r = 0; r < comm.size(); ++r) {
    MPI_Aint size = 0;
    int unit = 0;
    void* base = nullptr;
    fail(MPI_Win_shared_query(segment->win, r, &size, &unit, &base), "MPI_Win_shared_query");
    segment->base.push_back(static_cast<char*>(base));
  }
  segment->bytes = bytes;
  free_windows_at_finalize();
  g_segments.push_back(segment);
  return segment;
}

// The buckets' layout, pieces' shapes included, as one number every rank compares.
int64_t signature(const std::vector<BucketSpec>& specs, ReduceOp op) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the values
  const auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  mix(uint64_t(op));
  for (const BucketSpec& spec : specs) {
    mix(uint64_t(spec.numel));
    mix(uint64_t(spec.dtype));
    mix(spec.pieces.size());
    for (const Shape& shape : spec.pieces) {
      mix(shape.size());
      for (int64_t d : shape) mix(uint64_t(d));
    }
  }
  return int64_t(h >> 2);  // -signature fits too
}

}  // namespace

std::unique_ptr<BucketSet> Mpi::buckets(const std::vector<BucketSpec>& specs, ReduceOp op) {
  check_specs(specs);
  // Every rank states what it has and all learn the least of each, in one allreduce:
  // whether every rank can share memory, whether their buckets match (the least of x and
  // of -x agree only when every rank has the same x), and which free window, if any,
  // every rank would reuse.
  const size_t bytes = SharedBuckets::bytes_needed(specs);
  const int64_t sig = signature(specs, op);
  int64_t free_window = -1;
  for (size_t k = 0; k < g_segments.size() && free_window < 0; ++k)
    if (!g_segments[k]->busy && g_segments[k]->bytes >= bytes) free_window = int64_t(k);
  Tensor state = Tensor::empty({5}, DType::i64);
  int64_t* v = state.data<int64_t>();
  v[0] = shared_possible(*this, bytes) ? 1 : 0;
  v[1] = sig;
  v[2] = -sig;
  v[3] = free_window;
  v[4] = -free_window;
  Request agree(*this, state, 1, "buckets");
  check(MPI_Iallreduce(MPI_IN_PLACE, v, 5, MPI_INT64_T, MPI_MIN, comm_, &agree.request), "MPI_Iallreduce");
  agree.wait();
  if (v[1] != -v[2])
    throw error("the ranks' gradient buckets differ (every rank must reduce the same parameters, of the same "
                "shapes, in the same order)");
  if (v[0] == 0) return Communicator::buckets(specs, op);
  const bool reuse = v[3] >= 0 && v[3] == -v[4];
  return std::make_unique<SharedBuckets>(*this, reuse ? g_segments[size_t(v[3])] : new_segment(*this, bytes), specs,
                                         op);
}

}  // namespace lamina::dist::detail
