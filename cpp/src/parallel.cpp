#include "lamina/parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.hpp"
#include "lamina/error.hpp"

#ifdef LAMINA_HAVE_OPENMP
#include <omp.h>
#endif

namespace lamina {

void set_num_threads(int n) {
  LAMINA_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
#ifdef LAMINA_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
  kernels::cpu::blas_single_thread();  // lamina's gemm splits work over these threads itself
}

namespace {

std::atomic<bool>& deterministic_flag() {
  static std::atomic<bool> on([] {
    const char* v = std::getenv("LAMINA_DETERMINISTIC");
    return v != nullptr && *v != 0 && std::strcmp(v, "0") != 0;
  }());
  return on;
}

}  // namespace

void set_deterministic(bool on) { deterministic_flag() = on; }
bool deterministic() { return deterministic_flag(); }

const char* blas_info() { return kernels::cpu::blas_name(); }

int num_threads() {
#ifdef LAMINA_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace lamina
