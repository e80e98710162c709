// Included at the very end of every kernel file: closes the target attribute region that
// simd.hpp opens under clang (GCC's target pragma needs no end).
#if defined(LAMINA_LEVEL_TARGET) && defined(__clang__)
#pragma clang attribute pop
#endif
