// Threads. lamina's CPU kernels use one pool (OpenMP when built with LAMINA_OPENMP).
#pragma once

namespace lamina {

// Sets the number of threads lamina's kernels use (n >= 1; throws ValueError otherwise),
// and the BLAS's thread count with it. The default is the number of cores OpenMP sees
// (OMP_NUM_THREADS is honoured).
void set_num_threads(int n);
int num_threads();

// Deterministic mode: results bit-identical whatever the thread count. Every op is so
// already except conv2d's weight gradient (Convolution's and Deconvolution's backward),
// whose per-thread partial sums over the batch are added in an order that depends on the
// thread count; in deterministic mode it sums the images in one fixed order (on one thread,
// while the input gradient still uses them all), so training gives the same weights at any
// thread count. Off by default; LAMINA_DETERMINISTIC=1 in the environment turns it on.
// Checked at the AVX-512 level only: at AVX2 conv2d's input gradient and at the generic
// level linear's forward also depend on the thread count, which the mode does not cover yet.
void set_deterministic(bool on);
bool deterministic();

// What backs GEMM: OpenBLAS's configuration (version, core type), "system BLAS" or
// "built-in".
const char* blas_info();

}  // namespace lamina
