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

/// The lightning indexer of a DSA layer: scores every previous position and keeps the best
/// `topK` for the attention. `wqB [heads*headDim, qLoraRank]`, `wk [headDim, hidden]`,
/// `weightsProj [heads, hidden]`, and a LayerNorm (with bias) on the key.
public struct IndexerWeights: Sendable {
    public var wqB, wk, weightsProj: WeightMatrix
    public var kNormWeight, kNormBias: [Float]
}

/// Multi-head latent attention (DeepSeek-V2/V3, GLM-5). Queries come from a low-rank path
/// (`qA [qLoraRank, hidden]` → RMSNorm → `qB [heads*(nope+rope), qLoraRank]`) or a plain `q`;
/// keys and values from one compressed latent `kvA [kvLoraRank+rope, hidden]` whose first part is
/// RMS-normalised and expanded per head by `kvB` (see `MLAUpProjection`); `o [hidden, heads*v]`.
public struct MLAWeights: Sendable {
    public var qA: WeightMatrix?
    public var qABias: [Float]?
    public var qANorm: [Float]?
    public var qB: WeightMatrix?
    public var q: WeightMatrix?
    public var kvA: WeightMatrix
    public var kvABias: [Float]?
    public var kvANorm: [Float]
    public var kvB: MLAUpProjection
    public var o: WeightMatrix
    public var oBias: [Float]?
    /// This layer's own DSA indexer; nil where the layer reuses the previous layer's choice or the
    /// model has no sparse attention.
    public var indexer: IndexerWeights?
}

/// MLA's per-head up-projections of the latent, as a checkpoint stores them.
public enum MLAUpProjection: Sendable {
    /// Hugging Face's `kv_b_proj [heads*(nope+v), kvLoraRank]`: each head's `nope` key rows, then its
    /// `v` value rows.
    case fused(WeightMatrix)
    /// llama.cpp's split (GGUF `attn_k_b`, `attn_v_b`), one matrix per head: the key rows transposed,
    /// `keys[h] [kvLoraRank, nope]`, and the value rows, `values[h] [v, kvLoraRank]`.
    case split(keys: [WeightMatrix], values: [WeightMatrix])

    /// The matrices held (for counting and residency).
    public var matrices: [WeightMatrix] {
        switch self {
        case .fused(let m): return [m]
        case .split(let k, let v): return k + v
        }
    }
}

public enum Attention: Sendable {
    case gqa(AttentionWeights)
    case mla(MLAWeights)
}

public struct DecoderLayer: Sendable {
    public var inputNorm: [Float]
    public var postAttentionNorm: [Float]
    public var attention: Attention
    public var feedForward: FeedForward
}

/// MLA dimensions.
public struct MLAShape: Sendable, Equatable {
    public var heads: Int
    public var nopeDim: Int
    public var ropeDim: Int
    public var valueDim: Int
    public var kvLoraRank: Int
    public var qLoraRank: Int?
}

/// DeepSeek sparse attention: each query attends only to the `topK` positions its layer's
/// indexer (or the last indexer before it) scores highest.
public struct DSAShape: Sendable, Equatable {
    public var heads: Int
    public var headDim: Int
    public var topK: Int
    /// GLM-5 rotates the indexer's rope dims in interleaved pairs; DeepSeek-V3.2 in halves.
    public var ropeInterleaved: Bool
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
    /// RoPE pairs dims (2i, 2i+1) instead of (i, i+half) (DeepSeek `rope_interleave`, GLM-5).
    public var ropeInterleaved = false
    /// cos and sin are multiplied by this (YaRN's attention factor).
    public var ropeAttentionFactor: Float = 1
    /// RoPE's base (`rope_theta`), and whether the frequencies were scaled (YaRN, Llama 3, linear,
    /// or GGUF's per-frequency factors) rather than plain powers of it.
    public var ropeTheta: Float = 10000
    public var ropeScaled = false
    public var mla: MLAShape?
    public var dsa: DSAShape?
}
