// Tensors on disk in the safetensors layout (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the raw little-endian data. Used for net weights and solver state.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

// Writes the tensors (any dtype: F32, F64, I32, I64, BOOL; any strides) to `path` atomically: a temporary
// file in the same directory, flushed, then renamed over `path`. Names must be unique.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a file written by save_safetensors (or any safetensors file of F32, F64, I32, I64 and
// BOOL tensors).
// The header is checked completely (sizes, offsets inside the file, shapes matching byte
// ranges) before any tensor is allocated; a bad file throws FormatError naming it.
std::vector<std::pair<std::string, Tensor>> load_safetensors(const std::string& path,
                                                             std::map<std::string, std::string>* metadata = nullptr);

// True when the file starts as a safetensors file does (an 8-byte little-endian header
// length, whose top three bytes are zero), also when damaged after that: how Net::load and
// Solver::restore tell it from Caffe's protobuf files, which never start that way.
bool is_safetensors_file(const std::string& path);

}  // namespace lamina
