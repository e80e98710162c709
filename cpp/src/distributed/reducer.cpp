// GradientReducer (distributed.hpp).
#include <chrono>

#include "lamina/distributed.hpp"

#include "lamina/autograd.hpp"

namespace lamina::dist {

GradientReducer::GradientReducer(Communicator& comm, std::vector<Tensor> params, const BucketSizes& sizes)
    : comm_(comm), params_(std::move(params)), bucket_of_(params_.size()), ready_(params_.size(), false) {
  double cap = sizes.first_mb * 1024 * 1024;
  double bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const double size = double(p.numel()) * double(dtype_size(p.dtype()));
    if (buckets_.empty() || buckets_.back().dtype != p.dtype() || bytes >= cap) {
      if (!buckets_.empty()) cap = sizes.rest_mb * 1024 * 1024;
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
      bytes = 0;
    }
    buckets_.back().params.push_back(k);
    buckets_.back().numel += p.numel();
    bytes += size;
    bucket_of_[k] = buckets_.size() - 1;
    index_[p.impl_ptr().get()] = k;
  }
  std::vector<BucketSpec> specs;
  for (const Bucket& bucket : buckets_) {
    specs.push_back({bucket.numel, bucket.dtype, {}});
    for (size_t k : bucket.params) specs.back().pieces.push_back(params_[k].shape());
  }
  set_ = comm_.buckets(specs, ReduceOp::mean);
}

void GradientReducer::backward(const std::function<void()>& backward) {
  autograd::BackwardHooks hooks;
  hooks.leaf_ready = [this](const std::shared_ptr<TensorImpl>& leaf) {
    const auto it = index_.find(leaf.get());
    if (it != index_.end()) mark_ready(it->second);
  };
  hooks.after_node = [this] {
    for (size_t b = 0; b < launched_; ++b) buckets_[b].work->test();  // MPI progresses inside its calls
  };
  autograd::BackwardHooksGuard guard(&hooks);
  backward();
}

void GradientReducer::mark_ready(size_t param) {
  if (ready_[param]) return;
  ready_[param] = true;
  ++buckets_[bucket_of_[param]].ready;
  while (launched_ < buckets_.size() && buckets_[launched_].ready == buckets_[launched_].params.size())
    launch(launched_);
}

void GradientReducer::launch(size_t b) {
  Bucket& bucket = buckets_[b];
  std::vector<Tensor> pieces;
  for (size_t k : bucket.params) {
    const Tensor& p = params_[k];
    pieces.push_back(p.grad().defined() ? p.grad() : Tensor::zeros(p.shape(), p.dtype()));
  }
  bucket.work = set_->start(b, pieces);
  launched_ = b + 1;
}

double GradientReducer::finish() {
  while (launched_ < buckets_.size()) launch(launched_);
  const auto start = std::chrono::steady_clock::now();
  for (Bucket& bucket : buckets_) bucket.work->wait();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    const Tensor result = set_->result(b);
    int64_t offset = 0;
    for (size_t k : bucket.params) {
      const int64_t n = params_[k].numel();
      params_[k].set_grad(result.slice(offset, offset + n).view(params_[k].shape()));
      offset += n;
      ready_[k] = false;
    }
    bucket.ready = 0;
    bucket.work.reset();
  }
  launched_ = 0;
  return waited;
}

}  // namespace lamina::dist
