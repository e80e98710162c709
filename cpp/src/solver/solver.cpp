// Solver: nets from a SolverParameter, Caffe's training loop, tests and snapshots. The
// learning-rate policies and update rules are lamina::optim's (settings.cpp translates).
#include "lamina/solver.hpp"

#include <chrono>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>

#include "lamina/caffe_binary.hpp"
#include "lamina/distributed.hpp"
#include "lamina/ops.hpp"
#include "lamina/safetensors.hpp"
#include "solver/settings.hpp"

namespace lamina {

namespace fs = std::filesystem;

namespace {

bool looks_like_text(const std::string& s) { return s.find('{') != std::string::npos || s.find('\n') != std::string::npos; }

// Caffe resolves net paths against the working directory; lamina also tries the solver
// file's own directory, so a solver and its net can travel together.
std::string resolve(const std::string& path, const std::string& solver_file) {
  if (fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path beside = fs::path(solver_file).parent_path() / path;
  if (fs::exists(beside)) return beside.string();
  return path;  // parse_file names the missing file
}

prototxt::Message field_message(const prototxt::Message& m, const std::string& name, size_t i = 0) {
  return *m.all(name).at(i)->value.message;
}

}  // namespace

Solver::Solver(const prototxt::Message& solver_parameter, const std::string& file, const Options& options)
    : tree_(std::make_shared<prototxt::Message>(solver_parameter)), file_(file), quiet_(options.quiet) {
  schema::validate(*tree_, "SolverParameter", file_);
  param_ = schema::Params(tree_.get(), "SolverParameter", file_);
  if (param_.has("solver_mode") && param_.get_string("solver_mode") == "GPU")
    param_.fail("solver_mode", "solver_mode: GPU needs lamina's CUDA backend, which this build does not have; "
                               "use solver_mode: CPU");
  type_ = param_.get_string("type");
  if (!param_.has("type") && param_.has("solver_type")) type_ = solver_type_name(param_.get_string("solver_type"));
  check_solver_parameter(param_, type_);
  if (param_.get_int("random_seed") >= 0) manual_seed(static_cast<uint64_t>(param_.get_int("random_seed")));
  build_nets(options);
  policy_ = lr_policy_of(param_);
  optimizer_ = optim::Optimizer({}, optimizer_options_of(param_, type_));
  const optim::GroupOptions group = group_options_of(param_);
  for (const auto& p : net_->learnable_params()) {
    optim::GroupOptions o = group;
    o.lr_mult = p.lr_mult;
    o.decay_mult = p.decay_mult;
    optimizer_.add_param_group({{p.value}, o});
  }
  setup_data_parallel();
}

Solver::Solver(Solver&&) noexcept = default;
Solver::~Solver() = default;

Solver Solver::from_file(const std::string& path, const Options& options) {
  return Solver(prototxt::parse_file(path), path, options);
}

Solver Solver::from_text(const std::string& text, const Options& options, const std::string& file) {
  return Solver(prototxt::parse(text, file), file, options);
}

void Solver::build_nets(const Options& options) {
  auto state_options = [&](const schema::Params& state, Phase phase) {
    NetOptions o;
    o.phase = phase;
    o.stages = state.strings("stage");
    o.level = static_cast<int>(state.get_int("level"));
    o.input_shapes = phase == Phase::test && !options.test_input_shapes.empty() ? options.test_input_shapes
                                                                                : options.input_shapes;
    return o;
  };
  // The general net (for train and test): the override, net_param or net.
  struct Source {
    prototxt::Message tree;
    std::string file;
  };
  std::unique_ptr<Source> general;
  if (!options.net.empty()) {
    general = looks_like_text(options.net)
                  ? std::make_unique<Source>(Source{prototxt::parse(options.net, "<net>"), "<net>"})
                  : std::make_unique<Source>(Source{prototxt::parse_file(options.net), options.net});
  } else if (param_.has("net_param")) {
    general = std::make_unique<Source>(Source{field_message(*tree_, "net_param"), file_});
  } else if (param_.has("net")) {
    const std::string path = resolve(param_.get_string("net"), file_);
    general = std::make_unique<Source>(Source{prototxt::parse_file(path), path});
  }
  const int train_sources = (general ? 1 : 0) + param_.has("train_net_param") + param_.has("train_net");
  if (options.net.empty() && train_sources != 1)
    param_.fail("", train_sources == 0 ? "the solver names no net: give net, net_param, train_net or train_net_param"
                                       : "the solver names more than one train net (net, net_param, train_net, "
                                         "train_net_param: exactly one)");
  const NetOptions train_options = state_options(param_.get_message("train_state"), Phase::train);
  if (general) {
    net_ = std::make_unique<Net>(general->tree, general->file, train_options);
  } else if (param_.has("train_net_param")) {
    net_ = std::make_unique<Net>(field_message(*tree_, "train_net_param"), file_, train_options);
  } else {
    const std::string path = resolve(param_.get_string("train_net"), file_);
    net_ = std::make_unique<Net>(prototxt::parse_file(path), path, train_options);
  }

  // Test nets: test_net_param entries, then test_net files, then the general net for the
  // rest of test_iter, each in the TEST phase with its test_state.
  const auto test_iter = param_.ints("test_iter");
  const auto states = param_.messages("test_state");
  const size_t inline_nets = static_cast<size_t>(param_.count("test_net_param"));
  const size_t given = inline_nets + static_cast<size_t>(param_.count("test_net"));
  const size_t total = given + (general ? test_iter.size() > given ? test_iter.size() - given : 0 : 0);
  if (test_iter.size() != total)
    param_.fail("test_iter", "test_iter has " + std::to_string(test_iter.size()) + " values for " +
                                 std::to_string(total) + " test nets (one per test net)");
  if (!states.empty() && states.size() != total)
    param_.fail("test_state", "test_state has " + std::to_string(states.size()) + " entries for " +
                                  std::to_string(total) + " test nets");
  for (size_t i = 0; i < total; ++i) {
    NetOptions o = state_options(states.empty() ? schema::Params(nullptr, "NetState", file_) : states[i], Phase::test);
    if (i < inline_nets) {
      test_nets_.emplace_back(field_message(*tree_, "test_net_param", i), file_, o);
    } else if (i < given) {
      const std::string path = resolve(param_.strings("test_net")[i - inline_nets], file_);
      test_nets_.emplace_back(prototxt::parse_file(path), path, o);
    } else {
      test_nets_.emplace_back(general->tree, general->file, o);
    }
    test_nets_.back().share_weights_from(*net_);
  }
}

bool Solver::file_from_disk() const { return !file_.empty() && file_.front() != '<'; }

int Solver::max_iter() const { return static_cast<int>(param_.get_int("max_iter")); }

double Solver::learning_rate() const {
  int step = current_step_;  // multistep advances in apply_update, not here
  return optim::policy_rate(policy_, iter_, step);
}

void Solver::log(const std::string& line) const {
  if (!quiet_ && is_root()) std::cout << line << std::endl;
}

std::map<std::string, Tensor> Solver::feed(Net& net, Phase phase) {
  return feeder_ ? feeder_(net, phase) : std::map<std::string, Tensor>{};
}

void Solver::update_smoothed_loss(double loss, int start_iter) {
  // Caffe's running mean over the last average_loss iterations.
  const size_t window = static_cast<size_t>(std::max<int64_t>(1, param_.get_int("average_loss")));
  if (losses_.size() < window) {
    losses_.push_back(loss);
    smoothed_loss_ = (smoothed_loss_ * double(losses_.size() - 1) + loss) / double(losses_.size());
  } else {
    const size_t slot = static_cast<size_t>(iter_ - start_iter) % window;
    smoothed_loss_ += (loss - losses_[slot]) / double(window);
    losses_[slot] = loss;
  }
}

double Solver::step(int iterations) {
  const int start_iter = iter_, stop = iter_ + iterations;
  const int64_t iter_size = std::max<int64_t>(1, param_.get_int("iter_size"));
  const int64_t test_interval = param_.get_int("test_interval"), display = param_.get_int("display");
  const int64_t every = param_.get_int("snapshot");
  losses_.clear();
  smoothed_loss_ = 0;
  auto last = std::chrono::steady_clock::now();
  int last_iter = iter_;
  while (iter_ < stop) {
    net_->clear_param_diffs();
    if (test_interval > 0 && iter_ % test_interval == 0 && (iter_ > 0 || param_.get_bool("test_initialization")))
      for (size_t i = 0; i < test_nets_.size(); ++i) test(i);
    double loss = 0;
    for (int64_t k = 0; k < iter_size; ++k) {
      loss += net_->forward(feed(*net_, Phase::train));
      if (!reducer_ || k < iter_size - 1) net_->backward();
    }
    loss /= double(iter_size);
    if (reducer_) loss = reduced_backward(loss);
    update_smoothed_loss(loss, start_iter);
    if (display > 0 && iter_ % display == 0) {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last).count();
      std::ostringstream s;
      s << "Iteration " << iter_;
      if (iter_ > last_iter && seconds > 0) s << " (" << (iter_ - last_iter) / seconds << " iter/s)";
      s << ", loss = " << smoothed_loss_;
      log(s.str());
      last = now;
      last_iter = iter_;
      std::ostringstream r;
      r << "Iteration " << iter_ << ", lr = " << learning_rate();
      log(r.str());
    }
    apply_update();
    ++iter_;
    for (auto& callback : callbacks_) callback(*this);
    if (every > 0 && iter_ % every == 0) snapshot();
  }
  return smoothed_loss_;
}

void Solver::solve() {
  log("Solving " + (net_->name().empty() ? std::string("net") : net_->name()) + " with " + type_);
  step(max_iter() - iter_);
  const int64_t every = param_.get_int("snapshot");
  const bool can_snapshot = !param_.get_string("snapshot_prefix").empty() || file_from_disk();
  if (param_.get_bool("snapshot_after_train") && (every == 0 || iter_ % every != 0)) {
    if (can_snapshot) snapshot();
    else log("No snapshot after training: the solver has no snapshot_prefix");
  }
  const int64_t display = param_.get_int("display"), test_interval = param_.get_int("test_interval");
  if (display > 0 && iter_ % display == 0) {
    // Caffe's closing line: the loss of one more forward pass.
    const double loss = net_->forward(feed(*net_, Phase::train));
    std::ostringstream s;
    s << "Iteration " << iter_ << ", loss = " << loss;
    log(s.str());
  }
  if (test_interval > 0 && iter_ % test_interval == 0)
    for (size_t i = 0; i < test_nets_.size(); ++i) test(i);
  log("Optimization Done.");
}

std::vector<std::pair<std::string, double>> Solver::test(size_t i) {
  LAMINA_CHECK_INDEX(i < test_nets_.size(), "Solver.test: no test net #", i, " (there are ", test_nets_.size(), ")");
  Net& net = test_nets_[i];
  const int64_t iterations = param_.ints("test_iter").at(i);
  std::vector<std::pair<std::string, double>> scores;
  std::map<std::string, double> weights;
  for (const auto& e : net.layers())
    for (size_t k = 0; k < e.layer->spec().tops.size(); ++k) weights[e.layer->spec().tops[k]] = e.loss_weights[k];
  // K ranks: forward t of rank r is batch t*K + r of the test_iter (solver.hpp).
  const int64_t ranks = comm_->size(), forwards = (iterations + ranks - 1) / ranks;
  for (int64_t it = 0; it < forwards; ++it) {
    net.forward(feed(net, Phase::test));
    const bool counted = it * ranks + comm_->rank() < iterations;
    size_t j = 0;
    for (const auto& name : net.outputs()) {
      const Tensor t = net.blob(name).contiguous().to(DType::f64);
      for (int64_t k = 0; k < t.numel(); ++k, ++j) {
        const std::string label = t.numel() == 1 ? name : name + "[" + std::to_string(k) + "]";
        if (scores.size() <= j) scores.emplace_back(label, 0.0);
        if (counted) scores[j].second += t.data<double>()[k];
      }
    }
  }
  if (ranks > 1) {
    Tensor sums = Tensor::empty({static_cast<int64_t>(scores.size())}, DType::f64);
    for (size_t j = 0; j < scores.size(); ++j) sums.data<double>()[j] = scores[j].second;
    comm_->allreduce(sums);
    for (size_t j = 0; j < scores.size(); ++j) scores[j].second = sums.data<double>()[j];
  }
  log("Iteration " + std::to_string(iter_) + ", Testing net (#" + std::to_string(i) + ")");
  size_t j = 0;
  for (auto& [name, total] : scores) {
    total /= double(std::max<int64_t>(1, iterations));
    std::ostringstream s;
    s << "    Test net output #" << j++ << ": " << name << " = " << total;
    const auto w = weights.find(name);
    if (w != weights.end() && w->second != 0.0) s << " (* " << w->second << " = " << w->second * total << " loss)";
    log(s.str());
  }
  last_tests_.resize(test_nets_.size());
  last_tests_[i] = scores;
  last_test_iter_ = iter_;
  return scores;
}

void Solver::apply_update() {
  optimizer_.set_lr(optim::policy_rate(policy_, iter_, current_step_));
  const auto clip = optimizer_.step(std::max<int64_t>(1, param_.get_int("iter_size")));
  if (clip.clip_scale != 1) {
    std::ostringstream m;
    m << "Gradient clipping: scaling down gradients (L2 norm " << clip.grad_norm << " > "
      << optimizer_.options().clip_gradients << ") by scale factor " << clip.clip_scale;
    log(m.str());
  }
}

std::string Solver::snapshot() {
  std::string prefix = param_.get_string("snapshot_prefix");
  if (prefix.empty()) {
    LAMINA_CHECK(file_from_disk(), "Solver.snapshot: the solver has no snapshot_prefix (and no file name to derive one)");
    prefix = fs::path(file_).replace_extension().string();  // Caffe's default: the solver file's name
  }
  const std::string base = prefix + "_iter_" + std::to_string(iter_);
  if (!is_root()) return base + ".solverstate";  // rank 0 writes the files
  const std::string format = param_.has("snapshot_format") ? param_.get_string("snapshot_format") : "";
  if (format == "BINARYPROTO") return snapshot_caffe(base);
  if (format == "HDF5") {
    LAMINA_CHECK(static_cast<bool>(hdf5_writer_), "Solver.snapshot: snapshot_format: HDF5 is written by lamina's "
                 "Python package with h5py (pip install 'lamina[data]')");
    const std::string state = hdf5_writer_(base, caffe_state(base + ".caffemodel.h5"));
    log("Snapshotting to HDF5 file " + base + ".caffemodel.h5 and " + state);
    return state;
  }
  const std::string weights = base + ".safetensors", state = base + ".solverstate";
  net_->save(weights);
  std::vector<std::pair<std::string, Tensor>> tensors;
  const auto& states = optimizer_.state();
  for (size_t i = 0; i < states.size(); ++i)
    for (size_t k = 0; k < states[i].history.size(); ++k)
      tensors.emplace_back("history/" + std::to_string(i) + "/" + std::to_string(k), states[i].history[k]);
  Tensor losses = Tensor::empty({static_cast<int64_t>(losses_.size())}, DType::f64);
  for (size_t k = 0; k < losses_.size(); ++k) losses.data<double>()[k] = losses_[k];
  tensors.emplace_back("losses", losses);
  const RngState rng = rng_state();
  save_safetensors(state, tensors,
                   {{"format", "lamina-solverstate-1"},
                    {"type", type_},
                    {"iter", std::to_string(iter_)},
                    {"current_step", std::to_string(current_step_)},
                    {"rng_seed", std::to_string(rng.seed)},
                    {"rng_draws", std::to_string(rng.draws)},
                    {"smoothed_loss", std::to_string(smoothed_loss_)},
                    {"weights", fs::path(weights).filename().string()}});
  log("Snapshotting to " + weights + " and " + state);
  return state;
}

// Caffe's SGDSolver::SnapshotSolverStateToBinaryProto: the weights as a .caffemodel, the
// state as a SolverState whose history is Caffe's history_ (each slot for every parameter).
std::string Solver::snapshot_caffe(const std::string& base) {
  const std::string weights = base + ".caffemodel", state = base + ".solverstate";
  net_->save(weights, "caffemodel");
  write_caffe_solver_state(state, caffe_state(weights));
  log("Snapshotting to binary proto file " + weights + " and " + state);
  return state;
}

CaffeSolverState Solver::caffe_state(const std::string& learned_net) const {
  CaffeSolverState s;
  s.iter = iter_;
  s.learned_net = learned_net;
  s.current_step = current_step_;
  const auto& states = optimizer_.state();
  const size_t slots = optim::history_names(optimizer_.options().rule).size();
  for (size_t j = 0; j < slots; ++j)
    for (const auto& p : states) s.history.push_back({p.history[j], false});
  return s;
}

// A SolverState Caffe wrote: its history blobs map onto the optimizer's history in
// Caffe's order (see snapshot_caffe); the weights come from learned_net, as given or
// beside the state file. Caffe keeps no RNG state or loss window: those start afresh.
void Solver::restore_caffe(const CaffeSolverState& s, const std::string& state_path,
                           const std::vector<CaffeLayerBlobs>* learned) {
  std::vector<optim::ParamState> state = optimizer_.state();
  const size_t n = state.size();
  const size_t slots = optim::history_names(optimizer_.options().rule).size();
  LAMINA_CHECK_AS(FormatError, s.history.size() == n * slots, "Solver.restore: ", state_path, " holds ",
                  s.history.size(), " history blobs; a ", type_, " solver over this net's ", n,
                  " learnable parameters keeps ", n * slots);
  for (size_t j = 0; j < slots; ++j)
    for (size_t i = 0; i < n; ++i) {
      const CaffeBlob& blob = s.history[j * n + i];
      const Shape& want = state[i].history[j].shape();
      LAMINA_CHECK_AS(FormatError, blob.fits(want),
                      "Solver.restore: ", state_path, ": history blob ", j * n + i, " has shape ",
                      shape_str(blob.value.shape()), " but parameter ", i, " ('", net_->learnable_params()[i].name,
                      "') is ", shape_str(want));
      state[i].history[j] = blob.value.view(want);
      state[i].step = s.iter;
    }
  std::string weights = s.learned_net;
  if (!weights.empty() && !fs::exists(weights))
    weights = (fs::path(state_path).parent_path() / fs::path(weights).filename()).string();
  if (learned)
    net_->copy_layers(*learned, weights);  // checks everything before changing anything
  else if (!weights.empty())
    net_->load(weights);
  optimizer_.load_state(state);
  iter_ = s.iter;
  current_step_ = s.current_step;
  losses_.clear();
  smoothed_loss_ = 0;
}

void Solver::restore_file(const std::string& state_path) {
  if (!is_safetensors_file(state_path)) {
    restore_caffe(read_caffe_solver_state(state_path), state_path);
    return;
  }
  // Atomic: the whole file (and the weights it names) is read and checked into new buffers
  // first; only then is anything of this solver changed, by steps that cannot fail.
  std::map<std::string, std::string> meta;
  const auto tensors = load_safetensors(state_path, &meta);
  auto need = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    LAMINA_CHECK_AS(FormatError, it != meta.end(), "Solver.restore: ", state_path, " is not a lamina solver state (no '",
                    key, "')");
    return it->second;
  };
  // Metadata values are numbers: parsed with checks (std::stoi would throw std::invalid_argument).
  auto number = [&](const char* key) -> long double {
    const std::string& text = need(key);
    char* end = nullptr;
    errno = 0;
    const long double v = std::strtold(text.c_str(), &end);
    LAMINA_CHECK_AS(FormatError, !text.empty() && *end == 0 && errno == 0, "Solver.restore: ", state_path, ": '", key,
                    "' is '", text, "', not a number");
    return v;
  };
  auto whole = [&](const char* key, uint64_t max) -> uint64_t {
    const std::string& text = need(key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    LAMINA_CHECK_AS(FormatError, !text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) && *end == 0 &&
                                     errno == 0 && v <= max,
                    "Solver.restore: ", state_path, ": '", key, "' is '", text, "', not a whole number in [0, ", max,
                    "]");
    return v;
  };
  LAMINA_CHECK_AS(FormatError, need("format") == "lamina-solverstate-1", "Solver.restore: ", state_path,
                  " has unknown format '", need("format"), "'");
  LAMINA_CHECK_AS(FormatError, need("type") == type_, "Solver.restore: ", state_path, " is a ", need("type"),
                  " state, this solver is ", type_);
  const int iter = static_cast<int>(whole("iter", std::numeric_limits<int>::max()));
  const int current_step = static_cast<int>(whole("current_step", std::numeric_limits<int>::max()));
  const uint64_t rng_seed = whole("rng_seed", std::numeric_limits<uint64_t>::max());
  const uint64_t rng_draws = whole("rng_draws", std::numeric_limits<uint64_t>::max());
  const double smoothed_loss = static_cast<double>(number("smoothed_loss"));
  // Every parameter has had one update per iteration (Caffe's semantics: also without a gradient).
  std::vector<optim::ParamState> state = optimizer_.state();
  for (auto& s : state) s.step = iter;
  std::vector<double> losses;
  for (const auto& [name, t] : tensors) {
    if (name == "losses") {
      LAMINA_CHECK_AS(FormatError, is_floating(t.dtype()) && t.dim() == 1, "Solver.restore: ", state_path,
                      ": 'losses' must be a 1-d float tensor, got ", dtype_name(t.dtype()), " ", t.shape());
      const Tensor l = t.to(DType::f64).contiguous();
      losses.assign(l.data<double>(), l.data<double>() + l.numel());
      continue;
    }
    size_t i = 0, k = 0;
    const bool parsed = std::sscanf(name.c_str(), "history/%zu/%zu", &i, &k) == 2;
    LAMINA_CHECK_AS(FormatError, parsed && i < state.size() && k < state[i].history.size() &&
                                     state[i].history[k].shape() == t.shape() && is_floating(t.dtype()),
                    "Solver.restore: ", state_path, ": '", name, "' does not match this solver's net");
    state[i].history[k] = t;
  }
  const std::string weights = (fs::path(state_path).parent_path() / need("weights")).string();
  // Both loads below check everything before they change anything; the optimizer's state
  // goes first and is put back should the weights be refused.
  const std::vector<optim::ParamState> previous = optimizer_.state();
  optimizer_.load_state(state);
  try {
    net_->load(weights);
  } catch (...) {
    optimizer_.load_state(previous);
    throw;
  }
  iter_ = iter;
  current_step_ = current_step;
  set_rng_state({rng_seed, rng_draws});
  losses_.assign(losses.begin(), losses.end());
  smoothed_loss_ = smoothed_loss;
}

}  // namespace lamina
