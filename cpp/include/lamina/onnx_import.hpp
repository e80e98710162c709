// An ONNX model as a net of layers (no ONNX or protobuf library):
//
//   lamina::NetOptions o;  o.phase = lamina::Phase::test;
//   lamina::Net net = lamina::import_onnx("resnet50.onnx", o);
//   net.forward({{"input", images}});  net.blob("output");
//   lamina::OnnxImport caffe = lamina::translate_onnx("model.onnx");  // prototxt + weights
//
// Each node becomes the layers that compute it, so the result is an ordinary Net: it
// trains, saves .caffemodel files and prints as prototxt (translate_onnx gives that text
// and each layer's blobs, for `lamina import-onnx`). Graph inputs become Input layers with
// the file's shapes; a symbolic extent (a batch "N") is 1 unless NetOptions::input_shapes
// gives the input's shape. Shapes that nodes compute (Shape, and what is folded from it)
// are fixed at import. Initializers become the layers' blobs; one used as an operand is a
// Parameter layer's blob. Values computed from constants only (Constant, Shape, Gather,
// Concat, Unsqueeze, Cast, arithmetic on them, ...) are folded at import.
//
// Operators (default domain, opset 7 and later) and their layers:
//   Conv, ConvTranspose            Convolution, Deconvolution (2-d; weights constant;
//                                  symmetric pads, or an auto_pad that gives them)
//   MaxPool, AveragePool           Pooling (2-d): pads larger at the end, or a ceil_mode that
//                                  rounds unlike Caffe's, map when one of Pooling's rounding
//                                  modes gives the node's windows; AveragePool without
//                                  count_include_pad over padding: AVE(x) / AVE(1); with it,
//                                  a constant map where ONNX's divisor differs from Caffe's
//   GlobalAveragePool/MaxPool      Pooling with global_pooling
//   Gemm, MatMul                   InnerProduct when the right operand is a constant matrix
//                                  (alpha and beta folded in), else MatMul (+ Arithmetic)
//   Add Sub Mul Div Pow Max Min    Arithmetic (NumPy broadcasting); Power for a scalar
//   Sum Mean                       constant operand; Sum/Mean/Max/Min of several inputs chain
//   Relu LeakyRelu PRelu Sigmoid   ReLU, ReLU (negative_slope), PReLU (a per-channel or shared
//   Tanh Elu Abs Exp Log Softplus  slope), Sigmoid, TanH, ELU, AbsVal, Exp, Log, BNLL,
//   Sqrt Reciprocal Neg Clip       Power, Power, Power, Clip
//   Softmax, LogSoftmax            Softmax, LogSoftmax (before opset 13: over the axes from
//                                  `axis` on, flattened)
//   BatchNormalization             BatchNorm (global statistics) + Scale
//   LRN                            LRN ACROSS_CHANNELS (odd size)
//   Flatten Reshape Squeeze        Flatten / Reshape
//   Unsqueeze
//   Transpose                      Permute
//   Concat, Split                  Concat, Slice
//   Gather                         Embed (a constant 2-d table), else Gather
//   LSTM, GRU, RNN                 SequenceLSTM, SequenceGRU, SequenceRNN (forward direction,
//                                  default activations or Relu for RNN, GRU with
//                                  linear_before_reset 1, full-length sequences, no peepholes)
//   Identity, Dropout, Cast        no layer (the value is passed on)
// Anything else, or an attribute of these not listed in onnx_import.cpp, throws ValueError
// "<file>: byte <offset>: node '<name>' (<op>): ..." naming the node; nothing is dropped.
// A malformed file throws FormatError with the byte offset and field (onnx_model.hpp).
#pragma once

#include <string>
#include <vector>

#include "lamina/caffe_binary.hpp"
#include "lamina/net.hpp"

namespace lamina {

struct OnnxImport {
  std::string prototxt;                  // the NetParameter, as text
  std::vector<CaffeLayerBlobs> weights;  // each layer's blobs, in Caffe's order
};

OnnxImport translate_onnx(const std::string& path, const NetOptions& options = {});
// translate_onnx, built with `options` and its weights loaded.
Net import_onnx(const std::string& path, NetOptions options = {});

}  // namespace lamina
