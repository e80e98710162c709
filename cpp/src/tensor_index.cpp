// Basic indexing (Tensor::index: a view) and assignment through an index (index_put_).
#include <algorithm>
#include <string>

#include "ops/common.hpp"
#include "tensor_impl.hpp"

namespace lamina {

std::string IndexItem::repr() const {
  switch (kind_) {
    case Kind::integer:
      return std::to_string(integer_);
    case Kind::slice: {
      auto part = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string(); };
      return part(slice_.start) + ":" + part(slice_.stop) + (slice_.step ? ":" + part(slice_.step) : "");
    }
    case Kind::new_axis:
      return "None";
    case Kind::ellipsis:
      return "...";
    case Kind::tensor:
      return tensor_.repr();
  }
  return "?";
}

namespace {

// Where the items put the view: its shape, strides and offset in x's storage.
struct Located {
  Shape shape, strides;
  int64_t offset;
};

Located locate(const char* op, const Shape& shape, const Shape& strides, int64_t offset,
               const std::vector<IndexItem>& items) {
  const int64_t ndim = static_cast<int64_t>(shape.size());
  int64_t consumed = 0, ellipses = 0;
  for (const IndexItem& it : items) {
    consumed += it.kind() == IndexItem::Kind::integer || it.kind() == IndexItem::Kind::slice;
    ellipses += it.kind() == IndexItem::Kind::ellipsis;
  }
  LAMINA_CHECK_INDEX(ellipses <= 1, op, ": an index can have only one ellipsis (...)");
  LAMINA_CHECK_INDEX(consumed <= ndim, op, ": too many indices for a tensor of shape ", shape, ": ", consumed,
                     " axes indexed");
  Located v{{}, {}, offset};
  int64_t axis = 0;
  auto keep = [&](int64_t a) {
    v.shape.push_back(shape[a]);
    v.strides.push_back(strides[a]);
  };
  for (const IndexItem& it : items) {
    switch (it.kind()) {
      case IndexItem::Kind::integer: {
        const int64_t n = shape[axis];
        int64_t i = it.integer();
        LAMINA_CHECK_INDEX(i >= -n && i < n, op, ": index ", i, " is out of bounds for axis ", axis, " with size ", n,
                           " (tensor of shape ", shape, ")");
        if (i < 0) i += n;
        v.offset += i * strides[axis];
        ++axis;
        break;
      }
      case IndexItem::Kind::slice: {
        const Slice& s = it.slice();
        const int64_t step = s.step.value_or(1);
        LAMINA_CHECK(step != 0, op, ": slice step cannot be zero");
        LAMINA_CHECK(step > 0, op, ": slice ", it.repr(), " on axis ", axis, " has a negative step; only positive "
                     "steps are supported (as in PyTorch)");
        const int64_t n = shape[axis];
        // Python's rules: negative bounds count from the end, then clamp to [0, n].
        auto bound = [n](std::optional<int64_t> b, int64_t absent) {
          int64_t i = b.value_or(absent);
          if (i < 0) i += n;
          return i < 0 ? 0 : (i > n ? n : i);
        };
        const int64_t start = bound(s.start, 0), stop = bound(s.stop, n);
        const int64_t count = stop > start ? (stop - start + step - 1) / step : 0;
        v.shape.push_back(count);
        v.strides.push_back(strides[axis] * step);
        if (count > 0) v.offset += start * strides[axis];
        ++axis;
        break;
      }
      case IndexItem::Kind::new_axis:
        v.shape.push_back(1);
        v.strides.push_back(axis < ndim ? shape[axis] * strides[axis] : 1);  // never stepped over
        break;
      case IndexItem::Kind::ellipsis:
        for (int64_t k = 0; k < ndim - consumed; ++k) keep(axis++);
        break;
      case IndexItem::Kind::tensor:
        break;  // Advanced replaces them by slices first
    }
  }
  while (axis < ndim) keep(axis++);
  return v;
}

Located locate(const char* op, const Tensor& x, const std::vector<IndexItem>& items) {
  return locate(op, x.shape(), x.strides(), x.offset(), items);
}

bool has_tensor(const std::vector<IndexItem>& items) {
  return std::any_of(items.begin(), items.end(),
                     [](const IndexItem& it) { return it.kind() == IndexItem::Kind::tensor; });
}

// An index with tensor items taken apart: `basic` is the index with each tensor item
// replaced by whole slices over the axes it covers (one for an integer tensor, one per
// axis of a mask); each pick is an int64 index (a mask contributes its nonzero
// positions, one column per axis) into axis `view_axis` of basic's view, which is axis
// `x_axis` of the tensor.
struct Advanced {
  struct Pick {
    int64_t view_axis, x_axis;
    Tensor index;
  };
  std::vector<IndexItem> basic;
  std::vector<Pick> picks;
};

Advanced take_apart(const char* op, const Shape& shape, const std::vector<IndexItem>& items) {
  const int64_t ndim = static_cast<int64_t>(shape.size());
  int64_t consumed = 0;
  for (const IndexItem& it : items) {
    if (it.kind() == IndexItem::Kind::tensor)
      consumed += it.tensor().dtype() == DType::b8 ? it.tensor().dim() : 1;
    else
      consumed += it.kind() == IndexItem::Kind::integer || it.kind() == IndexItem::Kind::slice;
  }
  Advanced a;
  int64_t x_axis = 0, view_axis = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const IndexItem& it = items[k];
    switch (it.kind()) {
      case IndexItem::Kind::integer:
        ++x_axis;
        break;
      case IndexItem::Kind::slice:
        ++x_axis;
        ++view_axis;
        break;
      case IndexItem::Kind::new_axis:
        ++view_axis;
        break;
      case IndexItem::Kind::ellipsis: {
        const int64_t n = std::max<int64_t>(0, ndim - consumed);
        x_axis += n;
        view_axis += n;
        break;
      }
      case IndexItem::Kind::tensor: {
        const Tensor& t = it.tensor();
        ops_detail::check_defined(op, t, "index");
        if (t.dtype() == DType::b8) {
          LAMINA_CHECK_INDEX(t.dim() >= 1, op, ": a 0-d bool index (item ", k, ") is not supported");
          bool fits = x_axis + t.dim() <= ndim;
          for (int64_t d = 0; fits && d < t.dim(); ++d) fits = t.size(d) == shape[x_axis + d];
          LAMINA_CHECK_INDEX(fits, op, ": the mask of shape ", t.shape(), " (item ", k,
                             ") does not match the indexed tensor's shape ", shape, " at axis ", x_axis);
          const Tensor where_true = nonzero(t);  // [N, t.dim()]
          for (int64_t d = 0; d < t.dim(); ++d) {
            a.picks.push_back({view_axis, x_axis, where_true.index({Slice{}, d}).contiguous()});
            a.basic.push_back(Slice{});
            ++x_axis;
            ++view_axis;
          }
          continue;
        }
        LAMINA_CHECK_INDEX(t.dtype() == DType::i64 || t.dtype() == DType::i32, op,
                           ": tensors used as indices must be int64, int32 or bool, got ", dtype_name(t.dtype()),
                           " (item ", k, ")");
        a.picks.push_back({view_axis, x_axis, t.detach().to(DType::i64)});
        a.basic.push_back(Slice{});
        ++x_axis;
        ++view_axis;
        continue;
      }
    }
    a.basic.push_back(it);
  }
  return a;
}

// The element offsets (offset + sum of i_d * strides[d]) of what x[items] picks from a
// tensor of this shape and these strides, as an int64 tensor of the result's shape.
// NumPy's and PyTorch's rule places the result's axes: the index tensors, broadcast
// together to B, give B's axes in place of the axes they pick from when those are adjacent
// in the view, in front otherwise; the view's other axes keep their order.
Tensor element_offsets(const char* op, const Shape& shape, const Shape& strides, int64_t offset, const Advanced& a) {
  const Located v = locate(op, shape, strides, offset, a.basic);
  Shape B = a.picks.front().index.shape();
  for (const Advanced::Pick& p : a.picks) B = broadcast_shape(op, B, p.index.shape());
  bool adjacent = true;
  for (size_t i = 0; i < a.picks.size(); ++i) adjacent = adjacent && a.picks[i].view_axis == a.picks[0].view_axis + int64_t(i);
  std::vector<int64_t> rest;  // the view's axes no index picks from, in order
  for (int64_t d = 0; d < static_cast<int64_t>(v.shape.size()); ++d)
    if (std::none_of(a.picks.begin(), a.picks.end(), [d](const Advanced::Pick& p) { return p.view_axis == d; }))
      rest.push_back(d);
  const int64_t lead = adjacent ? a.picks[0].view_axis : 0;  // rest axes before B's
  const int64_t nb = static_cast<int64_t>(B.size()), nd = static_cast<int64_t>(rest.size()) + nb;
  auto scalar = [](int64_t value) { return Tensor::full({}, static_cast<double>(value), DType::i64); };
  Tensor at = scalar(v.offset);
  for (const Advanced::Pick& p : a.picks) {
    const int64_t n = v.shape[p.view_axis];
    Tensor i = p.index;
    const Tensor outside = nonzero(logical_or(less(i, scalar(-n)), greater_equal(i, scalar(n))).reshape({-1}));
    LAMINA_CHECK_INDEX(outside.size(0) == 0, op, ": index ",
                       outside.size(0) ? i.contiguous().reshape({-1}).at_int({outside.at_int({0, 0})}) : 0,
                       " is out of bounds for axis ", p.x_axis, " with size ", n, " (tensor of shape ", shape, ")");
    i = where(less(i, scalar(0)), add(i, scalar(n)), i);
    Shape placed(static_cast<size_t>(nd), 1);  // i's axes aligned right within B's place
    for (int64_t d = 0; d < i.dim(); ++d) placed[lead + nb - i.dim() + d] = i.size(d);
    at = add(at, mul(i, scalar(v.strides[p.view_axis])).reshape(placed));
  }
  for (size_t r = 0; r < rest.size(); ++r) {
    const int64_t out_axis = static_cast<int64_t>(r) < lead ? static_cast<int64_t>(r) : static_cast<int64_t>(r) + nb;
    Shape placed(static_cast<size_t>(nd), 1);
    placed[out_axis] = v.shape[rest[r]];
    const Tensor steps = arange(0, static_cast<double>(v.shape[rest[r]]), 1, DType::i64);
    at = add(at, mul(steps, scalar(v.strides[rest[r]])).reshape(placed));
  }
  Shape result = B;
  for (size_t r = 0; r < rest.size(); ++r)
    result.insert(static_cast<int64_t>(r) < lead ? result.begin() + static_cast<int64_t>(r) : result.end(),
                  v.shape[rest[r]]);
  return at.shape() == result ? at : expand(at, result);
}

std::string index_str(const std::vector<IndexItem>& items) {
  std::string s;
  for (size_t k = 0; k < items.size(); ++k) s += (k ? ", " : "") + items[k].repr();
  return s;
}

}  // namespace

Tensor Tensor::index(const std::vector<IndexItem>& items) const {
  ops_detail::check_defined("index", *this);
  if (has_tensor(items)) {  // a gather from the flat tensor (its backward: a scatter-add)
    const Tensor at = element_offsets("index", shape(), contiguous_strides(shape()), 0, take_apart("index", shape(), items));
    return index_select(reshape({-1}), 0, at.reshape({-1})).reshape(at.shape());
  }
  const Located v = locate("index", *this, items);
  return record_view("index", *this, make_view(*this, v.shape, v.strides, v.offset),
                     [items, from = shape()](const Tensor& g) {
                       Tensor dx = zeros(from, g.dtype());
                       dx.index(items).copy_(g);
                       return dx;
                     });
}

Tensor& Tensor::index_put_(const std::vector<IndexItem>& items, double value) {
  ops_detail::check_defined("index_put_", *this);
  return index_put_(items, full({}, value, dtype()));
}

Tensor& Tensor::index_put_(const std::vector<IndexItem>& items, const Tensor& value) {
  const char* op = "index_put_";
  ops_detail::check_defined(op, *this);
  ops_detail::check_defined(op, value, "value");
  // The written region: a strided view for basic items; for tensor items the element
  // offsets it covers (`at`, in the region's shape).
  const bool advanced = has_tensor(items);
  Located v{};
  Advanced parts;
  Tensor at;
  if (advanced) {
    parts = take_apart(op, shape(), items);
    at = element_offsets(op, shape(), strides(), offset(), parts);
    v.shape = at.shape();
  } else {
    v = locate(op, *this, items);
  }
  // value's shape without leading extents of 1 the region does not have, read with stride
  // 0 along the axes it broadcasts over.
  Shape vshape = value.shape(), vstrides = value.strides();
  while (vshape.size() > v.shape.size() && vshape.front() == 1) {
    vshape.erase(vshape.begin());
    vstrides.erase(vstrides.begin());
  }
  const size_t lead = v.shape.size() - std::min(v.shape.size(), vshape.size());
  bool fits = vshape.size() <= v.shape.size();
  Shape src_strides(v.shape.size(), 0);
  for (size_t i = 0; fits && i < vshape.size(); ++i) {
    fits = vshape[i] == v.shape[lead + i] || vshape[i] == 1;
    if (vshape[i] != 1) src_strides[lead + i] = vstrides[i];
  }
  LAMINA_CHECK_SHAPE(fits, op, ": a value of shape ", value.shape(), " does not broadcast to the indexed shape ", v.shape,
                     " (index [", index_str(items), "] of a tensor of shape ", shape(), ")");
  ops_detail::check_any_device(op, *this);
  ops_detail::check_any_device(op, value);
  const bool record = inplace::must_record(op, *this, {&value});
  if (record && inplace::is_view(*this)) {  // computed out of place, then committed to the base
    Tensor r = inplace::current(*this).clone();
    r.index_put_(items, value);
    {
      NoGradGuard no_grad;
      copy_data(r);
    }
    inplace::commit(op, *this, r);
    return *this;
  }
  Tensor src = from_storage(value.storage(), v.shape, src_strides, value.offset(), value.dtype());
  if (value.storage() == storage()) src = src.clone();  // read it all before writing (x[1:] = x[:-1])
  if (advanced) {
    src = src.to(dtype()).contiguous();
    const Tensor offsets = at.contiguous();
    visit_dtype(dtype(), [&](auto t) {
      using T = decltype(t);
      ops_detail::kernels_for<T>(op, *this).put(static_cast<T*>(storage()->data()), offsets.data<int64_t>(),
                                                offsets.numel(), src.data<T>());
    });
    storage()->bump_version();
  } else {
    from_storage(storage(), v.shape, v.strides, v.offset, dtype()).copy_data(src);
  }
  if (record) {
    // The gradient's layout is row-major, so a written element's position in it comes
    // from the same items over contiguous strides.
    const Tensor flat_at =
        advanced ? element_offsets(op, shape(), contiguous_strides(shape()), 0, parts).reshape({-1}) : Tensor();
    inplace::record(op, *this, {*this, value},
                    [items, flat_at, region = v.shape, vshape, from = value.shape(), dtype = value.dtype(),
                     x_needs = requires_grad(), value_needs = value.requires_grad()](const std::vector<Tensor>& g) {
                      Tensor dx, dvalue;
                      if (flat_at.defined()) {
                        const Tensor flat = g[0].reshape({-1});
                        if (x_needs) {  // the written region no longer depends on the old values
                          dx = g[0].clone();
                          dx.reshape({-1}).index_put_({flat_at}, 0.0);
                        }
                        if (value_needs) dvalue = sum_to(index_select(flat, 0, flat_at).reshape(region), vshape);
                      } else {
                        if (x_needs) {
                          dx = g[0].clone();
                          dx.index(items).fill_(0.0);
                        }
                        if (value_needs) dvalue = sum_to(g[0].index(items), vshape);
                      }
                      if (dvalue.defined()) dvalue = dvalue.reshape(from).to(dtype);
                      return std::vector<Tensor>{dx, dvalue};
                    });
  }
  return *this;
}

}  // namespace lamina
