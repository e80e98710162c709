// Recurrent layers unrolled over time, composed of ops (the tape gives their backward):
// the input projection of all steps is one GEMM, then each step adds its hidden
// projection and applies the cell.
#include <string>

#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

struct Unrolled {
  int64_t T, N, H;
  Tensor gates_x;  // [T, N, G]: x_t w_x^T + b_x (+ extra) for every step
  Tensor keep;     // [T, N, 1] of x's dtype, or undefined: no cont
};

void check_optional(const char* op, const Tensor& t, const Shape& want, const Tensor& x, const char* what) {
  if (!t.defined()) return;
  check_same(op, x, t);
  LAMINA_CHECK_SHAPE(t.shape() == want, op, ": ", what, " must be ", want, ", got ", t.shape());
}

// Checks the arguments of a layer whose gates have `per_h` * H rows and projects the input.
Unrolled unroll(const char* op, const Tensor& x, const RecurrentWeights& w, int64_t per_h, const Tensor& h0,
                const Tensor& cont, const Tensor& extra) {
  check_defined(op, x);
  check_defined(op, w.w_x, "w_x");
  check_defined(op, w.w_h, "w_h");
  LAMINA_CHECK_SHAPE(x.dim() == 3, op, ": x must be [T, N, D], got ", x.shape());
  check_same(op, x, w.w_x);
  check_same(op, x, w.w_h);
  const int64_t T = x.size(0), N = x.size(1), D = x.size(2);
  LAMINA_CHECK_SHAPE(w.w_h.dim() == 2, op, ": w_h must be [", per_h, "H, H], got ", w.w_h.shape());
  const int64_t H = w.w_h.size(1), G = per_h * H;
  LAMINA_CHECK_SHAPE(H > 0 && w.w_h.size(0) == G, op, ": w_h must be [", per_h, "H, H], got ", w.w_h.shape());
  LAMINA_CHECK_SHAPE(w.w_x.shape() == Shape({G, D}), op, ": w_x must be ", Shape({G, D}), " for x ", x.shape(),
                     " and w_h ", w.w_h.shape(), ", got ", w.w_x.shape());
  check_optional(op, w.b_x, {G}, x, "b_x");
  check_optional(op, w.b_h, {G}, x, "b_h");
  check_optional(op, h0, {N, H}, x, "h0");
  check_optional(op, extra, {N, G}, x, "extra");
  Unrolled u{T, N, H, Tensor(), Tensor()};
  if (cont.defined()) {
    LAMINA_CHECK_SHAPE(cont.shape() == Shape({T, N}), op, ": cont must be ", Shape({T, N}), ", got ", cont.shape());
    u.keep = cont.detach().to(x.dtype()).reshape({T, N, 1});
  }
  if (T == 0 || N == 0) return u;
  u.gates_x = linear(x.reshape({T * N, D}), w.w_x, w.b_x).reshape({T, N, G});
  if (extra.defined()) u.gates_x = add(u.gates_x, extra.reshape({1, N, G}));
  return u;
}

Tensor initial(const Tensor& given, const Unrolled& u, const Tensor& x) {
  return given.defined() ? given : Tensor::zeros({u.N, u.H}, x.dtype());
}

// The state carried into step t: zero where cont says a sequence starts.
Tensor carried(const Tensor& state, const Unrolled& u, int64_t t) {
  return u.keep.defined() ? mul(state, u.keep.select(t)) : state;
}

Tensor hidden_gates(const Tensor& h, const RecurrentWeights& w) { return linear(h, w.w_h, w.b_h); }

Tensor gate(const Tensor& g, int64_t k, int64_t H) { return slice(g, 1, k * H, (k + 1) * H); }

Tensor stack_steps(const std::vector<Tensor>& steps, const Unrolled& u, const Tensor& x) {
  if (steps.empty()) return Tensor::zeros({u.T, u.N, u.H}, x.dtype());
  std::vector<Tensor> rows;
  rows.reserve(steps.size());
  for (const Tensor& s : steps) rows.push_back(s.reshape({1, u.N, u.H}));
  return concat(rows, 0);
}

}  // namespace

RecurrentResult lstm(const Tensor& x, const RecurrentWeights& w, const Tensor& h0, const Tensor& c0,
                     const Tensor& cont, LstmGates order, const Tensor& extra) {
  const Unrolled u = unroll("lstm", x, w, 4, h0, cont, extra);
  check_optional("lstm", c0, {u.N, u.H}, x, "c0");
  // Rows of i, f, o and the candidate g in the 4H gates.
  const int64_t gi = 0, gf = 1, go = order == LstmGates::caffe ? 2 : 3, gg = order == LstmGates::caffe ? 3 : 2;
  Tensor h = initial(h0, u, x), c = initial(c0, u, x);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < u.T && u.N > 0; ++t) {
    const Tensor hp = carried(h, u, t), cp = carried(c, u, t);
    const Tensor g = add(u.gates_x.select(t), hidden_gates(hp, w));
    const Tensor i = sigmoid(gate(g, gi, u.H)), f = sigmoid(gate(g, gf, u.H));
    const Tensor o = sigmoid(gate(g, go, u.H)), cand = tanh(gate(g, gg, u.H));
    c = add(mul(f, cp), mul(i, cand));
    h = mul(o, tanh(c));
    steps.push_back(h);
  }
  return {stack_steps(steps, u, x), h, c};
}

RecurrentResult gru(const Tensor& x, const RecurrentWeights& w, const Tensor& h0, const Tensor& cont) {
  const Unrolled u = unroll("gru", x, w, 3, h0, cont, Tensor());
  Tensor h = initial(h0, u, x);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < u.T && u.N > 0; ++t) {
    const Tensor hp = carried(h, u, t);
    const Tensor gx = u.gates_x.select(t), gh = hidden_gates(hp, w);
    const Tensor r = sigmoid(add(gate(gx, 0, u.H), gate(gh, 0, u.H)));
    const Tensor z = sigmoid(add(gate(gx, 1, u.H), gate(gh, 1, u.H)));
    const Tensor n = tanh(add(gate(gx, 2, u.H), mul(r, gate(gh, 2, u.H))));
    h = add(n, mul(z, sub(hp, n)));  // (1 - z) n + z h
    steps.push_back(h);
  }
  return {stack_steps(steps, u, x), h, Tensor()};
}

RecurrentResult rnn(const Tensor& x, const RecurrentWeights& w, const Tensor& h0, const Tensor& cont, bool use_relu,
                    const Tensor& extra) {
  const Unrolled u = unroll("rnn", x, w, 1, h0, cont, extra);
  Tensor h = initial(h0, u, x);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < u.T && u.N > 0; ++t) {
    const Tensor g = add(u.gates_x.select(t), hidden_gates(carried(h, u, t), w));
    h = use_relu ? relu(g) : tanh(g);
    steps.push_back(h);
  }
  return {stack_steps(steps, u, x), h, Tensor()};
}

}  // namespace lamina
