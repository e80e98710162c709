// lamina::Tensor: an n-d array of float32, float64, int32, int64 or bool on a device.
//
// A Tensor is a handle: copying it copies a reference (like a Python object), and two
// handles to one tensor see the same data. The data lives in a Storage, a reference
// counted block that several tensors (views) may share:
//
//   Tensor a = Tensor::zeros({4, 3});       // owns a new 64-byte aligned Storage
//   Tensor b = a.reshape({2, 6});           // a view: same Storage, other shape
//   Tensor c = a.slice(1, 3);               // rows 1..2 of a, a view
//   Tensor d = a.select(0);                 // row 0 of a, shape [3], a view
//   Tensor e = a.index({Slice{}, 1});       // column 1 of a (Python's a[:, 1]), a view
//
// The storage stays alive while any tensor (or a NumPy array viewing it) refers to it.
// Shapes and strides are in elements; strides may be any non-negative values (views of
// a slice with a step), and is_contiguous() says whether the layout is dense row-major.
//
// dtypes: float32 everywhere, float64 on the CPU (gradient checks run in double); int32 and
// int64 (labels, indices) and bool (masks, one byte holding 0 or 1) carry no gradient: the
// float ops reject them with a DTypeError naming the op, and only the ops whose comments
// say so (ops.hpp) take them.
// Devices: CPU now; Device::cuda is reserved for the CUDA backend and rejected today.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lamina/error.hpp"

namespace lamina {

enum class DType : uint8_t { f32, f64, i32, i64, b8 };
enum class Device : uint8_t { cpu, cuda };

using Shape = std::vector<int64_t>;

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);    // "float32", "float64", "int32", "int64", "bool"
// float32 and float64: the dtypes that compute gradients and the float ops accept.
inline bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }
const char* device_name(Device device); // "cpu", "cuda"
// The number of elements of a shape. Throws ShapeError for a negative extent or overflow.
int64_t shape_numel(const Shape& shape);

// Every size checked once: the bytes a new tensor of `shape` and `dtype` takes. A negative
// extent, an element or byte count past what int64 holds, or more bytes than the allocation
// limit throws ShapeError naming `op` and the shape, before anything is allocated. Every
// tensor lamina allocates passes here (Tensor::empty, and so ops' outputs, layers' blobs and
// tops, readers' tensors), so a hostile shape from a file or an argument never allocates.
size_t checked_nbytes(const char* op, const Shape& shape, DType dtype);
// The allocation limit: the most bytes one tensor may take. Default: the machine's physical
// memory (64 GiB where it cannot be read), or LAMINA_MAX_ALLOC_MB megabytes when that
// variable is set (read at the first allocation; a value that is not a positive integer is a
// ValueError then). set_max_alloc_bytes(0) throws ValueError.
void set_max_alloc_bytes(uint64_t bytes);
uint64_t max_alloc_bytes();

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::b8; };

// Calls f(T{}) with T the element type of dtype: float, double, int32_t, int64_t or bool.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f64: return f(double{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::b8: return f(bool{});
    default: return f(float{});
  }
}

// Frees the blocks lamina keeps for reuse. Blocks of 64 KiB or more are not returned to the
// system when their last tensor goes but kept (by size, up to LAMINA_CACHE_MB megabytes,
// default 1024) for the next tensor of that size: fresh pages cost page faults on first
// touch, often more than the kernel writing them.
void empty_cache();

// A block of device memory with a reference count (through std::shared_ptr) and a
// version counter that in-place writes bump (autograd uses it to detect that a tensor
// saved for backward was overwritten).
class Storage {
 public:
  static constexpr size_t kAlignment = 64;

  // Allocates nbytes, 64-byte aligned. Throws Error if the memory cannot be had.
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device = Device::cpu);
  // Wraps memory owned by someone else; `release` runs when the last reference goes.
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, Device device,
                                       std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // True for memory lamina allocated (allocate), false for memory it wraps (wrap).
  bool owned() const { return owned_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  // Counts the in-place writes into this storage that autograd recorded (each gave the
  // written tensor a new history): a view taken before one no longer describes its data's
  // history, and is made a view of the new one when an op next uses it.
  uint64_t history() const { return history_; }
  void bump_history() { ++history_; }

 private:
  Storage(void* data, size_t nbytes, Device device, std::function<void()> release);
  void* data_;
  size_t nbytes_;
  Device device_;
  uint64_t version_ = 0;
  uint64_t history_ = 0;
  bool owned_ = false;
  std::function<void()> release_;
};

struct TensorImpl;
struct Node;
class IndexItem;

class Tensor {
 public:
  // An undefined tensor (defined() is false); most operations on it throw ValueError.
  Tensor() = default;

  // New tensors (contiguous, 64-byte aligned). `empty` leaves the data uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu);
  // A tensor over existing storage: element (i0, i1, ...) is at
  // storage.data() + (offset + sum(ik * strides[k])) * dtype_size. Throws IndexError if
  // the view would reach outside the storage.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape,
                             const Shape& strides, int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  // Extent of one axis; negative axes count from the end. Throws IndexError.
  int64_t size(int64_t axis) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  int64_t offset() const;
  const std::shared_ptr<Storage>& storage() const;
  bool is_contiguous() const;

  // Pointer to the first element. data<T>() throws DTypeError if T is not the dtype.
  void* raw_data() const;
  template <class T> T* data() const {
    LAMINA_CHECK_DTYPE(dtype() == dtype_of<T>::value, "Tensor::data: tensor is ",
                       dtype_name(dtype()), ", asked for ", dtype_name(dtype_of<T>::value));
    return static_cast<T*>(raw_data());
  }

  // Views (share storage). reshape copies only when the tensor is not contiguous; one
  // extent may be -1 and is inferred. slice(start, stop, step) and select(i) index axis 0
  // with Python's rules for negative indices; out of range throws IndexError. t() is a 2-d
  // tensor's transpose (strides swapped, like PyTorch's .t(); ShapeError otherwise):
  // matmul reads it in place.
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;  // like reshape, but throws instead of copying
  Tensor slice(int64_t start, int64_t stop, int64_t step = 1) const;
  Tensor select(int64_t index) const;
  Tensor t() const;

  // More views, each differentiable (its backward maps the gradient back to this shape).
  // Axes count from the end when negative; a bad axis throws IndexError.
  //   permute(dims):   y.shape[i] = shape[dims[i]] (dims a permutation of the axes)
  //   transpose(a, b): axes a and b swapped (PyTorch's Tensor.transpose)
  //   movedim(from, to): axis `from` moved to position `to`, the others in order
  //   squeeze(axes):   the listed axes removed; an axis whose extent is not 1 is left as
  //                    it is (as PyTorch). Empty: every axis of extent 1.
  //   unsqueeze(axis): a new axis of extent 1 at position axis, in [-dim-1, dim]
  //   flatten(start, end): axes start..end (inclusive) merged into one; a view when
  //                    reshape gives one (a copy otherwise, as reshape). A 0-d tensor
  //                    becomes [1].
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor movedim(int64_t from, int64_t to) const;
  Tensor squeeze(const std::vector<int64_t>& axes = {}) const;
  Tensor unsqueeze(int64_t axis) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // Indexing as NumPy and PyTorch (Python's t[...]). Basic items are ints, slices, NewAxis
  // (None) and at most one Ellipsis (...), consumed left to right over the axes; axes left
  // over are kept whole. An int removes its axis, a slice keeps it, NewAxis inserts an axis
  // of extent 1; with only these the result is a view, and its backward writes the
  // gradient into zeros of this shape. Tensor items make a copy (a gather, whose backward
  // adds the gradient back, repeated indices summing): an int64 or int32 tensor picks along
  // one axis (negative entries count from the end); a bool mask covers as many axes as it
  // has, with their extents, and picks where it is true. The index tensors broadcast
  // together to B; B's axes replace the picked axes when those sit next to each other
  // after the basic items are applied, and go first otherwise (PyTorch's placement: ints
  // are applied before tensors, so x[0, :, idx] has idx's axes last). Errors: an index
  // outside [-n, n) throws IndexError naming the axis, the index and the extent; more items
  // than axes, two ellipses, a mask whose shape differs from the axes it covers and a float
  // index tensor throw IndexError; index tensors that do not broadcast throw ShapeError;
  // a zero or negative slice step throws ValueError (PyTorch has no negative steps either).
  Tensor index(const std::vector<IndexItem>& items) const;
  // t[items] = value: value (a tensor of any dtype, or a number) is broadcast to the
  // indexed shape (leading extents of 1 may be dropped, as NumPy) and copied into it (with
  // tensor items, an element picked twice keeps one of its values); a value sharing
  // memory with this tensor is read before anything is written. The in-place rules below
  // apply; the recorded backward sends the gradient of the written region to value
  // (summed over broadcast axes) and the rest to this tensor's old history.
  Tensor& index_put_(const std::vector<IndexItem>& items, const Tensor& value);
  Tensor& index_put_(const std::vector<IndexItem>& items, double value);

  // Copies. Conversions between any two dtypes are NumPy's astype: a float becomes an
  // integer by truncation toward zero (NaN and values outside the integer's range become
  // its minimum, as on x86), anything becomes bool as x != 0, bool becomes 0 or 1, int64
  // to int32 wraps. to() into a float dtype is differentiable; into int or bool it is not.
  Tensor contiguous() const;  // *this when already contiguous
  Tensor clone() const;       // always a new storage
  Tensor to(DType dtype) const;

  // ---- in place ----
  // Every in-place write bumps the storage's version, so a tensor an op saved for its
  // backward and then overwritten makes that backward throw AutogradError.
  //
  // Autograd rules (grad mode on; under NoGradGuard none apply and nothing is recorded):
  //  - Writing into a leaf that requires grad throws AutogradError (initialise parameters
  //    inside a NoGradGuard).
  //  - Writing into a view of such a leaf throws AutogradError too.
  //  - When this tensor or the other operand requires grad, the write is recorded: the
  //    tensor's history is rewritten, as in PyTorch, so that later ops see the gradient
  //    through the write (`out += identity` in a residual block, `acc = zeros; acc += x`,
  //    `buf[i] = x`); a leaf that did not require grad becomes a non-leaf that does.
  //  - A recorded write into a view rewrites the history of the tensor it views (its base):
  //    the base's new values are its old ones outside the view's region and the written
  //    ones inside it (`x[:, :3] += b`, `x.view(-1)[0] = y`). The base must be contiguous
  //    (AutogradError otherwise; clone() it).
  //  - Other views of that base, taken before the write, pick up the base's new history
  //    when an op next uses them (as in PyTorch).
  // Right-hand tensors broadcast to this tensor's shape (ShapeError otherwise) and share
  // its dtype (DTypeError); a number is taken in this tensor's dtype. One that shares
  // memory with this tensor is read in full before anything is written.
  // fill_ converts value as to() does (a double holds integers exactly up to 2^53).
  Tensor& fill_(double value);
  Tensor& zero_();
  Tensor& copy_(const Tensor& src);  // shapes must match; dtypes may differ
  Tensor& add_(const Tensor& other);
  Tensor& add_(double other);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(double other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double other);
  // min(max(x, lo), hi), either bound absent; the gradient passes where lo < x < hi.
  Tensor& clamp_(std::optional<double> lo, std::optional<double> hi);

  // The value of a one-element tensor, as double.
  double item() const;
  // Element at a full index, as double (bounds-checked). For tests and debugging.
  double at(const Shape& index) const;
  // The same for an integer or bool tensor, exact (a double rounds int64 past 2^53); a
  // float tensor throws DTypeError.
  int64_t item_int() const;
  int64_t at_int(const Shape& index) const;

  // The values as NumPy prints them, then the dtype and the autograd state:
  //   tensor([[1., 2.],
  //           [3., 4.]], dtype=float32, requires_grad=True)
  // Past 1000 elements only the first and last 3 entries of each axis show ("..." between);
  // an empty tensor is "tensor([], size=[0, 3], dtype=float32)".
  std::string repr() const;

  // True when both handles refer to the same tensor (not merely the same storage).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- autograd (see autograd.hpp) ----
  // A tensor requires grad when it is a leaf marked so, or the output of a recorded op.
  bool requires_grad() const;
  // Marks a leaf; throws AutogradError on a non-leaf (use detach() first) and DTypeError on
  // an integer or bool tensor (only float tensors have gradients).
  Tensor& set_requires_grad(bool requires_grad = true);
  bool is_leaf() const;
  // The accumulated gradient (undefined until a backward reaches this tensor).
  const Tensor& grad() const;
  void set_grad(const Tensor& grad);  // an undefined Tensor clears it
  // The node that produced this tensor (null for leaves), and which of its outputs.
  const std::shared_ptr<Node>& grad_fn() const;
  int output_nr() const;
  // Keep .grad on this non-leaf during backward.
  void retain_grad();
  // Same storage, no history, requires_grad false.
  Tensor detach() const;
  // backward({*this}, {grad}, retain_graph); grad may be undefined for a one-element tensor.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  // For the autograd engine and the binding.
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  static Tensor from_impl(std::shared_ptr<TensorImpl> impl) { return Tensor(std::move(impl)); }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  Tensor view_as(const char* op, const Shape& shape) const;  // view, naming op in errors
  Tensor& copy_data(const Tensor& src);  // copy_ without the autograd check
  const TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

// One item of an index (Tensor::index, index_put_): Python's i, a:b:c, None, ... and
// integer or bool tensors:
//   x.index({0, Slice{1, std::nullopt, 2}, NewAxis{}, Ellipsis{}})   // x[0, 1::2, None, ...]
// A Slice's absent start, stop and step take Python's defaults (0, the extent, 1).
struct Slice {
  explicit Slice(std::optional<int64_t> start = std::nullopt, std::optional<int64_t> stop = std::nullopt,
                 std::optional<int64_t> step = std::nullopt)
      : start(start), stop(stop), step(step) {}
  std::optional<int64_t> start, stop, step;
};
struct NewAxis {};
struct Ellipsis {};

class IndexItem {
 public:
  enum class Kind : uint8_t { integer, slice, new_axis, ellipsis, tensor };
  IndexItem(int64_t i) : kind_(Kind::integer), integer_(i) {}
  IndexItem(const Slice& s) : kind_(Kind::slice), slice_(s) {}
  IndexItem(NewAxis) : kind_(Kind::new_axis) {}
  IndexItem(Ellipsis) : kind_(Kind::ellipsis) {}
  IndexItem(const Tensor& t) : kind_(Kind::tensor), tensor_(t) {}

  Kind kind() const { return kind_; }
  int64_t integer() const { return integer_; }
  const Slice& slice() const { return slice_; }
  const Tensor& tensor() const { return tensor_; }
  // "3", "1:4:2", "None", "...", "Tensor(shape=[2], ...)": for error messages.
  std::string repr() const;

 private:
  Kind kind_;
  int64_t integer_ = 0;
  Slice slice_;
  Tensor tensor_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, DType dtype);
std::ostream& operator<<(std::ostream& os, Device device);

}  // namespace lamina
