// Caffe's binary files, in protobuf's wire format with Caffe's field numbers (caffe.proto),
// read and written by lamina's own wire code (no protobuf library):
//
//   .caffemodel    NetParameter: each layer's name, type, bottoms, tops and blobs. Read from
//                  `layer` (LayerParameter, blobs field 7), V1 `layers` (V1LayerParameter,
//                  name 4, blobs 6) and V0 layers nested in V1 ones (name 1, blobs 50).
//   .binaryproto   one BlobProto (mean files).
//   .solverstate   SolverState: iter, learned_net (the weights file), history blobs,
//                  current_step.
//
// A BlobProto's shape is its `shape` (BlobShape dims) or, in older files, num, channels,
// height, width; its values are `data` (float) or `double_data`, packed or not. A blob
// read becomes a float32 (or, from double_data, float64) tensor of that shape.
//
// Reading checks the whole file before returning: a truncated file, a length past the end
// of its message, a wire type that is not the field's, a varint longer than 10 bytes, a
// negative dimension, a blob whose value count is not its shape's product, each throw
// FormatError "<file>: byte <offset>: <Message>.<field>: <why>". No buffer larger than the
// file is allocated on the way. Writing is atomic (a temporary file, then renamed).
#pragma once

#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

struct CaffeBlob {
  Tensor value;         // float32, or float64 when the file held double_data
  bool legacy = false;  // shaped by num/channels/height/width (4-d), not by `shape`
  // Caffe's Blob::ShapeEquals: the same shape, or for a legacy blob a shape of at most 4
  // axes that equals it once padded with leading 1s.
  bool fits(const Shape& target) const;
};

struct CaffeLayerBlobs {
  std::string name, type;
  std::vector<std::string> bottoms, tops;
  std::vector<CaffeBlob> blobs;
};

// A BlobProto message's bytes (`what` names them in errors, e.g. a file name).
CaffeBlob decode_blob_proto(const std::string& bytes, const std::string& what);
// A BlobProto with `shape` and packed `data` (float32 tensors and others converted to it)
// or `double_data` (float64 tensors).
std::string encode_blob_proto(const Tensor& value);

// .binaryproto files.
CaffeBlob read_blob_proto(const std::string& path);
void write_blob_proto(const std::string& path, const Tensor& value);

// .caffemodel files: the layers in file order. Layers without blobs are kept (with none).
std::vector<CaffeLayerBlobs> read_caffemodel(const std::string& path);
void write_caffemodel(const std::string& path, const std::string& net_name, const std::vector<CaffeLayerBlobs>& layers);

// Caffe's Datum: an image record of an LMDB (convert_imageset).
struct CaffeDatum {
  int32_t channels = 0, height = 0, width = 0;
  std::string data;  // uint8 pixels [channels, height, width], or an encoded image
  int32_t label = 0;
  std::vector<float> float_data;
  bool encoded = false;
};
CaffeDatum decode_datum(const std::string& bytes, const std::string& what);
std::string encode_datum(const CaffeDatum& datum);

// .solverstate files in Caffe's form. history holds, for each history slot of the solver
// type in turn, one blob per learnable parameter (Caffe's history_: SGD, Nesterov,
// AdaGrad, RMSProp keep one slot, AdaDelta and Adam two).
struct CaffeSolverState {
  int32_t iter = 0;
  std::string learned_net;
  std::vector<CaffeBlob> history;
  int32_t current_step = 0;
};
CaffeSolverState read_caffe_solver_state(const std::string& path);
void write_caffe_solver_state(const std::string& path, const CaffeSolverState& state);

}  // namespace lamina
