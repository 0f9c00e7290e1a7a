// Block-scaled FP8 (e4m3) rows times f32 activations (`--activations f32`), in place. The bytes are
// widened through IEEE halves (kernels/fp8_common.h), the 2^8 folded into the block scales. Each
// column block's products are summed in a vector and scaled once, and one horizontal sum ends the row.
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
#else
    for (long t = 0; t < tokens; t++) {
        float s = 0;
        for (long c = 0; c < cols; c++) s += e4m3_value(w[c]) * scales[c / blockCols] * x[t * xstride + c];
        out[t * ostride] = s;
    }
#endif
}
