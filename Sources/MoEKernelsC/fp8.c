// Block-scaled FP8 (e4m3) rows times f32 activations (`--activations f32`), in place. The bytes are
// widened through IEEE halves (kernels/fp8_common.h), the 2^8 folded into the block scales. Each
// column block's products are summed in a vector and scaled once, and one horizontal sum ends the row
// (AVX2, or NEON on arm64).
#include "MoEKernelsC.h"
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_AVX2 1
#endif

#include "kernels/fp8_common.h"

#if MOE_AVX2
// One token: four accumulators in registers, 32 weights per step.
static float dot_fp8_one(const uint8_t *w, long cols, const float *scales, long blockCols, const float *x) {
    __m256 tot = _mm256_setzero_ps();
    float tail = 0;
    for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
        long n = cols - c < blockCols ? cols - c : blockCols;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        long i = 0;
        for (; i + 32 <= n; i += 32) {
            __m256 w0, w1, w2, w3;
            fp8x16(w + c + i, &w0, &w1);
            fp8x16(w + c + i + 16, &w2, &w3);
            const float *xb = x + c + i;
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), a0);
            a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), a1);
            a2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xb + 16), a2);
            a3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xb + 24), a3);
        }
        for (; i + 16 <= n; i += 16) {
            __m256 w0, w1;
            fp8x16(w + c + i, &w0, &w1);
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + c + i), a0);
            a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + c + i + 8), a1);
        }
        tot = _mm256_fmadd_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_set1_ps(scales[j] * 256.0f), tot);
        float r = 0;
        for (; i < n; i++) r += e4m3_value(w[c + i]) * x[c + i];
        tail += r * scales[j];
    }
    return hsum256(tot) + tail;
}
#endif

void moe_dot_fp8_tokens(const uint8_t *w, long cols, const float *scales, long blockCols, const float *x, long xstride,
                        float *out, long ostride, long tokens) {
#if MOE_AVX2
    if (tokens == 1) {
        out[0] = dot_fp8_one(w, cols, scales, blockCols, x);
        return;
    }
    for (long t0 = 0; t0 < tokens; t0 += 4) {
        long nt = tokens - t0 < 4 ? tokens - t0 : 4;
        __m256 tot[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        float tail[4] = {0, 0, 0, 0};
        for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
            long n = cols - c < blockCols ? cols - c : blockCols;
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            long i = 0;
            for (; i + 16 <= n; i += 16) {
                __m256 lo, hi;
                fp8x16(w + c + i, &lo, &hi);
                for (long t = 0; t < nt; t++) {
                    const float *xb = x + (t0 + t) * xstride + c + i;
                    acc[t] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(xb), acc[t]);
                    acc[t] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(xb + 8), acc[t]);
                }
            }
            __m256 sv = _mm256_set1_ps(scales[j] * 256.0f);
            for (long t = 0; t < nt; t++) {
                tot[t] = _mm256_fmadd_ps(acc[t], sv, tot[t]);
                float r = 0;
                for (long k = i; k < n; k++) r += e4m3_value(w[c + k]) * x[(t0 + t) * xstride + c + k];
                tail[t] += r * scales[j];
            }
        }
        for (long t = 0; t < nt; t++) out[(t0 + t) * ostride] = hsum256(tot[t]) + tail[t];
    }
#elif MOE_NEON
    // Up to four tokens share each decoded group of eight weights.
    for (long t0 = 0; t0 < tokens; t0 += 4) {
        long nt = tokens - t0 < 4 ? tokens - t0 : 4;
        float32x4_t tot[4];
        float tail[4] = {0, 0, 0, 0};
        for (long t = 0; t < 4; t++) tot[t] = vdupq_n_f32(0);
        for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
            long n = cols - c < blockCols ? cols - c : blockCols;
            float32x4_t acc[4][2];
            for (long t = 0; t < 4; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
            long i = 0;
            for (; i + 8 <= n; i += 8) {
                float32x4_t lo, hi;
                fp8x8(w + c + i, &lo, &hi);
                for (long t = 0; t < nt; t++) {
                    const float *xb = x + (t0 + t) * xstride + c + i;
                    acc[t][0] = vfmaq_f32(acc[t][0], lo, vld1q_f32(xb));
                    acc[t][1] = vfmaq_f32(acc[t][1], hi, vld1q_f32(xb + 4));
                }
            }
            for (long t = 0; t < nt; t++) {
                tot[t] = vfmaq_n_f32(tot[t], vaddq_f32(acc[t][0], acc[t][1]), scales[j] * 256.0f);
                float r = 0;
                for (long k = i; k < n; k++) r += e4m3_value(w[c + k]) * x[(t0 + t) * xstride + c + k];
                tail[t] += r * scales[j];
            }
        }
        for (long t = 0; t < nt; t++) out[(t0 + t) * ostride] = vaddvq_f32(tot[t]) + tail[t];
    }
#else
    for (long t = 0; t < tokens; t++) {
        float s = 0;
        for (long c = 0; c < cols; c++) s += e4m3_value(w[c]) * scales[c / blockCols] * x[t * xstride + c];
        out[t * ostride] = s;
    }
#endif
}

#if MOE_AVX2
// Four rows at a time for one token: each activation load serves four rows, and each weight line
// read prefetches the same line of the next four rows into L2 (as bf16act.c and wide.c do).
static void fp8_tile4(const uint8_t *w, long cols, long rowBytes, const float *const srow[4], long blockCols, const float *x,
                      float *y) {
    __m256 tot[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    float tail[4] = {0, 0, 0, 0};
    for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
        long n = cols - c < blockCols ? cols - c : blockCols;
        __m256 a[4][2];
        for (int k = 0; k < 4; k++) a[k][0] = a[k][1] = _mm256_setzero_ps();
        long i = 0;
        for (; i + 16 <= n; i += 16) {
            __m256 x0 = _mm256_loadu_ps(x + c + i), x1 = _mm256_loadu_ps(x + c + i + 8);
            for (int k = 0; k < 4; k++) {
                const uint8_t *p = w + k * rowBytes + c + i;
                if (((c + i) & 63) == 0) _mm_prefetch((const char *)(p + 4 * rowBytes), _MM_HINT_T1);
                __m256 lo, hi;
                fp8x16(p, &lo, &hi);
                a[k][0] = _mm256_fmadd_ps(lo, x0, a[k][0]);
                a[k][1] = _mm256_fmadd_ps(hi, x1, a[k][1]);
            }
        }
        for (int k = 0; k < 4; k++) {
            tot[k] = _mm256_fmadd_ps(_mm256_add_ps(a[k][0], a[k][1]), _mm256_set1_ps(srow[k][j] * 256.0f), tot[k]);
            float r = 0;
            for (long q = i; q < n; q++) r += e4m3_value(w[k * rowBytes + c + q]) * x[c + q];
            tail[k] += r * srow[k][j];
        }
    }
    for (int k = 0; k < 4; k++) y[k] = hsum256(tot[k]) + tail[k];
}
#endif

void moe_dot_fp8_rows(const uint8_t *w, long cols, long rowBytes, const float *scales, long scaleCols, long blockRows, long blockCols,
                      long firstRow, long r0, long r1, const float *x, long xstride, float *y, long ystride, long tokens) {
    long r = r0;
#if MOE_AVX2
    if (tokens == 1) {
        for (; r + 4 <= r1; r += 4) {
            const float *srow[4];
            for (int k = 0; k < 4; k++) srow[k] = scales + ((firstRow + r + k) / blockRows) * scaleCols;
            fp8_tile4(w + r * rowBytes, cols, rowBytes, srow, blockCols, x, y + r);
        }
    }
#endif
    for (; r < r1; r++)
        moe_dot_fp8_tokens(w + r * rowBytes, cols, scales + ((firstRow + r) / blockRows) * scaleCols, blockCols, x, xstride,
                           y + r, ystride, tokens);
}

