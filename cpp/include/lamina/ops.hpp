// lamina's operations on tensors: the one public entry point for every op, used by the
// layers, the Python API (lamina.ops, same names) and C++ embedders.
//
// Every op validates its arguments before any kernel runs and throws ShapeError /
// DTypeError / ValueError naming the op and the offending shapes. Inputs of one op share
// a dtype and a device. When grad mode is on and an input requires grad, the op records
// its backward rule on the tape (autograd.hpp); outputs are new, contiguous tensors.
#pragma once

#include <optional>
#include <vector>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

// ---- pointwise (pointwise.def) -------------------------------------------------------
#define LAMINA_UNARY(name, fwd, bwd) Tensor name(const Tensor& x);
#include "lamina/pointwise.def"
#undef LAMINA_UNARY

// y = x if x > 0 else slope * x (Caffe's ReLU with negative_slope).
Tensor leaky_relu(const Tensor& x, double negative_slope);
// y = x if x > 0 else alpha * (e^x - 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
// y = (shift + scale * x) ^ power (Caffe's Power layer; pow(x, p) is the default shift/scale).
Tensor power(const Tensor& x, double power, double scale = 1.0, double shift = 0.0);
Tensor pow(const Tensor& x, double exponent);
// y = min(max(x, lo), hi); the gradient passes where lo < x < hi.
Tensor clip(const Tensor& x, double lo, double hi);
// clip with either bound absent (PyTorch's clamp); ValueError when both are.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// y = 1 if x > threshold else 0 (no gradient: Caffe's Threshold).
Tensor threshold(const Tensor& x, double threshold);
// y = scale * x + shift.
Tensor affine(const Tensor& x, double scale, double shift = 0.0);

// ---- binary, with NumPy broadcasting ---------------------------------------------------
// Shapes broadcast from the right: extents equal, or one of them 1. The gradient of a
// broadcast input is summed back to its shape.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a ^ b. Gradients b a^(b-1) and a^b log(a), each taken as 0 where PyTorch takes it so
// (b = 0; a = 0 with b >= 0); a negative base gives NaN unless b is a whole number.
Tensor pow(const Tensor& a, const Tensor& b);
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// Comparisons give 0/1 masks of a's dtype, with no gradient.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);

// ---- reductions ------------------------------------------------------------------------
// Over `axes` (negative counts from the end; empty = all axes).
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting `shape` to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Broadcasts x to `shape` (a copy).
Tensor expand(const Tensor& x, const Shape& shape);
// The maximum along one axis; its gradient goes to the first maximum.
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);
// The index of the first maximum along one axis, as floats (no gradient).
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
// x / sqrt(sum(x^2 along axis) + eps).
Tensor l2_normalize(const Tensor& x, int64_t axis = 1, double eps = 1e-12);

// ---- linear algebra --------------------------------------------------------------------
// a [M, K] @ b [K, N] -> [M, N].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, K], weight [O, K], bias [O] or undefined -> x @ weight^T + bias, [N, O]
// (Caffe's InnerProduct layout).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- convolution and pooling ----------------------------------------------------------
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
// x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] or undefined -> [N, O, OH, OW],
// OH = (H + 2*pad_h - (dilation_h*(KH-1) + 1)) / stride_h + 1 (floor), likewise OW.
// Throws ShapeError when OH or OW would be < 1, or the channels do not fit groups.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// The transposed convolution (Caffe's Deconvolution): the adjoint of conv2d in its
// input. x [N, C_in, H, W], weight [C_in, C_out/groups, KH, KW] (conv2d's layout read the
// other way), bias [C_out] -> [N, C_out, OH, OW],
// OH = (H - 1)*stride_h - 2*pad_h + dilation_h*(KH - 1) + 1 + output_pad_h.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Conv2dOptions& options = {}, int64_t output_pad_h = 0, int64_t output_pad_w = 0);

struct Pool2dOptions {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;
  bool ceil_mode = false;  // Caffe's Pooling layer rounds up; PyTorch's default rounds down
  bool global = false;     // kernel = the whole plane (stride 1, no padding)
};
// x [N, C, H, W] -> [N, C, OH, OW]; OH = floor or ceil((H + 2*pad_h - kernel_h) / stride_h) + 1,
// in ceil mode less one when the last window would start inside the padding. Padding
// must be smaller than the kernel. Max pooling's backward routes each gradient to the
// first maximum of its window; average pooling divides by the window clipped to the
// padded input (Caffe's and PyTorch's count_include_pad).
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);

// Adaptive average pooling (PyTorch's AdaptiveAvgPool2d): x [N, C, H, W] -> [N, C, OH, OW],
// output cell (i, j) the mean of rows [floor(i H / OH), ceil((i + 1) H / OH)) and the
// columns alike.
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// 1-d convolution, conv2d over a height of 1: x [N, C, L], weight [O, C/groups, K], bias [O]
// or undefined -> [N, O, OL], OL = (L + 2 pad - (dilation (K - 1) + 1)) / stride + 1.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t pad = 0, int64_t dilation = 1, int64_t groups = 1);

// ---- softmax and losses ------------------------------------------------------------------
// Over `axis`, numerically stable.
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

// Caffe's LossParameter.NormalizationMode: the loss is divided by all positions, the
// non-ignored ones (Caffe's default), the batch size (outer extent), or nothing.
enum class LossNormalization { full, valid, batch_size, none };
struct CrossEntropyOptions {
  int64_t axis = 1;                   // the class axis of the logits
  bool has_ignore_label = false;
  int64_t ignore_label = -1;
  LossNormalization normalization = LossNormalization::valid;
};
// -sum(log softmax(logits)[label]) / normalizer, a scalar. logits [N, C, ...] (classes on
// `axis`), labels [N, ...] holding class indices as floats (one per position). A label
// outside [0, C) that is not the ignore label throws ValueError. No gradient for labels.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyOptions& options = {});

// -sum(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) / normalizer, computed stably as
// softplus(x) - t x. valid and full divide by the number of elements, batch_size by N.
Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets,
                             LossNormalization normalization = LossNormalization::valid);
// mean((a - b)^2).
Tensor mse_loss(const Tensor& a, const Tensor& b);

// ---- activations with parameters, normalisation ------------------------------------------
// x > 0 ? x : slope * x, slope [1] (shared) or [C] (per channel of x [N, C, ...]).
Tensor prelu(const Tensor& x, const Tensor& slope);
// Batch normalisation over all axes but 1 (channels). training: normalise with the batch
// statistics and, if given, update running_mean / running_var in place:
// r = (1 - momentum) * r + momentum * batch statistic (unbiased variance). Inference: use
// the running statistics. weight and bias (per channel) may be undefined. relu: max(y, 0)
// in the same pass (and the gradient through it in the backward's), as relu(batch_norm(...))
// gives it in two.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = true,
                  double momentum = 0.1, double eps = 1e-5, bool relu = false);
// y = x * scale + shift, scale spanning axes [axis, axis + scale.dim()) of x and broadcast
// over the others (Caffe's Scale layer); shift (scale's shape) may be undefined. One pass
// forward and one backward, where mul and add took two and four.
Tensor scale_shift(const Tensor& x, const Tensor& scale, const Tensor& shift = Tensor(), int64_t axis = 1);
// Local response normalisation (Caffe's LRN), size odd. Across channels:
// y = x / (k + alpha/size * sum over `size` neighbouring channels of x^2)^beta. Within a
// channel: y = x / (1 + alpha * mean of x^2 over a size x size window)^beta.
Tensor lrn(const Tensor& x, int64_t size = 5, double alpha = 1e-4, double beta = 0.75, double k = 1.0,
           bool across_channels = true);

// ---- random --------------------------------------------------------------------------------
// A counter-based generator: the same seed gives the same values whatever the thread count.
void manual_seed(uint64_t seed);
uint64_t next_seed();  // a fresh stream from the global seed (used when no seed is given)
// The global generator's whole state (seed and draws so far), for solver snapshots.
struct RngState {
  uint64_t seed = 0, draws = 0;
};
RngState rng_state();
void set_rng_state(const RngState& state);
Tensor rand(const Shape& shape, double lo, double hi, DType dtype, uint64_t seed);
Tensor randn(const Shape& shape, double mean, double stddev, DType dtype, uint64_t seed);
// Inverted dropout: in training, zero each element with probability p and scale the rest
// by 1 / (1 - p); otherwise (or p == 0) return x.
Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed);

// ---- data movement ---------------------------------------------------------------------------
// Joins tensors along axis (other extents equal). cat is PyTorch's name (axis 0 by
// default); concat is Caffe's (axis 1).
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 1);
Tensor cat(const std::vector<Tensor>& xs, int64_t axis = 0);
// Joins tensors of one shape along a new axis at position axis, in [-dim-1, dim]:
// [*shape[:axis], len(xs), *shape[axis:]].
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// x restricted to [start, stop) along axis (negative counts from the end), a copy.
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop);
// weight [V, D] rows picked by indices (class ids stored as floats, any shape) ->
// [*indices.shape, D]. The backward sums the gradients of repeated indices.
Tensor embedding(const Tensor& indices, const Tensor& weight);

// ---- recurrent ------------------------------------------------------------------------------
// One recurrent layer unrolled over x [T, N, D] (time first), hidden size H = w_h.size(1).
// Each step's gate pre-activations are x_t w_x^T + b_x + h_{t-1} w_h^T + b_h (+ extra), with
// G = 4H rows (LSTM), 3H (GRU) or H (RNN) in w_x [G, D] and w_h [G, H]; b_x, b_h [G] may be
// undefined. h0 (and an LSTM's c0) [N, H] may be undefined: zeros. cont [T, N] (Caffe's
// sequence markers, any float dtype; may be undefined): where cont[t, n] is 0 the state
// carried into step t is dropped, so a new sequence starts there. extra [N, G] (may be
// undefined) is added to every step's gates (Caffe's static input). Prototxt layers and
// lamina.nn modules both run these; their backward comes from the tape.
struct RecurrentWeights {
  Tensor w_x, b_x, w_h, b_h;
};
struct RecurrentResult {
  Tensor y;  // [T, N, H]: every step's hidden state
  Tensor h;  // [N, H]: the last step's hidden state (h0 when T is 0)
  Tensor c;  // [N, H]: the LSTM's last cell state (undefined for GRU and RNN)
};
// Gate order of the 4H rows: Caffe's LSTM layer uses input, forget, output, candidate;
// PyTorch's nn.LSTM input, forget, candidate, output.
enum class LstmGates { caffe, pytorch };
// c_t = f * c_{t-1} + i * tanh(g); h_t = o * tanh(c_t) (i, f, o sigmoids of their gates).
RecurrentResult lstm(const Tensor& x, const RecurrentWeights& w, const Tensor& h0 = Tensor(),
                     const Tensor& c0 = Tensor(), const Tensor& cont = Tensor(), LstmGates gates = LstmGates::caffe,
                     const Tensor& extra = Tensor());
// PyTorch's GRU (rows r, z, n): r, z = sigmoid(...), n = tanh(x_n + r * (h w_hn^T + b_hn)),
// h_t = (1 - z) * n + z * h_{t-1}.
RecurrentResult gru(const Tensor& x, const RecurrentWeights& w, const Tensor& h0 = Tensor(),
                    const Tensor& cont = Tensor());
// h_t = tanh (or relu) of the gates (Elman's RNN; Caffe's RNN layer adds its output layer).
RecurrentResult rnn(const Tensor& x, const RecurrentWeights& w, const Tensor& h0 = Tensor(),
                    const Tensor& cont = Tensor(), bool relu = false, const Tensor& extra = Tensor());

// ---- shape -----------------------------------------------------------------------------
// Differentiable views and copies (Tensor::reshape/slice/select also record).
Tensor reshape(const Tensor& x, const Shape& shape);
// Permutes the axes (a copy, contiguous): y.shape[i] = x.shape[perm[i]]. Empty perm
// reverses 2-d. permute is the same order as a view.
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm = {});
// The views of Tensor (tensor.hpp: permute, transpose, movedim, squeeze, unsqueeze,
// flatten) as functions. transpose(x, a, b) swaps two axes (a view, as PyTorch's).
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t a, int64_t b);
Tensor movedim(const Tensor& x, int64_t from, int64_t to);
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axes = {});
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor flatten(const Tensor& x, int64_t start = 0, int64_t end = -1);

}  // namespace lamina
