// F32, F16 and BF16 weights times f32 activations, exact (every weight widened to f32 in registers):
// the path for F16 weights, and for F32/BF16 with `--activations f32`. One or two tokens (decode):
// AVX2 tiles of four rows, so each activation load serves four rows and each widened weight both
// tokens; each weight line read prefetches the same line of the next four rows into L2 (as in
// bf16act.c: one core's hardware prefetchers keep too few reads in flight). With AVX-512, four to
// 63 tokens run in tiles of four rows × four tokens, and 64 or more through packed panels (below).
// arm64 (NEON) runs tiles of four rows × up to four tokens.
#include "MoEKernelsC.h"
#include <stdlib.h>
#include <string.h>
#include "kernels/simd_common.h"
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_X86 1
#endif

enum { WIDE_F32 = 0, WIDE_F16 = 1, WIDE_BF16 = 30 };   // GGML type codes

static float wide_value(int type, const uint8_t *w, long i) {
    if (type == WIDE_F32) {
        float f;
        memcpy(&f, w + 4 * i, 4);
        return f;
    }
    uint16_t h = (uint16_t)(w[2 * i] | (w[2 * i + 1] << 8));
    return type == WIDE_BF16 ? bf16_value(h) : half_value(h);
}

#if MOE_X86
#define INLINE __attribute__((always_inline)) static inline

// Eight weights of `type` at column i, widened.
INLINE __m256 load8(int type, const uint8_t *w, long i) {
    switch (type) {
    case WIDE_F32: return _mm256_loadu_ps((const float *)(const void *)w + i);
    case WIDE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 2 * i)));
    default: return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + 2 * i))), 16));
    }
}


// R rows from row r × T tokens: y[t*ystride + r + k]. One token keeps two accumulators per row
// (columns i and i+8) so the adds do not wait on each other.
INLINE void tile(int type, const uint8_t *w, long cols, long rowBytes, long r, int R, const float *x, long xstride, int T,
                 float *y, long ystride) {
    const int esize = type == WIDE_F32 ? 4 : 2;
    const uint8_t *wr = w + r * rowBytes;
    __m256 acc[4][2];
    for (int k = 0; k < R; k++) acc[k][0] = acc[k][1] = _mm256_setzero_ps();
    long i = 0;
    if (T == 1) {
        for (; i + 16 <= cols; i += 16) {
            __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
            for (int k = 0; k < R; k++) {
                const uint8_t *p = wr + k * rowBytes;
                _mm_prefetch((const char *)(p + R * rowBytes + i * esize), _MM_HINT_T1);
                acc[k][0] = _mm256_fmadd_ps(load8(type, p, i), x0, acc[k][0]);
                acc[k][1] = _mm256_fmadd_ps(load8(type, p, i + 8), x1, acc[k][1]);
            }
        }
    } else {
        for (; i + 8 <= cols; i += 8) {
            __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + xstride + i);
            for (int k = 0; k < R; k++) {
                const uint8_t *p = wr + k * rowBytes;
                if ((i & 15) == 0) _mm_prefetch((const char *)(p + R * rowBytes + i * esize), _MM_HINT_T1);
                __m256 wv = load8(type, p, i);
                acc[k][0] = _mm256_fmadd_ps(wv, x0, acc[k][0]);
                acc[k][1] = _mm256_fmadd_ps(wv, x1, acc[k][1]);
            }
        }
    }
    for (int k = 0; k < R; k++) {
        const uint8_t *p = wr + k * rowBytes;
        if (T == 1) {
            float s = hsum256(_mm256_add_ps(acc[k][0], acc[k][1]));
            for (long c = i; c < cols; c++) s += wide_value(type, p, c) * x[c];
            y[r + k] = s;
        } else {
            float s0 = hsum256(acc[k][0]), s1 = hsum256(acc[k][1]);
            for (long c = i; c < cols; c++) {
                float v = wide_value(type, p, c);
                s0 += v * x[c];
                s1 += v * x[xstride + c];
            }
            y[r + k] = s0;
            y[ystride + r + k] = s1;
        }
    }
}

// One or two tokens at a time (AVX2).
INLINE void rows_tail(int type, const uint8_t *w, long cols, long rowBytes, long r0, long r1, const float *x, long xstride, float *y,
                      long ystride, long tokens) {
    long t = 0;
    for (; t < tokens; t += 2) {
        int T = tokens - t >= 2 ? 2 : 1;
        const float *xt = x + t * xstride;
        float *yt = y + t * ystride;
        long r = r0;
        if (T == 2) {
            for (; r + 4 <= r1; r += 4) tile(type, w, cols, rowBytes, r, 4, xt, xstride, 2, yt, ystride);
            for (; r < r1; r++) tile(type, w, cols, rowBytes, r, 1, xt, xstride, 2, yt, ystride);
        } else {
            for (; r + 4 <= r1; r += 4) tile(type, w, cols, rowBytes, r, 4, xt, xstride, 1, yt, ystride);
            for (; r < r1; r++) tile(type, w, cols, rowBytes, r, 1, xt, xstride, 1, yt, ystride);
        }
    }
}

// AVX-512 (32 vector registers): four rows × four tokens per tile for prompt processing, so each
// widened weight serves four tokens and each activation load four rows.
#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw"), always_inline)) static inline

AVX512 __m512 load16(int type, const uint8_t *w, long i, __mmask16 m) {
    switch (type) {
    case WIDE_F32: return _mm512_maskz_loadu_ps(m, (const float *)(const void *)w + i);
    case WIDE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + 2 * i));
    default: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, w + 2 * i)), 16));
    }
}

AVX512 void tile4x4(int type, const uint8_t *w, long cols, long rowBytes, long r, int R, const float *x, long xstride, float *y,
                    long ystride) {
    const int esize = type == WIDE_F32 ? 4 : 2;
    const uint8_t *wr = w + r * rowBytes;
    __m512 acc[4][4];
    for (int k = 0; k < R; k++)
        for (int t = 0; t < 4; t++) acc[k][t] = _mm512_setzero_ps();
    for (long i = 0; i < cols; i += 16) {
        __mmask16 m = cols - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - i)) - 1);
        __m512 xv[4];
        for (int t = 0; t < 4; t++) xv[t] = _mm512_maskz_loadu_ps(m, x + t * xstride + i);
        for (int k = 0; k < R; k++) {
            const uint8_t *p = wr + k * rowBytes;
            _mm_prefetch((const char *)(p + R * rowBytes + i * esize), _MM_HINT_T1);
            __m512 wv = load16(type, p, i, m);
            for (int t = 0; t < 4; t++) acc[k][t] = _mm512_fmadd_ps(wv, xv[t], acc[k][t]);
        }
    }
    for (int k = 0; k < R; k++)
        for (int t = 0; t < 4; t++) y[t * ystride + r + k] = _mm512_reduce_add_ps(acc[k][t]);
}

__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw"))) static void rows4_avx512(int type, const uint8_t *w, long cols,
                                                                                          long rowBytes, long r0, long r1, const float *x,
                                                                                          long xstride, float *y, long ystride) {
    long r = r0;
    switch (type) {
    case WIDE_F32:
        for (; r + 4 <= r1; r += 4) tile4x4(WIDE_F32, w, cols, rowBytes, r, 4, x, xstride, y, ystride);
        for (; r < r1; r++) tile4x4(WIDE_F32, w, cols, rowBytes, r, 1, x, xstride, y, ystride);
        break;
    case WIDE_F16:
        for (; r + 4 <= r1; r += 4) tile4x4(WIDE_F16, w, cols, rowBytes, r, 4, x, xstride, y, ystride);
        for (; r < r1; r++) tile4x4(WIDE_F16, w, cols, rowBytes, r, 1, x, xstride, y, ystride);
        break;
    default:
        for (; r + 4 <= r1; r += 4) tile4x4(WIDE_BF16, w, cols, rowBytes, r, 4, x, xstride, y, ystride);
        for (; r < r1; r++) tile4x4(WIDE_BF16, w, cols, rowBytes, r, 1, x, xstride, y, ystride);
    }
}

// Prompt processing with 64 or more tokens (fewer do not repay the packing): a panel of sixteen
// rows is widened once into an f32 buffer laid out column-major (`wb[c*16 + k]` = row k, column c), then each group of up to
// twelve tokens accumulates all sixteen outputs in one vector per token: per column one weight
// load, and per token one broadcast activation and one fused multiply-add. No horizontal sums, and
// the conversion is paid once per weight.
AVX512 void panel(const float *wb, long cols, const float *x, long xstride, int T, float *y, long ystride, __mmask16 rows) {
    __m512 acc[12];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (long c = 0; c < cols; c++) {
        __m512 wv = _mm512_load_ps(wb + c * 16);
        for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[t * xstride + c]), acc[t]);
    }
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(y + t * ystride, rows, acc[t]);
}

__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw"))) static void gemm_avx512(int type, const uint8_t *w, long cols,
                                                                                         long rowBytes, long r0, long r1, const float *x,
                                                                                         long xstride, float *y, long ystride, long tokens,
                                                                                         float *wb) {
    for (long r = r0; r < r1; r += 16) {
        int R = r1 - r >= 16 ? 16 : (int)(r1 - r);
        // Widen the rows (vector conversions into `tmp`, row-major), then transpose into `wb`.
        float *tmp = wb + 16 * cols;
        for (int k = 0; k < 16; k++) {
            float *dst = tmp + k * cols;
            if (k >= R) {
                memset(dst, 0, (size_t)cols * 4);
                continue;
            }
            const uint8_t *p = w + (r + k) * rowBytes;
            long i = 0;
            switch (type) {
            case WIDE_F32: for (; i + 16 <= cols; i += 16) _mm512_storeu_ps(dst + i, load16(WIDE_F32, p, i, 0xFFFF)); break;
            case WIDE_F16: for (; i + 16 <= cols; i += 16) _mm512_storeu_ps(dst + i, load16(WIDE_F16, p, i, 0xFFFF)); break;
            default: for (; i + 16 <= cols; i += 16) _mm512_storeu_ps(dst + i, load16(WIDE_BF16, p, i, 0xFFFF)); break;
            }
            for (; i < cols; i++) dst[i] = wide_value(type, p, i);
        }
        for (long c = 0; c < cols; c++)
            for (int k = 0; k < 16; k++) wb[c * 16 + k] = tmp[k * cols + c];
        __mmask16 rows = (__mmask16)((1u << R) - 1);
        long t = 0;
        for (; t + 12 <= tokens; t += 12) panel(wb, cols, x + t * xstride, xstride, 12, y + t * ystride + r, ystride, rows);
        switch (tokens - t) {
#define P(n) case n: panel(wb, cols, x + t * xstride, xstride, n, y + t * ystride + r, ystride, rows); break;
            P(1) P(2) P(3) P(4) P(5) P(6) P(7) P(8) P(9) P(10) P(11)
#undef P
        default: break;
        }
    }
}

static int avx512 = -1;

static int has_avx512(void) {
    int known = __atomic_load_n(&avx512, __ATOMIC_ACQUIRE);
    if (known >= 0) return known;
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    __atomic_store_n(&avx512, ok, __ATOMIC_RELEASE);
    return ok;
}

INLINE void rows_of(int type, const uint8_t *w, long cols, long rowBytes, long r0, long r1, const float *x, long xstride,
                    float *y, long ystride, long tokens) {
    long t = 0;
    if (tokens >= 64 && has_avx512()) {
        float *wb = aligned_alloc(64, (size_t)((2 * 16 * cols * 4 + 63) / 64 * 64));   // panel + widening scratch
        if (wb) {
            gemm_avx512(type, w, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens, wb);
            free(wb);
            return;
        }
    }
    if (tokens >= 4 && has_avx512()) {
        for (; t + 4 <= tokens; t += 4) rows4_avx512(type, w, cols, rowBytes, r0, r1, x + t * xstride, xstride, y + t * ystride, ystride);
    }
    rows_tail(type, w, cols, rowBytes, r0, r1, x + t * xstride, xstride, y + t * ystride, ystride, tokens - t);
}

#endif

#if MOE_NEON
// NEON: tiles of up to four rows × four tokens, four columns per vector (32 registers hold the
// sixteen accumulators); one token runs eight columns per step with two accumulators per row.
#define NINLINE __attribute__((always_inline)) static inline

NINLINE float32x4_t nload4(int type, const uint8_t *w, long i) {
    switch (type) {
    case WIDE_F32: return vld1q_f32((const float *)(const void *)w + i);
    case WIDE_F16: return vcvt_f32_f16(vld1_f16((const float16_t *)(const void *)(w + 2 * i)));
    default: return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(const void *)(w + 2 * i)), 16));
    }
}

NINLINE void ntile(int type, const uint8_t *w, long cols, long rowBytes, long r, int R, const float *x, long xstride, int T, float *y,
                   long ystride) {
    const uint8_t *wr = w + r * rowBytes;
    float32x4_t acc[4][4];
    for (int k = 0; k < R; k++)
        for (int t = 0; t < 4; t++) acc[k][t] = vdupq_n_f32(0);
    long i = 0;
    if (T == 1) {
        for (; i + 8 <= cols; i += 8) {
            float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + 4);
            for (int k = 0; k < R; k++) {
                const uint8_t *p = wr + k * rowBytes;
                acc[k][0] = vfmaq_f32(acc[k][0], nload4(type, p, i), x0);
                acc[k][1] = vfmaq_f32(acc[k][1], nload4(type, p, i + 4), x1);
            }
        }
        for (int k = 0; k < R; k++) acc[k][0] = vaddq_f32(acc[k][0], acc[k][1]);
    } else {
        for (; i + 4 <= cols; i += 4) {
            float32x4_t xv[4];
            for (int t = 0; t < T; t++) xv[t] = vld1q_f32(x + t * xstride + i);
            for (int k = 0; k < R; k++) {
                float32x4_t wv = nload4(type, wr + k * rowBytes, i);
                for (int t = 0; t < T; t++) acc[k][t] = vfmaq_f32(acc[k][t], wv, xv[t]);
            }
        }
    }
    for (int k = 0; k < R; k++) {
        const uint8_t *p = wr + k * rowBytes;
        for (int t = 0; t < T; t++) {
            float s = vaddvq_f32(acc[k][t]);
            for (long c = i; c < cols; c++) s += wide_value(type, p, c) * x[t * xstride + c];
            y[t * ystride + r + k] = s;
        }
    }
}

NINLINE void nrows(int type, const uint8_t *w, long cols, long rowBytes, long r0, long r1, const float *x, long xstride, float *y,
                   long ystride, long tokens) {
    for (long t0 = 0; t0 < tokens; t0 += 4) {
        long nt = tokens - t0 < 4 ? tokens - t0 : 4;
        const float *xt = x + t0 * xstride;
        float *yt = y + t0 * ystride;
        long r = r0;
#define NT(R, T) ntile(type, w, cols, rowBytes, r, R, xt, xstride, T, yt, ystride)
        for (; r + 4 <= r1; r += 4) {
            switch (nt) {
            case 1: NT(4, 1); break;
            case 2: NT(4, 2); break;
            case 3: NT(4, 3); break;
            default: NT(4, 4); break;
            }
        }
        for (; r < r1; r++) {
            switch (nt) {
            case 1: NT(1, 1); break;
            case 2: NT(1, 2); break;
            case 3: NT(1, 3); break;
            default: NT(1, 4); break;
            }
        }
#undef NT
    }
}
#endif

int moe_dot_wide_rows(int type, const void *w, long cols, long rowBytes, long r0, long r1, const float *x, long xstride, float *y,
                      long ystride, long tokens) {
    if (type != WIDE_F32 && type != WIDE_F16 && type != WIDE_BF16) return -1;
    const uint8_t *wb = (const uint8_t *)w;
#if MOE_X86
    switch (type) {
    case WIDE_F32: rows_of(WIDE_F32, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    case WIDE_F16: rows_of(WIDE_F16, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    default: rows_of(WIDE_BF16, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    }
#elif MOE_NEON
    switch (type) {
    case WIDE_F32: nrows(WIDE_F32, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    case WIDE_F16: nrows(WIDE_F16, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    default: nrows(WIDE_BF16, wb, cols, rowBytes, r0, r1, x, xstride, y, ystride, tokens); return 0;
    }
#else
    for (long t = 0; t < tokens; t++)
        for (long r = r0; r < r1; r++) {
            float s = 0;
            for (long c = 0; c < cols; c++) s += wide_value(type, wb + r * rowBytes, c) * x[t * xstride + c];
            y[t * ystride + r] = s;
        }
    return 0;
#endif
}
