// The layer registry, Layer's defaults and Caffe's fillers.
#include "lamina/layer.hpp"

#include <cmath>
#include <mutex>

#include "lamina/ops.hpp"

namespace lamina {

void LayerSpec::fail(const std::string& reason, const std::string& field) const {
  const auto p = param.position(field);
  throw PrototxtError(param.file(), p.line, p.column, "layer '" + name + "' (" + type + "): " + reason);
}

void Layer::setup(const std::vector<Tensor>&, LayerContext&) {}
std::vector<Shape> Layer::input_shapes(LayerContext&) { return {}; }
bool Layer::fuses(const std::vector<const Layer*>&) const { return false; }

namespace {
// 'a' (A), 'b' (B): the layers' names and types.
std::string layer_list(const std::vector<Layer*>& layers) {
  std::string out;
  for (const Layer* l : layers) out += (out.empty() ? "'" : ", '") + l->name() + "' (" + l->spec().type + ")";
  return out;
}
}  // namespace

std::vector<Tensor> Layer::forward_fused(const std::vector<Tensor>& bottoms, const std::vector<Layer*>& next) {
  if (!fuses(std::vector<const Layer*>(next.begin(), next.end())))
    detail::raise<Error>("layer '", name(), "' (", spec_.type, ") does not fuse layers ", layer_list(next));
  return fused_forward(bottoms, next);
}
std::vector<Tensor> Layer::fused_forward(const std::vector<Tensor>&, const std::vector<Layer*>& next) {
  detail::raise<Error>("layer '", name(), "' (", spec_.type, ") fuses layers ", layer_list(next),
                       " but does not define fused_forward");
}

LayerRegistry& LayerRegistry::global() {
  static LayerRegistry* r = [] {
    auto* fresh = new LayerRegistry;
    layers::register_data(*fresh);
    layers::register_vision(*fresh);
    layers::register_activation(*fresh);
    layers::register_normalization(*fresh);
    layers::register_loss(*fresh);
    layers::register_structure(*fresh);
    layers::register_recurrent(*fresh);
    layers::register_tensor(*fresh);
    // Python layers run Python code; the lamina Python package replaces this entry.
    fresh->add(LayerInfo{"Python", 0, -1, 0, -1, false, false, [](const LayerSpec& spec) -> std::unique_ptr<Layer> {
                           spec.fail("Python layers need the lamina Python package (import lamina)");
                         }});
    return fresh;
  }();
  return *r;
}

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void LayerRegistry::add(LayerInfo info) {
  LAMINA_CHECK(!info.type.empty() && info.make, "register_layer: a layer type needs a name and a factory");
  std::lock_guard<std::mutex> lock(registry_mutex());
  layers_[info.type] = std::move(info);
}

const LayerInfo* LayerRegistry::find(const std::string& type) const {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = layers_.find(type);
  return it == layers_.end() ? nullptr : &it->second;
}

std::vector<std::string> LayerRegistry::types() const {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> out;
  for (const auto& [type, info] : layers_) out.push_back(type);
  return out;
}

// ---- fillers ----------------------------------------------------------------------------------

void fill(Tensor& t, const schema::Params& filler) {
  const std::string type = filler.get_string("type");
  const Shape& s = t.shape();
  const int64_t n = t.numel();
  const DType dt = t.dtype();
  NoGradGuard no_grad;
  const double fan_in = s.empty() || s[0] == 0 ? 1.0 : double(n) / double(s[0]);
  const double fan_out = s.size() < 2 || s[1] == 0 ? 1.0 : double(n) / double(s[1]);
  auto scale_n = [&]() {  // the n of Caffe's xavier and msra
    const std::string norm = filler.get_string("variance_norm");
    if (norm == "FAN_OUT") return fan_out;
    if (norm == "AVERAGE") return (fan_in + fan_out) / 2.0;
    return fan_in;
  };
  if (type == "constant") {
    t.fill_(filler.get_float("value"));
  } else if (type == "uniform") {
    t.copy_(rand(s, filler.get_float("min"), filler.get_float("max"), dt, next_seed()));
  } else if (type == "gaussian") {
    Tensor g = randn(s, filler.get_float("mean"), filler.get_float("std"), dt, next_seed());
    const int64_t sparse = filler.get_int("sparse");
    if (sparse >= 0) {
      // Each weight is kept with probability sparse / num_outputs (Caffe's sparse gaussian).
      LAMINA_CHECK(s.size() >= 1 && s[0] > 0, "gaussian filler: sparse needs a blob with outputs, got ",
                   shape_str(s));
      const double keep = std::min(1.0, double(sparse) / double(s[0]));
      g = mul(g, less(rand(s, 0.0, 1.0, dt, next_seed()), Tensor::full({}, keep, dt)).to(dt));
    }
    t.copy_(g);
  } else if (type == "xavier") {
    const double a = std::sqrt(3.0 / scale_n());
    t.copy_(rand(s, -a, a, dt, next_seed()));
  } else if (type == "msra") {
    t.copy_(randn(s, 0.0, std::sqrt(2.0 / scale_n()), dt, next_seed()));
  } else if (type == "positive_unitball") {
    // Uniform in [0, 1), each outer slice then scaled to sum to 1.
    Tensor u = rand(s, 0.0, 1.0, dt, next_seed());
    if (!s.empty()) {
      const Shape rows{s[0], n / std::max<int64_t>(1, s[0])};
      Tensor r = u.reshape(rows);
      u = div(r, sum(r, {1}, true)).reshape(s);
    }
    t.copy_(u);
  } else if (type == "bilinear") {
    // Upsampling weights for Deconvolution: a separable triangle kernel per plane.
    LAMINA_CHECK(s.size() == 4 && s[2] == s[3], "bilinear filler needs a square 4-d blob, got ", shape_str(s));
    const int64_t k = s[3];
    const int64_t f = (k + 1) / 2;  // ceil(k / 2)
    const double c = double(2 * f - 1 - f % 2) / double(2 * f);
    Tensor host = Tensor::empty(s, DType::f64);
    double* p = host.data<double>();
    for (int64_t i = 0; i < n; ++i) {
      const double x = double(i % k), y = double((i / k) % k);
      p[i] = (1 - std::fabs(x / f - c)) * (1 - std::fabs(y / f - c));
    }
    t.copy_(host);
  } else {
    filler.fail("type", "unknown filler type '" + type + "'");
  }
}

}  // namespace lamina
