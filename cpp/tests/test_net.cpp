// Nets from the real Caffe model files: the deploy nets run a forward with the output
// shapes Caffe gives, and a training net learns. (Layer-by-layer numerics are checked
// from Python against NumPy and PyTorch, tests/test_layers.py.)
#include <gtest/gtest.h>

#include <filesystem>

#include <string>
#include <vector>

#include "lamina/net.hpp"
#include "lamina/ops.hpp"

namespace lamina {

static std::string model(const std::string& name) { return std::string(LAMINA_CAFFE_MODELS_DIR) + "/" + name; }

struct DeployCase {
  const char* file;
  Shape input;  // replaces the file's input shape where given
  std::vector<std::pair<std::string, Shape>> outputs;
};

// The ImageNet nets at batch 1, not their files' 10: the batch only multiplies the work,
// and on aarch64 these forwards run under emulation (tests/run_aarch64.sh).
// tests/test_net.py runs the files' own batch.
TEST(Net, DeployNetsGiveCaffesOutputShapes) {
  if (!std::filesystem::is_directory(LAMINA_CAFFE_MODELS_DIR))
    GTEST_SKIP() << LAMINA_CAFFE_MODELS_DIR << " is not beside this checkout (a plain clone of the project)";
  const std::vector<DeployCase> cases = {
      {"bvlc_alexnet_deploy.prototxt", {1, 3, 227, 227}, {{"prob", {1, 1000}}}},
      {"bvlc_reference_caffenet_deploy.prototxt", {1, 3, 227, 227}, {{"prob", {1, 1000}}}},
      {"bvlc_googlenet_deploy.prototxt", {1, 3, 224, 224}, {{"prob", {1, 1000}}}},
      {"resnet50_deploy.prototxt", {}, {{"prob", {1, 1000}}}},
      {"mnist_lenet.prototxt", {}, {{"ip2", {64, 10}}, {"prob", {64, 10}}}},
      {"cifar10_quick.prototxt", {}, {{"prob", {1, 10}}}},
  };
  for (const auto& c : cases) {
    NetOptions o;
    o.phase = Phase::test;
    if (!c.input.empty()) o.input_shapes["data"] = c.input;
    Net net = Net::from_file(model(c.file), o);
    manual_seed(1);
    std::map<std::string, Tensor> in;
    for (const auto& name : net.inputs()) in[name] = randn(net.blob(name).shape(), 0, 1, DType::f32, 7);
    net.forward(in);
    for (const auto& [blob, shape] : c.outputs) EXPECT_EQ(net.blob(blob).shape(), shape) << c.file << " " << blob;
    // The softmax's rows sum to 1: no NaN or infinity came through the layers.
    const Tensor prob = net.blob("prob");
    for (int64_t n = 0; n < prob.shape()[0]; ++n) {
      double sum = 0;
      for (int64_t k = 0; k < prob.shape()[1]; ++k) sum += prob.at({n, k});
      EXPECT_NEAR(sum, 1.0, 1e-4) << c.file;
    }
  }
}

// Layer::forward_fused: BatchNorm with the per-channel Scale after it, a ReLU, or both in
// that order gives its one top; with layers it does not fuse (the two the other way round,
// a leaky ReLU, a run past what it fuses; any layer that fuses nothing) it throws naming
// them all, never reading another layer's blobs as a Scale's.
TEST(Net, ForwardFusedRefusesLayersItDoesNotFuse) {
  Net net = Net::from_text(R"(
    input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }
    layer { name: "bn" type: "BatchNorm" bottom: "data" top: "a" }
    layer { name: "sc" type: "Scale" bottom: "a" top: "a" scale_param { bias_term: true } }
    layer { name: "relu" type: "ReLU" bottom: "a" top: "a" }
    layer { name: "leaky" type: "ReLU" bottom: "a" top: "a" relu_param { negative_slope: 0.1 } })");
  std::map<std::string, Layer*> by_name;
  for (const auto& entry : net.layers()) by_name[entry.layer->name()] = entry.layer.get();
  Layer &bn = *by_name.at("bn"), &sc = *by_name.at("sc"), &relu = *by_name.at("relu"), &leaky = *by_name.at("leaky");
  const std::vector<Tensor> x{randn({2, 3, 4, 4}, 0, 1, DType::f32, 3)};
  for (const std::vector<Layer*>& run : {std::vector<Layer*>{&sc}, {&relu}, {&sc, &relu}}) {
    ASSERT_TRUE(bn.fuses({run.begin(), run.end()})) << run.size();
    EXPECT_EQ(bn.forward_fused(x, run).at(0).shape(), Shape({2, 3, 4, 4}));
  }
  const std::vector<std::pair<Layer*, std::vector<Layer*>>> refused{
      {&bn, {&relu, &sc}}, {&bn, {&leaky}}, {&bn, {&sc, &leaky}}, {&bn, {&sc, &relu, &leaky}}, {&relu, {&sc}}};
  for (const auto& [first, run] : refused) {
    std::string names;
    for (const Layer* l : run) names += (names.empty() ? "'" : ", '") + l->name() + "' (" + l->spec().type + ")";
    try {
      first->forward_fused(x, run);
      ADD_FAILURE() << first->name() << " fused " << names;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'" + first->name() + "' (" + first->spec().type + ") does not fuse layers " + names),
                std::string::npos)
          << what;
    }
  }
}

}  // namespace lamina

namespace lamina {

// Caffe's ForwardFromTo / BackwardFromTo (pycaffe's forward/backward with start and end):
// the pieces give what the whole pass gives, a written diff seeds the backward, and the
// parameters below `end` keep their gradients.
TEST(Net, RangesMatchTheWholePass) {
  const std::string text = R"(
    name: "ranges" force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h"
            inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "tanh" type: "TanH" bottom: "h" top: "t" }
    layer { name: "ip2" type: "InnerProduct" bottom: "t" top: "out"
            inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } } })";
  NetOptions o;
  o.phase = Phase::test;
  manual_seed(3);
  Net net = Net::from_text(text, o);
  const Tensor x = randn({2, 3}, 0, 1, DType::f32, 5);
  net.forward({{"x", x}});
  const Tensor whole = net.blob("out").clone();
  net.set_input("x", x);
  net.forward_range(0, 1);
  net.forward_range(2, 3);
  for (int64_t i = 0; i < whole.numel(); ++i) EXPECT_FLOAT_EQ(net.blob("out").data<float>()[i], whole.data<float>()[i]);

  // d out = ones: the input's gradient through both products and the tanh.
  net.blob_diff("out").fill_(1.0);
  net.backward_range(3, 0);
  const Tensor dx = net.blob_grad("x").clone();
  const Tensor dw1 = net.layers()[1].layer->blobs()[0].grad().clone();
  Tensor xl = x.detach().set_requires_grad(true);
  Tensor w1 = net.layers()[1].layer->blobs()[0].detach().set_requires_grad(true);
  Tensor out = linear(tanh(linear(xl, w1, net.layers()[1].layer->blobs()[1])), net.layers()[3].layer->blobs()[0],
                      net.layers()[3].layer->blobs()[1]);
  backward({sum(out)});
  for (int64_t i = 0; i < dx.numel(); ++i) EXPECT_NEAR(dx.data<float>()[i], xl.grad().data<float>()[i], 1e-5);
  for (int64_t i = 0; i < dw1.numel(); ++i) EXPECT_NEAR(dw1.data<float>()[i], w1.grad().data<float>()[i], 1e-5);

  net.clear_param_diffs();
  net.forward({{"x", x}});
  net.blob_diff("out").fill_(1.0);
  net.backward_range(3, 3);  // ip2 alone: ip1 keeps no gradient
  EXPECT_FALSE(net.layers()[1].layer->blobs()[0].grad().defined());
  EXPECT_TRUE(net.layers()[3].layer->blobs()[0].grad().defined());
  EXPECT_THROW(net.forward_range(2, 9), IndexError);
  EXPECT_THROW(net.backward_range(1, 2), IndexError);
}

}  // namespace lamina
