/// Weight storage formats the calculator prices.
public enum Precision: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case bf16 = "BF16"
    case f16 = "F16"
    /// e4m3 with one f32 scale per 128×128 block of each linear weight (DeepSeek/GLM/Kimi/MiniMax recipe:
    /// embeddings, output head, routers, norms and biases stay 16-bit).
    case fp8 = "FP8"
    /// GGUF Q8_0: 32 weights in 34 bytes, every matrix (embedding and head included); 1-D tensors F32.
    case q8_0 = "Q8_0"
    /// GGUF Q4_K: 256 weights in 144 bytes (4.5 bits); 1-D tensors F32.
    case q4K = "Q4_K"
    /// Plain 4 bits per weight of every matrix, nothing else (a lower bound for 4-bit formats).
    case int4 = "4-bit"
    /// MXFP4 routed experts (32 weights in 17 bytes) with everything else BF16 (gpt-oss recipe).
    case mxfp4 = "MXFP4"

    /// The precisions every report lists.
    public static let reported: [Precision] = [.bf16, .fp8, .q8_0, .q4K, .int4]

    /// Whether the vendors' FP8 recipe quantises `t`: every linear weight but the output head,
    /// the routers and the DSA indexer's head weights (`weights_proj`, kept in high precision).
    public static func isFP8Quantized(_ t: TensorSpec) -> Bool {
        t.isLinearWeight && t.role != .lmHead && t.role != .router && !t.name.hasSuffix("weights_proj.weight")
    }

    /// Bytes of `t` as FP8 with f32 scales per `block` (rows × cols), or nil if the recipe keeps it.
    public static func fp8Bytes(_ t: TensorSpec, block: (Int, Int)) -> Int? {
        guard isFP8Quantized(t) else { return nil }
        // Last two dims are [out, in]; a stacked tensor has one grid per leading index.
        let n = t.count
        let rows = t.shape[t.shape.count - 2], cols = t.shape[t.shape.count - 1]
        let stack = n / max(rows * cols, 1)
        let blocks = ((rows + block.0 - 1) / block.0) * ((cols + block.1 - 1) / block.1)
        return n + 4 * blocks * stack
    }

    /// Bytes to store `t` at this precision.
    public func bytes(_ t: TensorSpec) -> Int {
        let n = t.count
        switch self {
        case .f32: return 4 * n
        case .bf16, .f16: return 2 * n
        case .fp8:
            return Precision.fp8Bytes(t, block: (128, 128)) ?? 2 * n
        case .q8_0:
            guard t.isLinearWeight || t.role == .embedding else { return 4 * n }
            return (n + 31) / 32 * 34
        case .q4K:
            guard t.isLinearWeight || t.role == .embedding else { return 4 * n }
            return (n + 255) / 256 * 144
        case .int4:
            guard t.isLinearWeight || t.role == .embedding else { return 2 * n }
            return (n + 1) / 2
        case .mxfp4:
            guard t.role == .routedExpert, t.isLinearWeight else { return 2 * n }
            return (n + 31) / 32 * 17
        }
    }
}
