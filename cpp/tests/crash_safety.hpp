// What test_crash_safety.cpp and the process it kills (snapshot_writer.cpp) share: the
// solver they train, and how a restart finds the newest snapshot.
#pragma once

#include <lamina/parallel.hpp>
#include <lamina/solver.hpp>

#include <filesystem>
#include <string>

namespace lamina::crash_safety {

// A net on DummyData (its draws are part of the solver's RNG state) with momentum, so a
// resume must restore the weights, the history and the RNG to continue identically; 260k
// weights, so a snapshot (2 MB) takes a while to write. With `snapshot: 1` Step snapshots
// after every iteration; snapshots = false: none (an uninterrupted run to compare with).
inline Solver make_solver(const std::string& dir, bool snapshots = true) {
  set_num_threads(1);  // bit-identical resumes are promised at one thread count
  Solver::Options options;
  options.quiet = true;
  options.net = R"(
layer { name: "x" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 8 dim: 256 } shape { dim: 8 dim: 4 }
                     data_filler { type: "gaussian" } data_filler { type: "uniform" min: -1 max: 1 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h" inner_product_param { num_output: 1024
        weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "out" inner_product_param { num_output: 4
        weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "y" top: "loss" }
)";
  return Solver::from_text("type: \"SGD\" base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: \"step\" "
                           "gamma: 0.9 stepsize: 50 max_iter: 1000000000 random_seed: 11 snapshot: " +
                               std::string(snapshots ? "1" : "0") + " "
                           "snapshot_prefix: \"" + dir + "/run\"",
                           options);
}

// The iteration of a state file's name (run_iter_<N>.solverstate), or -1 for any other file
// (the weights, and the temporary files of writes a kill cut short).
inline int state_iter(const std::string& name) {
  const std::string head = "run_iter_", tail = ".solverstate";
  if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  return std::stoi(name.substr(head.size(), name.size() - head.size() - tail.size()));
}

// The iteration of DIR's newest .solverstate (-1: none), and its path.
inline int newest_state(const std::string& dir, std::string* path = nullptr) {
  int newest = -1;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const int iter = state_iter(entry.path().filename().string());
    if (iter > newest) {
      newest = iter;
      if (path) *path = entry.path().string();
    }
  }
  return newest;
}

}  // namespace lamina::crash_safety
