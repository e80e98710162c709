// parallel_for(n, parallel, f): calls f(thread, i) for i in [0, n), split statically over
// lamina's threads when `parallel`; `thread` indexes per-thread scratch buffers
// (there are at most num_threads() of them).
#pragma once

#include <cstdint>

#include "lamina/parallel.hpp"

#ifdef LAMINA_HAVE_OPENMP
#include <omp.h>
#endif

namespace lamina {

// Serial work runs outside any OpenMP region: an if(false) region would make the GEMMs
// inside it open *nested* teams, whose threads then spin against the idle outer pool's.
template <class F>
void parallel_for(int64_t n, bool parallel, F f) {
#ifdef LAMINA_HAVE_OPENMP
  if (!parallel || n <= 1) {
    for (int64_t i = 0; i < n; ++i) f(0, i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(omp_get_thread_num(), i);
#else
  (void)parallel;
  for (int64_t i = 0; i < n; ++i) f(0, i);
#endif
}

}  // namespace lamina
