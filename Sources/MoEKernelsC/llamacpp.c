// llama.cpp's CPU arithmetic, reproduced operation for operation (`--numerics llamacpp`): the
// float32 results of llama.cpp's x86-64 AVX-512 build (GCC, GGML_NATIVE) for a dense llama-family
// model whose matrices are Q4_1, Q8_0 or F16, in one batch with flash attention off and an F32 KV
// cache. Each function states which llama.cpp kernel it follows; what makes results equal bit for
// bit is the order of every rounding: which products are fused (fma), which sums are kept per
// vector lane and how the lanes are reduced, and where sums are kept in double. Verified against llama.cpp commit
// 0c1e57098b (vendored by llama-cpp-python 0.3.36): the C harness compares each function with
// tensors llama.cpp computed itself (scripts/oracle/llamacpp_ops.py), the Swift tests the whole model.
// ggml's kernels change between versions; another llama.cpp may round differently.
//
// Contraction is off for this file: a*b+c rounds twice unless written as fmaf / an fma intrinsic,
// exactly where llama.cpp's compiled code fuses.
#include "MoEKernelsC.h"
#include <math.h>
#include <string.h>
#include "kernels/simd_common.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#pragma clang fp contract(off)

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma,f16c")))

int moe_llcpp_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

// ggml_compute_forward_rms_norm_f32 + the norm weight: squares in float summed in double, in
// order; scale = 1/sqrtf(mean + eps) in float; y = (x * scale) * w.
void moe_llcpp_rms_norm(const float *x, const float *w, float eps, long n, float *out) {
    double sum = 0;
    for (long i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (long i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

// quantize_row_q8_0 / quantize_row_q8_1 (their AVX2 path): per 32 floats, d = amax/127 (stored as
// f16), values times 127/amax rounded to nearest even; Q8_1 also s = f16(d * sum of the quants),
// from the unrounded d. Blocks: d (f16), [s (f16),] 32 × int8.
static void quantize_q8(const float *x, long cols, long tokens, uint8_t *y, int withSum) {
    const long blockBytes = withSum ? 36 : 34, head = withSum ? 4 : 2;
    for (long t = 0; t < tokens; t++) {
        const float *row = x + t * cols;
        for (long b = 0; b < cols / 32; b++, y += blockBytes) {
            const float *p = row + 32 * b;
            const __m256 sign = _mm256_set1_ps(-0.0f);
            __m256 v[4], amax = _mm256_setzero_ps();
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_loadu_ps(p + 8 * j);
                amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
            }
            __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float mx = _mm_cvtss_f32(m4);
            const float d = mx / 127.f;
            const float id = mx != 0.0f ? 127.f / mx : 0.0f;
            int32_t total = 0;
            for (int j = 0; j < 4; j++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(v[j], _mm256_set1_ps(id)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                int32_t lanes[8];
                _mm256_storeu_si256((__m256i *)(void *)lanes, _mm256_cvtps_epi32(r));
                for (int k = 0; k < 8; k++) {
                    y[head + 8 * j + k] = (uint8_t)(int8_t)lanes[k];
                    total += lanes[k];
                }
            }
            const uint16_t dh = _cvtss_sh(d, 0);
            memcpy(y, &dh, 2);
            if (withSum) {
                const uint16_t sh = _cvtss_sh(d * (float)total, 0);
                memcpy(y + 2, &sh, 2);
            }
        }
    }
}

void moe_llcpp_quantize_q8_1(const float *x, long cols, long tokens, void *out) { quantize_q8(x, cols, tokens, (uint8_t *)out, 1); }
void moe_llcpp_quantize_q8_0(const float *x, long cols, long tokens, void *out) { quantize_q8(x, cols, tokens, (uint8_t *)out, 0); }

// An f16 stored at p (any alignment).
static inline float f16at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_value(h);
}


// ggml_vec_dot_q4_1_q8_1 (AVX2): eight lanes, each the integer sum of four consecutive products,
// accumulate fma(d_x * d_y, lane, acc) block after block; the min terms m * s add up in a float on
// the side; the result is hsum256(acc) + that sum.
static inline float dot_q4_1_q8_1(const uint8_t *x, const uint8_t *y, long blocks) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    for (long b = 0; b < blocks; b++, x += 20, y += 36) {
        summs += f16at(x + 2) * f16at(y + 2);
        const float d = f16at(x) * f16at(y);
        const __m128i packed = _mm_loadu_si128((const __m128i *)(const void *)(x + 4));
        const __m256i qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(const void *)(y + 4));
        const __m256 xy = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(qx, qy), ones));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), xy, acc);
    }
    return hsum256(acc) + summs;
}

// llamafile's tinyBLAS_Q0_AVX for Q8_0 × Q8_0 (the output layer in a batch): eight lanes, each the
// integer sum of four consecutive products, accumulate fma(d_w * d_x, lane, acc) block after block;
// the result is hsum256(acc).
static inline float dot_q8_0_q8_0(const uint8_t *w, const uint8_t *x, long blocks) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (long b = 0; b < blocks; b++, w += 34, x += 34) {
        const float d = f16at(w) * f16at(x);
        const __m256i qw = _mm256_loadu_si256((const __m256i *)(const void *)(w + 2));
        const __m256i qx = _mm256_loadu_si256((const __m256i *)(const void *)(x + 2));
        // |w| times x with w's sign: products pair up in int16 without saturating (128 · 127 · 2).
        const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));
        const __m256 xy = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), xy, acc);
    }
    return hsum256(acc);
}

// Rows r0 ..< r1 times each token's activation blocks (Q8_1 for Q4_1 weights, else Q8_0).
static void block_rows(int q41, const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                       long ystride) {
    const long blocks = cols / 32, qBytes = blocks * (q41 ? 36 : 34);
    for (long t = 0; t < tokens; t++) {
        const uint8_t *xt = (const uint8_t *)xq + t * qBytes;
        for (long r = r0; r < r1; r++) {
            const uint8_t *wr = (const uint8_t *)w + r * rowBytes;
            y[t * ystride + r] = q41 ? dot_q4_1_q8_1(wr, xt, blocks) : dot_q8_0_q8_0(wr, xt, blocks);
        }
    }
}

void moe_llcpp_q8_0_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride) {
    block_rows(0, w, rowBytes, cols, r0, r1, xq, tokens, y, ystride);
}

void moe_llcpp_q4_1_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride) {
    block_rows(1, w, rowBytes, cols, r0, r1, xq, tokens, y, ystride);
}

// ggml_compute_forward_rope_f32, GGML_ROPE_TYPE_NORMAL (adjacent pairs), no YaRN: theta starts at
// the position and is multiplied by powf(base, -2/dims) per pair; cosf/sinf; GCC fuses the two
// rotations as fma(x0, cos, -(x1*sin)) and fma(x0, sin, x1*cos).
void moe_llcpp_rope(float *x, long heads, long headDim, long dims, long position, float base) {
    float cache[1024];
    if (dims > 1024) return;   // the caller's contract (unsupported() refuses such heads)
    const float thetaScale = powf(base, -2.0f / (float)dims);
    float theta = (float)position;
    for (long i = 0; i < dims; i += 2) {
        cache[i] = cosf(theta);
        cache[i + 1] = sinf(theta);
        theta *= thetaScale;
    }
    for (long h = 0; h < heads; h++) {
        float *p = x + h * headDim;
        for (long i = 0; i < dims; i += 2) {
            const float c = cache[i], s = cache[i + 1], x0 = p[i], x1 = p[i + 1];
            p[i] = fmaf(x0, c, -(x1 * s));
            p[i + 1] = fmaf(x0, s, x1 * c);
        }
    }
}

// GCC's _mm512_reduce_add_ps: the two halves added, then hsum_float_8's order (hsum256).
AVX512 static inline float reduce512(__m512 a) { return hsum256(_mm256_add_ps(_mm512_extractf32x8_ps(a, 1), _mm512_castps512_ps256(a))); }

// F32 activations into F16 (ggml_cpu_fp32_to_fp16: round to nearest even), as llama.cpp prepares
// them for F16 weights.
void moe_llcpp_quantize_f16(const float *x, long cols, long tokens, void *out) {
    uint16_t *y = (uint16_t *)out;
    for (long i = 0; i < cols * tokens; i++) y[i] = _cvtss_sh(x[i], 0);
}

// llamafile's tinyBLAS F16 × F16 tile (AVX-512): per output, 16 lanes of fma(w, x) over the columns
// (column c in lane c % 16), both widened from F16, then reduced. cols a multiple of 16.
AVX512 void moe_llcpp_f16_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xh, long tokens, float *y,
                               long ystride) {
    for (long t = 0; t < tokens; t++) {
        const uint16_t *xt = (const uint16_t *)xh + t * cols;
        for (long r = r0; r < r1; r++) {
            const uint16_t *wr = (const uint16_t *)(const void *)((const uint8_t *)w + r * rowBytes);
            __m512 acc = _mm512_setzero_ps();
            for (long c = 0; c < cols; c += 16)
                acc = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(wr + c))),
                                      _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(xt + c))), acc);
            y[t * ystride + r] = reduce512(acc);
        }
    }
}

// ggml_v_expf (AVX-512): exp by 2^n times a polynomial, with scalef; |n| > 192 saturates.
AVX512 static inline __m512 vexpf(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 hi = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f)));
    const __m512 j = _mm512_fmadd_ps(hi, u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (_mm512_kortestz(big, big)) return res;
    const __m512 sat = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_set1_ps(INFINITY),
                                            _mm512_setzero_ps());
    return _mm512_mask_blend_ps(big, res, sat);
}

// One query head against positions 0..<positions of one key/value head (rows `stride` floats
// apart), as llama.cpp's batch graph computes it:
//  - kq: ggml_vec_dot_f32 (AVX-512): four 16-lane accumulators over each 64 columns, folded
//    (0+2, 1+3, then 0+1) and reduced; headDim must be a multiple of 64;
//  - soft_max_ext: kq * scale, the causal mask, the max, ggml_v_expf per 16 scores with each
//    16's reduced sum added in double, then every weight times (float)(1/sum);
//  - kqv: llamafile's tinyBLAS f32 tile (AVX-512): per output column, 16 lanes of fma over the
//    positions (position p in lane p % 16), then reduced. Positions past the last add nothing.
// scores: room for positions rounded up to 16; acc: 16 * headDim floats.
AVX512 void moe_llcpp_attend(const float *q, const float *keys, const float *values, long stride, long headDim, long positions,
                             float scale, float *scores, float *acc, float *out) {
    const long n = (positions + 15) / 16 * 16;
    for (long p = 0; p < positions; p++) {
        const float *k = keys + p * stride;
        __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (long i = 0; i < headDim; i += 64)
            for (int j = 0; j < 4; j++) s[j] = _mm512_fmadd_ps(_mm512_loadu_ps(k + i + 16 * j), _mm512_loadu_ps(q + i + 16 * j), s[j]);
        s[0] = _mm512_add_ps(s[0], s[2]);
        s[1] = _mm512_add_ps(s[1], s[3]);
        scores[p] = reduce512(_mm512_add_ps(s[0], s[1])) * scale;
    }
    for (long p = positions; p < n; p++) scores[p] = -INFINITY;
    float mx = -INFINITY;
    for (long p = 0; p < positions; p++) mx = scores[p] > mx ? scores[p] : mx;
    double sum = 0;
    for (long p = 0; p < n; p += 16) {
        const __m512 e = vexpf(_mm512_sub_ps(_mm512_loadu_ps(scores + p), _mm512_set1_ps(mx)));
        _mm512_storeu_ps(scores + p, e);
        sum += (double)reduce512(e);
    }
    const float inv = (float)(1.0 / sum);
    for (long p = 0; p < positions; p++) scores[p] *= inv;
    // acc[lane * headDim + d] is lane `lane` of output d's accumulator.
    for (long i = 0; i < 16 * headDim; i++) acc[i] = 0;
    for (long p = 0; p < positions; p++) {
        float *a = acc + (p % 16) * headDim;
        const float *v = values + p * stride;
        const __m512 wv = _mm512_set1_ps(scores[p]);
        for (long d = 0; d < headDim; d += 16)
            _mm512_storeu_ps(a + d, _mm512_fmadd_ps(_mm512_loadu_ps(v + d), wv, _mm512_loadu_ps(a + d)));
    }
    // The reduction of reduce512, for all outputs at once: lanes i+8 and i, then i+4 and i, then
    // 0+2 and 1+3, then those two.
    for (long d = 0; d < headDim; d += 16) {
        __m512 l[16];
        for (int i = 0; i < 16; i++) l[i] = _mm512_loadu_ps(acc + i * headDim + d);
        for (int i = 0; i < 8; i++) l[i] = _mm512_add_ps(l[i + 8], l[i]);
        for (int i = 0; i < 4; i++) l[i] = _mm512_add_ps(l[i + 4], l[i]);
        const __m512 a = _mm512_add_ps(l[0], l[2]), b = _mm512_add_ps(l[1], l[3]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(a, b));
    }
}

// ggml_vec_swiglu_f32 (AVX-512): silu(g) = g / (1 + ggml_v_expf(-g)), times u; a tail of fewer
// than 16 as ggml_silu_f32 (expf).
AVX512 void moe_llcpp_swiglu(const float *gate, const float *up, float *y, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 e = vexpf(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1), e));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
    }
    for (; i < n; i++) y[i] = (gate[i] / (1.0f + expf(-gate[i]))) * up[i];
}

#else

int moe_llcpp_supported(void) { return 0; }
void moe_llcpp_rms_norm(const float *x, const float *w, float eps, long n, float *out) { (void)x; (void)w; (void)eps; (void)n; (void)out; }
void moe_llcpp_quantize_q8_1(const float *x, long cols, long tokens, void *out) { (void)x; (void)cols; (void)tokens; (void)out; }
void moe_llcpp_quantize_q8_0(const float *x, long cols, long tokens, void *out) { (void)x; (void)cols; (void)tokens; (void)out; }
void moe_llcpp_quantize_f16(const float *x, long cols, long tokens, void *out) { (void)x; (void)cols; (void)tokens; (void)out; }
void moe_llcpp_f16_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xh, long tokens, float *y,
                        long ystride) {
    (void)w; (void)rowBytes; (void)cols; (void)r0; (void)r1; (void)xh; (void)tokens; (void)y; (void)ystride;
}
void moe_llcpp_q8_0_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride) {
    (void)w; (void)rowBytes; (void)cols; (void)r0; (void)r1; (void)xq; (void)tokens; (void)y; (void)ystride;
}
void moe_llcpp_q4_1_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride) {
    (void)w; (void)rowBytes; (void)cols; (void)r0; (void)r1; (void)xq; (void)tokens; (void)y; (void)ystride;
}
void moe_llcpp_rope(float *x, long heads, long headDim, long dims, long position, float base) {
    (void)x; (void)heads; (void)headDim; (void)dims; (void)position; (void)base;
}
void moe_llcpp_attend(const float *q, const float *keys, const float *values, long stride, long headDim, long positions,
                      float scale, float *scores, float *acc, float *out) {
    (void)q; (void)keys; (void)values; (void)stride; (void)headDim; (void)positions; (void)scale; (void)scores; (void)acc; (void)out;
}
void moe_llcpp_swiglu(const float *gate, const float *up, float *y, long n) { (void)gate; (void)up; (void)y; (void)n; }

#endif
