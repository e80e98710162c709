// What the kernel files of one level call in each other, and how each adds its kernels to
// the level's Table (table.cpp). Included after simd.hpp.
#pragma once

namespace lamina::kernels::cpu::LAMINA_LEVEL {

// Each kernel file fills the Table entries it defines.
void fill_batch_norm(Table& t);
void fill_binary(Table& t);
void fill_conv(Table& t);
void fill_conv_gemm(Table& t);
void fill_depthwise(Table& t);
void fill_dot_gemm(Table& t);
void fill_gemm(Table& t);
void fill_im2col(Table& t);
void fill_index(Table& t);
void fill_lrn(Table& t);
void fill_metrics(Table& t);
void fill_pointwise(Table& t);
void fill_pool(Table& t);
void fill_random(Table& t);
void fill_reduce(Table& t);
void fill_reduce_axes(Table& t);
void fill_select(Table& t);
void fill_softmax(Table& t);
void fill_update(Table& t);
void fill_winograd(Table& t);

// The level's Table (table.cpp): what one kernel file calls of a kernel another file may
// leave empty at this level.
const Table& table();

// Used across files (Table says what each computes).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc);
void conv_gemm(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t p0, int64_t p1,
               const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false);
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const float* B, int64_t ldb, int64_t P,
                        const float* bias, bool accumulate, float* C, int64_t ldc, bool stream = false);
void conv_gemm_parallel(int64_t M, int64_t K, ConvGemmA A, const TransposedB& B, int64_t P, bool accumulate,
                        float* C, int64_t ldc, bool stream = false);
size_t dot_gemm_size(int64_t M, int64_t N);
void dot_gemm(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb, float* acc);
void dot_gemm_finish(int64_t M, int64_t N, const float* acc, float* C, int64_t ldc);
// The sum of S values (in T, a vector reduction); channel_sums as Typed says.
template <class T> T plane_sum(const T* x, int64_t S);
template <class T> void channel_sums(const T* x, int64_t N, int64_t C, int64_t S, T* out);
// Whether this level has conv_gemm (and dot_gemm).
bool has_conv_gemm();

}  // namespace lamina::kernels::cpu::LAMINA_LEVEL

// t.f32.name = name<float>, t.f64.name = name<double> (a kernel file's fill_*); the
// integers' entries (i32, i64), and every dtype's (those and b8).
#define LAMINA_FILL(t, name) ((t).f32.name = &name<float>, (t).f64.name = &name<double>)
#define LAMINA_FILL_INTEGERS(t, name) ((t).i32.name = &name<int32_t>, (t).i64.name = &name<int64_t>)
#define LAMINA_FILL_ALL(t, name) (LAMINA_FILL(t, name), LAMINA_FILL_INTEGERS(t, name), (t).b8.name = &name<bool>)
