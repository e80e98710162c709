// BucketSet (distributed.hpp): the default, one allreduce_async per bucket, and the
// gathering every kind of bucket shares.
#include "distributed/backends.hpp"
#include "lamina/autograd.hpp"

namespace lamina::dist {

namespace detail {

void check_specs(const std::vector<BucketSpec>& specs) {
  for (size_t b = 0; b < specs.size(); ++b) {
    const BucketSpec& spec = specs[b];
    LAMINA_CHECK(spec.numel >= 0, "buckets: bucket ", b, " has ", spec.numel, " elements");
    LAMINA_CHECK_DTYPE(is_floating(spec.dtype), "buckets: bucket ", b, " is of dtype ", dtype_name(spec.dtype),
                       "; buckets hold floating values");
    int64_t total = 0;
    for (const Shape& shape : spec.pieces) total += shape_numel(shape);
    LAMINA_CHECK(spec.pieces.empty() || total == spec.numel, "buckets: bucket ", b, " of ", spec.numel,
                 " elements has pieces of ", total);
  }
}

const BucketSpec& spec_of(const std::vector<BucketSpec>& specs, size_t b) {
  LAMINA_CHECK_INDEX(b < specs.size(), "buckets: no bucket ", b, " (there are ", specs.size(), ")");
  return specs[b];
}

void check_pieces(const BucketSpec& spec, const std::vector<Tensor>& pieces) {
  int64_t total = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    LAMINA_CHECK(pieces[k].defined(), "buckets: piece ", k, " is undefined");
    LAMINA_CHECK_SHAPE(spec.pieces.empty() || (k < spec.pieces.size() && pieces[k].shape() == spec.pieces[k]),
                       "buckets: piece ", k, " of shape ", pieces[k].shape(), " where the bucket was made for ",
                       k < spec.pieces.size() ? spec.pieces[k] : Shape{});
    total += pieces[k].numel();
  }
  LAMINA_CHECK_SHAPE(total == spec.numel, "buckets: pieces of ", total, " elements for a bucket of ", spec.numel);
}

void gather(const BucketSpec& spec, const std::vector<Tensor>& pieces, Tensor& flat) {
  check_pieces(spec, pieces);
  NoGradGuard no_grad;
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
    const BucketSpec& spec = detail::spec_of(specs_, b);
    Tensor input;
    if (pieces.size() == 1 && pieces[0].defined() && pieces[0].is_contiguous() && pieces[0].dtype() == spec.dtype) {
      detail::check_pieces(spec, pieces);
      input = pieces[0].reshape({spec.numel});  // MPI reads it where it is
    } else {
      input = Tensor::empty({spec.numel}, spec.dtype);
      detail::gather(spec, pieces, input);
    }
    // Out of place: MPI reads the input and writes the result, where in place it may stage
    // the bucket in a copy of its own (OpenMPI's nonblocking collectives do).
    results_[b] = Tensor::empty({spec.numel}, spec.dtype);
    return comm_.allreduce_async(input, results_[b], op_);
  }
  Tensor result(size_t b) const override { return results_[b]; }
  const char* method() const override { return "allreduce"; }

 private:
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
