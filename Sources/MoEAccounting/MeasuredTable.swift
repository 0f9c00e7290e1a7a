import MoEFormats

/// Renders per-token measured-versus-predicted rows for a terminal and as JSON.
public enum MeasuredTable {
    /// Distinct experts fired so far in each MoE layer, from the per-token lists.
    static func cumulativeDistinct(_ rows: [TokenComparison], upTo i: Int) -> [Int] {
        guard let layers = rows.first?.measured.experts.count, layers > 0 else { return [] }
        var sets = Array(repeating: Set<Int>(), count: layers)
        for r in rows[...i] { for (l, e) in r.measured.experts.enumerated() { sets[l].formUnion(e) } }
        return sets.map(\.count)
    }

    public static func text(_ rows: [TokenComparison], routedExperts: Int) -> String {
        var lines: [[String]] = [["pos", "params meas/pred", "FLOPs meas/pred", "weights read meas/pred", "KV meas/pred",
                                  "experts/token", "distinct so far", "RSS", "weights resident", "check"]]
        for (i, r) in rows.enumerated() {
            let m = r.measured, p = r.predicted
            let perToken = m.experts.isEmpty ? "-" : m.experts.map { String($0.count) }.joined(separator: ",")
            let distinct = cumulativeDistinct(rows, upTo: i)
            let distinctText = distinct.isEmpty ? "-" : "\(distinct.min()!)-\(distinct.max()!)/\(routedExperts)"
            var resident = "-"
            if let a = m.mappedResidentBytes, let b = m.mappedBytes, b > 0 {
                resident = "\(humanBytes(a)) (\(Int((100 * Double(a) / Double(b)).rounded()))%)"
            }
            lines.append([
                String(m.position),
                "\(humanParams(m.params)) / \(humanParams(p.params))",
                "\(humanCount(Double(m.flops), unit: "FLOP")) / \(humanCount(Double(p.flops), unit: "FLOP"))",
                "\(humanBytes(m.weightBytes)) / \(humanBytes(p.weightBytes))",
                "\(humanBytes(m.kvBytes)) / \(humanBytes(p.kvBytes))",
                perToken, distinctText,
                m.residentBytes.map(humanBytes) ?? "-", resident,
                r.disagrees ? "DIFFERS \(fixed(100 * r.worstGap, digits: 1))%" : "ok",
            ])
        }
        let widths = (0..<lines[0].count).map { c in lines.map { $0[c].count }.max()! }
        return lines.map { row in
            row.enumerated().map { c, s in s + String(repeating: " ", count: widths[c] - s.count) }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    public static func json(_ rows: [TokenComparison]) -> JSONValue {
        .array(rows.map { r in
            let m = r.measured, p = r.predicted
            var o: [(String, JSONValue)] = [
                ("position", .int(m.position)),
                ("params", .int(m.params)), ("predicted_params", .int(p.params)),
                ("flops", .int(m.flops)), ("predicted_flops", .int(p.flops)),
                ("weight_bytes", .int(m.weightBytes)), ("predicted_weight_bytes", .int(p.weightBytes)),
                ("kv_bytes", .int(m.kvBytes)), ("predicted_kv_bytes", .int(p.kvBytes)),
                ("experts", .array(m.experts.map { .array($0.map { .int($0) }) })),
                ("agrees", .bool(!r.disagrees)),
            ]
            if let x = m.residentBytes { o.append(("rss_bytes", .int(x))) }
            if let x = m.mappedResidentBytes { o.append(("mapped_resident_bytes", .int(x))) }
            if let x = m.mappedBytes { o.append(("mapped_bytes", .int(x))) }
            return .object(o)
        })
    }
}
