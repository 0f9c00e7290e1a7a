import MoEFormats

/// Human units: 744.2B, 1.49T, 80.3G.
public func humanCount(_ x: Double, unit: String = "") -> String {
    let a = abs(x)
    let (v, s): (Double, String) =
        a >= 1e15 ? (x / 1e15, "P") : a >= 1e12 ? (x / 1e12, "T") : a >= 1e9 ? (x / 1e9, "G") :
        a >= 1e6 ? (x / 1e6, "M") : a >= 1e3 ? (x / 1e3, "k") : (x, "")
    return fixed(v, digits: v >= 100 ? 1 : 2) + " " + s + unit
}

/// Parameter counts the way vendors write them (744.2B).
public func humanParams(_ n: Int) -> String {
    let x = Double(n)
    if x >= 1e9 { return fixed(x / 1e9, digits: x >= 1e11 ? 1 : 2) + "B" }
    if x >= 1e6 { return fixed(x / 1e6, digits: 2) + "M" }
    if x >= 1e3 { return fixed(x / 1e3, digits: 1) + "k" }
    return String(n)
}

public func humanBytes(_ n: Int) -> String { humanCount(Double(n), unit: "B") }

func fixed(_ x: Double, digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

/// A report of one model as shipped next to the same model if it were dense.
public struct InspectReport: Sendable {
    public var name: String
    public var moe: CostReport
    public var dense: CostReport
    public var published: (totalB: Double, activeB: Double)?
    /// Bytes of every tensor in the checkpoint files, when a model directory was given.
    public var storedBytes: Int?

    public init(name: String, moe: CostReport, published: (Double, Double)? = nil, storedBytes: Int? = nil) {
        self.name = name
        self.moe = moe
        dense = CostModel.denseEquivalent(moe)
        self.published = published
        self.storedBytes = storedBytes
    }

    /// How many times more compute per token the dense twin needs.
    public var computeRatio: Double { dense.flopsPerToken / moe.flopsPerToken }

    // MARK: JSON

    public func json() -> JSONValue {
        func bytesObject(_ xs: [(Precision, Int)]) -> JSONValue { .object(xs.map { ($0.0.rawValue, .int($0.1)) }) }
        func core(_ r: CostReport) -> [(String, JSONValue)] {
            var m: [(String, JSONValue)] = [
                ("active_params_core", .int(r.activeParamsCore)),
                ("active_params_compute", .int(r.activeParamsCompute)),
                ("active_params_all", .int(r.activeParamsAll)),
                ("flops_per_token", .double(r.flopsPerToken)),
                ("prefill_flops_per_token", .double(r.prefillFlopsPerToken)),
                ("active_weight_bytes", bytesObject(r.activeWeightBytes)),
                ("decode_tokens_per_s_per_GBps", .object(r.activeWeightBytes.map { ($0.0.rawValue, .double(r.tokensPerSecondPerGBps($0.0))) })),
            ]
            if let bw = r.bandwidth {
                m.append(("decode_tokens_per_s", .object(r.activeWeightBytes.map { ($0.0.rawValue, .double(r.tokensPerSecondPerGBps($0.0) * bw / 1e9)) })))
            }
            return m
        }
        let r = moe
        var m: [(String, JSONValue)] = [
            ("model", .string(name)),
            ("model_type", .string(r.modelType)),
            ("total_params", .int(r.totalParams)),
            ("checkpoint_params", .int(r.checkpointParams)),
            ("mtp_params", .int(r.mtpParams)),
        ]
        m += core(r)
        m += [
            ("routed_expert_params", .int(r.routedExpertParams)),
            ("embedding_params", .int(r.embeddingParams)),
            ("lm_head_params", .int(r.lmHeadParams)),
            ("layers", .int(r.layers)),
            ("moe_layers", .int(r.moeLayers)),
            ("routed_experts", .int(r.routedExperts)),
            ("active_experts", .int(r.activeExperts)),
            ("context", .int(r.context)),
            ("attention_flops_per_token", .double(r.attentionFlopsPerToken)),
            ("weight_bytes", bytesObject(r.weightBytes)),
            ("stored_precision", r.storedPrecision.map { .string($0.rawValue) } ?? .null),
            ("stored_bytes", storedBytes.map { .int($0) } ?? .null),
            ("kv_bytes_per_token", .int(r.kvBytesPerToken)),
            ("kv_bytes_at_context", .int(r.kvBytesAtContext)),
            ("concurrency", .int(r.concurrency)),
            ("gpus_needed", .object(r.gpusNeeded.map { a, ps in (a.name, .object(ps.map { ($0.0.rawValue, .int($0.1)) })) })),
            ("bandwidth_bytes_per_s", r.bandwidth.map { .double($0) } ?? .null),
            ("dense", .object(core(dense))),
            ("dense_compute_ratio", .double(computeRatio)),
        ]
        if let p = published {
            m.append(("published", .object([("total_b", .double(p.totalB)), ("active_b", .double(p.activeB))])))
        }
        return .object(m)
    }

    // MARK: Tables

    /// Rows of (label, MoE value, dense value).
    func rows() -> [(String, String, String)] {
        let r = moe, d = dense
        let L = r.context
        var rows: [(String, String, String)] = [
            ("Parameters held (total)", humanParams(r.totalParams), humanParams(d.totalParams)),
        ]
        if r.mtpParams > 0 {
            rows.append(("  + multi-token prediction (checkpoint)", humanParams(r.checkpointParams), humanParams(d.checkpointParams)))
        }
        rows += [
            ("Active per token, core (no embedding/head)", humanParams(r.activeParamsCore), humanParams(d.activeParamsCore)),
            ("Active per token, + output head", humanParams(r.activeParamsCompute), humanParams(d.activeParamsCompute)),
            ("Active per token, + input embedding", humanParams(r.activeParamsAll), humanParams(d.activeParamsAll)),
            ("Compute per token, decode at context \(L)", humanCount(r.flopsPerToken, unit: "FLOP"), humanCount(d.flopsPerToken, unit: "FLOP")),
        ]
        if L > 0 {
            rows.append(("Compute per token, prefill of \(L)", humanCount(r.prefillFlopsPerToken, unit: "FLOP"), humanCount(d.prefillFlopsPerToken, unit: "FLOP")))
        }
        for (p, b) in r.weightBytes {
            rows.append(("Weights held in memory, \(p.rawValue)\(p == r.storedPrecision ? " (as stored)" : "")", humanBytes(b), humanBytes(b)))
        }
        if let stored = storedBytes {
            rows.append(("Weights as stored in the checkpoint files", humanBytes(stored), humanBytes(stored)))
        }
        for (p, b) in r.activeWeightBytes where p == .bf16 || p == .fp8 || p == .q4K {
            let db = d.activeWeightBytes.first { $0.0 == p }!.1
            rows.append(("Weight bytes read per token, \(p.rawValue)", humanBytes(b), humanBytes(db)))
        }
        rows.append(("KV cache per token (BF16)", humanBytes(r.kvBytesPerToken), humanBytes(d.kvBytesPerToken)))
        if L > 0 {
            rows.append(("KV cache at context \(L)", humanBytes(r.kvBytesAtContext), humanBytes(d.kvBytesAtContext)))
        }
        for (p, _) in r.activeWeightBytes where p == .fp8 || p == .q4K {
            let label = "Decode roofline, \(p.rawValue): tokens/s per 100 GB/s"
            rows.append((label, fixed(r.tokensPerSecondPerGBps(p) * 100, digits: 1), fixed(d.tokensPerSecondPerGBps(p) * 100, digits: 1)))
            if let bw = r.bandwidth {
                rows.append(("Decode roofline, \(p.rawValue), at \(fixed(bw / 1e9, digits: 1)) GB/s", fixed(r.tokensPerSecondPerGBps(p) * bw / 1e9, digits: 1) + " tok/s", fixed(d.tokensPerSecondPerGBps(p) * bw / 1e9, digits: 1) + " tok/s"))
            }
        }
        for (a, ps) in r.gpusNeeded {
            let text = ps.filter { $0.0 == .bf16 || $0.0 == .fp8 || $0.0 == .q4K }.map { "\($0.1)×\($0.0.rawValue)" }.joined(separator: " ")
            rows.append(("GPUs needed, \(a.name)", text, text))
        }
        return rows
    }

    var title: String {
        var t = "\(name) (\(moe.modelType)): \(moe.layers) layers"
        if moe.moeLayers > 0 { t += ", \(moe.moeLayers) MoE with \(moe.routedExperts) routed experts, \(moe.activeExperts) active" }
        return t
    }

    var footer: [String] {
        var f = ["If it were dense, each token would cost \(fixed(computeRatio, digits: 1))× the compute of the MoE model as shipped."]
        if let p = published {
            f.append("Published: \(fixed(p.totalB, digits: 1))B total / \(fixed(p.activeB, digits: 1))B active (vendors count active differently; see the three conventions above).")
        }
        f.append("GPU counts leave \(Int(((1 - Accelerator.usableFraction) * 100).rounded()))% of memory for activations and keep room for \(moe.concurrency) sequence(s) of KV at context \(moe.context).")
        return f
    }

    public func table() -> String {
        let rs = rows()
        let headers = ("", moe.moeLayers > 0 ? "MoE as shipped" : "as shipped", "if it were dense")
        let w0 = max(headers.0.count, rs.map { $0.0.count }.max() ?? 0)
        let w1 = max(headers.1.count, rs.map { $0.1.count }.max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        var out = title + "\n\n"
        out += pad(headers.0, w0) + "  " + pad(headers.1, w1) + "  " + headers.2 + "\n"
        out += String(repeating: "-", count: w0) + "  " + String(repeating: "-", count: w1) + "  " + String(repeating: "-", count: headers.2.count) + "\n"
        for r in rs { out += pad(r.0, w0) + "  " + pad(r.1, w1) + "  " + r.2 + "\n" }
        out += "\n" + footer.joined(separator: "\n") + "\n"
        return out
    }

    public func markdown() -> String {
        var out = "### " + title + "\n\n| per token, you pay… | MoE as shipped | if it were dense |\n|---|---|---|\n"
        for r in rows() { out += "| \(r.0.trimmingLeadingSpaces()) | \(r.1) | \(r.2) |\n" }
        out += "\n" + footer.joined(separator: "\n\n") + "\n"
        return out
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop { $0 == " " }) }
}
