// A built net as an ONNX model (a ModelProto, written by lamina's own protobuf wire code; no
// ONNX or protobuf library):
//
//   lamina::NetOptions o;  o.phase = lamina::Phase::test;
//   lamina::Net net = lamina::Net::from_file("deploy.prototxt", o);
//   lamina::export_onnx(net, "model.onnx");          // opset 17
//
// The graph has the net's inputs (float32, with the shapes the net was built or last run
// with) as its inputs, the net's outputs as its outputs, and every layer's blobs as float32
// initializers. Shapes are fixed: the exporter computes reshapes and the pooling padding
// from them. A blob written in place by several layers becomes one ONNX value per writer;
// the last keeps the blob's name, the others are "<blob>@<layer>".
//
// Layers and their ONNX form:
//   Convolution, Deconvolution   Conv, ConvTranspose (group, dilations, pads)
//   Pooling MAX / AVE            MaxPool / AveragePool with explicit pads (end pads chosen so
//                                that the output has Caffe's size, ceil rule included); AVE then
//                                multiplies by a constant map where Caffe's divisor (the window
//                                clipped to the padded input) differs from the kernel's size.
//                                Global pooling: GlobalMaxPool / GlobalAveragePool.
//   InnerProduct                 Reshape to 2-d, Gemm, Reshape back when axis > 1
//   ReLU, Sigmoid, TanH, ELU,    Relu (LeakyRelu for negative_slope), Sigmoid, Tanh, Elu,
//   AbsVal, BNLL, PReLU          Abs, Softplus, PRelu
//   Power, Exp, Log              Mul/Add for scale and shift, then Pow, Exp, Log
//   LRN ACROSS_CHANNELS          LRN (Caffe's alpha / local_size is ONNX's alpha / size)
//   LRN WITHIN_CHANNEL           Mul, AveragePool, Mul/Add, Pow, Mul (Caffe's composition)
//   BatchNorm (global stats)     BatchNormalization with mean, var divided by the scale blob
//   Scale, Bias                  Mul / Add by the blob (or the second bottom) shaped to
//                                broadcast from the layer's axis
//   Softmax, Concat, Slice       Softmax, Concat, Split
//   Eltwise SUM / PROD / MAX     Mul by coefficients and Sum / Mul / Max
//   Flatten, Reshape             Reshape
//   Dropout, Split               Identity
//   Embed                        Cast to int64, Gather, Add for the bias
//   LSTM, RNN (Caffe's)          one LSTM / RNN node per step (cont may reset the state at any
//                                step: each step's initial state is the last one times cont_t),
//                                gates reordered to ONNX's; a static input concatenated to each
//                                step's input; RNN's output layer as MatMul, Add, Tanh.
//   SequenceLSTM/GRU/RNN         LSTM / GRU (linear_before_reset 1) / RNN, gates reordered
//   Parameter, Permute, MatMul,  an initializer, Transpose, MatMul, Add/Sub/Mul/Div/Pow/Max/Min,
//   Arithmetic, Gather,          Gather (int64 indices), LogSoftmax: so an imported net exports
//   LogSoftmax
// Any other layer (losses, data layers other than the inputs, ...) throws
// ValueError naming the layer and its type: nothing is dropped.
#pragma once

#include <string>

#include "lamina/net.hpp"

namespace lamina {

// The ModelProto's bytes. opset 17 to 21 (ValueError otherwise).
std::string onnx_model(const Net& net, int opset = 17);
// Writes onnx_model(net, opset) to `path` atomically.
void export_onnx(const Net& net, const std::string& path, int opset = 17);

}  // namespace lamina
