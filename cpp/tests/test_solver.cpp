// The C++ Solver as an embedder uses it: a net and solver from text, a feeder, training
// that lowers the loss, and a snapshot that resumes bit-identically.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "lamina/ops.hpp"
#include "lamina/solver.hpp"

namespace lamina {

static const char* kNet = R"(
layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 8 dim: 3 } shape { dim: 8 dim: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p" inner_product_param { num_output: 1 weight_filler { type: "gaussian" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
)";

static Solver make(const std::string& prefix) {
  Solver::Options o;
  o.net = kNet;
  o.quiet = true;
  Solver s = Solver::from_text("type: \"Nesterov\" base_lr: 0.1 lr_policy: \"fixed\" momentum: 0.9 random_seed: 3 "
                               "snapshot_prefix: \"" + prefix + "\"", o);
  return s;
}

// y = x . (1, -2, 3): each iteration's batch depends only on the iteration.
static void attach_feeder(Solver& s) {
  Solver* self = &s;
  s.set_feeder([self](Net&, Phase) {
    Tensor x = randn({8, 3}, 0, 1, DType::f32, 100 + static_cast<uint64_t>(self->iter()));
    Tensor y = Tensor::zeros({8, 1});
    const float* xs = x.data<float>();
    for (int i = 0; i < 8; ++i) y.data<float>()[i] = xs[i * 3] - 2 * xs[i * 3 + 1] + 3 * xs[i * 3 + 2];
    return std::map<std::string, Tensor>{{"x", x}, {"y", y}};
  });
}

TEST(Solver, TrainsAndResumesBitIdentically) {
  const auto dir = std::filesystem::temp_directory_path() / "lamina_solver_test";
  std::filesystem::create_directories(dir);
  const std::string prefix = (dir / "run").string();
  Solver whole = make(prefix);
  attach_feeder(whole);
  const double first = whole.step(1);
  whole.step(39);
  EXPECT_LT(whole.smoothed_loss(), first / 10);

  Solver part = make(prefix);
  attach_feeder(part);
  part.step(20);
  const std::string state = part.snapshot();
  Solver resumed = make(prefix);
  attach_feeder(resumed);
  resumed.restore(state);
  EXPECT_EQ(resumed.iter(), 20);
  resumed.step(20);
  const Tensor a = whole.net().learnable_params()[0].value, b = resumed.net().learnable_params()[0].value;
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
  std::filesystem::remove_all(dir);
}

// snapshot_format: HDF5 goes to the writer the Python package installs, with the state a
// BINARYPROTO snapshot holds; without a writer it is a clear error.
TEST(Solver, Hdf5SnapshotsGoThroughTheWriter) {
  Solver::Options o;
  o.net = kNet;
  o.quiet = true;
  Solver s = Solver::from_text("type: \"Adam\" base_lr: 0.1 lr_policy: \"fixed\" snapshot_format: HDF5 "
                               "snapshot_prefix: \"/nonexistent/run\"", o);
  attach_feeder(s);
  s.step(2);
  EXPECT_THROW(s.snapshot(), ValueError);
  CaffeSolverState seen;
  std::string base;
  s.set_hdf5_writer([&](const std::string& b, const CaffeSolverState& state) {
    base = b;
    seen = state;
    return b + ".solverstate.h5";
  });
  EXPECT_EQ(s.snapshot(), "/nonexistent/run_iter_2.solverstate.h5");
  EXPECT_EQ(seen.iter, 2);
  EXPECT_EQ(seen.learned_net, "/nonexistent/run_iter_2.caffemodel.h5");
  ASSERT_EQ(seen.history.size(), 4u);  // Adam: two slots for the weight and the bias
  Solver resumed = Solver::from_text("type: \"Adam\" base_lr: 0.1 lr_policy: \"fixed\"", o);
  const std::vector<CaffeLayerBlobs> weights = s.net().caffe_layers();
  resumed.restore_caffe(seen, "<test>", &weights);
  EXPECT_EQ(resumed.iter(), 2);
  const Tensor a = s.net().learnable_params()[0].value, b = resumed.net().learnable_params()[0].value;
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
  seen.history.pop_back();
  EXPECT_THROW(resumed.restore_caffe(seen, "<test>", &weights), FormatError);
}

TEST(Solver, BadSolversThrowPrototxtErrors) {
  Solver::Options o;
  o.net = kNet;
  EXPECT_THROW(Solver::from_text("base_lr: 0.1 lr_policy: \"stepp\"", o), PrototxtError);
  EXPECT_THROW(Solver::from_text("base_lr: 0.1", o), PrototxtError);
}

}  // namespace lamina
