/// Layer plans of the DeepSeek / GLM families, shared by the engine and the calculator.
extension ConfigReader {
    /// Which decoder layers are MoE: `mlp_layer_types` ("dense"/"sparse") where the family has it
    /// (DeepSeek-V3.2, GLM-5), else every layer from `first_k_dense_replace` on.
    public func deepSeekMoELayers(type: String, layers L: Int) throws -> [Bool] {
        let firstDense = try int("first_k_dense_replace", default: type == "glm4_moe" ? 1 : 3)
        if type == "deepseek_v32" || type == "glm_moe_dsa", let types = json["mlp_layer_types"]?.arrayValue {
            guard types.count == L else { throw fail("mlp_layer_types", "has \(types.count) entries for \(L) layers") }
            return try types.map {
                guard let s = $0.stringValue, s == "dense" || s == "sparse" else {
                    throw fail("mlp_layer_types", "entries must be \"dense\" or \"sparse\"")
                }
                return s == "sparse"
            }
        }
        return (0..<L).map { $0 >= firstDense }
    }

    /// Which layers run their own DSA indexer ("full") rather than reuse the previous layer's
    /// choice: GLM-5's `indexer_types`, else `index_topk_pattern`, else the rule from
    /// `index_topk_freq` / `index_skip_topk_offset` (by default every layer). DeepSeek-V3.2: all.
    public func dsaIndexerLayers(type: String, layers L: Int) throws -> [Bool] {
        guard type == "glm_moe_dsa" else { return Array(repeating: true, count: L) }
        if let types = json["indexer_types"]?.arrayValue {
            guard types.count == L else { throw fail("indexer_types", "has \(types.count) entries for \(L) layers") }
            return try types.map {
                guard let s = $0.stringValue, s == "full" || s == "shared" else {
                    throw fail("indexer_types", "entries must be \"full\" or \"shared\"")
                }
                return s == "full"
            }
        }
        if let pattern = json["index_topk_pattern"], !pattern.isNull {
            let items: [String]
            if let s = pattern.stringValue { items = s.map(String.init) } else { items = (pattern.arrayValue ?? []).compactMap(\.stringValue) }
            guard items.count == L, items.allSatisfy({ $0 == "F" || $0 == "S" }) else {
                throw fail("index_topk_pattern", "needs \(L) entries of \"F\" or \"S\"")
            }
            return items.map { $0 == "F" }
        }
        let freq = max(try int("index_topk_freq", default: 1), 1)
        let offset = try int("index_skip_topk_offset", default: 2)
        return (0..<L).map { max($0 - offset + 1, 0) % freq == 0 }
    }
}
