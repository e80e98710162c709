// Net: building the layer DAG from a NetParameter and running it (weights on disk: weights.cpp).
#include "lamina/net.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "lamina/ops.hpp"

namespace lamina {

namespace {

using schema::Params;

bool rule_met(const Params& rule, Phase phase, int level, const std::vector<std::string>& stages) {
  if (rule.has("phase") && (rule.get_string("phase") == "TRAIN") != (phase == Phase::train)) return false;
  if (rule.has("min_level") && level < rule.get_int("min_level")) return false;
  if (rule.has("max_level") && level > rule.get_int("max_level")) return false;
  auto has_stage = [&](const std::string& s) { return std::find(stages.begin(), stages.end(), s) != stages.end(); };
  for (const auto& s : rule.strings("stage"))
    if (!has_stage(s)) return false;
  for (const auto& s : rule.strings("not_stage"))
    if (has_stage(s)) return false;
  return true;
}

// Caffe's StateMeetsRule over a layer's include and exclude lists.
bool layer_included(const Params& layer, Phase phase, int level, const std::vector<std::string>& stages) {
  const auto include = layer.messages("include");
  const auto exclude = layer.messages("exclude");
  if (!include.empty() && !exclude.empty())
    layer.fail("include", "layer '" + layer.get_string("name") +
                              "' has both include and exclude rules; Caffe allows one or the other");
  if (!include.empty())
    return std::any_of(include.begin(), include.end(), [&](const Params& r) { return rule_met(r, phase, level, stages); });
  return std::none_of(exclude.begin(), exclude.end(), [&](const Params& r) { return rule_met(r, phase, level, stages); });
}

// Puts grad mode back as it was when the scope ends (forward switches it per phase).
struct GradModeRestore {
  bool previous = GradMode::enabled();
  ~GradModeRestore() { GradMode::set_enabled(previous); }
};

std::string count_text(int lo, int hi, const char* what) {
  std::string n = lo == hi ? std::to_string(lo) : hi < 0 ? "at least " + std::to_string(lo)
                                                         : std::to_string(lo) + " to " + std::to_string(hi);
  return n + " " + what + (lo == 1 && hi == 1 ? "" : "s");
}

}  // namespace

// Gives a layer its blobs during the build: fresh and filled, or shared by param name.
class NetBuildContext : public LayerContext {
 public:
  NetBuildContext(Net::LayerEntry& entry, std::vector<Net::Param>& params,
                  std::map<std::string, int>& shared, const NetOptions& options)
      : entry_(entry), params_(params), shared_(shared), options_(options) {}

  Tensor param(size_t index, const Shape& shape, const schema::Params& filler) override {
    return make(index, shape, false, [&](Tensor& t) { fill(t, filler); });
  }
  Tensor statistic(size_t index, const Shape& shape, double value) override {
    Tensor t = make(index, shape, true, [&](Tensor& t) { t.fill_(value); });
    statistics_.emplace_back(t, value);
    return t;
  }
  // Statistics as created, to be restored after the build's trial forward.
  std::vector<std::pair<Tensor, double>> statistics_;
  Shape input_shape(const std::string& top) override {
    auto it = options_.input_shapes.find(top);
    if (it == options_.input_shapes.end())
      entry_.layer->spec().fail("reads its data from files; give the shape of its top '" + top +
                                "' in input_shapes (e.g. input_shapes={\"" + top + "\": (64, 1, 28, 28)})");
    return it->second;
  }

 private:
  template <class Init>
  Tensor make(size_t index, const Shape& shape, bool statistic, Init init) {
    const LayerSpec& spec = entry_.layer->spec();
    const auto specs = spec.param.messages("param");
    const std::string share = index < specs.size() ? specs[index].get_string("name") : "";
    const double lr = statistic ? 0.0 : index < specs.size() ? specs[index].get_float("lr_mult") : 1.0;
    const double decay = statistic ? 0.0 : index < specs.size() ? specs[index].get_float("decay_mult") : 1.0;
    if (entry_.param_ids.size() <= index) {
      entry_.param_ids.resize(index + 1, -1);
      entry_.lr_mult.resize(index + 1, 1.0);
      entry_.decay_mult.resize(index + 1, 1.0);
    }
    entry_.lr_mult[index] = lr;
    entry_.decay_mult[index] = decay;
    if (!share.empty()) {
      auto it = shared_.find(share);
      if (it != shared_.end()) {
        Tensor& t = params_[it->second].value;
        const bool permissive = specs[index].get_string("share_mode") == "PERMISSIVE";
        const bool fits = permissive ? t.numel() == shape_numel(shape) : t.shape() == shape;
        if (!fits)
          spec.fail("shares param '" + share + "' of shape " + shape_str(t.shape()) + " but needs " +
                    shape_str(shape), "param");
        entry_.param_ids[index] = it->second;
        return permissive ? t.view(shape) : t;
      }
    }
    Tensor t = Tensor::empty(shape, spec.dtype);
    init(t);
    if (lr != 0.0) t.set_requires_grad(true);
    entry_.param_ids[index] = static_cast<int>(params_.size());
    if (!share.empty()) shared_[share] = static_cast<int>(params_.size());
    params_.push_back({share.empty() ? spec.name + "/" + std::to_string(index) : share, t, lr, decay});
    return t;
  }
  static int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
  }

  Net::LayerEntry& entry_;
  std::vector<Net::Param>& params_;
  std::map<std::string, int>& shared_;
  const NetOptions& options_;
};

Net::Net(const prototxt::Message& net_parameter, const std::string& file, const NetOptions& options) {
  build(net_parameter, file, options);
}
Net::Net(Net&&) noexcept = default;
Net& Net::operator=(Net&&) noexcept = default;
Net::~Net() = default;

Net Net::from_file(const std::string& path, const NetOptions& options) {
  return Net(prototxt::parse_file(path), path, options);
}

Net Net::from_text(const std::string& text, const NetOptions& options, const std::string& file) {
  return Net(prototxt::parse(text, file), file, options);
}

void Net::build(const prototxt::Message& raw, const std::string& file, const NetOptions& options) {
  file_ = file;
  phase_ = options.phase;
  const prototxt::Message net = upgrade_net(raw, file);
  const Params np(&net, "NetParameter", file);
  name_ = np.get_string("name");
  force_backward_ = np.get_bool("force_backward");
  const Params state = np.get_message("state");
  const int level = options.level != 0 ? options.level : static_cast<int>(state.get_int("level"));
  std::vector<std::string> stages = options.stages;
  if (stages.empty()) stages = state.strings("stage");

  std::map<std::string, int> blob_index;
  std::map<std::string, int> shared;
  for (const auto& f : net.fields) {
    if (f.name != "layer") {
      filtered_.fields.push_back(f);
      continue;
    }
    const Params lp(f.value.message.get(), "LayerParameter", file);
    if (!layer_included(lp, phase_, level, stages)) continue;
    filtered_.fields.push_back(f);

    LayerSpec spec;
    spec.param = lp;
    spec.name = lp.get_string("name");
    spec.type = lp.get_string("type");
    spec.bottoms = lp.strings("bottom");
    spec.tops = lp.strings("top");
    spec.phase = phase_;
    spec.dtype = options.dtype;
    if (spec.name.empty()) spec.name = spec.type + std::to_string(layers_.size());
    if (!lp.has("type")) spec.fail("has no type", "");
    const LayerInfo* info = LayerRegistry::global().find(spec.type);
    if (!info)
      spec.fail("unknown layer type '" + spec.type + "'" +
                    schema::did_you_mean(spec.type, LayerRegistry::global().types()),
                "type");
    auto check_count = [&](size_t n, int lo, int hi, const char* what) {
      if (int(n) < lo || (hi >= 0 && int(n) > hi))
        spec.fail("takes " + count_text(lo, hi, what) + ", got " + std::to_string(n));
    };
    // Caffe gives a loss layer without tops an anonymous one, so that its loss counts.
    if (spec.tops.empty() && info->loss) {
      std::string top = "(automatic)";
      for (int k = 1; blob_index.count(top); ++k) top = "(automatic)_" + std::to_string(k);
      spec.tops.push_back(top);
    }
    check_count(spec.bottoms.size(), info->min_bottoms, info->max_bottoms, "bottom");
    check_count(spec.tops.size(), info->min_tops, info->max_tops, "top");

    std::vector<int> bottoms, tops;
    const auto bottom_fields = f.value.message->all("bottom");
    for (size_t k = 0; k < spec.bottoms.size(); ++k) {
      auto it = blob_index.find(spec.bottoms[k]);
      if (it == blob_index.end()) {
        const auto p = bottom_fields[k]->position;
        throw PrototxtError(file, p.line, p.column,
                            "layer '" + spec.name + "' (" + spec.type + "): unknown bottom '" + spec.bottoms[k] +
                                "'" + schema::did_you_mean(spec.bottoms[k], blob_names_) +
                                " (no layer before it produces that blob)");
      }
      bottoms.push_back(it->second);
    }
    const auto top_fields = f.value.message->all("top");
    for (size_t k = 0; k < spec.tops.size(); ++k) {
      const std::string& top = spec.tops[k];
      auto it = blob_index.find(top);
      if (it != blob_index.end()) {
        const bool in_place = std::find(spec.bottoms.begin(), spec.bottoms.end(), top) != spec.bottoms.end();
        if (!in_place) {
          const auto p = k < top_fields.size() ? top_fields[k]->position : f.position;
          throw PrototxtError(file, p.line, p.column,
                              "layer '" + spec.name + "' (" + spec.type + "): top '" + top +
                                  "' is already produced by an earlier layer (only in-place layers, "
                                  "with the same name as a bottom, may reuse a blob)");
        }
        tops.push_back(it->second);
      } else {
        blob_index[top] = static_cast<int>(blob_names_.size());
        tops.push_back(static_cast<int>(blob_names_.size()));
        blob_names_.push_back(top);
      }
    }

    LayerEntry entry;
    entry.position = f.position;
    entry.input = info->input;
    const auto weights = lp.floats("loss_weight");
    if (!weights.empty() && weights.size() != spec.tops.size())
      spec.fail("has " + std::to_string(weights.size()) + " loss_weight values for " +
                    std::to_string(spec.tops.size()) + " tops", "loss_weight");
    entry.loss_weights = weights;
    if (weights.empty()) {
      entry.loss_weights.assign(spec.tops.size(), 0.0);
      if (info->loss && !spec.tops.empty()) entry.loss_weights[0] = 1.0;
    }
    const auto propagate = lp.bools("propagate_down");
    if (!propagate.empty() && propagate.size() != spec.bottoms.size())
      spec.fail("has " + std::to_string(propagate.size()) + " propagate_down values for " +
                    std::to_string(spec.bottoms.size()) + " bottoms", "propagate_down");
    entry.propagate_down = propagate.empty() ? std::vector<bool>(spec.bottoms.size(), true) : propagate;
    try {
      entry.layer = info->make(spec);
    } catch (const PrototxtError&) {
      throw;
    } catch (const Error& e) {
      spec.fail(e.what());
    }
    if (info->input)
      for (size_t k = 0; k < spec.tops.size(); ++k) {
        inputs_.push_back(spec.tops[k]);
        input_ids_.push_back(tops[k]);
      }
    layers_.push_back(std::move(entry));
    bottom_ids_.push_back(bottoms);
    top_ids_.push_back(tops);
  }

  // Outputs: blobs no kept layer consumes (Caffe's net outputs).
  std::set<int> consumed;
  for (size_t i = 0; i < layers_.size(); ++i)
    for (int b : bottom_ids_[i])
      if (std::find(top_ids_[i].begin(), top_ids_[i].end(), b) == top_ids_[i].end()) consumed.insert(b);
  for (size_t b = 0; b < blob_names_.size(); ++b)
    if (!consumed.count(static_cast<int>(b))) outputs_.push_back(blob_names_[b]);

  // Set up every layer and run it once on zeros: parameters get their shapes from the
  // bottoms, and any shape that does not fit fails here, at the layer's line.
  blobs_.assign(blob_names_.size(), Tensor());
  blob_first_.assign(blob_names_.size(), Tensor());
  NoGradGuard no_grad;
  for (size_t i = 0; i < layers_.size(); ++i) {
    LayerEntry& entry = layers_[i];
    const LayerSpec& spec = entry.layer->spec();
    NetBuildContext context(entry, params_, shared, options);
    try {
      if (entry.input) {
        auto shapes = entry.layer->input_shapes(context);
        for (size_t k = 0; k < spec.tops.size(); ++k) {
          auto given = options.input_shapes.find(spec.tops[k]);
          const Shape& s = given != options.input_shapes.end() ? given->second : shapes.at(k);
          blobs_[top_ids_[i][k]] = Tensor::zeros(s, options.dtype);
        }
        continue;
      }
      std::vector<Tensor> bottoms;
      for (int b : bottom_ids_[i]) bottoms.push_back(blobs_[b]);
      entry.layer->setup(bottoms, context);
      run_layer(i);
      for (auto& [t, value] : context.statistics_) t.fill_(value);  // the trial run is not data
    } catch (const PrototxtError&) {
      throw;
    } catch (const Error& e) {
      spec.fail(e.what());
    }
  }
  for (size_t b = 0; b < blobs_.size(); ++b) blob_first_[b] = blobs_[b];

  // Fusions (Layer::fuses): a run of layers in place on one blob, each after the first
  // taking only it, so that no value between them can be read (not even as the chain's
  // first tensor, which the blob's diff reports), and none a loss. The first layer takes
  // the layers after it one by one while it fuses them.
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    LayerEntry& a = layers_[i];
    if (a.input || a.fused || top_ids_[i].size() != 1) continue;
    const std::vector<int> blob{top_ids_[i][0]};
    if (bottom_ids_[i] != blob || a.loss_weights[0] != 0) continue;
    std::vector<const Layer*> run;
    for (size_t j = i + 1; j < layers_.size(); ++j) {
      LayerEntry& b = layers_[j];
      if (bottom_ids_[j] != blob || top_ids_[j] != blob || b.loss_weights[0] != 0 || !b.propagate_down[0]) break;
      run.push_back(b.layer.get());
      if (!a.layer->fuses(run)) break;
      b.fused = true;
    }
  }
}

bool Net::recording() const { return phase_ == Phase::train || force_backward_; }

std::vector<Tensor> Net::run_layer(size_t i) {
  LayerEntry& entry = layers_[i];
  if (entry.fused) return {blobs_[top_ids_[i][0]]};  // computed with the first layer of its run
  std::vector<Tensor> bottoms;
  for (size_t k = 0; k < bottom_ids_[i].size(); ++k) {
    Tensor b = blobs_[bottom_ids_[i][k]];
    bottoms.push_back(entry.propagate_down[k] ? b : b.detach());
  }
  std::vector<Layer*> fused;  // the layers whose forward this one runs
  for (size_t j = i + 1; j < layers_.size() && layers_[j].fused; ++j) fused.push_back(layers_[j].layer.get());
  std::vector<Tensor> tops = fused.empty() ? entry.layer->forward(bottoms) : entry.layer->forward_fused(bottoms, fused);
  const LayerSpec& spec = entry.layer->spec();
  LAMINA_CHECK(tops.size() == spec.tops.size(), "layer '", spec.name, "' (", spec.type, ") produced ",
               tops.size(), " tops for ", spec.tops.size(), " top names");
  for (size_t k = 0; k < tops.size(); ++k) {
    const int id = top_ids_[i][k];
    const bool in_place = std::find(bottom_ids_[i].begin(), bottom_ids_[i].end(), id) != bottom_ids_[i].end();
    if (!in_place) blob_first_[id] = tops[k];
    blobs_[id] = tops[k];
  }
  return tops;
}

void Net::set_input(const std::string& name, const Tensor& value) {
  if (std::find(inputs_.begin(), inputs_.end(), name) == inputs_.end()) {
    std::string known;
    for (const auto& n : inputs_) known += (known.empty() ? "" : ", ") + n;
    detail::raise<ValueError>("Net: '", name, "' is not an input of net '", name_, "' (inputs: ",
                              known.empty() ? "none" : known, ")");
  }
  LAMINA_CHECK_DTYPE(value.dtype() == DType::f32 || value.dtype() == DType::f64, "Net: input '", name,
                     "' must be float32 or float64");
  const auto id = std::find(blob_names_.begin(), blob_names_.end(), name) - blob_names_.begin();
  blobs_[id] = value;
}

double Net::forward(const std::map<std::string, Tensor>& inputs) {
  for (const auto& [name, value] : inputs) set_input(name, value);
  return layers_.empty() ? 0.0 : forward_range(0, layers_.size() - 1);
}

void Net::check_range(const char* what, size_t first, size_t last) const {
  if (first > last || last >= layers_.size())
    detail::raise<IndexError>("Net.", what, ": layers ", first, " to ", last, " are not a range of net '", name_,
                              "', which has ", layers_.size(), " layers");
}

double Net::forward_range(size_t start, size_t end) {
  check_range("forward_range", start, end);
  const bool record = recording();
  GradModeRestore restore;
  GradMode::set_enabled(record);
  bool from_inputs = true;  // no computed layer before start: the inputs begin a new pass
  for (size_t i = 0; i < start; ++i) from_inputs = from_inputs && layers_[i].input;
  if (from_inputs)
    for (int b : input_ids_) {
      if (record && force_backward_ && !blobs_[b].requires_grad()) blobs_[b] = blobs_[b].detach().set_requires_grad(true);
      blob_first_[b] = blobs_[b];
    }
  loss_ = Tensor();
  for (size_t i = start; i <= end; ++i) {
    if (layers_[i].input) continue;
    std::vector<Tensor> tops = run_layer(i);
    for (size_t k = 0; k < tops.size(); ++k) {
      if (record && tops[k].requires_grad() && !tops[k].is_leaf()) tops[k].retain_grad();
      const double w = layers_[i].loss_weights[k];
      if (w == 0.0) continue;
      Tensor term = sum(tops[k]);
      if (w != 1.0) term = affine(term, w);
      loss_ = loss_.defined() ? add(loss_, term) : term;
    }
  }
  return loss_.defined() ? loss_.item() : 0.0;
}

void Net::backward() {
  LAMINA_CHECK_AS(AutogradError, recording(), "Net.backward: net '", name_,
                  "' was built for the TEST phase without force_backward, so its forward records no tape");
  if (!loss_.defined() || !loss_.requires_grad()) return;  // nothing learnable reaches a loss
  lamina::backward({loss_});
  loss_ = Tensor();
}

void Net::backward_range(size_t start, size_t end) {
  check_range("backward_range", end, start);
  LAMINA_CHECK_AS(AutogradError, recording(), "Net.backward: net '", name_,
                  "' was built for the TEST phase without force_backward, so its forward records no tape");
  std::map<int, Tensor> seeds;  // blob id -> gradient to start from
  for (size_t i = end; i <= start; ++i) {
    for (size_t k = 0; k < top_ids_[i].size(); ++k) {
      const int id = top_ids_[i][k];
      const double w = layers_[i].loss_weights[k];
      const bool output = std::find(outputs_.begin(), outputs_.end(), blob_names_[id]) != outputs_.end();
      if (w != 0.0)
        seeds[id] = Tensor::full(blobs_[id].shape(), w, blobs_[id].dtype());
      else if ((i == start || output) && !seeds.count(id))
        seeds[id] = blob_diff(blob_names_[id]).clone();
    }
  }
  std::vector<Tensor> roots, grads;
  for (const auto& [id, seed] : seeds)
    if (blobs_[id].requires_grad()) {
      roots.push_back(blobs_[id]);
      grads.push_back(seed);
    }
  for (int b : input_ids_)  // an input's diff is this backward's alone (a leaf's .grad would add up)
    if (blob_first_[b].defined()) blob_first_[b].set_grad(Tensor());
  std::vector<std::pair<Tensor, Tensor>> kept;  // the parameters below `end` and their gradients
  for (size_t i = 0; i < end; ++i)
    for (const Tensor& p : layers_[i].layer->blobs()) kept.emplace_back(p, p.grad());
  if (!roots.empty()) lamina::backward(roots, grads, /*retain_graph=*/true);
  for (auto& [p, g] : kept) p.set_grad(g);
  loss_ = Tensor();
}

void Net::clear_param_diffs() {
  for (auto& p : params_) p.value.set_grad(Tensor());
}

bool Net::has_blob(const std::string& name) const {
  return std::find(blob_names_.begin(), blob_names_.end(), name) != blob_names_.end();
}

namespace {
int blob_id(const std::vector<std::string>& names, const std::string& name, const std::string& net) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    detail::raise<IndexError>("net '", net, "' has no blob '", name, "'", schema::did_you_mean(name, names));
  return static_cast<int>(it - names.begin());
}
}  // namespace

Tensor Net::blob(const std::string& name) const { return blobs_[blob_id(blob_names_, name, name_)]; }

Tensor Net::blob_grad(const std::string& name) const {
  const int id = blob_id(blob_names_, name, name_);
  const Tensor& t = blob_first_[id];
  if (t.defined() && t.grad().defined()) return t.grad();
  return Tensor::zeros(blobs_[id].shape(), blobs_[id].dtype());
}

Tensor Net::blob_diff(const std::string& name) {
  const int id = blob_id(blob_names_, name, name_);
  Tensor t = blob_first_[id].defined() ? blob_first_[id] : blobs_[id];
  if (!t.grad().defined()) t.set_grad(Tensor::zeros(t.shape(), t.dtype()));
  return t.grad();
}

void Net::share_weights_from(const Net& other) {
  for (auto& entry : layers_) {
    for (const auto& source : other.layers_) {
      if (source.layer->name() != entry.layer->name()) continue;
      auto& mine = entry.layer->blobs();
      const auto& theirs = source.layer->blobs();
      if (mine.size() != theirs.size()) break;
      bool fits = true;
      for (size_t k = 0; k < mine.size(); ++k) fits = fits && mine[k].shape() == theirs[k].shape();
      if (fits) mine = theirs;
      break;
    }
  }
}

std::string Net::to_prototxt() const { return prototxt::print(filtered_); }

std::vector<Net::Timing> Net::time_layers(int iterations) {
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  std::vector<std::vector<double>> fwd(layers_.size()), bwd(layers_.size());
  GradModeRestore restore;
  forward();  // warm up
  for (int it = 0; it < iterations; ++it) {
    GradMode::set_enabled(recording());
    for (size_t i = 0; i < layers_.size(); ++i) {
      if (layers_[i].input) continue;
      const auto t0 = clock::now();
      run_layer(i);
      fwd[i].push_back(ms(t0, clock::now()));
    }
    GradMode::set_enabled(true);
    if (!recording()) continue;
    // Each layer's backward alone: its forward on detached bottoms, then grad of its tops,
    // to the bottoms whose gradient the net's own backward computes (as Caffe's time: not
    // the data's, which would count an input gradient no one asked for).
    for (size_t i = 0; i < layers_.size(); ++i) {
      std::vector<Tensor> bottoms, sources;
      for (size_t k = 0; k < bottom_ids_[i].size(); ++k) {
        const Tensor& value = blobs_[bottom_ids_[i][k]];
        Tensor t = value.detach();
        if (value.requires_grad() && layers_[i].propagate_down[k]) t.set_requires_grad(true);
        bottoms.push_back(t);
        if (t.requires_grad()) sources.push_back(t);
      }
      for (auto& p : layers_[i].layer->blobs())
        if (p.requires_grad()) sources.push_back(p);
      std::vector<Tensor> tops = layers_[i].layer->forward(bottoms);
      std::vector<Tensor> outs, seeds;
      for (auto& t : tops)
        if (t.requires_grad()) {
          outs.push_back(t);
          seeds.push_back(Tensor::full(t.shape(), 1.0, t.dtype()));
        }
      if (outs.empty() || sources.empty()) continue;
      const auto t0 = clock::now();
      grad(outs, sources, seeds, false, true);
      bwd[i].push_back(ms(t0, clock::now()));
    }
  }
  std::vector<Timing> out;
  for (size_t i = 0; i < layers_.size(); ++i)
    out.push_back({layers_[i].layer->name(), layers_[i].layer->spec().type, median(fwd[i]), median(bwd[i])});
  return out;
}

}  // namespace lamina
