/// A self-contained HTML page (inline CSS and SVG, no network assets) for one routing trace:
/// an expert-by-layer heatmap, per-layer statistics, and the measured-versus-predicted table.
public enum HTMLReport {
    public static func escape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    /// The heatmap: one row per MoE layer, one column per expert, darker = fired more often.
    public static func heatmapSVG(_ stats: ExpertStatistics) -> String {
        let cell = stats.experts > 64 ? 6 : stats.experts > 32 ? 10 : 16
        let left = 56, top = 24
        let width = left + stats.experts * cell + 10
        let height = top + stats.layers.count * cell + 30
        let peak = max(1, stats.layers.flatMap(\.histogram).max() ?? 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"expert usage by layer\">\n"
        s += "<text x=\"\(left)\" y=\"14\" class=\"axis\">expert →</text>\n"
        for (row, layer) in stats.layers.enumerated() {
            let y = top + row * cell
            s += "<text x=\"\(left - 6)\" y=\"\(y + cell - 2)\" class=\"axis\" text-anchor=\"end\">L\(layer.layer)</text>\n"
            for (e, count) in layer.histogram.enumerated() {
                let t = Double(count) / Double(peak)
                // White (unused) to deep blue (most used).
                let r = Int(255 - t * 225), g = Int(255 - t * 180), b = Int(255 - t * 60)
                s += "<rect x=\"\(left + e * cell)\" y=\"\(y)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" fill=\"rgb(\(r),\(g),\(b))\"><title>layer \(layer.layer), expert \(e): \(count)×</title></rect>\n"
            }
        }
        let ly = top + stats.layers.count * cell + 14
        s += "<text x=\"\(left)\" y=\"\(ly)\" class=\"axis\">white: never fired · darkest: \(peak)× over \(stats.positions) positions</text>\n"
        s += "</svg>"
        return s
    }

    public static func page(title: String, stats: ExpertStatistics, rows: [TokenComparison], predicted: InspectReport?,
                            tokens: [Int32]) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"/><title>\(escape(title))</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
        h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
        table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
        th { background: #f3f5f8; } td:first-child, th:first-child { text-align: left; }
        .axis { font: 10px monospace; fill: #555; } .bad { color: #b00020; font-weight: 600; } .ok { color: #17803d; }
        code { font-size: 12px; }
        </style></head><body>
        <h1>\(escape(title))</h1>
        <p>\(stats.positions) positions routed through \(stats.layers.count) MoE layers of \(stats.experts) experts. Tokens: <code>\(escape(tokens.map(String.init).joined(separator: " ")))</code></p>
        <h2>Expert usage by layer</h2>
        \(heatmapSVG(stats))
        <h2>Per-layer routing statistics</h2>
        <table id="layer-stats"><tr><th>layer</th><th>distinct experts used</th><th>entropy (bits, max \(fixed(log2Int(stats.experts), digits: 2)))</th><th>load CV</th><th>reuse by next token</th></tr>

        """
        for l in stats.layers {
            h += "<tr><td>L\(l.layer)</td><td>\(l.distinctUsed) / \(stats.experts)</td><td>\(fixed(l.entropyBits, digits: 2))</td><td>\(fixed(l.coefficientOfVariation, digits: 2))</td><td>\(fixed(100 * l.reuseRate, digits: 1))%</td></tr>\n"
        }
        h += "</table>\n"
        if let p = predicted {
            h += "<h2>Predicted from config.json</h2>\n<table id=\"predicted\"><tr><th></th><th>MoE as shipped</th><th>if it were dense</th></tr>\n"
            for r in p.rows() { h += "<tr><td>\(escape(r.0))</td><td>\(escape(r.1))</td><td>\(escape(r.2))</td></tr>\n" }
            h += "</table>\n"
        }
        if !rows.isEmpty {
            h += "<h2>Measured per decoded token versus predicted</h2>\n<table id=\"measured\"><tr><th>position</th><th>params measured</th><th>predicted</th><th>FLOPs measured</th><th>predicted</th><th>weight bytes measured</th><th>predicted</th><th>KV bytes measured</th><th>predicted</th><th>check</th></tr>\n"
            for r in rows {
                let m = r.measured, p = r.predicted
                let check = r.disagrees ? "<span class=\"bad\">differs \(fixed(100 * r.worstGap, digits: 1))%</span>" : "<span class=\"ok\">agrees</span>"
                h += "<tr><td>\(m.position)</td><td>\(m.params)</td><td>\(p.params)</td><td>\(m.flops)</td><td>\(p.flops)</td><td>\(m.weightBytes)</td><td>\(p.weightBytes)</td><td>\(m.kvBytes)</td><td>\(p.kvBytes)</td><td>\(check)</td></tr>\n"
            }
            h += "</table>\n"
        }
        h += "<p>Made by MoEKit.</p>\n</body></html>\n"
        return h
    }

    static func log2Int(_ n: Int) -> Double { n > 0 ? log2(Double(n)) : 0 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
