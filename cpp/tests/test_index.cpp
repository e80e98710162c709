// Tensor::index / index_put_ (basic indexing for C++ embedders), the axis views, and the
// autograd rules of in-place writes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "lamina/lamina.hpp"
#include "messages.hpp"

namespace lamina {

namespace {

// 0, 1, 2, ... in row-major order, float64.
Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = static_cast<double>(i);
  return t;
}

#define EXPECT_MESSAGE(E, call, part) EXPECT_NE(message_of<E>([&] { call; }).find(part), std::string::npos) \
  << "'" << message_of<E>([&] { call; }) << "' lacks '" << part << "'"

Tensor leaf(const Shape& shape) { return iota(shape).set_requires_grad(); }

}  // namespace

TEST(Index, ItemsFollowPythonRulesAndGiveViews) {
  Tensor x = iota({2, 3, 4});
  // x[1, 1::2, None, ...] -> [1, 1, 4]: only row 1 of axis 1 (3 is past the end)
  Tensor v = x.index({1, Slice{1, std::nullopt, 2}, NewAxis{}, Ellipsis{}});
  EXPECT_EQ(v.shape(), (Shape{1, 1, 4}));
  EXPECT_EQ(v.storage(), x.storage());
  EXPECT_EQ(v.at({0, 0, 3}), 12 + 4 + 3);
  // x[..., -1]: the last column of every row
  Tensor c = x.index({Ellipsis{}, -1});
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.at({1, 2}), 23.0);
  // x[:, -2:, 1:-1]: negative bounds count from the end; bounds past the ends clamp
  Tensor s = x.index({Slice{}, Slice{-2, std::nullopt}, Slice{1, -1}});
  EXPECT_EQ(s.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(s.at({0, 0, 0}), 5.0);
  EXPECT_EQ(x.index({Slice{-100, 100}}).shape(), x.shape());
  EXPECT_EQ(x.index({Slice{3, 1}}).shape(), (Shape{0, 3, 4}));
  // x[0, 0, 0] is a 0-d view; x[()] is the whole tensor; an index of a strided view
  EXPECT_EQ(x.index({0, 0, 0}).dim(), 0);
  EXPECT_EQ(x.index({}).shape(), x.shape());
  Tensor p = x.permute({2, 0, 1}).index({Slice{std::nullopt, std::nullopt, 3}, 1});
  EXPECT_EQ(p.shape(), (Shape{2, 3}));
  EXPECT_EQ(p.at({1, 2}), 12 + 8 + 3);
}

TEST(Index, BadIndicesNameTheAxisIndexAndExtent) {
  Tensor x = iota({2, 3});
  EXPECT_MESSAGE(IndexError, x.index({0, 3}), "index 3 is out of bounds for axis 1 with size 3");
  EXPECT_MESSAGE(IndexError, x.index({-3}), "index -3 is out of bounds for axis 0 with size 2");
  EXPECT_MESSAGE(IndexError, x.index({0, 0, 0}), "too many indices for a tensor of shape [2, 3]");
  EXPECT_MESSAGE(IndexError, x.index({Ellipsis{}, Ellipsis{}}), "only one ellipsis");
  EXPECT_MESSAGE(ValueError, x.index({Slice{std::nullopt, std::nullopt, -1}}), "negative step");
  EXPECT_MESSAGE(ValueError, x.index({Slice{std::nullopt, std::nullopt, 0}}), "slice step cannot be zero");
  EXPECT_MESSAGE(IndexError, x.index({Tensor::zeros({2})}), "tensors used as indices must be int64, int32 or bool");
  EXPECT_MESSAGE(IndexError, x.index({0, arange(2, 4, 1, DType::i64)}), "index 3 is out of bounds for axis 1 with size 3");
  EXPECT_MESSAGE(IndexError, x.index({Tensor::zeros({3}, DType::b8)}), "the mask of shape [3] (item 0) does not match");
  EXPECT_MESSAGE(ShapeError, x.index_put_({0}, Tensor::zeros({2})),
                 "a value of shape [2] does not broadcast to the indexed shape [3] (index [0] of a tensor of shape [2, 3])");
}

TEST(Index, TensorItemsGatherAndPutAsPyTorch) {
  Tensor x = leaf({3, 4});
  const Tensor rows = arange(2, -1, -2, DType::i64);  // [2, 0]
  // x[[2, 0], 1::2] -> [2, 2]; x[:, [2, 0]][1] reads rows in place
  Tensor y = x.index({rows, Slice{1, std::nullopt, 2}});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.at({0, 1}), 11.0);
  EXPECT_EQ(y.at({1, 0}), 1.0);
  // a mask over both axes: the elements above 8 in row-major order
  Tensor big = greater(x.detach(), Tensor::full({}, 8.0, DType::f64));
  Tensor m = x.index({big});
  EXPECT_EQ(m.shape(), (Shape{3}));
  EXPECT_EQ(m.at({0}), 9.0);
  // x[[0, 2], :, None][..., [1]]: index tensors apart from each other put their axes first
  EXPECT_EQ(x.index({rows, NewAxis{}, rows}).shape(), (Shape{2, 1}));
  EXPECT_EQ(x.index({Slice{}, NewAxis{}, rows}).shape(), (Shape{3, 1, 2}));
  // backward: each picked element gets its gradient, a repeated one twice
  add(sum(y), sum(x.index({Slice{}, arange(1, 2, 1, DType::i64)}))).backward();
  EXPECT_EQ(x.grad().at({0, 1}), 2.0);  // picked by y and by the column
  EXPECT_EQ(x.grad().at({2, 3}), 1.0);
  EXPECT_EQ(x.grad().at({1, 0}), 0.0);
  // put: through a transposed view, into the base's storage
  Tensor z = iota({2, 3});
  z.t().index_put_({arange(0, 2, 1, DType::i64)}, 7.0);
  EXPECT_EQ(z.at({1, 0}), 7.0);
  EXPECT_EQ(z.at({1, 1}), 7.0);
  EXPECT_EQ(z.at({1, 2}), 5.0);
}

TEST(Index, BackwardScattersIntoZeros) {
  Tensor x = leaf({3, 4});
  Tensor y = x.index({Slice{1, std::nullopt}, Slice{std::nullopt, std::nullopt, 2}});  // [2, 2]
  sum(mul(y, iota({2, 2}))).backward();
  const double want[3][4] = {{0, 0, 0, 0}, {0, 0, 1, 0}, {2, 0, 3, 0}};
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(x.grad().at({i, j}), want[i][j]) << i << "," << j;
}

TEST(Index, PutBroadcastsReadsOverlapFirstAndBumpsTheVersion) {
  Tensor x = iota({3, 4});
  const uint64_t v0 = x.storage()->version();
  x.index_put_({Slice{}, 1}, -1.0);  // x[:, 1] = -1
  EXPECT_GT(x.storage()->version(), v0);
  EXPECT_EQ(x.at({2, 1}), -1.0);
  x.index_put_({0}, Tensor::full({1, 1, 4}, 7.0, DType::f32));  // leading extents of 1 dropped, f32 -> f64
  EXPECT_EQ(x.at({0, 3}), 7.0);
  x.index_put_({Slice{1, std::nullopt}}, x.index({Slice{std::nullopt, -1}}));  // x[1:] = x[:-1]
  EXPECT_EQ(x.at({1, 0}), 7.0);
  EXPECT_EQ(x.at({2, 0}), 4.0);  // row 1 as it was, not as just written
}

TEST(Index, RecordedPutSendsEachRegionItsGradient) {
  Tensor a = leaf({2, 3}), v = leaf({3});
  Tensor y = mul(a, Tensor::full({}, 2.0, DType::f64));  // a non-leaf
  y.index_put_({1}, v);                                 // y[1] = v: y's history is rewritten
  EXPECT_EQ(y.grad_fn()->name, "index_put_");
  sum(y).backward();
  EXPECT_EQ(a.grad().at({0, 0}), 2.0);
  EXPECT_EQ(a.grad().at({1, 2}), 0.0);  // overwritten: no gradient to the old values
  EXPECT_EQ(v.grad().at({2}), 1.0);
  // a buffer that did not require grad takes the value's history
  Tensor buf = Tensor::zeros({2, 3}, DType::f64);
  buf.index_put_({Slice{}, 0}, a.index({Slice{}, 2}));
  EXPECT_TRUE(buf.requires_grad());
  EXPECT_FALSE(buf.is_leaf());
}

TEST(Index, AxisViewsShareStorage) {
  Tensor x = iota({2, 1, 3});
  EXPECT_EQ(x.permute({2, 0, 1}).shape(), (Shape{3, 2, 1}));
  EXPECT_EQ(x.permute({2, 0, 1}).at({2, 1, 0}), 5.0);
  EXPECT_EQ(x.transpose(0, -1).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(x.movedim(0, 2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(x.squeeze().shape(), (Shape{2, 3}));
  EXPECT_EQ(x.squeeze({0, 1}).shape(), (Shape{2, 3}));  // axis 0 (extent 2) stays, as in PyTorch
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_TRUE(x.unsqueeze(1).is_contiguous());
  EXPECT_EQ(x.flatten(1).shape(), (Shape{2, 3}));
  EXPECT_EQ(x.flatten(1).storage(), x.storage());
  EXPECT_EQ(Tensor::full({}, 1.0).flatten().shape(), (Shape{1}));
  for (const Tensor& v : {x.permute({1, 2, 0}), x.squeeze(), x.unsqueeze(0), x.transpose(0, 1)})
    EXPECT_EQ(v.storage(), x.storage());
  EXPECT_EQ(stack({iota({2}), iota({2})}, 1).shape(), (Shape{2, 2}));
  EXPECT_MESSAGE(IndexError, x.unsqueeze(4), "unsqueeze: axis 4 is out of range [-4, 3]");
  EXPECT_MESSAGE(ValueError, x.permute({0, 0, 1}), "permute: axis 0 repeated");
  EXPECT_MESSAGE(ShapeError, stack({iota({2}), iota({3})}), "stack: tensor 1 has shape [3]");
}

TEST(InPlace, ArithmeticBroadcastsIntoStridedDestinations) {
  Tensor x = iota({3, 4});
  Tensor col = x.t();                 // a strided view, written through a temporary
  col.add_(Tensor::full({3}, 10.0, DType::f64));
  EXPECT_EQ(x.at({1, 2}), 16.0);      // x[1, 2] = 6 + 10
  x.mul_(2.0).sub_(1.0).div_(2.0).clamp_(std::nullopt, 15.0);  // x + 9.5, at most 15
  EXPECT_EQ(x.at({0, 1}), 1 + 9.5);
  EXPECT_EQ(x.at({2, 3}), 15.0);
  x.zero_();
  EXPECT_EQ(sum(x).item(), 0.0);
  EXPECT_MESSAGE(ShapeError, x.add_(Tensor::zeros({2, 3, 4}, DType::f64)), "add_: cannot broadcast [2, 3, 4] to [3, 4]");
  EXPECT_MESSAGE(DTypeError, x.add_(Tensor::zeros({4})), "add_: dtypes differ");
  EXPECT_MESSAGE(ValueError, x.clamp_(std::nullopt, std::nullopt), "clamp_: needs a lower bound");
}

TEST(InPlace, AutogradRules) {
  Tensor w = leaf({3});
  EXPECT_MESSAGE(AutogradError, w.add_(1.0), "add_: in-place write to a leaf tensor of shape [3] that requires grad");
  {
    NoGradGuard no_grad;
    w.add_(1.0);  // an optimizer step
  }
  // a tensor saved for backward, then written in place: its backward refuses
  Tensor s = sigmoid(w);
  Tensor loss = sum(s);
  s.mul_(2.0);
  EXPECT_MESSAGE(AutogradError, loss.backward(), "sigmoid: a tensor of shape [3] saved for its backward was modified");
  // a recorded write into a view rewrites its base's history; a view taken before the
  // writes reads the new history when next used
  Tensor h = mul(w, w);                      // w = [1, 2, 3]
  Tensor before = h.index({Slice{0, 2}});
  h.index({0}).mul_(w.index({2}));           // h[0] *= w[2]
  h.add_(w);                                 // h += w
  sum(before).backward();                    // (w0^2 w2 + w0) + (w1^2 + w1)
  EXPECT_EQ(w.grad().at({0}), 2 * 1 * 3 + 1.0);
  EXPECT_EQ(w.grad().at({1}), 2 * 2 + 1.0);
  EXPECT_EQ(w.grad().at({2}), 1 * 1.0);
  EXPECT_MESSAGE(AutogradError, w.index({0}).add_(1.0), "add_: in-place write to a view of a leaf tensor of shape [3]");
  // a base laid out column by column (an embedder's storage): its region maps no gradient
  Tensor store = Tensor::zeros({3, 3}, DType::f64);
  Tensor columns = Tensor::from_storage(store.storage(), {3, 3}, {1, 3}, 0, DType::f64);
  EXPECT_MESSAGE(AutogradError, columns.index({0}).copy_(w), "into a view of a non-contiguous tensor");
  {
    NoGradGuard no_grad;
    columns.index({0}).copy_(w);  // unrecorded writes go anywhere
  }
  EXPECT_EQ(store.at({2, 0}), 3.0);
}

}  // namespace lamina
