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

Located locate(const char* op, const Tensor& x, const std::vector<IndexItem>& items) {
  int64_t consumed = 0, ellipses = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const IndexItem& it = items[k];
    LAMINA_CHECK_INDEX(it.kind() != IndexItem::Kind::tensor, op, ": indexing with a tensor (integer indices or a "
                       "mask), as item ", k, " ", it.repr(), " does, is not supported yet");
    consumed += it.kind() == IndexItem::Kind::integer || it.kind() == IndexItem::Kind::slice;
    ellipses += it.kind() == IndexItem::Kind::ellipsis;
  }
  LAMINA_CHECK_INDEX(ellipses <= 1, op, ": an index can have only one ellipsis (...)");
  LAMINA_CHECK_INDEX(consumed <= x.dim(), op, ": too many indices for a tensor of shape ", x.shape(), ": ", consumed,
                     " axes indexed");
  Located v{{}, {}, x.offset()};
  const Shape& shape = x.shape();
  const Shape& strides = x.strides();
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
        v.strides.push_back(axis < x.dim() ? shape[axis] * strides[axis] : 1);  // never stepped over
        break;
      case IndexItem::Kind::ellipsis:
        for (int64_t k = 0; k < x.dim() - consumed; ++k) keep(axis++);
        break;
      case IndexItem::Kind::tensor:
        break;  // refused above
    }
  }
  while (axis < x.dim()) keep(axis++);
  return v;
}

std::string index_str(const std::vector<IndexItem>& items) {
  std::string s;
  for (size_t k = 0; k < items.size(); ++k) s += (k ? ", " : "") + items[k].repr();
  return s;
}

}  // namespace

Tensor Tensor::index(const std::vector<IndexItem>& items) const {
  ops_detail::check_defined("index", *this);
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
  const Located v = locate(op, *this, items);
  // value's shape without leading extents of 1 the view does not have, read with stride 0
  // along the axes it broadcasts over.
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
  ops_detail::check_device(op, *this);
  ops_detail::check_device(op, value);
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
  from_storage(storage(), v.shape, v.strides, v.offset, dtype()).copy_data(src);
  if (record)
    inplace::record(op, *this, {*this, value},
                    [items, vshape, from = value.shape(), dtype = value.dtype(), x_needs = requires_grad(),
                     value_needs = value.requires_grad()](const std::vector<Tensor>& g) {
                      Tensor dx, dvalue;
                      if (x_needs) {  // the written region no longer depends on the old values
                        dx = g[0].clone();
                        dx.index(items).fill_(0.0);
                      }
                      if (value_needs) dvalue = sum_to(g[0].index(items), vshape).reshape(from).to(dtype);
                      return std::vector<Tensor>{dx, dvalue};
                    });
  return *this;
}

}  // namespace lamina
