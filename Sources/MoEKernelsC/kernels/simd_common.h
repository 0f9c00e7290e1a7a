// Small helpers every kernel file uses: IEEE half and bf16 to float, and a vector's horizontal sum.
// Included by C files only; everything is static.
#ifndef MOE_SIMD_COMMON_H
#define MOE_SIMD_COMMON_H
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif
// The arm64 kernels' floor is ARMv8.2-A with the dot-product extension (sdot): every Apple silicon
// core, Graviton 2 and later, Cortex-A76 and later. Package.swift compiles for it, and `moekit`'s
// CPU check refuses a core without it. Without it the files compile to their portable scalar code.
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#define MOE_NEON 1
#endif

// An IEEE half's value, subnormals, infinities and NaN included (F16C when compiled for it).
static inline float half_value(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#elif defined(__aarch64__)
    __fp16 v;   // one fcvt
    memcpy(&v, &h, 2);
    return (float)v;
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF, bits;
    if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f);   // m · 2^-24
        return sign ? -v : v;
    }
    bits = e == 31 ? (sign | 0x7F800000u | (m << 13)) : (sign | ((e - 15 + 127) << 23) | (m << 13));
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

// A bf16's value (the high half of an f32).
static inline float bf16_value(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Block j (0..7) of a Q4_K/Q5_K super-block: its 6-bit scale and minimum, from the twelve packed
// scale bytes `s` (llama.cpp's get_scale_min_k4 layout).
static inline void kquant_scale_min(const uint8_t *s, int j, int *scale, int *mn) {
    if (j < 4) {
        *scale = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

#if defined(__AVX2__)
// The sum of a vector's eight floats, in ggml's hsum_float_8 order ((4+0 + 6+2) + (5+1 + 7+3)):
// llamacpp.c reproduces llama.cpp's roundings with it, so keep the order.
static inline __attribute__((always_inline)) float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif
#endif
