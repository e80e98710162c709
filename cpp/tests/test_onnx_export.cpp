// ONNX export from C++: the ModelProto's header fields and graph read back with lamina's wire
// reader, and a layer without an ONNX form named. (onnxruntime checks the numbers from
// Python, tests/test_onnx_export.py.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/protobuf_wire.hpp"
#include "lamina/net.hpp"
#include "lamina/onnx_export.hpp"
#include "messages.hpp"

namespace lamina {

namespace {

using wire::WireReader;

Net test_net(const std::string& layers) {
  NetOptions o;
  o.phase = Phase::test;
  return Net::from_text(R"(name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
)" + layers, o);
}

// The op_type of every node, in order, and the model's ir_version and opset.
struct Summary {
  int64_t ir_version = 0, opset = 0;
  std::vector<std::string> ops, inputs, outputs;
};

Summary summarize(const std::string& bytes) {
  Summary s;
  const std::string file = "<model>";
  WireReader model(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, file, "ModelProto");
  while (model.next()) {
    if (model.field() == 1) {
      s.ir_version = model.int64("ir_version");
    } else if (model.field() == 8) {
      WireReader id = model.message("opset_import", "OperatorSetIdProto");
      while (id.next()) id.field() == 2 ? void(s.opset = id.int64("version")) : id.skip();
    } else if (model.field() == 7) {
      WireReader graph = model.message("graph", "GraphProto");
      while (graph.next()) {
        if (graph.field() == 1) {
          WireReader node = graph.message("node", "NodeProto");
          while (node.next()) node.field() == 4 ? s.ops.push_back(node.string("op_type")) : node.skip();
        } else if (graph.field() == 11 || graph.field() == 12) {
          const bool input = graph.field() == 11;
          WireReader info = graph.message("input", "ValueInfoProto");
          while (info.next()) info.field() == 1 ? (input ? s.inputs : s.outputs).push_back(info.string("name")) : info.skip();
        } else {
          graph.skip();
        }
      }
    } else {
      model.skip();
    }
  }
  return s;
}

}  // namespace

TEST(OnnxExport, HeaderAndNodes) {
  Net net = test_net(R"(
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
)");
  const Summary s = summarize(onnx_model(net));
  EXPECT_EQ(s.ir_version, 8);
  EXPECT_EQ(s.opset, 17);
  EXPECT_EQ(s.ops, (std::vector<std::string>{"Conv", "Relu", "AveragePool", "Reshape", "Gemm", "Softmax"}));
  EXPECT_EQ(s.inputs, std::vector<std::string>{"data"});
  EXPECT_EQ(s.outputs, std::vector<std::string>{"prob"});
  EXPECT_EQ(summarize(onnx_model(net, 21)).ir_version, 10);
}

TEST(OnnxExport, LayerWithoutOnnxFormIsNamed) {
  Net net = test_net(R"(layer { name: "norm" type: "MVN" bottom: "data" top: "norm" })");
  const std::string m = message_of<ValueError>([&] { onnx_model(net); });
  EXPECT_NE(m.find("layer 'norm' (type MVN) has no ONNX form"), std::string::npos) << m;
  EXPECT_NE(message_of<ValueError>([&] { onnx_model(net, 16); }).find("opset 16"), std::string::npos);
}

}  // namespace lamina
