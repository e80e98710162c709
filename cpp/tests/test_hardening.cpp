// Hostile sizes, empty batches and loops bounded by parameters: a lamina error or a
// defined result, never a signal, a hang or a wrapped size (issue #22; the Python side is
// tests/test_hardening.py, each row in its own process).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lamina/net.hpp"
#include "lamina/ops.hpp"
#include "lamina/prototxt.hpp"
#include "messages.hpp"

namespace lamina {

// The limit restored after each test that changes it.
struct LimitGuard {
  uint64_t before = max_alloc_bytes();
  ~LimitGuard() { set_max_alloc_bytes(before); }
};

TEST(Hardening, SizesThatWrapAreShapeErrorsBeforeAllocation) {
  const Shape wraps{int64_t(1) << 31, int64_t(1) << 31};  // 2^62 floats: 2^64 bytes wrap to 0
  EXPECT_NE(message_of<ShapeError>([&] { Tensor::zeros(wraps); }).find("[2147483648, 2147483648]"),
            std::string::npos);
  EXPECT_THROW(checked_nbytes("rand", {int64_t(1) << 62}, DType::f32), ShapeError);
  EXPECT_THROW(checked_nbytes("op", {2, -1}, DType::f32), ShapeError);
  EXPECT_EQ(checked_nbytes("op", {3, 0, int64_t(1) << 62}, DType::f64), 0u);
  EXPECT_EQ(checked_nbytes("op", {}, DType::f64), 8u);
  // An empty tensor whose other extents multiply past 2^63 (native fuzz_binary: a BlobProto
  // of shape [0, 2^62, 3]): made, with defined strides (UBSan flagged their overflow).
  const Tensor empty = Tensor::empty({0, int64_t(1) << 62, 3});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.strides()[2], 1);
}

TEST(Hardening, TheAllocationLimitIsConfigurable) {
  LimitGuard guard;
  EXPECT_THROW(set_max_alloc_bytes(0), ValueError);
  set_max_alloc_bytes(1 << 20);
  EXPECT_EQ(max_alloc_bytes(), uint64_t(1) << 20);
  EXPECT_NO_THROW(Tensor::empty({512, 512}));  // exactly 1 MiB
  const std::string what = message_of<ShapeError>([] { Tensor::empty({513, 512}); });
  EXPECT_NE(what.find("[513, 512]"), std::string::npos) << what;
  EXPECT_NE(what.find("LAMINA_MAX_ALLOC_MB"), std::string::npos) << what;
}

TEST(Hardening, ScaleShiftRejectsAnAxisThatWouldWrap) {
  EXPECT_THROW(scale_shift(Tensor::full({}, 1.0), Tensor::full({1}, 1.0), Tensor(), INT64_MAX), ShapeError);
  EXPECT_THROW(scale_shift(Tensor::full({2, 3}, 1.0), Tensor::full({3}, 1.0), Tensor(), INT64_MIN), ShapeError);
}

// A window wider than the plane is clamped to it: the same result, computed at once.
TEST(Hardening, LrnWithinChannelClampsAHugeWindow) {
  const Tensor x = randn({2, 2, 2, 2}, 0, 1, DType::f64, 5);
  const int64_t size = (int64_t(1) << 31) - 1;
  const Tensor y = lrn(x, size, 1e-2, 0.75, 1.0, false);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 2; ++c) {
      double sq = 0;
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t w = 0; w < 2; ++w) sq += x.at({n, c, h, w}) * x.at({n, c, h, w});
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t w = 0; w < 2; ++w) {
          const double v = x.at({n, c, h, w});
          EXPECT_NEAR(y.at({n, c, h, w}), v * std::pow(1 + 1e-2 * sq / (double(size) * double(size)), -0.75), 1e-12);
        }
    }
}

TEST(Hardening, CopyOfAnEmptyTensorWithHugeOuterAxesIsImmediate) {
  const Tensor src = Tensor::empty({int64_t(1) << 40, 0, 4}).transpose(0, 1);
  const Tensor dst = src.contiguous();
  EXPECT_EQ(dst.shape(), Shape({0, int64_t(1) << 40, 4}));
}

TEST(Hardening, EmptyBatchLossesAreZero) {
  for (const char* type : {"HingeLoss", "MultinomialLogisticLoss", "Accuracy"}) {
    Net net = Net::from_text(std::string(R"(
      layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 0 dim: 3 } } }
      layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 0 } } }
      layer { name: "loss" type: ")") + type + R"(" bottom: "data" bottom: "label" top: "loss" })");
    net.forward();
    EXPECT_EQ(net.blob("loss").item(), 0.0) << type;
  }
}

TEST(Hardening, PrototxtStringsMustBeUtf8) {
  EXPECT_THROW(prototxt::parse("name: \"a\xff\"", "<t>"), PrototxtError);
  EXPECT_THROW(prototxt::parse("name: \"\\xe9\"", "<t>"), PrototxtError);
  EXPECT_NO_THROW(prototxt::parse("name: \"caf\xc3\xa9\"", "<t>"));
  const std::string what = message_of<PrototxtError>([] { prototxt::parse("\n\xe9", "<t>"); });
  EXPECT_NE(what.find("\\xe9"), std::string::npos) << what;
}

}  // namespace lamina
