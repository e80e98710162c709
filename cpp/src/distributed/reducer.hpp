// GradientReducer: the data-parallel Solver's gradient averaging, in buckets that start
// while the backward still runs.
//
// The parameters are grouped, last first (the backward finishes them first), into buckets
// of dist::bucket_sizes() (a small first one, larger ones after; a new bucket also where the
// dtype changes). During backward() the autograd hooks (autograd.hpp) mark each parameter
// whose gradient is final; a bucket whose parameters are all final is copied into one flat
// buffer and its allreduce started, buckets in index order on every rank (MPI needs the
// same order everywhere). finish() starts the rest, waits, and sets each gradient to its
// mean over the ranks (a parameter no gradient reached counts as zeros, as Caffe's update
// treats it).
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "lamina/distributed.hpp"

namespace lamina::dist {

class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Tensor> params, const BucketSizes& sizes);
  // Runs `backward` (a net's backward) with the hooks that start complete buckets.
  void backward(const std::function<void()>& backward);
  // Starts what is left, waits for every bucket, writes the mean gradients. Returns the
  // seconds spent waiting (communication not hidden behind the backward).
  double finish();
  size_t num_buckets() const { return buckets_.size(); }
  size_t num_launched() const { return launched_; }  // buckets in flight (started during backward())

 private:
  struct Bucket {
    std::vector<size_t> params;
    DType dtype = DType::f32;
    int64_t numel = 0;
    size_t ready = 0;
    Tensor buffer;
    std::unique_ptr<Work> work;
  };
  void mark_ready(size_t param);
  void launch(size_t bucket);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> ready_;
  std::unordered_map<const TensorImpl*, size_t> index_;
  size_t launched_ = 0;  // buckets [0, launched_) are in flight
};

}  // namespace lamina::dist
