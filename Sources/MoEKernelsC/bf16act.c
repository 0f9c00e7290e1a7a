// BF16 and block-scaled FP8 (e4m3) weights times activations rounded to bf16, summed in f32: the
// arithmetic llama.cpp uses for BF16 weights, applied to FP8 as well. Every e4m3 value is exact in
// bf16, and a bf16 × bf16 product is exact in f32, so the only rounding beyond f32 summation is the
// activations' (relative 2^-9).
//
// With AVX-512 BF16 and VBMI, 64 FP8 bytes become 64 bf16 weights in four instructions (two
// 128-entry byte-table lookups for the high and low byte, the sign, and one byte shuffle so the
// unpacked words come out in column order), then vdpbf16ps multiplies them pairwise with the
// activations. Four rows share each activation load. Without those extensions the same products are
// formed in f32 (AVX2: weights and activations widened; or scalar), so results do not depend on the
// CPU beyond summation order. Activations below 2^-126 are flushed to zero when rounded, as
// vdpbf16ps would.
#include "MoEKernelsC.h"
#include <pthread.h>
#include <string.h>
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define MOE_X86 1
#endif

#include "kernels/fp8_common.h"


uint16_t moe_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);   // NaN stays a quiet NaN
    if ((u & 0x7F800000) == 0) return (uint16_t)((u >> 16) & 0x8000);         // subnormal -> signed zero
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);                   // round to nearest even
}

void moe_f32_to_bf16_rows(const float *x, long n, uint16_t *out) {
    long i = 0;
#if MOE_X86
    const __m256i exp = _mm256_set1_epi32(0x7F800000), abs = _mm256_set1_epi32(0x7FFFFFFF), bias = _mm256_set1_epi32(0x7FFF),
                  one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x400000), zero = _mm256_setzero_si256();
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), exp);
        r = _mm256_blendv_epi8(r, _mm256_or_si256(u, quiet), nan);
        __m256i sub = _mm256_cmpeq_epi32(_mm256_and_si256(u, exp), zero);
        r = _mm256_blendv_epi8(r, _mm256_and_si256(u, _mm256_set1_epi32((int)0x80000000)), sub);
        r = _mm256_srli_epi32(r, 16);
        __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(out + i), p);
    }
#elif MOE_NEON
    const uint32x4_t exp = vdupq_n_u32(0x7F800000), abs = vdupq_n_u32(0x7FFFFFFF), bias = vdupq_n_u32(0x7FFF),
                     one = vdupq_n_u32(1), quiet = vdupq_n_u32(0x400000), sign = vdupq_n_u32(0x80000000u);
    for (; i + 4 <= n; i += 4) {
        uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
        uint32x4_t r = vaddq_u32(u, vaddq_u32(bias, vandq_u32(vshrq_n_u32(u, 16), one)));
        r = vbslq_u32(vcgtq_u32(vandq_u32(u, abs), exp), vorrq_u32(u, quiet), r);
        r = vbslq_u32(vceqzq_u32(vandq_u32(u, exp)), vandq_u32(u, sign), r);
        vst1_u16(out + i, vshrn_n_u32(r, 16));
    }
#endif
    for (; i < n; i++) out[i] = moe_f32_to_bf16(x[i]);
}

// Scalar reference arithmetic (also the tails of the AVX2 path).
static float scalar_dot(int fp8, const uint8_t *w, const uint16_t *x, long n) {
    float s = 0;
    for (long i = 0; i < n; i++) {
        float wv = fp8 ? e4m3_value(w[i]) : bf16_value((uint16_t)(w[2 * i] | (w[2 * i + 1] << 8)));
        s += wv * bf16_value(x[i]);
    }
    return s;
}

#if MOE_X86
// ---- AVX2: both sides widened to f32 ----
static inline __m256 bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

// One row, one token, columns [0, n) of a block (no scale).
static float avx2_dot(int fp8, const uint8_t *w, const uint16_t *x, long n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    long i = 0;
    if (fp8) {
        for (; i + 16 <= n; i += 16) {
            __m256 lo, hi;
            fp8x16(w + i, &lo, &hi);
            a0 = _mm256_fmadd_ps(lo, bf16x8(x + i), a0);
            a1 = _mm256_fmadd_ps(hi, bf16x8(x + i + 8), a1);
        }
        float s = hsum256(_mm256_add_ps(a0, a1)) * 256.0f;
        return s + scalar_dot(1, w + i, x + i, n - i);
    }
    const uint16_t *wp = (const uint16_t *)(const void *)w;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(bf16x8(wp + i), bf16x8(x + i), a0);
        a1 = _mm256_fmadd_ps(bf16x8(wp + i + 8), bf16x8(x + i + 8), a1);
    }
    return hsum256(_mm256_add_ps(a0, a1)) + scalar_dot(0, w + 2 * i, x + i, n - i);
}

// ---- AVX-512 BF16 + VBMI ----
#define AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16"), always_inline)) static inline
#define AVX512_BF16_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16")))

static uint8_t fp8_hi[128], fp8_lo[128], fp8_order[64];
static int native;
static pthread_once_t native_once = PTHREAD_ONCE_INIT;

// Runs once (pthread_once: every thread then sees the finished tables).
static void probe_native(void) {
    __builtin_cpu_init();
    native = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bf16");
    // High and low byte of each e4m3 magnitude's bf16 (sign added separately), and the byte order
    // that makes unpacklo/unpackhi yield columns 0..31 and 32..63: within 128-bit lane L, bytes
    // 0-7 go to words 8L.. of the low half, bytes 8-15 to words 32+8L.. of the high half.
    for (int i = 0; i < 128; i++) {
        float v = e4m3_value((uint8_t)i);
        uint32_t u;
        memcpy(&u, &v, 4);
        uint16_t h = (uint16_t)(u >> 16);   // exact: e4m3 has 3 mantissa bits
        fp8_hi[i] = (uint8_t)(h >> 8);
        fp8_lo[i] = (uint8_t)h;
    }
    for (int lane = 0; lane < 4; lane++)
        for (int e = 0; e < 8; e++) {
            fp8_order[16 * lane + e] = (uint8_t)(8 * lane + e);
            fp8_order[16 * lane + 8 + e] = (uint8_t)(32 + 8 * lane + e);
        }
}

int moe_bf16act_native(void) {
    pthread_once(&native_once, probe_native);
    return native;
}

typedef struct {
    __m512i hi0, hi1, lo0, lo1, order, sign;
} fp8_tables;

AVX512_BF16 fp8_tables load_tables(void) {
    fp8_tables t;
    t.hi0 = _mm512_loadu_si512(fp8_hi);
    t.hi1 = _mm512_loadu_si512(fp8_hi + 64);
    t.lo0 = _mm512_loadu_si512(fp8_lo);
    t.lo1 = _mm512_loadu_si512(fp8_lo + 64);
    t.order = _mm512_loadu_si512(fp8_order);
    t.sign = _mm512_set1_epi8((char)0x80);
    return t;
}

// 64 e4m3 bytes (`b`) -> bf16 columns 0..31 (`w0`) and 32..63 (`w1`).
AVX512_BF16 void fp8_to_bf16x64(const fp8_tables *t, __m512i b, __m512i *w0, __m512i *w1) {
    b = _mm512_permutexvar_epi8(t->order, b);
    __m512i h = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t->hi0, b, t->hi1), b, t->sign, 0xF8);   // hi | (b & 0x80)
    __m512i l = _mm512_permutex2var_epi8(t->lo0, b, t->lo1);
    *w0 = _mm512_unpacklo_epi8(l, h);
    *w1 = _mm512_unpackhi_epi8(l, h);
}

// R rows (`rowBytes` apart) × T tokens (`xstride` apart) over columns [c0, c0+n): acc[r][t] += Σ w·x.
// Tails are read through masks, so no byte past a row is touched. Each weight line read also
// prefetches (into L2) the same line of the next tile's rows, R rows further: one core's hardware
// prefetchers alone keep too few reads in flight, and the FP8 decoding leaves fewer loads in the
// out-of-order window (measured: +15% BF16, +40% FP8 on an 8192² matrix, one thread).
AVX512_BF16 void block_fp8(const fp8_tables *tb, const uint8_t *w, long rowBytes, int R, const uint16_t *x, long xstride, int T,
                           long n, __m512 acc[4][4]) {
    for (long i = 0; i < n; i += 64) {
        long left = n - i;
        __mmask64 mb = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        __mmask32 m0 = (__mmask32)mb, m1 = (__mmask32)(mb >> 32);
        __m512i xw0[4], xw1[4];
        for (int t = 0; t < T; t++) {
            xw0[t] = _mm512_maskz_loadu_epi16(m0, x + t * xstride + i);
            xw1[t] = _mm512_maskz_loadu_epi16(m1, x + t * xstride + i + 32);
        }
        for (int r = 0; r < R; r++) {
            __m512i w0, w1;
            _mm_prefetch((const char *)(w + (r + R) * rowBytes + i), _MM_HINT_T1);
            fp8_to_bf16x64(tb, _mm512_maskz_loadu_epi8(mb, w + r * rowBytes + i), &w0, &w1);
            for (int t = 0; t < T; t++) {
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)w0, (__m512bh)xw0[t]);
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)w1, (__m512bh)xw1[t]);
            }
        }
    }
}

AVX512_BF16 void block_bf16(const uint8_t *w, long rowBytes, int R, const uint16_t *x, long xstride, int T, long n,
                            __m512 acc[4][4]) {
    for (long i = 0; i < n; i += 32) {
        long left = n - i;
        __mmask32 m = left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1);
        __m512i xw[4];
        for (int t = 0; t < T; t++) xw[t] = _mm512_maskz_loadu_epi16(m, x + t * xstride + i);
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(w + (r + R) * rowBytes + 2 * i), _MM_HINT_T1);
            __m512i wv = _mm512_maskz_loadu_epi16(m, (const uint16_t *)(const void *)(w + r * rowBytes) + i);
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)wv, (__m512bh)xw[t]);
        }
    }
}

// R rows starting at row r (of the matrix) × T tokens; results y[t*ystride + r + k].
AVX512_BF16 void tile_native(int fp8, const fp8_tables *tb, const uint8_t *w, long cols, long rowBytes, const float *scales,
                             long scaleCols, long blockRows, long blockCols, long firstRow, long r, int R, const uint16_t *x,
                             long xstride, int T, float *y, long ystride) {
    __m512 acc[4][4], tot[4][4];
    for (int k = 0; k < R; k++)
        for (int t = 0; t < T; t++) tot[k][t] = acc[k][t] = _mm512_setzero_ps();
    const uint8_t *wr = w + r * rowBytes;
    if (!fp8) {
        block_bf16(wr, rowBytes, R, x, xstride, T, cols, acc);
        for (int k = 0; k < R; k++)
            for (int t = 0; t < T; t++) y[t * ystride + r + k] = _mm512_reduce_add_ps(acc[k][t]);
        return;
    }
    const float *srow[4];
    for (int k = 0; k < R; k++) srow[k] = scales + ((firstRow + r + k) / blockRows) * scaleCols;
    for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
        long n = cols - c < blockCols ? cols - c : blockCols;
        block_fp8(tb, wr + c, rowBytes, R, x + c, xstride, T, n, acc);
        for (int k = 0; k < R; k++) {
            __m512 s = _mm512_set1_ps(srow[k][j]);
            for (int t = 0; t < T; t++) {
                tot[k][t] = _mm512_fmadd_ps(acc[k][t], s, tot[k][t]);
                acc[k][t] = _mm512_setzero_ps();
            }
        }
    }
    for (int k = 0; k < R; k++)
        for (int t = 0; t < T; t++) y[t * ystride + r + k] = _mm512_reduce_add_ps(tot[k][t]);
}

// FP8 keeps a block accumulator and a total per (row, token): at most 16 + 16 vectors, so its tiles
// are 4 rows × 2 tokens; BF16 has no block scales and takes 4 × 4.
AVX512_BF16_FN static void rows_native(int fp8, const uint8_t *w, long cols, long rowBytes, const float *scales, long scaleCols,
                                       long blockRows, long blockCols, long firstRow, long r0, long r1, const uint16_t *x,
                                       long xstride, float *y, long ystride, long tokens) {
    fp8_tables tb = load_tables();
    int TT = fp8 ? 2 : 4;
    for (long t0 = 0; t0 < tokens; t0 += TT) {
        long nt = tokens - t0 < TT ? tokens - t0 : TT;
        const uint16_t *xt = x + t0 * xstride;
        float *yt = y + t0 * ystride;
        long r = r0;
#define TILE(R, T) tile_native(fp8, &tb, w, cols, rowBytes, scales, scaleCols, blockRows, blockCols, firstRow, r, R, xt, xstride, T, yt, ystride)
        for (; r + 4 <= r1; r += 4) {
            switch (nt) {
            case 1: TILE(4, 1); break;
            case 2: TILE(4, 2); break;
            case 3: TILE(4, 3); break;
            default: TILE(4, 4); break;
            }
        }
        for (; r < r1; r++) {
            switch (nt) {
            case 1: TILE(1, 1); break;
            case 2: TILE(1, 2); break;
            case 3: TILE(1, 3); break;
            default: TILE(1, 4); break;
            }
        }
#undef TILE
    }
}
#elif MOE_NEON
// ---- NEON: both sides widened to f32, four rows × one or two tokens per tile ----
int moe_bf16act_native(void) { return 1; }

static inline float32x4_t bf16x4(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

// Eight weights of a row at column i: FP8 (value · 2^-8) or BF16.
static inline __attribute__((always_inline)) void weights8(int fp8, const uint8_t *p, long i, float32x4_t *lo, float32x4_t *hi) {
    if (fp8) {
        fp8x8(p + i, lo, hi);
    } else {
        uint16x8_t v = vld1q_u16((const uint16_t *)(const void *)p + i);
        *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16));
        *hi = vreinterpretq_f32_u32(vshll_high_n_u16(v, 16));
    }
}

// R rows from row r × T tokens; BF16 is one block of all columns with scale 1.
static inline __attribute__((always_inline)) void tile_neon(int fp8, const uint8_t *w, long cols, long rowBytes, const float *scales,
                                                            long scaleCols, long blockRows, long blockCols, long firstRow, long r,
                                                            int R, const uint16_t *x, long xstride, int T, float *y, long ystride) {
    const uint8_t *wr = w + r * rowBytes;
    const float *srow[4];
    for (int k = 0; k < R; k++) srow[k] = fp8 ? scales + ((firstRow + r + k) / blockRows) * scaleCols : 0;
    float32x4_t tot[4][2];
    float tail[4][2];
    for (int k = 0; k < R; k++)
        for (int t = 0; t < T; t++) { tot[k][t] = vdupq_n_f32(0); tail[k][t] = 0; }
    for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
        long n = cols - c < blockCols ? cols - c : blockCols;
        float32x4_t acc[4][2];
        for (int k = 0; k < R; k++)
            for (int t = 0; t < T; t++) acc[k][t] = vdupq_n_f32(0);
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            float32x4_t x0[2], x1[2];
            for (int t = 0; t < T; t++) { x0[t] = bf16x4(x + t * xstride + c + i); x1[t] = bf16x4(x + t * xstride + c + i + 4); }
            for (int k = 0; k < R; k++) {
                float32x4_t lo, hi;
                weights8(fp8, wr + k * rowBytes, c + i, &lo, &hi);
                for (int t = 0; t < T; t++) acc[k][t] = vfmaq_f32(vfmaq_f32(acc[k][t], lo, x0[t]), hi, x1[t]);
            }
        }
        for (int k = 0; k < R; k++) {
            float s = fp8 ? srow[k][j] : 1.0f;
            for (int t = 0; t < T; t++) {
                tot[k][t] = vfmaq_n_f32(tot[k][t], acc[k][t], fp8 ? s * 256.0f : 1.0f);
                tail[k][t] += s * scalar_dot(fp8, wr + k * rowBytes + (fp8 ? c + i : 2 * (c + i)), x + t * xstride + c + i, n - i);
            }
        }
    }
    for (int k = 0; k < R; k++)
        for (int t = 0; t < T; t++) y[t * ystride + r + k] = vaddvq_f32(tot[k][t]) + tail[k][t];
}

static void rows_neon(int fp8, const uint8_t *w, long cols, long rowBytes, const float *scales, long scaleCols, long blockRows,
                      long blockCols, long firstRow, long r0, long r1, const uint16_t *x, long xstride, float *y, long ystride,
                      long tokens) {
    for (long t0 = 0; t0 < tokens; t0 += 2) {
        int two = tokens - t0 >= 2;
        const uint16_t *xt = x + t0 * xstride;
        float *yt = y + t0 * ystride;
        long r = r0;
#define TILE(R, T) tile_neon(fp8, w, cols, rowBytes, scales, scaleCols, blockRows, blockCols, firstRow, r, R, xt, xstride, T, yt, ystride)
        for (; r + 4 <= r1; r += 4) { if (two) TILE(4, 2); else TILE(4, 1); }
        for (; r < r1; r++) { if (two) TILE(1, 2); else TILE(1, 1); }
#undef TILE
    }
}
#else
int moe_bf16act_native(void) { return 0; }
#endif

void moe_dot_bf16act_rows_with(int use_native, int fp8, const void *w, long cols, long rowBytes, const float *scales, long scaleCols,
                               long blockRows, long blockCols, long firstRow, long r0, long r1, const uint16_t *x, long xstride,
                               float *y, long ystride, long tokens) {
    const uint8_t *wb = (const uint8_t *)w;
    if (!fp8) blockCols = cols > 0 ? cols : 1;
#if MOE_X86
    if (use_native && moe_bf16act_native()) {
        rows_native(fp8, wb, cols, rowBytes, scales, scaleCols, blockRows, blockCols, firstRow, r0, r1, x, xstride, y, ystride, tokens);
        return;
    }
#elif MOE_NEON
    if (use_native) {
        rows_neon(fp8, wb, cols, rowBytes, scales, scaleCols, blockRows, blockCols, firstRow, r0, r1, x, xstride, y, ystride, tokens);
        return;
    }
#endif
    for (long r = r0; r < r1; r++) {
        const uint8_t *wr = wb + r * rowBytes;
        const float *srow = fp8 ? scales + ((firstRow + r) / blockRows) * scaleCols : 0;
        for (long t = 0; t < tokens; t++) {
            const uint16_t *xt = x + t * xstride;
            float s = 0;
            for (long c = 0, j = 0; c < cols; c += blockCols, j++) {
                long n = cols - c < blockCols ? cols - c : blockCols;
                long off = fp8 ? c : 2 * c;
#if MOE_X86
                float b = avx2_dot(fp8, wr + off, xt + c, n);
#else
                float b = scalar_dot(fp8, wr + off, xt + c, n);
#endif
                s += fp8 ? b * srow[j] : b;
            }
            y[t * ystride + r] = s;
        }
    }
}

void moe_dot_bf16act_rows(int fp8, const void *w, long cols, long rowBytes, const float *scales, long scaleCols, long blockRows,
                          long blockCols, long firstRow, long r0, long r1, const uint16_t *x, long xstride, float *y, long ystride,
                          long tokens) {
    moe_dot_bf16act_rows_with(1, fp8, w, cols, rowBytes, scales, scaleCols, blockRows, blockCols, firstRow, r0, r1, x, xstride, y,
                              ystride, tokens);
}
