// Small SIMD helpers every kernel file uses. Included by C files only; everything is static.
#ifndef MOE_SIMD_COMMON_H
#define MOE_SIMD_COMMON_H
#if defined(__AVX2__)
#include <immintrin.h>
// The sum of a vector's eight floats.
static inline __attribute__((always_inline)) float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif
#endif
