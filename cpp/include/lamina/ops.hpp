// lamina's operations on tensors: the one public entry point for every op, used by the
// layers, the Python API (lamina.ops, same names) and C++ embedders.
//
// Every op validates its arguments before any kernel runs and throws ShapeError /
// DTypeError / ValueError naming the op and the offending shapes. Inputs of one op share
// a dtype and a device. Ops compute on float32 and float64; an int32, int64 or bool input
// is a DTypeError naming the op and the dtype, except where an op says it takes them. When grad mode is on and an input requires grad, the op records
// its backward rule on the tape (autograd.hpp); outputs are new, contiguous tensors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lamina/autograd.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

// ---- pointwise (pointwise.def; neg also takes int32 and int64) -------------------------
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
// broadcast input is summed back to its shape. Operands of different dtypes are promoted
// as PyTorch does (bool < integers < floats, the wider within one; a 0-d operand decides
// only when it is of a higher kind than an operand with axes): int64 + float32 is float32,
// float32 [3] + a float64 0-d tensor stays float32. add, sub and mul also take int32 and
// int64 (wrapping on overflow), add and mul bool (as logical or / and); div is true
// division (integers give float32); pow is float only. where and the comparisons promote
// alike.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a ^ b. Gradients b a^(b-1) and a^b log(a), each taken as 0 where PyTorch takes it so
// (b = 0; a = 0 with b >= 0); a negative base gives NaN unless b is a whole number.
Tensor pow(const Tensor& a, const Tensor& b);
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// Comparisons of any dtype (a and b alike), broadcasting: bool tensors, no gradient.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
// Logical ops of any dtype (a nonzero element is true), broadcasting: bool tensors.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
// cond (bool) ? a : b elementwise, the three broadcast together; a and b of one dtype
// (any). The gradient goes to a where cond holds and to b elsewhere.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- reductions ------------------------------------------------------------------------
// Over `axes` (negative counts from the end; empty = all axes). sum takes int32, int64 and
// bool and gives int64 for them (exact); mean is float only.
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting `shape` to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Broadcasts x (any dtype) to `shape` (a copy).
Tensor expand(const Tensor& x, const Shape& shape);
// The maximum along one axis; its gradient goes to the first maximum.
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);
// The index of the first maximum along one axis (x of any dtype), as int64 (no gradient).
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

// ---- softmax ------------------------------------------------------------------------------
// Over `axis`, numerically stable.
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

// ---- losses -------------------------------------------------------------------------------
// PyTorch's losses (torch.nn.functional: the same names, arguments and results), and the
// two Caffe normalises its own way (softmax_cross_entropy, sigmoid_cross_entropy). Caffe's
// loss layers call these ops: one forward for a module and its layer.
//
// A loss is computed per element (per sample, per labelled position) and then reduced:
//   none        the unreduced losses, shaped as the op says;
//   mean        their mean, a 0-d tensor (nll_loss and cross_entropy: the weighted mean);
//   sum         their sum, a 0-d tensor;
//   batch_mean  their sum divided by the first extent of the input (kl_div's 'batchmean';
//               other losses throw ValueError).
// Inputs share a dtype (DTypeError otherwise); inputs that broadcast broadcast as add does
// (ShapeError naming the op and both shapes otherwise). Gradients flow to every floating
// input the op differentiates (targets included, as in PyTorch); never to labels, per-class
// weights or masks.
enum class Reduction { none, mean, sum, batch_mean };
// PyTorch's names: "none", "mean", "sum", "batchmean". reduction_from_name throws
// ValueError naming `op` for any other string.
const char* reduction_name(Reduction reduction);
Reduction reduction_from_name(const char* op, const std::string& name);

// The negative log-likelihood of class labels. log_probs [N, C, d1, ...] (or [C]), labels
// [N, d1, ...] (or 0-d): class indices in [0, C) or ignore_index (IndexError otherwise),
// int64 or int32 (DTypeError for any other dtype). weight [C] (undefined: all 1) weighs each
// class.
// Per position j: l_j = -weight[y_j] * log_probs[n, y_j, d...], 0 where y_j == ignore_index;
// none gives l [N, d1, ...]; mean gives sum(l) / sum(weight[y_j]) over positions not ignored
// (NaN when every position is ignored, as in PyTorch). Gradient for log_probs only.
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::mean);
// nll_loss(log_softmax(logits, 1), labels, weight, ignore_index, reduction), with one fused
// backward (softmax - one hot). label_smoothing e in [0, 1]: (1 - e) * that + e / C * the
// same reduction of s_j = -sum over c of weight[c] * log_softmax(logits)[n, c, d...] (0 at
// ignored positions; mean divides by the same weight sum), as PyTorch. Labels of a floating
// dtype and of the logits' shape are class probabilities instead (soft labels): per position
// -sum over c of weight[c] * p[n, c, d...] * log_softmax(logits)[n, c, d...], p smoothed to
// (1 - e) p + e / C; mean divides by the number of positions; ignore_index does not apply and
// the probabilities get a gradient too, as in PyTorch.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);

// Caffe's LossParameter.NormalizationMode: the loss is divided by all positions, the
// non-ignored ones (Caffe's default), the batch size (outer extent), or nothing.
enum class LossNormalization { full, valid, batch_size, none };
struct CrossEntropyOptions {
  int64_t axis = 1;                   // the class axis of the logits
  bool has_ignore_label = false;
  int64_t ignore_label = -1;
  LossNormalization normalization = LossNormalization::valid;
};
// Caffe's SoftmaxWithLoss: -sum(log softmax(logits)[label]) / normalizer (never below 1),
// a scalar. logits [N, C, ...] (classes on `axis`), labels [N, ...] holding class indices
// (one per position): int32, int64, or whole numbers in a float tensor (Caffe's blobs); bool
// is a DTypeError. A label outside [0, C) that is not the ignore label, or a float one that
// is not whole, throws ValueError. No gradient for labels. cross_entropy's forward and backward.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyOptions& options = {});

// Binary cross-entropy of probabilities p against targets t (one shape): -weight * (t log p
// + (1 - t) log(1 - p)), each log clamped below at -100 (PyTorch's); weight broadcasts to p
// or is undefined.
Tensor binary_cross_entropy(const Tensor& p, const Tensor& t, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::mean);
// The same from logits x, without overflow: weight * ((1 - t) x + (1 + (pos_weight - 1) t)
// softplus(-x)), i.e. -weight * (pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))).
// x and t of one shape; weight and pos_weight broadcast to it (pos_weight [C] weighs the
// positives of each class along the last axis); either may be undefined.
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& t, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::mean);
// Caffe's SigmoidCrossEntropyLoss: binary_cross_entropy_with_logits summed, divided by the
// number of elements (valid, full), N (batch_size) or 1 (none).
Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets,
                             LossNormalization normalization = LossNormalization::valid);

// Regression losses of d = input - target (the two broadcast): mse d^2; l1 |d|; smooth_l1
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta >= 0; 0 gives l1); huber
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (delta > 0). ValueError for a
// negative beta or a delta <= 0.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0);
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                  double delta = 1.0);

// Margin losses. y holds +1 / -1 (broadcasting with the inputs; no gradient for it in
// hinge_embedding_loss and cosine_embedding_loss, whose y only selects a term).
// hinge_embedding_loss: x where y == 1, max(0, margin - x) where y == -1 (a y that is
// neither gets both terms, as in PyTorch).
Tensor hinge_embedding_loss(const Tensor& x, const Tensor& y, double margin = 1.0,
                            Reduction reduction = Reduction::mean);
// max(0, -y (x1 - x2) + margin).
Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& y, double margin = 0.0,
                           Reduction reduction = Reduction::mean);
// max(d(a, p) - d(a, n) + margin, 0) per sample, d(u, v) = ||u - v + eps||_p over the last
// axis (PyTorch's pairwise_distance); swap: d(a, n) is min(d(a, n), d(p, n)). anchor,
// positive, negative [N, D] (or [D]), broadcasting; none gives [N] (or 0-d). p > 0.
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           double margin = 1.0, double p = 2.0, double eps = 1e-6, bool swap = false,
                           Reduction reduction = Reduction::mean);
// 1 - cos(x1, x2) where y == 1, max(0, cos(x1, x2) - margin) where y == -1, 0 elsewhere;
// cos over the last axis of x1, x2 [N, D] (or [D]), each squared norm plus 1e-12
// (PyTorch's); y [N] (or 0-d); none gives [N] (or 0-d).
Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& y, double margin = 0.0,
                             Reduction reduction = Reduction::mean);

// The Kullback-Leibler divergence of target from input (log-probabilities), elementwise:
// target (log target - input), 0 where target is 0; with log_target (target given as
// log-probabilities) e^target (target - input). input and target broadcast. PyTorch's
// default reduction mean averages over all elements; batch_mean (the true KL divergence
// per sample) divides the sum by N.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false);

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

// ---- ranges ----------------------------------------------------------------------------------
// [start, start + step, ...) up to but excluding stop, as NumPy's and PyTorch's arange:
// ceil((stop - start) / step) elements (none when that is not positive). step 0, or a
// bound that is not finite, is a ValueError.
Tensor arange(double start, double stop, double step = 1, DType dtype = DType::f32);

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
// weight [V, D] rows picked by indices (any shape; int32, int64, or whole numbers in a float
// tensor) -> [*indices.shape, D]. An index outside [0, V) is an IndexError. The backward
// sums the gradients of repeated indices.
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
// Picking by index (x of any dtype; index int32 or int64, a float index is a DTypeError;
// an index outside [0, extent) is an IndexError naming the op, the index and the extent).
// The backward adds the gradient into the positions picked (repeated indices add up).
// index_select: index 1-d [K] -> x with extent K on axis: y[..., k, ...] = x[..., index[k], ...].
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
// gather (PyTorch's): index has x's number of axes, extents no larger than x's outside
// axis; y has index's shape, y[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (alike for
// the others).
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
// The indices of x's nonzero elements (any dtype), in row-major order: int64 [K, x.dim()].
Tensor nonzero(const Tensor& x);

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
