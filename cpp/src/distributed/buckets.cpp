// BucketSet (distributed.hpp): the default, one allreduce_async per bucket, and the
// gathering every kind of bucket shares.
#include "distributed/backends.hpp"
#include "lamina/autograd.hpp"

namespace lamina::dist {

namespace detail {

void check_specs(const std::vector<BucketSpec>& specs) {
  for (size_t b = 0; b < specs.size(); ++b) {
    LAMINA_CHECK(specs[b].numel >= 0, "buckets: bucket ", b, " has ", specs[b].numel, " elements");
    LAMINA_CHECK_DTYPE(is_floating(specs[b].dtype), "buckets: bucket ", b, " is of dtype ",
                       dtype_name(specs[b].dtype), "; buckets hold floating values");
  }
}

void gather(const std::vector<Tensor>& pieces, Tensor& flat) {
  NoGradGuard no_grad;
  int64_t total = 0;
  for (const Tensor& p : pieces) {
    LAMINA_CHECK(p.defined(), "buckets: an undefined piece");
    total += p.numel();
  }
  LAMINA_CHECK_SHAPE(total == flat.numel(), "buckets: pieces of ", total, " elements for a bucket of ", flat.numel());
  int64_t offset = 0;
  for (const Tensor& p : pieces) {
    flat.slice(offset, offset + p.numel()).copy_(p.reshape({p.numel()}));
    offset += p.numel();
  }
}

}  // namespace detail

namespace {

class AllreduceBuckets final : public BucketSet {
 public:
  AllreduceBuckets(Communicator& comm, std::vector<BucketSpec> specs, ReduceOp op)
      : comm_(comm), specs_(std::move(specs)), results_(specs_.size()), op_(op) {}

  std::unique_ptr<Work> start(size_t b, const std::vector<Tensor>& pieces) override {
    const BucketSpec& spec = at(b);
    Tensor input;
    if (pieces.size() == 1 && pieces[0].is_contiguous() && pieces[0].dtype() == spec.dtype &&
        pieces[0].numel() == spec.numel) {
      input = pieces[0].reshape({spec.numel});  // MPI reads it where it is
    } else {
      input = Tensor::empty({spec.numel}, spec.dtype);
      detail::gather(pieces, input);
    }
    // Out of place: MPI reads the input and writes the result, where in place it may stage
    // the bucket in a copy of its own (OpenMPI's nonblocking collectives do).
    results_[b] = Tensor::empty({spec.numel}, spec.dtype);
    return comm_.allreduce_async(input, results_[b], op_);
  }
  Tensor result(size_t b) const override { return results_[b]; }
  const char* method() const override { return "allreduce"; }

 private:
  const BucketSpec& at(size_t b) const {
    LAMINA_CHECK_INDEX(b < specs_.size(), "buckets: no bucket ", b, " (there are ", specs_.size(), ")");
    return specs_[b];
  }

  Communicator& comm_;
  std::vector<BucketSpec> specs_;
  std::vector<Tensor> results_;
  ReduceOp op_;
};

}  // namespace

std::unique_ptr<BucketSet> Communicator::buckets(const std::vector<BucketSpec>& specs, ReduceOp op) {
  detail::check_specs(specs);
  return std::make_unique<AllreduceBuckets>(*this, specs, op);
}

}  // namespace lamina::dist
