// ONNX's ModelProto (see onnx_model.hpp). Field numbers are onnx.proto's:
//
//   ModelProto          1 ir_version, 2 producer_name, 7 graph, 8 opset_import
//   OperatorSetIdProto  1 domain, 2 version
//   GraphProto          1 node, 2 name, 5 initializer, 11 input, 12 output, 15 sparse_initializer
//   NodeProto           1 input, 2 output, 3 name, 4 op_type, 5 attribute, 7 domain
//   AttributeProto      1 name, 2 f, 3 i, 4 s, 5 t, 6 g, 7 floats, 8 ints, 9 strings,
//                       10 tensors, 11 graphs, 20 type
//   TensorProto         1 dims, 2 data_type, 3 segment, 4 float_data, 5 int32_data,
//                       6 string_data, 7 int64_data, 8 name, 9 raw_data, 10 double_data,
//                       11 uint64_data, 13 external_data, 14 data_location
//   ValueInfoProto      1 name, 2 type; TypeProto 1 tensor_type; TypeProto.Tensor 1 elem_type,
//                       2 shape; TensorShapeProto 1 dim; Dimension 1 dim_value, 2 dim_param
#include "io/onnx_model.hpp"

#include <cmath>
#include <cstring>

#include "io/input_file.hpp"
#include "io/protobuf_wire.hpp"
#include "lamina/error.hpp"

namespace lamina::onnx {

namespace {

using wire::WireReader;

constexpr int kBfloat16 = 16;
constexpr size_t kMaxAxes = 64;

float half_to_float(uint16_t h) {
  const int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  float v;
  if (exponent == 0) v = std::ldexp(float(mantissa), -24);
  else if (exponent == 31) v = mantissa ? NAN : INFINITY;
  else v = std::ldexp(float(mantissa | 0x400), exponent - 25);
  return sign ? -v : v;
}

float bfloat_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Bytes per element in raw_data, 0 for a type lamina does not read.
size_t raw_size(int type) {
  switch (type) {
    case kFloat: case kInt32: case kUint32: return 4;
    case kInt64: case kUint64: case kDouble: return 8;
    case kUint8: case kInt8: case kBool: return 1;
    case kUint16: case kInt16: case kFloat16: case kBfloat16: return 2;
    default: return 0;
  }
}

bool floating(int type) { return type == kFloat || type == kDouble || type == kFloat16 || type == kBfloat16; }

// An element of raw_data as double (exact for every type read but 64-bit integers, which
// the caller takes apart from this).
double raw_element(int type, const uint8_t* p) {
  switch (type) {
    case kFloat: { float v; std::memcpy(&v, p, 4); return v; }
    case kDouble: { double v; std::memcpy(&v, p, 8); return v; }
    case kInt32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case kUint32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case kUint8: case kBool: return p[0];
    case kInt8: return static_cast<int8_t>(p[0]);
    case kUint16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case kInt16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case kFloat16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
    case kBfloat16: { uint16_t v; std::memcpy(&v, p, 2); return bfloat_to_float(v); }
    default: return 0;
  }
}

Constant read_tensor(WireReader r, const char* field) {
  Constant c;
  c.offset = r.offset();
  std::vector<int64_t> dims, ints;
  std::vector<float> floats;
  std::vector<double> doubles;
  std::string raw;
  bool has_raw = false;
  int type = 0;
  while (r.next()) {
    switch (r.field()) {
      case 1: r.int64s("dims", dims); break;
      case 2: type = r.int32("data_type"); break;
      case 3: r.fail("segment", "segmented tensors are not supported");
      case 4: r.floats("float_data", floats); break;
      case 5: r.int64s("int32_data", ints); break;
      case 6: r.fail("string_data", "string tensors are not supported");
      case 7: r.int64s("int64_data", ints); break;
      case 8: c.name = r.string("name"); break;
      case 9: raw = r.bytes("raw_data"); has_raw = true; break;
      case 10: r.doubles("double_data", doubles); break;
      case 11: r.int64s("uint64_data", ints); break;
      case 13: r.fail("external_data", "data kept in external files is not supported (save the model with its data inside)");
      case 14:
        if (r.int32("data_location") != 0) r.fail("data_location", "data kept in external files is not supported");
        break;
      default: r.skip();
    }
  }
  const std::string what = std::string(field) + " '" + c.name + "'";
  if (raw_size(type) == 0)
    r.fail_at_start("data_type", what + " has element type " + std::to_string(type) +
                                     ", which lamina does not read (it reads float, double, float16, bfloat16, "
                                     "the integer types and bool)");
  if (dims.size() > kMaxAxes) r.fail_at_start("dims", what + " has " + std::to_string(dims.size()) + " dims");
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) r.fail_at_start("dims", what + " has a negative dim " + std::to_string(d));
    if (d != 0 && count > (uint64_t(1) << 62) / uint64_t(d)) r.fail_at_start("dims", what + " has too many elements");
    count *= uint64_t(d);
  }
  if (int(has_raw) + int(!floats.empty()) + int(!doubles.empty()) + int(!ints.empty()) > 1)
    r.fail_at_start("raw_data", what + " holds values in more than one of raw_data, float_data, double_data and the integer fields");
  const size_t given = has_raw ? raw.size() / raw_size(type) : floats.size() + doubles.size() + ints.size();
  if ((has_raw && raw.size() % raw_size(type)) || given != count)
    r.fail_at_start("dims", what + " holds " + std::to_string(has_raw ? raw.size() : given) +
                                (has_raw ? " bytes" : " values") + " for dims of " + std::to_string(count) +
                                " elements of type " + std::to_string(type));
  const bool is_float = floating(type);
  const DType dtype = type == kDouble ? DType::f64 : is_float ? DType::f32 : DType::i64;
  c.value = Tensor::empty(Shape(dims.begin(), dims.end()), dtype);
  const size_t n = static_cast<size_t>(count);
  for (size_t k = 0; k < n; ++k) {
    double v = 0;    // the element of a floating type
    int64_t iv = 0;  // the element of an integer type
    if (has_raw) {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(raw.data()) + k * raw_size(type);
      if (type == kInt64 || type == kUint64) std::memcpy(&iv, p, 8);
      else if (is_float) v = raw_element(type, p);
      else iv = static_cast<int64_t>(raw_element(type, p));  // exact: integers of at most 32 bits
    } else if (!ints.empty()) {
      iv = ints[k];
      // int32_data carries float16/bfloat16 as their bits.
      if (is_float) v = type == kFloat16 ? half_to_float(uint16_t(iv)) : type == kBfloat16 ? bfloat_to_float(uint16_t(iv)) : double(iv);
    } else {
      v = !floats.empty() ? double(floats[k]) : doubles[k];
      if (!is_float) {
        if (!(v >= -9.2e18 && v <= 9.2e18)) r.fail_at_start("float_data", what + " holds a value beyond the int64 range");
        iv = static_cast<int64_t>(v);
      }
    }
    if (type == kUint64 && iv < 0) r.fail_at_start("uint64_data", what + " holds a value beyond the int64 range");
    if (dtype == DType::f32) c.value.data<float>()[k] = static_cast<float>(v);
    else if (dtype == DType::f64) c.value.data<double>()[k] = v;
    else c.value.data<int64_t>()[k] = iv;
  }
  return c;
}

Attribute read_attribute(WireReader r) {
  Attribute a;
  while (r.next()) {
    switch (r.field()) {
      case 1: a.name = r.string("name"); break;
      case 2: {
        std::vector<float> f;
        r.floats("f", f);
        if (!f.empty()) a.f = f.back();
        break;
      }
      case 3: a.i = r.int64("i"); break;
      case 4: a.s = r.bytes("s"); break;
      case 5: a.t = read_tensor(r.message("t", "TensorProto"), "attribute tensor").value; break;
      case 7: {
        std::vector<float> f;
        r.floats("floats", f);
        a.floats.insert(a.floats.end(), f.begin(), f.end());
        break;
      }
      case 8: r.int64s("ints", a.ints); break;
      case 9: a.strings.push_back(r.bytes("strings")); break;
      case 20: a.kind = r.int32("type"); break;
      default: r.skip();  // graphs, sparse tensors, type protos: the importer rejects the node
    }
  }
  return a;
}

Node read_node(WireReader r) {
  Node n;
  n.offset = r.offset();
  while (r.next()) {
    switch (r.field()) {
      case 1: n.inputs.push_back(r.string("input")); break;
      case 2: n.outputs.push_back(r.string("output")); break;
      case 3: n.name = r.string("name"); break;
      case 4: n.op_type = r.string("op_type"); break;
      case 5: n.attributes.push_back(read_attribute(r.message("attribute", "AttributeProto"))); break;
      case 7: n.domain = r.string("domain"); break;
      default: r.skip();
    }
  }
  return n;
}

void read_shape(WireReader r, ValueInfo& v) {
  v.known_rank = true;
  while (r.next()) {
    if (r.field() != 1) {
      r.skip();
      continue;
    }
    WireReader dim = r.message("dim", "TensorShapeProto.Dimension");
    int64_t value = -1;
    std::string param;
    while (dim.next()) {
      if (dim.field() == 1) value = dim.int64("dim_value");
      else if (dim.field() == 2) param = dim.string("dim_param");
      else dim.skip();
    }
    if (v.dims.size() == kMaxAxes) r.fail("dim", "more than " + std::to_string(kMaxAxes) + " dims");
    v.dims.push_back(value < 0 ? -1 : value);
    v.dim_names.push_back(value < 0 ? param : "");
  }
}

ValueInfo read_value_info(WireReader r) {
  ValueInfo v;
  while (r.next()) {
    if (r.field() == 1) {
      v.name = r.string("name");
    } else if (r.field() == 2) {
      WireReader type = r.message("type", "TypeProto");
      while (type.next()) {
        if (type.field() != 1) {
          type.skip();
          continue;
        }
        WireReader tensor = type.message("tensor_type", "TypeProto.Tensor");
        while (tensor.next()) {
          if (tensor.field() == 1) v.elem_type = tensor.int32("elem_type");
          else if (tensor.field() == 2) read_shape(tensor.message("shape", "TensorShapeProto"), v);
          else tensor.skip();
        }
      }
    } else {
      r.skip();
    }
  }
  return v;
}

void read_graph(WireReader r, Model& m) {
  while (r.next()) {
    switch (r.field()) {
      case 1: m.nodes.push_back(read_node(r.message("node", "NodeProto"))); break;
      case 2: m.graph_name = r.string("name"); break;
      case 5: m.initializers.push_back(read_tensor(r.message("initializer", "TensorProto"), "initializer")); break;
      case 11: m.inputs.push_back(read_value_info(r.message("input", "ValueInfoProto"))); break;
      case 12: m.outputs.push_back(read_value_info(r.message("output", "ValueInfoProto"))); break;
      case 15: r.fail("sparse_initializer", "sparse initializers are not supported");
      default: r.skip();
    }
  }
}

}  // namespace

const Attribute* Node::attribute(const std::string& name) const {
  for (const auto& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

Model parse_model(const std::string& bytes, const std::string& file) {
  WireReader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, file, "ModelProto");
  Model m;
  bool has_graph = false;
  while (r.next()) {
    switch (r.field()) {
      case 1: m.ir_version = r.int64("ir_version"); break;
      case 2: m.producer = r.string("producer_name"); break;
      case 7:
        read_graph(r.message("graph", "GraphProto"), m);
        has_graph = true;
        break;
      case 8: {
        WireReader o = r.message("opset_import", "OperatorSetIdProto");
        std::string domain;
        int64_t version = 0;
        while (o.next()) {
          if (o.field() == 1) domain = o.string("domain");
          else if (o.field() == 2) version = o.int64("version");
          else o.skip();
        }
        if (domain.empty() || domain == "ai.onnx") m.opset = version;
        break;
      }
      default: r.skip();
    }
  }
  if (!has_graph) r.fail_at_start("graph", "the file has no graph (is it an ONNX model?)");
  return m;
}

Model read_model(const std::string& path) { return parse_model(io::read_whole(path, "onnx import"), path); }

}  // namespace lamina::onnx
