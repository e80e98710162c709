// The CPU's tables, one per level this build compiled (cpp/CMakeLists.txt: the same
// architecture test), and the choice among them by lamina::active_isa().
#include <string>

#include "kernels/kernels.hpp"
#include "lamina/error.hpp"

#if defined(__x86_64__)
#define LAMINA_HAS_X86_LEVELS 1
namespace lamina::kernels::cpu::avx512 { const Table& table(); }
namespace lamina::kernels::cpu::avx2 { const Table& table(); }
#elif defined(__aarch64__)
#define LAMINA_HAS_NEON_LEVEL 1
namespace lamina::kernels::cpu::neon { const Table& table(); }
#endif
namespace lamina::kernels::cpu::generic { const Table& table(); }

namespace lamina::kernels {

namespace {
// The op that last asked for a table on this thread (ops_detail::kernels_for), for
// missing_kernel's message.
thread_local const char* t_op = "?";
thread_local const char* t_device = "?";
}  // namespace

void asked_by(const char* op, const char* device) {
  t_op = op;
  t_device = device;
}

void missing_kernel() {
  detail::raise<DeviceError>(t_op, ": device ", t_device, " has no kernel for this op");
}

}  // namespace lamina::kernels

namespace lamina::kernels::cpu {

const Table& table(Isa level) {
  LAMINA_CHECK(can_run(level), "no CPU kernels at level ", isa_name(level), " on this machine");
  switch (level) {
#if defined(LAMINA_HAS_X86_LEVELS)
    case Isa::avx512: return avx512::table();
    case Isa::avx2: return avx2::table();
#elif defined(LAMINA_HAS_NEON_LEVEL)
    case Isa::neon: return neon::table();
#endif
    default: return generic::table();
  }
}

const Table& table() { return table(active_isa()); }

std::vector<std::pair<std::string, std::string>> kernel_paths(Isa level) {
  const Table& t = table(level);
  const std::string at = isa_name(level);
  // A family's own vector code where the level's table has it, else what stands in.
  auto own = [&](bool has, const char* instead) { return has ? at : std::string(instead); };
  return {
      {"elementwise", at},
      {"softmax", at},
      {"pooling", at},
      {"batch_norm", at},
      {"lrn", at},
      {"im2col", at},
      {"depthwise", at},
      {"gemm", blas_name()},
      {"conv_gemm", own(bool(t.conv_gemm), "gemm")},
      {"dot_gemm", own(bool(t.dot_gemm), "gemm")},
      {"winograd", own(bool(t.winograd_conv), "none (im2col + gemm)")},
  };
}

}  // namespace lamina::kernels::cpu
