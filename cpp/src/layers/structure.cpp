// Layers that move, combine or reduce blobs: Concat, Slice, Split, Eltwise, Flatten,
// Reshape, Crop, Tile, Reduction, ArgMax, Silence.
#include <algorithm>

#include "common.hpp"
#include "ops/metrics.hpp"

namespace lamina::layers {

namespace {

// Caffe's deprecated concat_dim/slice_dim stand in for axis when only they are given.
int64_t axis_or_dim(const schema::Params& p, const char* dim_field) {
  return !p.has("axis") && p.has(dim_field) ? p.get_int(dim_field) : p.get_int("axis");
}

Forward concat_forward(const LayerSpec& spec) {
  const int64_t axis = axis_or_dim(spec.param_message("concat_param"), "concat_dim");
  return [=](const Tensors& b) {
    if (b.size() == 1) return Tensors{b[0]};
    return Tensors{concat(b, canonical_axis(spec, axis, b[0].dim()))};
  };
}

Forward slice_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("slice_param");
  const int64_t axis_field = axis_or_dim(p, "slice_dim");
  const auto points = p.ints("slice_point");
  const int64_t tops = static_cast<int64_t>(spec.tops.size());
  if (!points.empty() && int64_t(points.size()) != tops - 1)
    spec.fail(std::to_string(points.size()) + " slice points for " + std::to_string(tops) + " tops", "slice_param");
  return [=](const Tensors& b) {
    const int64_t axis = canonical_axis(spec, axis_field, b[0].dim());
    const int64_t extent = b[0].size(axis);
    std::vector<int64_t> cuts{0};
    if (points.empty()) {
      if (extent % tops) spec.fail("cannot split " + std::to_string(extent) + " equally into " + std::to_string(tops) + " tops");
      for (int64_t k = 1; k <= tops; ++k) cuts.push_back(k * extent / tops);
    } else {
      for (auto q : points) cuts.push_back(q);
      cuts.push_back(extent);
    }
    Tensors out;
    for (int64_t k = 0; k < tops; ++k) {
      if (cuts[k + 1] <= cuts[k] || cuts[k + 1] > extent)
        spec.fail("slice points must increase inside the axis extent " + std::to_string(extent));
      out.push_back(slice(b[0], axis, cuts[k], cuts[k + 1]));
    }
    return out;
  };
}

Forward eltwise_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("eltwise_param");
  const std::string op = p.get_string("operation");
  const auto coeff = p.floats("coeff");
  if (!coeff.empty() && coeff.size() != spec.bottoms.size())
    spec.fail(std::to_string(coeff.size()) + " coefficients for " + std::to_string(spec.bottoms.size()) + " bottoms", "eltwise_param");
  if (!coeff.empty() && op != "SUM") spec.fail("coefficients apply to SUM only", "eltwise_param");
  return [=](const Tensors& b) {
    for (const auto& t : b)
      if (t.shape() != b[0].shape())
        spec.fail("bottoms must have one shape, got " + shape_str(b[0].shape()) + " and " + shape_str(t.shape()));
    auto term = [&](size_t k) { return coeff.empty() || coeff[k] == 1.0 ? b[k] : affine(b[k], coeff[k]); };
    Tensor y = term(0);
    for (size_t k = 1; k < b.size(); ++k) {
      if (op == "SUM") y = add(y, term(k));
      else if (op == "PROD") y = mul(y, b[k]);
      else y = add(y, relu(sub(b[k], y)));  // max(y, b): ties keep the earlier bottom, as Caffe routes them
    }
    return Tensors{y};
  };
}

Forward flatten_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("flatten_param");
  return [=](const Tensors& b) {
    const Shape& s = b[0].shape();
    const int64_t n = b[0].dim();
    const int64_t a = canonical_axis(spec, p.get_int("axis"), n), e = canonical_axis(spec, p.get_int("end_axis"), n, "end_axis");
    Shape out(s.begin(), s.begin() + a);
    out.push_back(span(s, a, e + 1));
    out.insert(out.end(), s.begin() + e + 1, s.end());
    return Tensors{b[0].reshape(out)};
  };
}

// Caffe's Reshape: shape.dim 0 copies the bottom's extent, -1 is inferred; the new dims
// replace the axes [axis, axis + num_axes) of the bottom.
Forward reshape_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("reshape_param");
  std::vector<int64_t> dims = p.get_message("shape").ints("dim");
  if (std::count(dims.begin(), dims.end(), -1) > 1) spec.fail("at most one dim may be -1", "reshape_param");
  return [=](const Tensors& b) {
    const Shape& s = b[0].shape();
    const int64_t n = b[0].dim();
    const int64_t start = canonical_axis(spec, p.get_int("axis"), n + 1);
    const int64_t num = p.get_int("num_axes");
    const int64_t end = num == -1 ? n : start + num;
    if (end > n) spec.fail("axis + num_axes exceeds the bottom's " + std::to_string(n) + " axes", "reshape_param");
    Shape out(s.begin(), s.begin() + start);
    int64_t inferred = -1;
    for (size_t k = 0; k < dims.size(); ++k) {
      if (dims[k] == 0) {
        if (start + int64_t(k) >= n) spec.fail("dim 0 copies an axis the bottom does not have", "reshape_param");
        out.push_back(s[start + k]);
      } else {
        if (dims[k] == -1) inferred = static_cast<int64_t>(out.size());
        out.push_back(dims[k]);
      }
    }
    out.insert(out.end(), s.begin() + end, s.end());
    if (inferred >= 0) {
      int64_t known = 1;
      for (size_t k = 0; k < out.size(); ++k)
        if (int64_t(k) != inferred) known *= out[k];
      if (known == 0 || b[0].numel() % known) spec.fail("cannot infer -1 reshaping " + shape_str(s));
      out[inferred] = b[0].numel() / known;
    }
    if (span(out, 0, int64_t(out.size())) != b[0].numel())
      spec.fail("cannot reshape " + shape_str(s) + " to " + shape_str(out));
    return Tensors{b[0].reshape(out)};
  };
}

// Crops bottom 0 to bottom 1's extents on the axes from `axis` on, starting at `offset`.
Forward crop_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("crop_param");
  const auto offsets = p.ints("offset");
  return [=](const Tensors& b) {
    const int64_t n = b[0].dim();
    const int64_t axis = canonical_axis(spec, p.get_int("axis"), n);
    if (b[1].dim() != n) spec.fail("bottoms must have as many axes: " + shape_str(b[0].shape()) + ", " + shape_str(b[1].shape()));
    if (offsets.size() > 1 && int64_t(offsets.size()) != n - axis)
      spec.fail("needs one offset or one per cropped axis", "crop_param");
    Tensor y = b[0];
    for (int64_t k = axis; k < n; ++k) {
      const int64_t off = offsets.empty() ? 0 : offsets[offsets.size() == 1 ? 0 : k - axis];
      if (off + b[1].size(k) > b[0].size(k))
        spec.fail("crop of " + std::to_string(b[1].size(k)) + " at offset " + std::to_string(off) + " exceeds axis " +
                  std::to_string(k) + " of " + shape_str(b[0].shape()));
      if (off != 0 || b[1].size(k) != b[0].size(k)) y = slice(y, k, off, off + b[1].size(k));
    }
    return Tensors{y};
  };
}

Forward tile_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("tile_param");
  const int64_t tiles = p.get_int("tiles");
  if (tiles < 1) spec.fail("needs tiles >= 1", "tile_param");
  return [=](const Tensors& b) {
    const int64_t axis = canonical_axis(spec, p.get_int("axis"), b[0].dim());
    // Caffe repeats the whole block from `axis` on: [x, x, ...] along axis.
    return Tensors{tiles == 1 ? b[0] : concat(Tensors(tiles, b[0]), axis)};
  };
}

Forward reduction_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("reduction_param");
  const std::string op = p.get_string("operation");
  const double coeff = p.get_float("coeff");
  return [=](const Tensors& b) {
    const int64_t n = b[0].dim();
    const int64_t axis = canonical_axis(spec, p.get_int("axis"), std::max<int64_t>(1, n));
    std::vector<int64_t> axes;
    for (int64_t k = axis; k < n; ++k) axes.push_back(k);
    const Tensor x = op == "ASUM" ? abs(b[0]) : op == "SUMSQ" ? square(b[0]) : b[0];
    Tensor y = op == "MEAN" ? mean(x, axes) : sum(x, axes);
    return Tensors{coeff == 1.0 ? y : affine(y, coeff)};
  };
}

// Indices (and with out_max_val the values) of the top_k scores, no gradient. Without an
// axis each sample's flattened scores are ranked and the top is [N, 1 or 2, top_k].
Forward argmax_forward(const LayerSpec& spec) {
  const auto p = spec.param_message("argmax_param");
  const int64_t k = p.get_int("top_k");
  const bool values = p.get_bool("out_max_val"), has_axis = p.has("axis");
  return [=](const Tensors& b) {
    const Tensor& x = b[0];
    const Shape& s = x.shape();
    const int64_t axis = has_axis ? canonical_axis(spec, p.get_int("axis"), x.dim()) : 1;
    const int64_t c = has_axis ? s[axis] : per_item(x);
    if (k > c) spec.fail("top_k " + std::to_string(k) + " exceeds " + std::to_string(c) + " candidates");
    if (has_axis) {
      const auto [indices, maxima] = top_k(x, k, axis);
      return Tensors{values ? maxima : indices};
    }
    const auto [indices, maxima] = top_k(x.reshape({s[0], c}), k, 1);
    const Shape row{s[0], 1, k};
    return Tensors{values ? concat({indices.reshape(row), maxima.reshape(row)}, 1) : indices.reshape(row)};
  };
}

}  // namespace

void register_structure(LayerRegistry& r) {
  add_function(r, LayerInfo{"Concat", 1, -1, 1, 1, false, false, {}}, concat_forward);
  add_function(r, LayerInfo{"Slice", 1, 1, 1, -1, false, false, {}}, slice_forward);
  add_function(r, LayerInfo{"Split", 1, 1, 1, -1, false, false, {}}, [](const LayerSpec& spec) -> Forward {
    const size_t n = spec.tops.size();
    return [n](const Tensors& b) { return Tensors(n, b[0]); };
  });
  add_function(r, LayerInfo{"Eltwise", 2, -1, 1, 1, false, false, {}}, eltwise_forward);
  add_function(r, LayerInfo{"Flatten", 1, 1, 1, 1, false, false, {}}, flatten_forward);
  add_function(r, LayerInfo{"Reshape", 1, 1, 1, 1, false, false, {}}, reshape_forward);
  add_function(r, LayerInfo{"Crop", 2, 2, 1, 1, false, false, {}}, crop_forward);
  add_function(r, LayerInfo{"Tile", 1, 1, 1, 1, false, false, {}}, tile_forward);
  add_function(r, LayerInfo{"Reduction", 1, 1, 1, 1, false, false, {}}, reduction_forward);
  add_function(r, LayerInfo{"ArgMax", 1, 1, 1, 1, false, false, {}}, argmax_forward);
  add_function(r, LayerInfo{"Silence", 1, -1, 0, 0, false, false, {}},
               [](const LayerSpec&) -> Forward { return [](const Tensors&) { return Tensors{}; }; });
}

}  // namespace lamina::layers
