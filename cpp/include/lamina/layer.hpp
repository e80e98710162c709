// Layers: Caffe's layer types, each a forward written with lamina's ops (the tape gives the
// backward), registered by Caffe's type string.
//
// A new layer type (C++ here, or Python through lamina.register_layer) needs a class with
// setup() creating its parameters through the LayerContext and forward() computing the
// tops, and one LayerRegistry::add call. Its *_param message, if any, is declared with
// schema::define (with an `extend LayerParameter` line) so prototxt files using it validate.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lamina/schema.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

enum class Phase { train, test };

// What a layer is built from: its LayerParameter (validated) and its names.
struct LayerSpec {
  std::string name;
  std::string type;
  std::vector<std::string> bottoms;
  std::vector<std::string> tops;
  schema::Params param;  // the LayerParameter
  Phase phase = Phase::train;
  DType dtype = DType::f32;  // of the net's blobs and parameters

  // The layer's `<field>` sub-message, e.g. param_message("convolution_param").
  schema::Params param_message(const std::string& field) const { return param.get_message(field); }
  // Throws PrototxtError at the layer (or its `field`) naming the layer.
  [[noreturn]] void fail(const std::string& reason, const std::string& field = "") const;
};

// Handed to Layer::setup: where a layer gets its learnable (or stored) blobs.
class LayerContext {
 public:
  virtual ~LayerContext() = default;
  // The layer's blob number `index` with `shape`: a fresh tensor filled by `filler` (a
  // FillerParameter), or the tensor already shared under the same `param { name }`.
  virtual Tensor param(size_t index, const Shape& shape, const schema::Params& filler) = 0;
  // A stored, never learned blob filled with `value` (BatchNorm's statistics): no gradient,
  // lr_mult and decay_mult 0 whatever the prototxt says (as in Caffe).
  virtual Tensor statistic(size_t index, const Shape& shape, double value) = 0;
  // The shape the caller gave for a data layer's top (input_shapes), or throws naming the layer.
  virtual Shape input_shape(const std::string& top) = 0;
};

class Layer {
 public:
  explicit Layer(LayerSpec spec) : spec_(std::move(spec)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Called once, before the first forward, with the first bottoms (their shapes matter).
  virtual void setup(const std::vector<Tensor>& bottoms, LayerContext& context);
  // The tops, computed from the bottoms with lamina ops (recorded on the tape when the
  // net trains). Data layers (no bottoms) return what they produce.
  virtual std::vector<Tensor> forward(const std::vector<Tensor>& bottoms) = 0;
  // For layers fed from outside the net (Input, MemoryData and the file-reading data layers):
  // the shapes of their tops, known at build time. Other layers return {}.
  virtual std::vector<Shape> input_shapes(LayerContext& context);
  // Fusion with the layers after it, when each takes this layer's only top (written in
  // place by this one too) as its only bottom and writes it in place, so nothing can read
  // the values between them: if fuses(next), next the layers that follow in order, the net
  // calls forward_fused(bottoms, next) for the last one's tops and skips their forwards.
  // Gradients still come from the tape, into every layer's blobs. BatchNorm fuses a
  // per-channel Scale, a ReLU (negative_slope 0), or the two in that order: one pass each
  // way instead of two or three. forward_fused with layers this one does not fuse throws
  // lamina::Error naming them.
  virtual bool fuses(const std::vector<const Layer*>& next) const;
  std::vector<Tensor> forward_fused(const std::vector<Tensor>& bottoms, const std::vector<Layer*>& next);

  const LayerSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  std::vector<Tensor>& blobs() { return blobs_; }  // parameters, in Caffe's order
  Phase phase() const { return spec_.phase; }

 protected:
  // forward_fused's work, called only when fuses(next).
  virtual std::vector<Tensor> fused_forward(const std::vector<Tensor>& bottoms, const std::vector<Layer*>& next);

  LayerSpec spec_;
  std::vector<Tensor> blobs_;
};

// The facts a net needs about a type before building one.
struct LayerInfo {
  std::string type;
  int min_bottoms = 1, max_bottoms = 1;  // -1: any number
  int min_tops = 1, max_tops = 1;
  bool loss = false;    // its first top gets loss_weight 1 by default (Caffe's *Loss layers)
  bool input = false;   // fed from outside: its tops are the net's inputs
  std::function<std::unique_ptr<Layer>(const LayerSpec&)> make;
};

class LayerRegistry {
 public:
  static LayerRegistry& global();  // with every built-in Caffe layer registered
  void add(LayerInfo info);        // replaces a type registered before
  const LayerInfo* find(const std::string& type) const;
  std::vector<std::string> types() const;

 private:
  std::map<std::string, LayerInfo> layers_;
};

// Built-in layer families, each in its own file under src/layers/.
namespace layers {
void register_data(LayerRegistry& r);
void register_vision(LayerRegistry& r);
void register_activation(LayerRegistry& r);
void register_normalization(LayerRegistry& r);
void register_loss(LayerRegistry& r);
void register_structure(LayerRegistry& r);
void register_recurrent(LayerRegistry& r);
void register_tensor(LayerRegistry& r);  // Parameter, Permute, MatMul, Arithmetic, Gather, LogSoftmax
}  // namespace layers

// Fills a tensor as Caffe's FillerParameter says (constant, uniform, gaussian with sparse,
// xavier, msra, bilinear, positive_unitball); random fillers draw from lamina's global
// generator (manual_seed makes them reproducible). fan_in = numel / shape[0],
// fan_out = numel / shape[1] as in Caffe.
void fill(Tensor& t, const schema::Params& filler);

}  // namespace lamina
