// The gate blocks of recurrent weights in ONNX's order and in lamina's (Caffe's LSTM layer,
// PyTorch's order for the Sequence layers): shared by ONNX export and import.
//
//   LSTM  ONNX i o f c    Caffe i f o c    PyTorch i f c o
//   GRU   ONNX z r h      PyTorch r z h
#pragma once

#include <vector>

#include "lamina/ops.hpp"

namespace lamina::onnx {

// Rows of `t` [G, ...] in blocks of G / blocks.size(): block k of the result is block
// blocks[k] of t.
inline Tensor reorder_gates(const Tensor& t, const std::vector<int64_t>& blocks) {
  const int64_t h = t.size(0) / int64_t(blocks.size());
  std::vector<Tensor> parts;
  for (int64_t b : blocks) parts.push_back(slice(t, 0, b * h, (b + 1) * h));
  return cat(parts, 0).contiguous();
}

// Block orders: ONNX's blocks taken from lamina's, and lamina's from ONNX's.
inline const std::vector<int64_t> kLstmCaffeToOnnx{0, 2, 1, 3};
inline const std::vector<int64_t> kLstmPytorchToOnnx{0, 3, 1, 2};
inline const std::vector<int64_t> kLstmOnnxToPytorch{0, 2, 3, 1};
inline const std::vector<int64_t> kGruSwap{1, 0, 2};  // its own inverse

}  // namespace lamina::onnx
