#include "MoEKernelsC.h"
#include <string.h>
#include "kernels/simd_common.h"
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_AVX2 1
#endif


static uint16_t load16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
#if MOE_NEON
static void dot_tokens(int kind, const uint8_t *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks);
#endif

#if MOE_AVX2

// 16 nibble bytes -> (Σ q·x, Σ x) for one block of 32 activations (low nibbles are weights 0..15).
static inline void nibble_block(const uint8_t *q, const float *x, __m256 *qx, __m256 *xs) {
    __m128i v = _mm_loadu_si128((const __m128i *)q);
    __m128i mask = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_and_si128(v, mask), hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
    __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    __m256 f2 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    __m256 f3 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8), x2 = _mm256_loadu_ps(x + 16), x3 = _mm256_loadu_ps(x + 24);
    __m256 s = _mm256_mul_ps(f0, x0);
    s = _mm256_fmadd_ps(f1, x1, s);
    s = _mm256_fmadd_ps(f2, x2, s);
    s = _mm256_fmadd_ps(f3, x3, s);
    *qx = s;
    *xs = _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3));
}
#endif

float moe_dot_q4_0_f32(const void *wv, const float *x, long blocks) {
    const uint8_t *w = (const uint8_t *)wv;
#if MOE_NEON
    float r;
    dot_tokens(0, w, x, 0, &r, 0, 1, blocks);
    return r;
#elif MOE_AVX2
    __m256 acc = _mm256_setzero_ps(), eight = _mm256_set1_ps(8.0f);
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 18;
        __m256 qx, xs;
        nibble_block(p + 2, x + b * 32, &qx, &xs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_value(load16(p))), _mm256_fnmadd_ps(eight, xs, qx), acc);
    }
    return hsum256(acc);
#else
    float total = 0;
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 18;
        float d = half_value(load16(p)), s = 0;
        for (int j = 0; j < 16; j++) {
            s += (float)((p[2 + j] & 0xF) - 8) * x[b * 32 + j] + (float)((p[2 + j] >> 4) - 8) * x[b * 32 + j + 16];
        }
        total += d * s;
    }
    return total;
#endif
}

float moe_dot_q4_1_f32(const void *wv, const float *x, long blocks) {
    const uint8_t *w = (const uint8_t *)wv;
#if MOE_NEON
    float r;
    dot_tokens(1, w, x, 0, &r, 0, 1, blocks);
    return r;
#elif MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 20;
        __m256 qx, xs;
        nibble_block(p + 4, x + b * 32, &qx, &xs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_value(load16(p))), qx, acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_value(load16(p + 2))), xs, acc);
    }
    return hsum256(acc);
#else
    float total = 0;
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 20;
        float d = half_value(load16(p)), m = half_value(load16(p + 2)), s = 0, xs = 0;
        for (int j = 0; j < 16; j++) {
            const float *xb = x + b * 32;
            s += (float)(p[4 + j] & 0xF) * xb[j] + (float)(p[4 + j] >> 4) * xb[j + 16];
            xs += xb[j] + xb[j + 16];
        }
        total += d * s + m * xs;
    }
    return total;
#endif
}

float moe_dot_q8_0_f32(const void *wv, const float *x, long blocks) {
    const uint8_t *w = (const uint8_t *)wv;
#if MOE_NEON
    float r;
    dot_tokens(2, w, x, 0, &r, 0, 1, blocks);
    return r;
#elif MOE_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 34;
        const float *xb = x + b * 32;
        __m128i q0 = _mm_loadu_si128((const __m128i *)(p + 2)), q1 = _mm_loadu_si128((const __m128i *)(p + 18));
        __m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q0)), _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q0, 8))), _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q1)), _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q1, 8))), _mm256_loadu_ps(xb + 24), s);
        __m256 d = _mm256_set1_ps(half_value(load16(p)));
        if (b & 1) acc1 = _mm256_fmadd_ps(d, s, acc1); else acc0 = _mm256_fmadd_ps(d, s, acc0);
    }
    return hsum256(_mm256_add_ps(acc0, acc1));
#else
    float total = 0;
    for (long b = 0; b < blocks; b++) {
        const uint8_t *p = w + b * 34;
        float d = half_value(load16(p)), s = 0;
        for (int j = 0; j < 32; j++) s += (float)(int8_t)p[2 + j] * x[b * 32 + j];
        total += d * s;
    }
    return total;
#endif
}

#if MOE_AVX2
// Unpacked weights of one block: four vectors of eight floats, plus (for Q4_1) its min.
typedef struct { __m256 f[4]; float d, m; } moe_block;

static inline void unpack_q4(const uint8_t *q, __m256 f[4], int minus8) {
    __m128i v = _mm_loadu_si128((const __m128i *)q);
    __m128i mask = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_and_si128(v, mask), hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
    f[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    f[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    f[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    f[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
    if (minus8) {
        __m256 e = _mm256_set1_ps(8.0f);
        for (int k = 0; k < 4; k++) f[k] = _mm256_sub_ps(f[k], e);
    }
}

static inline void unpack_q8(const uint8_t *q, __m256 f[4]) {
    __m128i q0 = _mm_loadu_si128((const __m128i *)q), q1 = _mm_loadu_si128((const __m128i *)(q + 16));
    f[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q0));
    f[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q0, 8)));
    f[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q1));
    f[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q1, 8)));
}

// kind: 0 = Q4_0, 1 = Q4_1, 2 = Q8_0
static void dot_tokens(int kind, const uint8_t *w, const float *x, long xstride, float *out, long outstride,
                       long tokens, long blocks) {
    long bytes = kind == 0 ? 18 : kind == 1 ? 20 : 34;
    for (long t0 = 0; t0 < tokens; t0 += 4) {
        long nt = tokens - t0 < 4 ? tokens - t0 : 4;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (long b = 0; b < blocks; b++) {
            const uint8_t *p = w + b * bytes;
            __m256 f[4];
            float d = half_value(load16(p)), m = 0;
            if (kind == 0) unpack_q4(p + 2, f, 1);
            else if (kind == 1) { m = half_value(load16(p + 2)); unpack_q4(p + 4, f, 0); }
            else unpack_q8(p + 2, f);
            __m256 dv = _mm256_set1_ps(d), mv = _mm256_set1_ps(m);
            for (long t = 0; t < nt; t++) {
                const float *xb = x + (t0 + t) * xstride + b * 32;
                __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8), x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
                __m256 s = _mm256_mul_ps(f[0], x0);
                s = _mm256_fmadd_ps(f[1], x1, s);
                s = _mm256_fmadd_ps(f[2], x2, s);
                s = _mm256_fmadd_ps(f[3], x3, s);
                acc[t] = _mm256_fmadd_ps(dv, s, acc[t]);
                if (kind == 1) acc[t] = _mm256_fmadd_ps(mv, _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)), acc[t]);
            }
        }
        for (long t = 0; t < nt; t++) out[(t0 + t) * outstride] = hsum256(acc[t]);
    }
}
#elif MOE_NEON
// 32 weights of a block as eight vectors of four floats, from two vectors of sixteen bytes.
static inline void widen32(int8x16_t lo, int8x16_t hi, float32x4_t f[8]) {
    int8x16_t v[2] = {lo, hi};
    for (int h = 0; h < 2; h++) {
        int16x8_t a = vmovl_s8(vget_low_s8(v[h])), b = vmovl_high_s8(v[h]);
        f[4 * h] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(a)));
        f[4 * h + 1] = vcvtq_f32_s32(vmovl_high_s16(a));
        f[4 * h + 2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(b)));
        f[4 * h + 3] = vcvtq_f32_s32(vmovl_high_s16(b));
    }
}

// kind: 0 = Q4_0, 1 = Q4_1, 2 = Q8_0. One block: d, m and its 32 weights (Q4_0 already less 8).
static inline __attribute__((always_inline)) void nblock(int kind, const uint8_t *p, float f[1], float m[1], float32x4_t wf[8]) {
    if (kind == 2) {
        *f = half_value(load16(p));
        *m = 0;
        widen32(vld1q_s8((const int8_t *)(p + 2)), vld1q_s8((const int8_t *)(p + 18)), wf);
        return;
    }
    const uint8_t *q = p + (kind == 0 ? 2 : 4);
    uint8x16_t v = vld1q_u8(q);
    int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
    if (kind == 0) { lo = vsubq_s8(lo, vdupq_n_s8(8)); hi = vsubq_s8(hi, vdupq_n_s8(8)); }
    *f = half_value(load16(p));
    *m = kind == 1 ? half_value(load16(p + 2)) : 0;
    widen32(lo, hi, wf);
}

static void dot_tokens(int kind, const uint8_t *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks) {
    long bytes = kind == 0 ? 18 : kind == 1 ? 20 : 34;
    for (long t0 = 0; t0 < tokens; t0 += 4) {
        long nt = tokens - t0 < 4 ? tokens - t0 : 4;
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
        for (long b = 0; b < blocks; b++) {
            float32x4_t wf[8];
            float d, m;
            nblock(kind, w + b * bytes, &d, &m, wf);
            for (long t = 0; t < nt; t++) {
                const float *xb = x + (t0 + t) * xstride + b * 32;
                float32x4_t s = vdupq_n_f32(0), xs = vdupq_n_f32(0);
                for (int k = 0; k < 8; k++) {
                    float32x4_t xv = vld1q_f32(xb + 4 * k);
                    s = vfmaq_f32(s, wf[k], xv);
                    if (kind == 1) xs = vaddq_f32(xs, xv);   // only Q4_1's minimum needs Σx
                }
                acc[t] = vfmaq_n_f32(acc[t], s, d);
                if (kind == 1) acc[t] = vfmaq_n_f32(acc[t], xs, m);
            }
        }
        for (long t = 0; t < nt; t++) out[(t0 + t) * outstride] = vaddvq_f32(acc[t]);
    }
}
#endif

// The three several-token entry points: the AVX2 kernel above, or one dot per token.
#if MOE_AVX2 || MOE_NEON
#define TOKENS(T, KIND) \
    void moe_dot_##T##_f32_tokens(const void *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks) { \
        dot_tokens(KIND, (const uint8_t *)w, x, xstride, out, outstride, tokens, blocks); }
#else
#define TOKENS(T, KIND) \
    void moe_dot_##T##_f32_tokens(const void *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks) { \
        for (long t = 0; t < tokens; t++) out[t * outstride] = moe_dot_##T##_f32(w, x + t * xstride, blocks); }
#endif
TOKENS(q4_0, 0)
TOKENS(q4_1, 1)
TOKENS(q8_0, 2)
