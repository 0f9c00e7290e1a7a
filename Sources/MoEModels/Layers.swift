import MoETensor

/// Which normalisation q and k get before RoPE.
public enum QKNorm: Sendable, Equatable {
    case none
    /// RMSNorm over each head's `headDim` values (Qwen3).
    case perHead
    /// RMSNorm over the whole projection (OLMoE).
    case fullWidth
}

/// Attention projections of one layer: `q [heads*headDim, hidden]`, `k`/`v [kvHeads*headDim, hidden]`,
/// `o [hidden, heads*headDim]`.
public struct AttentionWeights: Sendable {
    public var q, k, v, o: WeightMatrix
    public var qBias, kBias, vBias, oBias: [Float]?
    public var qNorm, kNorm: [Float]?
}

/// A SwiGLU feed-forward block: `down(silu(gate x) * up x)`; `gate`/`up [inter, hidden]`, `down [hidden, inter]`.
public struct MLPWeights: Sendable {
    public var gate, up, down: WeightMatrix
    public var gateBias, upBias, downBias: [Float]?
    public var intermediate: Int { gate.rows }

    public init(gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix,
                gateBias: [Float]? = nil, upBias: [Float]? = nil, downBias: [Float]? = nil) {
        self.gate = gate
        self.up = up
        self.down = down
        self.gateBias = gateBias
        self.upBias = upBias
        self.downBias = downBias
    }
}

/// A mixture-of-experts block: a router `[experts, hidden]`, routed experts, and optionally a shared
/// expert that every token passes through, scaled by `sigmoid(sharedGate · x)` when a gate exists.
public struct MoEWeights: Sendable {
    public var router: WeightMatrix
    public var routing: Router
    public var experts: [MLPWeights]
    public var shared: MLPWeights?
    public var sharedGate: WeightMatrix?
}

public enum FeedForward: Sendable {
    case dense(MLPWeights)
    case moe(MoEWeights)
}

public struct DecoderLayer: Sendable {
    public var inputNorm: [Float]
    public var postAttentionNorm: [Float]
    public var attention: AttentionWeights
    public var feedForward: FeedForward
}

/// The hyperparameters the forward pass needs, the same for every family it runs.
public struct TransformerConfig: Sendable {
    public var modelType: String
    public var vocabSize: Int
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// Leading dims of each head that RoPE rotates (partial rotary uses fewer than headDim).
    public var rotaryDims: Int
    public var inverseFrequencies: [Float]
    public var attentionScale: Float
    public var qkNorm: QKNorm
    public var slidingWindow: Int?
    public var normEps: Float
    /// Granite's multipliers (1 elsewhere).
    public var embeddingMultiplier: Float = 1
    public var residualMultiplier: Float = 1
    /// Logits are multiplied by this (Granite: 1 / logits_scaling).
    public var logitMultiplier: Float = 1
    /// OLMoE's optional clamp of q, k and v.
    public var clipQKV: Float?
    public var maxPositions: Int
}
