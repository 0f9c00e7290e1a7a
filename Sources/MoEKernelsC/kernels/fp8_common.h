// Helpers shared by fp8.c (FP8 × f32) and bf16act.c (BF16/FP8 × bf16): the e4m3 value of a byte,
// and sixteen e4m3 bytes widened to floats through IEEE halves. An e4m3 byte s.eeee.mmm moved into
// a half as s.0eeee.mmm0000000 is exactly its value times 2^-8, subnormals included, and F16C turns
// eight halves into floats in one instruction (NEON: four per instruction); callers fold the 2^8 into their scales. Included by
// C files only; everything is static.
#ifndef MOE_FP8_COMMON_H
#define MOE_FP8_COMMON_H
#include <stdint.h>
#include "simd_common.h"

static inline float e4m3_value(uint8_t b) {
    int e = (b >> 3) & 0xF, m = b & 7;
    float v = e == 0 ? (float)m / 512.0f : (1.0f + (float)m / 8.0f) * (float)(1 << e) / 128.0f;
    if (e == 15 && m == 7) v = __builtin_nanf("");
    return (b & 0x80) ? -v : v;
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

// 16 e4m3 bytes -> two vectors of 8 floats (value · 2^-8).
static inline void fp8x16(const uint8_t *p, __m256 *lo, __m256 *hi) {
    __m256i s = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
    // Sign-extension set bit 14 for negative bytes; the mask clears it.
    __m256i h = _mm256_and_si256(_mm256_slli_epi16(s, 7), _mm256_set1_epi16((short)0xBFFF));
    // The NaN codes s.1111.111 land on an ordinary half exponent: give them the half's NaN exponent.
    const __m256i low7 = _mm256_set1_epi16(0x3F80);
    __m256i nan = _mm256_cmpeq_epi16(_mm256_and_si256(h, low7), low7);
    h = _mm256_or_si256(h, _mm256_and_si256(nan, _mm256_set1_epi16(0x7C00)));
    *lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    *hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}
#endif

#if MOE_NEON
// 8 e4m3 bytes -> two vectors of 4 floats (value · 2^-8), the same trick with NEON's half widening.
static inline void fp8x8(const uint8_t *p, float32x4_t *lo, float32x4_t *hi) {
    int16x8_t s = vmovl_s8(vld1_s8((const int8_t *)p));
    uint16x8_t h = vandq_u16(vreinterpretq_u16_s16(vshlq_n_s16(s, 7)), vdupq_n_u16(0xBFFF));
    const uint16x8_t low7 = vdupq_n_u16(0x3F80);
    h = vorrq_u16(h, vandq_u16(vceqq_u16(vandq_u16(h, low7), low7), vdupq_n_u16(0x7C00)));   // NaN codes
    float16x8_t f = vreinterpretq_f16_u16(h);
    *lo = vcvt_f32_f16(vget_low_f16(f));
    *hi = vcvt_high_f32_f16(f);
}
#endif
#endif
