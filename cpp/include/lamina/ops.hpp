// lamina's operations on tensors: the one public entry point for every op, used by the
// layers, the Python API (lamina.ops, same names) and C++ embedders.
//
// Every op validates its arguments before any kernel runs and throws ShapeError /
// DTypeError / ValueError naming the op and the offending shapes. Inputs of one op share
// a dtype and a device. Ops compute on float32 and float64; an int32, int64 or bool input
// is a DTypeError naming the op and the dtype, except where an op says it takes them. When grad mode is on and an input requires grad, the op records
// its backward rule on the tape (autograd.hpp); outputs are new, contiguous tensors.
#pragma once

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
// y = 1 if x > threshold else 0 (no gradient: Caffe's Threshold).
Tensor threshold(const Tensor& x, double threshold);
// y = scale * x + shift.
Tensor affine(const Tensor& x, double scale, double shift = 0.0);

// ---- binary, with NumPy broadcasting ---------------------------------------------------
// Shapes broadcast from the right: extents equal, or one of them 1. The gradient of a
// broadcast input is summed back to its shape. add, sub and mul also take int32 and int64
// (wrapping on overflow), add and mul bool (as logical or / and); div is float only.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
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
// `axis`), labels [N, ...] holding class indices (one per position): int32, int64, or whole
// numbers in a float tensor (Caffe's blobs); bool is a DTypeError. A label outside [0, C)
// that is not the ignore label, or a float one that is not whole, throws ValueError. No
// gradient for labels.
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
// Joins tensors along axis (other extents equal).
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 1);
// x restricted to [start, stop) along axis (negative counts from the end), a copy.
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop);
// weight [V, D] rows picked by indices (any shape; int32, int64, or whole numbers in a float
// tensor) -> [*indices.shape, D]. An index outside [0, V) is an IndexError. The backward
// sums the gradients of repeated indices.
Tensor embedding(const Tensor& indices, const Tensor& weight);

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
// Permutes the axes (a copy): y.shape[i] = x.shape[perm[i]]. Empty perm reverses 2-d.
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm = {});

}  // namespace lamina
