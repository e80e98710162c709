#include "kernels/kernels.hpp"
#include "lamina/ops.hpp"

namespace lamina {

template <class T>
static void matmul_cpu(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  kernels::cpu::gemm<T>(false, false, M, N, K, T(1), a.data<T>(), K, b.data<T>(), N, T(0),
                        out.data<T>(), N);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  LAMINA_CHECK_SHAPE(a.dim() == 2 && b.dim() == 2, "matmul: expected 2-d tensors, got a ",
                     a.shape(), " and b ", b.shape());
  LAMINA_CHECK_SHAPE(a.size(1) == b.size(0), "matmul: inner dimensions differ: a is ", a.shape(),
                     ", b is ", b.shape());
  LAMINA_CHECK_DTYPE(a.dtype() == b.dtype(), "matmul: dtypes differ: a is ", a.dtype(), ", b is ",
                     b.dtype());
  LAMINA_CHECK_AS(DeviceError, a.device() == b.device(), "matmul: devices differ: a on ",
                  a.device(), ", b on ", b.device());
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  switch (a.device()) {
    case Device::cpu:
      a.dtype() == DType::f32 ? matmul_cpu<float>(ac, bc, out) : matmul_cpu<double>(ac, bc, out);
      break;
    case Device::cuda:
      throw DeviceError("matmul: no CUDA kernel yet");
  }
  return out;
}

}  // namespace lamina
