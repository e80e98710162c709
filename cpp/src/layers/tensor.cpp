// Layers for tensor graphs beyond Caffe's layer set, so that an ONNX model (onnx_import.hpp)
// becomes a net of layers like any other: Parameter (Caffe's: a learnable blob as a top),
// Permute (SSD's Caffe fork's), and lamina's own MatMul, Arithmetic, Gather, LogSoftmax.
//
//   Parameter   no bottom; its top is its blob 0, shaped by parameter_param.shape (learnable,
//               so that the tape gives it a gradient like any weight).
//   Permute     y = x with its axes in permute_param.order (axes not listed follow in order).
//   MatMul      two bottoms, NumPy's matmul: 1-d operands promoted and their axis dropped
//               after, leading (batch) axes broadcast.
//   Arithmetic  two bottoms, NumPy broadcasting: arithmetic_param.operation ADD, SUB, MUL,
//               DIV, POW, MAX or MIN of bottom 0 and bottom 1.
//   Gather      picks along gather_param.axis (negative indices count from the end): the
//               indices are gather_param.index shaped by index_shape (absent: 1-d; given
//               with no dims: a scalar that drops the axis), or a second bottom (floats
//               holding whole numbers). y's shape is x's with the axis replaced by the
//               indices' shape (ONNX's Gather).
//   LogSoftmax  log(softmax(x)) along softmax_param.axis, computed stably.
#include "common.hpp"

namespace lamina::layers {

namespace {

class ParameterLayer : public Layer {
 public:
  using Layer::Layer;
  void setup(const Tensors&, LayerContext& context) override {
    const Shape shape = spec_.param_message("parameter_param").get_message("shape").ints("dim");
    for (int64_t d : shape)
      if (d < 0) spec_.fail("parameter_param.shape has a negative dim " + std::to_string(d), "parameter_param");
    blobs_ = {context.param(0, shape, schema::Params(nullptr, "FillerParameter", ""))};  // zeros
  }
  Tensors forward(const Tensors&) override { return {blobs_[0]}; }
};

Forward permute_forward(const LayerSpec& spec) {
  const std::vector<int64_t> order = spec.param_message("permute_param").ints("order");
  return [=](const Tensors& b) {
    const int64_t n = b[0].dim();
    std::vector<int64_t> perm;
    std::vector<bool> used(size_t(n), false);
    for (int64_t a : order) {
      if (a >= n || used[size_t(a)])
        spec.fail("order " + shape_str(order) + " is not a permutation of the bottom's " + std::to_string(n) + " axes",
                  "permute_param");
      used[size_t(a)] = true;
      perm.push_back(a);
    }
    for (int64_t a = 0; a < n; ++a)
      if (!used[size_t(a)]) perm.push_back(a);
    return Tensors{transpose(b[0], perm)};
  };
}

// NumPy's matmul from 2-d matmul: the batch axes broadcast, then one product per batch entry
// (one product over all rows when b is a matrix).
Tensor batched_matmul(const LayerSpec& spec, const Tensor& a0, const Tensor& b0) {
  if (a0.dim() == 0 || b0.dim() == 0) spec.fail("takes no 0-d bottoms, got " + shape_str(a0.shape()) + " and " + shape_str(b0.shape()));
  const Tensor a = a0.dim() == 1 ? a0.unsqueeze(0) : a0;
  const Tensor b = b0.dim() == 1 ? b0.unsqueeze(1) : b0;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (b.size(-2) != k)
    spec.fail("cannot multiply " + shape_str(a0.shape()) + " by " + shape_str(b0.shape()) + ": inner extents " +
              std::to_string(k) + " and " + std::to_string(b.size(-2)) + " differ");
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Tensor y;
  Shape batch;
  if (b.dim() == 2) {
    batch = batch_a;
    y = matmul(a.reshape({span(a.shape(), 0, a.dim() - 1), k}), b);
  } else {
    batch = broadcast_shape("MatMul", batch_a, batch_b);
    const int64_t count = span(batch, 0, int64_t(batch.size()));
    Shape sa = batch, sb = batch;
    sa.insert(sa.end(), {m, k});
    sb.insert(sb.end(), {k, n});
    const Tensor ea = expand(a, sa).reshape({count, m, k}), eb = expand(b, sb).reshape({count, k, n});
    Tensors products;
    for (int64_t i = 0; i < count; ++i) products.push_back(matmul(ea.select(i), eb.select(i)));
    y = count ? stack(products, 0) : Tensor::zeros({0, m, n}, a.dtype());
  }
  Shape out = batch;
  if (a0.dim() > 1) out.push_back(m);
  if (b0.dim() > 1) out.push_back(n);
  return y.reshape(out);
}

Forward arithmetic_forward(const LayerSpec& spec) {
  const std::string op = spec.param_message("arithmetic_param").get_string("operation");
  return [=](const Tensors& b) -> Tensors {
    const Tensor& x = b[0];
    const Tensor& y = b[1];
    if (op == "ADD") return {add(x, y)};
    if (op == "SUB") return {sub(x, y)};
    if (op == "MUL") return {mul(x, y)};
    if (op == "DIV") return {div(x, y)};
    if (op == "POW") return {pow(x, y)};
    const Tensor pick_x = op == "MAX" ? greater_equal(x, y) : less_equal(x, y);
    return {where(pick_x, x, y)};
  };
}

Forward gather_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("gather_param");
  const int64_t axis_field = p.get_int("axis");
  const std::vector<int64_t> index = p.ints("index");
  const bool shaped = p.has("index_shape");
  const Shape index_shape = shaped ? p.get_message("index_shape").ints("dim") : Shape{int64_t(index.size())};
  if (spec.bottoms.size() == 1 && span(index_shape, 0, int64_t(index_shape.size())) != int64_t(index.size()))
    spec.fail(std::to_string(index.size()) + " indices for index_shape " + shape_str(index_shape), "gather_param");
  if (spec.bottoms.size() == 2 && !index.empty()) spec.fail("takes its indices from gather_param or a second bottom, not both", "gather_param");
  return [=](const Tensors& b) {
    const Tensor& x = b[0];
    const int64_t axis = canonical_axis(spec, axis_field, x.dim());
    const int64_t extent = x.size(axis);
    Tensor idx;
    Shape ishape = index_shape;
    if (b.size() == 2) {
      idx = b[1].detach().to(DType::i64).reshape({b[1].numel()});
      ishape = b[1].shape();
    } else {
      idx = Tensor::empty({int64_t(index.size())}, DType::i64);
      for (size_t k = 0; k < index.size(); ++k) idx.data<int64_t>()[k] = index[k];
    }
    const Tensor extent_t = Tensor::full({}, double(extent), DType::i64);
    idx = where(less(idx, Tensor::zeros({}, DType::i64)), add(idx, extent_t), idx);
    Shape out(x.shape().begin(), x.shape().begin() + axis);
    out.insert(out.end(), ishape.begin(), ishape.end());
    out.insert(out.end(), x.shape().begin() + axis + 1, x.shape().end());
    return Tensors{index_select(x, axis, idx).reshape(out)};
  };
}

}  // namespace

void register_tensor(LayerRegistry& r) {
  add_class<ParameterLayer>(r, LayerInfo{"Parameter", 0, 0, 1, 1, false, false, {}});
  add_function(r, LayerInfo{"Permute", 1, 1, 1, 1, false, false, {}}, permute_forward);
  add_function(r, LayerInfo{"MatMul", 2, 2, 1, 1, false, false, {}}, [](const LayerSpec& spec) -> Forward {
    return [spec](const Tensors& b) { return Tensors{batched_matmul(spec, b[0], b[1])}; };
  });
  add_function(r, LayerInfo{"Arithmetic", 2, 2, 1, 1, false, false, {}}, arithmetic_forward);
  add_function(r, LayerInfo{"Gather", 1, 2, 1, 1, false, false, {}}, gather_forward);
  add_unary(r, "LogSoftmax", [](const LayerSpec& spec) -> std::function<Tensor(const Tensor&)> {
    const int64_t axis = spec.param_message("softmax_param").get_int("axis");
    return [spec, axis](const Tensor& x) { return log_softmax(x, canonical_axis(spec, axis, x.dim())); };
  });
}

}  // namespace lamina::layers
