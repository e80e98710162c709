// ONNX export (lamina/onnx_export.hpp). Field numbers are onnx.proto's:
//
//   ModelProto          1 ir_version, 2 producer_name, 3 producer_version, 7 graph, 8 opset_import
//   OperatorSetIdProto  1 domain, 2 version
//   GraphProto          1 node, 2 name, 5 initializer, 11 input, 12 output
//   NodeProto           1 input, 2 output, 3 name, 4 op_type, 5 attribute
//   AttributeProto      1 name, 2 f, 3 i, 7 floats, 8 ints, 20 type (1 FLOAT, 2 INT, 6 FLOATS, 7 INTS)
//   TensorProto         1 dims, 2 data_type (1 FLOAT, 7 INT64), 8 name, 9 raw_data
//   ValueInfoProto      1 name, 2 type; TypeProto 1 tensor_type; TypeProto.Tensor 1 elem_type,
//                       2 shape; TensorShapeProto 1 dim; Dimension 1 dim_value
#include "lamina/onnx_export.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "io/atomic_file.hpp"
#include "io/onnx_gates.hpp"
#include "io/protobuf_wire.hpp"
#include "layers/common.hpp"
#include "lamina/version.hpp"

namespace lamina {

namespace {

using wire::WireWriter;

constexpr int kFloat = 1, kInt64 = 7;
constexpr int kAttrFloat = 1, kAttrInt = 2, kAttrInts = 7, kAttrStrings = 8;

WireWriter attr_int(const char* name, int64_t v) {
  WireWriter a;
  a.bytes(1, name);
  a.int64(3, v);
  a.varint(20, kAttrInt);
  return a;
}

WireWriter attr_float(const char* name, double v) {
  WireWriter a;
  a.bytes(1, name);
  const float f = static_cast<float>(v);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  a.fixed32(2, bits);
  a.varint(20, kAttrFloat);
  return a;
}

WireWriter attr_ints(const char* name, const std::vector<int64_t>& v) {
  WireWriter a;
  a.bytes(1, name);
  a.packed_int64s(8, v);
  a.varint(20, kAttrInts);
  return a;
}

WireWriter attr_strings(const char* name, const std::vector<std::string>& v) {
  WireWriter a;
  a.bytes(1, name);
  for (const auto& s : v) a.bytes(9, s);
  a.varint(20, kAttrStrings);
  return a;
}

WireWriter value_info(const std::string& name, const Shape& shape) {
  WireWriter dims;
  for (int64_t d : shape) {
    WireWriter dim;
    dim.int64(1, d);
    dims.message(1, dim);
  }
  WireWriter tensor;
  tensor.varint(1, kFloat);
  tensor.message(2, dims);
  WireWriter type;
  type.message(1, tensor);
  WireWriter v;
  v.bytes(1, name);
  v.message(2, type);
  return v;
}

// The graph being written: nodes, initializers, and the value names used so far.
class Graph {
 public:
  explicit Graph(std::set<std::string> reserved) : used_(std::move(reserved)) {}

  // A value name not used before, from `hint`.
  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; used_.count(name); ++k) name = hint + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }
  void node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
            const std::vector<std::string>& outputs, const std::vector<WireWriter>& attrs = {}) {
    WireWriter n;
    for (const auto& i : inputs) n.bytes(1, i);
    for (const auto& o : outputs) n.bytes(2, o);
    n.bytes(3, fresh("node:" + name));
    n.bytes(4, op);
    for (const auto& a : attrs) n.message(5, a);
    graph_.message(1, n);
  }
  // One output, named from `hint`.
  std::string op(const std::string& op, const std::string& hint, const std::vector<std::string>& inputs,
                 const std::vector<WireWriter>& attrs = {}) {
    const std::string out = fresh(hint);
    node(op, hint, inputs, {out}, attrs);
    return out;
  }
  std::string floats(const std::string& hint, const std::vector<float>& values, const Shape& shape) {
    return initializer(hint, kFloat, values.data(), values.size() * sizeof(float), shape);
  }
  std::string tensor(const std::string& hint, const Tensor& t, const Shape& shape) {
    const Tensor c = t.to(DType::f32).contiguous();
    return initializer(hint, kFloat, c.raw_data(), size_t(c.numel()) * sizeof(float), shape);
  }
  std::string scalar(const std::string& hint, double v) { return floats(hint, {static_cast<float>(v)}, {}); }
  std::string int64s(const std::string& hint, const std::vector<int64_t>& values) {
    return initializer(hint, kInt64, values.data(), values.size() * sizeof(int64_t), {int64_t(values.size())});
  }
  // x reshaped to `shape` (known at export).
  std::string reshape(const std::string& name, const std::string& x, const Shape& shape) {
    return op("Reshape", name + "/reshape", {x, int64s(name + "/shape", shape)});
  }
  WireWriter& proto() { return graph_; }

 private:
  std::string initializer(const std::string& hint, int type, const void* data, size_t bytes, const Shape& shape) {
    WireWriter t;
    const std::string name = fresh(hint);
    t.packed_int64s(1, shape);
    t.varint(2, type);
    t.bytes(8, name);
    t.bytes(9, std::string(static_cast<const char*>(data), bytes));
    graph_.message(5, t);
    return name;
  }
  WireWriter graph_;
  std::set<std::string> used_;
};

// What an exporter sees of one layer.
struct LayerIO {
  Layer& layer;
  const LayerSpec& spec;
  std::vector<std::string> in, out;  // ONNX value names of the bottoms and tops
  std::vector<Shape> in_shapes, out_shapes;
};

[[noreturn]] void unsupported(const LayerSpec& spec, const std::string& why) {
  detail::raise<ValueError>("export_onnx: layer '", spec.name, "' (type ", spec.type, ") ", why);
}

// The blob `b` shaped [b..., 1, ...] to broadcast over a rank-`rank` value from `axis`.
Shape broadcast_shape(const Shape& b, int64_t axis, size_t rank) {
  Shape s = b;
  s.resize(rank - size_t(axis), 1);
  return s;
}

std::vector<float> values(const Tensor& t) {
  const Tensor c = t.to(DType::f32).contiguous();
  const float* p = c.data<float>();
  return std::vector<float>(p, p + c.numel());
}

// x * scale + shift with the constants skipped where they do nothing.
std::string affine(Graph& g, const std::string& name, std::string x, double scale, double shift) {
  if (scale != 1.0) x = g.op("Mul", name + "/scale", {x, g.scalar(name + "/scale_value", scale)});
  if (shift != 0.0) x = g.op("Add", name + "/shift", {x, g.scalar(name + "/shift_value", shift)});
  return x;
}

void identity(Graph& g, const LayerIO& l, const std::string& op) {
  for (const auto& o : l.out) g.node(op, l.spec.name, {l.in[0]}, {o});
}

void convolution(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("convolution_param");
  const layers::Geometry geo = layers::conv_geometry(l.spec, p);
  auto& blobs = l.layer.blobs();
  std::vector<std::string> in{l.in[0], g.tensor(l.spec.name + "/weight", blobs[0], blobs[0].shape())};
  if (blobs.size() > 1) in.push_back(g.tensor(l.spec.name + "/bias", blobs[1], blobs[1].shape()));
  g.node(l.spec.type == "Deconvolution" ? "ConvTranspose" : "Conv", l.spec.name, in, {l.out[0]},
         {attr_ints("kernel_shape", {geo.kernel_h, geo.kernel_w}), attr_ints("strides", {geo.stride_h, geo.stride_w}),
          attr_ints("pads", {geo.pad_h, geo.pad_w, geo.pad_h, geo.pad_w}),
          attr_ints("dilations", {geo.dilation_h, geo.dilation_w}), attr_int("group", p.get_int("group"))});
}

// One spatial axis of a Caffe pooling: the end pad that gives Caffe's output size `out`
// without ceil_mode (whose rule for windows starting in the padding differs between ONNX
// versions), and Caffe's average divisor per output position.
struct PoolAxis {
  int64_t pad_end = 0;
  std::vector<int64_t> divisor;
};

PoolAxis pool_axis(const LayerSpec& spec, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  PoolAxis a;
  a.pad_end = std::max<int64_t>(0, (out - 1) * stride + kernel - in - pad);
  if ((in + pad + a.pad_end - kernel) / stride + 1 != out || a.pad_end >= kernel)
    unsupported(spec, "has no exact ONNX pooling: extent " + std::to_string(in) + " gives " + std::to_string(out) +
                          " outputs, which no explicit padding reproduces");
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad;
    a.divisor.push_back(std::min(start + kernel, in + pad) - start);
  }
  return a;
}

void pooling(Graph& g, const LayerIO& l) {
  const Pool2dOptions o = layers::pool_options(l.spec);
  const bool max = l.spec.param_message("pooling_param").get_string("pool") == "MAX";
  if (o.global) {
    g.node(max ? "GlobalMaxPool" : "GlobalAveragePool", l.spec.name, {l.in[0]}, {l.out[0]});
    return;
  }
  const Shape& x = l.in_shapes[0];
  const Shape& y = l.out_shapes[0];
  const PoolAxis h = pool_axis(l.spec, x[2], y[2], o.kernel_h, o.stride_h, o.pad_h);
  const PoolAxis w = pool_axis(l.spec, x[3], y[3], o.kernel_w, o.stride_w, o.pad_w);
  std::vector<WireWriter> attrs{attr_ints("kernel_shape", {o.kernel_h, o.kernel_w}),
                                attr_ints("strides", {o.stride_h, o.stride_w}),
                                attr_ints("pads", {o.pad_h, o.pad_w, h.pad_end, w.pad_end})};
  if (max) {
    g.node("MaxPool", l.spec.name, {l.in[0]}, {l.out[0]}, attrs);
    return;
  }
  // AveragePool counting the padding divides by the kernel's size everywhere (every window
  // fits the explicit padding); Caffe divides by the window clipped to [-pad, in + pad).
  attrs.push_back(attr_int("count_include_pad", 1));
  std::vector<float> factor;
  bool exact = true;
  for (int64_t dh : h.divisor)
    for (int64_t dw : w.divisor) {
      factor.push_back(static_cast<float>(double(o.kernel_h * o.kernel_w) / double(dh * dw)));
      exact = exact && dh * dw == o.kernel_h * o.kernel_w;
    }
  if (exact) {
    g.node("AveragePool", l.spec.name, {l.in[0]}, {l.out[0]}, attrs);
    return;
  }
  const std::string pooled = g.op("AveragePool", l.spec.name + "/pool", {l.in[0]}, attrs);
  g.node("Mul", l.spec.name, {pooled, g.floats(l.spec.name + "/divisor", factor, {y[2], y[3]})}, {l.out[0]});
}

void inner_product(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("inner_product_param");
  const Shape& x = l.in_shapes[0];
  const int64_t axis = layers::canonical_axis(l.spec, p.get_int("axis"), int64_t(x.size()));
  auto& blobs = l.layer.blobs();
  std::string a = l.in[0];
  if (x.size() != 2) a = g.reshape(l.spec.name, a, {layers::span(x, 0, axis), layers::span(x, axis, int64_t(x.size()))});
  std::vector<std::string> in{a, g.tensor(l.spec.name + "/weight", blobs[0], blobs[0].shape())};
  if (blobs.size() > 1) in.push_back(g.tensor(l.spec.name + "/bias", blobs[1], blobs[1].shape()));
  const std::vector<WireWriter> attrs{attr_int("transB", p.get_bool("transpose") ? 0 : 1)};
  if (l.out_shapes[0].size() == 2) {
    g.node("Gemm", l.spec.name, in, {l.out[0]}, attrs);
    return;
  }
  const std::string y = g.op("Gemm", l.spec.name + "/gemm", in, attrs);
  g.node("Reshape", l.spec.name, {y, g.int64s(l.spec.name + "/out_shape", l.out_shapes[0])}, {l.out[0]});
}

void relu(Graph& g, const LayerIO& l) {
  const double slope = l.spec.param_message("relu_param").get_float("negative_slope");
  if (slope == 0.0) g.node("Relu", l.spec.name, {l.in[0]}, {l.out[0]});
  else g.node("LeakyRelu", l.spec.name, {l.in[0]}, {l.out[0]}, {attr_float("alpha", slope)});
}

void prelu(Graph& g, const LayerIO& l) {
  const Tensor& slope = l.layer.blobs()[0];
  const Shape shape = slope.numel() == 1 ? Shape{1} : broadcast_shape(slope.shape(), 1, l.in_shapes[0].size());
  g.node("PRelu", l.spec.name, {l.in[0], g.tensor(l.spec.name + "/slope", slope, shape)}, {l.out[0]});
}

void power(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("power_param");
  const std::string& n = l.spec.name;
  const std::string t = affine(g, n, l.in[0], p.get_float("scale"), p.get_float("shift"));
  g.node("Pow", n, {t, g.scalar(n + "/power", p.get_float("power"))}, {l.out[0]});
}

void exp_or_log(Graph& g, const LayerIO& l) {
  const bool is_exp = l.spec.type == "Exp";
  const auto p = l.spec.param_message(is_exp ? "exp_param" : "log_param");
  const double base = p.get_float("base"), scale = p.get_float("scale"), shift = p.get_float("shift");
  const double ln_base = base == -1 ? 1.0 : std::log(base);
  const std::string& n = l.spec.name;
  if (is_exp) {
    g.node("Exp", n, {affine(g, n, l.in[0], scale * ln_base, shift * ln_base)}, {l.out[0]});
    return;
  }
  const std::string y = g.op("Log", n + "/log", {affine(g, n, l.in[0], scale, shift)});
  g.node("Mul", n, {y, g.scalar(n + "/inv_ln_base", 1.0 / ln_base)}, {l.out[0]});
}

// Caffe's WITHIN_CHANNEL: x * (1 + alpha * mean of x^2 over a size x size window, zeros
// outside the plane)^-beta. The window is clamped to the plane as lamina's lrn op does
// (ops/lrn.cpp): a wider one sums the same cells, its divisor rescaled through alpha.
void lrn_within_channel(Graph& g, const LayerIO& l, int64_t size, double alpha, double beta) {
  const Shape& x = l.in_shapes[0];
  const int64_t extent = std::max(x[2], x[3]), window = std::min(size, std::max<int64_t>(2 * extent - 1, 1));
  const double shrink = double(window) / double(size);
  const int64_t pad = (window - 1) / 2;
  const std::string& n = l.spec.name;
  const std::string square = g.op("Mul", n + "/square", {l.in[0], l.in[0]});
  const std::string mean = g.op("AveragePool", n + "/mean", {square},
                                {attr_ints("kernel_shape", {window, window}), attr_ints("pads", {pad, pad, pad, pad}),
                                 attr_int("count_include_pad", 1)});
  const std::string scale = g.op("Pow", n + "/pow", {affine(g, n, mean, alpha * shrink * shrink, 1.0), g.scalar(n + "/beta", -beta)});
  g.node("Mul", n, {l.in[0], scale}, {l.out[0]});
}

void lrn(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("lrn_param");
  if (p.get_string("norm_region") != "ACROSS_CHANNELS")
    return lrn_within_channel(g, l, p.get_int("local_size"), p.get_float("alpha"), p.get_float("beta"));
  g.node("LRN", l.spec.name, {l.in[0]}, {l.out[0]},
         {attr_int("size", p.get_int("local_size")), attr_float("alpha", p.get_float("alpha")),
          attr_float("beta", p.get_float("beta")), attr_float("bias", p.get_float("k"))});
}

void batch_norm(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("batch_norm_param");
  const bool global = p.has("use_global_stats") ? p.get_bool("use_global_stats") : l.spec.phase == Phase::test;
  if (!global) unsupported(l.spec, "normalizes with batch statistics (use_global_stats false); ONNX inference uses stored ones");
  auto& blobs = l.layer.blobs();
  const double weight = blobs[2].item();
  const float scale = weight == 0.0 ? 0.0f : static_cast<float>(1.0 / weight);
  std::vector<float> mean = values(blobs[0]), var = values(blobs[1]);
  for (auto& m : mean) m *= scale;
  for (auto& v : var) v *= scale;
  const int64_t c = int64_t(mean.size());
  const std::string& n = l.spec.name;
  g.node("BatchNormalization", n,
         {l.in[0], g.floats(n + "/gamma", std::vector<float>(size_t(c), 1.0f), {c}),
          g.floats(n + "/beta", std::vector<float>(size_t(c), 0.0f), {c}), g.floats(n + "/mean", mean, {c}),
          g.floats(n + "/var", var, {c})},
         {l.out[0]}, {attr_float("epsilon", p.get_float("eps"))});
}

// Scale and Bias: the factor (a blob, or the second bottom) broadcast from the axis.
void scale_or_bias(Graph& g, const LayerIO& l) {
  const bool scale = l.spec.type == "Scale";
  const auto p = l.spec.param_message(scale ? "scale_param" : "bias_param");
  const size_t rank = l.in_shapes[0].size();
  const int64_t axis = layers::canonical_axis(l.spec, p.get_int("axis"), std::max<int64_t>(1, int64_t(rank)));
  const std::string& n = l.spec.name;
  auto& blobs = l.layer.blobs();
  std::string factor;
  if (l.in.size() > 1) factor = g.reshape(n + "/factor", l.in[1], broadcast_shape(l.in_shapes[1], axis, rank));
  else factor = g.tensor(n + (scale ? "/scale" : "/bias"), blobs[0], broadcast_shape(blobs[0].shape(), axis, rank));
  const bool shift = scale && l.in.size() == 1 && blobs.size() > 1;
  if (!shift) {
    g.node(scale ? "Mul" : "Add", n, {l.in[0], factor}, {l.out[0]});
    return;
  }
  const std::string y = g.op("Mul", n + "/mul", {l.in[0], factor});
  g.node("Add", n, {y, g.tensor(n + "/bias", blobs[1], broadcast_shape(blobs[1].shape(), axis, rank))}, {l.out[0]});
}

int64_t axis_of(const LayerIO& l, const char* message, const char* legacy) {
  const auto p = l.spec.param_message(message);
  const int64_t axis = legacy && !p.has("axis") && p.has(legacy) ? p.get_int(legacy) : p.get_int("axis");
  return layers::canonical_axis(l.spec, axis, int64_t(l.in_shapes[0].size()));
}

void softmax(Graph& g, const LayerIO& l) {
  g.node("Softmax", l.spec.name, {l.in[0]}, {l.out[0]}, {attr_int("axis", axis_of(l, "softmax_param", nullptr))});
}

void log_softmax(Graph& g, const LayerIO& l) {
  g.node("LogSoftmax", l.spec.name, {l.in[0]}, {l.out[0]}, {attr_int("axis", axis_of(l, "softmax_param", nullptr))});
}

// lamina's layers for general graphs (layers/tensor.cpp).
void parameter(Graph& g, const LayerIO& l) {
  const Tensor& value = l.layer.blobs()[0];
  g.node("Identity", l.spec.name, {g.tensor(l.spec.name + "/value", value, value.shape())}, {l.out[0]});
}

void permute(Graph& g, const LayerIO& l) {
  const int64_t rank = int64_t(l.in_shapes[0].size());
  std::vector<int64_t> perm = l.spec.param_message("permute_param").ints("order");
  for (int64_t a = 0; a < rank; ++a)
    if (std::find(perm.begin(), perm.end(), a) == perm.end()) perm.push_back(a);
  g.node("Transpose", l.spec.name, {l.in[0]}, {l.out[0]}, {attr_ints("perm", perm)});
}

void arithmetic(Graph& g, const LayerIO& l) {
  static const std::map<std::string, const char*> ops{{"ADD", "Add"}, {"SUB", "Sub"}, {"MUL", "Mul"}, {"DIV", "Div"},
                                                      {"POW", "Pow"}, {"MAX", "Max"}, {"MIN", "Min"}};
  g.node(ops.at(l.spec.param_message("arithmetic_param").get_string("operation")), l.spec.name, l.in, {l.out[0]});
}

void gather(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("gather_param");
  const int64_t axis = layers::canonical_axis(l.spec, p.get_int("axis"), int64_t(l.in_shapes[0].size()));
  std::string index;
  if (l.in.size() == 2) {
    index = g.op("Cast", l.spec.name + "/index", {l.in[1]}, {attr_int("to", kInt64)});
  } else {
    const auto values = p.ints("index");
    const Shape shape = p.has("index_shape") ? p.get_message("index_shape").ints("dim") : Shape{int64_t(values.size())};
    index = g.reshape(l.spec.name + "/index", g.int64s(l.spec.name + "/index_values", values), shape);
  }
  g.node("Gather", l.spec.name, {l.in[0], index}, {l.out[0]}, {attr_int("axis", axis)});
}

void concat(Graph& g, const LayerIO& l) {
  if (l.in.size() == 1) return identity(g, l, "Identity");
  g.node("Concat", l.spec.name, l.in, {l.out[0]}, {attr_int("axis", axis_of(l, "concat_param", "concat_dim"))});
}

void slice(Graph& g, const LayerIO& l) {
  const int64_t axis = axis_of(l, "slice_param", "slice_dim");
  std::vector<int64_t> sizes;
  for (const auto& s : l.out_shapes) sizes.push_back(s[size_t(axis)]);
  g.node("Split", l.spec.name, {l.in[0], g.int64s(l.spec.name + "/split", sizes)}, l.out, {attr_int("axis", axis)});
}

void eltwise(Graph& g, const LayerIO& l) {
  const auto p = l.spec.param_message("eltwise_param");
  const std::string op = p.get_string("operation");
  const auto coeff = p.floats("coeff");
  const std::string& n = l.spec.name;
  if (op == "PROD") {
    std::string y = l.in[0];
    for (size_t k = 1; k + 1 < l.in.size(); ++k) y = g.op("Mul", n + "/prod", {y, l.in[k]});
    g.node("Mul", n, {y, l.in.back()}, {l.out[0]});
    return;
  }
  std::vector<std::string> terms = l.in;
  for (size_t k = 0; k < coeff.size(); ++k)
    if (coeff[k] != 1.0) terms[k] = g.op("Mul", n + "/coeff", {terms[k], g.scalar(n + "/coeff_value", coeff[k])});
  g.node(op == "SUM" ? "Sum" : "Max", n, terms, {l.out[0]});
}

void reshape(Graph& g, const LayerIO& l) {
  g.node("Reshape", l.spec.name, {l.in[0], g.int64s(l.spec.name + "/shape", l.out_shapes[0])}, {l.out[0]});
}

void embed(Graph& g, const LayerIO& l) {
  const std::string& n = l.spec.name;
  auto& blobs = l.layer.blobs();
  const std::string index = g.op("Cast", n + "/index", {l.in[0]}, {attr_int("to", kInt64)});
  const std::string w = g.tensor(n + "/weight", blobs[0], blobs[0].shape());
  if (blobs.size() == 1) {
    g.node("Gather", n, {w, index}, {l.out[0]});
    return;
  }
  const std::string y = g.op("Gather", n + "/gather", {w, index});
  g.node("Add", n, {y, g.tensor(n + "/bias", blobs[1], blobs[1].shape())}, {l.out[0]});
}

// The weights of one direction as ONNX's W [1, G, D], R [1, G, H], B [1, 2G].
std::vector<std::string> recurrent_weights(Graph& g, const std::string& n, const Tensor& w_x, const Tensor& b_x,
                                           const Tensor& w_h, const Tensor& b_h, const std::vector<int64_t>& order) {
  const int64_t gates = w_x.size(0), d = w_x.size(1), h = w_h.size(1);
  const Tensor bx = b_x.defined() ? b_x : Tensor::zeros({gates}), bh = b_h.defined() ? b_h : Tensor::zeros({gates});
  const Tensor b = cat({onnx::reorder_gates(bx.to(DType::f32), order), onnx::reorder_gates(bh.to(DType::f32), order)}, 0);
  return {g.tensor(n + "/W", onnx::reorder_gates(w_x, order), {1, gates, d}),
          g.tensor(n + "/R", onnx::reorder_gates(w_h, order), {1, gates, h}), g.tensor(n + "/B", b, {1, 2 * gates})};
}

// Caffe's LSTM and RNN layers: cont may reset the state at any step, which one ONNX node
// over the sequence cannot say, so each step is an LSTM (RNN) node over one step whose
// initial state is the last step's times cont_t. A static input joins each step's input
// (its weights join W). The RNN's output layer follows.
void caffe_recurrent(Graph& g, const LayerIO& l) {
  const bool lstm = l.spec.type == "LSTM", has_static = l.in.size() > 2;
  const std::string& n = l.spec.name;
  auto& blobs = l.layer.blobs();  // W_x, b, [W_static], W_h, and for RNN W_ho, b_o
  const Shape& xs = l.in_shapes[0];
  const Tensor& w_h = blobs[has_static ? 3 : 2];
  const int64_t steps = xs[0], batch = xs[1], d = layers::span(xs, 2, int64_t(xs.size())), h = w_h.size(1);
  if (steps < 1) unsupported(l.spec, "over zero steps has no ONNX form");
  const std::string x = xs.size() == 3 ? l.in[0] : g.reshape(n + "/x", l.in[0], {steps, batch, d});
  const std::string cont = g.reshape(n + "/cont", l.in[1], {steps, batch, 1});
  Tensor w_x = blobs[0];
  std::string static_input;
  if (has_static) {
    const Shape& ss = l.in_shapes[2];
    w_x = cat({blobs[0].to(DType::f32), blobs[2].to(DType::f32)}, 1);
    static_input = g.reshape(n + "/static", l.in[2], {1, batch, layers::span(ss, 1, int64_t(ss.size()))});
  }
  const auto w = recurrent_weights(g, n, w_x, blobs[1], w_h, Tensor(), lstm ? onnx::kLstmCaffeToOnnx : std::vector<int64_t>{0});
  std::string state_h, state_c;
  std::vector<std::string> hs;
  for (int64_t t = 0; t < steps; ++t) {
    const std::string step = n + "/step" + std::to_string(t);
    const std::string index = g.int64s(step + "/index", {t});
    std::string x_t = g.op("Gather", step + "/x", {x, index});
    if (has_static) x_t = g.op("Concat", step + "/x_static", {x_t, static_input}, {attr_int("axis", 2)});
    std::vector<std::string> in{x_t, w[0], w[1], w[2]};
    if (t > 0) {
      const std::string keep = g.op("Gather", step + "/cont", {cont, index});
      in.push_back("");
      in.push_back(g.op("Mul", step + "/h0", {state_h, keep}));
      if (lstm) in.push_back(g.op("Mul", step + "/c0", {state_c, keep}));
    }
    state_h = g.fresh(step + "/h");
    std::vector<std::string> out{"", state_h};
    if (lstm) out.push_back(state_c = g.fresh(step + "/c"));
    g.node(lstm ? "LSTM" : "RNN", step, in, out, {attr_int("hidden_size", h)});
    hs.push_back(state_h);
  }
  if (lstm) {
    g.node("Concat", n, hs, {l.out[0]}, {attr_int("axis", 0)});
    return;
  }
  const Tensor& w_ho = blobs[blobs.size() - 2];
  const std::string all = g.op("Concat", n + "/h", hs, {attr_int("axis", 0)});
  const std::string wo = g.tensor(n + "/W_ho", transpose(w_ho.to(DType::f32), std::vector<int64_t>{1, 0}), {h, h});
  const std::string o = g.op("Add", n + "/o", {g.op("MatMul", n + "/o_product", {all, wo}), g.tensor(n + "/b_o", blobs.back(), {h})});
  g.node("Tanh", n, {o}, {l.out[0]});
}

// lamina's SequenceLSTM/GRU/RNN: one ONNX node, the direction axis of its outputs removed.
void sequence(Graph& g, const LayerIO& l) {
  const std::string& n = l.spec.name;
  const std::string op = l.spec.type.substr(std::string("Sequence").size());
  auto& blobs = l.layer.blobs();
  const Shape& xs = l.in_shapes[0];
  const int64_t steps = xs[0], batch = xs[1], d = layers::span(xs, 2, int64_t(xs.size())), h = blobs[2].size(1);
  const std::vector<int64_t> order = op == "LSTM" ? onnx::kLstmPytorchToOnnx : op == "GRU" ? onnx::kGruSwap : std::vector<int64_t>{0};
  const auto w = recurrent_weights(g, n, blobs[0], blobs[1], blobs[2], blobs[3], order);
  std::vector<std::string> in{xs.size() == 3 ? l.in[0] : g.reshape(n + "/x", l.in[0], {steps, batch, d}), w[0], w[1], w[2]};
  if (l.in.size() > 1) in.push_back("");
  for (size_t k = 1; k < l.in.size(); ++k) in.push_back(g.reshape(n + "/state" + std::to_string(k), l.in[k], {1, batch, h}));
  std::vector<WireWriter> attrs{attr_int("hidden_size", h)};
  if (op == "GRU") attrs.push_back(attr_int("linear_before_reset", 1));
  if (op == "RNN" && l.spec.param_message("recurrent_param").get_string("nonlinearity") == "relu")
    attrs.push_back(attr_strings("activations", {"Relu"}));
  std::vector<std::string> out;
  for (size_t k = 0; k < l.out.size(); ++k) out.push_back(g.fresh(n + "/onnx" + std::to_string(k)));
  g.node(op, n, in, out, attrs);
  for (size_t k = 0; k < l.out.size(); ++k) g.node("Reshape", n + "/squeeze", {out[k], g.int64s(n + "/shape", l.out_shapes[k])}, {l.out[k]});
}

using Exporter = std::function<void(Graph&, const LayerIO&)>;

const std::map<std::string, Exporter>& exporters() {
  auto unary = [](const char* op) { return [op](Graph& g, const LayerIO& l) { g.node(op, l.spec.name, {l.in[0]}, {l.out[0]}); }; };
  static const std::map<std::string, Exporter> table{
      {"Convolution", convolution},
      {"Deconvolution", convolution},
      {"Pooling", pooling},
      {"InnerProduct", inner_product},
      {"ReLU", relu},
      {"PReLU", prelu},
      {"ELU", [](Graph& g, const LayerIO& l) {
         g.node("Elu", l.spec.name, {l.in[0]}, {l.out[0]},
                {attr_float("alpha", l.spec.param_message("elu_param").get_float("alpha"))});
       }},
      {"Sigmoid", unary("Sigmoid")},
      {"TanH", unary("Tanh")},
      {"AbsVal", unary("Abs")},
      {"BNLL", unary("Softplus")},
      {"Power", power},
      {"Exp", exp_or_log},
      {"Log", exp_or_log},
      {"LRN", lrn},
      {"BatchNorm", batch_norm},
      {"Scale", scale_or_bias},
      {"Bias", scale_or_bias},
      {"Softmax", softmax},
      {"Concat", concat},
      {"Slice", slice},
      {"Eltwise", eltwise},
      {"Flatten", reshape},
      {"Reshape", reshape},
      {"Dropout", [](Graph& g, const LayerIO& l) { identity(g, l, "Identity"); }},
      {"Split", [](Graph& g, const LayerIO& l) { identity(g, l, "Identity"); }},
      {"Embed", embed},
      {"LogSoftmax", log_softmax},
      {"Parameter", parameter},
      {"Permute", permute},
      {"MatMul", [](Graph& g, const LayerIO& l) { g.node("MatMul", l.spec.name, l.in, {l.out[0]}); }},
      {"Arithmetic", arithmetic},
      {"Gather", gather},
      {"LSTM", caffe_recurrent},
      {"RNN", caffe_recurrent},
      {"SequenceLSTM", sequence},
      {"SequenceGRU", sequence},
      {"SequenceRNN", sequence},
  };
  return table;
}

int64_t ir_version(int opset) { return opset <= 18 ? 8 : opset <= 20 ? 9 : 10; }

}  // namespace

std::string onnx_model(const Net& net, int opset) {
  if (opset < 17 || opset > 21)
    detail::raise<ValueError>("export_onnx: opset ", opset, " is not supported (17 to 21 are)");
  const auto& layers = net.layers();
  // The last writer of each blob keeps its name; earlier in-place writers get "<blob>@<layer>".
  std::map<std::string, size_t> last_writer;
  for (size_t i = 0; i < layers.size(); ++i)
    for (const auto& t : layers[i].layer->spec().tops) last_writer[t] = i;
  std::set<std::string> reserved(net.blob_names().begin(), net.blob_names().end());
  Graph g(reserved);
  std::map<std::string, std::string> current;  // blob -> ONNX value holding it now
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer& layer = *layers[i].layer;
    const LayerSpec& spec = layer.spec();
    std::vector<std::string> outs;
    for (const auto& t : spec.tops) outs.push_back(last_writer[t] == i ? t : g.fresh(t + "@" + spec.name));
    if (layers[i].input) {
      for (size_t k = 0; k < outs.size(); ++k) {
        g.proto().message(11, value_info(outs[k], net.blob(spec.tops[k]).shape()));
        current[spec.tops[k]] = outs[k];
      }
      continue;
    }
    const auto found = exporters().find(spec.type);
    if (found == exporters().end()) unsupported(spec, "has no ONNX form in lamina's exporter");
    LayerIO io{layer, spec, {}, outs, {}, {}};
    for (const auto& b : spec.bottoms) {
      io.in.push_back(current.at(b));
      io.in_shapes.push_back(net.blob(b).shape());
    }
    for (const auto& t : spec.tops) io.out_shapes.push_back(net.blob(t).shape());
    found->second(g, io);
    for (size_t k = 0; k < outs.size(); ++k) current[spec.tops[k]] = outs[k];
  }
  for (const auto& o : net.outputs()) g.proto().message(12, value_info(current.at(o), net.blob(o).shape()));
  g.proto().bytes(2, net.name().empty() ? "lamina" : net.name());

  WireWriter opset_id;
  opset_id.int64(2, opset);
  WireWriter model;
  model.int64(1, ir_version(opset));
  model.bytes(2, "lamina");
  model.bytes(3, LAMINA_VERSION_STRING);
  model.message(7, g.proto());
  model.message(8, opset_id);
  return model.str();
}

void export_onnx(const Net& net, const std::string& path, int opset) {
  io::write_atomically(path, "export_onnx", onnx_model(net, opset));
}

}  // namespace lamina
