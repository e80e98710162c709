// Distributed: the processes of one job and the collectives between them, over MPI.
//
//   lamina::dist::Communicator& w = lamina::dist::world();   // MPI's world under mpirun, else one process
//   w.broadcast(weights, 0);                                  // rank 0's values everywhere
//   w.allreduce(grad, lamina::dist::ReduceOp::mean);          // in place: the mean over ranks
//
// lamina runs on an existing engine, not a transport of its own: MPI (CMake's LAMINA_MPI,
// on by itself when CMake finds MPI). Without it world() is a world of one process whose
// collectives leave tensors as they are, so code paths stay the same.
//
// world() joins MPI when the process was started by an MPI launcher (mpirun or srun set
// OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK), when MPI is already initialized (mpi4py
// imported first: lamina then neither initializes nor finalizes it), or after init().
// LAMINA_DIST=0 in the environment keeps every process a world of its own. lamina talks
// over a duplicate of MPI_COMM_WORLD, so its collectives never mix with the caller's.
//
// Faults. MPI's error handler is set to return: a failed call throws DistributedError
// naming the rank and MPI's message. Every collective is nonblocking and waited for with a
// timeout (set_timeout_seconds, LAMINA_DIST_TIMEOUT_S, default 300 s): when it passes --
// another rank died, raised, or stopped calling collectives -- the rank prints which rank
// it is and what it waited for, then aborts the whole job (MPI_Abort), so no rank hangs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lamina/error.hpp"
#include "lamina/tensor.hpp"

namespace lamina::dist {

class DistributedError : public Error { public: using Error::Error; };

enum class ReduceOp : uint8_t { sum, mean };

// A collective in flight. The tensor must stay untouched until wait() returns.
class Work {
 public:
  virtual ~Work() = default;
  // Drives MPI's progress; true once complete (then wait() returns at once).
  virtual bool test() = 0;
  // Returns once the tensor holds the result (the job aborts at the timeout).
  virtual void wait() = 0;
};

// The layout of one bucket of a BucketSet: its elements, and the shapes of the pieces it
// is gathered from, in order (their elements add up to numel; none given: any pieces).
struct BucketSpec {
  int64_t numel = 0;
  DType dtype = DType::f32;
  std::vector<Shape> pieces;
};

// Allreduces repeated every step over the same buckets (a data-parallel backward's
// gradients), made by Communicator::buckets on every rank together, with the same specs in
// the same order. start(b, pieces) gathers the pieces (each flattened, in order, as many
// elements as the bucket has, of the spec's shapes when it gives them) into bucket b and
// starts its reduction across ranks; once the Work is done, result(b) holds it, a tensor
// of the bucket's own that the next start(b) replaces (a result already handed out stays
// as it is). A bucket must not be started again before its last Work is done (the
// shared-memory buckets check: ValueError).
class BucketSet {
 public:
  virtual ~BucketSet() = default;
  virtual std::unique_ptr<Work> start(size_t b, const std::vector<Tensor>& pieces) = 0;
  virtual Tensor result(size_t b) const = 0;
  // How the buckets travel: "allreduce" (one allreduce_async each) or "shared memory".
  virtual const char* method() const = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;  // "mpi" or "single"

  // `output` receives the reduction of every rank's `input`: contiguous CPU tensors of f32,
  // f64, i32 or i64 of one shape and dtype (ValueError otherwise), every rank passing the
  // same. input and output the same tensor: in place; else input is left as it is and the
  // two must not overlap (MPI reads one and writes the other, with no copy of its own).
  // mean: the sum divided by size() (floating dtypes only).
  virtual std::unique_ptr<Work> allreduce_async(const Tensor& input, Tensor& output,
                                                ReduceOp op = ReduceOp::sum) = 0;
  std::unique_ptr<Work> allreduce_async(Tensor& t, ReduceOp op = ReduceOp::sum) { return allreduce_async(t, t, op); }
  void allreduce(Tensor& t, ReduceOp op = ReduceOp::sum) { allreduce_async(t, op)->wait(); }
  // Buckets for op (every rank calls it together, with the same specs; DistributedError
  // when the ranks' specs differ, the pieces' shapes included). The default: each bucket
  // one allreduce_async. Over MPI
  // with every rank on one machine the buckets live in memory the ranks share (MPI-3
  // shared-memory windows) and each rank sums the others' buckets straight from it, with an
  // MPI barrier per bucket saying they are ready (LAMINA_DIST_SHARED=0 in the environment of
  // every rank keeps the default).
  virtual std::unique_ptr<BucketSet> buckets(const std::vector<BucketSpec>& specs, ReduceOp op);
  // Rank `root`'s values into `t` on every rank (same shape and dtype everywhere).
  virtual void broadcast(Tensor& t, int root = 0) = 0;
  virtual void barrier() = 0;
  // Ends the job on every rank: `message` on stderr (with this rank), then MPI_Abort.
  // A world of one process exits. Never returns.
  [[noreturn]] virtual void abort(const std::string& message, int code = 1) = 0;
};

// The job's communicator (see the header comment); created on first use.
Communicator& world();
// Joins MPI even without a launcher's environment (a singleton MPI job); returns world().
// Throws DistributedError when lamina was built without MPI.
Communicator& init();
// Whether this build has MPI (LAMINA_MPI), and MPI's library version ("" without).
bool mpi_built();
std::string mpi_version();

// The timeout of every wait on a collective, in seconds (> 0; ValueError otherwise).
void set_timeout_seconds(double seconds);
double timeout_seconds();

// The sizes of the buckets gradients are averaged in during a data-parallel Solver's
// backward (in MiB of gradient): the first, small, so that communication starts early,
// and the rest. Defaults 1 and 25; LAMINA_DIST_BUCKET_MB="first,rest" in the environment.
struct BucketSizes {
  double first_mb = 1;
  double rest_mb = 25;
};
void set_bucket_sizes(const BucketSizes& sizes);
BucketSizes bucket_sizes();

// GradientReducer: gradients averaged across ranks in buckets that start while the
// backward still runs (the data-parallel Solver's, and lamina.distributed's
// DistributedDataParallel).
//
// The parameters are grouped, last first (the backward finishes them first), into buckets
// of dist::bucket_sizes() (a small first one, larger ones after; a new bucket also where the
// dtype changes), a BucketSet of the communicator's (so a reducer is made by every rank
// together, for the same parameters). During backward() the autograd hooks (autograd.hpp)
// mark each parameter whose gradient is final; a bucket whose parameters are all final is
// started, buckets in index order on every rank (MPI needs the same order everywhere).
// finish() starts the rest, waits, and sets each gradient to a view of its bucket's result,
// the mean over the ranks (a parameter no gradient reached counts as zeros, as Caffe's
// update treats it).
//
//   dist::GradientReducer reducer(dist::world(), params, dist::bucket_sizes());
//   reducer.backward([&] { loss.backward(); });   // buckets start as their gradients are final
//   reducer.finish();                             // every param's grad() is the mean over ranks
class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Tensor> params, const BucketSizes& sizes);
  // Runs `backward` (a net's or a loss's backward) with the hooks that start complete buckets.
  void backward(const std::function<void()>& backward);
  // Starts what is left, waits for every bucket, writes the mean gradients. Returns the
  // seconds spent waiting (communication not hidden behind the backward).
  double finish();
  size_t num_buckets() const { return buckets_.size(); }
  size_t num_launched() const { return launched_; }  // buckets in flight (started during backward())
  const char* method() const { return set_->method(); }  // how the buckets travel (BucketSet::method)

 private:
  struct Bucket {
    std::vector<size_t> params;
    DType dtype = DType::f32;
    int64_t numel = 0;
    size_t ready = 0;
    std::unique_ptr<Work> work;
  };
  void mark_ready(size_t param);
  void launch(size_t bucket);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::unique_ptr<BucketSet> set_;  // before buckets_: their work in flight may use it until destroyed
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> ready_;
  std::unordered_map<const TensorImpl*, size_t> index_;
  size_t launched_ = 0;  // buckets [0, launched_) are in flight
};

}  // namespace lamina::dist
