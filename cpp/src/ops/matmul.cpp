// matmul and linear: one GEMM forward, two GEMMs backward (no transposed copies: the
// GEMM reads its operands transposed, transposed views included).
#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina {

using namespace ops_detail;

namespace {

// C [M, N] = op(A) @ op(B) (+ beta * C) for contiguous 2-d tensors.
void gemm(bool ta, bool tb, const Tensor& A, const Tensor& B, Tensor& C, double beta = 0.0) {
  const int64_t M = C.size(0), N = C.size(1), K = ta ? A.size(0) : A.size(1);
  dispatch(C.dtype(), [&](auto t) {
    using T = decltype(t);
    kernels_for<T>("matmul", C).gemm(ta, tb, M, N, K, T(1), A.data<T>(), A.size(1), B.data<T>(), B.size(1), T(beta),
                          C.data<T>(), N);
  });
}

// A 2-d GEMM operand: t if contiguous; the contiguous matrix that t is the transposed view
// of (Tensor::t(), Python's .T), with trans set, so that x @ w.T reads w in place; else a
// contiguous copy.
Tensor operand(const Tensor& t, bool& trans) {
  trans = false;
  if (t.is_contiguous()) return t;
  if (t.strides()[0] == 1 && t.strides()[1] == t.size(0)) {
    trans = true;
    return Tensor::from_storage(t.storage(), {t.size(1), t.size(0)}, {t.size(0), 1}, t.offset(), t.dtype());
  }
  return t.contiguous();
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a);
  check_defined("matmul", b);
  LAMINA_CHECK_SHAPE(a.dim() == 2 && b.dim() == 2, "matmul: expected 2-d tensors, got a ", a.shape(),
                     " and b ", b.shape());
  LAMINA_CHECK_SHAPE(a.size(1) == b.size(0), "matmul: inner dimensions differ: a is ", a.shape(), ", b is ",
                     b.shape());
  check_same("matmul", a, b);
  check_device("matmul", a);
  bool ta, tb;
  Tensor ac = operand(a, ta), bc = operand(b, tb);  // a = op(ac), b = op(bc)
  Tensor y = Tensor::empty({a.size(0), b.size(1)}, a.dtype());
  gemm(ta, tb, ac, bc, y);
  if (autograd::needs_grad({&a, &b}))
    autograd::record("matmul", {a, b}, {y},
                     [A = SavedTensor(ac), B = SavedTensor(bc), ta, tb, na = a.requires_grad(),
                      nb = b.requires_grad()](const std::vector<Tensor>& g) {
                       const Tensor& av = A.get("matmul");
                       const Tensor& bv = B.get("matmul");
                       Tensor dy = g[0].contiguous(), da, db;
                       if (na) {  // dA = dY @ op(B)^T, shaped as a
                         da = Tensor::empty({dy.size(0), tb ? bv.size(1) : bv.size(0)}, av.dtype());
                         gemm(false, !tb, dy, bv, da);
                       }
                       if (nb) {  // dB = op(A)^T @ dY, shaped as b
                         db = Tensor::empty({ta ? av.size(0) : av.size(1), dy.size(1)}, bv.dtype());
                         gemm(!ta, false, av, dy, db);
                       }
                       return std::vector<Tensor>{da, db};
                     });
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined("linear", x);
  check_defined("linear", weight, "weight");
  LAMINA_CHECK_SHAPE(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1),
                     "linear: expected x [N, K] and weight [O, K], got x ", x.shape(), " and weight ",
                     weight.shape());
  check_same("linear", x, weight);
  check_device("linear", x);
  const int64_t N = x.size(0), O = weight.size(0);
  if (bias.defined()) {
    check_same("linear", x, bias);
    LAMINA_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == O, "linear: bias must be [", O, "], got ", bias.shape());
  }
  Tensor xc = x.contiguous(), wc = weight.contiguous();
  // y starts as the bias in every row, then y += x @ W^T.
  Tensor y = bias.defined() ? expand(bias.detach(), {N, O}) : Tensor::empty({N, O}, x.dtype());
  gemm(false, true, xc, wc, y, bias.defined() ? 1.0 : 0.0);
  if (autograd::needs_grad({&x, &weight, &bias}))
    autograd::record(
        "linear", {x, weight, bias}, {y},
        [X = SavedTensor(xc), W = SavedTensor(wc), nx = x.requires_grad(), nw = weight.requires_grad(),
         nb = bias.defined() && bias.requires_grad()](const std::vector<Tensor>& g) {
          const Tensor& xv = X.get("linear");
          const Tensor& wv = W.get("linear");
          Tensor dy = g[0].contiguous(), dx, dw, db;
          if (nx) {  // dX = dY @ W
            dx = Tensor::empty(xv.shape(), xv.dtype());
            gemm(false, false, dy, wv, dx);
          }
          if (nw) {  // dW = dY^T @ X
            dw = Tensor::empty(wv.shape(), wv.dtype());
            gemm(true, false, dy, xv, dw);
          }
          if (nb) db = sum(dy, {0});
          return std::vector<Tensor>{dx, dw, db};
        });
  return y;
}

}  // namespace lamina
