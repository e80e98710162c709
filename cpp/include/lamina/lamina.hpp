// Umbrella header: include this to use lamina from C++.
#pragma once

#include "lamina/autograd.hpp"
#include "lamina/caffe_binary.hpp"
#include "lamina/error.hpp"
#include "lamina/layer.hpp"
#include "lamina/net.hpp"
#include "lamina/onnx_export.hpp"
#include "lamina/optim.hpp"
#include "lamina/ops.hpp"
#include "lamina/cpu.hpp"
#include "lamina/parallel.hpp"
#include "lamina/prototxt.hpp"
#include "lamina/safetensors.hpp"
#include "lamina/schema.hpp"
#include "lamina/solver.hpp"
#include "lamina/tensor.hpp"
#include "lamina/version.hpp"
