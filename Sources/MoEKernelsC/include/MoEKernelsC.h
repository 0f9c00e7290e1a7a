// Block-quantised dot products with f32 activations. Swift lowers the byte-widening conversions
// these need to out-of-line calls in some contexts, so they live in this small C target; each has
// a portable scalar path and an AVX2/FMA/F16C one. MoETensor's plain dequantisers are the reference.
#ifndef MOE_KERNELS_C_H
#define MOE_KERNELS_C_H
#include <stdint.h>

/// Σ w·x over `blocks` GGML Q4_0 blocks (18 bytes per 32 weights).
float moe_dot_q4_0_f32(const void *w, const float *x, long blocks);
/// Σ w·x over `blocks` GGML Q4_1 blocks (20 bytes per 32 weights).
float moe_dot_q4_1_f32(const void *w, const float *x, long blocks);
/// Σ w·x over `blocks` GGML Q8_0 blocks (34 bytes per 32 weights).
float moe_dot_q8_0_f32(const void *w, const float *x, long blocks);



/// The same for `tokens` activation rows at once (`x` rows `xstride` floats apart; results to
/// `out[t * outstride]`): each weight block is unpacked once per four tokens (prompt processing).
void moe_dot_q4_0_f32_tokens(const void *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks);
void moe_dot_q4_1_f32_tokens(const void *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks);
void moe_dot_q8_0_f32_tokens(const void *w, const float *x, long xstride, float *out, long outstride, long tokens, long blocks);

/// Integer kernels (q8.c): activations quantised to int8 per block of 32, dotted with any GGML
/// block type. `moe_q8_act_bytes(n)` bytes hold one quantised row of n floats (n a multiple of 32).
long moe_q8_act_bytes(long n);
/// How activations are quantised, as llama.cpp does for each weight type: Q8_0 (per 32, f16 scale),
/// Q8_1 (also an f16 sum, for types with a minimum) or Q8_K (one scale per 256, for the K-quants).
enum { MOE_ACT_Q8_0 = 0, MOE_ACT_Q8_1 = 1, MOE_ACT_Q8_K = 2 };
/// The activation kind llama.cpp pairs with GGML type `type`.
int moe_q8_act_kind(int type);
void moe_quantize_q8_act(const float *x, long n, void *act, int kind);
/// `rows` activation rows of n floats quantised for weights of GGML type `type`, moe_q8_act_bytes(n) apart.
void moe_quantize_q8_rows(const float *x, long n, long rows, void *act, int type);
/// 1 when the integer kernels were compiled (AVX2/FMA/F16C); otherwise callers dequantise.
int moe_q8_supported(void);
/// out[t * ostride] = Σ w·x for `tokens` quantised activation rows (`astride` bytes apart) and one weight
/// row of n elements of GGML type `type` (GGUF code). Returns -1 for a type it has no kernel for.
int moe_dot_q8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens);
/// Eight-row interleaved Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K (x8.c): bytes per group of eight rows and block of 32 (0 for
/// other types); `moe_x8_pack` repacks eight rows (`rowBytes` apart, `cols` each) into `dst`.
long moe_x8_block_bytes(int type);
/// Weights per row that one packed block covers (32, or 256 for Q4_K).
long moe_x8_row_block(int type);
int moe_x8_pack(int type, const void *src, long rowBytes, long cols, void *dst);
/// out[t * ostride + r], r < 8: the eight rows of one packed group dotted with `tokens` quantised
/// activation rows of the kind `moe_q8_act_kind(type)` gives (Q8_1 for Q4_1/Q5_1, Q8_K for Q4_K).
int moe_dot_q8_x8_tokens(int type, const void *w, long n, const void *act, long astride, float *out, long ostride, long tokens);
/// Whether this CPU has AVX-512 VNNI (vpdpbusd), which the eight-row kernels then use.
int moe_has_vnni(void);
/// `moe_dot_q8_x8_tokens` with the VNNI kernels (when present) or, for `use_vnni` 0, the AVX2 ones.
int moe_dot_q8_x8_tokens_with(int use_vnni, int type, const void *w, long n, const void *act, long astride, float *out, long ostride,
                              long tokens);
/// One row of a block-scaled FP8 (e4m3) matrix (`cols` bytes; `scales[j]` multiplies columns
/// j·blockCols ..< (j+1)·blockCols, the last block may be partial) dotted with `tokens` f32 rows:
/// out[t * ostride] (fp8.c). Each group of sixteen weights is decoded once per four tokens.
void moe_dot_fp8_tokens(const uint8_t *w, long cols, const float *scales, long blockCols, const float *x, long xstride,
                        float *out, long ostride, long tokens);
/// BF16 and FP8 weights times activations rounded to bf16 (bf16act.c). `moe_f32_to_bf16_rows`
/// rounds n floats to nearest even (NaN kept quiet, subnormals flushed to zero).
uint16_t moe_f32_to_bf16(float f);
void moe_f32_to_bf16_rows(const float *x, long n, uint16_t *out);
/// Whether vector kernels serve these products: on x86-64 when the CPU has AVX-512 BF16 and VBMI
/// (vdpbf16ps, vpermi2b), always on arm64 built for its floor (NEON with the dot product).
int moe_bf16act_native(void);
/// y[t * ystride + r] = Σ_c w[r][c]·x[t][c] for rows r0 ..< r1 of a BF16 matrix (`fp8` 0; `scales`
/// unused) or an FP8 e4m3 matrix whose row r uses scale row (firstRow + r) / blockRows of `scales`
/// (`scaleCols` per row, one per `blockCols` columns; edge blocks may be partial). `rowBytes` apart;
/// `tokens` activation rows of bf16, `xstride` elements apart.
void moe_dot_bf16act_rows(int fp8, const void *w, long cols, long rowBytes, const float *scales, long scaleCols, long blockRows,
                          long blockCols, long firstRow, long r0, long r1, const uint16_t *x, long xstride, float *y, long ystride,
                          long tokens);
/// The same with the vector kernels (when present) or, for `use_native` 0, the portable ones.
void moe_dot_bf16act_rows_with(int use_native, int fp8, const void *w, long cols, long rowBytes, const float *scales, long scaleCols,
                               long blockRows, long blockCols, long firstRow, long r0, long r1, const uint16_t *x, long xstride,
                               float *y, long ystride, long tokens);
/// y[t * ystride + r] = Σ_c w[r][c]·x[t][c] for rows r0 ..< r1 of an F32, F16 or BF16 matrix (GGML
/// type code 0, 1 or 30; rows `rowBytes` apart) and `tokens` f32 activation rows `xstride` apart,
/// exact in f32 (wide.c). Returns -1 for another type.
int moe_dot_wide_rows(int type, const void *w, long cols, long rowBytes, long r0, long r1, const float *x, long xstride, float *y,
                      long ystride, long tokens);
/// gate[i] = silu(gate[i]) · up[i] for n elements (ops.c; vectorised exp, relative error ~1e-7).
void moe_swiglu(float *gate, const float *up, long n);
/// One query's attention over positions first ... last of a head (ops.c): scores[j] = softmax_j(scale ·
/// q·k_j) (k_j = keys + (first+j)·stride), out[0..<headDim] = Σ_j scores[j] · v_j.
void moe_attend_head(const float *q, const float *keys, const float *values, long stride, long headDim, long first, long last,
                     float scale, float *scores, float *out);
/// Attention of `group` query heads sharing one key/value head (GQA), over positions first ... last,
/// left unnormalised so that chunks of positions combine (ops.c): for query g (`q + g·qstride`),
/// with s_j = scale · q_g·k_j, m[g] = max_j s_j, l[g] = Σ_j e^(s_j - m[g]) and
/// o[g·headDim + d] = Σ_j e^(s_j - m[g]) · v_j[d]. Each key row is read once for the group.
/// `scores`: group × (last - first + 1) floats of scratch. No positions: m = -inf, l = 0, o = 0.
void moe_attend_partial(const float *q, long qstride, long group, const float *keys, const float *values, long stride, long headDim,
                        long first, long last, float scale, float *scores, float *m, float *l, float *o);
/// The vectorised exp of ops.c for one value (tests).
float moe_exp_check(float x);
/// Rows r0 ..< r1 of a block-scaled FP8 matrix (scales as for moe_dot_bf16act_rows) times `tokens`
/// f32 rows: y[t * ystride + r] (fp8.c; one token runs four rows at a time).
void moe_dot_fp8_rows(const uint8_t *w, long cols, long rowBytes, const float *scales, long scaleCols, long blockRows, long blockCols,
                      long firstRow, long r0, long r1, const float *x, long xstride, float *y, long ystride, long tokens);
/// Keeps freed blocks of up to 8 MB in the heap (glibc), so per-token buffers (a logits row) are reused.
void moe_tune_malloc(void);
/// llama.cpp's CPU arithmetic, bit for bit (llamacpp.c; `--numerics llamacpp`): the float32 results
/// of its x86-64 AVX-512 build for a dense llama-family model with Q4_1, Q8_0 or F16 matrices. 1 when this CPU
/// can run these kernels (AVX-512F/DQ/VL), else 0 (and the others do nothing).
int moe_llcpp_supported(void);
/// RMSNorm as ggml_compute_forward_rms_norm_f32, times the weight.
void moe_llcpp_rms_norm(const float *x, const float *w, float eps, long n, float *out);
/// `tokens` rows of `cols` floats (a multiple of 32) into Q8_1 blocks (36 bytes per 32), as quantize_row_q8_1.
void moe_llcpp_quantize_q8_1(const float *x, long cols, long tokens, void *out);
/// The same into Q8_0 blocks (34 bytes per 32), as quantize_row_q8_0.
void moe_llcpp_quantize_q8_0(const float *x, long cols, long tokens, void *out);
/// Rows r0 ..< r1 of a Q8_0 matrix times Q8_0 activations, as llamafile's tinyBLAS_Q0_AVX computes
/// every Q8_0 product of a batch.
void moe_llcpp_q8_0_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride);
/// The same into F16 (round to nearest even), as llama.cpp prepares activations for F16 weights.
void moe_llcpp_quantize_f16(const float *x, long cols, long tokens, void *out);
/// Rows r0 ..< r1 of an F16 matrix times F16 activations, as llamafile's tinyBLAS F16 tile (AVX-512);
/// cols a multiple of 16.
void moe_llcpp_f16_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xh, long tokens, float *y,
                        long ystride);
/// Rows r0 ..< r1 of a Q4_1 matrix (rows `rowBytes` apart) times Q8_1 activations:
/// y[t * ystride + r], each as ggml_vec_dot_q4_1_q8_1.
void moe_llcpp_q4_1_rows(const void *w, long rowBytes, long cols, long r0, long r1, const void *xq, long tokens, float *y,
                         long ystride);
/// GGML normal-mode RoPE (adjacent pairs) of `heads` heads of `headDim` floats, first `dims` rotated (dims ≤ 1024).
void moe_llcpp_rope(float *x, long heads, long headDim, long dims, long position, float base);
/// One query head over positions 0 ..< positions of one key/value head (rows `stride` apart): kq,
/// soft_max_ext and kqv as llama.cpp's batch graph. headDim a multiple of 64; `scores` holds
/// positions rounded up to 16, `acc` 16 × headDim floats; `out` headDim floats.
void moe_llcpp_attend(const float *q, const float *keys, const float *values, long stride, long headDim, long positions,
                      float scale, float *scores, float *acc, float *out);
/// SwiGLU as ggml_vec_swiglu_f32: y = silu(gate) · up.
void moe_llcpp_swiglu(const float *gate, const float *up, float *y, long n);
#endif
