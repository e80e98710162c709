// Threads. lamina's CPU kernels use one pool (OpenMP when built with LAMINA_OPENMP).
#pragma once

namespace lamina {

// Sets the number of threads lamina's kernels use (n >= 1; throws ValueError otherwise),
// and the BLAS's thread count with it. The default is the number of cores OpenMP sees
// (OMP_NUM_THREADS is honoured).
void set_num_threads(int n);
int num_threads();

// Deterministic mode: results bit-identical whatever the thread count, at every vector
// level. Outside it, some kernels follow the thread count, each for speed:
//   - conv2d's weight gradient adds per-thread partial sums over the batch (and a lone
//     image's rows, and Winograd's parts) in an order set by the threads;
//   - conv2d picks its kernels by whether the batch is split over threads (the input
//     gradient's GEMM; a lone image's rows split in the forward);
//   - GEMMs are cut into one block per thread, and a block's sums can depend on its extent
//     (the BLAS's and conv_gemm's edge paths).
// In the mode the weight gradient sums the images in one fixed order (on one thread, while
// the input gradient still uses them all), the kernel choices are those of a split batch
// at any thread count, and GEMMs are cut into blocks of a fixed size, dealt to the threads.
// So training gives the same weights at any thread count. Off by default;
// LAMINA_DETERMINISTIC=1 in the environment turns it on.
void set_deterministic(bool on);
bool deterministic();

// What backs GEMM: OpenBLAS's configuration (version, core type), "system BLAS" or
// "built-in".
const char* blas_info();

}  // namespace lamina
