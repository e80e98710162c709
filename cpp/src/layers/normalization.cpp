// Normalisation and affine layers: BatchNorm (Caffe's, without scale and shift), Scale,
// Bias, LRN, MVN.
#include <cmath>
#include <deque>

#include "common.hpp"

namespace lamina::layers {

namespace {

// Scale (x * s) and Bias (x + b) over the axes [axis, axis + num_axes) of x; the factor is a
// learned blob, or the second bottom.
class AffineLayer : public Layer {
 public:
  explicit AffineLayer(const LayerSpec& spec)
      : Layer(spec), scale_(spec.type == "Scale"), p_(spec.param_message(scale_ ? "scale_param" : "bias_param")) {}
  void setup(const Tensors& b, LayerContext& context) override {
    const Tensor& x = b[0];
    axis_ = canonical_axis(spec_, p_.get_int("axis"), std::max<int64_t>(1, x.dim()));
    const int64_t num_axes = p_.get_int("num_axes");
    if (b.size() > 1) {
      const Shape& s = b[1].shape();
      if (axis_ + int64_t(s.size()) > x.dim() ||
          !std::equal(s.begin(), s.end(), x.shape().begin() + axis_))
        spec_.fail("second bottom " + shape_str(s) + " does not match " + shape_str(x.shape()) + " from axis " +
                   std::to_string(axis_));
      return;
    }
    if (num_axes < -1) spec_.fail("num_axes must be -1 or more", "num_axes");
    const int64_t end = num_axes == -1 ? x.dim() : axis_ + num_axes;
    if (end > x.dim()) spec_.fail("axis + num_axes exceeds the bottom's " + std::to_string(x.dim()) + " axes");
    const Shape shape(x.shape().begin() + axis_, x.shape().begin() + end);
    blobs_ = {context.param(0, shape, filler(p_.get_message("filler"), scale_ ? 1.0 : 0.0))};
    if (scale_ && p_.get_bool("bias_term")) blobs_.push_back(context.param(1, shape, filler(p_.get_message("bias_filler"), 0.0)));
  }
  Tensors forward(const Tensors& b) override {
    const Tensor& factor = b.size() > 1 ? b[1] : blobs_[0];
    if (scale_) {
      const bool shift = b.size() == 1 && blobs_.size() > 1;
      return {scale_shift(b[0], factor, shift ? blobs_[1] : Tensor(), axis_)};
    }
    return {add(b[0], broadcast_from(factor, axis_, b[0].dim()))};
  }
  // A Scale by a learned factor per channel (axis 1), with or without its bias.
  bool per_channel_scale() const { return scale_ && axis_ == 1 && !blobs_.empty() && blobs_[0].dim() == 1; }

 private:
  // Caffe's default filler here is a constant 1 (scale) or 0 (bias), not FillerParameter's.
  schema::Params filler(const schema::Params& given, double value) {
    if (given.present()) return given;
    defaults_.push_back(prototxt::parse("type: \"constant\" value: " + std::to_string(value)));
    return schema::Params(&defaults_.back(), "FillerParameter", "<default filler>");
  }

  bool scale_;
  schema::Params p_;
  int64_t axis_ = 1;
  std::deque<prototxt::Message> defaults_;
};

// Caffe's BatchNorm keeps three blobs: a running sum of means, of unbiased variances, and
// the sum of their weights (mean = blob0 / blob2). Training normalises with the batch
// statistics and updates the sums with moving_average_fraction; use_global_stats (the
// default in TEST) normalises with the stored ones.
class BatchNormLayer : public Layer {
 public:
  explicit BatchNormLayer(const LayerSpec& spec) : Layer(spec), p_(spec.param_message("batch_norm_param")) {
    global_ = p_.has("use_global_stats") ? p_.get_bool("use_global_stats") : spec.phase == Phase::test;
  }
  void setup(const Tensors& b, LayerContext& context) override {
    if (b[0].dim() < 2) spec_.fail("needs a bottom with a channel axis, got " + shape_str(b[0].shape()));
    const int64_t c = b[0].size(1);
    blobs_ = {context.statistic(0, {c}, 0.0), context.statistic(1, {c}, 0.0), context.statistic(2, {1}, 0.0)};
  }
  Tensors forward(const Tensors& b) override { return {normalize(b[0], Tensor(), Tensor(), false)}; }
  // The Scale after it (ResNet's BatchNorm + Scale pairs) as the batch_norm op's own
  // weight and bias: y = xhat * gamma + beta in one pass over the data instead of two (the
  // backward saves one pass of dx). And the ReLU after either (the op's relu): its pass
  // each way saved.
  bool fuses(const std::vector<const Layer*>& next) const override {
    size_t k = 0;
    if (k < next.size() && channel_scale(*next[k])) ++k;
    if (k < next.size() && plain_relu(*next[k])) ++k;
    return k > 0 && k == next.size();
  }
  Tensors fused_forward(const Tensors& b, const std::vector<Layer*>& next) override {
    const bool scale = channel_scale(*next.front()), relu = plain_relu(*next.back());
    if (!scale) return {normalize(b[0], Tensor(), Tensor(), relu)};
    const Tensors& sb = next.front()->blobs();
    return {normalize(b[0], sb[0], sb.size() > 1 ? sb[1] : Tensor(), relu)};
  }

 private:
  static bool channel_scale(const Layer& l) {
    const auto* scale = dynamic_cast<const AffineLayer*>(&l);
    return scale && scale->per_channel_scale();
  }
  static bool plain_relu(const Layer& l) {
    const auto* relu = dynamic_cast<const ReLULayer*>(&l);
    return relu && relu->negative_slope() == 0.0;
  }

  Tensor normalize(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu) {
    const double eps = p_.get_float("eps");
    const int64_t c = x.size(1);
    if (global_) {
      Tensor mean, var;
      {
        NoGradGuard no_grad;
        const double weight = blobs_[2].item();
        const double scale = weight == 0.0 ? 0.0 : 1.0 / weight;
        mean = affine(blobs_[0], scale);
        var = affine(blobs_[1], scale);
      }
      return batch_norm(x, mean, var, gamma, beta, false, 0.0, eps, relu);
    }
    // momentum 1 makes the op store the batch mean and unbiased variance in these.
    Tensor mean = Tensor::zeros({c}, x.dtype()), var = Tensor::zeros({c}, x.dtype());
    Tensor y = batch_norm(x, mean, var, gamma, beta, true, 1.0, eps, relu);
    const double f = p_.get_float("moving_average_fraction");
    NoGradGuard no_grad;
    blobs_[0].copy_(add(affine(blobs_[0], f), mean));
    blobs_[1].copy_(add(affine(blobs_[1], f), var));
    blobs_[2].fill_(blobs_[2].item() * f + 1.0);
    return y;
  }

  schema::Params p_;
  bool global_ = false;
};

Forward lrn_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("lrn_param");
  const int64_t size = p.get_int("local_size");
  if (size % 2 == 0) spec.fail("local_size must be odd, got " + std::to_string(size), "lrn_param");
  const double alpha = p.get_float("alpha"), beta = p.get_float("beta"), k = p.get_float("k");
  const bool across = p.get_string("norm_region") == "ACROSS_CHANNELS";
  return [=](const Tensors& b) { return Tensors{lrn(b[0], size, alpha, beta, k, across)}; };
}

// y = (x - mean) / (std + eps) over each sample (across_channels) or each plane.
Forward mvn_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("mvn_param");
  const bool variance = p.get_bool("normalize_variance"), across = p.get_bool("across_channels");
  const double eps = p.get_float("eps");
  return [=](const Tensors& b) {
    const Tensor& x = b[0];
    const Shape& s = x.shape();
    const int64_t outer = across ? s[0] : span(s, 0, std::min<int64_t>(2, x.dim()));
    const Tensor flat = x.reshape({outer, x.numel() / std::max<int64_t>(1, outer)});
    Tensor centred = sub(flat, mean(flat, {1}, true));
    if (variance) centred = div(centred, affine(sqrt(mean(square(centred), {1}, true)), 1.0, eps));
    return Tensors{centred.reshape(s)};
  };
}

}  // namespace

void register_normalization(LayerRegistry& r) {
  add_class<BatchNormLayer>(r, LayerInfo{"BatchNorm", 1, 1, 1, 1, false, false, {}});
  for (const char* type : {"Scale", "Bias"}) add_class<AffineLayer>(r, LayerInfo{type, 1, 2, 1, 1, false, false, {}});
  add_function(r, LayerInfo{"LRN", 1, 1, 1, 1, false, false, {}}, lrn_forward);
  add_function(r, LayerInfo{"MVN", 1, 1, 1, 1, false, false, {}}, mvn_forward);
}

}  // namespace lamina::layers
