// Layers with weights over space or features: Convolution, Deconvolution, Pooling,
// InnerProduct, Embed.
#include "common.hpp"

namespace lamina::layers {

namespace {

// `repeated` (e.g. kernel_size) or `prefix`_h / `prefix`_w.
void pair_from(const LayerSpec& spec, const schema::Params& p, const std::string& repeated, const std::string& prefix,
               int64_t& h, int64_t& w, int64_t fallback) {
  const auto v = p.ints(repeated);
  if (p.has(prefix + "_h") || p.has(prefix + "_w")) {
    if (!v.empty()) spec.fail("gives both " + repeated + " and " + prefix + "_h/_w", "convolution_param");
    h = p.has(prefix + "_h") ? p.get_int(prefix + "_h") : fallback;
    w = p.has(prefix + "_w") ? p.get_int(prefix + "_w") : fallback;
    return;
  }
  if (v.size() > 2)
    spec.fail("lamina convolves 2-d images: " + repeated + " has " + std::to_string(v.size()) + " values",
              "convolution_param");
  h = v.empty() ? fallback : v[0];
  w = v.empty() ? fallback : v.back();
}

}  // namespace

Geometry conv_geometry(const LayerSpec& spec, const schema::Params& p) {
  Geometry g;
  if (!p.has("kernel_size") && !p.has("kernel_h")) spec.fail("needs kernel_size (or kernel_h and kernel_w)", "convolution_param");
  pair_from(spec, p, "kernel_size", "kernel", g.kernel_h, g.kernel_w, 0);
  pair_from(spec, p, "stride", "stride", g.stride_h, g.stride_w, 1);
  pair_from(spec, p, "pad", "pad", g.pad_h, g.pad_w, 0);
  const auto d = p.ints("dilation");
  g.dilation_h = d.empty() ? 1 : d[0];
  g.dilation_w = d.empty() ? 1 : d.back();
  if (g.kernel_h < 1 || g.kernel_w < 1 || g.stride_h < 1 || g.stride_w < 1 || g.dilation_h < 1 || g.dilation_w < 1)
    spec.fail("kernel, stride and dilation must be positive", "convolution_param");
  if (p.get_int("axis") != 1) spec.fail("lamina supports convolution_param axis 1 only", "convolution_param");
  return g;
}

Pool2dOptions pool_options(const LayerSpec& spec) {
  const auto p = spec.param_message("pooling_param");
  const std::string method = p.get_string("pool");
  if (method == "STOCHASTIC") spec.fail("STOCHASTIC pooling is not supported by lamina (MAX and AVE are)", "pooling_param");
  Pool2dOptions o;
  o.global = p.get_bool("global_pooling");
  o.ceil_mode = p.get_string("round_mode") == "CEIL";
  if (!o.global) {
    if (!p.has("kernel_size") && !p.has("kernel_h")) spec.fail("needs kernel_size (or kernel_h and kernel_w), or global_pooling", "pooling_param");
    o.kernel_h = p.has("kernel_h") ? p.get_int("kernel_h") : p.get_int("kernel_size");
    o.kernel_w = p.has("kernel_w") ? p.get_int("kernel_w") : p.get_int("kernel_size");
  }
  o.stride_h = p.has("stride_h") ? p.get_int("stride_h") : p.get_int("stride");
  o.stride_w = p.has("stride_w") ? p.get_int("stride_w") : p.get_int("stride");
  o.pad_h = p.has("pad_h") ? p.get_int("pad_h") : p.get_int("pad");
  o.pad_w = p.has("pad_w") ? p.get_int("pad_w") : p.get_int("pad");
  return o;
}

namespace {



// Convolution and Deconvolution share everything but the weight layout and the op.
class ConvolutionLayer : public Layer {
 public:
  explicit ConvolutionLayer(const LayerSpec& spec)
      : Layer(spec), p_(spec.param_message("convolution_param")), g_(conv_geometry(spec, p_)) {
    if (p_.get_int("num_output") < 1) spec.fail("needs num_output > 0", "convolution_param");
    transposed_ = spec.type == "Deconvolution";
  }
  void setup(const Tensors& b, LayerContext& context) override {
    if (b[0].dim() != 4) spec_.fail("needs a 4-d bottom [N, C, H, W], got " + shape_str(b[0].shape()));
    const int64_t groups = p_.get_int("group"), out = p_.get_int("num_output"), in = b[0].size(1);
    if (groups < 1 || in % groups || out % groups)
      spec_.fail("group " + std::to_string(groups) + " must divide the bottom's " + std::to_string(in) +
                 " channels and num_output " + std::to_string(out), "convolution_param");
    const Shape w = transposed_ ? Shape{in, out / groups, g_.kernel_h, g_.kernel_w}
                                : Shape{out, in / groups, g_.kernel_h, g_.kernel_w};
    blobs_ = {context.param(0, w, p_.get_message("weight_filler"))};
    if (p_.get_bool("bias_term")) blobs_.push_back(context.param(1, {out}, p_.get_message("bias_filler")));
  }
  Tensors forward(const Tensors& b) override {
    Conv2dOptions o;
    o.stride_h = g_.stride_h; o.stride_w = g_.stride_w;
    o.pad_h = g_.pad_h; o.pad_w = g_.pad_w;
    o.dilation_h = g_.dilation_h; o.dilation_w = g_.dilation_w;
    o.groups = p_.get_int("group");
    const Tensor bias = blobs_.size() > 1 ? blobs_[1] : Tensor();
    return {transposed_ ? conv_transpose2d(b[0], blobs_[0], bias, o) : conv2d(b[0], blobs_[0], bias, o)};
  }

 private:
  schema::Params p_;
  Geometry g_;
  bool transposed_ = false;
};

Forward pooling(const LayerSpec& spec) {
  const Pool2dOptions o = pool_options(spec);
  const bool max = spec.param_message("pooling_param").get_string("pool") == "MAX";
  return [o, max](const Tensors& b) { return Tensors{max ? max_pool2d(b[0], o) : avg_pool2d(b[0], o)}; };
}

class InnerProductLayer : public Layer {
 public:
  explicit InnerProductLayer(const LayerSpec& spec) : Layer(spec), p_(spec.param_message("inner_product_param")) {
    if (p_.get_int("num_output") < 1) spec.fail("needs num_output > 0", "inner_product_param");
  }
  void setup(const Tensors& b, LayerContext& context) override {
    axis_ = canonical_axis(spec_, p_.get_int("axis"), b[0].dim());
    const int64_t k = span(b[0].shape(), axis_, b[0].dim()), n = p_.get_int("num_output");
    transpose_ = p_.get_bool("transpose");
    blobs_ = {context.param(0, transpose_ ? Shape{k, n} : Shape{n, k}, p_.get_message("weight_filler"))};
    if (p_.get_bool("bias_term")) blobs_.push_back(context.param(1, {n}, p_.get_message("bias_filler")));
  }
  Tensors forward(const Tensors& b) override {
    const Shape& s = b[0].shape();
    const int64_t k = span(s, axis_, b[0].dim());
    if (k != blobs_[0].size(transpose_ ? 0 : 1))
      spec_.fail("bottom " + shape_str(s) + " has " + std::to_string(k) + " features from axis " +
                 std::to_string(axis_) + " but the weights " + shape_str(blobs_[0].shape()) + " were set up for " +
                 std::to_string(blobs_[0].size(transpose_ ? 0 : 1)));
    const Tensor x = b[0].reshape({span(s, 0, axis_), k});
    const Tensor bias = blobs_.size() > 1 ? blobs_[1] : Tensor();
    Tensor y = transpose_ ? (bias.defined() ? add(matmul(x, blobs_[0]), bias) : matmul(x, blobs_[0]))
                          : linear(x, blobs_[0], bias);
    Shape out(s.begin(), s.begin() + axis_);
    out.push_back(p_.get_int("num_output"));
    return {y.reshape(out)};
  }

 private:
  schema::Params p_;
  int64_t axis_ = 1;
  bool transpose_ = false;
};

class EmbedLayer : public Layer {
 public:
  explicit EmbedLayer(const LayerSpec& spec) : Layer(spec), p_(spec.param_message("embed_param")) {
    if (p_.get_int("num_output") < 1 || p_.get_int("input_dim") < 1)
      spec.fail("needs num_output > 0 and input_dim > 0", "embed_param");
  }
  void setup(const Tensors&, LayerContext& context) override {
    const int64_t n = p_.get_int("num_output");
    blobs_ = {context.param(0, {p_.get_int("input_dim"), n}, p_.get_message("weight_filler"))};
    if (p_.get_bool("bias_term")) blobs_.push_back(context.param(1, {n}, p_.get_message("bias_filler")));
  }
  Tensors forward(const Tensors& b) override {
    Tensor y = embedding(b[0], blobs_[0]);
    return {blobs_.size() > 1 ? add(y, blobs_[1]) : y};
  }

 private:
  schema::Params p_;
};

}  // namespace

void register_vision(LayerRegistry& r) {
  add_class<ConvolutionLayer>(r, LayerInfo{"Convolution", 1, 1, 1, 1, false, false, {}});
  add_class<ConvolutionLayer>(r, LayerInfo{"Deconvolution", 1, 1, 1, 1, false, false, {}});
  add_class<InnerProductLayer>(r, LayerInfo{"InnerProduct", 1, 1, 1, 1, false, false, {}});
  add_class<EmbedLayer>(r, LayerInfo{"Embed", 1, 1, 1, 1, false, false, {}});
  add_function(r, LayerInfo{"Pooling", 1, 1, 1, 1, false, false, {}}, pooling);
}

}  // namespace lamina::layers
