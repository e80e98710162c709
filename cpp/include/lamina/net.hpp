// Net: a Caffe model definition built into a DAG of layers and run.
//
//   lamina::NetOptions o;  o.phase = lamina::Phase::train;
//   lamina::Net net = lamina::Net::from_file("lenet_train_test.prototxt", o);
//   net.forward({{"data", images}, {"label", labels}});   // records on the tape when training
//   net.backward();                                       // parameter gradients accumulate
//
// Building follows Caffe: deprecated forms are upgraded (V1 `layers`, `input:` headers),
// layers are kept or dropped by their include/exclude rules against the net state (phase,
// stages, level), bottoms must name blobs produced earlier, a top may be produced once
// unless in place (top == bottom), one top feeding several layers needs no Split (the tape
// sums the gradients), `param { name }` shares a blob between layers. Every layer then runs
// once on zero inputs so that shape errors surface at build time as PrototxtError at the
// layer's line. A net is either fully built or the constructor throws.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/prototxt.hpp"

namespace lamina {

struct CaffeLayerBlobs;  // lamina/caffe_binary.hpp

struct NetOptions {
  Phase phase = Phase::train;
  std::vector<std::string> stages;
  int level = 0;
  // float32, or float64 for gradient checks: parameters and input blobs take this dtype.
  DType dtype = DType::f32;
  // Top shapes for the data layers that read files (Data, HDF5Data, ImageData, WindowData)
  // or to override an Input layer's shape.
  std::map<std::string, Shape> input_shapes;
};

// Rewrites the deprecated forms of a NetParameter tree into current ones (validated
// against the schema before and after); see upgrade.cpp.
prototxt::Message upgrade_net(const prototxt::Message& net, const std::string& file);

class Net {
 public:
  struct LayerEntry {
    std::unique_ptr<Layer> layer;
    std::vector<double> loss_weights;  // per top; 0 = not a loss
    std::vector<bool> propagate_down;  // per bottom
    std::vector<double> lr_mult, decay_mult;  // per blob
    std::vector<int> param_ids;        // per blob: index into learnable_params()
    bool input = false;                // fed from outside (LayerInfo::input): forward skips it
    bool fused = false;                // computed with the first layer of its run (Layer::fuses)
    prototxt::Position position;
  };

  Net(const prototxt::Message& net_parameter, const std::string& file, const NetOptions& options = {});
  static Net from_file(const std::string& path, const NetOptions& options = {});
  static Net from_text(const std::string& text, const NetOptions& options = {}, const std::string& file = "<string>");
  Net(Net&&) noexcept;
  Net& operator=(Net&&) noexcept;
  ~Net();

  // Runs every layer. `inputs` replace the named input blobs (any not given keep their last
  // value, initially zeros). Records on the tape when the phase is TRAIN or force_backward
  // is set. Returns the total weighted loss (0 for nets without losses).
  double forward(const std::map<std::string, Tensor>& inputs = {});
  // Replaces an input blob (any shape: later layers follow it on the next forward).
  void set_input(const std::string& name, const Tensor& value);
  // Backpropagates the weighted loss of the last forward; gradients accumulate into the
  // parameters' .grad until clear_param_diffs().
  void backward();
  void clear_param_diffs();

  // Caffe's ForwardFromTo / BackwardFromTo, for pycaffe's forward(start=, end=) and
  // backward(start=, end=): layer indices into layers(), inclusive. forward_range runs the
  // layers start..end on the blobs as they are (the inputs are taken afresh only when it
  // starts at the first computed layer) and returns the weighted loss of the losses among
  // them. backward_range backpropagates into the blobs and parameters below layer `start`:
  // each loss top of the layers end..start seeded with its loss weight, each top of layer
  // `start` and each net output among them with its diff (blob_diff, which the caller may
  // have written). The tape runs to the inputs; the parameters of the layers before `end`
  // keep the gradients they had. The tape is kept, so it may run again until the next forward.
  double forward_range(size_t start, size_t end);
  void backward_range(size_t start, size_t end);

  const std::string& name() const { return name_; }
  Phase phase() const { return phase_; }
  const std::vector<LayerEntry>& layers() const { return layers_; }
  // Blob names in order of first production.
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  bool has_blob(const std::string& name) const;
  // A blob's value after the last forward (after in-place layers).
  Tensor blob(const std::string& name) const;
  // Its gradient after the last backward (Caffe's diff: for an in-place chain, the
  // gradient at the chain's start), or zeros.
  Tensor blob_grad(const std::string& name) const;
  // The same gradient held by the blob, so that writes into it last until the next
  // forward or backward (pycaffe's writable blob.diff); zeros are attached if it has none.
  Tensor blob_diff(const std::string& name);
  const std::vector<std::string>& inputs() const { return inputs_; }
  const std::vector<std::string>& outputs() const { return outputs_; }

  // Distinct learnable blobs (a shared blob once), with the multipliers of its owner.
  struct Param {
    std::string name;  // "layer/index" of the owner, or the shared param name
    Tensor value;
    double lr_mult = 1, decay_mult = 1;
  };
  const std::vector<Param>& learnable_params() const { return params_; }

  // Writes every layer's blobs to a temporary file, then renames it to `path`. format
  // "safetensors": "layer/index" -> tensor, a shared blob once. "caffemodel": Caffe's
  // binary NetParameter (caffe_binary.hpp): each layer's name, type, bottoms, tops and
  // blobs (a shared blob in each layer that uses it, as Caffe writes it), which Caffe's
  // --weights reads; the layers' other parameters are not written.
  void save(const std::string& path, const std::string& format = "safetensors") const;
  // Reads weights, telling the format by the file's content. Nothing changes unless the
  // whole file is valid and fits (FormatError, ShapeError otherwise).
  //   safetensors (from save()): every blob named must exist with the same shape.
  //   caffemodel: Caffe's --weights semantics: blobs are copied by layer name; a layer of
  //   the file the net does not have is skipped, and the names skipped are returned; a layer
  //   the net has must have as many blobs, each of the same shape (a legacy 4-d blob fits a
  //   shape it equals padded with leading 1s), else ShapeError naming the layer, the blob
  //   index and both shapes. Loading several files in turn applies each over the last.
  std::vector<std::string> load(const std::string& path);
  // Every layer's name, type, bottoms, tops and blobs, as save(path, "caffemodel") writes them.
  std::vector<CaffeLayerBlobs> caffe_layers() const;
  // Caffe's CopyTrainedLayersFrom on layers already read, with load()'s caffemodel rules
  // (`source` names the file in errors); returns the names of the layers skipped. For files
  // read elsewhere: the Python package reads Caffe's HDF5 .caffemodel.h5 with h5py.
  std::vector<std::string> copy_layers(const std::vector<CaffeLayerBlobs>& layers, const std::string& source);

  // Makes this net's layer blobs the very tensors of `other`'s layers with the same name and
  // blob shapes (Caffe's ShareTrainedLayersWith): a test net then sees the train net's
  // weights, and its statistics, as they change.
  void share_weights_from(const Net& other);

  // The net as it was built (upgraded, filtered to this phase), as prototxt.
  std::string to_prototxt() const;

  // Per-layer timing like `caffe time`: milliseconds per forward and per backward (the
  // backward of each layer alone, from its own tops), medians over `iterations`.
  struct Timing {
    std::string layer, type;
    double forward_ms = 0, backward_ms = 0;
  };
  std::vector<Timing> time_layers(int iterations);

 private:
  void build(const prototxt::Message& net, const std::string& file, const NetOptions& options);
  std::vector<Tensor> run_layer(size_t i);
  void load_safetensors_weights(const std::string& path);
  std::vector<std::string> load_caffemodel_weights(const std::string& path);
  bool recording() const;
  void check_range(const char* what, size_t first, size_t last) const;

  std::string name_;
  std::string file_;
  Phase phase_ = Phase::train;
  bool force_backward_ = false;
  prototxt::Message filtered_;
  std::vector<LayerEntry> layers_;
  std::vector<std::vector<int>> bottom_ids_, top_ids_;  // per layer, blob indices
  std::vector<std::string> blob_names_;
  std::vector<Tensor> blobs_, blob_first_;  // current value; first tensor of in-place chain
  std::vector<std::string> inputs_, outputs_;
  std::vector<int> input_ids_;  // blob indices of inputs_
  std::vector<Param> params_;
  Tensor loss_;
};

}  // namespace lamina
