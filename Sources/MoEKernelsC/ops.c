// Element-wise activation functions over whole rows, and attention of one key/value head's group of
// query heads (scores, softmax, weighted values). SwiGLU's exp is the Cephes single-precision
// polynomial (relative error about 1e-7 over the clamped range), eight lanes at a time (four with
// NEON); the scalar tail uses libm's expf.
#include "MoEKernelsC.h"
#include <math.h>
#include "kernels/simd_common.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// e^x: inputs above 88.3 are clamped there (a finite result), below -87.3 the result is 0, NaN stays NaN.
static inline __m256 exp8(__m256 x) {
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    // max/min return their second operand when one is NaN: x goes second, so a NaN stays NaN.
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}


static inline float dot(const float *a, const float *b, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
#endif

#if MOE_NEON
// The same exponential, four lanes at a time.
static inline float32x4_t exp4(float32x4_t x) {
    uint32x4_t under = vcltq_f32(x, vdupq_n_f32(-87.3f));
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.3f));   // fmax/fmin keep a NaN
    float32x4_t k = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, k, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
    float32x4_t v = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), under));
}

static inline float dot(const float *a, const float *b, long n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
#endif

void moe_swiglu(float *gate, const float *up, long n) {
    long i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
#elif MOE_NEON
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i);
        float32x4_t e = exp4(vnegq_f32(g));
        vst1q_f32(gate + i, vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), vld1q_f32(up + i)));
    }
#endif
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

// q·k over headDim.
static inline float dot_any(const float *a, const float *b, long n) {
#if (defined(__AVX2__) && defined(__FMA__)) || MOE_NEON
    return dot(a, b, n);
#else
    float v = 0;
    for (long d = 0; d < n; d++) v += a[d] * b[d];
    return v;
#endif
}

// scores[j] = e^(scores[j] - m) in place; returns their sum.
static float exp_sum(float *scores, long n, float m) {
    float sum = 0;
    long j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 vs = _mm256_setzero_ps(), vm = _mm256_set1_ps(m);
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), vm));
        _mm256_storeu_ps(scores + j, e);
        vs = _mm256_add_ps(vs, e);
    }
    sum = hsum256(vs);
#elif MOE_NEON
    float32x4_t vs = vdupq_n_f32(0), vm = vdupq_n_f32(m);
    for (; j + 4 <= n; j += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(scores + j), vm));
        vst1q_f32(scores + j, e);
        vs = vaddq_f32(vs, e);
    }
    sum = vaddvq_f32(vs);
#endif
    for (; j < n; j++) {
        scores[j] = expf(scores[j] - m);
        sum += scores[j];
    }
    return sum;
}

// scores[g·n + j] = scale · q_g·k_j for the group's queries and positions first ... first+n-1. Four
// positions at a time: their four dot products of each query end in one horizontal reduction, and
// the four key rows stay in L1 across the group.
static void group_scores(const float *q, long qstride, long group, const float *keys, long stride, long headDim, long first, long n,
                         float scale, float *scores) {
    long j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (headDim % 8 == 0) {
        const __m128 sv = _mm_set1_ps(scale);
        for (; j + 4 <= n; j += 4) {
            const float *k0 = keys + (first + j) * stride, *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
            for (long g = 0; g < group; g++) {
                const float *qg = q + g * qstride;
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (long d = 0; d < headDim; d += 8) {
                    __m256 qv = _mm256_loadu_ps(qg + d);
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(k0 + d), qv, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(k1 + d), qv, a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(k2 + d), qv, a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(k3 + d), qv, a3);
                }
                // hadd twice: lane i of each half holds part of position i's sum; the halves add up.
                __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
                __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
                _mm_storeu_ps(scores + g * n + j, _mm_mul_ps(r, sv));
            }
        }
    }
#elif MOE_NEON
    if (headDim % 4 == 0) {
        for (; j + 4 <= n; j += 4) {
            const float *k0 = keys + (first + j) * stride, *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
            for (long g = 0; g < group; g++) {
                const float *qg = q + g * qstride;
                float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
                for (long d = 0; d < headDim; d += 4) {
                    float32x4_t qv = vld1q_f32(qg + d);
                    a0 = vfmaq_f32(a0, vld1q_f32(k0 + d), qv);
                    a1 = vfmaq_f32(a1, vld1q_f32(k1 + d), qv);
                    a2 = vfmaq_f32(a2, vld1q_f32(k2 + d), qv);
                    a3 = vfmaq_f32(a3, vld1q_f32(k3 + d), qv);
                }
                // Pairwise adds: lane i ends as position i's sum.
                float32x4_t r = vpaddq_f32(vpaddq_f32(a0, a1), vpaddq_f32(a2, a3));
                vst1q_f32(scores + g * n + j, vmulq_n_f32(r, scale));
            }
        }
    }
#endif
    for (; j < n; j++) {
        const float *k = keys + (first + j) * stride;
        for (long g = 0; g < group; g++) scores[g * n + j] = dot_any(k, q + g * qstride, headDim) * scale;
    }
}

static float max_of(const float *x, long n) {
    float m = -INFINITY;
    long j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (n >= 8) {
        __m256 v = _mm256_loadu_ps(x);
        for (j = 8; j + 8 <= n; j += 8) v = _mm256_max_ps(v, _mm256_loadu_ps(x + j));
        float t[8];
        _mm256_storeu_ps(t, v);
        for (int i = 0; i < 8; i++) m = t[i] > m ? t[i] : m;
    }
#elif MOE_NEON
    if (n >= 4) {
        float32x4_t v = vld1q_f32(x);
        for (j = 4; j + 4 <= n; j += 4) v = vmaxq_f32(v, vld1q_f32(x + j));
        m = vmaxvq_f32(v);
    }
#endif
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

// out[0..<headDim] = Σ_j p[j] · v_j (v_j = values + j·stride), dimensions held in registers across all
// positions (32 at a time with AVX2, 16 with NEON).
static void weighted_values(const float *p, long n, const float *values, long stride, long headDim, float *out) {
    long d = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; d + 32 <= headDim; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (long j = 0; j < n; j++) {
            const float *v = values + j * stride + d;
            __m256 w = _mm256_set1_ps(p[j]);
            a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v), a0);
            a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8), a1);
            a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 16), a2);
            a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 24), a3);
        }
        _mm256_storeu_ps(out + d, a0);
        _mm256_storeu_ps(out + d + 8, a1);
        _mm256_storeu_ps(out + d + 16, a2);
        _mm256_storeu_ps(out + d + 24, a3);
    }
#elif MOE_NEON
    for (; d + 16 <= headDim; d += 16) {
        float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
        for (long j = 0; j < n; j++) {
            const float *v = values + j * stride + d;
            a0 = vfmaq_n_f32(a0, vld1q_f32(v), p[j]);
            a1 = vfmaq_n_f32(a1, vld1q_f32(v + 4), p[j]);
            a2 = vfmaq_n_f32(a2, vld1q_f32(v + 8), p[j]);
            a3 = vfmaq_n_f32(a3, vld1q_f32(v + 12), p[j]);
        }
        vst1q_f32(out + d, a0);
        vst1q_f32(out + d + 4, a1);
        vst1q_f32(out + d + 8, a2);
        vst1q_f32(out + d + 12, a3);
    }
#endif
    for (; d < headDim; d++) {
        float a = 0;
        for (long j = 0; j < n; j++) a += p[j] * values[j * stride + d];
        out[d] = a;
    }
}

void moe_attend_partial(const float *q, long qstride, long group, const float *keys, const float *values, long stride, long headDim,
                        long first, long last, float scale, float *scores, float *m, float *l, float *o) {
    long n = last - first + 1;
    if (n <= 0) {
        for (long g = 0; g < group; g++) {
            m[g] = -INFINITY;
            l[g] = 0;
            for (long d = 0; d < headDim; d++) o[g * headDim + d] = 0;
        }
        return;
    }
    group_scores(q, qstride, group, keys, stride, headDim, first, n, scale, scores);
    for (long g = 0; g < group; g++) {
        m[g] = max_of(scores + g * n, n);
        l[g] = exp_sum(scores + g * n, n, m[g]);
    }
    // Values one query at a time, all positions per pass: the group's later passes find the rows in
    // cache. (Sharing each row load among the group's queries was 1.7x faster with the rows in cache
    // but slower streaming them from memory, which is where long contexts live.)
    for (long g = 0; g < group; g++) weighted_values(scores + g * n, n, values + first * stride, stride, headDim, o + g * headDim);
}

void moe_attend_head(const float *q, const float *keys, const float *values, long stride, long headDim, long first, long last,
                     float scale, float *scores, float *out) {
    float m, l;
    moe_attend_partial(q, headDim, 1, keys, values, stride, headDim, first, last, scale, scores, &m, &l, out);
    if (l > 0) {
        float inv = 1.0f / l;
        for (long d = 0; d < headDim; d++) out[d] *= inv;
        for (long j = 0; j <= last - first; j++) scores[j] *= inv;   // the probabilities, as documented
    }
}

float moe_exp_check(float x) {
#if defined(__AVX2__) && defined(__FMA__)
    float out[8];
    _mm256_storeu_ps(out, exp8(_mm256_set1_ps(x)));
    return out[0];
#elif MOE_NEON
    return vgetq_lane_f32(exp4(vdupq_n_f32(x)), 0);
#else
    return expf(x);
#endif
}
