// The eight-row kernels of x8.c, included twice: with KNAME(f) = f_avx2 and DOT4 = maddubs + madd
// (AVX2), and with KNAME(f) = f_vnni and DOT4 = vpdpbusd (AVX-512 VNNI on 256-bit vectors), compiled
// for that target and chosen at run time. DOT4(acc, u, x) adds to each int32 lane of acc the four
// products of its unsigned bytes u with its signed bytes x.
static inline __attribute__((always_inline)) void KNAME(x8_group)(int type, const uint8_t *w, long n, const uint8_t *act,
                                                           long astride, float *out, long ostride, const int NT) {
    long nb = n / 32, bb = moe_x8_block_bytes(type);
    const int mins = has_min(type), scales = mins ? 32 : 16;
    const __m256i low4 = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(1);
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
                // Q8_0 weights are signed: |w| times x with w's sign.
                __m256i pu = type == 8 ? _mm256_sign_epi8(u[k], u[k]) : u[k];
                __m256i px = type == 8 ? _mm256_sign_epi8(xb, u[k]) : xb;
                isum = DOT4(isum, pu, px);
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
static inline __attribute__((always_inline)) void KNAME(x8k_group)(const uint8_t *w, long n, const uint8_t *act,
                                                            long astride, float *out, long ostride, const int NT) {
    long nb = n / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
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
                    il = DOT4(il, lo[k], _mm256_set1_epi32(a));
                    ih = DOT4(ih, hi[k], _mm256_set1_epi32(b));
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

static void KNAME(x8_q4_k)(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) {
    long t = 0;
    for (; t + 4 <= tokens; t += 4) KNAME(x8k_group)(w, n, act + t * as, as, out + t * os, os, 4);
    for (; t < tokens; t++) KNAME(x8k_group)(w, n, act + t * as, as, out + t * os, os, 1);
}

#define X8(T, CODE) \
    static void KNAME(x8_##T)(const uint8_t *w, long n, const uint8_t *act, long as, float *out, long os, long tokens) { \
        long t = 0; \
        for (; t + 4 <= tokens; t += 4) KNAME(x8_group)(CODE, w, n, act + t * as, as, out + t * os, os, 4); \
        for (; t < tokens; t++) KNAME(x8_group)(CODE, w, n, act + t * as, as, out + t * os, os, 1); \
    }
X8(q4_0, 2)
X8(q4_1, 3)
X8(q5_0, 6)
X8(q5_1, 7)
X8(q8_0, 8)
