// The level's Table: every kernel file's entries.
#include "kernels/kernels.hpp"
#include "kernels/cpu/simd.hpp"  // last: what follows is compiled per level
#include "kernels/cpu/level.hpp"

namespace lamina::kernels::cpu::LAMINA_LEVEL {

#define LAMINA_STR_(x) #x
#define LAMINA_STR(x) LAMINA_STR_(x)

const Table& table() {
  static const Table t = [] {
    Table k;
    k.device = "cpu (" LAMINA_STR(LAMINA_LEVEL) ")";
    fill_batch_norm(k);
    fill_binary(k);
    fill_conv(k);
    fill_conv_gemm(k);
    fill_depthwise(k);
    fill_dot_gemm(k);
    fill_gemm(k);
    fill_im2col(k);
    fill_index(k);
    fill_lrn(k);
    fill_metrics(k);
    fill_pointwise(k);
    fill_pool(k);
    fill_random(k);
    fill_reduce(k);
    fill_reduce_axes(k);
    fill_select(k);
    fill_softmax(k);
    fill_update(k);
    fill_winograd(k);
    return k;
  }();
  return t;
}

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

#include "kernels/cpu/simd_end.hpp"
