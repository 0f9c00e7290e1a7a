// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 matrices repacked eight rows at a time, for the integer kernels: per group of eight
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
                    if (j < 4) { scale = sc[j] & 63; mn = sc[j + 4] & 63; }
                    else { scale = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4); mn = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4); }
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
static inline __attribute__((always_inline)) void x8_group(int type, const uint8_t *w, long n, const uint8_t *act,
                                                           long astride, float *out, long ostride, const int NT) {
    long nb = n / 32, bb = moe_x8_block_bytes(type);
    const int mins = has_min(type), scales = mins ? 32 : 16;
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(1);
    // The offset subtracted from unsigned quants (Q4_0: 8, Q5_0: 16; types with a minimum add it instead).
    const float offset = type == 2 ? -8.0f : type == 6 ? -16.0f : 0.0f;
    __m256 acc[4];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (long b = 0; b < nb; b++) {
        const uint8_t *p = w + b * bb;
        __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        __m256 mv = mins ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))) : dv;
        __m256i u[8];
        if (type == 8) {
            for (int k = 0; k < 8; k++) u[k] = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * k));
        } else {
            for (int m = 0; m < 4; m++) {
                __m256i c = _mm256_loadu_si256((const __m256i *)(p + scales + 32 * m));
                u[m] = _mm256_and_si256(c, low4);
                u[m + 4] = _mm256_and_si256(_mm256_srli_epi16(c, 4), low4);
            }
            if (five(type)) {
                __m256i h = _mm256_loadu_si256((const __m256i *)(p + scales + 128));
                for (int k = 0; k < 8; k++) {
                    __m256i hk = _mm256_and_si256(_mm256_srli_epi16(h, k), bit);
                    u[k] = _mm256_or_si256(u[k], _mm256_slli_epi16(hk, 4));
                }
            }
        }
        for (int t = 0; t < NT; t++) {
            const uint8_t *A = act + t * astride;
            const float *D = (const float *)(A + n);
            const uint8_t *xq = A + b * 32;
            __m256i isum = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                int32_t x4;
                memcpy(&x4, xq + 4 * k, 4);
                __m256i xb = _mm256_set1_epi32(x4);
                __m256i prod = type == 8 ? _mm256_maddubs_epi16(_mm256_sign_epi8(u[k], u[k]), _mm256_sign_epi8(xb, u[k]))
                                         : _mm256_maddubs_epi16(u[k], xb);
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(prod, ones));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dv, _mm256_set1_ps(D[b])), acc[t]);
            // Offset (d · offset · Σx) or minimum (m · Σx, Q8_1's f16 sum).
            if (mins) acc[t] = _mm256_fmadd_ps(mv, _mm256_set1_ps(D[nb + b]), acc[t]);
            else if (offset != 0) acc[t] = _mm256_fmadd_ps(dv, _mm256_set1_ps(offset * D[nb + b]), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + t * ostride, acc[t]);
}

// Q4_K: per super-block and block pair, the eight rows' integer sums times their integer block
// scales add up in int32; one Q8_K activation scale per super-block.
static inline __attribute__((always_inline)) void x8k_group(const uint8_t *w, long n, const uint8_t *act,
                                                            long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0F);
    __m256 acc[4];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (long sb = 0; sb < n / 256; sb++) {
        const uint8_t *p = w + sb * 1184;
        __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        __m256 mv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
        __m256i tot[4];
        for (int t = 0; t < NT; t++) tot[t] = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i slo = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 32 + 8 * (2 * g))));
            __m256i shi = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 32 + 8 * (2 * g + 1))));
            __m256i lo[8], hi[8];
            for (int k = 0; k < 8; k++) {
                __m256i c = _mm256_loadu_si256((const __m256i *)(p + 160 + 256 * g + 32 * k));
                lo[k] = _mm256_and_si256(c, low4);
                hi[k] = _mm256_and_si256(_mm256_srli_epi16(c, 4), low4);
            }
            for (int t = 0; t < NT; t++) {
                const uint8_t *xq = act + t * astride + (sb * 8 + 2 * g) * 32;
                __m256i il = _mm256_setzero_si256(), ih = _mm256_setzero_si256();
                for (int k = 0; k < 8; k++) {
                    int32_t a, b;
                    memcpy(&a, xq + 4 * k, 4);
                    memcpy(&b, xq + 32 + 4 * k, 4);
                    il = _mm256_add_epi32(il, _mm256_madd_epi16(_mm256_maddubs_epi16(lo[k], _mm256_set1_epi32(a)), ones));
                    ih = _mm256_add_epi32(ih, _mm256_madd_epi16(_mm256_maddubs_epi16(hi[k], _mm256_set1_epi32(b)), ones));
                }
                tot[t] = _mm256_add_epi32(tot[t], _mm256_add_epi32(_mm256_mullo_epi32(il, slo), _mm256_mullo_epi32(ih, shi)));
            }
        }
        for (int t = 0; t < NT; t++) {
            const float *D = (const float *)(act + t * astride + n);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot[t]), _mm256_mul_ps(dv, _mm256_set1_ps(D[sb * 8])), acc[t]);
            // Minima: -dmin · m_j · Σx over block j, for the eight blocks.
            for (int j = 0; j < 8; j++) {
                __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 96 + 8 * j))));
                acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(m, mv), _mm256_set1_ps(D[nb + sb * 8 + j]), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + t * ostride, acc[t]);
}

static void x8_q4_k(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) {
    long t = 0;
    for (; t + 4 <= tokens; t += 4) x8k_group(w, n, act + t * as, as, out + t * os, os, 4);
    for (; t < tokens; t++) x8k_group(w, n, act + t * as, as, out + t * os, os, 1);
}

#define X8(T, CODE) \
    static void x8_##T(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) { \
        long t = 0; \
        for (; t + 4 <= tokens; t += 4) x8_group(CODE, w, n, act + t * as, as, out + t * os, os, 4); \
        for (; t < tokens; t++) x8_group(CODE, w, n, act + t * as, as, out + t * os, os, 1); \
    }
X8(q4_0, 2)
X8(q4_1, 3)
X8(q5_0, 6)
X8(q5_1, 7)
X8(q8_0, 8)
#endif

int moe_dot_q8_x8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens) {
#if MOE_AVX2
    const uint8_t *wp = (const uint8_t *)w, *ap = (const uint8_t *)act;
    switch (type) {
    case 2: x8_q4_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 3: x8_q4_1(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 6: x8_q5_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 7: x8_q5_1(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 8: x8_q8_0(wp, n, ap, astride, out, ostride, tokens); return 0;
    case 12: x8_q4_k(wp, n, ap, astride, out, ostride, tokens); return 0;
    }
#else
    (void)type; (void)w; (void)n; (void)act; (void)astride; (void)out; (void)ostride; (void)tokens;
#endif
    return -1;
}
