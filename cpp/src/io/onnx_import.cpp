// ONNX import (lamina/onnx_import.hpp): each node of the graph, in order, becomes layers of
// a NetParameter tree, or a constant folded at import.
#include "lamina/onnx_import.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "io/onnx_gates.hpp"
#include "io/onnx_model.hpp"
#include "layers/common.hpp"
#include "lamina/ops.hpp"

namespace lamina {

namespace {

using layers::span;
using onnx::Attribute;
using onnx::Node;
using prototxt::Message;

// A NetParameter tree under construction.
struct Msg {
  std::shared_ptr<Message> m = std::make_shared<Message>();

  Msg& add(const std::string& name, prototxt::Value::Kind kind, std::string text) {
    prototxt::Field f;
    f.name = name;
    f.value.kind = kind;
    f.value.text = std::move(text);
    m->fields.push_back(std::move(f));
    return *this;
  }
  Msg& str(const std::string& name, const std::string& v) { return add(name, prototxt::Value::Kind::string, v); }
  Msg& id(const std::string& name, const std::string& v) { return add(name, prototxt::Value::Kind::identifier, v); }
  Msg& num(const std::string& name, int64_t v) { return add(name, prototxt::Value::Kind::number, std::to_string(v)); }
  Msg& real(const std::string& name, double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    std::string t = buf;
    if (t == "inf" || t == "-inf" || t == "nan") return id(name, t);
    return add(name, prototxt::Value::Kind::number, t);
  }
  Msg& flag(const std::string& name, bool v) { return id(name, v ? "true" : "false"); }
  Msg& sub(const std::string& name, const Msg& inner) {
    prototxt::Field f;
    f.name = name;
    f.value.kind = prototxt::Value::Kind::message;
    f.value.message = inner.m;
    m->fields.push_back(std::move(f));
    return *this;
  }
  Msg& dims(const Shape& shape) {
    for (int64_t d : shape) num("dim", d);
    return *this;
  }
};

Msg blob_shape(const Shape& s) { return Msg().dims(s); }

const std::set<std::string>& in_place_types() {
  static const std::set<std::string> types{"ReLU", "Sigmoid", "TanH", "ELU", "AbsVal", "Exp", "Log", "BNLL",
                                           "Power", "Clip", "PReLU", "BatchNorm", "Scale"};
  return types;
}

std::string shape_text(const Shape& s) { return shape_str(s); }


class Translator {
 public:
  Translator(const onnx::Model& model, const std::string& file, const NetOptions& options)
      : m_(model), file_(file), options_(options) {
    for (const auto& c : model.initializers) constants_[c.name] = c.value;
    for (const auto& n : model.nodes) {
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (!n.inputs[k].empty()) {
          ++consumers_[n.inputs[k]];
          if (!(n.op_type == "Gather" && k == 1)) non_index_uses_.insert(n.inputs[k]);
        }
      for (const auto& o : n.outputs) used_names_.insert(o);
    }
    for (const auto& o : model.outputs) {
      graph_outputs_.insert(o.name);
      ++consumers_[o.name];
    }
    for (const auto& i : model.inputs) used_names_.insert(i.name);
    for (const auto& c : model.initializers) used_names_.insert(c.name);
  }

  OnnxImport run() {
    if (m_.opset != 0 && m_.opset < 7)
      detail::raise<ValueError>(file_, ": opset ", m_.opset, " of the default domain: lamina imports opset 7 and later");
    net_.str("name", m_.graph_name.empty() ? "onnx" : m_.graph_name);
    for (const auto& in : m_.inputs) {
      if (constants_.count(in.name)) continue;  // listed as an input too before IR version 4
      add_input(in);
    }
    for (const auto& n : m_.nodes) {
      node_ = &n;
      translate(n);
    }
    node_ = nullptr;
    for (const auto& o : m_.outputs) {
      const std::string b = blob(o.name);
      if (b != o.name) layer("Split", o.name, {b}, {o.name});
    }
    OnnxImport result;
    result.prototxt = prototxt::print(*net_.m);
    result.weights = weights_;
    return result;
  }

 private:
  // ---- errors ------------------------------------------------------------------------
  template <class E = ValueError>
  [[noreturn]] void fail(const std::string& why) const {
    if (!node_) detail::raise<E>(file_, ": ", why);
    detail::raise<E>(file_, ": byte ", node_->offset, ": node '", node_->name, "' (", node_->op_type, "): ", why);
  }

  // ---- attributes ----------------------------------------------------------------------
  void allow(std::initializer_list<const char*> names) const {
    for (const auto& a : node_->attributes) {
      bool ok = false;
      for (const char* n : names) ok = ok || a.name == n;
      if (!ok) fail("attribute '" + a.name + "' is not supported by lamina's import");
    }
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    const Attribute* a = node_->attribute(name);
    return a ? a->i : fallback;
  }
  double attr_float(const char* name, double fallback) const {
    const Attribute* a = node_->attribute(name);
    return a ? a->f : fallback;
  }
  std::string attr_string(const char* name, const std::string& fallback) const {
    const Attribute* a = node_->attribute(name);
    return a ? a->s : fallback;
  }
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> fallback = {}) const {
    const Attribute* a = node_->attribute(name);
    return a ? a->ints : fallback;
  }
  // A window attribute (kernel_shape, strides, pads, dilations, group): every value in
  // [lo, 2^31), so that the arithmetic on them cannot overflow.
  std::vector<int64_t> window_ints(const char* name, std::vector<int64_t> fallback, int64_t lo) const {
    return window_ints_of(name, attr_ints(name, std::move(fallback)), lo);
  }
  int64_t window_int(const char* name, int64_t fallback, int64_t lo) const {
    const Attribute* a = node_->attribute(name);
    return a ? window_ints_of(name, {a->i}, lo)[0] : fallback;
  }
  std::vector<int64_t> window_ints_of(const char* name, std::vector<int64_t> v, int64_t lo) const {
    for (int64_t x : v)
      if (x < lo || x >= (int64_t(1) << 31)) fail(std::string(name) + " " + shape_text(v) + " is out of range");
    return v;
  }
  // Integers given by attribute `name` (older opsets) or by constant input `index`.
  bool ints_from(const char* name, size_t index, std::vector<int64_t>& out) const {
    if (const Attribute* a = node_->attribute(name)) {
      out = a->ints;
      return true;
    }
    if (index < node_->inputs.size() && !node_->inputs[index].empty()) {
      const Tensor& t = constant_input(index, name);
      out = int_values(t);
      return true;
    }
    return false;
  }

  // ---- values --------------------------------------------------------------------------
  const std::string& input(size_t k) const {
    if (k >= node_->inputs.size() || node_->inputs[k].empty()) fail("needs input " + std::to_string(k));
    return node_->inputs[k];
  }
  bool has_input(size_t k) const { return k < node_->inputs.size() && !node_->inputs[k].empty(); }
  const Tensor* constant(const std::string& value) const {
    auto it = constants_.find(value);
    return it == constants_.end() ? nullptr : &it->second;
  }
  const Tensor& constant_input(size_t k, const char* what) const {
    const Tensor* t = constant(input(k));
    if (!t) fail(std::string(what) + " (input '" + input(k) + "') must be a constant (an initializer or folded at import)");
    return *t;
  }
  static std::vector<int64_t> int_values(const Tensor& t) {
    const Tensor c = t.to(DType::i64).contiguous();
    return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
  }
  static std::vector<float> float_values(const Tensor& t) {
    const Tensor c = t.to(DType::f32).contiguous();
    return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
  }

  // The blob holding ONNX value `value`: a constant becomes a Parameter layer's blob.
  std::string blob(const std::string& value) {
    auto it = blob_of_.find(value);
    if (it != blob_of_.end()) return it->second;
    if (const Tensor* c = constant(value)) {
      const std::string top = value;
      layer("Parameter", "const:" + value, {}, {top}, Msg().sub("parameter_param", Msg().sub("shape", blob_shape(c->shape()))),
            {*c});
      aliased_.insert(top);  // shared by every reader: never written in place
      return top;
    }
    fail<FormatError>("input '" + value + "' is produced by no node before it, nor an input or initializer");
  }

  // The shape of a value: a constant's or an input's, else from the net built so far.
  Shape shape(const std::string& value) {
    if (const Tensor* c = constant(value)) return c->shape();
    const std::string b = blob(value);
    if (!prefix_ || prefix_layers_ != layers_) {
      NetOptions o = options_;
      o.phase = Phase::test;
      prefix_ = std::make_unique<Net>(*net_.m, file_, o);
      prefix_layers_ = layers_;
    }
    return prefix_->blob(b).shape();
  }

  // The shape of a windowed op's input, which must be [N, C, H, W].
  Shape image_shape() {
    const Shape s = shape(input(0));
    if (s.size() != 4) fail("needs a 4-d input [N, C, H, W], got " + shape_text(s));
    return s;
  }
  // A constant input holding one number.
  double scalar_input(size_t k, const char* what) {
    const auto v = float_values(constant_input(k, what));
    if (v.size() != 1) fail(std::string(what) + " must hold one value, not " + std::to_string(v.size()));
    return v[0];
  }

  // ---- emitting ------------------------------------------------------------------------
  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; used_names_.count(name); ++k) name = hint + "_" + std::to_string(k);
    used_names_.insert(name);
    return name;
  }
  std::string layer_name(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; layer_names_.count(name); ++k) name = hint + "_" + std::to_string(k);
    layer_names_.insert(name);
    return name;
  }
  std::string node_label() const {
    return node_->name.empty() ? node_->op_type + "_" + std::to_string(node_index()) : node_->name;
  }
  size_t node_index() const { return static_cast<size_t>(node_ - m_.nodes.data()); }

  void layer(const std::string& type, const std::string& hint, const std::vector<std::string>& bottoms,
             const std::vector<std::string>& tops, Msg params = Msg(), const std::vector<Tensor>& blobs = {}) {
    Msg l;
    const std::string name = layer_name(hint);
    l.str("name", name).str("type", type);
    for (const auto& b : bottoms) l.str("bottom", b);
    for (const auto& t : tops) l.str("top", t);
    for (auto& f : params.m->fields) l.m->fields.push_back(f);
    net_.sub("layer", l);
    ++layers_;
    if (!blobs.empty()) {
      CaffeLayerBlobs w;
      w.name = name;
      w.type = type;
      w.bottoms = bottoms;
      w.tops = tops;
      for (const auto& b : blobs) w.blobs.push_back(CaffeBlob{b.to(DType::f32).contiguous(), false});
      weights_.push_back(std::move(w));
    }
  }

  // A node's layer from input 0 to output 0 (with extra bottoms `more`), written in place
  // when nothing else reads input 0.
  void unary(const std::string& type, Msg params = Msg(), const std::vector<Tensor>& blobs = {},
             const std::vector<std::string>& more = {}) {
    const std::string& in = input(0);
    const std::string b = blob(in);
    std::vector<std::string> bottoms{b};
    bottoms.insert(bottoms.end(), more.begin(), more.end());
    const bool in_place = more.empty() && in_place_types().count(type) && consumers_[in] == 1 && !graph_outputs_.count(in) &&
                          !aliased_.count(b) && !inputs_.count(b);
    const std::string top = in_place ? b : node_->outputs.at(0);
    layer(type, node_label(), bottoms, {top}, params, blobs);
    blob_of_[node_->outputs[0]] = top;
  }

  // Output k of the node is the value `b` already holds.
  void alias(size_t k, const std::string& b) {
    blob_of_[node_->outputs.at(k)] = b;
    aliased_.insert(b);
  }
  void fold(size_t k, const Tensor& value) { constants_[node_->outputs.at(k)] = value; }
  const std::string& out(size_t k = 0) const { return node_->outputs.at(k); }

  void add_input(const onnx::ValueInfo& in) {
    Shape s;
    auto given = options_.input_shapes.find(in.name);
    if (given != options_.input_shapes.end()) {
      s = given->second;
    } else {
      if (!in.known_rank) detail::raise<ValueError>(file_, ": input '", in.name, "' has no shape in the file; give it in input_shapes");
      for (int64_t d : in.dims) s.push_back(d < 0 ? 1 : d);
    }
    if (in.elem_type != 0 && in.elem_type != onnx::kFloat && in.elem_type != onnx::kDouble && in.elem_type != onnx::kFloat16 &&
        in.elem_type != onnx::kInt64 && in.elem_type != onnx::kInt32)
      detail::raise<ValueError>(file_, ": input '", in.name, "' has element type ", in.elem_type,
                                "; lamina's inputs are float (integer inputs are read as floats)");
    layer("Input", "input:" + in.name, {}, {in.name}, Msg().sub("input_param", Msg().sub("shape", blob_shape(s))));
    blob_of_[in.name] = in.name;
    inputs_.insert(in.name);
  }

  // ---- the operators -------------------------------------------------------------------
  void translate(const Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx") fail("operators of domain '" + n.domain + "' are not supported");
    if (n.outputs.empty()) fail("has no outputs");
    static const std::map<std::string, void (Translator::*)()> table{
        {"Conv", &Translator::conv},
        {"ConvTranspose", &Translator::conv},
        {"MaxPool", &Translator::pool},
        {"AveragePool", &Translator::pool},
        {"GlobalAveragePool", &Translator::global_pool},
        {"GlobalMaxPool", &Translator::global_pool},
        {"Gemm", &Translator::gemm},
        {"MatMul", &Translator::matmul_node},
        {"Add", &Translator::binary},
        {"Sub", &Translator::binary},
        {"Mul", &Translator::binary},
        {"Div", &Translator::binary},
        {"Pow", &Translator::binary},
        {"Max", &Translator::variadic},
        {"Min", &Translator::variadic},
        {"Sum", &Translator::variadic},
        {"Mean", &Translator::variadic},
        {"Relu", &Translator::activation},
        {"LeakyRelu", &Translator::activation},
        {"Sigmoid", &Translator::activation},
        {"Tanh", &Translator::activation},
        {"Elu", &Translator::activation},
        {"Abs", &Translator::activation},
        {"Exp", &Translator::activation},
        {"Log", &Translator::activation},
        {"Softplus", &Translator::activation},
        {"Sqrt", &Translator::activation},
        {"Reciprocal", &Translator::activation},
        {"Neg", &Translator::activation},
        {"Clip", &Translator::clip},
        {"PRelu", &Translator::prelu},
        {"Softmax", &Translator::softmax},
        {"LogSoftmax", &Translator::softmax},
        {"BatchNormalization", &Translator::batch_norm},
        {"LRN", &Translator::lrn},
        {"Flatten", &Translator::flatten},
        {"Reshape", &Translator::reshape},
        {"Squeeze", &Translator::squeeze},
        {"Unsqueeze", &Translator::squeeze},
        {"Transpose", &Translator::transpose_node},
        {"Concat", &Translator::concat_node},
        {"Split", &Translator::split},
        {"Gather", &Translator::gather_node},
        {"Identity", &Translator::identity},
        {"Dropout", &Translator::identity},
        {"Cast", &Translator::cast},
        {"Constant", &Translator::constant_node},
        {"Shape", &Translator::shape_node},
        {"ConstantOfShape", &Translator::constant_of_shape},
        {"Expand", &Translator::expand_node},
        {"LSTM", &Translator::recurrent},
        {"GRU", &Translator::recurrent},
        {"RNN", &Translator::recurrent},
    };
    auto it = table.find(n.op_type);
    if (it == table.end()) fail("lamina has no layer for the ONNX operator '" + n.op_type + "'");
    try {
      (this->*(it->second))();
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      // An op or a layer rejecting the node's values: name the node.
      const std::string what = e.what();
      if (what.rfind(file_ + ": byte ", 0) == 0) throw;
      fail(what);
    }
  }

  // Symmetric pads for a 2-d window, from pads or auto_pad; `input` is the value padded.
  // ConvTranspose's SAME pads make the output input * stride.
  std::pair<int64_t, int64_t> window_pads(const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                                          const std::vector<int64_t>& dilation, bool transposed = false) {
    const std::string auto_pad = attr_string("auto_pad", "NOTSET");
    if (auto_pad == "VALID") return {0, 0};
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const Shape s = image_shape();
      int64_t p[2];
      for (int a = 0; a < 2; ++a) {
        const int64_t in = s.at(2 + a), k = (kernel[a] - 1) * dilation[a] + 1;
        const int64_t total = transposed ? k - stride[a]
                                         : std::max<int64_t>((((in + stride[a] - 1) / stride[a]) - 1) * stride[a] + k - in, 0);
        if (total < 0) fail("auto_pad " + auto_pad + " needs negative padding here");
        if (total % 2) fail("auto_pad " + auto_pad + " needs asymmetric padding here, which lamina's layers do not have");
        p[a] = total / 2;
      }
      return {p[0], p[1]};
    }
    if (auto_pad != "NOTSET") fail("unknown auto_pad '" + auto_pad + "'");
    const auto pads = window_ints("pads", {0, 0, 0, 0}, 0);
    if (pads.size() != 4) fail("pads " + shape_text(pads) + " are not 2-d");
    if (pads[0] != pads[2] || pads[1] != pads[3])
      fail("asymmetric pads " + shape_text(pads) + " are not supported (lamina's layers pad both sides alike)");
    return {pads[0], pads[1]};
  }

  void conv() {
    const bool transposed = node_->op_type == "ConvTranspose";
    allow({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "output_padding"});
    const Tensor& w = constant_input(1, "the weights");
    if (w.dim() != 4) fail("only 2-d convolutions are supported; the weights are " + shape_text(w.shape()));
    for (int64_t p : attr_ints("output_padding"))
      if (p != 0) fail("output_padding is not supported");
    const auto kernel = window_ints("kernel_shape", {w.size(2), w.size(3)}, 1);
    if (kernel != std::vector<int64_t>{w.size(2), w.size(3)}) fail("kernel_shape " + shape_text(kernel) + " differs from the weights'");
    const auto stride = window_ints("strides", {1, 1}, 1), dilation = window_ints("dilations", {1, 1}, 1);
    if (stride.size() != 2 || dilation.size() != 2) fail("strides and dilations must be 2-d");
    const auto [ph, pw] = window_pads(kernel, stride, dilation, transposed);
    const int64_t group = window_int("group", 1, 1);
    const int64_t num_output = transposed ? w.size(1) * group : w.size(0);
    Msg p;
    p.num("num_output", num_output).num("kernel_h", kernel[0]).num("kernel_w", kernel[1]);
    p.num("stride_h", stride[0]).num("stride_w", stride[1]).num("pad_h", ph).num("pad_w", pw);
    p.num("dilation", dilation[0]).num("dilation", dilation[1]).num("group", group);
    p.flag("bias_term", has_input(2));
    const std::vector<Tensor> blobs = has_input(2) ? std::vector<Tensor>{w, constant_input(2, "the bias").reshape({num_output})}
                                                   : std::vector<Tensor>{w};
    unary(transposed ? "Deconvolution" : "Convolution", Msg().sub("convolution_param", p), blobs);
  }

  // Pads [begin h, begin w, end h, end w] from pads or auto_pad (SAME_UPPER puts the odd one
  // at the end).
  std::vector<int64_t> pool_pads(const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride) {
    const std::string auto_pad = attr_string("auto_pad", "NOTSET");
    if (auto_pad == "VALID") return {0, 0, 0, 0};
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const Shape s = image_shape();
      std::vector<int64_t> p(4);
      for (int a = 0; a < 2; ++a) {
        const int64_t in = s.at(2 + a);
        const int64_t total = std::max<int64_t>((((in + stride[a] - 1) / stride[a]) - 1) * stride[a] + kernel[a] - in, 0);
        p[a] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        p[a + 2] = total - p[a];
      }
      return p;
    }
    if (auto_pad != "NOTSET") fail("unknown auto_pad '" + auto_pad + "'");
    const auto pads = window_ints("pads", {0, 0, 0, 0}, 0);
    if (pads.size() != 4) fail("pads " + shape_text(pads) + " are not 2-d");
    return pads;
  }

  // ONNX's pooled extent: the windows over [-begin, in + end), in ceil mode less a last one
  // that starts past the input and the begin padding.
  static int64_t onnx_pooled(int64_t in, int64_t k, int64_t s, int64_t begin, int64_t end, bool ceil) {
    const int64_t span_in = in + begin + end - k;
    int64_t n = (ceil ? (span_in + s - 1) / s : span_in / s) + 1;
    if (ceil && (n - 1) * s >= in + begin) --n;
    return n;
  }
  // Caffe's (lamina's Pooling layer) with `pad` on both sides.
  static int64_t caffe_pooled(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil) {
    const int64_t span_in = in + 2 * pad - k;
    int64_t n = (ceil ? (span_in + s - 1) / s : span_in / s) + 1;
    if (ceil && pad > 0 && (n - 1) * s >= in + pad) --n;
    return n;
  }

  // Pooling layers pad both sides alike and round as Caffe does. A node whose end padding
  // exceeds its begin padding, or whose ceil_mode rounds otherwise, still maps when one of
  // the two rounding modes with the begin padding gives its output size: the windows are
  // then the same, and only an average's divisor can differ (fixed after).
  void pool() {
    const bool average = node_->op_type == "AveragePool";
    allow({"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
    if (node_->outputs.size() > 1 && !node_->outputs[1].empty()) fail("the Indices output is not supported");
    const auto kernel = window_ints("kernel_shape", {}, 1);
    if (kernel.size() != 2) fail("only 2-d pooling is supported; kernel_shape is " + shape_text(kernel));
    const auto stride = window_ints("strides", {1, 1}, 1), dilation = window_ints("dilations", {1, 1}, 1);
    if (stride.size() != 2) fail("strides must be 2-d");
    if (dilation != std::vector<int64_t>{1, 1}) fail("dilated pooling is not supported");
    const auto pads = pool_pads(kernel, stride);
    const bool ceil = attr_int("ceil_mode", 0) != 0;
    const bool symmetric = pads[0] == pads[2] && pads[1] == pads[3];
    std::string mode = ceil ? "CEIL" : "FLOOR";
    Shape in;
    if (!symmetric || ceil) {
      if (pads[2] < pads[0] || pads[3] < pads[1])
        fail("pads " + shape_text(pads) + " pad the start more than the end, which lamina's Pooling cannot");
      in = image_shape();
      bool as_ceil = true, as_floor = true;
      for (int a = 0; a < 2; ++a) {
        const int64_t want = onnx_pooled(in.at(2 + a), kernel[a], stride[a], pads[a], pads[a + 2], ceil);
        as_ceil = as_ceil && caffe_pooled(in[2 + a], kernel[a], stride[a], pads[a], true) == want;
        as_floor = as_floor && caffe_pooled(in[2 + a], kernel[a], stride[a], pads[a], false) == want;
      }
      if (!as_ceil && !as_floor)
        fail("pads " + shape_text(pads) + (ceil ? " with ceil_mode" : "") + " give an output size that lamina's Pooling cannot");
      mode = as_ceil ? "CEIL" : "FLOOR";
    }
    Msg p;
    p.id("pool", average ? "AVE" : "MAX").num("kernel_h", kernel[0]).num("kernel_w", kernel[1]);
    p.num("stride_h", stride[0]).num("stride_w", stride[1]).num("pad_h", pads[0]).num("pad_w", pads[1]);
    p.id("round_mode", mode);
    const Msg params = Msg().sub("pooling_param", p);
    const bool include_pad = attr_int("count_include_pad", 0) != 0;
    const bool padded = pads[0] || pads[1] || pads[2] || pads[3];
    if (!average || !padded) return unary("Pooling", params);
    const std::string x = blob(input(0)), label = node_label();
    if (!include_pad) {
      // The mean over the window's input elements only: the padded mean divided by the
      // padded mean of ones.
      const std::string sum = fresh(label + "/padded_mean"), ones = fresh(label + "/ones"), count = fresh(label + "/ones_mean");
      layer("Pooling", label, {x}, {sum}, params);
      layer("Power", label + "/ones", {x}, {ones}, Msg().sub("power_param", Msg().real("power", 0)));
      layer("Pooling", label + "/ones_mean", {ones}, {count}, params);
      layer("Arithmetic", label + "/divide", {sum, count}, {out()}, Msg().sub("arithmetic_param", Msg().id("operation", "DIV")));
      blob_of_[out()] = out();
      return;
    }
    // Padding counted: Caffe divides by the window clipped to [-begin, in + begin), ONNX to
    // [-begin, in + end); where they differ, a constant map rescales.
    if (in.empty()) in = image_shape();
    std::vector<std::vector<double>> ratio(2);
    bool differs = false;
    for (int a = 0; a < 2; ++a) {
      const int64_t n = caffe_pooled(in[2 + a], kernel[a], stride[a], pads[a], mode == "CEIL");
      for (int64_t i = 0; i < n; ++i) {
        const int64_t start = i * stride[a] - pads[a];
        const double caffe = double(std::min(start + kernel[a], in[2 + a] + pads[a]) - start);
        const double onnx = double(std::min(start + kernel[a], in[2 + a] + pads[a + 2]) - start);
        ratio[a].push_back(caffe / onnx);
        differs = differs || caffe != onnx;
      }
    }
    if (!differs) return unary("Pooling", params);
    const int64_t oh = int64_t(ratio[0].size()), ow = int64_t(ratio[1].size());
    Tensor map = Tensor::empty({1, 1, oh, ow});
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) map.data<float>()[i * ow + j] = static_cast<float>(ratio[0][size_t(i)] * ratio[1][size_t(j)]);
    const std::string mean = fresh(label + "/caffe_mean"), scale = fresh(label + "/divisors");
    layer("Pooling", label, {x}, {mean}, params);
    layer("Parameter", label + "/divisors", {}, {scale}, Msg().sub("parameter_param", Msg().sub("shape", blob_shape(map.shape()))), {map});
    layer("Arithmetic", label + "/rescale", {mean, scale}, {out()}, Msg().sub("arithmetic_param", Msg().id("operation", "MUL")));
    blob_of_[out()] = out();
  }

  void global_pool() {
    allow({});
    const bool average = node_->op_type == "GlobalAveragePool";
    unary("Pooling", Msg().sub("pooling_param", Msg().id("pool", average ? "AVE" : "MAX").flag("global_pooling", true)));
  }

  void gemm() {
    allow({"alpha", "beta", "transA", "transB", "broadcast"});
    const double alpha = attr_float("alpha", 1), beta = attr_float("beta", 1);
    const bool trans_a = attr_int("transA", 0), trans_b = attr_int("transB", 0);
    const Tensor* b = constant(input(1));
    const Tensor* c = has_input(2) ? constant(input(2)) : nullptr;
    if (!trans_a && b && b->dim() == 2) {
      const int64_t n = trans_b ? b->size(0) : b->size(1);
      if (!has_input(2) || (c && (c->numel() == 1 || (c->numel() == n && c->size(-1) == n)))) {
        Tensor w = trans_b ? b->to(DType::f32) : transpose(b->to(DType::f32), std::vector<int64_t>{1, 0});
        if (alpha != 1) w = mul(w, Tensor::full({}, alpha));
        std::vector<Tensor> blobs{w.contiguous()};
        if (c) blobs.push_back(mul(expand(c->to(DType::f32).reshape({c->numel() == 1 ? 1 : n}), {n}), Tensor::full({}, beta)).contiguous());
        Msg p;
        p.num("num_output", n).flag("bias_term", c != nullptr);
        return unary("InnerProduct", Msg().sub("inner_product_param", p), blobs);
      }
    }
    // The general form: (A' B') alpha + C beta with MatMul and Arithmetic layers.
    const std::string label = node_label();
    auto operand = [&](size_t k, bool transpose_it) {
      const std::string v = blob(input(k));
      if (!transpose_it) return v;
      const std::string t = fresh(label + "/transposed" + std::to_string(k));
      layer("Permute", label + "/transpose" + std::to_string(k), {v}, {t}, Msg().sub("permute_param", Msg().num("order", 1).num("order", 0)));
      return t;
    };
    const std::string a = operand(0, trans_a), bb = operand(1, trans_b);
    std::string y = fresh(label + "/product");
    layer("MatMul", label, {a, bb}, {y});
    if (alpha != 1) layer("Power", label + "/alpha", {y}, {y}, Msg().sub("power_param", Msg().real("scale", alpha)));
    if (has_input(2)) {
      std::string cb = blob(input(2));
      if (beta != 1) {
        const std::string scaled = fresh(label + "/beta_c");
        layer("Power", label + "/beta", {cb}, {scaled}, Msg().sub("power_param", Msg().real("scale", beta)));
        cb = scaled;
      }
      const std::string sum = fresh(label + "/sum");
      layer("Arithmetic", label + "/add", {y, cb}, {sum}, Msg().sub("arithmetic_param", Msg().id("operation", "ADD")));
      y = sum;
    }
    alias(0, y);
  }

  void matmul_node() {
    allow({});
    const Tensor* b = constant(input(1));
    if (b && b->dim() == 2 && !constant(input(0))) {
      Msg p;
      p.num("num_output", b->size(1)).flag("bias_term", false).num("axis", -1);
      return unary("InnerProduct", Msg().sub("inner_product_param", p),
                   {transpose(b->to(DType::f32), std::vector<int64_t>{1, 0}).contiguous()});
    }
    if (fold_all([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); })) return;
    layer("MatMul", node_label(), {blob(input(0)), blob(input(1))}, {out()});
    blob_of_[out()] = out();
  }

  // Folds the node when every input is a constant; returns whether it did.
  bool fold_all(const std::function<Tensor(const std::vector<Tensor>&)>& f) {
    std::vector<Tensor> values;
    for (size_t k = 0; k < node_->inputs.size(); ++k) {
      if (!has_input(k)) continue;
      const Tensor* c = constant(input(k));
      if (!c) return false;
      values.push_back(*c);
    }
    fold(0, f(values));
    return true;
  }

  static Tensor apply(const std::string& op, const Tensor& a, const Tensor& b) {
    if (op == "Add" || op == "Sum" || op == "Mean") return add(a, b);
    if (op == "Sub") return sub(a, b);
    if (op == "Mul") return mul(a, b);
    if (op == "Pow") {
      const bool ints = a.dtype() == DType::i64 && b.dtype() == DType::i64;
      const Tensor p = pow(a.to(DType::f64), b.to(DType::f64));
      return ints ? p.to(DType::i64) : p.to(a.dtype() == DType::i64 ? DType::f32 : a.dtype());
    }
    if (op == "Max") return where(greater_equal(a, b), a, b);
    if (op == "Min") return where(less_equal(a, b), a, b);
    // Div: integers divide truncating toward zero, as ONNX's Div does.
    if (a.dtype() == DType::i64 && b.dtype() == DType::i64) {
      const auto x = int_values(a), y = int_values(b);
      Tensor out = Tensor::empty(broadcast_shape("Div", a.shape(), b.shape()), DType::i64);
      if (x.size() == 1 && y.size() == 1) {
        out.data<int64_t>()[0] = y[0] ? x[0] / y[0] : 0;
        return out;
      }
      return div(a, b).to(DType::i64);
    }
    return div(a, b);
  }

  static const char* arithmetic_name(const std::string& op) {
    if (op == "Add" || op == "Sum" || op == "Mean") return "ADD";
    if (op == "Sub") return "SUB";
    if (op == "Mul") return "MUL";
    if (op == "Div") return "DIV";
    if (op == "Pow") return "POW";
    return op == "Max" ? "MAX" : "MIN";
  }

  void binary() {
    allow({"broadcast", "axis"});
    if (node_->attribute("axis") && attr_int("broadcast", 0)) fail("the legacy broadcast with axis is not supported");
    const std::string op = node_->op_type;
    if (fold_all([&](const std::vector<Tensor>& v) { return apply(op, v[0], v[1]); })) return;
    // A scalar constant operand: one Power layer, (shift + scale x)^power.
    const Tensor* a = constant(input(0));
    const Tensor* b = constant(input(1));
    if (b && b->numel() == 1) {
      const double v = float_values(*b)[0];
      Msg p;
      if (op == "Add") p.real("shift", v);
      else if (op == "Sub") p.real("shift", -v);
      else if (op == "Mul") p.real("scale", v);
      else if (op == "Div") p.real("scale", 1.0 / v);
      else if (op == "Pow") p.real("power", v);
      if (!p.m->fields.empty() && shape(input(0)).size() >= b->shape().size())
        return unary("Power", Msg().sub("power_param", p));
    }
    if (a && a->numel() == 1 && (op == "Add" || op == "Mul" || op == "Sub") && shape(input(1)).size() >= a->shape().size()) {
      const double v = float_values(*a)[0];
      Msg p;
      if (op == "Add") p.real("shift", v);
      else if (op == "Mul") p.real("scale", v);
      else p.real("scale", -1).real("shift", v);
      const std::string x = blob(input(1));
      layer("Power", node_label(), {x}, {out()}, Msg().sub("power_param", p));
      blob_of_[out()] = out();
      return;
    }
    layer("Arithmetic", node_label(), {blob(input(0)), blob(input(1))}, {out()},
          Msg().sub("arithmetic_param", Msg().id("operation", arithmetic_name(op))));
    blob_of_[out()] = out();
  }

  void variadic() {
    allow({});
    const std::string op = node_->op_type;
    const size_t count = node_->inputs.size();
    if (count == 0) fail("needs at least one input");
    if (fold_all([&](const std::vector<Tensor>& v) {
          Tensor acc = v[0];
          for (size_t k = 1; k < v.size(); ++k) acc = apply(op, acc, v[k]);
          return op == "Mean" ? div(acc, Tensor::full({}, double(v.size()))) : acc;
        }))
      return;
    const std::string label = node_label();
    std::string acc = blob(input(0));
    for (size_t k = 1; k < count; ++k) {
      const std::string next = fresh(label + "/partial" + std::to_string(k));
      layer("Arithmetic", label, {acc, blob(input(k))}, {next}, Msg().sub("arithmetic_param", Msg().id("operation", arithmetic_name(op))));
      acc = next;
    }
    if (op == "Mean" && count > 1) {
      const std::string mean = fresh(label + "/mean");
      layer("Power", label + "/mean", {acc}, {mean}, Msg().sub("power_param", Msg().real("scale", 1.0 / double(count))));
      acc = mean;
    }
    alias(0, acc);
  }

  void activation() {
    const std::string op = node_->op_type;
    if (op == "LeakyRelu") {
      allow({"alpha"});
      return unary("ReLU", Msg().sub("relu_param", Msg().real("negative_slope", attr_float("alpha", 0.01))));
    }
    if (op == "Elu") {
      allow({"alpha"});
      return unary("ELU", Msg().sub("elu_param", Msg().real("alpha", attr_float("alpha", 1))));
    }
    allow({"consumed_inputs"});
    if (const Tensor* c = constant(input(0))) {
      Tensor x = c->to(DType::f32);
      Tensor y = op == "Relu" ? relu(x) : op == "Sigmoid" ? sigmoid(x) : op == "Tanh" ? tanh(x) : op == "Abs" ? abs(x)
               : op == "Exp" ? exp(x) : op == "Log" ? log(x) : op == "Sqrt" ? sqrt(x) : op == "Neg" ? neg(x)
               : op == "Reciprocal" ? div(Tensor::full({}, 1.0), x) : Tensor();
      if (y.defined()) return fold(0, y);
    }
    static const std::map<std::string, std::string> types{{"Relu", "ReLU"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "TanH"},
                                                          {"Abs", "AbsVal"}, {"Exp", "Exp"},        {"Log", "Log"},
                                                          {"Softplus", "BNLL"}};
    auto it = types.find(op);
    if (it != types.end()) return unary(it->second);
    Msg p;
    if (op == "Sqrt") p.real("power", 0.5);
    if (op == "Reciprocal") p.real("power", -1);
    if (op == "Neg") p.real("scale", -1);
    unary("Power", Msg().sub("power_param", p));
  }

  void clip() {
    allow({"min", "max"});
    double lo = -INFINITY, hi = INFINITY;
    if (node_->attribute("min")) lo = attr_float("min", lo);
    if (node_->attribute("max")) hi = attr_float("max", hi);
    if (has_input(1)) lo = scalar_input(1, "min");
    if (has_input(2)) hi = scalar_input(2, "max");
    const double big = 3.4028234663852886e38;  // Caffe's clip_param takes finite floats
    unary("Clip", Msg().sub("clip_param", Msg().real("min", std::max(lo, -big)).real("max", std::min(hi, big))));
  }

  void prelu() {
    allow({});
    const Tensor& slope = constant_input(1, "the slope");
    if (slope.numel() == 1)
      return unary("PReLU", Msg().sub("prelu_param", Msg().flag("channel_shared", true)), {slope.reshape({1})});
    const Shape x = shape(input(0));
    // A per-channel slope: extent C on axis 1 once aligned to x from the right, 1 elsewhere.
    const int64_t offset = int64_t(x.size()) - slope.dim();
    bool per_channel = x.size() >= 2 && offset >= 0 && offset <= 1;
    for (int64_t k = 0; per_channel && k < slope.dim(); ++k)
      per_channel = (k + offset == 1) ? slope.size(k) == x[1] : slope.size(k) == 1;
    if (per_channel) return unary("PReLU", Msg(), {slope.reshape({x[1]})});
    // Any other slope that broadcasts: relu(x) + slope (x - relu(x)).
    const std::string label = node_label(), in = blob(input(0)), a = blob(input(1));
    const std::string pos = fresh(label + "/positive"), negative = fresh(label + "/negative"), scaled = fresh(label + "/scaled");
    auto arithmetic = [](const char* op) { return Msg().sub("arithmetic_param", Msg().id("operation", op)); };
    layer("ReLU", label + "/relu", {in}, {pos});
    layer("Arithmetic", label + "/negative", {in, pos}, {negative}, arithmetic("SUB"));
    layer("Arithmetic", label + "/scale", {negative, a}, {scaled}, arithmetic("MUL"));
    layer("Arithmetic", label, {pos, scaled}, {out()}, arithmetic("ADD"));
    blob_of_[out()] = out();
  }

  void softmax() {
    allow({"axis"});
    const bool log_softmax = node_->op_type == "LogSoftmax";
    const std::string type = log_softmax ? "LogSoftmax" : "Softmax";
    const int64_t axis_attr = attr_int("axis", m_.opset >= 13 ? -1 : 1);
    const Shape s = shape(input(0));
    const int64_t rank = int64_t(s.size());
    const int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
    if (axis < 0 || axis >= std::max<int64_t>(rank, 1)) fail("axis " + std::to_string(axis_attr) + " is out of range for " + shape_text(s));
    if (m_.opset >= 13 || axis == rank - 1) return unary(type, Msg().sub("softmax_param", Msg().num("axis", axis)));
    // Before opset 13: one softmax over the axes from `axis` on, flattened.
    const std::string label = node_label();
    const std::string flat = fresh(label + "/flat"), soft = fresh(label + "/softmax");
    layer("Reshape", label + "/flatten", {blob(input(0))}, {flat},
          Msg().sub("reshape_param", Msg().sub("shape", blob_shape({-1})).num("axis", axis).num("num_axes", -1)));
    layer(type, label, {flat}, {soft}, Msg().sub("softmax_param", Msg().num("axis", axis)));
    layer("Reshape", label + "/unflatten", {soft}, {out()}, Msg().sub("reshape_param", Msg().sub("shape", blob_shape(s))));
    blob_of_[out()] = out();
  }

  void batch_norm() {
    allow({"epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"});
    if (attr_int("training_mode", 0)) fail("training_mode 1 is not supported (import the inference graph)");
    if (!attr_int("spatial", 1)) fail("spatial 0 is not supported");
    for (size_t k = 1; k < node_->outputs.size(); ++k)
      if (!node_->outputs[k].empty()) fail("the running-statistics outputs are not supported");
    const Tensor& scale = constant_input(1, "scale");
    const Tensor& bias = constant_input(2, "B");
    const Tensor& mean = constant_input(3, "mean");
    const Tensor& var = constant_input(4, "var");
    const int64_t c = scale.numel();
    if (bias.numel() != c || mean.numel() != c || var.numel() != c) fail("scale, B, mean and var must have the same length");
    Msg bn;
    bn.flag("use_global_stats", true).real("eps", attr_float("epsilon", 1e-5));
    unary("BatchNorm", Msg().sub("batch_norm_param", bn),
          {mean.reshape({c}), var.reshape({c}), Tensor::full({1}, 1.0)});
    const std::string y = blob_of_[out()];
    layer("Scale", node_label() + "/scale", {y}, {y}, Msg().sub("scale_param", Msg().flag("bias_term", true)),
          {scale.reshape({c}), bias.reshape({c})});
  }

  void lrn() {
    allow({"alpha", "beta", "bias", "size"});
    const int64_t size = window_int("size", 0, 1);
    if (size < 1 || size % 2 == 0) fail("size " + std::to_string(size) + " is not supported (lamina's LRN takes an odd size)");
    Msg p;
    p.num("local_size", size).real("alpha", attr_float("alpha", 1e-4)).real("beta", attr_float("beta", 0.75));
    p.real("k", attr_float("bias", 1)).id("norm_region", "ACROSS_CHANNELS");
    unary("LRN", Msg().sub("lrn_param", p));
  }

  // ---- recurrent -----------------------------------------------------------------------
  // Whether optional input k is given as something other than a constant of zeros.
  bool nonzero_input(size_t k) {
    if (!has_input(k)) return false;
    const Tensor* c = constant(input(k));
    if (!c) return true;
    for (float v : float_values(*c))
      if (v != 0) return true;
    return false;
  }

  // LSTM, GRU, RNN (one forward direction, default activations) as SequenceLSTM/GRU/RNN.
  void recurrent() {
    const std::string op = node_->op_type;
    allow({"activations", "clip", "direction", "hidden_size", "input_forget", "layout", "linear_before_reset",
           "activation_alpha", "activation_beta"});
    if (attr_string("direction", "forward") != "forward") fail("only the forward direction is supported");
    if (node_->attribute("clip")) fail("clip is not supported");
    if (attr_int("layout", 0) != 0) fail("layout 1 (batch first) is not supported");
    if (attr_int("input_forget", 0) != 0) fail("input_forget is not supported");
    if (node_->attribute("activation_alpha") || node_->attribute("activation_beta")) fail("activation_alpha/beta are not supported");
    const std::vector<std::string> defaults = op == "LSTM" ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                              : op == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                            : std::vector<std::string>{"Tanh"};
    const Attribute* acts = node_->attribute("activations");
    bool relu_rnn = false;
    if (acts && acts->strings != defaults) {
      relu_rnn = op == "RNN" && acts->strings == std::vector<std::string>{"Relu"};
      if (!relu_rnn) fail("activations other than the defaults are not supported");
    }
    if (op == "GRU" && attr_int("linear_before_reset", 0) != 1)
      fail("linear_before_reset 0 is not supported (lamina's GRU applies the reset gate after the hidden product, "
           "as PyTorch exports with linear_before_reset 1)");
    const Tensor& w = constant_input(1, "W");
    const Tensor& r = constant_input(2, "R");
    if (w.dim() != 3 || r.dim() != 3 || w.size(0) != 1 || r.size(0) != 1) fail("W and R must be [1, G, *] (one direction)");
    const int64_t g = w.size(1), h = r.size(2);
    const int64_t per = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
    if (g != per * h || r.size(1) != g || attr_int("hidden_size", h) != h)
      fail("W " + shape_text(w.shape()) + " and R " + shape_text(r.shape()) + " do not fit hidden_size " + std::to_string(h));
    const Shape xs = shape(input(0));
    if (xs.size() != 3) fail("X must be [T, N, D], got " + shape_text(xs));
    if (has_input(4)) {
      const Tensor* lens = constant(input(4));
      for (int64_t v : lens ? int_values(*lens) : std::vector<int64_t>{-1})
        if (v != xs[0]) fail("sequence_lens must be absent or the full length " + std::to_string(xs[0]) + " (a constant)");
    }
    if (op == "LSTM" && nonzero_input(7)) fail("P (peepholes) must be absent or zeros (a constant)");
    const std::vector<int64_t> blocks = op == "LSTM"  ? onnx::kLstmOnnxToPytorch
                                        : op == "GRU" ? onnx::kGruSwap
                                                      : std::vector<int64_t>{0};
    Tensor bx = Tensor::zeros({g}), bh = Tensor::zeros({g});
    if (has_input(3)) {
      const Tensor b = constant_input(3, "B").to(DType::f32).reshape({2 * g});
      bx = slice(b, 0, 0, g);
      bh = slice(b, 0, g, 2 * g);
    }
    const std::vector<Tensor> blobs{onnx::reorder_gates(w.to(DType::f32).reshape({g, w.size(2)}), blocks), onnx::reorder_gates(bx, blocks),
                                    onnx::reorder_gates(r.to(DType::f32).reshape({g, h}), blocks), onnx::reorder_gates(bh, blocks)};
    const std::string label = node_label();
    // Initial states [1, N, H] -> [N, H]; a c0 without an h0 takes zeros for h0.
    std::vector<std::string> bottoms{blob(input(0))};
    const size_t state_inputs = op == "LSTM" ? 2 : 1;
    // A constant zero state is no state.
    for (size_t k = 0; k < state_inputs; ++k) {
      const bool given = nonzero_input(5 + k), later = k == 0 && state_inputs == 2 && nonzero_input(6);
      if (!given && !later) break;
      std::string state;
      if (given) {
        state = fresh(label + (k ? "/c0" : "/h0"));
        layer("Reshape", label + (k ? "/c0" : "/h0"), {blob(input(5 + k))}, {state},
              Msg().sub("reshape_param", Msg().sub("shape", blob_shape({-1})).num("axis", 0).num("num_axes", 2)));
      } else {
        state = fresh(label + "/h0_zeros");
        layer("Parameter", label + "/h0_zeros", {}, {state},
              Msg().sub("parameter_param", Msg().sub("shape", blob_shape({xs[1], h}))), {Tensor::zeros({xs[1], h})});
      }
      bottoms.push_back(state);
    }
    std::vector<std::string> tops;
    const size_t outputs = std::min(node_->outputs.size(), size_t(per == 4 ? 3 : 2));
    for (size_t k = 0; k < outputs; ++k) tops.push_back(fresh(label + "/" + std::to_string(k)));
    if (tops.empty()) tops.push_back(fresh(label + "/y"));
    Msg p;
    p.num("num_output", h);
    if (relu_rnn) p.str("nonlinearity", "relu");
    layer(op == "LSTM" ? "SequenceLSTM" : op == "GRU" ? "SequenceGRU" : "SequenceRNN", label, bottoms, tops,
          Msg().sub("recurrent_param", p), blobs);
    // ONNX's Y is [T, 1, N, H], Y_h and Y_c [1, N, H]: a direction axis inserted.
    for (size_t k = 0; k < outputs; ++k) {
      if (out(k).empty()) continue;
      layer("Reshape", label + "/output" + std::to_string(k), {tops[k]}, {out(k)},
            Msg().sub("reshape_param", Msg().sub("shape", blob_shape({1})).num("axis", k == 0 ? 1 : 0).num("num_axes", 0)));
      blob_of_[out(k)] = out(k);
    }
  }

  // ---- shape ---------------------------------------------------------------------------
  // A Reshape to `dims` where an axis that stays in place keeps the bottom's extent (0),
  // so the batch still follows the input.
  void reshape_to(const Shape& from, const Shape& to, const std::vector<int64_t>& origin) {
    Msg s;
    for (size_t k = 0; k < to.size(); ++k) s.num("dim", origin[k] == int64_t(k) && k < from.size() ? 0 : to[k]);
    layer("Reshape", node_label(), {blob(input(0))}, {out()}, Msg().sub("reshape_param", Msg().sub("shape", s)));
    blob_of_[out()] = out();
  }

  void flatten() {
    allow({"axis"});
    if (fold_all([&](const std::vector<Tensor>& v) {
          const int64_t r = v[0].dim(), a = attr_int("axis", 1) < 0 ? attr_int("axis", 1) + r : attr_int("axis", 1);
          return v[0].reshape({span(v[0].shape(), 0, a), span(v[0].shape(), a, r)});
        }))
      return;
    const Shape s = shape(input(0));
    const int64_t r = int64_t(s.size());
    int64_t a = attr_int("axis", 1);
    if (a < 0) a += r;
    if (a < 0 || a > r) fail("axis " + std::to_string(attr_int("axis", 1)) + " is out of range for " + shape_text(s));
    if (a == 1 && r >= 2) return unary("Flatten");
    const Shape to{span(s, 0, a), span(s, a, r)};
    std::vector<int64_t> origin{a == 1 ? 0 : -1, -1};
    reshape_to(s, to, origin);
  }

  void reshape() {
    allow({"allowzero", "shape"});
    std::vector<int64_t> dims;
    if (!ints_from("shape", 1, dims)) fail("needs a shape");
    if (attr_int("allowzero", 0) && std::count(dims.begin(), dims.end(), 0)) fail("allowzero with a 0 in the shape is not supported");
    if (const Tensor* c = constant(input(0))) {
      Shape s;
      int64_t known = 1, infer = -1;
      for (size_t k = 0; k < dims.size(); ++k) {
        if (dims[k] < -1) fail("shape " + shape_text(dims) + " has a negative extent");
        s.push_back(dims[k] == 0 ? c->size(int64_t(k)) : dims[k]);
        if (dims[k] == -1) infer = int64_t(k);
        else if (__builtin_mul_overflow(known, s.back(), &known)) fail("shape " + shape_text(dims) + " is too large");
      }
      if (infer >= 0) s[infer] = known ? c->numel() / known : 0;
      return fold(0, c->reshape(s));
    }
    layer("Reshape", node_label(), {blob(input(0))}, {out()}, Msg().sub("reshape_param", Msg().sub("shape", blob_shape(dims))));
    blob_of_[out()] = out();
  }

  void squeeze() {
    allow({"axes"});
    const bool un = node_->op_type == "Unsqueeze";
    std::vector<int64_t> axes;
    const bool given = ints_from("axes", 1, axes);
    const Shape s = shape(input(0));
    const int64_t r = int64_t(s.size()), out_rank = un ? r + int64_t(axes.size()) : r;
    for (auto& a : axes) {
      if (a < -out_rank || a >= out_rank) fail("axis " + std::to_string(a) + " is out of range");
      if (a < 0) a += out_rank;
    }
    if (std::set<int64_t>(axes.begin(), axes.end()).size() != axes.size()) fail("axes " + shape_text(axes) + " repeat an axis");
    Shape to;
    std::vector<int64_t> origin;  // per output axis: the input axis it is, or -1
    if (un) {
      for (int64_t k = 0, i = 0; k < out_rank; ++k) {
        const bool added = std::count(axes.begin(), axes.end(), k) > 0;
        to.push_back(added ? 1 : s.at(size_t(i)));
        origin.push_back(added ? -1 : i);
        if (!added) ++i;
      }
    } else {
      for (int64_t k = 0; k < r; ++k) {
        const bool drop = given ? std::count(axes.begin(), axes.end(), k) > 0 : s[k] == 1;
        if (drop && s[k] != 1) fail("cannot squeeze axis " + std::to_string(k) + " of extent " + std::to_string(s[k]));
        if (!drop) {
          to.push_back(s[k]);
          origin.push_back(k);
        }
      }
    }
    if (const Tensor* c = constant(input(0))) return fold(0, c->reshape(to));
    reshape_to(s, to, origin);
  }

  void transpose_node() {
    allow({"perm"});
    std::vector<int64_t> perm = attr_ints("perm");
    if (perm.empty()) {
      const int64_t r = int64_t(shape(input(0)).size());
      for (int64_t k = r - 1; k >= 0; --k) perm.push_back(k);
    }
    if (const Tensor* c = constant(input(0))) return fold(0, transpose(*c, perm));
    Msg p;
    for (int64_t a : perm) {
      if (a < 0) fail("perm " + shape_text(perm) + " has a negative axis");
      p.num("order", a);
    }
    layer("Permute", node_label(), {blob(input(0))}, {out()}, Msg().sub("permute_param", p));
    blob_of_[out()] = out();
  }

  void concat_node() {
    allow({"axis"});
    const int64_t axis = attr_int("axis", 1);
    if (fold_all([&](const std::vector<Tensor>& v) {
          std::vector<Tensor> same;
          const DType t = v[0].dtype();
          for (const auto& x : v) same.push_back(x.to(t));
          return cat(same, axis < 0 ? axis + v[0].dim() : axis);
        }))
      return;
    std::vector<std::string> bottoms;
    for (size_t k = 0; k < node_->inputs.size(); ++k) bottoms.push_back(blob(input(k)));
    layer("Concat", node_label(), bottoms, {out()}, Msg().sub("concat_param", Msg().num("axis", axis)));
    blob_of_[out()] = out();
  }

  void split() {
    allow({"axis", "split", "num_outputs"});
    const int64_t axis = attr_int("axis", 0);
    std::vector<int64_t> sizes;
    ints_from("split", 1, sizes);
    window_ints_of("split", sizes, 0);
    Msg p;
    p.num("axis", axis);
    if (!sizes.empty()) {
      if (sizes.size() != node_->outputs.size()) fail(std::to_string(sizes.size()) + " split sizes for " + std::to_string(node_->outputs.size()) + " outputs");
      int64_t at = 0;
      for (size_t k = 0; k + 1 < sizes.size(); ++k) p.num("slice_point", at += sizes[k]);
    } else if (node_->attribute("num_outputs")) {
      const Shape s = shape(input(0));
      const int64_t rank = int64_t(s.size()), a = axis < 0 ? axis + rank : axis;
      if (a < 0 || a >= rank) fail("axis " + std::to_string(axis) + " is out of range for " + shape_text(s));
      const int64_t extent = s[size_t(a)], n = int64_t(node_->outputs.size());
      const int64_t chunk = (extent + n - 1) / n;  // ONNX's Split-18: the last part may be smaller
      for (int64_t k = 1; k < n; ++k) p.num("slice_point", std::min(extent, k * chunk));
    }
    std::vector<std::string> tops;
    for (const auto& o : node_->outputs) {
      if (o.empty()) fail("an omitted output is not supported");
      tops.push_back(o);
      blob_of_[o] = o;
    }
    layer("Slice", node_label(), {blob(input(0))}, tops, Msg().sub("slice_param", p));
  }

  void gather_node() {
    allow({"axis"});
    const int64_t axis = attr_int("axis", 0);
    const Tensor* data = constant(input(0));
    const Tensor* index = constant(input(1));
    if (data && index) {
      const int64_t a = axis < 0 ? axis + data->dim() : axis;
      if (a < 0 || a >= data->dim()) fail("axis " + std::to_string(axis) + " is out of range for " + shape_text(data->shape()));
      const int64_t extent = data->size(a);
      auto idx = int_values(*index);
      for (auto& i : idx) {
        if (i < -extent || i >= extent) fail("index " + std::to_string(i) + " is out of range for extent " + std::to_string(extent));
        if (i < 0) i += extent;
      }
      Tensor flat = Tensor::empty({int64_t(idx.size())}, DType::i64);
      std::copy(idx.begin(), idx.end(), flat.data<int64_t>());
      Shape s(data->shape().begin(), data->shape().begin() + a);
      s.insert(s.end(), index->shape().begin(), index->shape().end());
      s.insert(s.end(), data->shape().begin() + a + 1, data->shape().end());
      return fold(0, index_select(*data, a, flat).reshape(s));
    }
    if (data && data->dim() == 2 && (axis == 0 || axis == -2)) {
      Msg p;
      p.num("num_output", data->size(1)).num("input_dim", data->size(0)).flag("bias_term", false);
      layer("Embed", node_label(), {blob(input(1))}, {out()}, Msg().sub("embed_param", p), {*data});
      blob_of_[out()] = out();
      return;
    }
    Msg p;
    p.num("axis", axis);
    if (index) {
      for (int64_t i : int_values(*index)) p.num("index", i);
      p.sub("index_shape", blob_shape(index->shape()));
      layer("Gather", node_label(), {blob(input(0))}, {out()}, Msg().sub("gather_param", p));
    } else {
      layer("Gather", node_label(), {blob(input(0)), blob(input(1))}, {out()}, Msg().sub("gather_param", p));
    }
    blob_of_[out()] = out();
  }

  // ---- values passed on or computed at import -------------------------------------------
  void identity() {
    allow({"ratio", "seed", "is_test", "consumed_inputs"});
    for (size_t k = 1; k < node_->outputs.size(); ++k)
      if (!node_->outputs[k].empty() && consumers_[node_->outputs[k]]) fail("the mask output is not supported");
    if (node_->op_type == "Dropout" && has_input(2) && (!constant(input(2)) || scalar_input(2, "training_mode") != 0))
      fail("training_mode is not supported (an imported net is an inference graph; train it as a net)");
    if (const Tensor* c = constant(input(0))) return fold(0, *c);
    alias(0, blob(input(0)));
  }

  void cast() {
    allow({"to", "saturate", "round_mode"});
    const int64_t to = attr_int("to", onnx::kFloat);
    const bool to_float = to == onnx::kFloat || to == onnx::kDouble || to == onnx::kFloat16 || to == 16;
    if (const Tensor* c = constant(input(0))) return fold(0, c->to(to_float ? DType::f32 : DType::i64));
    // Indices read by Gather alone: lamina's Gather and Embed truncate float indices as
    // the cast would.
    if (!to_float && (non_index_uses_.count(out()) || graph_outputs_.count(out())))
      fail("a cast of computed values to an integer type is not supported (lamina's blobs are floats) "
           "unless only Gather reads the result as indices");
    alias(0, blob(input(0)));
  }

  void constant_node() {
    const auto& attrs = node_->attributes;
    if (attrs.size() != 1) fail("needs exactly one value attribute");
    const Attribute& a = attrs[0];
    if (a.name == "value") return fold(0, a.t);
    if (a.name == "value_float") return fold(0, Tensor::full({}, a.f));
    if (a.name == "value_int") return fold(0, Tensor::full({}, double(a.i), DType::i64));
    if (a.name == "value_floats" || a.name == "value_ints") {
      const bool ints = a.name == "value_ints";
      const size_t n = ints ? a.ints.size() : a.floats.size();
      Tensor t = Tensor::empty({int64_t(n)}, ints ? DType::i64 : DType::f32);
      for (size_t k = 0; k < n; ++k) {
        if (ints) t.data<int64_t>()[k] = a.ints[k];
        else t.data<float>()[k] = static_cast<float>(a.floats[k]);
      }
      return fold(0, t);
    }
    fail("attribute '" + a.name + "' is not supported");
  }

  void shape_node() {
    allow({"start", "end"});
    const Shape s = shape(input(0));
    const int64_t r = int64_t(s.size());
    auto clamp_axis = [r](int64_t a) { return std::min(std::max(a < 0 ? a + r : a, int64_t(0)), r); };
    const int64_t start = clamp_axis(attr_int("start", 0)), end = clamp_axis(attr_int("end", r));
    Tensor t = Tensor::empty({std::max<int64_t>(end - start, 0)}, DType::i64);
    for (int64_t k = start; k < end; ++k) t.data<int64_t>()[k - start] = s[k];
    fold(0, t);
  }

  // Expand: of constants (PyTorch's zero initial states) folded; of computed values a
  // product with ones of the shape (a fixed blob), which broadcasts alike.
  void expand_node() {
    allow({});
    const Shape to = int_values(constant_input(1, "the shape"));
    if (const Tensor* c = constant(input(0))) return fold(0, expand(*c, broadcast_shape("Expand", c->shape(), to)).contiguous());
    const std::string label = node_label(), ones = fresh(label + "/ones");
    Msg fixed;
    fixed.sub("param", Msg().real("lr_mult", 0).real("decay_mult", 0));
    fixed.sub("parameter_param", Msg().sub("shape", blob_shape(to)));
    layer("Parameter", label + "/ones", {}, {ones}, fixed, {Tensor::full(to, 1.0)});
    layer("Arithmetic", label, {blob(input(0)), ones}, {out()}, Msg().sub("arithmetic_param", Msg().id("operation", "MUL")));
    blob_of_[out()] = out();
  }

  void constant_of_shape() {
    allow({"value"});
    const Shape s = int_values(constant_input(0, "the shape"));
    const Attribute* a = node_->attribute("value");
    const Tensor fill_value = a ? a->t : Tensor::zeros({1});
    fold(0, expand(fill_value.reshape({}), s).contiguous());
  }

  const onnx::Model& m_;
  const std::string& file_;
  NetOptions options_;
  const Node* node_ = nullptr;
  Msg net_;
  size_t layers_ = 0;
  std::unique_ptr<Net> prefix_;
  size_t prefix_layers_ = 0;
  std::vector<CaffeLayerBlobs> weights_;
  std::map<std::string, Tensor> constants_;
  std::map<std::string, std::string> blob_of_;
  std::map<std::string, int> consumers_;
  std::set<std::string> graph_outputs_, inputs_, aliased_, used_names_, layer_names_;
  std::set<std::string> non_index_uses_;  // values some node reads other than as Gather's indices
};

}  // namespace

OnnxImport translate_onnx(const std::string& path, const NetOptions& options) {
  const onnx::Model model = onnx::read_model(path);
  return Translator(model, path, options).run();
}

Net import_onnx(const std::string& path, NetOptions options) {
  const OnnxImport imported = translate_onnx(path, options);
  Net net(prototxt::parse(imported.prototxt, path), path, options);
  net.copy_layers(imported.weights, path);
  return net;
}

}  // namespace lamina
