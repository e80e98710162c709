// Solver: trains a Net with Caffe's solver.prototxt semantics.
//
//   lamina::Solver solver = lamina::Solver::from_file("lenet_solver.prototxt");
//   solver.set_feeder([&](lamina::Net& net, lamina::Phase phase) { return next_batch(phase); });
//   solver.solve();                     // max_iter iterations, tests, snapshots
//
// One iteration (Caffe's Solver::Step): clear the parameter gradients; test every
// test_interval iterations (and at iteration 0 when test_initialization); iter_size
// forward+backward passes whose gradients accumulate; then the update, in Caffe's order:
// clip the global L2 norm of all gradients to clip_gradients, divide by iter_size, add
// weight decay (L2: wd * decay_mult * w, L1: wd * decay_mult * sign(w)), compute the step
// of the solver type with rate = lr_policy(iter) * lr_mult, and subtract it. Types: SGD,
// Nesterov, AdaGrad, RMSProp, AdaDelta, Adam. Policies: fixed, step, exp, inv, multistep,
// poly, sigmoid, and lamina's cosine (with warmup_iter linear warm-up). The update and the
// policies are lamina::optim's (optim.hpp, Caffe's semantics): the Solver's optimizer()
// has one group per learnable parameter, in learnable_params() order.
//
// Data-parallel (distributed.hpp): in a world of K > 1 processes (mpirun -n K) every rank
// builds the same Solver; rank 0's initial weights are broadcast, each rank feeds its own
// batch B, and the gradients are averaged across ranks (in buckets that start during the
// backward) before the update, so K ranks at batch B train as one process at batch K*B
// (Caffe's multi-GPU semantics). The loss is the mean over ranks. A test net runs
// ceil(test_iter / K) forwards per rank, forward t of rank r being batch t*K + r of the
// test_iter (later ones are not counted), and the scores are summed over ranks: the feeder
// is to give rank r that batch (lamina.data.DataFeeder does). Log lines and snapshot
// files come from rank 0; restore() reads on rank 0 and broadcasts. Each rank draws from
// its own random stream (the solver's seed + rank).
//
// lamina extends the format with clip_weights (weights clamped after each update),
// warmup_iter and type "AdamW"; all are documented in caffe_schema.cpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lamina/caffe_binary.hpp"
#include "lamina/net.hpp"
#include "lamina/optim.hpp"

namespace lamina {

namespace dist {
class Communicator;
class GradientReducer;
}  // namespace dist

// The update a solver.prototxt describes, as the lamina::optim values the Solver trains
// with: its type (from `type`, or the deprecated `solver_type`), the optimizer options,
// one group's options (base_lr, weight_decay, ...) and the lr policy. For optimizers over
// tensors of the user's own (lamina.optim.from_solver). Throws PrototxtError at a field
// the type or policy cannot use.
struct SolverUpdate {
  std::string type;
  optim::Options options;
  optim::GroupOptions group;
  optim::LrPolicy policy;
};
SolverUpdate solver_update(const prototxt::Message& solver_parameter, const std::string& file);

class Solver {
 public:
  // Inputs for one forward of `net` (the train net, or a test net): blob name -> tensor.
  // Nets whose data comes from DummyData (or later, data layers that read files) need none.
  using Feeder = std::function<std::map<std::string, Tensor>(Net& net, Phase phase)>;
  // Called after every iteration (after the update and iter() advancing).
  using Callback = std::function<void(Solver&)>;

  struct Options {
    // Overrides the solver's own net source (a path, or prototxt text when it holds '{').
    std::string net;
    std::map<std::string, Shape> input_shapes;       // for data layers that read files
    std::map<std::string, Shape> test_input_shapes;  // the same for test nets (empty: input_shapes)
    bool quiet = false;                         // no Caffe-style log lines on stdout
  };

  Solver(const prototxt::Message& solver_parameter, const std::string& file, const Options& options);
  static Solver from_file(const std::string& path, const Options& options);
  static Solver from_text(const std::string& text, const Options& options, const std::string& file = "<string>");
  Solver(Solver&&) noexcept;
  ~Solver();

  void set_feeder(Feeder feeder) { feeder_ = std::move(feeder); }
  void add_callback(Callback callback) { callbacks_.push_back(std::move(callback)); }

  // Runs `iterations` iterations (Caffe's Step); returns the last smoothed loss.
  double step(int iterations);
  // Trains up to max_iter, then snapshots (snapshot_after_train) and tests as Caffe does.
  void solve();
  // Test scores of test net `i` over its test_iter forwards: output blob -> mean value
  // (loss outputs weighted by their loss_weight), as Caffe prints them.
  std::vector<std::pair<std::string, double>> test(size_t i);

  // Writes <prefix>_iter_<N>.safetensors (weights) and <prefix>_iter_<N>.solverstate
  // (iteration, policy position, RNG, history blobs; safetensors layout), each atomically.
  // With `snapshot_format: BINARYPROTO` written out in the solver file, Caffe's files
  // instead: <prefix>_iter_<N>.caffemodel and a protobuf SolverState (iter, learned_net,
  // history in Caffe's order, current_step), which Caffe resumes from. Returns the state
  // file's path.
  std::string snapshot();
  // Reads a .solverstate (and the weights file it names), telling the form by content.
  // lamina's (snapshot()): training continues bit-identically to an uninterrupted run (same
  // seed and thread count). Caffe's protobuf SolverState: the iteration, the lr policy's
  // step and the history blobs (Caffe's history_: for each of the solver type's history
  // slots, one blob per learnable parameter in learnable_params() order) are restored and
  // learned_net (a .caffemodel or lamina weights; as written, else beside the state file)
  // is loaded; the smoothed loss restarts, as Caffe's does.
  void restore(const std::string& state_path);

  // Caffe's HDF5 snapshots (`snapshot_format: HDF5`). lamina's core has no HDF5 library: the
  // Python package installs the writer (h5py), writer(base, state), which writes
  // <base>.caffemodel.h5 (net().caffe_layers()) and <base>.solverstate.h5 (state, Caffe's
  // layout), each atomically, and returns the state file's path. Without one, snapshot()
  // of such a solver throws ValueError.
  using Hdf5Writer = std::function<std::string(const std::string& base, const CaffeSolverState& state)>;
  void set_hdf5_writer(Hdf5Writer writer) { hdf5_writer_ = std::move(writer); }
  // Continues from a Caffe SolverState already read (restore() reads the protobuf form, the
  // Python package the HDF5 one), as restore() describes. `learned` holds the weights when
  // they were read with it (a .caffemodel.h5); else s.learned_net is loaded (as written,
  // else beside state_path). Everything is checked before anything changes.
  void restore_caffe(const CaffeSolverState& s, const std::string& state_path,
                     const std::vector<CaffeLayerBlobs>* learned = nullptr);

  // The scores of the latest test of net `i` and the iteration it ran at (-1: none yet).
  const std::vector<std::pair<std::string, double>>& last_test(size_t i) const { return last_tests_.at(i); }
  int last_test_iter() const { return last_test_iter_; }

  int iter() const { return iter_; }
  int max_iter() const;
  double learning_rate() const;  // of the current iteration
  double smoothed_loss() const { return smoothed_loss_; }
  Net& net() { return *net_; }
  std::vector<Net>& test_nets() { return test_nets_; }
  const std::string& type() const { return type_; }
  const schema::Params& param() const { return param_; }
  const optim::Optimizer& optimizer() const { return optimizer_; }
  // Seconds spent after the backward waiting for the gradient averaging of data-parallel
  // training (communication the backward did not hide); 0 in a world of one process.
  double allreduce_wait_seconds() const { return allreduce_wait_; }
  // How the gradients travel between ranks (dist::BucketSet::method); "" in a world of one process.
  std::string allreduce_method() const;

 private:
  void build_nets(const Options& options);
  void apply_update();
  std::string snapshot_caffe(const std::string& base);
  CaffeSolverState caffe_state(const std::string& learned_net) const;
  void update_smoothed_loss(double loss, int start_iter);
  std::map<std::string, Tensor> feed(Net& net, Phase phase);
  void log(const std::string& line) const;
  bool file_from_disk() const;  // not text given directly ("<string>")
  // Data-parallel (data_parallel.cpp).
  void setup_data_parallel();
  void broadcast_state();  // rank 0's weights, optimizer state, iteration and RNG position
  // The iteration's last backward, its gradients averaged across ranks; returns the mean loss.
  double reduced_backward(double loss);
  void restore_file(const std::string& state_path);  // restore() on one process
  bool is_root() const;

  std::shared_ptr<prototxt::Message> tree_;  // shared: param_ points into it, and a Solver moves
  schema::Params param_;
  std::string file_;
  std::string type_;
  bool quiet_ = false;
  std::unique_ptr<Net> net_;
  std::vector<Net> test_nets_;
  optim::Optimizer optimizer_;  // one group per learnable param
  optim::LrPolicy policy_;
  int iter_ = 0;
  int current_step_ = 0;  // multistep position
  std::vector<double> losses_;
  double smoothed_loss_ = 0;
  std::vector<std::vector<std::pair<std::string, double>>> last_tests_;
  int last_test_iter_ = -1;
  Feeder feeder_;
  std::vector<Callback> callbacks_;
  dist::Communicator* comm_ = nullptr;
  std::unique_ptr<dist::GradientReducer> reducer_;  // world size > 1 only
  double allreduce_wait_ = 0;
  Hdf5Writer hdf5_writer_;
};

}  // namespace lamina
