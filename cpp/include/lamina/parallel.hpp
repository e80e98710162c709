// Threads. lamina's CPU kernels use one pool (OpenMP when built with LAMINA_OPENMP).
#pragma once

namespace lamina {

// Sets the number of threads lamina's kernels use (n >= 1; throws ValueError otherwise),
// and the BLAS's thread count with it. The default is the number of cores OpenMP sees
// (OMP_NUM_THREADS is honoured).
void set_num_threads(int n);
int num_threads();

// What backs GEMM: OpenBLAS's configuration (version, core type), "system BLAS" or
// "built-in".
const char* blas_info();

}  // namespace lamina
