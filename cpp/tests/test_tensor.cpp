#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "lamina/lamina.hpp"

namespace lamina {

// Fills t (contiguous) with 0, 1, 2, ... so views can be checked by value.
static Tensor iota(const Shape& shape, DType dtype = DType::f32) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::f32) t.data<float>()[i] = static_cast<float>(i);
    else t.data<double>()[i] = static_cast<double>(i);
  }
  return t;
}

TEST(Tensor, NewTensorsAreContiguousAlignedAndSized) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor t = Tensor::zeros({3, 5, 7}, dt);
    EXPECT_EQ(t.shape(), (Shape{3, 5, 7}));
    EXPECT_EQ(t.strides(), (Shape{35, 7, 1}));
    EXPECT_EQ(t.numel(), 105);
    EXPECT_EQ(t.dim(), 3);
    EXPECT_EQ(t.size(-1), 7);
    EXPECT_EQ(t.dtype(), dt);
    EXPECT_EQ(t.device(), Device::cpu);
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % Storage::kAlignment, 0u);
    EXPECT_EQ(t.storage()->nbytes(), 105 * dtype_size(dt));
    EXPECT_EQ(t.at({2, 4, 6}), 0.0);
  }
  Tensor f = Tensor::full({2, 2}, 2.5, DType::f64);
  EXPECT_EQ(f.at({1, 1}), 2.5);
}

TEST(Tensor, ScalarAndEmptyShapes) {
  Tensor s = Tensor::full({}, 4.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 4.0);
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_NE(e.raw_data(), nullptr);
}

TEST(Tensor, ReshapeIsAViewAndInfersMinusOne) {
  Tensor t = iota({4, 6});
  Tensor r = t.reshape({2, -1, 3});
  EXPECT_EQ(r.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(r.storage(), t.storage());
  EXPECT_EQ(r.at({1, 2, 1}), 1 * 12 + 2 * 3 + 1);
  r.fill_(7);
  EXPECT_EQ(t.at({3, 5}), 7.0);  // shared storage
}

TEST(Tensor, SliceAndSelectShareStorageWithPythonRules) {
  Tensor t = iota({5, 2});
  Tensor s = t.slice(1, 4);
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_EQ(s.storage(), t.storage());
  EXPECT_EQ(s.at({0, 0}), 2.0);
  EXPECT_TRUE(s.is_contiguous());
  Tensor stepped = t.slice(0, 5, 2);  // rows 0, 2, 4
  EXPECT_EQ(stepped.shape(), (Shape{3, 2}));
  EXPECT_FALSE(stepped.is_contiguous());
  EXPECT_EQ(stepped.at({2, 1}), 9.0);
  EXPECT_EQ(t.slice(-2, 100).shape(), (Shape{2, 2}));  // clamped like Python
  EXPECT_EQ(t.slice(4, 1).numel(), 0);
  Tensor row = t.select(-1);
  EXPECT_EQ(row.shape(), (Shape{2}));
  EXPECT_EQ(row.at({1}), 9.0);
}

TEST(Tensor, NonContiguousReshapeCopiesAndViewRefuses) {
  Tensor t = iota({6, 2});
  Tensor stepped = t.slice(0, 6, 2);
  Tensor r = stepped.reshape({6});
  EXPECT_NE(r.storage(), t.storage());
  EXPECT_EQ(r.at({2}), 4.0);
  EXPECT_EQ(r.at({5}), 9.0);
  EXPECT_THROW(stepped.view({6}), ShapeError);
}

TEST(Tensor, TransposeViewAndItsBlockedCopy) {
  Tensor t = iota({37, 21});  // not multiples of the copy's 16x16 blocks
  Tensor v = t.t();
  EXPECT_EQ(v.shape(), (Shape{21, 37}));
  EXPECT_EQ(v.storage(), t.storage());
  EXPECT_FALSE(v.is_contiguous());
  Tensor c = v.contiguous();  // the transposed pair of axes, copied in blocks
  EXPECT_TRUE(c.is_contiguous());
  for (int64_t i = 0; i < 21; ++i)
    for (int64_t j = 0; j < 37; ++j) ASSERT_EQ(c.at({i, j}), t.at({j, i})) << i << "," << j;
  try {
    iota({2, 3, 4}).t();
    FAIL() << "t() of a 3-d tensor did not throw";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("t: expected a 2-d tensor, got [2, 3, 4]"), std::string::npos) << e.what();
  }
}

TEST(Tensor, CopyConvertsDtypeAndBumpsVersion) {
  Tensor t = iota({3, 3});
  Tensor d = t.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.at({2, 2}), 8.0);
  uint64_t v = t.storage()->version();
  t.fill_(1);
  EXPECT_GT(t.storage()->version(), v);
  Tensor c = t.clone();
  EXPECT_NE(c.storage(), t.storage());
  EXPECT_EQ(c.at({1, 1}), 1.0);
}

TEST(Tensor, ViewsKeepStorageAlive) {
  Tensor view;
  {
    Tensor t = iota({4, 4});
    view = t.select(3);
  }
  EXPECT_EQ(view.at({3}), 15.0);
}

TEST(Tensor, WrappedStorageRunsItsRelease) {
  static float buffer[6] = {0, 1, 2, 3, 4, 5};
  bool released = false;
  {
    auto s = Storage::wrap(buffer, sizeof buffer, Device::cpu, [&] { released = true; });
    Tensor t = Tensor::from_storage(s, {2, 3}, {3, 1}, 0, DType::f32);
    EXPECT_EQ(t.at({1, 2}), 5.0);
  }
  EXPECT_TRUE(released);
}

TEST(Tensor, BadInputThrowsWithShapes) {
  Tensor t = iota({2, 3});
  try {
    t.reshape({4, 2});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "reshape: cannot reshape a tensor of shape [2, 3] (6 elements) into [4, 2] (8 elements)");
  }
  EXPECT_THROW(t.reshape({-1, -1}), ShapeError);
  EXPECT_THROW(t.select(2), IndexError);
  EXPECT_THROW(t.select(-3), IndexError);
  EXPECT_THROW(t.size(2), IndexError);
  EXPECT_THROW(t.slice(0, 2, 0), ValueError);
  EXPECT_THROW(t.data<double>(), DTypeError);
  EXPECT_THROW(t.at({0, 3}), IndexError);
  EXPECT_THROW(t.item(), ShapeError);
  EXPECT_THROW(Tensor::zeros({2, -1}), ShapeError);
  EXPECT_THROW(Tensor::zeros({INT64_MAX, 4}), ShapeError);
  EXPECT_THROW(Tensor::zeros({2}, DType::f32, Device::cuda), DeviceError);
  EXPECT_THROW(Tensor().shape(), ValueError);
  EXPECT_THROW(t.copy_(Tensor::zeros({3, 2})), ShapeError);
  // A view reaching outside its storage is refused before it can be used.
  EXPECT_THROW(Tensor::from_storage(t.storage(), {3, 3}, {3, 1}, 0, DType::f32), IndexError);
}

TEST(Tensor, HugeAllocationFailsCleanly) {
  // 2^60 bytes cannot be had: a clear error, not a crash.
  EXPECT_THROW(Tensor::empty({int64_t(1) << 58}, DType::f32), Error);
}

TEST(Tensor, Repr) {
  EXPECT_EQ(Tensor::zeros({2, 3}, DType::f64).repr(),
            "tensor([[0., 0., 0.],\n        [0., 0., 0.]], dtype=float64)");
  EXPECT_EQ(Tensor::full({}, 2.5).repr(), "tensor(2.5000, dtype=float32)");
  EXPECT_EQ(Tensor().repr(), "tensor(undefined)");
}

}  // namespace lamina

namespace lamina {

TEST(Tensor, FreedLargeBlocksAreReusedAndFreshDataIsZeroedByZeros) {
  void* first;
  {
    Tensor a = Tensor::full({1 << 16}, 3.0);  // 256 KiB: cached when freed
    first = a.raw_data();
  }
  Tensor b = Tensor::zeros({1 << 16});
  EXPECT_EQ(b.raw_data(), first);  // the same block, handed out again
  EXPECT_EQ(b.at({12345}), 0.0);   // zeros() still zeroes it
  empty_cache();
  Tensor small = Tensor::zeros({4});
  EXPECT_EQ(small.at({3}), 0.0);
}

}  // namespace lamina
