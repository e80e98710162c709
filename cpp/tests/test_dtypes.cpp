// int32, int64 and bool tensors: conversions, fills, exact reads, safetensors, and the float
// ops rejecting them by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "lamina/lamina.hpp"
#include "messages.hpp"
#include "lamina/safetensors.hpp"

namespace lamina {

namespace {

Tensor from_values(const std::vector<double>& v, DType dtype) {
  Tensor src = Tensor::empty({static_cast<int64_t>(v.size())}, DType::f64);
  for (size_t i = 0; i < v.size(); ++i) src.data<double>()[i] = v[i];
  return src.to(dtype);
}

}  // namespace

TEST(DTypes, SizesNamesAndTypes) {
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  EXPECT_EQ(dtype_size(DType::b8), 1u);
  EXPECT_STREQ(dtype_name(DType::i32), "int32");
  EXPECT_STREQ(dtype_name(DType::i64), "int64");
  EXPECT_STREQ(dtype_name(DType::b8), "bool");
  EXPECT_EQ(dtype_of<int32_t>::value, DType::i32);
  EXPECT_EQ(dtype_of<int64_t>::value, DType::i64);
  EXPECT_EQ(dtype_of<bool>::value, DType::b8);
  EXPECT_TRUE(is_floating(DType::f64));
  EXPECT_FALSE(is_floating(DType::i64));
  Tensor t = Tensor::zeros({3, 4}, DType::i64);
  EXPECT_EQ(t.storage()->nbytes(), 96u);
  EXPECT_EQ(t.data<int64_t>()[11], 0);
  EXPECT_THROW(t.data<float>(), DTypeError);
}

TEST(DTypes, FloatToIntegerTruncatesLikeNumPyAstype) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor i = from_values({2.9, -2.9, 0.5, -0.5, 1e30, nan}, DType::i32);
  const int32_t lo = std::numeric_limits<int32_t>::min();
  const int32_t want[] = {2, -2, 0, 0, lo, lo};
  for (int k = 0; k < 6; ++k) EXPECT_EQ(i.data<int32_t>()[k], want[k]) << k;
  Tensor l = from_values({-7.99, 1e300}, DType::i64);
  EXPECT_EQ(l.at_int({0}), -7);
  EXPECT_EQ(l.at_int({1}), std::numeric_limits<int64_t>::min());
}

TEST(DTypes, BoolIsNonzeroAndConvertsBackAsZeroOrOne) {
  Tensor b = from_values({0.0, -0.0, 0.25, -3.0, std::nan("")}, DType::b8);
  const bool want[] = {false, false, true, true, true};
  for (int k = 0; k < 5; ++k) EXPECT_EQ(b.data<bool>()[k], want[k]) << k;
  Tensor f = b.to(DType::f32);
  EXPECT_EQ(f.at({2}), 1.0);
  EXPECT_EQ(f.at({0}), 0.0);
  Tensor i = b.to(DType::i64);
  EXPECT_EQ(i.at_int({3}), 1);
  EXPECT_EQ(from_values({0, 5, -1}, DType::i32).to(DType::b8).to(DType::i32).at_int({2}), 1);
}

TEST(DTypes, IntegerConversionsAreExact) {
  Tensor big = Tensor::empty({2}, DType::i64);
  big.data<int64_t>()[0] = (int64_t(1) << 53) + 1;  // not a double
  big.data<int64_t>()[1] = (int64_t(1) << 32) + 5;
  EXPECT_EQ(big.at_int({0}), (int64_t(1) << 53) + 1);
  EXPECT_EQ(big.clone().at_int({0}), (int64_t(1) << 53) + 1);
  EXPECT_EQ(big.to(DType::i32).at_int({1}), 5);  // wraps, as NumPy
  EXPECT_EQ(big.select(1).item_int(), (int64_t(1) << 32) + 5);
  EXPECT_THROW(Tensor::zeros({1}).item_int(), DTypeError);
}

TEST(DTypes, FillFullCopyAndStridedCopies) {
  Tensor t = Tensor::full({2, 3}, 7.9, DType::i32);
  EXPECT_EQ(t.at_int({1, 2}), 7);
  t.fill_(-2);
  EXPECT_EQ(t.at({0, 0}), -2.0);
  Tensor b = Tensor::full({2}, 0.0, DType::b8);
  EXPECT_EQ(b.at_int({1}), 0);
  // A transposed int64 view copied into float32 and back.
  Tensor m = Tensor::empty({3, 2}, DType::i64);
  for (int64_t k = 0; k < 6; ++k) m.data<int64_t>()[k] = k;
  Tensor f = Tensor::empty({2, 3}, DType::f32);
  f.copy_(m.t());
  EXPECT_EQ(f.at({1, 2}), 5.0);
  EXPECT_EQ(m.t().contiguous().at_int({1, 0}), 1);
  EXPECT_EQ(m.t().contiguous().dtype(), DType::i64);
}

TEST(DTypes, OnlyFloatTensorsHaveGradients) {
  Tensor i = Tensor::zeros({2}, DType::i64);
  const std::string msg = message_of<DTypeError>([&] { i.set_requires_grad(); });
  EXPECT_NE(msg.find("int64"), std::string::npos) << msg;
  i.set_requires_grad(false);  // allowed: nothing changes
  Tensor x = Tensor::full({2}, 1.5).set_requires_grad();
  Tensor xi = x.to(DType::i32);
  EXPECT_FALSE(xi.requires_grad());  // no gradient through a cast to int
  Tensor xd = x.to(DType::f64);
  EXPECT_TRUE(xd.requires_grad());
  sum(xd).backward();
  EXPECT_EQ(x.grad().at({1}), 1.0);
}

TEST(DTypes, FloatOpsNameThemselvesAndTheDtype) {
  Tensor i = Tensor::zeros({2, 2}, DType::i64);
  Tensor b = Tensor::zeros({2, 2}, DType::b8);
  auto expect_named = [](const std::string& msg, const char* op, const char* dtype) {
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(dtype), std::string::npos) << msg;
  };
  expect_named(message_of<DTypeError>([&] { relu(i); }), "relu", "int64");
  expect_named(message_of<DTypeError>([&] { exp(b); }), "exp", "bool");
  expect_named(message_of<DTypeError>([&] { matmul(i, i); }), "matmul", "int64");
  expect_named(message_of<DTypeError>([&] { softmax(b, 1); }), "softmax", "bool");
  expect_named(message_of<DTypeError>([&] { mean(i); }), "mean", "int64");
  expect_named(message_of<DTypeError>([&] { pow(i, i); }), "pow", "int64");
  expect_named(message_of<DTypeError>([&] { rand({2}, 0, 1, DType::i32, 1); }), "rand", "int32");
  EXPECT_THROW(conv2d(Tensor::zeros({1, 1, 3, 3}, DType::i32), Tensor::zeros({1, 1, 1, 1}, DType::i32)), DTypeError);
  EXPECT_THROW(dropout(i, 0.5, true, 1), DTypeError);
}

TEST(DTypes, BinaryOpsPromoteAsPyTorch) {
  struct Row {
    DType a;
    Shape sa;
    DType b;
    Shape sb;
    DType want;
  };
  const Row rows[] = {
      {DType::i64, {2}, DType::f32, {2}, DType::f32},  {DType::i32, {2}, DType::i64, {2}, DType::i64},
      {DType::f32, {2}, DType::f64, {2}, DType::f64},  {DType::b8, {2}, DType::i32, {2}, DType::i32},
      {DType::f32, {2}, DType::f64, {}, DType::f32},   // a 0-d operand of the same kind does not decide
      {DType::i32, {2}, DType::i64, {}, DType::i32},   {DType::i32, {2}, DType::f64, {}, DType::f64},
      {DType::f64, {}, DType::i32, {}, DType::f64},    {DType::b8, {}, DType::i32, {2}, DType::i32},
  };
  for (const Row& r : rows) {
    const Tensor a = Tensor::full(r.sa, 3.0, r.a), b = Tensor::full(r.sb, 2.0, r.b);
    EXPECT_EQ(add(a, b).dtype(), r.want) << dtype_name(r.a) << " + " << dtype_name(r.b);
    EXPECT_EQ(mul(b, a).dtype(), r.want);
    EXPECT_EQ(greater(a, b).dtype(), DType::b8);
  }
  // true division: integers give float32
  const Tensor q = div(Tensor::full({2}, 7.0, DType::i64), Tensor::full({}, 2.0, DType::i32));
  EXPECT_EQ(q.dtype(), DType::f32);
  EXPECT_EQ(q.at({0}), 3.5);
  // the gradient reaches a float32 leaf through its promotion to float64
  Tensor x = Tensor::full({2}, 1.5).set_requires_grad();
  sum(mul(x, Tensor::full({2}, 4.0, DType::f64))).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f32);
  EXPECT_EQ(x.grad().at({0}), 4.0);
}

TEST(DTypes, DataMovementTakesAnyDtype) {
  Tensor m = Tensor::empty({2, 3}, DType::i32);
  for (int32_t k = 0; k < 6; ++k) m.data<int32_t>()[k] = k;
  Tensor c = concat({m, m}, 0);
  EXPECT_EQ(c.dtype(), DType::i32);
  EXPECT_EQ(c.at_int({3, 2}), 5);
  EXPECT_EQ(transpose(m).at_int({2, 1}), 5);
  EXPECT_EQ(slice(m, 1, 1, 3).at_int({1, 0}), 4);
  EXPECT_EQ(reshape(m, {3, 2}).at_int({2, 1}), 5);
}

TEST(DTypes, SafetensorsKeepIntegerAndBoolTensors) {
  Tensor i = Tensor::empty({3}, DType::i64);
  for (int64_t k = 0; k < 3; ++k) i.data<int64_t>()[k] = (int64_t(1) << 60) + k;
  Tensor j = from_values({-1, 2}, DType::i32);
  Tensor b = from_values({0, 1, 1, 0}, DType::b8).reshape({2, 2});
  const std::string path = ::testing::TempDir() + "lamina_dtypes.safetensors";
  save_safetensors(path, {{"i", i}, {"j", j}, {"b", b}});
  auto loaded = load_safetensors(path);
  std::remove(path.c_str());
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded[0].second.dtype(), DType::i64);
  EXPECT_EQ(loaded[0].second.at_int({2}), (int64_t(1) << 60) + 2);
  EXPECT_EQ(loaded[1].second.dtype(), DType::i32);
  EXPECT_EQ(loaded[1].second.at_int({0}), -1);
  EXPECT_EQ(loaded[2].second.dtype(), DType::b8);
  EXPECT_EQ(loaded[2].second.shape(), (Shape{2, 2}));
  EXPECT_EQ(loaded[2].second.at_int({1, 0}), 1);
}

TEST(DTypes, ComparisonsGiveBoolAndSumsCountInInt64) {
  Tensor x = from_values({1.5, -2, 3}, DType::f32);
  Tensor g = greater(x, Tensor::zeros({}, DType::f32));
  EXPECT_EQ(g.dtype(), DType::b8);
  EXPECT_EQ(g.at_int({1}), 0);
  Tensor n = sum(g);
  EXPECT_EQ(n.dtype(), DType::i64);
  EXPECT_EQ(n.item_int(), 2);
  Tensor i = from_values({4, 5, 6}, DType::i32);
  EXPECT_EQ(sum(less_equal(i, from_values({5}, DType::i32))).item_int(), 2);
  EXPECT_EQ(sum(mul(i, i)).item_int(), 16 + 25 + 36);
  EXPECT_EQ(neg(i).at_int({2}), -6);
  EXPECT_EQ(logical_not(g).at_int({1}), 1);
  EXPECT_EQ(sum(greater(x, i)).item_int(), 0);  // compared as float64 (promoted)
  EXPECT_THROW(mean(i), DTypeError);
  Tensor a = argmax(from_values({1, 7, 7, 0}, DType::f64).reshape({2, 2}), 1);
  EXPECT_EQ(a.dtype(), DType::i64);
  EXPECT_EQ(a.at_int({0}), 1);
  EXPECT_EQ(a.at_int({1}), 0);
}

TEST(DTypes, WhereIndexSelectGatherNonzero) {
  Tensor x = from_values({0, 1, 2, 3, 4, 5}, DType::f64).reshape({2, 3}).set_requires_grad();
  Tensor mask = greater(x.detach(), from_values({2}, DType::f64));
  Tensor w = where(mask, x, Tensor::zeros({}, DType::f64));
  EXPECT_EQ(w.at({1, 0}), 3.0);
  EXPECT_EQ(w.at({0, 2}), 0.0);
  Tensor idx = from_values({2, 2, 0}, DType::i64);
  Tensor s = index_select(x, 1, idx);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(s.at({1, 0}), 5.0);
  sum(s).backward();
  EXPECT_EQ(x.grad().at({0, 2}), 2.0);  // picked twice
  EXPECT_EQ(x.grad().at({0, 1}), 0.0);
  Tensor gi = from_values({1, 0}, DType::i32).reshape({2, 1});
  Tensor g = gather(x.detach(), 1, gi);
  EXPECT_EQ(g.shape(), (Shape{2, 1}));
  EXPECT_EQ(g.at({0, 0}), 1.0);
  EXPECT_EQ(g.at({1, 0}), 3.0);
  Tensor nz = nonzero(mask);
  EXPECT_EQ(nz.dtype(), DType::i64);
  EXPECT_EQ(nz.shape(), (Shape{3, 2}));
  EXPECT_EQ(nz.at_int({0, 0}), 1);
  EXPECT_EQ(nz.at_int({2, 1}), 2);
  const std::string msg = message_of<IndexError>([&] { index_select(x, 0, from_values({2}, DType::i64)); });
  EXPECT_NE(msg.find("index_select: index 2 is out of range for axis 0 of size 2"), std::string::npos) << msg;
  EXPECT_THROW(gather(x, 1, from_values({0.0}, DType::f32).reshape({1, 1})), DTypeError);
  EXPECT_THROW(where(x, x, x), DTypeError);
}

}  // namespace lamina
