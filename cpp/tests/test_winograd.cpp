// Winograd F(4x4, 3x3) and F(4x4, 5x5) convolution (kernels/cpu/winograd.cpp) against a naive loop in
// double: tiles in row-aligned groups and stacked tile rows (1 to 11 tiles a row: runs
// paired in one permute table, one per table, and runs past 32 columns), partial tiles at
// the right and bottom edges, groups whose rows span several images or stop short, every
// padding from 0 to 4, channel counts off the GEMM's multiples, the adjoint weights (the
// input gradient), the weight gradient, one thread and two.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/lamina.hpp"
#include "levels.hpp"

namespace lamina {

struct WinogradCase {
  int64_t r;  // kernel side: 3 (F(4x4, 3x3)) or 5 (F(4x4, 5x5))
  int64_t N, I, H, W, O, pad_h, pad_w;
  bool adjoint;  // weights given as [I, O, 3, 3], used transposed and turned 180 degrees
  bool bias;
};

static void check_winograd(const WinogradCase& c, int threads) {
  std::mt19937 rng(static_cast<unsigned>(c.I * 7 + c.O * 3 + c.H));
  std::normal_distribution<float> normal;
  const int64_t r = c.r, taps = r * r;
  const int64_t OH = c.H + 2 * c.pad_h - (r - 1), OW = c.W + 2 * c.pad_w - (r - 1);
  std::vector<float> x(c.N * c.I * c.H * c.W), w(c.O * c.I * taps), b(c.O), y(c.N * c.O * OH * OW);
  for (auto& v : x) v = normal(rng);
  for (auto& v : w) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  // Filter (o, i) tap (q, s).
  auto tap = [&](int64_t o, int64_t i, int64_t q, int64_t s) -> double {
    return c.adjoint ? w[((i * c.O + o) * r + r - 1 - q) * r + r - 1 - s] : w[((o * c.I + i) * r + q) * r + s];
  };
  std::vector<float> u(kernels::cpu::table().winograd_weights_size(c.O, c.I, r));
  set_num_threads(threads);
  kernels::cpu::table().winograd_weights(w.data(), c.O, c.I, r, c.adjoint, u.data());
  kernels::cpu::table().winograd_conv(x.data(), c.I * c.H * c.W, c.N, c.I, c.H, c.W, r, c.pad_h, c.pad_w, u.data(), c.O,
                              c.bias ? b.data() : nullptr, y.data(), c.O * OH * OW, OH, OW);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = c.bias ? b[o] : 0.0, mag = std::fabs(acc);
          for (int64_t ci = 0; ci < c.I; ++ci)
            for (int64_t q = 0; q < r; ++q)
              for (int64_t s = 0; s < r; ++s) {
                const int64_t ih = i - c.pad_h + q, iw = j - c.pad_w + s;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const double t = x[((n * c.I + ci) * c.H + ih) * c.W + iw] * tap(o, ci, q, s);
                acc += t;
                mag += std::fabs(t);
              }
          ASSERT_NEAR(y[((n * c.O + o) * OH + i) * OW + j], acc, 2e-5 * (1 + mag))
              << "r=" << r << " N=" << c.N << " I=" << c.I << " " << c.H << "x" << c.W << " O=" << c.O << " pad " << c.pad_h
              << "," << c.pad_w << " adjoint=" << c.adjoint << " threads=" << threads << " at " << n << "," << o
              << "," << i << "," << j;
        }
  if (c.adjoint) return;
  // The weight gradient for a random dy.
  std::vector<float> dy(y.size()), dw(w.size());
  for (auto& v : dy) v = normal(rng);
  kernels::cpu::table().winograd_weight_grad(x.data(), c.I * c.H * c.W, c.N, c.I, c.H, c.W, r, c.pad_h, c.pad_w, dy.data(),
                                     c.O * OH * OW, c.O, OH, OW, dw.data());
  for (int64_t o = 0; o < c.O; ++o)
    for (int64_t ci = 0; ci < c.I; ++ci)
      for (int64_t q = 0; q < r; ++q)
        for (int64_t s = 0; s < r; ++s) {
          double acc = 0, mag = 0;
          for (int64_t n = 0; n < c.N; ++n)
            for (int64_t i = 0; i < OH; ++i)
              for (int64_t j = 0; j < OW; ++j) {
                const int64_t ih = i - c.pad_h + q, iw = j - c.pad_w + s;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const double t = double(x[((n * c.I + ci) * c.H + ih) * c.W + iw]) * dy[((n * c.O + o) * OH + i) * OW + j];
                acc += t;
                mag += std::fabs(t);
              }
          ASSERT_NEAR(dw[((o * c.I + ci) * r + q) * r + s], acc, 2e-5 * (1 + mag))
              << "weight gradient: r=" << r << " N=" << c.N << " I=" << c.I << " " << c.H << "x" << c.W << " O=" << c.O
              << " threads=" << threads << " at " << o << "," << ci << "," << q << "," << s;
        }
}

LAMINA_AT_EACH_LEVEL(Winograd);

TEST_P(Winograd, MatchesNaiveConvolution) {
  if (!kernels::cpu::table().winograd_conv) GTEST_SKIP() << "no Winograd kernels at level " << isa_name(GetParam());
  const int before = num_threads();
  const WinogradCase cases[] = {
      {3, 2, 16, 13, 13, 24, 1, 1, false, true},   // partial tiles on both edges
      {3, 3, 48, 7, 9, 40, 0, 2, false, false},    // 2 tiles a row, 8 rows a group: over 3 images
      {3, 1, 20, 30, 37, 17, 2, 2, false, true},   // outputs not a multiple of the GEMM's 8 rows
      {3, 2, 24, 11, 12, 16, 1, 0, true, false},   // adjoint weights
      {3, 5, 64, 14, 14, 64, 1, 1, false, true},   // several tile blocks per thread
      {3, 64, 8, 13, 13, 8, 1, 1, false, false},   // weight gradient: 1024 tiles, two of its blocks
      // stacked rows of 1 to 11 tiles
      {3, 3, 8, 4, 4, 8, 0, 0, false, true},       // 1 tile (2x2 of 4x4 outputs): a short group
      {3, 5, 16, 7, 7, 16, 1, 1, false, false},    // 2 a row (ResNet's 7x7): runs paired, 10 rows
      {3, 3, 16, 14, 14, 24, 1, 1, true, false},   // 4 a row (14x14): 18-column runs, adjoint
      {3, 2, 12, 28, 28, 16, 1, 1, false, true},   // 7 a row (28x28): 30-column runs
      {3, 3, 12, 32, 32, 8, 1, 1, false, false},   // 8 a row: 34-column runs, three vectors
      {3, 2, 8, 44, 41, 8, 1, 0, true, true},      // 10 a row, 42 columns, adjoint
      {3, 1, 8, 46, 44, 8, 1, 1, false, false},    // 11 a row: 46 columns
      // F(4x4, 5x5): stacked runs of 8 to 48 columns
      {5, 9, 8, 6, 7, 8, 1, 0, false, true},       // 1 a row: 9 rows in one short group
      {5, 4, 8, 8, 8, 16, 2, 2, true, false},      // 2 a row (CIFAR10-quick's conv3): paired runs, adjoint
      {5, 5, 6, 5, 6, 6, 1, 2, false, false},      // 2 a row over 5 images (3x6 outputs)
      {5, 3, 8, 9, 11, 12, 4, 1, true, false},     // 3 a row: 16-column runs; padding 4 (the adjoint of 0)
      {5, 3, 8, 16, 16, 12, 2, 2, false, true},    // 4 a row (its conv2): 20-column runs
      {5, 2, 16, 27, 27, 24, 2, 2, false, true},   // 7 a row (AlexNet's conv2): 32 columns, one table
      {5, 2, 8, 32, 32, 8, 2, 2, false, true},     // 8 a row: 36 columns, three vectors
      {5, 1, 12, 30, 40, 9, 0, 3, true, false},    // 11 a row: 48 columns, adjoint
      // 12 or more tiles per row: groups aligned to rows, read and written as runs
      {3, 2, 16, 50, 61, 24, 1, 1, false, true},   // 16 tiles a row: one whole group each
      {3, 1, 24, 47, 70, 20, 2, 0, false, false},  // 17 a row: a second group of one tile
      {3, 3, 20, 45, 52, 16, 1, 1, true, false},   // 13 a row, adjoint weights
      {5, 1, 8, 50, 52, 12, 2, 2, false, false},   // F(4x4, 5x5), 13 a row
      {5, 1, 8, 20, 70, 8, 2, 1, true, true},      // 17 a row, adjoint
  };
  for (const WinogradCase& c : cases)
    for (int threads : {1, 2}) check_winograd(c, threads);
  set_num_threads(before);
}

}  // namespace lamina
