import MoEKernelsC

/// llama.cpp's CPU arithmetic, bit for bit (Sources/MoEKernelsC/llamacpp.c): the kernels behind
/// `--numerics llamacpp`. Each reproduces the rounding order of the llama.cpp kernel it names, as
/// compiled in its x86-64 AVX-512 build.
public enum LlamaCppKernels {
    /// Whether this CPU runs them (x86-64 with AVX-512F/DQ).
    public static let supported: Bool = moe_llcpp_supported() != 0

    /// Bytes of Q8_1 activations for `tokens` rows of `cols` (a multiple of 32).
    public static func q8_1Bytes(cols: Int, tokens: Int) -> Int { cols / 32 * 36 * tokens }

    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, n: Int, out: UnsafeMutablePointer<Float>) {
        moe_llcpp_rms_norm(x, weight, eps, n, out)
    }

    public static func quantizeQ8_1(_ x: UnsafePointer<Float>, cols: Int, tokens: Int, into out: UnsafeMutableRawPointer) {
        moe_llcpp_quantize_q8_1(x, cols, tokens, out)
    }

    /// Rows `range` of the Q4_1 matrix `w` (original layout) times Q8_1 activations:
    /// `y[t * ystride + r]`.
    public static func q4_1Rows(_ w: WeightMatrix, _ xq: UnsafeRawPointer, tokens: Int, range: Range<Int>,
                                y: UnsafeMutablePointer<Float>, ystride: Int) {
        precondition(w.dtype == .q4_1, "llama.cpp Q4_1 rows on \(w.dtype)")
        moe_llcpp_q4_1_rows(w.base, w.rowBytes, w.cols, range.lowerBound, range.upperBound, xq, tokens, y, ystride)
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
