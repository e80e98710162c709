// Helpers shared by the built-in layer families.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>

#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

using Tensors = std::vector<Tensor>;
using Forward = std::function<Tensors(const Tensors&)>;

// A layer without learnable blobs: its forward is a function built from the spec.
class FunctionLayer : public Layer {
 public:
  FunctionLayer(LayerSpec spec, Forward f) : Layer(std::move(spec)), f_(std::move(f)) {}
  Tensors forward(const Tensors& bottoms) override { return f_(bottoms); }

 private:
  Forward f_;
};

// Caffe's ReLU, max(x, 0), or x * negative_slope below 0: a class of its own so that
// BatchNorm can fuse it (layers/normalization.cpp), and a ReLU type a user registers in
// its place never is.
class ReLULayer : public Layer {
 public:
  explicit ReLULayer(const LayerSpec& spec);
  Tensors forward(const Tensors& bottoms) override;
  double negative_slope() const { return slope_; }

 private:
  double slope_;
};

// Caffe's convolution_param kernel/stride/pad/dilation: each repeated (one value for both
// axes, or h then w) or an _h/_w pair. Throws at the layer for a bad combination.
struct Geometry {
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};
Geometry conv_geometry(const LayerSpec& spec, const schema::Params& p);
// A Pooling layer's pooling_param as the pooling ops take it (STOCHASTIC throws).
Pool2dOptions pool_options(const LayerSpec& spec);

// Registers `info.type` as a FunctionLayer whose forward `make` builds from the spec.
inline void add_function(LayerRegistry& r, LayerInfo info, std::function<Forward(const LayerSpec&)> make) {
  info.make = [make](const LayerSpec& spec) -> std::unique_ptr<Layer> {
    return std::make_unique<FunctionLayer>(spec, make(spec));
  };
  r.add(std::move(info));
}

// Registers `info.type` as the Layer class L (a layer with state or blobs).
template <class L>
void add_class(LayerRegistry& r, LayerInfo info) {
  info.make = [](const LayerSpec& spec) -> std::unique_ptr<Layer> { return std::make_unique<L>(spec); };
  r.add(std::move(info));
}

// One bottom, one top, y = f(x).
inline void add_unary(LayerRegistry& r, const std::string& type,
                      std::function<std::function<Tensor(const Tensor&)>(const LayerSpec&)> make) {
  add_function(r, LayerInfo{type, 1, 1, 1, 1, false, false, {}}, [make](const LayerSpec& spec) -> Forward {
    auto f = make(spec);
    return [f](const Tensors& b) { return Tensors{f(b[0])}; };
  });
}

// Caffe's CanonicalAxisIndex: axis in [-ndim, ndim) -> [0, ndim), else a layer error.
inline int64_t canonical_axis(const LayerSpec& spec, int64_t axis, int64_t ndim, const char* field = "axis") {
  if (axis < -ndim || axis >= ndim)
    spec.fail(std::string(field) + " " + std::to_string(axis) + " is out of range for a " + std::to_string(ndim) +
              "-d bottom");
  return axis < 0 ? axis + ndim : axis;
}

// Product of shape[begin, end).
inline int64_t span(const Shape& s, int64_t begin, int64_t end) {
  int64_t n = 1;
  for (int64_t k = begin; k < end; ++k) n *= s[k];
  return n;
}

// Elements per item of axis `axis` (the product of the extents after it): counted, never
// divided out of numel(), so an empty batch (an extent of 0) is no division by zero.
inline int64_t per_item(const Tensor& x, int64_t axis = 0) { return span(x.shape(), axis + 1, x.dim()); }

// The factor of a loss averaged over n items. Over zero items the loss is 0: Caffe's
// normaliser is never below 1 (LossLayer::GetNormalizer), so an empty batch adds nothing.
inline double per_items(int64_t n) { return 1.0 / double(std::max<int64_t>(n, 1)); }

// A [*p.shape] blob reshaped to broadcast against x from axis `axis` on:
// [1]*axis + p.shape + [1]*(rest).
inline Tensor broadcast_from(const Tensor& p, int64_t axis, int64_t ndim) {
  Shape s(axis, 1);
  for (auto d : p.shape()) s.push_back(d);
  while (int64_t(s.size()) < ndim) s.push_back(1);
  return p.reshape(s);
}

// 0/1 mask [N, C] of `dtype` with a 1 at each row's label (labels [N], floats or
// integers); no gradient.
inline Tensor one_hot(const Tensor& labels, int64_t classes, DType dtype) {
  Tensor classes_row = Tensor::empty({1, classes}, DType::f64);
  for (int64_t k = 0; k < classes; ++k) classes_row.data<double>()[k] = double(k);
  return equal(labels.detach().to(DType::f64).reshape({labels.numel(), 1}), classes_row).to(dtype);
}

}  // namespace lamina::layers
