import MoEFormats

/// Typed access to a `config.json`, accepting the older and the transformers-5 spellings of keys.
/// Every failure names the file and the key.
public struct ConfigReader: Sendable {
    public let json: JSONValue
    public let file: String

    public init(json: JSONValue, file: String) {
        self.json = json
        self.file = file
    }

    public init(path: String) throws {
        let bytes = try readFile(path, limit: 64 << 20)
        do { json = try JSONParser.parse(bytes) } catch let e as JSONError {
            throw ModelError.config(file: path, key: "", message: "not valid JSON at byte offset \(e.offset): \(e.message)")
        }
        guard json.objectMembers != nil else { throw ModelError.config(file: path, key: "", message: "top level is not an object") }
        file = path
    }

    public func fail(_ key: String, _ msg: String) -> ModelError { .config(file: file, key: key, message: msg) }

    /// The first of `keys` present and non-null.
    public func value(_ keys: [String]) -> (String, JSONValue)? {
        for k in keys {
            if let v = json[k], !v.isNull { return (k, v) }
        }
        return nil
    }

    public func has(_ key: String) -> Bool { value([key]) != nil }

    public func int(_ keys: String..., default d: Int? = nil, min: Int = 0, max: Int = .max) throws -> Int {
        guard let (k, v) = value(keys) else {
            if let d { return d }
            throw fail(keys.joined(separator: "' or '"), "required integer is missing")
        }
        guard let i = v.intValue else { throw fail(k, "expected an integer, found \(v)") }
        guard i >= min else { throw fail(k, "must be at least \(min), found \(i)") }
        guard i <= max else { throw fail(k, "is \(i); at most \(max) are supported") }
        return i
    }

    public func optionalInt(_ keys: String...) throws -> Int? {
        guard let (k, v) = value(keys) else { return nil }
        guard let i = v.intValue, i >= 0 else { throw fail(k, "expected a non-negative integer, found \(v)") }
        return i
    }

    public func double(_ keys: String..., default d: Double? = nil) throws -> Double {
        guard let (k, v) = value(keys) else {
            if let d { return d }
            throw fail(keys.joined(separator: "' or '"), "required number is missing")
        }
        guard let x = v.doubleValue, x.isFinite else { throw fail(k, "expected a finite number, found \(v)") }
        return x
    }

    public func optionalDouble(_ keys: String...) throws -> Double? {
        guard let (k, v) = value(keys) else { return nil }
        guard let x = v.doubleValue, x.isFinite else { throw fail(k, "expected a finite number, found \(v)") }
        return x
    }

    public func bool(_ keys: String..., default d: Bool) throws -> Bool {
        guard let (k, v) = value(keys) else { return d }
        guard let b = v.boolValue else { throw fail(k, "expected true or false, found \(v)") }
        return b
    }

    public func string(_ keys: String..., default d: String? = nil) throws -> String {
        guard let (k, v) = value(keys) else {
            if let d { return d }
            throw fail(keys.joined(separator: "' or '"), "required string is missing")
        }
        guard let s = v.stringValue else { throw fail(k, "expected a string, found \(v)") }
        return s
    }

    public func intList(_ key: String) throws -> [Int] {
        guard let (k, v) = value([key]) else { return [] }
        guard let a = v.arrayValue else { throw fail(k, "expected a list of integers") }
        return try a.map { guard let i = $0.intValue else { throw fail(k, "expected a list of integers") }; return i }
    }

    /// `weight_block_size` of an FP8 `quantization_config` (nil when the checkpoint is not FP8).
    public func fp8BlockSize() throws -> (rows: Int, cols: Int)? {
        guard let q = json["quantization_config"], !q.isNull else { return nil }
        guard q["quant_method"]?.stringValue == "fp8" else {
            let m = q["quant_method"]?.stringValue ?? "?"
            throw fail("quantization_config", "quant_method '\(m)' is not supported (fp8 is)")
        }
        guard let b = q["weight_block_size"]?.arrayValue else { return (128, 128) }
        guard b.count == 2, let r = b[0].intValue, let c = b[1].intValue, r > 0, c > 0, r <= 1 << 20, c <= 1 << 20 else {
            throw fail("quantization_config", "weight_block_size must be two positive integers")
        }
        return (r, c)
    }

    /// Routed expert count and experts per token, under their various spellings.
    public func expertCounts() throws -> (experts: Int, topK: Int) {
        let e = try int("num_local_experts", "num_experts", "n_routed_experts", min: 1)
        let k = try int("num_experts_per_tok", "num_experts_per_token", "experts_per_token", min: 1)
        guard k <= e else { throw fail("num_experts_per_tok", "\(k) is more than the \(e) experts") }
        return (e, k)
    }

    /// RoPE settings: `rope_theta` + `rope_scaling` (older configs) or `rope_parameters`
    /// (transformers 5), with `partial_rotary_factor` at the top level or inside.
    public func rope(defaultTheta: Double = 10_000) throws -> RopeConfig {
        let params = json["rope_parameters"].flatMap { $0.isNull ? nil : $0 }
        let scaling = json["rope_scaling"].flatMap { $0.isNull ? nil : $0 }
        var theta = try optionalDouble("rope_theta")
        if let p = params, theta == nil { theta = p["rope_theta"]?.doubleValue }
        let src = scaling ?? params
        var type = "default"
        if let s = src {
            guard s.objectMembers != nil else { throw fail(scaling != nil ? "rope_scaling" : "rope_parameters", "expected an object") }
            type = s["rope_type"]?.stringValue ?? s["type"]?.stringValue ?? "default"
        }
        var partial = try optionalDouble("partial_rotary_factor")
        if partial == nil, let p = params { partial = p["partial_rotary_factor"]?.doubleValue }
        let key = scaling != nil ? "rope_scaling" : "rope_parameters"
        func num(_ k: String) throws -> Double {
            guard let v = src?[k]?.doubleValue, v.isFinite else { throw fail(key, "rope type '\(type)' needs a number '\(k)'") }
            return v
        }
        let kind: RopeConfig.Scaling
        switch type {
        case "default": kind = .none
        case "linear": kind = .linear(factor: try num("factor"))
        case "llama3":
            kind = .llama3(factor: try num("factor"), lowFreqFactor: try num("low_freq_factor"),
                           highFreqFactor: try num("high_freq_factor"),
                           originalMaxPositions: try num("original_max_position_embeddings"))
        case "yarn":
            func opt(_ k: String) -> Double? { src?[k]?.doubleValue.flatMap { $0.isFinite ? $0 : nil } }
            let original = try num("original_max_position_embeddings")
            let maxPos = try optionalDouble("max_position_embeddings")
            guard let factor = opt("factor") ?? maxPos.map({ $0 / original }) else { throw fail(key, "yarn needs a 'factor'") }
            guard factor > 0, original > 0 else { throw fail(key, "yarn 'factor' and 'original_max_position_embeddings' must be positive") }
            kind = .yarn(factor: factor, originalMaxPositions: original, betaFast: opt("beta_fast") ?? 32,
                         betaSlow: opt("beta_slow") ?? 1, mscale: opt("mscale"), mscaleAllDim: opt("mscale_all_dim"),
                         attentionFactor: opt("attention_factor"), truncate: src?["truncate"]?.boolValue ?? true)
        default:
            throw fail(key, "rope type '\(type)' is not supported (default, linear, llama3, yarn are)")
        }
        let t = theta ?? defaultTheta
        guard t > 0 else { throw fail("rope_theta", "must be positive") }
        let pf = partial ?? 1
        guard pf > 0, pf <= 1 else { throw fail("partial_rotary_factor", "must be in (0, 1]") }
        return RopeConfig(theta: t, scaling: kind, partialRotaryFactor: pf)
    }
}

/// Rotary position embedding parameters.
public struct RopeConfig: Sendable, Equatable {
    public enum Scaling: Sendable, Equatable {
        case none
        case linear(factor: Double)
        case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Double)
        case yarn(factor: Double, originalMaxPositions: Double, betaFast: Double, betaSlow: Double,
                  mscale: Double?, mscaleAllDim: Double?, attentionFactor: Double?, truncate: Bool)
    }
    public var theta: Double
    public var scaling: Scaling
    public var partialRotaryFactor: Double

    /// Inverse frequencies for a rotary width of `dims` (even), computed in f32 as transformers does.
    public func inverseFrequencies(dims: Int) -> [Float] {
        var inv = (0..<(dims / 2)).map { i -> Float in
            let exponent = Float(2 * i) / Float(dims)
            return 1 / Float(pow(Double(Float(theta)), Double(exponent)))
        }
        switch scaling {
        case .none: break
        case .linear(let f): inv = inv.map { $0 / Float(f) }
        case let .llama3(factor, low, high, original):
            let lowWavelen = original / low
            let highWavelen = original / high
            inv = inv.map { f in
                let wavelen = 2 * Double.pi / Double(f)
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / Float(factor) }
                let smooth = (original / wavelen - low) / (high - low)
                return Float((1 - smooth) * Double(f) / factor + smooth * Double(f))
            }
        case let .yarn(factor, original, betaFast, betaSlow, _, _, _, truncate):
            // Blend interpolated (÷factor) and original frequencies with a linear ramp over the dims
            // between the correction range of beta_fast and beta_slow rotations.
            let dim = Double(dims)
            func correctionDim(_ rotations: Double) -> Double {
                dim * log(original / (rotations * 2 * Double.pi)) / (2 * log(theta))
            }
            var low = correctionDim(betaFast), high = correctionDim(betaSlow)
            if truncate { low = low.rounded(.down); high = high.rounded(.up) }
            low = max(low, 0)
            high = min(high, dim - 1)
            if low == high { high += 0.001 }
            inv = inv.enumerated().map { i, f in
                let ramp = Float(min(max((Double(Float(i)) - low) / (high - low), 0), 1))
                let extrapolation = 1 - ramp
                let interpolated = f / Float(factor)
                return interpolated * (1 - extrapolation) + f * extrapolation
            }
        }
        return inv
    }

    /// The factor cos and sin are multiplied by (YaRN's attention factor; 1 otherwise).
    public var attentionFactor: Double {
        guard case let .yarn(factor, _, _, _, mscale, mscaleAllDim, attentionFactor, _) = scaling else { return 1 }
        if let a = attentionFactor { return a }
        if let m = mscale, let a = mscaleAllDim, m != 0, a != 0 {
            return Self.yarnMscale(factor, m) / Self.yarnMscale(factor, a)
        }
        return Self.yarnMscale(factor, 1)
    }

    /// MLA's softmax-scale multiplier: mscale(factor, mscale_all_dim)² under YaRN, else 1.
    public var mlaScaleMultiplier: Double {
        guard case let .yarn(factor, _, _, _, _, mscaleAllDim, _, _) = scaling, let a = mscaleAllDim, a != 0 else { return 1 }
        let m = Self.yarnMscale(factor, a)
        return m * m
    }

    static func yarnMscale(_ scale: Double, _ mscale: Double) -> Double {
        scale <= 1 ? 1 : 0.1 * mscale * log(scale) + 1
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
