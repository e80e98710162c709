// An ONNX ModelProto read into plain structs, by lamina's own protobuf wire code (no ONNX
// or protobuf library). Only what an importer needs: the default-domain opset, the graph's
// nodes with their attributes, initializers, inputs and outputs.
//
// Reading checks the whole file first: protobuf's wire errors are FormatError
// "<file>: byte <offset>: <Message>.<field>: <why>"; a tensor whose values do not match its
// dims, an element type lamina cannot hold (strings, complex, 8-bit floats), data kept in
// external files, sparse initializers and nested graphs (If/Loop bodies) are FormatError
// at the tensor or attribute. No buffer larger than the file is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::onnx {

// ONNX's TensorProto.DataType values lamina reads.
enum ElemType : int {
  kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7, kBool = 9,
  kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13
};

// Floating types become float32 (float64 stays float64), integer and bool types int64.
struct Constant {
  std::string name;
  Tensor value;
  size_t offset = 0;  // of its TensorProto in the file, for errors
};

struct Attribute {
  enum Kind { kNone = 0, kFloatAttr = 1, kInt = 2, kString = 3, kTensor = 4, kFloats = 6, kInts = 7, kStrings = 8 };
  std::string name;
  int kind = kNone;
  double f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;  // an empty name is an omitted optional input
  std::vector<Attribute> attributes;
  size_t offset = 0;  // of the NodeProto in the file

  const Attribute* attribute(const std::string& name) const;
};

// A graph input or output: its element type and dims (-1 where the file gives a symbolic
// or no extent; `known_rank` false when it gives no shape at all).
struct ValueInfo {
  std::string name;
  int elem_type = 0;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;  // the symbolic names ("" for fixed extents)
  bool known_rank = false;
};

struct Model {
  int64_t ir_version = 0;
  int64_t opset = 0;  // of the default ("" or "ai.onnx") domain
  std::string producer, graph_name;
  std::vector<Node> nodes;
  std::vector<Constant> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

// `bytes` are the file's contents; `file` names it in errors.
Model parse_model(const std::string& bytes, const std::string& file);
Model read_model(const std::string& path);

}  // namespace lamina::onnx
