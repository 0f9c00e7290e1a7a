// Standalone checks of the C kernel library (Sources/MoEKernelsC) against references computed here,
// independently of the kernels, in double precision (or, where a contract is defined by f32
// operations, by correctly rounded emulation of them), and, for llamacpp.c, against tensors
// llama.cpp itself computed (exact to the bit). Built and run for several CPU targets,
// aarch64 under qemu-user among them, by scripts/test_c_kernels.sh.
//
// Usage: kernel_check VECTORS.bin   (made by Tests/CKernels/make_vectors.py from the committed
// gguf / PyTorch oracles: block bytes with gguf's dequantised floats, and the 256 e4m3 values; and
// from llama.cpp's own intermediate tensors, for llamacpp.c).
//
// Output: one line per check, "ok", "FAIL" or "skip", its name, and its maximum error against the
// tolerance (relative to Σ|terms| for dot products unless said otherwise; for exact checks, the number
// of mismatches). Lines starting with "info" describe the build. Exit status 1 if any check failed.
// A skip means the build has no kernel for that path (e.g. moe_dot_q8_tokens returned -1); the
// script decides per target which skips are allowed.
//
// Compile this file without -ffast-math and with -ffp-contract=off: several references emulate f32
// arithmetic exactly.
#include "MoEKernelsC.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// Reporting

static int n_ok, n_fail, n_skip;

static void vname(char *buf, size_t size, const char *fmt, va_list ap) { vsnprintf(buf, size, fmt, ap); }

// One check: `err` (its maximum error) against `tol`; `detail` (may be empty) says where the worst
// or first failing case was.
static void result(double err, double tol, const char *detail, const char *fmt, ...) {
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vname(name, sizeof name, fmt, ap);
    va_end(ap);
    int pass = err <= tol;   // NaN fails
    if (pass) n_ok++; else n_fail++;
    printf("%-4s %-52s err %-10.3g tol %-8.3g%s%s\n", pass ? "ok" : "FAIL", name, err, tol, pass || !detail[0] ? "" : "  ",
           pass ? "" : detail);
}

static void skipped(const char *why, const char *fmt, ...) {
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vname(name, sizeof name, fmt, ap);
    va_end(ap);
    n_skip++;
    printf("skip %-52s (%s)\n", name, why);
}

// Tracks the worst case of a group of comparisons.
typedef struct {
    double worst;
    char where[200];
} worst_t;

static void worst_init(worst_t *w) { w->worst = 0; w->where[0] = 0; }

static void worst_add(worst_t *w, double err, const char *fmt, ...) {
    if (isnan(w->worst)) return;   // keep the first NaN
    if (!(err <= w->worst)) {       // larger, or NaN
        w->worst = err;
        va_list ap;
        va_start(ap, fmt);
        vname(w->where, sizeof w->where, fmt, ap);
        va_end(ap);
    }
}

// |got - ref| relative to the magnitude of the sum's terms (an all-zero sum must come out exact).
static double rel_err(double got, double ref, double mag) { return fabs(got - ref) / (mag > 0 ? mag : 1e-300); }

// ---------------------------------------------------------------------------------------------
// Numbers, written from the IEEE 754 definitions (not from the kernels)

static float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// Round a non-negative double to the nearest integer, ties to even (exact for |v| < 2^52).
static double rne(double v) {
    double f = floor(v), diff = v - f;
    if (diff > 0.5) return f + 1;
    if (diff < 0.5) return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}
static double rne_signed(double v) { return v < 0 ? -rne(-v) : rne(v); }

static double half_decode(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

// f32 -> IEEE half bits, round to nearest even, subnormals kept, overflow to infinity.
static uint16_t half_encode(float f) {
    uint16_t sign = (f32_bits(f) >> 16) & 0x8000;
    double a = fabs((double)f);
    if (isnan(f)) return sign | 0x7E00;
    if (a >= 65520.0) return sign | 0x7C00;                 // halfway between 65504 and 2^16 rounds up (even)
    if (a < ldexp(1, -14)) return sign | (uint16_t)rne(ldexp(a, 24));   // may round up to the smallest normal
    int e;
    double m = frexp(a, &e);                                 // a = m·2^e, m in [0.5, 1)
    double mant = rne(ldexp(m, 11)) - 1024;                  // 10 fraction bits
    e -= 1;
    if (mant == 1024) { mant = 0; e++; }
    if (e > 15) return sign | 0x7C00;
    return sign | (uint16_t)((e + 15) << 10) | (uint16_t)mant;
}
static float half_round(float f) { return (float)half_decode(half_encode(f)); }

static double bf16_decode(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

// f32 -> bf16 as the header specifies: nearest even, NaN a quiet NaN, subnormals to signed zero.
// The two candidates are compared in double (exact for f32 inputs).
static uint16_t bf16_encode(float f) {
    uint32_t u = f32_bits(f);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40);
    if ((u & 0x7F800000) == 0) return (uint16_t)((u >> 16) & 0x8000);
    if (isinf(f)) return (uint16_t)(u >> 16);
    uint32_t lo = u & 0xFFFF0000u, hi = lo + 0x10000u;      // hi may be the infinity pattern
    double a = fabs((double)f), vlo = fabs((double)f32_from_bits(lo));
    double vhi = (hi & 0x7FFFFFFF) == 0x7F800000 ? ldexp(1, 128) : fabs((double)f32_from_bits(hi));
    double dlo = a - vlo, dhi = vhi - a;
    uint32_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (((lo >> 16) & 1) ? hi : lo);
    return (uint16_t)(pick >> 16);
}

// Deterministic pseudo-random numbers (splitmix64).
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s; }
static uint64_t rng_u64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
// Uniform in [-1, 1), 24 bits.
static float rng_f(void) { return (float)((int32_t)(rng_u64() >> 40) - (1 << 23)) / (float)(1 << 23); }

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

// ---------------------------------------------------------------------------------------------
// The oracle data (make_vectors.py)

enum { NTYPES = 11 };
typedef struct {
    int code;
    const char *name;
    int block, bytes;    // elements and bytes per block
    uint8_t *raw;        // rows × rowBytes
    float *deq;          // rows × cols, gguf's dequantisation
} qtype;

static qtype types[NTYPES] = {
    {2, "Q4_0", 32, 18, 0, 0},   {3, "Q4_1", 32, 20, 0, 0},   {6, "Q5_0", 32, 22, 0, 0},   {7, "Q5_1", 32, 24, 0, 0},
    {8, "Q8_0", 32, 34, 0, 0},   {10, "Q2_K", 256, 84, 0, 0}, {11, "Q3_K", 256, 110, 0, 0}, {12, "Q4_K", 256, 144, 0, 0},
    {13, "Q5_K", 256, 176, 0, 0}, {14, "Q6_K", 256, 210, 0, 0}, {39, "MXFP4", 32, 17, 0, 0},
};
static int vrows, vcols;
static float *vinput;
static float e4m3[256];

static qtype *type_by_code(int code) {
    for (int i = 0; i < NTYPES; i++)
        if (types[i].code == code) return &types[i];
    return 0;
}
static long row_bytes(const qtype *t, long n) { return n / t->block * t->bytes; }

static uint32_t rd32(FILE *f) {
    uint8_t b[4];
    if (fread(b, 1, 4, f) != 4) { fprintf(stderr, "vectors file truncated\n"); exit(2); }
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static void rdf32(FILE *f, float *dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = f32_from_bits(rd32(f));
}

// Named blobs of llama.cpp's own tensors (the "LLCP" section; see make_vectors.py).
typedef struct {
    char name[48];
    uint32_t size;
    uint8_t *data;
} blob_t;
enum { MAX_BLOBS = 128 };
static blob_t blobs[MAX_BLOBS];
static int n_blobs;

// The blob `name`, or NULL.
static blob_t *blob_find(const char *name) {
    for (int i = 0; i < n_blobs; i++)
        if (strcmp(blobs[i].name, name) == 0) return &blobs[i];
    return NULL;
}

// The blob `name`, which must exist and hold `size` bytes (0: any; its size goes to *got).
static void *blob(const char *name, uint32_t size, uint32_t *got) {
    blob_t *b = blob_find(name);
    if (!b) { fprintf(stderr, "vectors: no blob %s\n", name); exit(2); }
    if (size && b->size != size) { fprintf(stderr, "vectors: blob %s has %u bytes, not %u\n", name, b->size, size); exit(2); }
    if (got) *got = b->size;
    return b->data;
}

static void load_vectors(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    char magic[4];
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "MKCK", 4) != 0 || rd32(f) != 1) {
        fprintf(stderr, "%s: not a version-1 vectors file\n", path);
        exit(2);
    }
    vrows = (int)rd32(f);
    vcols = (int)rd32(f);
    vinput = xmalloc(sizeof(float) * vrows * vcols);
    rdf32(f, vinput, (long)vrows * vcols);
    uint32_t nt = rd32(f);
    for (uint32_t i = 0; i < nt; i++) {
        int code = (int)rd32(f);
        uint32_t nbytes = rd32(f);
        qtype *t = type_by_code(code);
        if (!t || nbytes != (uint32_t)(vrows * row_bytes(t, vcols))) {
            fprintf(stderr, "vectors: unexpected type %d or size %u\n", code, nbytes);
            exit(2);
        }
        t->raw = xmalloc(nbytes);
        if (fread(t->raw, 1, nbytes, f) != nbytes) { fprintf(stderr, "vectors file truncated\n"); exit(2); }
        t->deq = xmalloc(sizeof(float) * vrows * vcols);
        rdf32(f, t->deq, (long)vrows * vcols);
    }
    if (rd32(f) != 256) { fprintf(stderr, "vectors: bad e4m3 table\n"); exit(2); }
    rdf32(f, e4m3, 256);
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "LLCP", 4) != 0) { fprintf(stderr, "vectors: no llama.cpp section\n"); exit(2); }
    for (uint32_t len; (len = rd32(f)) != 0;) {
        if (n_blobs == MAX_BLOBS || len >= sizeof blobs[0].name) { fprintf(stderr, "vectors: too many or too long blob names\n"); exit(2); }
        blob_t *b = &blobs[n_blobs++];
        if (fread(b->name, 1, len, f) != len) { fprintf(stderr, "vectors file truncated\n"); exit(2); }
        b->name[len] = 0;
        b->size = rd32(f);
        b->data = xmalloc(b->size ? b->size : 1);
        if (fread(b->data, 1, b->size, f) != b->size) { fprintf(stderr, "vectors file truncated\n"); exit(2); }
    }
    fclose(f);
    for (int i = 0; i < NTYPES; i++)
        if (!types[i].raw) { fprintf(stderr, "vectors: type %s missing\n", types[i].name); exit(2); }
}

// ---------------------------------------------------------------------------------------------
// Activation quantisation, llama.cpp's semantics written independently (ggml quantize_row_q8_0 /
// _q8_1 / _q8_K as q8.c documents them), into q8.c's row layout:
//     int8 q[n] | float d[n/32] | float s[n/32] | float h[n/16]
// Q8_0 / Q8_1: per 32, amax = max|x|, q = rne(x · fl(127/amax)) (llama.cpp's AVX2 form), d = f16(amax/127);
//   s = d·Σq (Q8_0) or f16(fl(amax/127)·Σq) (Q8_1: from the unrounded d); h = d · Σq per half of 16.
// Q8_K: per 256, m = the first x of largest |x|, iscale = fl(-127/m), q = min(127, rne(fl(iscale·x))),
//   d = fl(1/iscale) for all eight blocks; s, h = d · the sums. All-zero blocks: d = 0, q = 0.
// Every f32 operation here is a single correctly rounded one, emulated as a double operation rounded
// to f32 (exact: double has more than 2·24+2 bits).

static long act_bytes(long n) { return n + n / 32 * 16; }

static int kind_of(int code) {
    switch (code) {
    case 3: case 7: return MOE_ACT_Q8_1;
    case 10: case 11: case 12: case 13: case 14: return MOE_ACT_Q8_K;
    default: return MOE_ACT_Q8_0;
    }
}

static void ref_quantize(const float *x, long n, uint8_t *buf, int kind) {
    int8_t *q = (int8_t *)buf;
    long nb = n / 32;
    float *d = (float *)(buf + n), *s = d + nb, *h = s + nb;
    if (kind == MOE_ACT_Q8_K) {
        for (long sb = 0; sb < n / 256; sb++) {
            const float *xb = x + sb * 256;
            float amax = 0, m = 0;
            for (int j = 0; j < 256; j++)
                if (fabsf(xb[j]) > amax) { amax = fabsf(xb[j]); m = xb[j]; }
            float iscale = amax > 0 ? (float)(-127.0 / (double)m) : 0.0f;
            float db = amax > 0 ? (float)(1.0 / (double)iscale) : 0.0f;
            for (int b = 0; b < 8; b++) {
                int lo = 0, hi = 0;
                for (int j = 0; j < 32; j++) {
                    double v = rne_signed((double)(float)((double)iscale * (double)xb[32 * b + j]));
                    int qi = v > 127 ? 127 : (int)v;
                    q[sb * 256 + 32 * b + j] = (int8_t)qi;
                    if (j < 16) lo += qi; else hi += qi;
                }
                long bi = sb * 8 + b;
                d[bi] = db;
                s[bi] = (float)((double)db * (lo + hi));
                h[2 * bi] = (float)((double)db * lo);
                h[2 * bi + 1] = (float)((double)db * hi);
            }
        }
        return;
    }
    for (long b = 0; b < nb; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fabsf(xb[j]) > amax ? fabsf(xb[j]) : amax;
        float id = amax != 0 ? (float)(127.0 / (double)amax) : 0.0f;
        int lo = 0, hi = 0;
        for (int j = 0; j < 32; j++) {
            double v = rne_signed((double)(float)((double)xb[j] * (double)id));
            int qi = v > 127 ? 127 : v < -127 ? -127 : (int)v;
            q[32 * b + j] = (int8_t)qi;
            if (j < 16) lo += qi; else hi += qi;
        }
        float dunr = (float)((double)amax / 127.0), dr = half_round(dunr);
        d[b] = dr;
        s[b] = kind == MOE_ACT_Q8_1 ? half_round((float)((double)dunr * (lo + hi))) : (float)((double)dr * (lo + hi));
        h[2 * b] = (float)((double)dr * lo);
        h[2 * b + 1] = (float)((double)dr * hi);
    }
}

// Number of differences between two activation rows (q bytes and the d, s, h floats, compared as
// values; the first one described in `where`).
static long act_diff(const uint8_t *a, const uint8_t *b, long n, char *where, size_t wsize) {
    long diffs = 0, nb = n / 32;
    where[0] = 0;
    for (long i = 0; i < n; i++)
        if (a[i] != b[i]) {
            if (!diffs++) snprintf(where, wsize, "q[%ld] = %d, want %d", i, (int8_t)a[i], (int8_t)b[i]);
        }
    const float *fa = (const float *)(a + n), *fb = (const float *)(b + n);
    static const char *part[] = {"d", "s", "h"};
    for (long i = 0; i < 4 * nb; i++) {
        if (fa[i] != fb[i] && !(isnan(fa[i]) && isnan(fb[i]))) {
            int p = i < nb ? 0 : i < 2 * nb ? 1 : 2;
            long k = p == 0 ? i : p == 1 ? i - nb : i - 2 * nb;
            if (!diffs++) snprintf(where, wsize, "%s[%ld] = %.9g, want %.9g", part[p], k, fa[i], fb[i]);
        }
    }
    return diffs;
}

// The activation values the integer kernels multiply: d·q per block of 32.
static void act_values(const uint8_t *act, long n, double *xhat) {
    const int8_t *q = (const int8_t *)act;
    const float *d = (const float *)(act + n);
    for (long i = 0; i < n; i++) xhat[i] = (double)d[i / 32] * q[i];
}

// Σ deq(w)·x̂ for one weight row, plus Q8_1's correction: llama.cpp multiplies a block's minimum
// (the f16 at byte 2 of Q4_1 / Q5_1 blocks) by s = f16(d_unrounded·Σq), not by Σ x̂.
static void ref_q8_dot(const qtype *t, const uint8_t *wrow, const float *deq, long n, const uint8_t *act, double *ref, double *mag) {
    double *xh = xmalloc(sizeof(double) * n);
    act_values(act, n, xh);
    double s = 0, m = 0;
    for (long i = 0; i < n; i++) { double p = (double)deq[i] * xh[i]; s += p; m += fabs(p); }
    if (kind_of(t->code) == MOE_ACT_Q8_1) {
        const int8_t *q = (const int8_t *)act;
        const float *d = (const float *)(act + n), *sb = d + n / 32;
        for (long b = 0; b < n / 32; b++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += q[32 * b + j];
            uint16_t mh = (uint16_t)(wrow[b * t->bytes + 2] | wrow[b * t->bytes + 3] << 8);
            s += half_decode(mh) * ((double)sb[b] - (double)d[b] * sum);
            // The kernel's minimum term is m·s itself: with a d that f16 rounds to 0, s alone is non-zero.
            m += fabs(half_decode(mh) * sb[b]);
        }
    }
    free(xh);
    *ref = s;
    *mag = m;
}

// ---------------------------------------------------------------------------------------------
// Activation test rows: random values at various scales, with all-zero blocks, ties, and the
// oracle's input rows.

// `rows` rows of n floats; row r has its own character (see the switch).
static float *make_activations(long n, int rows, uint64_t seed) {
    float *x = xmalloc(sizeof(float) * n * rows);
    rng_seed(seed);
    static const float scales[] = {1.0f, 0.01f, 40.0f, 3e-4f, 1e-6f, 7.5f, 1200.0f, 0.2f, 2.0f};
    for (int r = 0; r < rows; r++) {
        float *xr = x + r * n;
        for (long i = 0; i < n; i++) xr[i] = rng_f() * scales[r % 9];
        switch (r % 9) {
        case 1: memset(xr + 32, 0, 32 * sizeof(float)); break;             // one all-zero block
        case 2: if (n >= 512) memset(xr + 256, 0, 256 * sizeof(float)); break;   // an all-zero super-block
        case 5: for (long i = 0; i < n; i += 7) xr[i] = -xr[i] * 3; break;   // outliers
        default: break;
        }
    }
    return x;
}

// Rows that exercise the quantisers' rounding: ties at x·127/amax = k + 1/2 (amax = 127, so the
// multiplier is exactly 1), both signs of the extreme in either order, an all-zero block and
// super-block, and f16-subnormal and tiny scales.
static float *make_quant_rows(long n, int *nrows) {
    enum { R = 8 };
    float *x = xmalloc(sizeof(float) * n * R);
    rng_seed(1234);
    for (int r = 0; r < R; r++)
        for (long i = 0; i < n; i++) x[r * n + i] = rng_f();
    float *t = x;
    // Row 0: every block of 32 has amax 127 (Q8_0/Q8_1 multiplier 1.0) and halves: 0.5, -0.5, 2.5, -3.5, ...
    for (long b = 0; b < n / 32; b++) {
        t[32 * b] = (b & 1) ? -127.0f : 127.0f;
        for (int j = 1; j < 32; j++) t[32 * b + j] = (float)((j % 9) - 4) + ((j & 1) ? 0.5f : -0.5f);
    }
    // Row 1: super-blocks whose extreme is -127 (Q8_K iscale exactly 1) and then +127 (iscale -1), with halves.
    t = x + n;
    for (long sb = 0; sb < n / 256; sb++) {
        for (int j = 0; j < 256; j++) t[256 * sb + j] = (float)((j % 11) - 5) + 0.5f;
        t[256 * sb + 3] = (sb & 1) ? 127.0f : -127.0f;
    }
    // Row 2: +M and -M in the same block / super-block: which comes first decides Q8_K's sign.
    t = x + 2 * n;
    for (long b = 0; b < n / 32; b++) {
        t[32 * b + 5] = (b & 1) ? 3.0f : -3.0f;
        t[32 * b + 20] = (b & 1) ? -3.0f : 3.0f;
    }
    // Row 3: all-zero block (0..31) and all-zero super-block (256..511), the rest tiny.
    t = x + 3 * n;
    for (long i = 0; i < n; i++) t[i] *= 1e-30f;
    memset(t, 0, 32 * sizeof(float));
    if (n >= 512) memset(t + 256, 0, 256 * sizeof(float));
    // Row 4: f16-subnormal scales (amax/127 below 2^-14) and one f16-underflowing block.
    t = x + 4 * n;
    for (long i = 0; i < n; i++) t[i] *= 1e-4f;
    for (int j = 0; j < 32; j++) t[64 + j] *= 1e-5f;
    // Row 5: a single non-zero per block; row 6: large values; row 7: negative zeros between values so
    // small that d = amax/127 underflows f16 to 0 while 127/amax is still finite (q non-zero, d zero).
    t = x + 5 * n;
    for (long i = 0; i < n; i++) t[i] = (i % 32 == 17) ? -2.75f : 0.0f;
    t = x + 6 * n;
    for (long i = 0; i < n; i++) t[i] *= 3e4f;
    t = x + 7 * n;
    for (long i = 0; i < n; i++) t[i] = (i & 1) ? -0.0f : t[i] * 1e-36f;
    *nrows = R;
    return x;
}

static const char *kind_name(int k) { return k == MOE_ACT_Q8_0 ? "Q8_0" : k == MOE_ACT_Q8_1 ? "Q8_1" : "Q8_K"; }

static void check_quantizers(void) {
    // The row size and the kind table.
    long bad = 0;
    for (long n = 32; n <= 4096; n += 32) bad += moe_q8_act_bytes(n) != act_bytes(n);
    result((double)bad, 0, "moe_q8_act_bytes(n) != n + n/32*16", "quant/act_bytes");
    bad = 0;
    char where[200] = "";
    for (int code = 0; code < 64; code++)
        if (moe_q8_act_kind(code) != kind_of(code)) {
            if (!bad++) snprintf(where, sizeof where, "type %d -> %d, want %d", code, moe_q8_act_kind(code), kind_of(code));
        }
    result((double)bad, 0, where, "quant/act_kind");

    const long n = 512;
    int nspecial;
    float *special = make_quant_rows(n, &nspecial);
    float *random = make_activations(n, 9, 99);
    uint8_t *got = xmalloc(act_bytes(n)), *want = xmalloc(act_bytes(n));
    for (int kind = 0; kind < 3; kind++) {
        // The oracle's input rows (magnitudes 0.02, 1, 30 and an all-zero block), the special rows, random rows.
        struct { const char *what; const float *x; int rows; } sets[] = {
            {"oracle", vinput, vrows}, {"special", special, nspecial}, {"random", random, 9}};
        for (int si = 0; si < 3; si++) {
            long diffs = 0;
            char first[240] = "";
            for (int r = 0; r < sets[si].rows; r++) {
                const float *x = sets[si].x + r * (sets[si].x == vinput ? vcols : n);
                memset(got, 0xA5, act_bytes(n));
                moe_quantize_q8_act(x, n, got, kind);
                ref_quantize(x, n, want, kind);
                char w[200];
                long d = act_diff(got, want, n, w, sizeof w);
                if (d && !diffs) snprintf(first, sizeof first, "row %d: %s", r, w);
                diffs += d;
            }
            result((double)diffs, 0, first, "quant/%s/%s", kind_name(kind), sets[si].what);
        }
        // A shorter row (one super-block for Q8_K, three blocks otherwise).
        long m = kind == MOE_ACT_Q8_K ? 256 : 96;
        moe_quantize_q8_act(random, m, got, kind);
        ref_quantize(random, m, want, kind);
        char w[200];
        result((double)act_diff(got, want, m, w, sizeof w), 0, w, "quant/%s/n%ld", kind_name(kind), m);
    }
    // moe_quantize_q8_rows: several rows, each with the kind of the weight type.
    for (int ti = 0; ti < NTYPES; ti++) {
        const int rows = 5;
        uint8_t *all = xmalloc(act_bytes(n) * rows);
        moe_quantize_q8_rows(random, n, rows, all, types[ti].code);
        long diffs = 0;
        char first[240] = "";
        for (int r = 0; r < rows; r++) {
            ref_quantize(random + r * n, n, want, kind_of(types[ti].code));
            char w[200];
            long d = act_diff(all + r * act_bytes(n), want, n, w, sizeof w);
            if (d && !diffs) snprintf(first, sizeof first, "row %d: %s", r, w);
            diffs += d;
        }
        result((double)diffs, 0, first, "quant/rows/%s", types[ti].name);
        free(all);
    }
    free(got);
    free(want);
    free(special);
    free(random);
}

// ---------------------------------------------------------------------------------------------
// Integer dot products (q8.c): every block type, 1..9 tokens, strides wider than a row.

static const int token_counts[] = {1, 2, 3, 4, 5, 8, 9};
enum { NTOKCOUNTS = sizeof token_counts / sizeof token_counts[0], MAXTOK = 9 };

// Tolerance for the integer kernels: the integer sums are exact; what rounds is one f32 scale
// product per block, the conversion and fused multiply-add per block, the offset/minimum terms
// and the final sum, a few dozen roundings of 2^-24 for a 512-wide row. Relative to Σ|terms|.
static const double TOL_Q8 = 1e-5;

// Activations quantised by the reference for `kind`, MAXTOK rows `astride` bytes apart.
static uint8_t *quantized_tokens(const float *x, long n, int kind, long astride) {
    uint8_t *act = xmalloc((size_t)astride * MAXTOK);
    memset(act, 0x5A, (size_t)astride * MAXTOK);
    for (int t = 0; t < MAXTOK; t++) ref_quantize(x + t * n, n, act + t * astride, kind);
    return act;
}

static void check_q8_dots(void) {
    int any = 0;
    for (int ti = 0; ti < NTYPES; ti++) {
        const qtype *t = &types[ti];
        long sizes[2] = {vcols, t->block == 256 ? 256 : 96};
        for (int si = 0; si < 2; si++) {
            long n = sizes[si];
            float *x = make_activations(n, MAXTOK, 500 + ti);
            int kind = kind_of(t->code);
            // Strides: packed rows, and rows with 48 spare bytes; outputs 1 or 3 floats apart.
            for (int layout = 0; layout < 2; layout++) {
                long astride = act_bytes(n) + (layout ? 48 : 0), ostride = layout ? 3 : 1;
                uint8_t *act = quantized_tokens(x, n, kind, astride);
                worst_t w;
                worst_init(&w);
                int unsupported = 0;
                float *out = xmalloc(sizeof(float) * MAXTOK * ostride);
                for (int r = 0; r < vrows && !unsupported; r++) {
                    const uint8_t *wrow = t->raw + r * row_bytes(t, vcols);
                    const float *deq = t->deq + r * vcols;
                    for (int k = 0; k < NTOKCOUNTS; k++) {
                        int nt = token_counts[k];
                        for (long i = 0; i < MAXTOK * ostride; i++) out[i] = -7.0f;
                        if (moe_dot_q8_tokens(t->code, wrow, n, act, astride, out, ostride, nt) != 0) { unsupported = 1; break; }
                        for (int tk = 0; tk < nt; tk++) {
                            double ref, mag;
                            ref_q8_dot(t, wrow, deq, n, act + tk * astride, &ref, &mag);
                            double got = out[tk * ostride];
                            worst_add(&w, rel_err(got, ref, mag), "row %d tokens %d [%d]: %.9g vs %.9g (Σ|terms| %.3g)", r, nt, tk,
                                      got, ref, mag);
                        }
                        // Nothing written between or after the outputs.
                        for (long i = 0; i < MAXTOK * ostride; i++)
                            if ((i % ostride != 0 || i / ostride >= nt) && out[i] != -7.0f)
                                worst_add(&w, INFINITY, "tokens %d wrote out[%ld]", nt, i);
                    }
                }
                if (unsupported) skipped("moe_dot_q8_tokens returned -1: no integer kernel in this build", "q8dot/%s/n%ld/%s", t->name, n,
                                         layout ? "strided" : "packed");
                else {
                    any = 1;
                    result(w.worst, TOL_Q8, w.where, "q8dot/%s/n%ld/%s", t->name, n, layout ? "strided" : "packed");
                }
                free(out);
                free(act);
            }
            free(x);
        }
    }
    // The header: 1 when the integer kernels were compiled, otherwise callers dequantise.
    result(moe_q8_supported() == any ? 0 : 1, 0, "moe_q8_supported() disagrees with whether moe_dot_q8_tokens has kernels",
           "q8dot/supported_flag");
    float o = 0;
    uint8_t dummy[1024] = {0};
    result(moe_dot_q8_tokens(0, dummy, 32, dummy, 0, &o, 1, 1) == -1 && moe_dot_q8_tokens(30, dummy, 32, dummy, 0, &o, 1, 1) == -1 ? 0 : 1,
           0, "F32/BF16 must return -1", "q8dot/unknown_type");
}

// ---------------------------------------------------------------------------------------------
// Eight-row repacked kernels (x8.c)

// Eight rows of type t, `rb` bytes apart (rb >= the row's bytes), built from the oracle's blocks:
// block b of row r is block (b + r) of oracle row (r + b) % 3, so every block's dequantised values
// are gguf's. Their dequantised values go to deq (8 × n).
static uint8_t *eight_rows(const qtype *t, long n, long rb, float *deq) {
    uint8_t *w = xmalloc((size_t)rb * 8);
    memset(w, 0xEE, (size_t)rb * 8);
    long nb = n / t->block, onb = vcols / t->block;
    for (int r = 0; r < 8; r++)
        for (long b = 0; b < nb; b++) {
            int orow = (int)((r + b) % vrows);
            long ob = (b + r) % onb;
            memcpy(w + r * rb + b * t->bytes, t->raw + orow * row_bytes(t, vcols) + ob * t->bytes, (size_t)t->bytes);
            memcpy(deq + r * n + b * t->block, t->deq + orow * vcols + ob * t->block, sizeof(float) * t->block);
        }
    return w;
}

static void check_x8(void) {
    // Which types have a packed form, and the sizes the header gives.
    long bad = 0;
    char where[200] = "";
    for (int ti = 0; ti < NTYPES; ti++) {
        const qtype *t = &types[ti];
        int packs = t->code == 2 || t->code == 3 || t->code == 6 || t->code == 7 || t->code == 8 || t->code == 12;
        long want = !packs ? 0 : t->code == 12 ? 1184 : 8 * t->bytes;
        long rb = t->code == 12 ? 256 : 32;
        if (moe_x8_block_bytes(t->code) != want || (packs && moe_x8_row_block(t->code) != rb)) {
            if (!bad++) snprintf(where, sizeof where, "%s: block bytes %ld (want %ld), row block %ld", t->name, moe_x8_block_bytes(t->code), want,
                                 moe_x8_row_block(t->code));
        }
        if (!packs) {
            uint8_t src[8 * 512], dst[8 * 512];
            memset(src, 0, sizeof src);
            if (moe_x8_pack(t->code, src, row_bytes(t, 256), 256, dst) != -1) {
                if (!bad++) snprintf(where, sizeof where, "moe_x8_pack(%s) did not return -1", t->name);
            }
        }
    }
    result((double)bad, 0, where, "x8/block_bytes");

    const int vnni = moe_has_vnni();
    for (int ti = 0; ti < NTYPES; ti++) {
        const qtype *t = &types[ti];
        long bb = moe_x8_block_bytes(t->code);
        if (bb <= 0) continue;
        const long n = vcols, rb = row_bytes(t, n) + 40;   // rows with spare bytes between them
        float *deq = xmalloc(sizeof(float) * 8 * n);
        uint8_t *w = eight_rows(t, n, rb, deq);
        long packed_bytes = n / moe_x8_row_block(t->code) * bb;
        uint8_t *p = xmalloc((size_t)packed_bytes + 64);
        memset(p, 0xCC, (size_t)packed_bytes + 64);
        int pr = moe_x8_pack(t->code, w, rb, n, p);
        int overrun = 0;
        for (int i = 0; i < 64; i++) overrun |= p[packed_bytes + i] != 0xCC;
        result(pr == 0 && !overrun ? 0 : 1, 0, pr ? "moe_x8_pack returned non-zero" : "wrote past the packed size", "x8/pack/%s", t->name);

        int kind = kind_of(t->code);
        float *x = make_activations(n, MAXTOK, 700 + ti);
        const long astride = act_bytes(n) + 32, ostride = 11;
        uint8_t *act = quantized_tokens(x, n, kind, astride);
        float *out[2], *plain = xmalloc(sizeof(float) * MAXTOK * 8);
        out[0] = xmalloc(sizeof(float) * MAXTOK * ostride);
        out[1] = xmalloc(sizeof(float) * MAXTOK * ostride);
        // Variant 0: moe_dot_q8_x8_tokens_with(0); 1: with(1); 2: moe_dot_q8_x8_tokens.
        for (int variant = 0; variant < 3; variant++) {
            worst_t wr, wp;
            worst_init(&wr);
            worst_init(&wp);
            int unsupported = 0, compared_plain = 0;
            for (int k = 0; k < NTOKCOUNTS && !unsupported; k++) {
                int nt = token_counts[k];
                float *o = out[variant == 1];
                for (long i = 0; i < MAXTOK * ostride; i++) o[i] = -7.0f;
                int rc = variant == 2 ? moe_dot_q8_x8_tokens(t->code, p, n, act, astride, o, ostride, nt)
                                      : moe_dot_q8_x8_tokens_with(variant, t->code, p, n, act, astride, o, ostride, nt);
                if (rc != 0) { unsupported = 1; break; }
                for (int r = 0; r < 8; r++) {
                    // The unpacked kernel on the same row, when this build has it.
                    int have_plain = moe_dot_q8_tokens(t->code, w + r * rb, n, act, astride, plain, 1, nt) == 0;
                    for (int tk = 0; tk < nt; tk++) {
                        double ref, mag;
                        ref_q8_dot(t, w + r * rb, deq + r * n, n, act + tk * astride, &ref, &mag);
                        double got = o[tk * ostride + r];
                        worst_add(&wr, rel_err(got, ref, mag), "tokens %d [%d] row %d: %.9g vs %.9g", nt, tk, r, got, ref);
                        if (have_plain) {
                            compared_plain = 1;
                            worst_add(&wp, rel_err(got, plain[tk], mag), "tokens %d [%d] row %d: %.9g vs unpacked %.9g", nt, tk, r, got,
                                      (double)plain[tk]);
                        }
                    }
                }
                for (long i = 0; i < MAXTOK * ostride; i++)
                    if ((i % ostride >= 8 || i / ostride >= nt) && o[i] != -7.0f) worst_add(&wr, INFINITY, "tokens %d wrote out[%ld]", nt, i);
            }
            const char *vn = variant == 0 ? "with0" : variant == 1 ? "with1" : "auto";
            if (unsupported) {
                skipped("the x8 kernel returned -1: no eight-row kernel in this build", "x8/dot/%s/%s", t->name, vn);
                continue;
            }
            result(wr.worst, TOL_Q8, wr.where, "x8/dot/%s/%s", t->name, vn);
            if (compared_plain) result(wp.worst, TOL_Q8, wp.where, "x8/vs_unpacked/%s/%s", t->name, vn);
        }
        // VNNI against AVX2, bit for bit (x86 with AVX-512 VNNI only).
        if (vnni) {
            long diffs = 0, unsupported = 0;
            for (int k = 0; k < NTOKCOUNTS; k++) {
                int nt = token_counts[k];
                unsupported |= moe_dot_q8_x8_tokens_with(0, t->code, p, n, act, astride, out[0], ostride, nt);
                unsupported |= moe_dot_q8_x8_tokens_with(1, t->code, p, n, act, astride, out[1], ostride, nt);
                for (int tk = 0; tk < nt; tk++)
                    for (int r = 0; r < 8; r++) diffs += f32_bits(out[0][tk * ostride + r]) != f32_bits(out[1][tk * ostride + r]);
            }
            if (unsupported) skipped("x8 kernel returned -1", "x8/vnni_equals_avx2/%s", t->name);
            else result((double)diffs, 0, "results differ", "x8/vnni_equals_avx2/%s", t->name);
        }
        free(out[0]);
        free(out[1]);
        free(plain);
        free(act);
        free(x);
        free(p);
        free(w);
        free(deq);
    }
    if (!vnni) skipped("moe_has_vnni() is 0 on this CPU/build", "x8/vnni_equals_avx2");
}

// ---------------------------------------------------------------------------------------------
// Block dots with f32 activations (quant.c)

// f32 accumulation over a 512-wide row: a product and an add per element (or a fused one), summed in
// vectors and then across; statistically ~1e-7 of Σ|terms|, bounded here at 1e-5 (the worst case of a
// plain sequential sum of 512 terms is 512·2^-24 = 3e-5).
static const double TOL_F32 = 1e-5;

static void check_f32_block_dots(void) {
    int codes[3] = {2, 3, 8};
    for (int ci = 0; ci < 3; ci++) {
        const qtype *t = type_by_code(codes[ci]);
        const long xstride = vcols + 13, ostride = 2;
        float *x = make_activations(xstride, MAXTOK, 900 + ci);
        // One row at a time: every whole-row length and a few shorter ones.
        worst_t w;
        worst_init(&w);
        long lens[] = {1, 3, 16};
        for (int r = 0; r < vrows; r++)
            for (int li = 0; li < 3; li++)
                for (int tk = 0; tk < MAXTOK; tk++) {
                    long blocks = lens[li];
                    const uint8_t *wr = t->raw + r * row_bytes(t, vcols);
                    const float *xt = x + tk * xstride;
                    float got = codes[ci] == 2 ? moe_dot_q4_0_f32(wr, xt, blocks) : codes[ci] == 3 ? moe_dot_q4_1_f32(wr, xt, blocks)
                                                                                                  : moe_dot_q8_0_f32(wr, xt, blocks);
                    double ref = 0, mag = 0;
                    for (long i = 0; i < blocks * 32; i++) {
                        double pr = (double)t->deq[r * vcols + i] * xt[i];
                        ref += pr;
                        mag += fabs(pr);
                    }
                    worst_add(&w, rel_err(got, ref, mag), "row %d blocks %ld x%d: %.9g vs %.9g", r, blocks, tk, (double)got, ref);
                }
        result(w.worst, TOL_F32, w.where, "f32dot/%s", t->name);
        // Several tokens.
        worst_init(&w);
        float out[MAXTOK * 2];
        for (int r = 0; r < vrows; r++)
            for (int k = 0; k < NTOKCOUNTS; k++) {
                int nt = token_counts[k];
                const uint8_t *wr = t->raw + r * row_bytes(t, vcols);
                long blocks = vcols / 32;
                for (int i = 0; i < MAXTOK * 2; i++) out[i] = -7.0f;
                if (codes[ci] == 2) moe_dot_q4_0_f32_tokens(wr, x, xstride, out, ostride, nt, blocks);
                else if (codes[ci] == 3) moe_dot_q4_1_f32_tokens(wr, x, xstride, out, ostride, nt, blocks);
                else moe_dot_q8_0_f32_tokens(wr, x, xstride, out, ostride, nt, blocks);
                for (int tk = 0; tk < nt; tk++) {
                    double ref = 0, mag = 0;
                    for (long i = 0; i < vcols; i++) {
                        double pr = (double)t->deq[r * vcols + i] * x[tk * xstride + i];
                        ref += pr;
                        mag += fabs(pr);
                    }
                    worst_add(&w, rel_err(out[tk * ostride], ref, mag), "row %d tokens %d [%d]: %.9g vs %.9g", r, nt, tk,
                              (double)out[tk * ostride], ref);
                }
                for (int i = 0; i < MAXTOK * 2; i++)
                    if ((i % 2 || i / 2 >= nt) && out[i] != -7.0f) worst_add(&w, INFINITY, "tokens %d wrote out[%d]", nt, i);
            }
        result(w.worst, TOL_F32, w.where, "f32dot_tokens/%s", t->name);
        free(x);
    }
}

// ---------------------------------------------------------------------------------------------
// F32 / F16 / BF16 weights × f32 (wide.c)

static void encode_wide(int type, const float *v, long n, uint8_t *dst) {
    for (long i = 0; i < n; i++) {
        if (type == 0) memcpy(dst + 4 * i, &v[i], 4);
        else {
            uint16_t h = type == 1 ? half_encode(v[i]) : bf16_encode(v[i]);
            dst[2 * i] = (uint8_t)h;
            dst[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
}
static double decode_wide(int type, const uint8_t *p, long i) {
    if (type == 0) { float f; memcpy(&f, p + 4 * i, 4); return f; }
    uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    return type == 1 ? half_decode(h) : bf16_decode(h);
}

// A matrix and activations as the row kernels (wide.c, bf16act.c, fp8.c) see them, for the references.
enum { MAT_FP8 = 100 };   // besides the GGML codes 0 (F32), 1 (F16), 30 (BF16)
typedef struct {
    int type;
    const uint8_t *w;
    long rowBytes, cols;
    const float *scales;   // FP8: row r, column c scaled by scales[((firstRow + r) / blockRows) * scaleCols + c / blockCols]
    long scaleCols, blockRows, blockCols, firstRow;
    const float *xf;       // f32 activations, or
    const uint16_t *xb;    // bf16 ones
    long xstride;
} matref;

static double mat_value(const matref *m, long r, long c) {
    if (m->type != MAT_FP8) return decode_wide(m->type, m->w + r * m->rowBytes, c);
    return (double)e4m3[m->w[r * m->rowBytes + c]] * m->scales[((m->firstRow + r) / m->blockRows) * m->scaleCols + c / m->blockCols];
}

// y[t * ystride + r] for rows r0 ..< r1 and the first nt of `tokens` tokens against Σ_c w·x in double
// (relative to Σ|w·x|); every other float of the tokens × ystride block must still hold the -7 the
// caller filled it with.
static void compare_rows(worst_t *w, const matref *m, const float *y, long ystride, int tokens, int nt, long r0, long r1, int shape) {
    for (int tk = 0; tk < tokens; tk++)
        for (long r = 0; r < ystride; r++) {
            float got = y[tk * ystride + r];
            if (tk >= nt || r < r0 || r >= r1) {
                if (got != -7.0f) worst_add(w, INFINITY, "shape %d tokens %d wrote y[%d][%ld]", shape, nt, tk, r);
                continue;
            }
            double ref = 0, mag = 0;
            for (long c = 0; c < m->cols; c++) {
                double x = m->xb ? bf16_decode(m->xb[tk * m->xstride + c]) : (double)m->xf[tk * m->xstride + c];
                double pr = mat_value(m, r, c) * x;
                ref += pr;
                mag += fabs(pr);
            }
            worst_add(w, rel_err(got, ref, mag), "shape %d tokens %d [%d] row %ld: %.9g vs %.9g", shape, nt, tk, r, (double)got, ref);
        }
}

static void check_wide(void) {
    const int wtypes[3] = {0, 1, 30};
    const char *wnames[3] = {"F32", "F16", "BF16"};
    const int toks[] = {1, 2, 3, 4, 5, 17, 64, 70};
    // Row ranges of 35, 15 and 9 rows (four-row tiles and sixteen-row panels with leftovers), columns
    // that leave vector tails, rows with spare bytes between them.
    struct { long rows, cols, r0, r1, pad; } shapes[] = {{37, 45, 1, 36, 0}, {21, 203, 3, 18, 6}, {9, 16, 0, 9, 0}};
    for (int wi = 0; wi < 3; wi++) {
        int type = wtypes[wi];
        long es = type == 0 ? 4 : 2;
        for (int si = 0; si < 3; si++) {
            long rows = shapes[si].rows, cols = shapes[si].cols, r0 = shapes[si].r0, r1 = shapes[si].r1;
            long rowBytes = cols * es + shapes[si].pad * es;
            float *v = make_activations(rows * cols, 1, 70 + si);
            uint8_t *w = xmalloc((size_t)(rows * rowBytes));
            memset(w, 0x3C, (size_t)(rows * rowBytes));
            for (long r = 0; r < rows; r++) encode_wide(type, v + r * cols, cols, w + r * rowBytes);
            const long xstride = cols + 3, ystride = rows + 2;
            float *x = make_activations(70 * xstride, 1, 71 + si);
            float *y = xmalloc(sizeof(float) * 70 * ystride);
            matref m = {.type = type, .w = w, .rowBytes = rowBytes, .cols = cols, .xf = x, .xstride = xstride};
            worst_t wst;
            worst_init(&wst);
            int bad_rc = 0;
            for (unsigned k = 0; k < sizeof toks / sizeof toks[0]; k++) {
                int nt = toks[k];
                for (long i = 0; i < 70 * ystride; i++) y[i] = -7.0f;
                bad_rc |= moe_dot_wide_rows(type, w, cols, rowBytes, r0, r1, x, xstride, y, ystride, nt) != 0;
                compare_rows(&wst, &m, y, ystride, 70, nt, r0, r1, si);
            }
            // The Swift tests hold these sums to 1e-6 of Σ|terms|: f32 products (exact for BF16,
            // one rounding otherwise) summed in f32 over at most 203 columns.
            result(bad_rc ? INFINITY : wst.worst, 1e-6, bad_rc ? "returned non-zero" : wst.where, "wide/%s/%ldx%ld/r%ld-%ld", wnames[wi], rows,
                   cols, r0, r1);
            free(v);
            free(w);
            free(x);
            free(y);
        }
    }
    // Half subnormals, infinities and NaN widen as IEEE says, on vector and scalar paths.
    uint16_t halves[23] = {0x0001, 0x03FF, 0x8001, 0x7C00, 0xFC00, 0x3C00};
    for (int i = 6; i < 23; i++) halves[i] = 0x3C00;
    float ones[32], y = 0, y2 = 0, y3 = 0;
    for (int i = 0; i < 32; i++) ones[i] = 1;
    moe_dot_wide_rows(1, halves, 5, 0, 0, 1, ones, 0, &y, 0, 1);
    moe_dot_wide_rows(1, halves, 3, 0, 0, 1, ones, 0, &y2, 0, 1);
    moe_dot_wide_rows(1, halves + 5, 17, 0, 0, 1, ones, 0, &y3, 0, 1);
    float want2 = (float)(half_decode(0x0001) + half_decode(0x03FF) + half_decode(0x8001));
    result(isnan(y) && y2 == want2 && y3 == 17 ? 0 : 1, 0, "half specials", "wide/F16/specials");
    float out = 0;
    uint8_t zeros[64] = {0};
    result(moe_dot_wide_rows(8, zeros, 2, 2, 0, 1, ones, 2, &out, 1, 1) == -1 ? 0 : 1, 0, "type 8 must return -1", "wide/unknown_type");
}

// ---------------------------------------------------------------------------------------------
// bf16 rounding and the bf16-activation kernels (bf16act.c)

static int bf16_same(uint16_t got, uint16_t want) {
    if ((want & 0x7F80) == 0x7F80 && (want & 0x7F)) return (got & 0x7F80) == 0x7F80 && (got & 0x40) && (got & 0x8000) == (want & 0x8000);
    return got == want;
}

static void check_bf16_rounding(void) {
    enum { N = 40000 };
    float *x = xmalloc(sizeof(float) * N);
    uint32_t specials[] = {0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F808001,
                           0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                           0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
                           0x80800000, 0x00808000, 0x00FF8000, 0x477FE000, 0x40490FDB, 0xBB23D70A, 0x3F7FFFFF, 0x3F7F8000};
    int ns = sizeof specials / sizeof specials[0];
    rng_seed(77);
    for (int i = 0; i < N; i++) {
        uint32_t u = i < ns ? specials[i] : (uint32_t)rng_u64();
        if (i >= ns && i % 4 == 0) u = (u & 0xFFFF0000u) | 0x8000u;   // exact ties
        if (i >= ns && i % 4 == 1) u &= 0x807FFFFFu;                   // subnormals
        x[i] = f32_from_bits(u);
    }
    long bad = 0;
    char where[200] = "";
    for (int i = 0; i < N; i++) {
        uint16_t g = moe_f32_to_bf16(x[i]), want = bf16_encode(x[i]);
        if (!bf16_same(g, want) && !bad++) snprintf(where, sizeof where, "%08x -> %04x, want %04x", f32_bits(x[i]), g, want);
    }
    result((double)bad, 0, where, "bf16/scalar");
    // The rows form, at every offset of a vector and with a tail, must not write past n.
    uint16_t *out = xmalloc(sizeof(uint16_t) * (N + 8));
    bad = 0;
    for (int off = 0; off < 9; off++) {
        long n = N - 16 + off;
        for (long i = 0; i < n + 8; i++) out[i] = 0xBEEF;
        moe_f32_to_bf16_rows(x + off, n, out);
        for (long i = 0; i < n; i++) {
            uint16_t want = bf16_encode(x[off + i]);
            if (!bf16_same(out[i], want) && !bad++) snprintf(where, sizeof where, "offset %d [%ld] %08x -> %04x, want %04x", off, i, f32_bits(x[off + i]),
                                                               out[i], want);
        }
        for (long i = n; i < n + 8; i++)
            if (out[i] != 0xBEEF && !bad++) snprintf(where, sizeof where, "wrote past n = %ld", n);
    }
    result((double)bad, 0, where, "bf16/rows");
    free(out);
    free(x);
}

// A random e4m3 matrix without the NaN codes, and block scales.
static uint8_t *fp8_matrix(long rows, long rowBytes, uint64_t seed) {
    uint8_t *w = xmalloc((size_t)(rows * rowBytes));
    rng_seed(seed);
    for (long i = 0; i < rows * rowBytes; i++) {
        uint8_t b = (uint8_t)rng_u64();
        w[i] = (b & 0x7F) == 0x7F ? (uint8_t)(b - 1) : b;
    }
    return w;
}
static float *fp8_scales(long n, uint64_t seed) {
    float *s = xmalloc(sizeof(float) * n);
    rng_seed(seed);
    for (long i = 0; i < n; i++) s[i] = fabsf(rng_f()) / 100 + 1e-3f;
    return s;
}

typedef struct { long rows, cols, blockRows, blockCols, firstRow, r0, pad; } fp8_shape;
static const fp8_shape fp8_shapes[] = {
    {13, 300, 128, 128, 0, 1, 0}, {9, 700, 32, 48, 0, 1, 5}, {6, 64, 16, 16, 0, 0, 0},
    {11, 129, 128, 128, 0, 1, 0}, {12, 1000, 7, 33, 5, 2, 3}, {10, 45, 4, 16, 9, 3, 0},
};
enum { NFP8SHAPES = sizeof fp8_shapes / sizeof fp8_shapes[0] };

static void check_bf16act(void) {
    for (int isfp8 = 0; isfp8 < 2; isfp8++)
        for (int native = 0; native < 3; native++) {   // 0, 1: _with(native); 2: moe_dot_bf16act_rows
            worst_t w;
            worst_init(&w);
            for (int si = 0; si < NFP8SHAPES; si++) {
                fp8_shape sh = fp8_shapes[si];
                long rows = sh.rows, cols = sh.cols;
                long rowBytes = (isfp8 ? cols : 2 * cols) + sh.pad * (isfp8 ? 1 : 2);
                long scaleCols = (cols + sh.blockCols - 1) / sh.blockCols;
                long scaleRows = (sh.firstRow + rows + sh.blockRows - 1) / sh.blockRows;
                uint8_t *wt;
                if (isfp8) wt = fp8_matrix(rows, rowBytes, 40 + si);
                else {
                    float *v = make_activations(rows * cols, 1, 50 + si);
                    wt = xmalloc((size_t)(rows * rowBytes));
                    for (long r = 0; r < rows; r++) encode_wide(30, v + r * cols, cols, wt + r * rowBytes);
                    free(v);
                }
                float *scales = fp8_scales(scaleRows * scaleCols, 41 + si);
                const int tokens = 5;
                const long xstride = cols + 7, ystride = rows + 1;
                float *xf = make_activations(tokens * xstride, 1, 60 + si);
                uint16_t *xb = xmalloc(sizeof(uint16_t) * tokens * xstride);
                for (long i = 0; i < tokens * xstride; i++) xb[i] = bf16_encode(xf[i]);
                float *y = xmalloc(sizeof(float) * tokens * ystride);
                matref m = {isfp8 ? MAT_FP8 : 30, wt, rowBytes, cols, scales, scaleCols, sh.blockRows, sh.blockCols, sh.firstRow, 0, xb, xstride};
                for (int nt = 1; nt <= tokens; nt++) {
                    for (long i = 0; i < tokens * ystride; i++) y[i] = -7.0f;
                    if (native == 2)
                        moe_dot_bf16act_rows(isfp8, wt, cols, rowBytes, isfp8 ? scales : 0, scaleCols, sh.blockRows, sh.blockCols, sh.firstRow, sh.r0,
                                             rows, xb, xstride, y, ystride, nt);
                    else
                        moe_dot_bf16act_rows_with(native, isfp8, wt, cols, rowBytes, isfp8 ? scales : 0, scaleCols, sh.blockRows, sh.blockCols,
                                                  sh.firstRow, sh.r0, rows, xb, xstride, y, ystride, nt);
                    compare_rows(&w, &m, y, ystride, tokens, nt, sh.r0, rows, si);
                }
                free(wt);
                free(scales);
                free(xf);
                free(xb);
                free(y);
            }
            // bf16 × bf16 products are exact in f32: only the f32 summation (and, for FP8, one scale
            // product per block) rounds. The Swift tests demand 1e-6 of Σ|terms|.
            result(w.worst, 1e-6, w.where, "bf16act/%s/%s", isfp8 ? "FP8" : "BF16",
                   native == 2 ? "auto" : native ? "with_native1" : "with_native0");
        }
}

// Every e4m3 code decodes exactly (one-hot products against the PyTorch table), in vector bodies and
// tails, through both FP8 entry points and the bf16-activation one.
static void check_fp8_decoding(void) {
    const long cols = 45;
    const long positions[] = {0, 5, 17, 31, 40};
    static const char *entry[4] = {"moe_dot_fp8_tokens", "moe_dot_fp8_rows", "bf16act_with_native0", "bf16act_with_native1"};
    uint8_t w[64];
    float x[64], scale = 1.0f;
    uint16_t xb[64];
    // [entry][0: the 254 numbers, 1: the two NaN codes 0x7F and 0xFF]
    long bad[4][2] = {{0}};
    char where[4][2][200] = {{""}};
    for (int code = 0; code < 256; code++)
        for (int pi = 0; pi < 5; pi++) {
            long k = positions[pi];
            memset(w, 0, sizeof w);
            w[k] = (uint8_t)code;
            for (int i = 0; i < 64; i++) { x[i] = i == k ? 1.0f : 0.0f; xb[i] = i == k ? 0x3F80 : 0; }
            float want = e4m3[code];
            float got[4];
            moe_dot_fp8_tokens(w, cols, &scale, cols, x, cols, &got[0], 1, 1);
            moe_dot_fp8_rows(w, cols, cols, &scale, 1, 1, cols, 0, 0, 1, x, cols, &got[1], 1, 1);
            moe_dot_bf16act_rows_with(0, 1, w, cols, cols, &scale, 1, 1, cols, 0, 0, 1, xb, cols, &got[2], 1, 1);
            moe_dot_bf16act_rows_with(1, 1, w, cols, cols, &scale, 1, 1, cols, 0, 0, 1, xb, cols, &got[3], 1, 1);
            int nan = isnan(want);
            for (int e = 0; e < 4; e++) {
                int same = nan ? isnan(got[e]) : got[e] == want;
                if (!same && !bad[e][nan]++)
                    snprintf(where[e][nan], sizeof where[e][nan], "code 0x%02x at column %ld: %.9g, want %.9g", code, k, got[e], want);
            }
        }
    for (int e = 0; e < 4; e++) result((double)bad[e][0], 0, where[e][0], "fp8/decode/%s", entry[e]);
    // The NaN codes (never in a real checkpoint) must give NaN, not a number.
    for (int e = 0; e < 4; e++) result((double)bad[e][1], 0, where[e][1], "fp8/decode_nan/%s", entry[e]);
}

// FP8 × f32 (fp8.c): e4m3·f32 products (one rounding each, or none when fused), block sums scaled once.
static void check_fp8(void) {
    for (int which = 0; which < 2; which++) {   // 0: moe_dot_fp8_tokens per row, 1: moe_dot_fp8_rows
        worst_t w;
        worst_init(&w);
        for (int si = 0; si < NFP8SHAPES; si++) {
            fp8_shape sh = fp8_shapes[si];
            long rows = sh.rows, cols = sh.cols, rowBytes = cols + sh.pad;
            long scaleCols = (cols + sh.blockCols - 1) / sh.blockCols;
            long scaleRows = (sh.firstRow + rows + sh.blockRows - 1) / sh.blockRows;
            uint8_t *wt = fp8_matrix(rows, rowBytes, 140 + si);
            float *scales = fp8_scales(scaleRows * scaleCols, 141 + si);
            const int tokens = 6;
            const long xstride = cols + 5, ystride = rows + 2;
            float *x = make_activations(tokens * xstride, 1, 160 + si);
            float *y = xmalloc(sizeof(float) * tokens * ystride);
            matref m = {MAT_FP8, wt, rowBytes, cols, scales, scaleCols, sh.blockRows, sh.blockCols, sh.firstRow, x, 0, xstride};
            for (int nt = 1; nt <= tokens; nt++) {
                for (long i = 0; i < tokens * ystride; i++) y[i] = -7.0f;
                if (which)
                    moe_dot_fp8_rows(wt, cols, rowBytes, scales, scaleCols, sh.blockRows, sh.blockCols, sh.firstRow, sh.r0, rows, x, xstride, y,
                                     ystride, nt);
                else
                    for (long r = sh.r0; r < rows; r++)
                        moe_dot_fp8_tokens(wt + r * rowBytes, cols, scales + ((sh.firstRow + r) / sh.blockRows) * scaleCols, sh.blockCols, x,
                                           xstride, y + r, ystride, nt);
                compare_rows(&w, &m, y, ystride, tokens, nt, sh.r0, rows, si);
            }
            free(wt);
            free(scales);
            free(x);
            free(y);
        }
        result(w.worst, TOL_F32, w.where, "fp8/%s", which ? "rows" : "tokens");
    }
}

// ---------------------------------------------------------------------------------------------
// ops.c: exp, SwiGLU, attention

static void check_exp(void) {
    // Over the range the vectorised exp covers ([-87.3, 88.3]: e^x a normal float): relative error.
    worst_t w;
    worst_init(&w);
    for (double v = -87.3; v <= 88.3; v += 0.00731) {
        float xf = (float)v;
        double e = moe_exp_check(xf), ref = exp((double)xf);
        worst_add(&w, fabs(e - ref) / ref, "exp(%.9g) = %.9g, want %.9g", (double)xf, e, ref);
    }
    float exact[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e-7f, -1e-7f, 10.0f, -10.0f, 88.0f, -87.0f, 0.6931472f};
    for (unsigned i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        double e = moe_exp_check(exact[i]), ref = exp((double)exact[i]);
        worst_add(&w, fabs(e - ref) / ref, "exp(%.9g) = %.9g, want %.9g", (double)exact[i], e, ref);
    }
    result(w.worst, 3e-7, w.where, "exp/range");
    // Beyond it, documented (ops.c): above 88.3 clamped (a finite result; libm's expf gives +inf),
    // below -87.3 zero (libm: a subnormal). Either way: no NaN, no negative, monotone bounds.
    long bad = 0;
    char where[200] = "";
    const float big[] = {88.31f, 88.72f, 88.73f, 89.0f, 100.0f, 1e10f, 3.4e38f, INFINITY};
    const float small[] = {-87.34f, -87.5f, -88.0f, -100.0f, -104.0f, -1e10f, -3.4e38f, -INFINITY};
    float hi = (float)exp(88.3) * (1 - 3e-7f);
    for (int i = 0; i < 8; i++) {
        float a = moe_exp_check(big[i]), b = moe_exp_check(small[i]);
        if (!(a >= hi) && !bad++) snprintf(where, sizeof where, "exp(%g) = %g", (double)big[i], (double)a);
        if (!(b >= 0 && b <= 1.2e-38f) && !bad++) snprintf(where, sizeof where, "exp(%g) = %g", (double)small[i], (double)b);
    }
    if (moe_exp_check(-INFINITY) != 0 && !bad++) snprintf(where, sizeof where, "exp(-inf) = %g", (double)moe_exp_check(-INFINITY));
    result((double)bad, 0, where, "exp/beyond_range");
    // NaN in, NaN out (a NaN score or gate must not turn into a number).
    float en = moe_exp_check(NAN);
    snprintf(where, sizeof where, "exp(NaN) = %.9g", (double)en);
    result(isnan(en) ? 0 : 1, 0, where, "exp/nan");
}

static void check_swiglu(void) {
    enum { N = 1006 };
    float g[N], u[N], g0[N];
    rng_seed(5);
    for (int i = 0; i < N; i++) { g[i] = rng_f() * 30; u[i] = rng_f() * 3; }
    const float specials[] = {0, -0.0f, 100, -100, 1e30f, -1e30f, 88.5f, -88.5f, 1e-30f, -87.5f, 20.0f, -20.0f};
    for (int i = 0; i < 12; i++) g[i * 80 + 3] = specials[i];
    for (int i = 0; i < 9; i++) g[N - 1 - i] = specials[i];   // the scalar tail too
    memcpy(g0, g, sizeof g);
    // Every length from 0 to 17 (vector body, tail), then the whole row.
    worst_t w;
    worst_init(&w);
    for (int len = 0; len <= 18; len++) {
        long n = len == 18 ? N : len;
        float t[N];
        memcpy(t, g0, sizeof t);
        moe_swiglu(t, u, n);
        for (long i = 0; i < N; i++) {
            double ref = i < n ? (double)g0[i] / (1 + exp(-(double)g0[i])) * u[i] : g0[i];
            // Relative 1e-6 (an exp within 3e-7, a divide and a multiply), absolute below 1, as the Swift test.
            double err = fabs(t[i] - ref) / (fabs(ref) > 1 ? fabs(ref) : 1);
            if (i >= n && t[i] != g0[i]) err = INFINITY;
            worst_add(&w, err, "n %ld [%ld] g %.9g u %.9g: %.9g vs %.9g", n, i, (double)g0[i], (double)u[i], (double)t[i], ref);
        }
    }
    result(w.worst, 1e-6, w.where, "swiglu");
}

static void check_attention(void) {
    const long dims[] = {64, 72, 13, 128, 32};
    const long ranges[][2] = {{0, 0}, {3, 9}, {2, 78}, {5, 12}, {0, 79}};
    worst_t ws, wo;
    worst_init(&ws);
    worst_init(&wo);
    for (int di = 0; di < 5; di++) {
        long hd = dims[di], stride = hd * 3 + 5, positions = 80;
        float *keys = make_activations(positions * stride, 1, 81 + di), *values = make_activations(positions * stride, 1, 82 + di);
        float *q = make_activations(hd, 1, 83 + di);
        for (long d = 0; d < hd; d++) q[d] *= 4;
        float scale = (float)(1 / sqrt((double)hd));
        for (int ri = 0; ri < 5; ri++) {
            long first = ranges[ri][0], last = ranges[ri][1], n = last - first + 1;
            float scores[80], out[128];
            double logit[80], e[80], z = 0, m = -INFINITY;
            moe_attend_head(q, keys, values, stride, hd, first, last, scale, scores, out);
            for (long j = 0; j < n; j++) {
                double s = 0;
                for (long d = 0; d < hd; d++) s += (double)keys[(first + j) * stride + d] * q[d];
                logit[j] = s * scale;
                m = logit[j] > m ? logit[j] : m;
            }
            for (long j = 0; j < n; j++) { e[j] = exp(logit[j] - m); z += e[j]; }
            // Tolerances of the Swift test: probabilities within 1e-6, outputs within 1e-5 (absolute;
            // values are in [-1, 1)).
            for (long j = 0; j < n; j++)
                worst_add(&ws, fabs(scores[j] - e[j] / z), "d%ld [%ld, %ld] p[%ld] %.9g vs %.9g", hd, first, last, j, (double)scores[j], e[j] / z);
            for (long d = 0; d < hd; d++) {
                double ref = 0;
                for (long j = 0; j < n; j++) ref += e[j] / z * values[(first + j) * stride + d];
                worst_add(&wo, fabs(out[d] - ref), "d%ld [%ld, %ld] out[%ld] %.9g vs %.9g", hd, first, last, d, (double)out[d], ref);
            }
        }
        // No positions (last < first): zeros.
        float out[128], scores[4];
        for (long d = 0; d < hd; d++) out[d] = 5;
        moe_attend_head(q, keys, values, stride, hd, 4, 3, scale, scores, out);
        for (long d = 0; d < hd; d++) worst_add(&wo, out[d] == 0 ? 0 : INFINITY, "empty range: out[%ld] = %g", d, (double)out[d]);
        free(keys);
        free(values);
        free(q);
    }
    result(ws.worst, 1e-6, ws.where, "attend/probabilities");
    result(wo.worst, 1e-5, wo.where, "attend/output");
}

// Grouped attention (GQA): `group` query heads over one key/value head, unnormalised partials.
static void check_attention_group(void) {
    const long dims[] = {64, 13, 128, 72};
    const long groups[] = {3, 2, 8, 1};
    const long ranges[][2] = {{0, 0}, {5, 290}, {0, 299}, {7, 40}};
    worst_t wo, wl;
    worst_init(&wo);
    worst_init(&wl);
    for (int di = 0; di < 4; di++) {
        long hd = dims[di], G = groups[di], stride = hd * 2 + 3, positions = 300;
        float *keys = make_activations(positions * stride, 1, 91 + di), *values = make_activations(positions * stride, 1, 92 + di);
        float *q = make_activations(G * hd, 1, 93 + di);
        for (long d = 0; d < G * hd; d++) q[d] *= 4;
        float scale = (float)(1 / sqrt((double)hd));
        float *scores = malloc(sizeof(float) * G * positions), *o = malloc(sizeof(float) * G * hd), m[8], l[8];
        double *logit = malloc(sizeof(double) * positions), *e = malloc(sizeof(double) * positions);
        for (int ri = 0; ri < 4; ri++) {
            long first = ranges[ri][0], last = ranges[ri][1], n = last - first + 1;
            moe_attend_partial(q, hd, G, keys, values, stride, hd, first, last, scale, scores, m, l, o);
            for (long g = 0; g < G; g++) {
                double mx = -INFINITY, z = 0;
                for (long j = 0; j < n; j++) {
                    double s = 0;
                    for (long d = 0; d < hd; d++) s += (double)keys[(first + j) * stride + d] * q[g * hd + d];
                    logit[j] = s * scale;
                    mx = logit[j] > mx ? logit[j] : mx;
                }
                for (long j = 0; j < n; j++) { e[j] = exp(logit[j] - mx); z += e[j]; }
                // l·e^(m - max) is the softmax's normaliser; o / l its output.
                double lz = l[g] * exp((double)m[g] - mx);
                worst_add(&wl, fabs(lz - z) / z, "d%ld g%ld/%ld [%ld, %ld]: l %.9g m %.9g vs z %.9g max %.9g", hd, g, G, first, last,
                          (double)l[g], (double)m[g], z, mx);
                for (long d = 0; d < hd; d++) {
                    double ref = 0;
                    for (long j = 0; j < n; j++) ref += e[j] / z * values[(first + j) * stride + d];
                    double got = o[g * hd + d] / l[g];
                    worst_add(&wo, fabs(got - ref), "d%ld g%ld/%ld [%ld, %ld] out[%ld] %.9g vs %.9g", hd, g, G, first, last, d, got, ref);
                }
            }
        }
        // No positions: m = -inf, l = 0, o = 0.
        for (long d = 0; d < G * hd; d++) o[d] = 5;
        moe_attend_partial(q, hd, G, keys, values, stride, hd, 4, 3, scale, scores, m, l, o);
        for (long g = 0; g < G; g++) {
            worst_add(&wl, (isinf(m[g]) && m[g] < 0 && l[g] == 0) ? 0 : INFINITY, "empty range: m %g l %g", (double)m[g], (double)l[g]);
            for (long d = 0; d < hd; d++) worst_add(&wo, o[g * hd + d] == 0 ? 0 : INFINITY, "empty range: o[%ld] = %g", d, (double)o[g * hd + d]);
        }
        free(keys); free(values); free(q); free(scores); free(o); free(logit); free(e);
    }
    result(wl.worst, 1e-5, wl.where, "attend_group/normaliser");
    result(wo.worst, 1e-5, wo.where, "attend_group/output");
}

// ---------------------------------------------------------------------------------------------

// `--numerics llamacpp` (llamacpp.c) against tensors llama.cpp itself computed for the real SmolLM2
// Q4_1 model (scripts/oracle/llamacpp_ops.py): every output must be the same float, bit for bit.
// Counts mismatching floats of `n` at a and b.
static int mismatches(const float *a, const float *b, long n, long *first) {
    int bad = 0;
    *first = -1;
    for (long i = 0; i < n; i++)
        if (memcmp(a + i, b + i, 4) != 0) {
            if (*first < 0) *first = i;
            bad++;
        }
    return bad;
}

static void exact(const float *got, const float *want, long n, const char *name) {
    long first;
    char where[200] = "";
    int bad = mismatches(got, want, n, &first);
    if (bad) snprintf(where, sizeof where, "first at %ld: %.9g vs llama.cpp's %.9g", first, (double)got[first], (double)want[first]);
    result(bad, 0, where, "%s", name);
}

// The blobs "<prefix>/<i>/{meta,w,x,out}" (i = 0, 1, ...): one Q4_1 (q4_1), Q8_0 (q8_0) or F16 (f16)
// matrix row times activations prepared as Q8_1, Q8_0 or F16, each product exactly llama.cpp's.
static void rows_exact(const char *prefix, const char *name) {
    const int q41 = strcmp(prefix, "q4_1") == 0, f16 = strcmp(prefix, "f16") == 0;
    const long wBlock = q41 ? 20 : f16 ? 64 : 34, xBlock = q41 ? 36 : f16 ? 64 : 34;   // bytes per 32 columns
    int bad = 0, cases = 0;
    char where[200] = "";
    for (int i = 0;; i++, cases++) {
        char key[48];
        snprintf(key, sizeof key, "%s/%d/meta", prefix, i);
        if (!blob_find(key)) break;
        const long cols = *(const uint32_t *)blob(key, 4, NULL);
        snprintf(key, sizeof key, "%s/%d/w", prefix, i);
        const void *w = blob(key, (uint32_t)(cols / 32 * wBlock), NULL);
        snprintf(key, sizeof key, "%s/%d/x", prefix, i);
        const float *x = blob(key, (uint32_t)(cols * 4), NULL);
        snprintf(key, sizeof key, "%s/%d/out", prefix, i);
        const float *want = blob(key, 4, NULL);
        uint8_t *xq = xmalloc((size_t)(cols / 32 * xBlock));
        float got;
        if (q41) {
            moe_llcpp_quantize_q8_1(x, cols, 1, xq);
            moe_llcpp_q4_1_rows(w, cols / 32 * wBlock, cols, 0, 1, xq, 1, &got, 1);
        } else if (f16) {
            moe_llcpp_quantize_f16(x, cols, 1, xq);
            moe_llcpp_f16_rows(w, cols / 32 * wBlock, cols, 0, 1, xq, 1, &got, 1);
        } else {
            moe_llcpp_quantize_q8_0(x, cols, 1, xq);
            moe_llcpp_q8_0_rows(w, cols / 32 * wBlock, cols, 0, 1, xq, 1, &got, 1);
        }
        if (memcmp(&got, want, 4) != 0) {
            if (!bad) snprintf(where, sizeof where, "case %d: %.9g vs llama.cpp's %.9g", i, (double)got, (double)*want);
            bad++;
        }
        free(xq);
    }
    if (!cases) snprintf(where, sizeof where, "no %s cases in the vectors", prefix);
    result(cases ? bad : 1, 0, where, "%s", name);
}

static void check_llamacpp(void) {
    const char *names[] = {"llamacpp/rms_norm", "llamacpp/q4_1", "llamacpp/rope", "llamacpp/attention", "llamacpp/swiglu",
                           "llamacpp/q8_0_output", "llamacpp/f16"};
    if (!moe_llcpp_supported()) {
        for (int i = 0; i < 7; i++) skipped("moe_llcpp_supported() is 0: llama.cpp's AVX-512 arithmetic is x86-64 AVX-512 only", "%s", names[i]);
        return;
    }
    uint32_t n, most = 0;
    for (int i = 0; i < n_blobs; i++) most = blobs[i].size > most ? blobs[i].size : most;
    float *y = xmalloc(most);   // room for any output: none is larger than the largest input
    const float eps = *(const float *)blob("eps", 4, NULL);
    const float *x = blob("rms/x", 0, &n);
    const long H = n / 4;
    moe_llcpp_rms_norm(x, blob("rms/w", n, NULL), eps, H, y);
    exact(y, blob("rms/out", n, NULL), H, names[0]);

    rows_exact("q4_1", names[1]);
    rows_exact("q8_0", names[5]);
    rows_exact("f16", names[6]);

    const uint32_t *rm = blob("rope/meta", 16, NULL);
    const long heads = rm[0], hd = rm[1], pos = rm[2];
    float base;
    memcpy(&base, rm + 3, 4);
    memcpy(y, blob("rope/in", (uint32_t)(heads * hd * 4), NULL), (size_t)(heads * hd * 4));
    moe_llcpp_rope(y, heads, hd, hd, pos, base);
    exact(y, blob("rope/out", (uint32_t)(heads * hd * 4), NULL), heads * hd, names[2]);

    const uint32_t *am = blob("attn/meta", 12, NULL);
    const long positions = am[0], ahd = am[1];
    float scale;
    memcpy(&scale, am + 2, 4);
    float *scores = xmalloc(sizeof(float) * (size_t)((positions + 15) / 16 * 16)), *acc = xmalloc(sizeof(float) * (size_t)(16 * ahd));
    moe_llcpp_attend(blob("attn/q", (uint32_t)(ahd * 4), NULL), blob("attn/keys", (uint32_t)(positions * ahd * 4), NULL),
                     blob("attn/values", (uint32_t)(positions * ahd * 4), NULL), ahd, ahd, positions, scale, scores, acc, y);
    exact(y, blob("attn/out", (uint32_t)(ahd * 4), NULL), ahd, names[3]);
    free(scores);
    free(acc);

    const float *gate = blob("swiglu/gate", 0, &n);
    moe_llcpp_swiglu(gate, blob("swiglu/up", n, NULL), y, n / 4);
    exact(y, blob("swiglu/out", n, NULL), n / 4, names[4]);
    free(y);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.bin\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, 0, _IOLBF, 0);
    load_vectors(argv[1]);
    moe_tune_malloc();   // must be harmless; everything below allocates after it
#if defined(__aarch64__)
    const char *arch = "aarch64";
#elif defined(__x86_64__)
    const char *arch = "x86_64";
#else
    const char *arch = "other";
#endif
    printf("info arch %s, moe_q8_supported %d, moe_has_vnni %d, moe_bf16act_native %d\n", arch, moe_q8_supported(), moe_has_vnni(),
           moe_bf16act_native());
    check_quantizers();
    check_q8_dots();
    check_x8();
    check_f32_block_dots();
    check_wide();
    check_bf16_rounding();
    check_bf16act();
    check_fp8_decoding();
    check_fp8();
    check_exp();
    check_swiglu();
    check_attention();
    check_attention_group();
    check_llamacpp();
    printf("summary: %d ok, %d FAIL, %d skip\n", n_ok, n_fail, n_skip);
    return n_fail ? 1 : 0;
}
