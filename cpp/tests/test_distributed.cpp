// The communicator in a process of its own (no launcher: a world of one), the backward
// hooks the data-parallel Solver starts its buckets from, and the reducer over a world of one.
// The collectives between processes are tested under mpirun by tests/test_distributed.py.
#include <gtest/gtest.h>

#include <vector>

#include "lamina/distributed.hpp"
#include "lamina/lamina.hpp"

namespace lamina {

// A float64 leaf holding first, first + 1, ..., last.
static Tensor leaf(double first, double last) { return arange(first, last + 1, 1, DType::f64).set_requires_grad(true); }

TEST(Distributed, WorldOfOneLeavesTensorsAsTheyAre) {
  dist::Communicator& w = dist::world();
  ASSERT_EQ(w.size(), 1);
  EXPECT_EQ(w.rank(), 0);
  Tensor t = Tensor::full({3}, 2.5, DType::f32);
  w.allreduce(t, dist::ReduceOp::mean);
  w.broadcast(t, 0);
  w.barrier();
  EXPECT_EQ(t.at({2}), 2.5);
}

TEST(Distributed, CollectivesCheckTheirTensor) {
  dist::Communicator& w = dist::world();
  Tensor ints = Tensor::zeros({2}, DType::i64);
  EXPECT_THROW(w.allreduce(ints, dist::ReduceOp::mean), DTypeError);  // a mean of integers
  Tensor flags = Tensor::zeros({2}, DType::b8);
  EXPECT_THROW(w.allreduce(flags), DTypeError);
  Tensor strided = Tensor::zeros({4, 4}).t();
  EXPECT_THROW(w.allreduce(strided), ValueError);  // in place needs contiguous memory
  Tensor t = Tensor::zeros({2});
  EXPECT_THROW(w.broadcast(t, 1), ValueError);  // no rank 1
  EXPECT_THROW(dist::set_timeout_seconds(0), ValueError);
  EXPECT_THROW(dist::set_bucket_sizes({0, 1}), ValueError);
}

// leaf_ready fires once per leaf, after every node feeding it ran: x feeds two branches, so
// its gradient is complete only after both; w is used once, by the last node to run.
TEST(Distributed, BackwardHookSaysWhenALeafGradientIsFinal) {
  Tensor x = leaf(1, 2), w = leaf(3, 4);
  Tensor y = sum(mul(add(mul(x, x), exp(x)), w));
  std::vector<std::pair<const TensorImpl*, double>> seen;
  autograd::BackwardHooks hooks;
  int nodes = 0;
  hooks.leaf_ready = [&](const std::shared_ptr<TensorImpl>& impl) {
    const Tensor& t = impl.get() == x.impl_ptr().get() ? x : w;
    seen.emplace_back(impl.get(), t.grad().at({0}));
  };
  hooks.after_node = [&] { ++nodes; };
  {
    autograd::BackwardHooksGuard guard(&hooks);
    y.backward();
  }
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& [impl, g0] : seen) {
    const Tensor& t = impl == x.impl_ptr().get() ? x : w;
    EXPECT_EQ(g0, t.grad().at({0}));  // already the final value when announced
  }
  EXPECT_EQ(nodes, 5);  // sum, mul, add, mul, exp
  // Outside the guard: no hooks.
  Tensor z = sum(mul(x, x));
  z.backward();
  EXPECT_EQ(seen.size(), 2u);
}

TEST(Distributed, ReducerOverAWorldOfOneKeepsGradients) {
  Tensor a = leaf(1, 3), b = leaf(4, 4);
  dist::GradientReducer reducer(dist::world(), {a, b}, {1e-6, 1e-6});  // a bucket per parameter
  EXPECT_EQ(reducer.num_buckets(), 2u);
  Tensor y = sum(mul(a, a));  // b gets no gradient: it counts as zeros
  reducer.backward([&] { y.backward(); });
  reducer.finish();
  EXPECT_EQ(a.grad().at({2}), 6.0);
  ASSERT_TRUE(b.grad().defined());
  EXPECT_EQ(b.grad().at({0}), 0.0);
}

// The buckets of a net's parameters start inside its backward, as their layers finish:
// all of them before finish() is called, the last layer's first.
TEST(Distributed, ReducerStartsBucketsDuringANetsBackward) {
  const std::string text = R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 6 } } }
    layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 4 } } }
    layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
            inner_product_param { num_output: 8 weight_filler { type: "xavier" } } }
    layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
    layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
            inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" })";
  Net net = Net::from_text(text);
  std::vector<Tensor> params;
  for (const auto& p : net.learnable_params()) params.push_back(p.value);
  dist::GradientReducer reducer(dist::world(), params, {1e-6, 1e-6});  // one bucket per parameter
  ASSERT_EQ(reducer.num_buckets(), 4u);
  net.forward({{"data", randn({4, 6}, 0, 1, DType::f32, 1)}, {"label", Tensor::zeros({4})}});
  reducer.backward([&] { net.backward(); });
  EXPECT_EQ(reducer.num_launched(), 4u);
  Tensor before = params[0].grad().clone();
  reducer.finish();
  EXPECT_EQ(reducer.num_launched(), 0u);
  EXPECT_EQ(params[0].grad().at({0, 0}), before.at({0, 0}));
}

}  // namespace lamina
