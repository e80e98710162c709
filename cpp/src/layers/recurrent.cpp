// Caffe's recurrent layers LSTM and RNN over the recurrent ops (ops.hpp).
// Bottoms: x [T, N, ...], cont [T, N] (0 at the first step of a sequence, which resets the
// state), optionally a static input [N, ...] seen at every step. Top: [T, N, num_output].
// The initial state is zero (expose_hidden is not supported).
//
// lamina's SequenceLSTM, SequenceGRU and SequenceRNN: one recurrent layer over a whole
// sequence with PyTorch's (and ONNX's) semantics, what ONNX import makes of LSTM, GRU and
// RNN nodes. Bottoms: x [T, N, ...], optionally h0 [N, H] (and for SequenceLSTM c0 [N, H]),
// zeros when absent. Tops: y [T, N, H], optionally the last h [N, H] (and c [N, H]).
// Blobs, PyTorch's layout and gate order: w_x [G, D], b_x [G], w_h [G, H], b_h [G] with
// G = 4H (LSTM: input, forget, candidate, output), 3H (GRU: reset, update, new, the reset
// gate applied after the hidden product) or H (RNN: recurrent_param.nonlinearity tanh or relu).
#include <algorithm>

#include "common.hpp"

namespace lamina::layers {

namespace {

class RecurrentLayer : public Layer {
 public:
  explicit RecurrentLayer(const LayerSpec& spec)
      : Layer(spec), p_(spec.param_message("recurrent_param")), lstm_(spec.type == "LSTM") {
    if (p_.get_int("num_output") < 1) spec.fail("needs num_output > 0", "recurrent_param");
    if (p_.get_bool("expose_hidden")) spec.fail("expose_hidden is not supported by lamina", "recurrent_param");
  }

  void setup(const Tensors& b, LayerContext& context) override {
    if (b[0].dim() < 3 || b[1].dim() != 2 || b[1].size(0) != b[0].size(0) || b[1].size(1) != b[0].size(1))
      spec_.fail("needs x [T, N, ...] and cont [T, N], got " + shape_str(b[0].shape()) + " and " + shape_str(b[1].shape()));
    const int64_t h = p_.get_int("num_output"), gates = lstm_ ? 4 * h : h;
    const int64_t in = per_item(b[0], 1);
    const auto wf = p_.get_message("weight_filler"), bf = p_.get_message("bias_filler");
    // Caffe's blob order: LSTM W_xc, b_c, [W_xc_static], W_hc; RNN W_xh, b_h, [W_xh_static], W_hh, W_ho, b_o.
    size_t k = 0;
    blobs_.push_back(context.param(k++, {gates, in}, wf));
    blobs_.push_back(context.param(k++, {gates}, bf));
    if (b.size() > 2) {
      if (b[2].size(0) != b[0].size(1)) spec_.fail("static input " + shape_str(b[2].shape()) + " needs N = " + std::to_string(b[0].size(1)));
      blobs_.push_back(context.param(k++, {gates, per_item(b[2])}, wf));
    }
    blobs_.push_back(context.param(k++, {gates, h}, wf));
    if (!lstm_) {
      blobs_.push_back(context.param(k++, {h, h}, wf));
      blobs_.push_back(context.param(k++, {h}, bf));
    }
  }

  Tensors forward(const Tensors& b) override {
    const int64_t t_steps = b[0].size(0), n = b[0].size(1);
    const bool has_static = b.size() > 2;
    const Tensor x = b[0].reshape({t_steps, n, per_item(b[0], 1)});
    const RecurrentWeights w{blobs_[0], blobs_[1], blobs_[has_static ? 3 : 2], Tensor()};
    Tensor static_term;
    if (has_static) static_term = linear(b[2].reshape({n, per_item(b[2])}), blobs_[2]);
    if (lstm_) return {lamina::lstm(x, w, Tensor(), Tensor(), b[1], LstmGates::caffe, static_term).y};
    // Caffe's RNN: h_t = tanh(...), and the top is o_t = tanh(W_ho h_t + b_o).
    const Tensor h = rnn(x, w, Tensor(), b[1], false, static_term).y;
    const int64_t hidden = h.size(2);
    return {tanh(linear(h.reshape({t_steps * n, hidden}), blobs_[blobs_.size() - 2], blobs_.back()))
                .reshape({t_steps, n, hidden})};
  }

 private:
  schema::Params p_;
  bool lstm_;
};

class SequenceLayer : public Layer {
 public:
  explicit SequenceLayer(const LayerSpec& spec)
      : Layer(spec), p_(spec.param_message("recurrent_param")),
        gates_(spec.type == "SequenceLSTM" ? 4 : spec.type == "SequenceGRU" ? 3 : 1) {
    if (p_.get_int("num_output") < 1) spec.fail("needs num_output > 0", "recurrent_param");
  }

  void setup(const Tensors& b, LayerContext& context) override {
    const int64_t h = p_.get_int("num_output");
    if (b[0].dim() < 3) spec_.fail("needs x [T, N, ...], got " + shape_str(b[0].shape()));
    for (size_t k = 1; k < b.size(); ++k)
      if (b[k].shape() != Shape{b[0].size(1), h})
        spec_.fail("initial state " + shape_str(b[k].shape()) + " must be [N, H] = " + shape_str({b[0].size(1), h}));
    const auto wf = p_.get_message("weight_filler"), bf = p_.get_message("bias_filler");
    blobs_ = {context.param(0, {gates_ * h, per_item(b[0], 1)}, wf), context.param(1, {gates_ * h}, bf),
              context.param(2, {gates_ * h, h}, wf), context.param(3, {gates_ * h}, bf)};
  }

  Tensors forward(const Tensors& b) override {
    const Tensor x = b[0].reshape({b[0].size(0), b[0].size(1), per_item(b[0], 1)});
    const RecurrentWeights w{blobs_[0], blobs_[1], blobs_[2], blobs_[3]};
    const Tensor h0 = b.size() > 1 ? b[1] : Tensor(), c0 = b.size() > 2 ? b[2] : Tensor();
    RecurrentResult r = gates_ == 4   ? lamina::lstm(x, w, h0, c0, Tensor(), LstmGates::pytorch)
                        : gates_ == 3 ? gru(x, w, h0)
                                      : rnn(x, w, h0, Tensor(), p_.get_string("nonlinearity") == "relu");
    Tensors tops{r.y, r.h, r.c};
    tops.resize(spec_.tops.size());
    return tops;
  }

 private:
  schema::Params p_;
  int64_t gates_;
};

}  // namespace

void register_recurrent(LayerRegistry& r) {
  for (const char* type : {"LSTM", "RNN"})
    add_class<RecurrentLayer>(r, LayerInfo{type, 2, 3, 1, 1, false, false, {}});
  add_class<SequenceLayer>(r, LayerInfo{"SequenceLSTM", 1, 3, 1, 3, false, false, {}});
  add_class<SequenceLayer>(r, LayerInfo{"SequenceGRU", 1, 2, 1, 2, false, false, {}});
  add_class<SequenceLayer>(r, LayerInfo{"SequenceRNN", 1, 2, 1, 2, false, false, {}});
}

}  // namespace lamina::layers
