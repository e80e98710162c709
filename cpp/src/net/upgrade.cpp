// Rewrites deprecated NetParameter forms into the current ones, as Caffe does on load:
// V1 `layers { type: CONVOLUTION blobs_lr: 1 ... }` into `layer { type: "Convolution"
// param { lr_mult: 1 } ... }`, and the `input:` + `input_dim`/`input_shape` header into an
// Input layer. Works on the generic tree, keeping source positions for later errors.
#include <map>

#include "lamina/net.hpp"
#include "lamina/schema.hpp"

namespace lamina {

namespace {

using prototxt::Field;
using prototxt::Message;
using prototxt::Position;
using prototxt::Value;

Field scalar(const std::string& name, Value::Kind kind, const std::string& text, Position p) {
  Field f;
  f.name = name;
  f.position = p;
  f.value.kind = kind;
  f.value.text = text;
  f.value.position = p;
  return f;
}

Field nested(const std::string& name, Message m, Position p) {
  Field f;
  f.name = name;
  f.position = p;
  m.position = p;
  f.value.kind = Value::Kind::message;
  f.value.message = std::make_shared<Message>(std::move(m));
  f.value.position = p;
  return f;
}

const std::map<std::string, std::string>& v1_type_names() {
  static const std::map<std::string, std::string> kNames = {
      {"ABSVAL", "AbsVal"}, {"ACCURACY", "Accuracy"}, {"ARGMAX", "ArgMax"}, {"BNLL", "BNLL"},
      {"CONCAT", "Concat"}, {"CONTRASTIVE_LOSS", "ContrastiveLoss"}, {"CONVOLUTION", "Convolution"},
      {"DATA", "Data"}, {"DECONVOLUTION", "Deconvolution"}, {"DROPOUT", "Dropout"},
      {"DUMMY_DATA", "DummyData"}, {"EUCLIDEAN_LOSS", "EuclideanLoss"}, {"ELTWISE", "Eltwise"},
      {"EXP", "Exp"}, {"FLATTEN", "Flatten"}, {"HDF5_DATA", "HDF5Data"}, {"HDF5_OUTPUT", "HDF5Output"},
      {"HINGE_LOSS", "HingeLoss"}, {"IM2COL", "Im2col"}, {"IMAGE_DATA", "ImageData"},
      {"INFOGAIN_LOSS", "InfogainLoss"}, {"INNER_PRODUCT", "InnerProduct"}, {"LRN", "LRN"},
      {"MEMORY_DATA", "MemoryData"}, {"MULTINOMIAL_LOGISTIC_LOSS", "MultinomialLogisticLoss"},
      {"MVN", "MVN"}, {"POOLING", "Pooling"}, {"POWER", "Power"}, {"RELU", "ReLU"},
      {"SIGMOID", "Sigmoid"}, {"SIGMOID_CROSS_ENTROPY_LOSS", "SigmoidCrossEntropyLoss"},
      {"SILENCE", "Silence"}, {"SOFTMAX", "Softmax"}, {"SOFTMAX_LOSS", "SoftmaxWithLoss"},
      {"SPLIT", "Split"}, {"SLICE", "Slice"}, {"TANH", "TanH"}, {"WINDOW_DATA", "WindowData"},
      {"THRESHOLD", "Threshold"}};
  return kNames;
}

// V1 data layers kept the transformation inside their *_param; it moved to transform_param.
void move_transform_fields(Message& layer) {
  static const char* kHolders[] = {"data_param", "image_data_param", "window_data_param"};
  static const char* kMoved[] = {"scale", "mean_file", "crop_size", "mirror"};
  for (const char* holder : kHolders) {
    for (auto& field : layer.fields) {
      if (field.name != holder || field.value.kind != Value::Kind::message) continue;
      Message& p = *field.value.message;
      Message transform;
      std::vector<Field> kept;
      for (auto& f : p.fields) {
        bool moved = false;
        for (const char* name : kMoved) moved = moved || f.name == name;
        (moved ? transform.fields : kept).push_back(f);
      }
      if (transform.fields.empty()) continue;
      p.fields = std::move(kept);
      layer.fields.push_back(nested("transform_param", std::move(transform), field.position));
      break;
    }
  }
}

Message upgrade_v1_layer(const Message& v1, const std::string& file) {
  schema::Params p(&v1, "V1LayerParameter", file);
  Message layer;
  layer.position = v1.position;
  for (const auto& f : v1.fields) {
    if (f.name == "type") {
      const std::string type = p.get_string("type");
      auto it = v1_type_names().find(type);
      if (it == v1_type_names().end())
        throw PrototxtError(file, f.position.line, f.position.column, "V1 layer type " + type + " has no current equivalent");
      layer.fields.push_back(scalar("type", Value::Kind::string, it->second, f.position));
    } else if (f.name != "blobs_lr" && f.name != "weight_decay" && f.name != "param" && f.name != "blob_share_mode") {
      layer.fields.push_back(f);
    }
  }
  // blobs_lr[i], weight_decay[i], param[i], blob_share_mode[i] become param { ... } number i.
  const auto lr = p.floats("blobs_lr");
  const auto decay = p.floats("weight_decay");
  const auto names = p.strings("param");
  const auto modes = p.strings("blob_share_mode");
  const size_t n = std::max({lr.size(), decay.size(), names.size(), modes.size()});
  for (size_t i = 0; i < n; ++i) {
    Message spec;
    const Position at = v1.position;
    if (i < names.size()) spec.fields.push_back(scalar("name", Value::Kind::string, names[i], at));
    if (i < modes.size()) spec.fields.push_back(scalar("share_mode", Value::Kind::identifier, modes[i], at));
    if (i < lr.size()) spec.fields.push_back(scalar("lr_mult", Value::Kind::number, p.strings("blobs_lr")[i], at));
    if (i < decay.size())
      spec.fields.push_back(scalar("decay_mult", Value::Kind::number, p.strings("weight_decay")[i], at));
    layer.fields.push_back(nested("param", std::move(spec), at));
  }
  move_transform_fields(layer);
  return layer;
}

}  // namespace

prototxt::Message upgrade_net(const prototxt::Message& net, const std::string& file) {
  schema::validate(net, "NetParameter", file);
  const bool has_v2 = !net.all("layer").empty();
  const bool has_v1 = !net.all("layers").empty();
  if (has_v1 && has_v2) {
    const auto* f = net.all("layers").front();
    throw PrototxtError(file, f->position.line, f->position.column,
                        "the net mixes V1 'layers' and current 'layer' entries; use one form");
  }
  schema::Params p(&net, "NetParameter", file);
  Message out;
  out.position = net.position;

  // input: names with input_dim (4 per input) or input_shape (one per input) -> one Input layer.
  const auto inputs = p.strings("input");
  const auto dims = p.ints("input_dim");
  const auto shapes = p.messages("input_shape");
  if (!inputs.empty()) {
    const Position at = net.all("input").front()->position;
    if (!dims.empty() && dims.size() != 4 * inputs.size())
      throw PrototxtError(file, at.line, at.column,
                          std::to_string(inputs.size()) + " input(s) need " + std::to_string(4 * inputs.size()) +
                              " input_dim values, got " + std::to_string(dims.size()));
    if (dims.empty() && shapes.size() != inputs.size())
      throw PrototxtError(file, at.line, at.column,
                          std::to_string(inputs.size()) + " input(s) need as many input_shape entries, got " +
                              std::to_string(shapes.size()));
    Message layer;
    layer.fields.push_back(scalar("name", Value::Kind::string, "input", at));
    layer.fields.push_back(scalar("type", Value::Kind::string, "Input", at));
    Message input_param;
    for (size_t i = 0; i < inputs.size(); ++i) {
      layer.fields.push_back(scalar("top", Value::Kind::string, inputs[i], at));
      if (!dims.empty()) {
        Message shape;
        for (size_t k = 0; k < 4; ++k)
          shape.fields.push_back(scalar("dim", Value::Kind::number, std::to_string(dims[4 * i + k]), at));
        input_param.fields.push_back(nested("shape", std::move(shape), at));
      } else {
        input_param.fields.push_back(nested("shape", *shapes[i].tree(), at));
      }
    }
    layer.fields.push_back(nested("input_param", std::move(input_param), at));
    out.fields.push_back(nested("layer", std::move(layer), at));
  }
  for (const auto& f : net.fields) {
    if (f.name == "input" || f.name == "input_dim" || f.name == "input_shape") continue;
    if (f.name == "layers") {
      Field upgraded = nested("layer", upgrade_v1_layer(*f.value.message, file), f.position);
      upgraded.value.message->position = f.value.message->position;
      out.fields.push_back(std::move(upgraded));
    } else {
      out.fields.push_back(f);
    }
  }
  schema::validate(out, "NetParameter", file);
  return out;
}

}  // namespace lamina
