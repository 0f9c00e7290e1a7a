// Integer dot products of GGML block-quantised weights with activations quantised to int8.
//
// Activations are quantised exactly as llama.cpp quantises them for each weight type (Q8_0, Q8_1 or
// Q8_K: see moe_quantize_q8_act), so x ≈ d·q with d per block of 32. A token's activation row of n
// values is laid out as
//     int8 q[n] | float d[n/32] | float s[n/32] | float h[n/16]
// where s[b] = d[b]·Σ q over block b and h[2b], h[2b+1] the same over its two halves of 16: the sums
// that weight offsets and minima multiply.
//
// Every weight block of 32 of Q4_0 … Q8_0 and MXFP4 is unpacked to 32 small integers u (unsigned, or
// signed for Q8_0/MXFP4), and its contribution is
//     a·d_x·Σ u·q  +  cb·s
// with a, cb from the block's scales (see `unpack`). The K-quants go through `k_setup`/`kdot_group`
// (below): for Q2_K, Q3_K and Q6_K, whose scales cover 16 weights, the two halves' scales multiply
// inside the integer sum, and the half sums h carry their offsets or minima.
#include "MoEKernelsC.h"
#include <math.h>
#include <string.h>
#include "kernels/simd_common.h"
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_AVX2 1
#endif

long moe_q8_act_bytes(long n) { return n + (n / 32) * 16; }

// Round to nearest, ties to even (the current rounding mode), as lrintf but inline.
static inline int round_int(float v) {
#if MOE_AVX2
    return _mm_cvtss_si32(_mm_set_ss(v));
#elif MOE_NEON
    return vcvtns_s32_f32(v);
#else
    return (int)lrintf(v);
#endif
}

static float f16_round(float v) {
#if defined(__F16C__)
    return _cvtsh_ss(_cvtss_sh(v, 0));
#else
    return (float)(_Float16)v;
#endif
}

void moe_quantize_q8_act(const float *x, long n, void *actv, int kind) {
    int8_t *q = (int8_t *)actv;
    float *d = (float *)((uint8_t *)actv + n);
    long nb = n / 32;
    float *s = d + nb, *h = s + nb;
    if (kind == MOE_ACT_Q8_K) {
        // llama.cpp's Q8_K: one scale per 256 values, from the signed extreme (-127/max).
        for (long sb = 0; sb < n / 256; sb++) {
            const float *xb = x + sb * 256;
            float amax = 0, mx = 0;
            for (int j = 0; j < 256; j++) { float a = fabsf(xb[j]); if (a > amax) { amax = a; mx = xb[j]; } }
            float iscale = amax > 0 ? -127.0f / mx : 0.0f, db = amax > 0 ? 1.0f / iscale : 0.0f;
            for (int b = 0; b < 8; b++) {
                int lo = 0, hi = 0;
                for (int j = 0; j < 32; j++) {
                    int v = round_int(iscale * xb[b * 32 + j]);
                    v = v > 127 ? 127 : v;
                    q[sb * 256 + b * 32 + j] = (int8_t)v;
                    if (j < 16) lo += v; else hi += v;
                }
                long bi = sb * 8 + b;
                d[bi] = db;
                s[bi] = db * (float)(lo + hi);
                h[2 * bi] = db * (float)lo;
                h[2 * bi + 1] = db * (float)hi;
            }
        }
        return;
    }
    // llama.cpp's Q8_0 / Q8_1: per 32, d = max|x|/127 kept as f16, q = round(x·127/max|x|); Q8_1 also
    // keeps d·Σq as f16 (from the unrounded d).
    for (long b = 0; b < nb; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        int lo = 0, hi = 0;
#if MOE_AVX2
        __m256 v[4];
        __m256 m = _mm256_setzero_ps();
        const __m256 sign = _mm256_set1_ps(-0.0f);
        for (int k = 0; k < 4; k++) { v[k] = _mm256_loadu_ps(xb + 8 * k); m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k])); }
        __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        amax = _mm_cvtss_f32(m4);
        const __m256 mul = _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
        __m256i i[4];
        for (int k = 0; k < 4; k++) {
            i[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        __m256i s01 = _mm256_add_epi32(i[0], i[1]), s23 = _mm256_add_epi32(i[2], i[3]);
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s01), _mm256_extracti128_si256(s01, 1));
        t = _mm_hadd_epi32(t, t); t = _mm_hadd_epi32(t, t);
        lo = _mm_cvtsi128_si32(t);
        t = _mm_add_epi32(_mm256_castsi256_si128(s23), _mm256_extracti128_si256(s23, 1));
        t = _mm_hadd_epi32(t, t); t = _mm_hadd_epi32(t, t);
        hi = _mm_cvtsi128_si32(t);
        // int32 -> int8 in order: packs interleave 128-bit lanes, a permute restores the order.
        __m256i p16a = _mm256_packs_epi32(i[0], i[1]), p16b = _mm256_packs_epi32(i[2], i[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + b * 32), p8);
#elif MOE_NEON
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) { v[k] = vld1q_f32(xb + 4 * k); m = vmaxq_f32(m, vabsq_f32(v[k])); }
        amax = vmaxvq_f32(m);
        const float mul = amax != 0 ? 127.0f / amax : 0.0f;
        int32x4_t i[8];
        // Round to nearest, ties to even, as the AVX2 path and lrintf.
        for (int k = 0; k < 8; k++) i[k] = vcvtnq_s32_f32(vmulq_n_f32(v[k], mul));
        lo = vaddvq_s32(vaddq_s32(vaddq_s32(i[0], i[1]), vaddq_s32(i[2], i[3])));
        hi = vaddvq_s32(vaddq_s32(vaddq_s32(i[4], i[5]), vaddq_s32(i[6], i[7])));
        for (int k = 0; k < 2; k++) {
            int16x8_t a = vcombine_s16(vqmovn_s32(i[4 * k]), vqmovn_s32(i[4 * k + 1]));
            int16x8_t c = vcombine_s16(vqmovn_s32(i[4 * k + 2]), vqmovn_s32(i[4 * k + 3]));
            vst1q_s8(q + b * 32 + 16 * k, vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
        }
#else
        for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); amax = a > amax ? a : amax; }
        float id = amax != 0 ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; j++) {
            int v = (int)lrintf(xb[j] * id);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[b * 32 + j] = (int8_t)v;
            if (j < 16) lo += v; else hi += v;
        }
#endif
        float db = amax / 127.0f, dr = f16_round(db);
        d[b] = dr;
        s[b] = kind == MOE_ACT_Q8_1 ? f16_round(db * (float)(lo + hi)) : dr * (float)(lo + hi);
        h[2 * b] = dr * (float)lo;
        h[2 * b + 1] = dr * (float)hi;
    }
}

void moe_quantize_q8_rows(const float *x, long n, long rows, void *act, int type) {
    long stride = moe_q8_act_bytes(n);
    int kind = moe_q8_act_kind(type);
    for (long t = 0; t < rows; t++) moe_quantize_q8_act(x + t * n, n, (uint8_t *)act + t * stride, kind);
}

int moe_q8_act_kind(int type) {
    switch (type) {
    case 3: case 7: return MOE_ACT_Q8_1;
    case 10: case 11: case 12: case 13: case 14: return MOE_ACT_Q8_K;
    default: return MOE_ACT_Q8_0;
    }
}

int moe_q8_supported(void) {
#if MOE_AVX2 || MOE_NEON
    return 1;
#else
    return 0;
#endif
}

enum { MODE_U8 = 0, MODE_S8 = 1, MODE_SC16 = 2 };

#if MOE_AVX2

static inline float f16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return _cvtsh_ss(v); }


// 16 bytes -> 32 nibbles: the low nibbles (elements 0..15), then the high ones (16..31).
static inline __m256i nibbles(const uint8_t *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}

// Byte j = 0x10 when bit j of x is set.
static inline __m256i bit4_from_bits(uint32_t x) {
    const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), _mm256_set1_epi8(0x10));
}

// (bytes at p >> shift) & mask, per byte (shift < 8).
static inline __m256i bits_at(const uint8_t *p, int shift, int mask) {
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8((char)mask));
}


// A block of 32 (Q4_0 … Q8_0, MXFP4; MODE_U8 or MODE_S8): its weights and their two coefficients.
typedef struct {
    __m256i u;      // 32 unpacked weights
    float a, cb;
} wblock;

// Unpacks 32-block `b` of a row of GGML type `type` (codes as in GGUF). Returns the mode.
static inline __attribute__((always_inline)) int unpack(int type, const uint8_t *w, long b, wblock *k) {
    switch (type) {
    case 2: {   // Q4_0: d, 16 nibble bytes; value (u - 8)·d
        const uint8_t *p = w + b * 18;
        float d = f16(p);
        k->u = nibbles(p + 2); k->a = d; k->cb = -8.0f * d;
        return MODE_U8;
    }
    case 3: {   // Q4_1: d, m, nibbles; u·d + m
        const uint8_t *p = w + b * 20;
        k->u = nibbles(p + 4); k->a = f16(p); k->cb = f16(p + 2);
        return MODE_U8;
    }
    case 6: {   // Q5_0: d, qh, nibbles; (u - 16)·d
        const uint8_t *p = w + b * 22;
        uint32_t qh; memcpy(&qh, p + 2, 4);
        float d = f16(p);
        k->u = _mm256_or_si256(nibbles(p + 6), bit4_from_bits(qh)); k->a = d; k->cb = -16.0f * d;
        return MODE_U8;
    }
    case 7: {   // Q5_1: d, m, qh, nibbles
        const uint8_t *p = w + b * 24;
        uint32_t qh; memcpy(&qh, p + 4, 4);
        k->u = _mm256_or_si256(nibbles(p + 8), bit4_from_bits(qh)); k->a = f16(p); k->cb = f16(p + 2);
        return MODE_U8;
    }
    case 8: {   // Q8_0: d, 32 int8
        const uint8_t *p = w + b * 34;
        k->u = _mm256_loadu_si256((const __m256i *)(p + 2)); k->a = f16(p); k->cb = 0;
        return MODE_S8;
    }
    case 39: {  // MXFP4: e8m0 exponent, nibbles indexing doubled e2m1 values
        const uint8_t *p = w + b * 17;
        const __m256i table = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                               0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
        uint8_t e = p[0];
        uint32_t bits = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
        float d; memcpy(&d, &bits, 4);
        k->u = _mm256_shuffle_epi8(table, nibbles(p + 1)); k->a = d; k->cb = 0;
        return MODE_S8;
    }
    }
    return -1;
}

// K-quants meet Q8_K activations: one activation scale per super-block of 256, so (as in llama.cpp)
// the eight blocks' integer sums, each times its integer block scale, add up in int32 and the super-block
// costs one conversion and one multiply. `d` multiplies that sum (times the activation scale); `c0`,
// `c1` hold the coefficients of the activation sums: per block (Q4_K, Q5_K: c0 · s, the minima) or per
// half-block (the others: c0, c1 · h). Block scales: `sc8` (Q4_K, Q5_K: eight 6-bit scales) or `s16`
// (Q2_K, Q3_K, Q6_K: sixteen half-block scales as int16).
typedef struct {
    float d;
    __m256 c0, c1;
    __m256i s16;
    uint8_t sc8[8];
} kscales;

// Sixteen signed half-block scales `sc` (Q3_K, Q6_K) whose values carry an offset: the scales as
// int16 lanes, and the offset correction `offset`·d·sc per half block.
static inline __attribute__((always_inline)) int sc16(kscales *k, __m128i sc, float d, float offset) {
    k->s16 = _mm256_cvtepi8_epi16(sc);
    __m256 f = _mm256_set1_ps(offset * d);
    k->c0 = _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
    k->c1 = _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))));
    k->d = d;
    return MODE_SC16;
}

static inline __attribute__((always_inline)) int k_setup(int type, const uint8_t *p, kscales *k) {
    switch (type) {
    case 10: {  // Q2_K: scales[16] | qs[64] | d | dmin; value d·sc·u - dmin·m per 16
        float d = f16(p + 80), dmin = f16(p + 82);
        __m128i sc = _mm_loadu_si128((const __m128i *)p);
        k->s16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc, _mm_set1_epi8(0x0F)));
        __m128i mins = _mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F));
        k->c0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mins)), _mm256_set1_ps(-dmin));
        k->c1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(mins, 8))), _mm256_set1_ps(-dmin));
        k->d = d;
        return MODE_SC16;
    }
    case 11: {  // Q3_K: hmask[32] | qs[64] | scales[12] | d; value (low + 4·hbit - 4)·d·sc
        float d = f16(p + 108);
        // Low nibbles: bytes 0..7, then their high nibbles; high bits: bits 2(i/4) of byte 8 + i%4.
        __m128i v = _mm_loadl_epi64((const __m128i *)(p + 96));
        __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F)));
        uint32_t h32; memcpy(&h32, p + 104, 4);
        __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32((int)h32), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
        __m128i sc = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
        return sc16(k, sc, d, -4.0f);
    }
    case 12: case 13: {  // Q4_K / Q5_K: d | dmin | scales[12] | ...; value d·sc·u - dmin·m per 32
        // Twelve bytes -> eight 6-bit scales and eight 6-bit minima, with 32-bit masks.
        uint32_t u[3], sc[2], mn[2];
        memcpy(u, p + 4, 12);
        sc[0] = u[0] & 0x3F3F3F3F;
        mn[0] = u[1] & 0x3F3F3F3F;
        sc[1] = (u[2] & 0x0F0F0F0F) | (((u[0] >> 6) & 0x03030303) << 4);
        mn[1] = ((u[2] >> 4) & 0x0F0F0F0F) | (((u[1] >> 6) & 0x03030303) << 4);
        memcpy(k->sc8, sc, 8);
        __m128i m8 = _mm_loadl_epi64((const __m128i *)mn);
        k->c0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m8)), _mm256_set1_ps(-f16(p + 2)));
        k->c1 = _mm256_setzero_ps();
        k->d = f16(p);
        return MODE_U8;
    }
    default: {  // 14, Q6_K: ql[128] | qh[64] | scales[16] | d; value (u - 32)·d·sc per 16
        float d = f16(p + 208);
        __m128i sc = _mm_loadu_si128((const __m128i *)(p + 192));
        return sc16(k, sc, d, -32.0f);
    }
    }
}

// int16 lanes: the scale of half-block 2j in the low 128 bits, of 2j+1 in the high ones.
static inline __m256i half_scales(__m256i s16, int j) {
    static const int8_t masks[4][32] = {
        {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
        {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
        {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
        {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
    };
    __m256i half = j < 4 ? _mm256_permute2x128_si256(s16, s16, 0x00) : _mm256_permute2x128_si256(s16, s16, 0x11);
    return _mm256_shuffle_epi8(half, _mm256_loadu_si256((const __m256i *)masks[j & 3]));
}

// The 32 quants of block j (0..7) of a K-quant super-block at p, as unsigned bytes.
static inline __attribute__((always_inline)) __m256i k_quants(int type, const uint8_t *p, int j) {
    int h = j >> 2, jj = j & 3;
    switch (type) {
    case 10: return bits_at(p + 16 + 32 * h, 2 * jj, 3);
    case 11: return _mm256_or_si256(bits_at(p + 32 + 32 * h, 2 * jj, 3), _mm256_slli_epi16(bits_at(p, j, 1), 2));
    case 12: return bits_at(p + 16 + 32 * (j >> 1), 4 * (j & 1), 0x0F);
    case 13: return _mm256_or_si256(bits_at(p + 48 + 32 * (j >> 1), 4 * (j & 1), 0x0F), _mm256_slli_epi16(bits_at(p + 16, j, 1), 4));
    default: {  // 14: Q6_K
        __m256i low = bits_at(p + 64 * h + 32 * (jj & 1), 4 * (jj >> 1), 0x0F);
        return _mm256_or_si256(low, _mm256_slli_epi16(bits_at(p + 128 + 32 * h, 2 * jj, 3), 4));
    }
    }
}

static inline __m256i idot(int mode, const wblock *k, __m256i x) {
    const __m256i ones = _mm256_set1_epi16(1);
    if (mode == MODE_S8) {
        return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(k->u, k->u), _mm256_sign_epi8(x, k->u)), ones);
    }
    return _mm256_madd_epi16(_mm256_maddubs_epi16(k->u, x), ones);
}

// NT tokens at once (NT is a constant after inlining): each weight block is unpacked once.
static inline __attribute__((always_inline)) void dot_group(int type, const uint8_t *w, long n, const uint8_t *act,
                                                            long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    __m256 acc[4], acc2[4];
    float corr[4];
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); acc2[t] = _mm256_setzero_ps(); corr[t] = 0; }
    for (long b = 0; b < nb; b++) {
        wblock k;
        int mode = unpack(type, w, b, &k);
        for (int t = 0; t < NT; t++) {
            const uint8_t *A = act + t * astride;
            const float *D = (const float *)(A + n);
            __m256i x = _mm256_loadu_si256((const __m256i *)(A + b * 32));
            __m256 v = _mm256_cvtepi32_ps(idot(mode, &k, x));
            __m256 s = _mm256_set1_ps(k.a * D[b]);
            // Two accumulators per token when decoding, to hide the FMA latency.
            if (NT == 1 && (b & 1)) acc2[t] = _mm256_fmadd_ps(v, s, acc2[t]);
            else acc[t] = _mm256_fmadd_ps(v, s, acc[t]);
            if (mode == MODE_U8) corr[t] += k.cb * D[nb + b];
        }
    }
    for (int t = 0; t < NT; t++) out[t * ostride] = hsum256(_mm256_add_ps(acc[t], acc2[t])) + corr[t];
}

static inline __attribute__((always_inline)) void kdot_group(int type, long bbytes, const uint8_t *w, long n, const uint8_t *act,
                                                             long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    __m256 acc[4], acc2[4];
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); acc2[t] = _mm256_setzero_ps(); }
    for (long sb = 0; sb < nb / 8; sb++) {
        const uint8_t *p = w + sb * bbytes;
        kscales k;
        int mode = k_setup(type, p, &k);
        __m256i isum[4];
        for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            __m256i u = k_quants(type, p, j);
            __m256i scv = mode == MODE_SC16 ? half_scales(k.s16, j) : _mm256_set1_epi16((short)k.sc8[j]);
            for (int t = 0; t < NT; t++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(act + t * astride + (sb * 8 + j) * 32));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), scv));
            }
        }
        for (int t = 0; t < NT; t++) {
            const float *D = (const float *)(act + t * astride + n);
            // One activation scale for the whole super-block (Q8_K).
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(k.d * D[sb * 8]), acc[t]);
            // Offsets and minima times the activation sums, eight or sixteen at a time.
            if (mode == MODE_U8) {
                acc2[t] = _mm256_fmadd_ps(k.c0, _mm256_loadu_ps(D + nb + sb * 8), acc2[t]);
            } else {
                acc2[t] = _mm256_fmadd_ps(k.c0, _mm256_loadu_ps(D + 2 * nb + sb * 16), acc2[t]);
                acc2[t] = _mm256_fmadd_ps(k.c1, _mm256_loadu_ps(D + 2 * nb + sb * 16 + 8), acc2[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t * ostride] = hsum256(_mm256_add_ps(acc[t], acc2[t]));
}

#elif MOE_NEON

// The same arithmetic with NEON and the dot-product extension: a block of 32 unpacked to two vectors
// of sixteen bytes (elements 0..15, 16..31); sdot multiplies signed bytes, and every unsigned quant
// here is below 64, so one instruction serves the unsigned and the signed (Q8_0, MXFP4) types.
static inline float f16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return half_value(v); }

typedef struct {
    int8x16_t lo, hi;   // elements 0..15, 16..31
    float a, cb;
} wblock;

// Byte j = 0x10 when bit j of the low sixteen bits of x is set.
static inline uint8x16_t bit4_16(uint32_t x) {
    const uint8x16_t bits = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)x), vdup_n_u8((uint8_t)(x >> 8)));
    return vandq_u8(vtstq_u8(v, bits), vdupq_n_u8(0x10));
}

// 16 nibble bytes: low nibbles are elements 0..15, high ones 16..31.
static inline void nibbles16(const uint8_t *p, uint8x16_t *lo, uint8x16_t *hi) {
    uint8x16_t v = vld1q_u8(p);
    *lo = vandq_u8(v, vdupq_n_u8(0x0F));
    *hi = vshrq_n_u8(v, 4);
}

static inline __attribute__((always_inline)) int unpack(int type, const uint8_t *w, long b, wblock *k) {
    uint8x16_t lo, hi;
    switch (type) {
    case 2: {   // Q4_0
        const uint8_t *p = w + b * 18;
        float d = f16(p);
        nibbles16(p + 2, &lo, &hi);
        k->a = d; k->cb = -8.0f * d;
        break;
    }
    case 3: {   // Q4_1
        const uint8_t *p = w + b * 20;
        nibbles16(p + 4, &lo, &hi);
        k->a = f16(p); k->cb = f16(p + 2);
        break;
    }
    case 6: {   // Q5_0
        const uint8_t *p = w + b * 22;
        uint32_t qh; memcpy(&qh, p + 2, 4);
        float d = f16(p);
        nibbles16(p + 6, &lo, &hi);
        lo = vorrq_u8(lo, bit4_16(qh)); hi = vorrq_u8(hi, bit4_16(qh >> 16));
        k->a = d; k->cb = -16.0f * d;
        break;
    }
    case 7: {   // Q5_1
        const uint8_t *p = w + b * 24;
        uint32_t qh; memcpy(&qh, p + 4, 4);
        nibbles16(p + 8, &lo, &hi);
        lo = vorrq_u8(lo, bit4_16(qh)); hi = vorrq_u8(hi, bit4_16(qh >> 16));
        k->a = f16(p); k->cb = f16(p + 2);
        break;
    }
    case 8: {   // Q8_0
        const uint8_t *p = w + b * 34;
        k->lo = vld1q_s8((const int8_t *)(p + 2)); k->hi = vld1q_s8((const int8_t *)(p + 18));
        k->a = f16(p); k->cb = 0;
        return MODE_S8;
    }
    case 39: {  // MXFP4
        const uint8_t *p = w + b * 17;
        const int8x16_t table = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
        uint8_t e = p[0];
        uint32_t bits = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
        float d; memcpy(&d, &bits, 4);
        nibbles16(p + 1, &lo, &hi);
        k->lo = vqtbl1q_s8(table, lo); k->hi = vqtbl1q_s8(table, hi);
        k->a = d; k->cb = 0;
        return MODE_S8;
    }
    default: return -1;
    }
    k->lo = vreinterpretq_s8_u8(lo); k->hi = vreinterpretq_s8_u8(hi);
    return MODE_U8;
}

static inline __attribute__((always_inline)) void dot_group(int type, const uint8_t *w, long n, const uint8_t *act,
                                                            long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    float32x4_t acc[4], acc2[4];
    float corr[4];
    for (int t = 0; t < NT; t++) { acc[t] = acc2[t] = vdupq_n_f32(0); corr[t] = 0; }
    for (long b = 0; b < nb; b++) {
        wblock k;
        int mode = unpack(type, w, b, &k);
        for (int t = 0; t < NT; t++) {
            const uint8_t *A = act + t * astride;
            const float *D = (const float *)(A + n);
            const int8_t *x = (const int8_t *)(A + b * 32);
            int32x4_t s = vdotq_s32(vdotq_s32(vdupq_n_s32(0), k.lo, vld1q_s8(x)), k.hi, vld1q_s8(x + 16));
            float sc = k.a * D[b];
            // Two accumulators per token when decoding, to hide the FMA latency.
            if (NT == 1 && (b & 1)) acc2[t] = vfmaq_n_f32(acc2[t], vcvtq_f32_s32(s), sc);
            else acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(s), sc);
            if (mode == MODE_U8) corr[t] += k.cb * D[nb + b];
        }
    }
    for (int t = 0; t < NT; t++) out[t * ostride] = vaddvq_f32(vaddq_f32(acc[t], acc2[t])) + corr[t];
}

// K-quant super-block scales, as in the AVX2 path: `d` times the integer sum; block scales `sc`
// (eight per 32 for Q4_K/Q5_K, MODE_U8; sixteen per 16 for the others, MODE_SC16); `c` the
// coefficients of the activation block sums (eight) or half-block sums (sixteen).
typedef struct {
    float d;
    int32_t sc[16];
    float c[16];
} kscales;

static inline __attribute__((always_inline)) int k_setup(int type, const uint8_t *p, kscales *k) {
    switch (type) {
    case 10: {  // Q2_K: scales[16] | qs[64] | d | dmin
        float dmin = f16(p + 82);
        k->d = f16(p + 80);
        for (int i = 0; i < 16; i++) { k->sc[i] = p[i] & 0x0F; k->c[i] = -dmin * (float)(p[i] >> 4); }
        return MODE_SC16;
    }
    case 11: {  // Q3_K: hmask[32] | qs[64] | scales[12] | d; sixteen 6-bit scales, offset 32
        float d = f16(p + 108);
        const uint8_t *s = p + 96;
        for (int i = 0; i < 16; i++) {
            int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
            int high = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
            k->sc[i] = (low | (high << 4)) - 32;
            k->c[i] = -4.0f * d * (float)k->sc[i];
        }
        k->d = d;
        return MODE_SC16;
    }
    case 12: case 13: {  // Q4_K / Q5_K: d | dmin | scales[12]
        const uint8_t *s = p + 4;
        float dmin = f16(p + 2);
        for (int j = 0; j < 8; j++) {
            int scale, mn;
            kquant_scale_min(s, j, &scale, &mn);
            k->sc[j] = scale;
            k->c[j] = -dmin * (float)mn;
        }
        k->d = f16(p);
        return MODE_U8;
    }
    default: {  // 14, Q6_K: ql[128] | qh[64] | scales[16] | d; offset 32
        float d = f16(p + 208);
        for (int i = 0; i < 16; i++) { k->sc[i] = (int8_t)p[192 + i]; k->c[i] = -32.0f * d * (float)k->sc[i]; }
        k->d = d;
        return MODE_SC16;
    }
    }
}

// (32 bytes at p >> shift) & mask, per byte.
static inline void bits_at(const uint8_t *p, int shift, int mask, uint8x16_t *lo, uint8x16_t *hi) {
    int8x16_t sh = vdupq_n_s8((int8_t)-shift);
    uint8x16_t m = vdupq_n_u8((uint8_t)mask);
    *lo = vandq_u8(vshlq_u8(vld1q_u8(p), sh), m);
    *hi = vandq_u8(vshlq_u8(vld1q_u8(p + 16), sh), m);
}

// The 32 quants of block j (0..7) of a K-quant super-block at p.
static inline __attribute__((always_inline)) void k_quants(int type, const uint8_t *p, int j, int8x16_t *qlo, int8x16_t *qhi) {
    int h = j >> 2, jj = j & 3;
    uint8x16_t lo, hi, a, b;
    switch (type) {
    case 10: bits_at(p + 16 + 32 * h, 2 * jj, 3, &lo, &hi); break;
    case 11:
        bits_at(p + 32 + 32 * h, 2 * jj, 3, &lo, &hi);
        bits_at(p, j, 1, &a, &b);
        lo = vorrq_u8(lo, vshlq_n_u8(a, 2)); hi = vorrq_u8(hi, vshlq_n_u8(b, 2));
        break;
    case 12: bits_at(p + 16 + 32 * (j >> 1), 4 * (j & 1), 0x0F, &lo, &hi); break;
    case 13:
        bits_at(p + 48 + 32 * (j >> 1), 4 * (j & 1), 0x0F, &lo, &hi);
        bits_at(p + 16, j, 1, &a, &b);
        lo = vorrq_u8(lo, vshlq_n_u8(a, 4)); hi = vorrq_u8(hi, vshlq_n_u8(b, 4));
        break;
    default:  // 14: Q6_K
        bits_at(p + 64 * h + 32 * (jj & 1), 4 * (jj >> 1), 0x0F, &lo, &hi);
        bits_at(p + 128 + 32 * h, 2 * jj, 3, &a, &b);
        lo = vorrq_u8(lo, vshlq_n_u8(a, 4)); hi = vorrq_u8(hi, vshlq_n_u8(b, 4));
        break;
    }
    *qlo = vreinterpretq_s8_u8(lo);
    *qhi = vreinterpretq_s8_u8(hi);
}

static inline __attribute__((always_inline)) void kdot_group(int type, long bbytes, const uint8_t *w, long n, const uint8_t *act,
                                                             long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    float32x4_t acc[4], acc2[4];
    for (int t = 0; t < NT; t++) acc[t] = acc2[t] = vdupq_n_f32(0);
    for (long sb = 0; sb < nb / 8; sb++) {
        const uint8_t *p = w + sb * bbytes;
        kscales k;
        int mode = k_setup(type, p, &k);
        int32x4_t isum[4];
        for (int t = 0; t < NT; t++) isum[t] = vdupq_n_s32(0);
        for (int j = 0; j < 8; j++) {
            int8x16_t lo, hi;
            k_quants(type, p, j, &lo, &hi);
            for (int t = 0; t < NT; t++) {
                const int8_t *x = (const int8_t *)(act + t * astride + (sb * 8 + j) * 32);
                int32x4_t dl = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(x));
                int32x4_t dh = vdotq_s32(vdupq_n_s32(0), hi, vld1q_s8(x + 16));
                if (mode == MODE_SC16) {
                    isum[t] = vmlaq_n_s32(isum[t], dl, k.sc[2 * j]);
                    isum[t] = vmlaq_n_s32(isum[t], dh, k.sc[2 * j + 1]);
                } else {
                    isum[t] = vmlaq_n_s32(isum[t], vaddq_s32(dl, dh), k.sc[j]);
                }
            }
        }
        for (int t = 0; t < NT; t++) {
            const float *D = (const float *)(act + t * astride + n);
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum[t]), k.d * D[sb * 8]);
            if (mode == MODE_U8) {
                const float *S = D + nb + sb * 8;
                acc2[t] = vfmaq_f32(acc2[t], vld1q_f32(k.c), vld1q_f32(S));
                acc2[t] = vfmaq_f32(acc2[t], vld1q_f32(k.c + 4), vld1q_f32(S + 4));
            } else {
                const float *H = D + 2 * nb + sb * 16;
                for (int q = 0; q < 16; q += 4) acc2[t] = vfmaq_f32(acc2[t], vld1q_f32(k.c + q), vld1q_f32(H + q));
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t * ostride] = vaddvq_f32(vaddq_f32(acc[t], acc2[t]));
}

#endif

#if MOE_AVX2 || MOE_NEON
static inline __attribute__((always_inline)) void dot_tokens(int type, const uint8_t *w, long n, const uint8_t *act,
                                                             long astride, float *out, long ostride, long tokens) {
    long t = 0;
    long kb = type == 10 ? 84 : type == 11 ? 110 : type == 12 ? 144 : type == 13 ? 176 : type == 14 ? 210 : 0;
    if (kb) {
        for (; t + 4 <= tokens; t += 4) kdot_group(type, kb, w, n, act + t * astride, astride, out + t * ostride, ostride, 4);
        for (; t < tokens; t++) kdot_group(type, kb, w, n, act + t * astride, astride, out + t * ostride, ostride, 1);
        return;
    }
    for (; t + 4 <= tokens; t += 4) dot_group(type, w, n, act + t * astride, astride, out + t * ostride, ostride, 4);
    for (; t < tokens; t++) dot_group(type, w, n, act + t * astride, astride, out + t * ostride, ostride, 1);
}

#define DEFINE(T, CODE) \
    static void dot_##T(const uint8_t *w, long n, const uint8_t *a, long as, float *o, long os, long nt) { \
        dot_tokens(CODE, w, n, a, as, o, os, nt); }
DEFINE(q4_0, 2)
DEFINE(q4_1, 3)
DEFINE(q5_0, 6)
DEFINE(q5_1, 7)
DEFINE(q8_0, 8)
DEFINE(q2_k, 10)
DEFINE(q3_k, 11)
DEFINE(q4_k, 12)
DEFINE(q5_k, 13)
DEFINE(q6_k, 14)
DEFINE(mxfp4, 39)
#endif

int moe_dot_q8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens) {
#if MOE_AVX2 || MOE_NEON
    const uint8_t *wp = (const uint8_t *)w, *ap = (const uint8_t *)act;
    switch (type) {
    case 2: dot_q4_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 3: dot_q4_1(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 6: dot_q5_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 7: dot_q5_1(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 8: dot_q8_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 10: dot_q2_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 11: dot_q3_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 12: dot_q4_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 13: dot_q5_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 14: dot_q6_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 39: dot_mxfp4(wp, n, ap, astride, out, ostride, tokens); return 0;
    }
#else
    (void)type; (void)w; (void)n; (void)act; (void)astride; (void)out; (void)ostride; (void)tokens;
#endif
    return -1;
}
