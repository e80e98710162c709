// The tape from C++: a diamond, a custom op recorded by an embedder, no_grad, freeing.
#include <gtest/gtest.h>

#include <cmath>

#include "lamina/lamina.hpp"

namespace lamina {

static Tensor leaf(std::initializer_list<double> values) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, DType::f64);
  int64_t i = 0;
  for (double v : values) t.data<double>()[i++] = v;
  return t.set_requires_grad(true);
}

TEST(Autograd, DiamondAccumulates) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = sum(add(mul(x, x), exp(x)));  // dy/dx = 2x + e^x
  y.backward();
  EXPECT_NEAR(x.grad().at({0}), 2.0 + std::exp(1.0), 1e-12);
  EXPECT_NEAR(x.grad().at({1}), 4.0 + std::exp(2.0), 1e-12);
}

// An op an embedder defines without touching lamina: y = x^3 with dy/dx = 3x^2.
static Tensor cube(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(mul(x, x), x);
  }
  if (autograd::needs_grad({&x}))
    autograd::record("cube", {x}, {y}, [sx = SavedTensor(x)](const std::vector<Tensor>& g) {
      const Tensor& xv = sx.get("cube");
      return std::vector<Tensor>{mul(g[0], affine(mul(xv, xv), 3.0))};
    });
  return y;
}

TEST(Autograd, CustomOpFromCppJoinsTheTape) {
  Tensor x = leaf({1.5, -2.0});
  Tensor y = sum(cube(tanh(x)));
  ASSERT_TRUE(y.requires_grad());
  y.backward();
  for (int i = 0; i < 2; ++i) {
    const double v = i == 0 ? 1.5 : -2.0, t = std::tanh(v);
    EXPECT_NEAR(x.grad().at({i}), 3 * t * t * (1 - t * t), 1e-12);
  }
}

TEST(Autograd, NoGradAndFreedGraphs) {
  Tensor x = leaf({0.5});
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(sigmoid(x).requires_grad());
  }
  Tensor y = sum(sigmoid(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_THROW(y.backward(), AutogradError);
  const double s = 1 / (1 + std::exp(-0.5));
  EXPECT_NEAR(x.grad().at({0}), 2 * s * (1 - s), 1e-12);
}

TEST(Autograd, GradOfInputsWithoutTouchingDotGrad) {
  Tensor x = leaf({3.0});
  Tensor w = leaf({2.0});
  std::vector<Tensor> g = grad({sum(mul(x, w))}, {x});
  EXPECT_DOUBLE_EQ(g[0].at({0}), 2.0);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, InPlaceWriteToSavedTensorIsCaught) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = exp(x);  // saves its output
  Tensor s = sum(y);
  y.fill_(0.0);
  try {
    s.backward();
    FAIL() << "no throw";
  } catch (const AutogradError& e) {
    EXPECT_NE(std::string(e.what()).find("exp: a tensor of shape [2] saved for its backward was modified"),
              std::string::npos);
  }
}

}  // namespace lamina

namespace lamina {

// The losses from C++: mse_loss's two-argument form is the mean, nll_loss's weighted mean
// divides by the labels' weights and its gradient is -w[label] / that sum at each label.
TEST(Losses, CppSignaturesAndWeightedMean) {
  Tensor a = leaf({1.0, 2.0}), b = leaf({0.0, 4.0});
  EXPECT_DOUBLE_EQ(mse_loss(a, b).item(), 2.5);
  EXPECT_DOUBLE_EQ(mse_loss(a, b, Reduction::sum).item(), 5.0);
  Tensor x = leaf({-1.0, -2.0, -3.0, -4.0}), logp = x.reshape({2, 2});
  Tensor labels = Tensor::empty({2}, DType::i64), weight = Tensor::empty({2}, DType::f64);
  labels.data<int64_t>()[0] = 1, labels.data<int64_t>()[1] = 0;
  weight.data<double>()[0] = 3, weight.data<double>()[1] = 1;
  Tensor loss = nll_loss(logp, labels, weight);
  EXPECT_DOUBLE_EQ(loss.item(), (1 * 2.0 + 3 * 3.0) / 4);
  loss.backward();
  const double want[] = {0.0, -1.0 / 4, -3.0 / 4, 0.0};
  for (int64_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(x.grad().at({i}), want[i]);
  EXPECT_EQ(reduction_from_name("nll_loss", "batchmean"), Reduction::batch_mean);
  EXPECT_THROW(reduction_from_name("nll_loss", "avg"), ValueError);
  EXPECT_THROW(nll_loss(logp, labels, weight, -100, Reduction::batch_mean), ValueError);
  EXPECT_THROW(nll_loss(logp, labels.to(DType::f64), weight), DTypeError);  // labels are integers
}

}  // namespace lamina
