// Winograd F(4x4, 3x3) convolution (kernels/cpu/winograd.cpp) against a naive loop in
// double: tiles packed in lanes and tiles in row-aligned groups, partial tiles at the right and bottom edges, lanes whose 16 tiles span several
// images, every padding from 0 to 2, channel counts off the GEMM's multiples, the adjoint
// weights (the input gradient), the weight gradient, one thread and two.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/lamina.hpp"

namespace lamina {

struct WinogradCase {
  int64_t N, I, H, W, O, pad_h, pad_w;
  bool adjoint;  // weights given as [I, O, 3, 3], used transposed and turned 180 degrees
  bool bias;
};

static void check_winograd(const WinogradCase& c, int threads) {
  std::mt19937 rng(static_cast<unsigned>(c.I * 7 + c.O * 3 + c.H));
  std::normal_distribution<float> normal;
  const int64_t OH = c.H + 2 * c.pad_h - 2, OW = c.W + 2 * c.pad_w - 2;
  std::vector<float> x(c.N * c.I * c.H * c.W), w(c.O * c.I * 9), b(c.O), y(c.N * c.O * OH * OW);
  for (auto& v : x) v = normal(rng);
  for (auto& v : w) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  // Filter (o, i) tap (r, s).
  auto tap = [&](int64_t o, int64_t i, int64_t r, int64_t s) -> double {
    return c.adjoint ? w[((i * c.O + o) * 3 + 2 - r) * 3 + 2 - s] : w[((o * c.I + i) * 3 + r) * 3 + s];
  };
  std::vector<float> packed(kernels::cpu::winograd_weights_size(c.O, c.I));
  set_num_threads(threads);
  kernels::cpu::winograd_weights(w.data(), c.O, c.I, c.adjoint, packed.data());
  kernels::cpu::winograd_conv3x3(x.data(), c.I * c.H * c.W, c.N, c.I, c.H, c.W, c.pad_h, c.pad_w, packed.data(), c.O,
                                 c.bias ? b.data() : nullptr, y.data(), c.O * OH * OW, OH, OW);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = c.bias ? b[o] : 0.0, mag = std::fabs(acc);
          for (int64_t ci = 0; ci < c.I; ++ci)
            for (int64_t r = 0; r < 3; ++r)
              for (int64_t s = 0; s < 3; ++s) {
                const int64_t ih = i - c.pad_h + r, iw = j - c.pad_w + s;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const double t = x[((n * c.I + ci) * c.H + ih) * c.W + iw] * tap(o, ci, r, s);
                acc += t;
                mag += std::fabs(t);
              }
          ASSERT_NEAR(y[((n * c.O + o) * OH + i) * OW + j], acc, 2e-5 * (1 + mag))
              << "N=" << c.N << " I=" << c.I << " " << c.H << "x" << c.W << " O=" << c.O << " pad " << c.pad_h
              << "," << c.pad_w << " adjoint=" << c.adjoint << " threads=" << threads << " at " << n << "," << o
              << "," << i << "," << j;
        }
  if (c.adjoint) return;
  // The weight gradient for a random dy.
  std::vector<float> dy(y.size()), dw(w.size());
  for (auto& v : dy) v = normal(rng);
  kernels::cpu::winograd_conv3x3_weight_grad(x.data(), c.I * c.H * c.W, c.N, c.I, c.H, c.W, c.pad_h, c.pad_w,
                                             dy.data(), c.O * OH * OW, c.O, OH, OW, dw.data());
  for (int64_t o = 0; o < c.O; ++o)
    for (int64_t ci = 0; ci < c.I; ++ci)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t s = 0; s < 3; ++s) {
          double acc = 0, mag = 0;
          for (int64_t n = 0; n < c.N; ++n)
            for (int64_t i = 0; i < OH; ++i)
              for (int64_t j = 0; j < OW; ++j) {
                const int64_t ih = i - c.pad_h + r, iw = j - c.pad_w + s;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const double t = double(x[((n * c.I + ci) * c.H + ih) * c.W + iw]) * dy[((n * c.O + o) * OH + i) * OW + j];
                acc += t;
                mag += std::fabs(t);
              }
          ASSERT_NEAR(dw[((o * c.I + ci) * 3 + r) * 3 + s], acc, 2e-5 * (1 + mag))
              << "weight gradient: N=" << c.N << " I=" << c.I << " " << c.H << "x" << c.W << " O=" << c.O
              << " threads=" << threads << " at " << o << "," << ci << "," << r << "," << s;
        }
}

TEST(Winograd, MatchesNaiveConvolution) {
  if (!kernels::cpu::winograd_available()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const int before = num_threads();
  const WinogradCase cases[] = {
      {2, 16, 13, 13, 24, 1, 1, false, true},   // partial tiles on both edges
      {3, 48, 7, 9, 40, 0, 2, false, false},    // 6 tiles per image: a vector spans 3 images
      {1, 20, 30, 37, 17, 2, 2, false, true},   // outputs not a multiple of the GEMM's 8 rows
      {2, 24, 11, 12, 16, 1, 0, true, false},   // adjoint weights
      {5, 64, 14, 14, 64, 1, 1, false, true},   // several tile blocks per thread
      {64, 8, 13, 13, 8, 1, 1, false, false},   // weight gradient: 1024 tiles, two of its blocks
      // 12 or more tiles per row: groups aligned to rows, read and written as runs
      {2, 16, 50, 61, 24, 1, 1, false, true},   // 16 tiles a row: one whole group each
      {1, 24, 47, 70, 20, 2, 0, false, false},  // 17 a row: a second group of one tile
      {3, 20, 45, 52, 16, 1, 1, true, false},   // 13 a row, adjoint weights
  };
  for (const WinogradCase& c : cases)
    for (int threads : {1, 2}) check_winograd(c, threads);
  set_num_threads(before);
}

}  // namespace lamina
