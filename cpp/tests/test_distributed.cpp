// The communicator in a process of its own (no launcher: a world of one), the backward
// hooks the data-parallel Solver starts its buckets from, and the reducer over a world of one.
// The collectives between processes are tested under mpirun by tests/test_distributed.py.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/distributed.hpp"
#include "lamina/lamina.hpp"
#include "levels.hpp"

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

LAMINA_AT_EACH_LEVEL(DistributedKernels);

// sum_scaled against a scalar loop summing in the same order, bit for bit: every rank of a
// job must compute the same mean whatever level it runs (block edges, K of 1 to 4, the
// threaded size).
template <class T>
static void check_sum_scaled(const kernels::Kernel<void(const T* const*, int64_t, int64_t, T, T*)>& f, int64_t K,
                             int64_t n, T scale) {
  std::mt19937 rng(static_cast<unsigned>(K * 1000 + n));
  std::normal_distribution<double> normal;
  std::vector<std::vector<T>> in(static_cast<size_t>(K), std::vector<T>(static_cast<size_t>(n)));
  std::vector<const T*> ptrs;
  for (auto& v : in) {
    for (auto& x : v) x = static_cast<T>(normal(rng));
    ptrs.push_back(v.data());
  }
  std::vector<T> out(static_cast<size_t>(n), T(-7));
  f(ptrs.data(), K, n, scale, out.data());
  for (int64_t i = 0; i < n; ++i) {
    T s = in[0][size_t(i)];
    for (int64_t k = 1; k < K; ++k) s += in[size_t(k)][size_t(i)];
    ASSERT_EQ(out[size_t(i)], s * scale) << "K=" << K << " n=" << n << " at " << i;
  }
}

TEST_P(DistributedKernels, SumScaledMatchesAScalarLoopBitForBit) {
  const kernels::Table& t = kernels::cpu::table();
  const std::vector<std::pair<int64_t, int64_t>> rows = {{1, 7}, {2, 1}, {2, 2049}, {3, 5000}, {4, 300001}};
  for (auto [K, n] : rows) {
    check_sum_scaled<float>(t.f32.sum_scaled, K, n, 1.0f / float(K));
    check_sum_scaled<double>(t.f64.sum_scaled, K, n, 1.0);
  }
}

// Out of place in a world of one: the output is the input, which stays as it was.
TEST(Distributed, AllreduceOutOfPlaceFillsTheOutput) {
  dist::Communicator& w = dist::world();
  const Tensor in = arange(0, 6, 1, DType::f32);
  Tensor out = Tensor::full({6}, -1.0, DType::f32);
  w.allreduce_async(in, out, dist::ReduceOp::mean)->wait();
  for (int64_t k = 0; k < 6; ++k) {
    EXPECT_EQ(out.at({k}), double(k));
    EXPECT_EQ(in.at({k}), double(k));
  }
  Tensor whole = arange(0, 6, 1, DType::f32);
  w.allreduce_async(whole, whole)->wait();  // the same tensor: in place
  EXPECT_EQ(whole.at({5}), 5.0);
}

struct OutOfPlaceRefusal {
  const char* name;
  Tensor input, output;
};

TEST(Distributed, AllreduceOutOfPlaceChecksBothSides) {
  dist::Communicator& w = dist::world();
  Tensor buffer = Tensor::zeros({8});
  const std::vector<OutOfPlaceRefusal> rows = {
      {"shapes differ", Tensor::zeros({3}), Tensor::zeros({4})},
      {"dtypes differ", Tensor::zeros({4}, DType::f64), Tensor::zeros({4})},
      {"input strided", Tensor::zeros({2, 2}).t(), Tensor::zeros({2, 2})},
      {"input undefined", Tensor(), Tensor::zeros({4})},
      {"overlap", buffer.slice(0, 4), buffer.slice(2, 6)},
  };
  for (const auto& row : rows) {
    Tensor out = row.output;
    EXPECT_THROW(w.allreduce_async(row.input, out, dist::ReduceOp::sum), Error) << row.name;
  }
  Tensor disjoint = buffer.slice(4, 8);
  EXPECT_NO_THROW(w.allreduce_async(buffer.slice(0, 4), disjoint)->wait());  // one storage, apart
}

// The default buckets in a world of one: the pieces, gathered in order, are the result; a
// bucket of one piece takes it as it is.
TEST(Distributed, BucketsGatherTheirPiecesInOrder) {
  dist::Communicator& w = dist::world();
  auto set = w.buckets({{5, DType::f32, {{2}, {1, 3}}}, {3, DType::f64, {}}}, dist::ReduceOp::mean);
  EXPECT_EQ(std::string(set->method()), "allreduce");
  set->start(0, {arange(0, 2, 1, DType::f32), arange(2, 5, 1, DType::f32).reshape({1, 3})})->wait();
  set->start(1, {Tensor::full({3}, 1.5, DType::f64)})->wait();
  const Tensor first = set->result(0), second = set->result(1);
  ASSERT_EQ(first.shape(), Shape({5}));
  for (int64_t k = 0; k < 5; ++k) EXPECT_EQ(first.at({k}), double(k));
  EXPECT_EQ(second.dtype(), DType::f64);
  EXPECT_EQ(second.at({2}), 1.5);
}

struct BucketRefusal {
  const char* name;
  std::vector<Tensor> pieces;
  size_t bucket;
};

TEST(Distributed, BucketsRefuseWhatDoesNotFit) {
  dist::Communicator& w = dist::world();
  EXPECT_THROW(w.buckets({{4, DType::i64, {}}}, dist::ReduceOp::sum), DTypeError);  // gradients are floating
  EXPECT_THROW(w.buckets({{-1, DType::f32, {}}}, dist::ReduceOp::sum), ValueError);
  EXPECT_THROW(w.buckets({{4, DType::f32, {{2, 3}}}}, dist::ReduceOp::sum), ValueError);  // pieces of 6
  auto set = w.buckets({{4, DType::f32, {{2, 2}}}}, dist::ReduceOp::sum);
  const std::vector<BucketRefusal> rows = {
      {"5 elements for 4", {Tensor::zeros({3}), Tensor::zeros({2})}, 0},
      {"3 elements for 4", {Tensor::zeros({3})}, 0},
      {"not the spec's shape", {Tensor::zeros({4})}, 0},
      {"undefined", {Tensor()}, 0},
  };
  for (const auto& row : rows) EXPECT_THROW(set->start(row.bucket, row.pieces), Error) << row.name;
  EXPECT_THROW(set->start(1, {Tensor::zeros({2, 2})}), IndexError);  // one bucket only
  EXPECT_NO_THROW(set->start(0, {Tensor::zeros({2, 2})})->wait());
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
