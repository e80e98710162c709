#include "lamina/tensor.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include "lamina/autograd.hpp"
#include "tensor_impl.hpp"

namespace lamina {

// ---- dtype, device, shape helpers -------------------------------------------------

size_t dtype_size(DType dtype) {
  return visit_dtype(dtype, [](auto t) { return sizeof(t); });
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::b8: return "bool";
    default: return "float32";
  }
}
const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

std::ostream& operator<<(std::ostream& os, DType dtype) { return os << dtype_name(dtype); }
std::ostream& operator<<(std::ostream& os, Device device) { return os << device_name(device); }
std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.repr(); }

// Whether the product of the (non-negative) extents fits int64.
static bool shape_fits(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return false;
    n *= d;
  }
  return true;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    LAMINA_CHECK_SHAPE(d >= 0, "shape ", shape, " has a negative extent");
    // Overflow guard: a corrupt or mistyped shape must not wrap around to a small size.
    LAMINA_CHECK_SHAPE(d == 0 || n <= std::numeric_limits<int64_t>::max() / d, "shape ", shape,
                       " has too many elements");
    n *= d;
  }
  return n;
}

namespace {

constexpr uint64_t kDefaultMaxAlloc = uint64_t(64) << 30;

// The bytes an environment variable gives in megabytes (digits only, at least `least`), or
// nothing when it is not set; any other text throws, naming the variable and `what` it holds.
std::optional<uint64_t> env_megabytes(const char* name, uint64_t least, const char* what) {
  const char* env = std::getenv(name);
  if (!env) return std::nullopt;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(env, &end, 10);
  LAMINA_CHECK(*env >= '0' && *env <= '9' && *end == 0 && mb >= least &&
                   mb <= (std::numeric_limits<uint64_t>::max() >> 20),
               name, " must be ", what, ", got '", env, "'");
  return uint64_t(mb) << 20;
}

uint64_t default_max_alloc() {
  if (const auto bytes = env_megabytes("LAMINA_MAX_ALLOC_MB", 1, "a positive number of megabytes")) return *bytes;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : kDefaultMaxAlloc;
}

std::atomic<uint64_t> g_max_alloc{0};  // 0: not read yet

}  // namespace

void set_max_alloc_bytes(uint64_t bytes) {
  LAMINA_CHECK(bytes > 0, "set_max_alloc_bytes: the limit must be at least 1 byte, got 0");
  g_max_alloc = bytes;
}

uint64_t max_alloc_bytes() {
  uint64_t limit = g_max_alloc.load();
  if (limit == 0) {
    limit = default_max_alloc();
    g_max_alloc = limit;
  }
  return limit;
}

size_t checked_nbytes(const char* op, const Shape& shape, DType dtype) {
  for (int64_t d : shape) LAMINA_CHECK_SHAPE(d >= 0, op, ": shape ", shape, " has a negative extent");
  LAMINA_CHECK_SHAPE(shape_fits(shape), op, ": shape ", shape, " has too many elements");
  const uint64_t limit = max_alloc_bytes();
  // The byte count, saturating instead of wrapping; an extent of 0 makes it 0 whatever the
  // others are (an empty [2^40, 0] allocates nothing).
  uint64_t bytes = dtype_size(dtype);
  bool saturated = false;
  for (int64_t d : shape) {
    if (d == 0) return 0;
    if (bytes > std::numeric_limits<uint64_t>::max() / uint64_t(d)) saturated = true;
    else bytes *= uint64_t(d);
  }
  if (saturated || bytes > limit) {
    std::ostringstream s;
    s << op << ": shape " << shape_str(shape) << " (" << dtype_name(dtype) << ") needs ";
    if (saturated) s << "more than 2^64 bytes"; else s << bytes << " bytes";
    s << ", over the limit of " << limit << " bytes (raise it with LAMINA_MAX_ALLOC_MB or lamina.set_max_alloc_mb)";
    throw ShapeError(s.str());
  }
  return static_cast<size_t>(bytes);
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    // Only an empty tensor's extents can overflow here (checked_nbytes bounds the others):
    // its strides never address memory, so saturate rather than wrap (undefined).
    if (__builtin_mul_overflow(s, shape[i] > 0 ? shape[i] : 1, &s)) s = std::numeric_limits<int64_t>::max();
  }
  return strides;
}

static void check_device(Device device, const char* what) {
  LAMINA_CHECK_AS(DeviceError, device == Device::cpu, what,
                  ": the CUDA backend is not built into this lamina; use device cpu");
}

// ---- Storage ------------------------------------------------------------------------

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void()> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_) release_();
}

// ---- the block cache ----------------------------------------------------------------
// Large blocks come from the OS as fresh pages, and touching them for the first time
// costs page faults that can take longer than the kernel that fills them (a 64 MB relu
// output). A training loop asks for the same sizes every iteration, so freed blocks are
// kept, by exact size, up to a byte budget, and handed out again.
namespace {

struct BlockCache {
  std::mutex mutex;
  std::unordered_multimap<size_t, void*> free_blocks;
  size_t cached_bytes = 0;
  size_t limit = default_limit();

  // Read when the first large block is allocated, whose caller the error reaches (a block is
  // given back only after one was taken).
  static size_t default_limit() {
    const auto bytes = env_megabytes("LAMINA_CACHE_MB", 0, "a number of megabytes (0 keeps no freed blocks)");
    return bytes ? static_cast<size_t>(*bytes) : size_t(1) << 30;  // 1 GiB
  }

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = free_blocks.find(bytes);
    if (it == free_blocks.end()) return nullptr;
    void* p = it->second;
    free_blocks.erase(it);
    cached_bytes -= bytes;
    return p;
  }

  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (cached_bytes + bytes <= limit) {
        free_blocks.emplace(bytes, p);
        cached_bytes += bytes;
        return;
      }
    }
    std::free(p);
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [bytes, p] : free_blocks) std::free(p);
    free_blocks.clear();
    cached_bytes = 0;
  }
};

// Leaked on purpose: storages may be released during static destruction.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();
  return *cache;
}

constexpr size_t kCacheMinBytes = 64 * 1024;  // smaller blocks: malloc's own bins are fast

}  // namespace

void empty_cache() { block_cache().clear(); }

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  check_device(device, "Storage::allocate");
  // aligned_alloc wants a size that is a multiple of the alignment, and never 0 so that
  // even an empty tensor has a valid pointer.
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  LAMINA_CHECK_AS(Error, rounded >= nbytes, "Storage::allocate: ", nbytes, " bytes is too large");
  const bool cacheable = rounded >= kCacheMinBytes;
  void* p = cacheable ? block_cache().take(rounded) : nullptr;
  if (!p) p = std::aligned_alloc(kAlignment, rounded);
  if (!p && cacheable) {  // the cache may hold what the allocator needs: give it back, retry
    block_cache().clear();
    p = std::aligned_alloc(kAlignment, rounded);
  }
  LAMINA_CHECK_AS(Error, p != nullptr, "Storage::allocate: out of memory allocating ", nbytes,
                  " bytes");
  std::shared_ptr<Storage> storage(
      cacheable ? new Storage(p, nbytes, device, [p, rounded] { block_cache().give(p, rounded); })
                : new Storage(p, nbytes, device, [p] { std::free(p); }));
  storage->owned_ = true;
  return storage;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, Device device,
                                       std::function<void()> release) {
  return std::shared_ptr<Storage>(new Storage(data, nbytes, device, std::move(release)));
}

// ---- construction -------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto storage = Storage::allocate(checked_nbytes("empty", shape, dtype), device);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  std::memset(t.raw_data(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype));
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape,
                            const Shape& strides, int64_t offset, DType dtype) {
  LAMINA_CHECK(storage != nullptr, "Tensor::from_storage: null storage");
  LAMINA_CHECK_SHAPE(shape.size() == strides.size(), "Tensor::from_storage: shape ", shape,
                     " and strides ", strides, " differ in length");
  int64_t n = shape_numel(shape);
  LAMINA_CHECK_INDEX(offset >= 0, "Tensor::from_storage: negative offset ", offset);
  // The furthest element must lie inside the storage (checked in elements, with the
  // overflow guard of shape_numel applied to each term).
  int64_t last = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    LAMINA_CHECK_INDEX(strides[i] >= 0, "Tensor::from_storage: negative stride in ", strides);
    if (n > 0) last += (shape[i] - 1) * strides[i];
  }
  int64_t capacity = static_cast<int64_t>(storage->nbytes() / dtype_size(dtype));
  LAMINA_CHECK_INDEX(n == 0 || last < capacity, "Tensor::from_storage: shape ", shape,
                     " with strides ", strides, " and offset ", offset, " reaches element ",
                     last, " of a storage holding ", capacity);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

// ---- accessors ----------------------------------------------------------------------

const TensorImpl& Tensor::impl() const {
  LAMINA_CHECK(impl_ != nullptr, "Tensor: the tensor is undefined");
  return *impl_;
}
const Shape& Tensor::shape() const { return impl().shape; }
const Shape& Tensor::strides() const { return impl().strides; }
int64_t Tensor::numel() const { return shape_numel(impl().shape); }
DType Tensor::dtype() const { return impl().dtype; }
Device Tensor::device() const { return impl().storage->device(); }
int64_t Tensor::offset() const { return impl().offset; }
const std::shared_ptr<Storage>& Tensor::storage() const { return impl().storage; }

int64_t Tensor::size(int64_t axis) const {
  int64_t d = dim();
  LAMINA_CHECK_INDEX(axis >= -d && axis < d, "Tensor::size: axis ", axis,
                     " is out of range for a tensor of shape ", shape());
  return shape()[axis < 0 ? axis + d : axis];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl();
  if (shape_numel(t.shape) == 0) return true;
  int64_t expected = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 1) continue;  // any stride is fine for an extent of 1
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  const TensorImpl& t = impl();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

// ---- views --------------------------------------------------------------------------

Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  Tensor y = Tensor::from_storage(x.storage(), shape, strides, offset, x.dtype());
  y.impl_ptr()->base = x.impl_ptr()->base ? x.impl_ptr()->base : x.impl_ptr();
  y.impl_ptr()->history_seen = x.storage()->history();
  return y;
}

// Views are differentiable: their backward routes the gradient back into the input's shape.
Tensor record_view(const char* op, const Tensor& x, Tensor y, std::function<Tensor(const Tensor&)> back) {
  if (autograd::needs_grad({&x}))
    autograd::record(op, {x}, {y}, [back](const std::vector<Tensor>& g) { return std::vector<Tensor>{back(g[0])}; });
  return y;
}

static Shape infer_shape(const char* op, const Shape& requested, int64_t numel, const Shape& from) {
  Shape out = requested, given;
  int64_t infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      LAMINA_CHECK_SHAPE(infer_at < 0, op, ": more than one -1 in ", requested);
      infer_at = static_cast<int64_t>(i);
    } else {
      LAMINA_CHECK_SHAPE(out[i] >= 0, op, ": negative extent in ", requested);
      given.push_back(out[i]);
    }
  }
  // Counted with the overflow guard: [2^62, 4] must not wrap to the 0 elements of an empty tensor.
  LAMINA_CHECK_SHAPE(shape_fits(given), op, ": shape ", requested, " has too many elements");
  int64_t known = shape_numel(given);
  if (infer_at >= 0) {
    LAMINA_CHECK_SHAPE(known != 0 && numel % known == 0, op, ": cannot infer the -1 in ",
                       requested, " for a tensor of shape ", from, " (", numel, " elements)");
    out[infer_at] = numel / known;
    known *= out[infer_at];
  }
  LAMINA_CHECK_SHAPE(known == numel, op, ": cannot reshape a tensor of shape ", from, " (",
                     numel, " elements) into ", requested, " (", known, " elements)");
  return out;
}

Tensor Tensor::view(const Shape& shape) const { return view_as("view", shape); }

Tensor Tensor::view_as(const char* op, const Shape& shape) const {
  Shape out = infer_shape(op, shape, numel(), this->shape());
  LAMINA_CHECK_SHAPE(is_contiguous(), op, ": a tensor of shape ", this->shape(), " with strides ",
                     strides(), " is not contiguous; use reshape, which copies");
  Tensor y = make_view(*this, out, contiguous_strides(out), offset());
  return record_view(op, *this, y, [from = this->shape()](const Tensor& g) { return g.reshape(from); });
}

Tensor Tensor::reshape(const Shape& shape) const {
  return (is_contiguous() ? *this : contiguous()).view_as("reshape", shape);
}


Tensor Tensor::slice(int64_t start, int64_t stop, int64_t step) const {
  LAMINA_CHECK_INDEX(dim() >= 1, "slice: cannot slice a 0-d tensor");
  LAMINA_CHECK(step >= 1, "slice: step must be positive, got ", step);
  int64_t n = shape()[0];
  // Python's slice rules: negative bounds count from the end, then clamp to [0, n].
  auto clamp = [n](int64_t i) {
    if (i < 0) i += n;
    return i < 0 ? 0 : (i > n ? n : i);
  };
  start = clamp(start);
  stop = clamp(stop);
  int64_t count = stop > start ? (stop - start + step - 1) / step : 0;
  Shape sh = shape(), st = strides();
  sh[0] = count;
  st[0] *= step;
  Tensor y = make_view(*this, sh, st, offset() + (count > 0 ? start * strides()[0] : 0));
  return record_view("slice", *this, y, [from = shape(), start, stop, step](const Tensor& g) {
    Tensor dx = zeros(from, g.dtype());
    dx.slice(start, stop, step).copy_(g);
    return dx;
  });
}

Tensor Tensor::t() const {
  LAMINA_CHECK_SHAPE(dim() == 2, "t: expected a 2-d tensor, got ", shape());
  Tensor y = make_view(*this, {shape()[1], shape()[0]}, {strides()[1], strides()[0]}, offset());
  return record_view("t", *this, y, [](const Tensor& g) { return g.t(); });
}

Tensor Tensor::select(int64_t index) const {
  LAMINA_CHECK_INDEX(dim() >= 1, "select: cannot index a 0-d tensor");
  int64_t n = shape()[0];
  LAMINA_CHECK_INDEX(index >= -n && index < n, "select: index ", index,
                     " is out of range for axis 0 of size ", n, " (shape ", shape(), ")");
  if (index < 0) index += n;
  Shape sh(shape().begin() + 1, shape().end()), st(strides().begin() + 1, strides().end());
  Tensor y = make_view(*this, sh, st, offset() + index * strides()[0]);
  return record_view("select", *this, y, [from = shape(), index](const Tensor& g) {
    Tensor dx = zeros(from, g.dtype());
    dx.select(index).copy_(g);
    return dx;
  });
}

// ---- copies -------------------------------------------------------------------------

// Visits every element of `shape` in row-major order, calling f(src_offset, dst_offset)
// for two stride sets. The index counter is advanced like an odometer.
template <class F>
static void for_each_offset(const Shape& shape, const Shape& sa, const Shape& sb, F f) {
  int64_t n = shape_numel(shape);
  if (n == 0) return;
  size_t d = shape.size();
  Shape idx(d, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t k = 0; k < n; ++k) {
    f(oa, ob);
    for (size_t i = d; i-- > 0;) {
      if (++idx[i] < shape[i]) {
        oa += sa[i];
        ob += sb[i];
        break;
      }
      oa -= sa[i] * (shape[i] - 1);
      ob -= sb[i] * (shape[i] - 1);
      idx[i] = 0;
    }
  }
}

// One element converted as NumPy's astype does. A float outside an integer's range (or
// NaN) has no defined C++ conversion; it becomes the integer's minimum, what x86's
// truncating conversion (and so NumPy there) gives.
template <class D, class S>
static inline D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    constexpr S lo = static_cast<S>(std::numeric_limits<D>::min());  // -2^31 or -2^63, exact
    return v >= lo && v < -lo ? static_cast<D>(v) : std::numeric_limits<D>::min();
  } else {
    return static_cast<D>(v);
  }
}

// The odometer runs over all but the last axis (or last two); the inner loops are plain.
// When the last two axes are a transposed pair (source stride 1 on the second-to-last),
// they go in 16 x 16 blocks so that both sides stay in cache (blocks of 32 would put 32
// source rows of a wide matrix, each a multiple of 4 KB apart, into one set of L1).
template <class S, class D>
static void copy_typed(const Tensor& src, const Tensor& dst) {
  const S* s = static_cast<const S*>(src.raw_data());
  D* d = static_cast<D*>(dst.raw_data());
  const Shape& sh = src.shape();
  const Shape& ss = src.strides();
  const Shape& ds = dst.strides();
  const size_t r = sh.size();
  if (r == 0) {
    d[0] = convert<D>(s[0]);
    return;
  }
  const int64_t n = sh[r - 1], sn = ss[r - 1], dn = ds[r - 1];
  if (r >= 2 && sn != 1 && ss[r - 2] == 1) {
    constexpr int64_t kBlock = 16;
    const int64_t m = sh[r - 2], dm = ds[r - 2];
    const Shape outer(sh.begin(), sh.end() - 2), so(ss.begin(), ss.end() - 2), dout(ds.begin(), ds.end() - 2);
    for_each_offset(outer, so, dout, [&](int64_t os, int64_t od) {
      for (int64_t i0 = 0; i0 < m; i0 += kBlock)
        for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
          const int64_t i1 = std::min(m, i0 + kBlock), j1 = std::min(n, j0 + kBlock);
          for (int64_t j = j0; j < j1; ++j) {  // the source runs along i
            const S* from = s + os + j * sn;
            D* to = d + od + j * dn;
            for (int64_t i = i0; i < i1; ++i) to[i * dm] = convert<D>(from[i]);
          }
        }
    });
    return;
  }
  const Shape outer(sh.begin(), sh.end() - 1), so(ss.begin(), ss.end() - 1), dout(ds.begin(), ds.end() - 1);
  for_each_offset(outer, so, dout, [&](int64_t os, int64_t od) {
    for (int64_t j = 0; j < n; ++j) d[od + j * dn] = convert<D>(s[os + j * sn]);
  });
}

Tensor& Tensor::copy_(const Tensor& src) {
  LAMINA_CHECK(src.defined(), "copy_: the source is undefined");
  LAMINA_CHECK_SHAPE(src.shape() == shape(), "copy_: source shape ", src.shape(),
                     " differs from destination shape ", shape());
  if (!inplace::must_record("copy_", *this, {&src})) return copy_data(src);
  return index_put_({}, src);  // the recorded form: the whole tensor is the indexed region
}

Tensor& Tensor::copy_data(const Tensor& src) {
  LAMINA_CHECK_SHAPE(src.shape() == shape(), "copy_: source shape ", src.shape(),
                     " differs from destination shape ", shape());
  check_device(device(), "copy_");
  check_device(src.device(), "copy_");
  if (numel() == 0) {
    // Nothing to copy; the strided loop would still walk the outer axes of, say, [2^40, 0].
  } else if (src.dtype() == dtype() && src.is_contiguous() && is_contiguous()) {
    std::memmove(raw_data(), src.raw_data(), static_cast<size_t>(numel()) * dtype_size(dtype()));
  } else {
    visit_dtype(src.dtype(), [&](auto s) {
      visit_dtype(dtype(), [&](auto d) { copy_typed<decltype(s), decltype(d)>(src, *this); });
    });
  }
  storage()->bump_version();
  return *this;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_data(*this);
  return record_view("clone", *this, out, [](const Tensor& g) { return g; });
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  Tensor out = empty(shape(), dtype, device());
  out.copy_data(*this);
  if (!is_floating(dtype)) return out;  // an integer result has no gradient
  return record_view("to", *this, out, [from = this->dtype()](const Tensor& g) { return g.to(from); });
}

template <class T>
static void fill_typed(const Tensor& t, double value) {
  T* p = static_cast<T*>(t.raw_data());
  T v = convert<T>(value);
  for_each_offset(t.shape(), t.strides(), t.strides(), [&](int64_t o, int64_t) { p[o] = v; });
}

Tensor& Tensor::fill_(double value) {
  check_device(device(), "fill_");
  const bool record = inplace::must_record("fill_", *this, {});
  visit_dtype(dtype(), [&](auto t) { fill_typed<decltype(t)>(*this, value); });
  storage()->bump_version();
  if (record) inplace::commit("fill_", *this, Tensor());  // constants: no gradient reaches the old values
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

// The element at a full index of t, as R (bounds-checked, naming op).
template <class R>
static R element_at(const char* op, const Tensor& t, const Shape& index) {
  check_device(t.device(), op);
  LAMINA_CHECK_INDEX(index.size() == t.shape().size(), op, ": index ", index, " has ", index.size(),
                     " entries for a tensor of shape ", t.shape());
  int64_t o = 0;
  for (size_t i = 0; i < index.size(); ++i) {
    LAMINA_CHECK_INDEX(index[i] >= 0 && index[i] < t.shape()[i], op, ": index ", index,
                       " is out of range for shape ", t.shape());
    o += index[i] * t.strides()[i];
  }
  return visit_dtype(t.dtype(), [&](auto z) { return static_cast<R>(static_cast<const decltype(z)*>(t.raw_data())[o]); });
}

static Shape only_element(const char* op, const Tensor& t) {
  LAMINA_CHECK_SHAPE(t.numel() == 1, op, ": needs a tensor with one element, got shape ", t.shape());
  return Shape(t.shape().size(), 0);
}

double Tensor::at(const Shape& index) const { return element_at<double>("at", *this, index); }

double Tensor::item() const { return element_at<double>("item", *this, only_element("item", *this)); }

int64_t Tensor::at_int(const Shape& index) const {
  LAMINA_CHECK_DTYPE(!is_floating(dtype()), "at_int: the tensor is ", dtype_name(dtype()),
                     ", not an integer or bool tensor");
  return element_at<int64_t>("at_int", *this, index);
}

int64_t Tensor::item_int() const {
  LAMINA_CHECK_DTYPE(!is_floating(dtype()), "item_int: the tensor is ", dtype_name(dtype()),
                     ", not an integer or bool tensor");
  return element_at<int64_t>("item_int", *this, only_element("item_int", *this));
}

}  // namespace lamina
