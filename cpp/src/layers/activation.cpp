// Elementwise layers: ReLU, PReLU, ELU, Sigmoid, TanH, AbsVal, BNLL, Power, Exp, Log,
// Threshold, Clip, Dropout, Swish, and Softmax.
#include <cmath>

#include "common.hpp"

namespace lamina::layers {

namespace {

using Unary = std::function<Tensor(const Tensor&)>;

template <class F>
std::function<Unary(const LayerSpec&)> fixed(F f) {
  return [f](const LayerSpec&) -> Unary { return f; };
}

class PReLULayer : public Layer {
 public:
  explicit PReLULayer(const LayerSpec& spec) : Layer(spec), p_(spec.param_message("prelu_param")) {}
  void setup(const Tensors& b, LayerContext& context) override {
    if (b[0].dim() < 2 && !p_.get_bool("channel_shared"))
      spec_.fail("needs a bottom with a channel axis, got " + shape_str(b[0].shape()));
    const int64_t c = p_.get_bool("channel_shared") ? 1 : b[0].size(1);
    const auto filler = p_.get_message("filler");
    // Caffe's default slope is 0.25 when no filler is given.
    if (filler.present()) {
      blobs_ = {context.param(0, {c}, filler)};
    } else {
      static const prototxt::Message kDefault = prototxt::parse("type: \"constant\" value: 0.25");
      blobs_ = {context.param(0, {c}, schema::Params(&kDefault, "FillerParameter", "<prelu default>"))};
    }
  }
  Tensors forward(const Tensors& b) override { return {prelu(b[0], blobs_[0])}; }

 private:
  schema::Params p_;
};

// y = base^(shift + scale x) for Exp; y = log_base(shift + scale x) for Log (base -1 = e).
Unary exp_or_log(const LayerSpec& spec, bool is_exp) {
  const auto p = spec.param_message(is_exp ? "exp_param" : "log_param");
  const double base = p.get_float("base"), scale = p.get_float("scale"), shift = p.get_float("shift");
  if (base != -1 && base <= 0) spec.fail("base must be -1 (for e) or positive, got " + std::to_string(base));
  const double ln_base = base == -1 ? 1.0 : std::log(base);
  if (is_exp) return [=](const Tensor& x) { return exp(affine(x, scale * ln_base, shift * ln_base)); };
  return [=](const Tensor& x) { return affine(log(affine(x, scale, shift)), 1.0 / ln_base); };
}

class DropoutLayer : public Layer {
 public:
  explicit DropoutLayer(const LayerSpec& spec)
      : Layer(spec), ratio_(spec.param_message("dropout_param").get_float("dropout_ratio")) {
    if (ratio_ < 0 || ratio_ >= 1) spec.fail("dropout_ratio must be in [0, 1), got " + std::to_string(ratio_));
  }
  Tensors forward(const Tensors& b) override {
    return {dropout(b[0], ratio_, phase() == Phase::train, next_seed())};
  }

 private:
  double ratio_;
};

}  // namespace

ReLULayer::ReLULayer(const LayerSpec& spec)
    : Layer(spec), slope_(spec.param_message("relu_param").get_float("negative_slope")) {}

Tensors ReLULayer::forward(const Tensors& b) { return {slope_ == 0.0 ? relu(b[0]) : leaky_relu(b[0], slope_)}; }

void register_activation(LayerRegistry& r) {
  add_class<ReLULayer>(r, LayerInfo{"ReLU", 1, 1, 1, 1, false, false, {}});
  add_unary(r, "ELU", [](const LayerSpec& spec) -> Unary {
    const double alpha = spec.param_message("elu_param").get_float("alpha");
    return [alpha](const Tensor& x) { return elu(x, alpha); };
  });
  add_unary(r, "Sigmoid", fixed([](const Tensor& x) { return sigmoid(x); }));
  add_unary(r, "TanH", fixed([](const Tensor& x) { return tanh(x); }));
  add_unary(r, "AbsVal", fixed([](const Tensor& x) { return abs(x); }));
  add_unary(r, "BNLL", fixed([](const Tensor& x) { return softplus(x); }));
  add_unary(r, "Power", [](const LayerSpec& spec) -> Unary {
    const auto p = spec.param_message("power_param");
    const double power = p.get_float("power"), scale = p.get_float("scale"), shift = p.get_float("shift");
    return [=](const Tensor& x) { return lamina::power(x, power, scale, shift); };
  });
  add_unary(r, "Exp", [](const LayerSpec& spec) { return exp_or_log(spec, true); });
  add_unary(r, "Log", [](const LayerSpec& spec) { return exp_or_log(spec, false); });
  add_unary(r, "Threshold", [](const LayerSpec& spec) -> Unary {
    const double t = spec.param_message("threshold_param").get_float("threshold");
    return [t](const Tensor& x) { return threshold(x, t); };
  });
  add_unary(r, "Clip", [](const LayerSpec& spec) -> Unary {
    const auto p = spec.param_message("clip_param");
    if (!p.present()) spec.fail("needs clip_param { min max }");
    const double lo = p.get_float("min"), hi = p.get_float("max");
    if (lo > hi) spec.fail("clip_param min " + std::to_string(lo) + " exceeds max " + std::to_string(hi), "clip_param");
    return [lo, hi](const Tensor& x) { return clip(x, lo, hi); };
  });
  add_unary(r, "Swish", [](const LayerSpec& spec) -> Unary {
    const double beta = spec.param_message("swish_param").get_float("beta");
    return [beta](const Tensor& x) { return mul(x, sigmoid(affine(x, beta))); };
  });
  add_unary(r, "Softmax", [](const LayerSpec& spec) -> Unary {
    const int64_t axis = spec.param_message("softmax_param").get_int("axis");
    return [spec, axis](const Tensor& x) { return softmax(x, canonical_axis(spec, axis, x.dim())); };
  });
  add_class<PReLULayer>(r, LayerInfo{"PReLU", 1, 1, 1, 1, false, false, {}});
  add_class<DropoutLayer>(r, LayerInfo{"Dropout", 1, 1, 1, 1, false, false, {}});
}

}  // namespace lamina::layers
