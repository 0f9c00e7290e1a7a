import MoEFormats
import MoEModels

/// What a tensor is for; decides whether it counts as active per token.
public enum TensorRole: String, Sendable, CaseIterable, Codable {
    case embedding
    case lmHead = "lm_head"
    case attention
    /// DSA lightning-indexer projections and norms.
    case indexer
    case norm
    case router
    case routedExpert = "routed_expert"
    case sharedExpert = "shared_expert"
    case denseMLP = "dense_mlp"
}

/// One tensor as a checkpoint holds it.
public struct TensorSpec: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var role: TensorRole
    /// Decoder layer, if the tensor belongs to one.
    public var layer: Int?
    /// Routed expert index, for `.routedExpert`.
    public var expert: Int?
    /// A stored non-parameter tensor (the routers' `e_score_correction_bias`): in the checkpoint
    /// and used per token, but not counted as a parameter (transformers keeps it as a buffer).
    public var isBuffer: Bool

    public init(_ name: String, _ shape: [Int], _ role: TensorRole, layer: Int? = nil, expert: Int? = nil,
                isBuffer: Bool = false) {
        self.name = name
        self.shape = shape
        self.role = role
        self.layer = layer
        self.expert = expert
        self.isBuffer = isBuffer
    }

    public var count: Int { shape.reduce(1, *) }
    /// A matrix of a linear layer (what FP8/Q8_0/Q4_K quantise); 1-D norms, biases and
    /// embeddings are kept in 16 bits by the usual recipes.
    public var isLinearWeight: Bool {
        shape.count >= 2 && role != .embedding && !isBuffer && !name.hasSuffix("bias")
    }
}

/// How one layer attends, for attention FLOPs and KV-cache size.
public enum AttentionShape: Sendable, Equatable {
    /// Grouped-query attention; `window` limits the positions attended (sliding window or chunk).
    case gqa(heads: Int, kvHeads: Int, headDim: Int, valueDim: Int, window: Int?)
    /// Multi-head latent attention (DeepSeek/GLM-5): the cache holds `kvLoraRank + ropeDim` per token.
    case mla(heads: Int, nopeDim: Int, ropeDim: Int, valueDim: Int, kvLoraRank: Int)
}

/// The DSA lightning indexer of a layer: it scores all previous positions with `heads` heads of
/// `headDim`, and the attention then reads only the best `topK`.
public struct IndexerShape: Sendable, Equatable {
    public var heads: Int
    public var headDim: Int
    public var topK: Int
    /// False where the layer reuses the previous layer's choice ("shared" in `indexer_types`).
    public var computes: Bool
}

/// Per-layer structure that the cost model needs beyond tensor sizes.
public struct LayerShape: Sendable, Equatable {
    public var attention: AttentionShape
    public var indexer: IndexerShape?
    /// Routed experts in this layer (0 for a dense layer) and how many fire per token.
    public var routedExperts: Int
    public var activeExperts: Int
}

/// Everything about a model's size that follows from its config: every tensor of the main model,
/// the multi-token-prediction tensors that checkpoints also ship, and the per-layer structure.
public struct ModelInventory: Sendable {
    public var modelType: String
    public var hidden: Int
    public var vocabSize: Int
    public var tensors: [TensorSpec]
    /// Multi-token-prediction modules: in the checkpoint, not used for plain decoding.
    public var mtpTensors: [TensorSpec]
    public var layers: [LayerShape]
    public var tiedEmbeddings: Bool
    /// How the checkpoint stores its weights, if the config says (`bf16`, `fp8`, `mxfp4`, ...).
    public var storedPrecision: Precision?

    public var moeLayerCount: Int { layers.filter { $0.routedExperts > 0 }.count }
}
