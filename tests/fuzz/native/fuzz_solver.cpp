// libFuzzer target: solver text -> lamina::Solver over a tiny net (the parser, Caffe's
// SolverParameter rules, the nets it builds), then its learning-rate policy at a few
// iterations. Steps are left to the Python target, which bounds the work a text asks for.
#include <lamina/optim.hpp>
#include <lamina/prototxt.hpp>
#include <lamina/solver.hpp>

#include "common.hpp"

namespace {
const char* kNet = R"(
layer { name: "x" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
                     data_filler { type: "gaussian" } data_filler { type: "constant" value: -1 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "y" top: "loss" }
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lamina_fuzz::limit_memory();
  const std::string text(reinterpret_cast<const char*>(data), size);
  lamina_fuzz::guarded([&] {
    const lamina::prototxt::Message tree = lamina::prototxt::parse(text, "fuzz_solver.prototxt");
    const lamina::SolverUpdate update = lamina::solver_update(tree, "fuzz_solver.prototxt");
    int step = 0;
    for (int64_t iter : {0, 1, 2, 7, 1000}) (void)lamina::optim::policy_rate(update.policy, iter, step);
    lamina::Solver::Options options;
    options.net = kNet;
    options.quiet = true;
    lamina::Solver solver(tree, "fuzz_solver.prototxt", options);
  });
  return 0;
}
