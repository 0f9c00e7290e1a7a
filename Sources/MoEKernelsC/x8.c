// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (and Q4_K, below) matrices repacked eight rows at a time, for the integer kernels: per group of eight
// rows and block of 32 weights, the eight rows' f16 scales side by side, then the weights arranged
// so that one 32-byte vector holds four consecutive weights of each of the eight rows (lane r = row r).
// A block of activations is then broadcast four bytes at a time and one multiply-add serves eight
// rows, the scales of eight rows load as one vector, and no horizontal sums are needed: the reason
// llama.cpp repacks these types too. The layout (per group, per block):
//   Q4_0 (144 bytes): f16 d[8] | C[4][32], byte 4r+i of C[m] = q[r][4m+i] | q[r][16+4m+i] << 4
//   Q8_0 (272 bytes): f16 d[8] | G[8][32], byte 4r+i of G[k] = q[r][4k+i]
//   Q4_1 (160 bytes): f16 d[8] | f16 m[8] | C[4][32]
//   Q5_0 (176 bytes): f16 d[8] | C[4][32] | H[32], bit k of byte 4r+i of H = bit 4 of q[r][4k+i]
//   Q5_1 (192 bytes): f16 d[8] | f16 m[8] | C[4][32] | H[32]
// where q[r][e] is element e of row r's block (before Q4_0's offset of 8 or Q5_0's of 16): every
// packed block is exactly as large as the eight rows' blocks. Q4_K, per super-block of 256 (1184
// bytes, 32 more than eight rows: the 6-bit scales are unpacked):
//   f16 d[8] | f16 dmin[8] | sc[8 blocks][8 rows] | m[8 blocks][8 rows] | C[4 pairs][8][32]
// byte 4r+i of C[g][k] = row r's qs[32g + 4k + i]: low nibble = element 4k+i of block 2g, high
// nibble = element 4k+i of block 2g+1.
#include "MoEKernelsC.h"
#include <string.h>
#include "kernels/simd_common.h"
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_AVX2 1
#endif

static long src_block(int type) { return type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : type == 7 ? 24 : type == 8 ? 34 : 0; }
long moe_x8_block_bytes(int type) { return type == 12 ? 1184 : 8 * src_block(type); }
long moe_x8_row_block(int type) { return type == 12 ? 256 : 32; }
static int has_min(int type) { return type == 3 || type == 7; }
static int five(int type) { return type == 6 || type == 7; }

int moe_x8_pack(int type, const void *src, long rowBytes, long cols, void *dst) {
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *d = (uint8_t *)dst;
    if (type == 12) {
        for (long b = 0; b < cols / 256; b++) {
            uint8_t *o = d + b * 1184;
            for (int r = 0; r < 8; r++) {
                const uint8_t *blk = s + r * rowBytes + b * 144;
                memcpy(o + 2 * r, blk, 2);
                memcpy(o + 16 + 2 * r, blk + 2, 2);
                const uint8_t *sc = blk + 4;
                for (int j = 0; j < 8; j++) {
                    int scale, mn;
                    kquant_scale_min(sc, j, &scale, &mn);
                    o[32 + 8 * j + r] = (uint8_t)scale;
                    o[96 + 8 * j + r] = (uint8_t)mn;
                }
                for (int g = 0; g < 4; g++)
                    for (int k = 0; k < 8; k++) memcpy(o + 160 + 256 * g + 32 * k + 4 * r, blk + 16 + 32 * g + 4 * k, 4);
            }
        }
        return 0;
    }
    long nb = cols / 32, bb = moe_x8_block_bytes(type), sb = src_block(type);
    if (sb == 0) return -1;
    int scales = has_min(type) ? 32 : 16;       // bytes of f16 d (and m) at the front
    int qs = type == 3 ? 4 : type == 6 ? 6 : type == 7 ? 8 : 2;   // where a source block's quants start
    for (long b = 0; b < nb; b++) {
        uint8_t *o = d + b * bb;
        memset(o, 0, (size_t)bb);
        for (int r = 0; r < 8; r++) {
            const uint8_t *blk = s + r * rowBytes + b * sb;
            memcpy(o + 2 * r, blk, 2);
            if (has_min(type)) memcpy(o + 16 + 2 * r, blk + 2, 2);
            if (type == 8) {
                for (int k = 0; k < 8; k++) memcpy(o + 16 + 32 * k + 4 * r, blk + 2 + 4 * k, 4);
                continue;
            }
            // Byte j of the nibbles holds element j (low) and j + 16 (high).
            for (int m = 0; m < 4; m++) {
                for (int i = 0; i < 4; i++) {
                    o[scales + 32 * m + 4 * r + i] = blk[qs + 4 * m + i];
                }
            }
            if (five(type)) {
                uint32_t qh;
                memcpy(&qh, blk + (type == 7 ? 4 : 2), 4);
                for (int k = 0; k < 8; k++) {
                    for (int i = 0; i < 4; i++) {
                        // Element 4k+i: low nibble of group k < 4 is element 4k+i; group k >= 4 is the
                        // high nibble of byte 4(k-4)+i, element 16 + 4(k-4) + i = 4k + i as well.
                        o[scales + 128 + 4 * r + i] |= (uint8_t)(((qh >> (4 * k + i)) & 1) << k);
                    }
                }
            }
        }
    }
    return 0;
}

#if MOE_AVX2
#define KNAME(f) f##_avx2
#define DOT4(acc, u, x) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)))
#include "kernels/x8_kernels.h"
#undef KNAME
#undef DOT4

#pragma clang attribute push (__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define KNAME(f) f##_vnni
#define DOT4(acc, u, x) _mm256_dpbusd_epi32(acc, u, x)
#include "kernels/x8_kernels.h"
#undef KNAME
#undef DOT4
#pragma clang attribute pop

static int vnni = -1;

int moe_has_vnni(void) {
    int known = __atomic_load_n(&vnni, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
        __atomic_store_n(&vnni, known, __ATOMIC_RELAXED);   // every thread computes the same value
    }
    return known;
}
#elif MOE_NEON
// NEON: a 32-byte vector of the layout is two of sixteen bytes (rows 0..3 and 4..7), and sdot by
// element (`vdotq_laneq_s32`) multiplies each row's four weights with the four activation bytes of
// one lane of an activation vector: the layout's broadcast, without a broadcast.
int moe_has_vnni(void) { return 0; }

static inline float32x4_t half4(const uint8_t *p) { return vcvt_f32_f16(vld1_f16((const float16_t *)(const void *)p)); }

#define LANE_DOTS(acc, u, x0, x1)                                                       \
    do {                                                                                \
        acc = vdotq_laneq_s32(acc, u[0], x0, 0); acc = vdotq_laneq_s32(acc, u[1], x0, 1); \
        acc = vdotq_laneq_s32(acc, u[2], x0, 2); acc = vdotq_laneq_s32(acc, u[3], x0, 3); \
        acc = vdotq_laneq_s32(acc, u[4], x1, 0); acc = vdotq_laneq_s32(acc, u[5], x1, 1); \
        acc = vdotq_laneq_s32(acc, u[6], x1, 2); acc = vdotq_laneq_s32(acc, u[7], x1, 3); \
    } while (0)

static inline __attribute__((always_inline)) void x8_group_neon(int type, const uint8_t *w, long n, const uint8_t *act, long astride,
                                                                float *out, long ostride, const int NT) {
    long nb = n / 32, bb = moe_x8_block_bytes(type);
    const int mins = has_min(type), scales = mins ? 32 : 16;
    const float offset = type == 2 ? -8.0f : type == 6 ? -16.0f : 0.0f;
    const uint8x16_t low4 = vdupq_n_u8(0x0F), bit = vdupq_n_u8(1);
    float32x4_t acc[4][2];
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
    for (long b = 0; b < nb; b++) {
        const uint8_t *p = w + b * bb;
        float32x4_t dv[2] = {half4(p), half4(p + 8)};
        float32x4_t mv[2] = {dv[0], dv[1]};
        if (mins) { mv[0] = half4(p + 16); mv[1] = half4(p + 24); }
        int8x16_t u[2][8];   // [rows 0..3 / 4..7][k]
        for (int h = 0; h < 2; h++) {
            if (type == 8) {
                for (int k = 0; k < 8; k++) u[h][k] = vld1q_s8((const int8_t *)(p + 16 + 32 * k + 16 * h));
                continue;
            }
            uint8x16_t q[8];
            for (int m = 0; m < 4; m++) {
                uint8x16_t c = vld1q_u8(p + scales + 32 * m + 16 * h);
                q[m] = vandq_u8(c, low4);
                q[m + 4] = vshrq_n_u8(c, 4);
            }
            if (five(type)) {
                uint8x16_t hb = vld1q_u8(p + scales + 128 + 16 * h);
                for (int k = 0; k < 8; k++)
                    q[k] = vorrq_u8(q[k], vshlq_n_u8(vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)-k)), bit), 4));
            }
            for (int k = 0; k < 8; k++) u[h][k] = vreinterpretq_s8_u8(q[k]);
        }
        for (int t = 0; t < NT; t++) {
            const uint8_t *A = act + t * astride;
            const float *D = (const float *)(A + n);
            int8x16_t x0 = vld1q_s8((const int8_t *)(A + b * 32)), x1 = vld1q_s8((const int8_t *)(A + b * 32 + 16));
            for (int h = 0; h < 2; h++) {
                int32x4_t isum = vdupq_n_s32(0);
                LANE_DOTS(isum, u[h], x0, x1);
                acc[t][h] = vfmaq_f32(acc[t][h], vcvtq_f32_s32(isum), vmulq_n_f32(dv[h], D[b]));
                if (mins) acc[t][h] = vfmaq_n_f32(acc[t][h], mv[h], D[nb + b]);
                else if (offset != 0) acc[t][h] = vfmaq_n_f32(acc[t][h], dv[h], offset * D[nb + b]);
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        vst1q_f32(out + t * ostride, acc[t][0]);
        vst1q_f32(out + t * ostride + 4, acc[t][1]);
    }
}

// Eight unsigned bytes -> two vectors of four int32.
static inline void widen8(const uint8_t *p, int32x4_t v[2]) {
    uint16x8_t s = vmovl_u8(vld1_u8(p));
    v[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(s)));
    v[1] = vreinterpretq_s32_u32(vmovl_high_u16(s));
}

static inline __attribute__((always_inline)) void x8k_group_neon(const uint8_t *w, long n, const uint8_t *act, long astride, float *out,
                                                                 long ostride, const int NT) {
    long nb = n / 32;
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    float32x4_t acc[4][2];
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
    for (long sb = 0; sb < n / 256; sb++) {
        const uint8_t *p = w + sb * 1184;
        float32x4_t dv[2] = {half4(p), half4(p + 8)}, mv[2] = {half4(p + 16), half4(p + 24)};
        int32x4_t tot[4][2];
        for (int t = 0; t < NT; t++) tot[t][0] = tot[t][1] = vdupq_n_s32(0);
        for (int g = 0; g < 4; g++) {
            int32x4_t slo[2], shi[2];
            widen8(p + 32 + 8 * (2 * g), slo);
            widen8(p + 32 + 8 * (2 * g + 1), shi);
            for (int h = 0; h < 2; h++) {
                int8x16_t lo[8], hi[8];
                for (int k = 0; k < 8; k++) {
                    uint8x16_t c = vld1q_u8(p + 160 + 256 * g + 32 * k + 16 * h);
                    lo[k] = vreinterpretq_s8_u8(vandq_u8(c, low4));
                    hi[k] = vreinterpretq_s8_u8(vshrq_n_u8(c, 4));
                }
                for (int t = 0; t < NT; t++) {
                    const int8_t *xq = (const int8_t *)(act + t * astride + (sb * 8 + 2 * g) * 32);
                    int8x16_t a0 = vld1q_s8(xq), a1 = vld1q_s8(xq + 16), b0 = vld1q_s8(xq + 32), b1 = vld1q_s8(xq + 48);
                    int32x4_t il = vdupq_n_s32(0), ih = vdupq_n_s32(0);
                    LANE_DOTS(il, lo, a0, a1);
                    LANE_DOTS(ih, hi, b0, b1);
                    tot[t][h] = vmlaq_s32(vmlaq_s32(tot[t][h], il, slo[h]), ih, shi[h]);
                }
            }
        }
        for (int t = 0; t < NT; t++) {
            const float *D = (const float *)(act + t * astride + n);
            for (int h = 0; h < 2; h++) {
                acc[t][h] = vfmaq_f32(acc[t][h], vcvtq_f32_s32(tot[t][h]), vmulq_n_f32(dv[h], D[sb * 8]));
                // Minima: -dmin · m_j · Σx over block j, for the eight blocks.
                for (int j = 0; j < 8; j++) {
                    int32x4_t m[2];
                    widen8(p + 96 + 8 * j, m);
                    acc[t][h] = vfmsq_f32(acc[t][h], vmulq_f32(vcvtq_f32_s32(m[h]), mv[h]), vdupq_n_f32(D[nb + sb * 8 + j]));
                }
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        vst1q_f32(out + t * ostride, acc[t][0]);
        vst1q_f32(out + t * ostride + 4, acc[t][1]);
    }
}

#define X8N(T, CODE)                                                                                                   \
    static void x8_##T##_neon(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) { \
        long t = 0;                                                                                                    \
        for (; t + 4 <= tokens; t += 4) x8_group_neon(CODE, w, n, act + t * as, as, out + t * os, os, 4);              \
        for (; t < tokens; t++) x8_group_neon(CODE, w, n, act + t * as, as, out + t * os, os, 1);                      \
    }
X8N(q4_0, 2)
X8N(q4_1, 3)
X8N(q5_0, 6)
X8N(q5_1, 7)
X8N(q8_0, 8)

static void x8_q4_k_neon(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) {
    long t = 0;
    for (; t + 4 <= tokens; t += 4) x8k_group_neon(w, n, act + t * as, as, out + t * os, os, 4);
    for (; t < tokens; t++) x8k_group_neon(w, n, act + t * as, as, out + t * os, os, 1);
}
#else
int moe_has_vnni(void) { return 0; }
#endif

int moe_dot_q8_x8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens) {
    return moe_dot_q8_x8_tokens_with(moe_has_vnni(), type, w, n, act, astride, out, ostride, tokens);
}

int moe_dot_q8_x8_tokens_with(int use_vnni, int type, const void *w, long n, const void *act, long astride, float *out, long ostride,
                              long tokens) {
#if MOE_AVX2 || MOE_NEON
    const uint8_t *wp = (const uint8_t *)w, *ap = (const uint8_t *)act;
#define X8_DISPATCH(SUFFIX)                                                                \
    switch (type) {                                                                        \
    case 2: x8_q4_0_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;          \
    case 3: x8_q4_1_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;          \
    case 6: x8_q5_0_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;          \
    case 7: x8_q5_1_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;          \
    case 8: x8_q8_0_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;          \
    case 12: x8_q4_k_##SUFFIX(wp, n, ap, astride, out, ostride, tokens); return 0;         \
    }
#if MOE_AVX2
    if (use_vnni && moe_has_vnni()) {
        X8_DISPATCH(vnni)
        return -1;
    }
    X8_DISPATCH(avx2)
#else
    (void)use_vnni;
    X8_DISPATCH(neon)
#endif
#undef X8_DISPATCH
#else
    (void)use_vnni; (void)type; (void)w; (void)n; (void)act; (void)astride; (void)out; (void)ostride; (void)tokens;
#endif
    return -1;
}
