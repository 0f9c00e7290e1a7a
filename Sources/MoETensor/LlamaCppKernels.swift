import MoEKernelsC

/// llama.cpp's CPU arithmetic, bit for bit (Sources/MoEKernelsC/llamacpp.c): the kernels behind
/// `--numerics llamacpp`. Each reproduces the rounding order of the llama.cpp kernel it names, as
/// compiled in its x86-64 AVX-512 build.
public enum LlamaCppKernels {
    /// Whether this CPU runs them (x86-64 with AVX-512F/DQ/VL).
    public static let supported: Bool = moe_llcpp_supported() != 0

    /// Bytes of prepared activations for `tokens` rows of `cols` (a multiple of 32), whatever the type
    /// (F16's two bytes a value are the most).
    public static func activationBytes(cols: Int, tokens: Int) -> Int { cols * 2 * tokens }

    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, n: Int, out: UnsafeMutablePointer<Float>) {
        moe_llcpp_rms_norm(x, weight, eps, n, out)
    }

    /// The matrix types whose products are reproduced.
    public static let types: [DType] = [.q4_1, .q8_0, .f16]

    /// The activations a Q4_1 (Q8_1 blocks), Q8_0 (Q8_0 blocks) or F16 (F16) matrix meets, as
    /// llama.cpp prepares them.
    public static func quantize(_ x: UnsafePointer<Float>, for w: WeightMatrix, tokens: Int, into out: UnsafeMutableRawPointer) {
        switch w.dtype {
        case .q4_1: moe_llcpp_quantize_q8_1(x, w.cols, tokens, out)
        case .q8_0: moe_llcpp_quantize_q8_0(x, w.cols, tokens, out)
        case .f16: moe_llcpp_quantize_f16(x, w.cols, tokens, out)
        default: preconditionFailure("llama.cpp products of \(w.dtype)")
        }
    }

    /// Rows `range` of `w` (original layout) times activations from `quantize`: `y[t * ystride + r]`,
    /// as llama.cpp's batch computes them (ggml_vec_dot_q4_1_q8_1; llamafile's Q8_0 and F16 tiles).
    public static func rows(_ w: WeightMatrix, _ xq: UnsafeRawPointer, tokens: Int, range: Range<Int>,
                            y: UnsafeMutablePointer<Float>, ystride: Int) {
        let f: (UnsafeRawPointer?, Int, Int, Int, Int, UnsafeRawPointer?, Int, UnsafeMutablePointer<Float>?, Int) -> Void
        switch w.dtype {
        case .q4_1: f = moe_llcpp_q4_1_rows
        case .q8_0: f = moe_llcpp_q8_0_rows
        case .f16: f = moe_llcpp_f16_rows
        default: preconditionFailure("llama.cpp products of \(w.dtype)")
        }
        f(w.base, w.rowBytes, w.cols, range.lowerBound, range.upperBound, xq, tokens, y, ystride)
    }

    public static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, dims: Int, position: Int, base: Float) {
        moe_llcpp_rope(x, heads, headDim, dims, position, base)
    }

    /// Scratch floats `attend` needs for `positions`.
    public static func attendScratch(positions: Int, headDim: Int) -> Int { (positions + 15) / 16 * 16 + 16 * headDim }

    public static func attend(query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                              headDim: Int, positions: Int, scale: Float, scratch: UnsafeMutablePointer<Float>,
                              out: UnsafeMutablePointer<Float>) {
        let scores = scratch, acc = scratch + (positions + 15) / 16 * 16
        moe_llcpp_attend(query, keys, values, stride, headDim, positions, scale, scores, acc, out)
    }

    public static func swiglu(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        moe_llcpp_swiglu(gate, up, y, count)
    }
}
