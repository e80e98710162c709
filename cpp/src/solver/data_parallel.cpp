// The Solver's data-parallel part (solver.hpp): the state every rank must share, and the
// gradient averaging. In a world of one process none of it runs.
#include <string>

#include "lamina/autograd.hpp"
#include "lamina/distributed.hpp"
#include "lamina/ops.hpp"
#include "lamina/solver.hpp"

namespace lamina {

namespace {

// Rank 0's values into `t` everywhere, also for a tensor that is not contiguous.
void broadcast_in_place(dist::Communicator& comm, Tensor& t) {
  if (!t.defined()) return;
  if (t.is_contiguous()) {
    comm.broadcast(t, 0);
    return;
  }
  Tensor flat = t.contiguous();
  comm.broadcast(flat, 0);
  t.copy_(flat);
}

}  // namespace

bool Solver::is_root() const { return comm_ == nullptr || comm_->rank() == 0; }

std::string Solver::allreduce_method() const { return reducer_ ? reducer_->method() : ""; }

void Solver::setup_data_parallel() {
  comm_ = &dist::world();
  if (comm_->size() == 1) return;
  // The reducer first: making it checks that every rank has the same parameters.
  std::vector<Tensor> params;
  for (const auto& p : net_->learnable_params()) params.push_back(p.value);
  reducer_ = std::make_unique<dist::GradientReducer>(*comm_, std::move(params), dist::bucket_sizes());
  broadcast_state();
}

void Solver::broadcast_state() {
  dist::Communicator& comm = *comm_;
  NoGradGuard no_grad;
  // Every blob of every layer (learnable or not, e.g. BatchNorm's statistics); the test
  // nets share them.
  for (const auto& entry : net_->layers())
    for (Tensor& blob : entry.layer->blobs()) broadcast_in_place(comm, blob);
  std::vector<optim::ParamState> state = optimizer_.state();
  Tensor steps = Tensor::empty({static_cast<int64_t>(state.size())}, DType::i64);
  for (size_t i = 0; i < state.size(); ++i) {
    steps.data<int64_t>()[i] = state[i].step;
    for (Tensor& h : state[i].history)
      if (h.defined()) {
        h = h.contiguous().clone();
        comm.broadcast(h, 0);
      }
  }
  comm.broadcast(steps, 0);
  for (size_t i = 0; i < state.size(); ++i) state[i].step = steps.data<int64_t>()[i];
  optimizer_.load_state(state);
  // The iteration, the lr policy's position, the random stream and the loss window.
  const RngState rng = rng_state();
  Tensor counters = Tensor::empty({5}, DType::i64);
  int64_t* c = counters.data<int64_t>();
  c[0] = iter_;
  c[1] = current_step_;
  c[2] = static_cast<int64_t>(rng.seed - static_cast<uint64_t>(comm.rank()));
  c[3] = static_cast<int64_t>(rng.draws);
  c[4] = static_cast<int64_t>(losses_.size());
  comm.broadcast(counters, 0);
  Tensor losses = Tensor::empty({c[4] + 1}, DType::f64);
  double* l = losses.data<double>();
  l[0] = smoothed_loss_;
  for (size_t k = 0; is_root() && k < losses_.size(); ++k) l[k + 1] = losses_[k];
  comm.broadcast(losses, 0);
  iter_ = static_cast<int>(c[0]);
  current_step_ = static_cast<int>(c[1]);
  set_rng_state({static_cast<uint64_t>(c[2]) + static_cast<uint64_t>(comm.rank()), static_cast<uint64_t>(c[3])});
  smoothed_loss_ = l[0];
  losses_.assign(l + 1, l + 1 + c[4]);
}

double Solver::reduced_backward(double loss) {
  // The loss's mean starts before the backward, so that it completes beside the gradients.
  Tensor mean = Tensor::full({1}, loss, DType::f64);
  const auto loss_work = comm_->allreduce_async(mean, dist::ReduceOp::mean);
  reducer_->backward([&] { net_->backward(); });
  allreduce_wait_ += reducer_->finish();
  loss_work->wait();
  return mean.data<double>()[0];
}

void Solver::restore(const std::string& state_path) {
  if (comm_->size() == 1) {
    restore_file(state_path);
    return;
  }
  // Rank 0 reads; the others learn whether it could, then take its state.
  Tensor failed = Tensor::zeros({1}, DType::i32);
  if (is_root()) {
    try {
      restore_file(state_path);
    } catch (...) {
      failed.data<int32_t>()[0] = 1;
      comm_->broadcast(failed, 0);
      throw;
    }
  }
  comm_->broadcast(failed, 0);
  LAMINA_CHECK_AS(dist::DistributedError, failed.data<int32_t>()[0] == 0, "Solver.restore: rank 0 could not restore ",
                  state_path, " (its error says why); rank ", comm_->rank(), " stops too");
  broadcast_state();
}

}  // namespace lamina
