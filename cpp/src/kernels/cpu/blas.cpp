// What backs gemm, and its thread count (not per level: the BLAS picks its own kernels).
#include "kernels/kernels.hpp"

#ifdef LAMINA_HAVE_OPENBLAS
#include <cblas.h>
#define LAMINA_CAT_(a, b) a##b
#define LAMINA_CAT(a, b) LAMINA_CAT_(a, b)
#define LAMINA_BLAS(name) LAMINA_CAT(LAMINA_BLAS_PREFIX, name)
#endif

namespace lamina::kernels::cpu {

const char* blas_name() {
#if defined(LAMINA_HAVE_OPENBLAS)
  return LAMINA_BLAS(openblas_get_config)();
#elif defined(LAMINA_HAVE_BLAS)
  return "system BLAS";
#else
  return "built-in";
#endif
}

void blas_single_thread() {
#if defined(LAMINA_HAVE_OPENBLAS)
  LAMINA_BLAS(openblas_set_num_threads)(1);
#endif
}

}  // namespace lamina::kernels::cpu
