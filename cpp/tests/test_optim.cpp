// lamina::optim as an embedder uses it: each rule against its formula written out here (in
// double), PyTorch's and Caffe's forms where they differ, clipping, L1, frozen and
// gradient-less parameters, state that resumes bit-identically, the policies, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lamina/optim.hpp"

namespace lamina {

namespace {

using optim::GroupOptions;
using optim::Optimizer;
using optim::Rule;

Tensor vec(const std::vector<double>& v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::f64);
  for (size_t i = 0; i < v.size(); ++i) t.data<double>()[i] = v[i];
  return t;
}

std::vector<double> values(const Tensor& t) {
  return std::vector<double>(t.data<double>(), t.data<double>() + t.numel());
}

// The gradient of sum(w^3) / 3 (w^2): curved, so the history matters.
void set_cube_grad(Tensor& w) {
  Tensor g = Tensor::empty(w.shape(), DType::f64);
  for (int64_t i = 0; i < w.numel(); ++i) g.data<double>()[i] = w.data<double>()[i] * w.data<double>()[i];
  w.set_grad(g);
}

optim::Options options(Rule rule) {
  optim::Options o;
  o.rule = rule;
  return o;
}

// Runs `steps` updates of w0 under `rule`, with lr changing per step as lr_at(k).
template <class LrAt>
std::vector<double> run(Rule rule, GroupOptions g, optim::Options o, const std::vector<double>& w0, int steps, LrAt lr_at) {
  o.rule = rule;
  Tensor w = vec(w0);
  Optimizer opt({{{w}, g}}, o);
  for (int k = 0; k < steps; ++k) {
    g.lr = lr_at(k);
    opt.set_group_options(0, g);
    set_cube_grad(w);
    opt.step();
  }
  return values(w);
}

const std::vector<double> kW0 = {0.5, -1.25, 2.0};
double lr_schedule(int k) { return 0.1 * std::pow(0.7, k); }

}  // namespace

TEST(Optim, SgdMomentumCaffeAndTorchFormsByHand) {
  GroupOptions g;
  g.momentum = 0.9;
  g.weight_decay = 0.01;
  for (bool torch : {false, true}) {
    optim::Options o;
    o.torch_momentum = torch;
    const auto got = run(Rule::sgd, g, o, kW0, 4, lr_schedule);
    for (size_t i = 0; i < kW0.size(); ++i) {
      double w = kW0[i], v = 0;
      for (int k = 0; k < 4; ++k) {
        const double grad = w * w + 0.01 * w, lr = lr_schedule(k);
        if (torch) {
          v = 0.9 * v + grad;
          w -= lr * v;
        } else {
          v = 0.9 * v + lr * grad;
          w -= v;
        }
      }
      EXPECT_NEAR(got[i], w, 1e-12) << (torch ? "torch" : "caffe") << " element " << i;
    }
  }
}

TEST(Optim, NesterovCaffeAndTorchAgreeAtConstantLr) {
  GroupOptions g;
  g.momentum = 0.8;
  optim::Options caffe, torch;
  torch.torch_momentum = true;
  const auto constant = [](int) { return 0.05; };
  const auto a = run(Rule::nesterov, g, caffe, kW0, 6, constant), b = run(Rule::nesterov, g, torch, kW0, 6, constant);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12);
  // With a schedule they part: Caffe's velocity keeps the old rates.
  const auto c = run(Rule::nesterov, g, caffe, kW0, 6, lr_schedule), d = run(Rule::nesterov, g, torch, kW0, 6, lr_schedule);
  EXPECT_GT(std::abs(c[2] - d[2]), 1e-6);
}

TEST(Optim, AdamEpsilonPlacementAndAdamWDecoupledDecayByHand) {
  GroupOptions g;
  g.lr = 0.01;
  g.momentum = 0.9;
  g.momentum2 = 0.99;
  g.delta = 1e-3;  // large, so its placement shows
  g.weight_decay = 0.1;
  for (Rule rule : {Rule::adam, Rule::adamw})
    for (bool torch : {false, true}) {
      optim::Options o;
      o.torch_eps = torch;
      const auto got = run(rule, g, o, kW0, 5, [](int) { return 0.01; });
      for (size_t i = 0; i < kW0.size(); ++i) {
        double w = kW0[i], m = 0, v = 0;
        for (int t = 1; t <= 5; ++t) {
          double grad = w * w;
          if (rule == Rule::adamw) w *= 1 - 0.01 * 0.1;
          else grad += 0.1 * w;
          m = 0.9 * m + 0.1 * grad;
          v = 0.99 * v + 0.01 * grad * grad;
          const double c1 = 1 - std::pow(0.9, t), c2 = 1 - std::pow(0.99, t);
          w -= torch ? 0.01 / c1 * m / (std::sqrt(v) / std::sqrt(c2) + 1e-3)
                     : 0.01 * std::sqrt(c2) / c1 * m / (std::sqrt(v) + 1e-3);
        }
        EXPECT_NEAR(got[i], w, 1e-12) << optim::rule_name(rule) << (torch ? " torch" : " caffe");
      }
    }
}

TEST(Optim, AdaGradRmsPropAdaDeltaByHand) {
  GroupOptions g;
  g.lr = 0.05;
  g.momentum = 0.95;  // AdaDelta's rho
  g.rms_decay = 0.9;
  g.delta = 1e-6;
  for (Rule rule : {Rule::adagrad, Rule::rmsprop, Rule::adadelta}) {
    GroupOptions r = g;
    if (rule != Rule::adadelta) r.momentum = 0;
    const auto got = run(rule, r, {}, kW0, 5, [](int) { return 0.05; });
    for (size_t i = 0; i < kW0.size(); ++i) {
      double w = kW0[i], h = 0, h2 = 0;
      for (int k = 0; k < 5; ++k) {
        const double grad = w * w;
        if (rule == Rule::adagrad) {
          h += grad * grad;
          w -= 0.05 * grad / (std::sqrt(h) + 1e-6);
        } else if (rule == Rule::rmsprop) {
          h = 0.9 * h + 0.1 * grad * grad;
          w -= 0.05 * grad / (std::sqrt(h) + 1e-6);
        } else {
          h = 0.95 * h + 0.05 * grad * grad;
          const double u = grad * std::sqrt((h2 + 1e-6) / (h + 1e-6));
          h2 = 0.95 * h2 + 0.05 * u * u;
          w -= 0.05 * u;
        }
      }
      EXPECT_NEAR(got[i], w, 1e-12) << optim::rule_name(rule) << " element " << i;
    }
  }
}

TEST(Optim, ClipsByTheGlobalNormAndDividesByIterSize) {
  Tensor a = vec({3, 0}), b = vec({0, 4});  // gradient norm 5
  a.set_grad(vec({3, 0}));
  b.set_grad(vec({0, 4}));
  GroupOptions g;
  g.lr = 1;
  optim::Options o;
  o.clip_gradients = 1;
  Optimizer opt({{{a}, g}, {{b}, g}}, o);
  const auto info = opt.step(2);
  EXPECT_DOUBLE_EQ(info.grad_norm, 5);
  EXPECT_DOUBLE_EQ(info.clip_scale, 0.2);
  EXPECT_DOUBLE_EQ(values(a)[0], 3 - 3 * 0.2 / 2);
  EXPECT_DOUBLE_EQ(values(b)[1], 4 - 4 * 0.2 / 2);
}

TEST(Optim, L1DecayMultipliersFrozenAndGradientlessParameters) {
  Tensor w = vec({0.5, -2}), frozen = vec({1, 1}), none = vec({1, -1});
  w.set_grad(vec({0, 0}));
  frozen.set_grad(vec({1, 1}));
  GroupOptions g;
  g.lr = 0.1;
  g.lr_mult = 2;
  g.weight_decay = 0.5;
  g.decay_mult = 3;
  g.l1 = true;
  GroupOptions f = g;
  f.lr_mult = 0;
  Optimizer skip({{{w}, g}, {{frozen}, f}, {{none}, g}}, options(Rule::sgd));
  skip.step();
  EXPECT_DOUBLE_EQ(values(w)[0], 0.5 - 0.2 * 1.5);   // rate 0.2, decay 1.5 sign(w)
  EXPECT_DOUBLE_EQ(values(w)[1], -2 + 0.2 * 1.5);
  EXPECT_EQ(values(frozen), std::vector<double>({1, 1}));
  EXPECT_EQ(values(none), std::vector<double>({1, -1}));  // PyTorch: no gradient, no update
  EXPECT_EQ(skip.state()[2].step, 0);
  optim::Options caffe = options(Rule::sgd);
  caffe.missing_grad_as_zero = true;
  Optimizer zero({{{none}, g}}, caffe);
  zero.step();
  EXPECT_DOUBLE_EQ(values(none)[0], 1 - 0.2 * 1.5);  // Caffe: decay alone
  EXPECT_EQ(zero.state()[0].step, 1);
}

TEST(Optim, StateResumesBitIdentically) {
  GroupOptions g;
  g.lr = 0.02;
  g.momentum = 0.9;
  g.momentum2 = 0.999;
  Tensor whole = vec(kW0);
  Optimizer a({{{whole}, g}}, options(Rule::adam));
  for (int k = 0; k < 6; ++k) {
    set_cube_grad(whole);
    a.step();
  }
  Tensor part = vec(kW0);
  Optimizer b({{{part}, g}}, options(Rule::adam));
  for (int k = 0; k < 3; ++k) {
    set_cube_grad(part);
    b.step();
  }
  const std::vector<optim::ParamState> saved = b.state();
  Tensor resumed = part.clone();
  Optimizer c({{{resumed}, g}}, options(Rule::adam));
  c.load_state(saved);
  EXPECT_NE(c.state()[0].history[0].data<double>(), saved[0].history[0].data<double>());  // copies
  for (int k = 0; k < 3; ++k) {
    set_cube_grad(resumed);
    c.step();
  }
  EXPECT_EQ(values(resumed), values(whole));
}

TEST(Optim, ZeroGradClearsOrZeroes) {
  Tensor w = vec({1, 2});
  w.set_grad(vec({3, 4}));
  Optimizer opt({{{w}, {}}});
  opt.zero_grad(false);
  EXPECT_EQ(values(w.grad()), std::vector<double>({0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Optim, BadOptionsParametersAndStatesThrow) {
  Tensor w = vec({1, 2});
  GroupOptions bad;
  bad.lr = -1;
  EXPECT_THROW(Optimizer({{{w}, bad}}), ValueError);
  GroupOptions beta;
  beta.momentum2 = 1;
  try {
    Optimizer({{{w}, beta}}, options(Rule::adam));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("momentum2 (betas[1])"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Optimizer({{{w, w}, {}}}), ValueError);                              // repeated
  EXPECT_THROW(Optimizer({{{Tensor::zeros({2, 3}).t()}, {}}}), ValueError);  // not contiguous
  EXPECT_THROW(optim::rule_from_name("Adamax"), ValueError);
  Optimizer opt({{{w}, {}}}, options(Rule::adam));
  std::vector<optim::ParamState> state = opt.state();
  state[0].history[1] = vec({1, 2, 3});
  EXPECT_THROW(opt.load_state(state), ShapeError);
  state[0].history.pop_back();
  EXPECT_THROW(opt.load_state(state), ValueError);
  EXPECT_THROW(opt.load_state({}), ValueError);
  EXPECT_THROW(opt.step(0), ValueError);
}

TEST(Optim, PoliciesAsCaffeComputesThem) {
  optim::LrPolicy p;
  p.base_lr = 0.1;
  p.gamma = 0.5;
  p.power = 2;
  p.stepsize = 3;
  p.max_iter = 10;
  p.stepvalue = {2, 5};
  auto at = [&](const char* policy, int64_t iter) {
    p.policy = policy;
    int step = 0;
    double rate = 0;
    for (int64_t i = 0; i <= iter; ++i) rate = optim::policy_rate(p, i, step);
    return rate;
  };
  EXPECT_DOUBLE_EQ(at("fixed", 7), 0.1);
  EXPECT_DOUBLE_EQ(at("step", 7), 0.1 * 0.25);
  EXPECT_DOUBLE_EQ(at("exp", 3), 0.1 * 0.125);
  EXPECT_DOUBLE_EQ(at("inv", 2), 0.1 * std::pow(2.0, -2));
  EXPECT_DOUBLE_EQ(at("multistep", 1), 0.1);
  EXPECT_DOUBLE_EQ(at("multistep", 6), 0.1 * 0.25);
  EXPECT_DOUBLE_EQ(at("poly", 5), 0.1 * 0.25);
  EXPECT_DOUBLE_EQ(at("sigmoid", 3), 0.05);
  p.warmup_iter = 4;
  EXPECT_DOUBLE_EQ(at("cosine", 1), 0.1 * 2 / 4);
  EXPECT_DOUBLE_EQ(at("cosine", 7), 0.1 * 0.5 * (1 + std::cos(M_PI * 3 / 6)));
  std::string field;
  p.policy = "step";
  p.stepsize = 0;
  EXPECT_NE(optim::policy_problem(p, &field), "");
  EXPECT_EQ(field, "lr_policy");
  int step = 0;
  EXPECT_THROW(optim::policy_rate(p, 0, step), ValueError);
  p.policy = "linear";
  EXPECT_THROW(optim::policy_rate(p, 0, step), ValueError);
}

}  // namespace lamina
