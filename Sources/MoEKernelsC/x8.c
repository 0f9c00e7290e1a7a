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
#define KNAME(f) f##_avx2
#define DOT4(acc, u, x) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), ones))
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
#else
int moe_has_vnni(void) { return 0; }
#endif

int moe_dot_q8_x8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens) {
    return moe_dot_q8_x8_tokens_with(moe_has_vnni(), type, w, n, act, astride, out, ostride, tokens);
}

int moe_dot_q8_x8_tokens_with(int use_vnni, int type, const void *w, long n, const void *act, long astride, float *out, long ostride,
                              long tokens) {
#if MOE_AVX2
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
    if (use_vnni && moe_has_vnni()) {
        X8_DISPATCH(vnni)
        return -1;
    }
    X8_DISPATCH(avx2)
#undef X8_DISPATCH
#else
    (void)use_vnni; (void)type; (void)w; (void)n; (void)act; (void)astride; (void)out; (void)ostride; (void)tokens;
#endif
    return -1;
}
