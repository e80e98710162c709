// Layers that start a net: Input and MemoryData (fed by the caller), the file-reading data
// layers (fed by the caller until lamina reads their files; their shapes come from
// NetOptions::input_shapes), and DummyData (filled by its fillers every forward).
#include "common.hpp"

namespace lamina::layers {

namespace {

Shape blob_shape(const schema::Params& shape) {
  Shape s;
  for (auto d : shape.ints("dim")) s.push_back(d);
  return s;
}

// A layer whose tops are set from outside the net; forward is never called on it.
class InputLayer : public Layer {
 public:
  using Layer::Layer;
  Tensors forward(const Tensors&) override { return {}; }
  std::vector<Shape> input_shapes(LayerContext& context) override {
    std::vector<Shape> out;
    if (spec_.type == "Input") {
      const auto shapes = spec_.param_message("input_param").messages("shape");
      if (shapes.size() != 1 && shapes.size() != spec_.tops.size())
        spec_.fail("input_param needs one shape, or one per top (" + std::to_string(spec_.tops.size()) + "), got " +
                       std::to_string(shapes.size()),
                   "input_param");
      for (size_t k = 0; k < spec_.tops.size(); ++k) out.push_back(blob_shape(shapes[shapes.size() == 1 ? 0 : k]));
    } else if (spec_.type == "MemoryData") {
      const auto p = spec_.param_message("memory_data_param");
      const int64_t n = p.get_int("batch_size");
      out.push_back({n, p.get_int("channels"), p.get_int("height"), p.get_int("width")});
      if (spec_.tops.size() > 1) out.push_back({n});
    } else {
      for (const auto& top : spec_.tops) out.push_back(context.input_shape(top));
    }
    for (const auto& s : out)
      for (auto d : s)
        if (d < 0) spec_.fail("has a negative dimension in shape " + shape_str(s));
    return out;
  }
};

void add_input(LayerRegistry& r, const std::string& type, int min_tops, int max_tops) {
  add_class<InputLayer>(r, LayerInfo{type, 0, 0, min_tops, max_tops, false, true, {}});
}

class DummyDataLayer : public Layer {
 public:
  explicit DummyDataLayer(const LayerSpec& spec) : Layer(spec), p_(spec.param_message("dummy_data_param")) {
    const size_t tops = spec.tops.size();
    const auto shapes = p_.messages("shape");
    if (!shapes.empty()) {
      if (shapes.size() != 1 && shapes.size() != tops) spec.fail("needs one shape or one per top", "dummy_data_param");
      for (size_t k = 0; k < tops; ++k) shapes_.push_back(blob_shape(shapes[shapes.size() == 1 ? 0 : k]));
    } else {
      const auto n = p_.ints("num"), c = p_.ints("channels"), h = p_.ints("height"), w = p_.ints("width");
      auto pick = [&](const std::vector<int64_t>& v, size_t k) -> int64_t {
        if (v.size() != 1 && v.size() != tops) spec.fail("needs num, channels, height and width (one, or one per top)",
                                                         "dummy_data_param");
        return v[v.size() == 1 ? 0 : k];
      };
      for (size_t k = 0; k < tops; ++k) shapes_.push_back({pick(n, k), pick(c, k), pick(h, k), pick(w, k)});
    }
    fillers_ = p_.messages("data_filler");
    if (fillers_.size() > 1 && fillers_.size() != tops) spec.fail("needs one data_filler or one per top", "dummy_data_param");
  }
  Tensors forward(const Tensors&) override {
    Tensors out;
    for (size_t k = 0; k < shapes_.size(); ++k) {
      Tensor t = Tensor::zeros(shapes_[k], spec_.dtype);
      if (!fillers_.empty()) fill(t, fillers_[fillers_.size() == 1 ? 0 : k]);
      out.push_back(t);
    }
    return out;
  }

 private:
  schema::Params p_;
  std::vector<Shape> shapes_;
  std::vector<schema::Params> fillers_;
};

}  // namespace

void register_data(LayerRegistry& r) {
  add_input(r, "Input", 1, -1);
  add_input(r, "MemoryData", 1, 2);
  add_input(r, "Data", 1, 2);
  add_input(r, "HDF5Data", 1, -1);
  add_input(r, "ImageData", 1, 2);
  add_input(r, "WindowData", 1, 2);
  add_class<DummyDataLayer>(r, LayerInfo{"DummyData", 0, 0, 1, -1, false, false, {}});
}

}  // namespace lamina::layers
