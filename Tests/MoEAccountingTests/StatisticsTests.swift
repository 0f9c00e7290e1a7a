import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import MoEAccounting

@Suite struct StatisticsTests {
    // 4 experts, 2 layers, 3 positions, top-2.
    let trace: [[[Int]]] = [
        [[0, 1], [0, 1], [0, 1]],   // layer A: only experts 0 and 1, always reused
        [[0, 1], [2, 3], [0, 2]],   // layer B: all four, some reuse
    ]

    @Test func handComputed() {
        let s = ExpertStatistics(experts: trace, expertCount: 4, layerIndices: [1, 3])
        let a = s.layers[0], b = s.layers[1]
        #expect(a.layer == 1 && b.layer == 3)
        #expect(a.histogram == [3, 3, 0, 0])
        #expect(b.histogram == [2, 1, 2, 1])
        #expect(abs(a.entropyBits - 1) < 1e-12)                       // two equally used experts
        // b: shares 2/6, 1/6, 2/6, 1/6
        let hb = -(2 * (2.0 / 6) * log2(2.0 / 6) + 2 * (1.0 / 6) * log2(1.0 / 6))
        #expect(abs(b.entropyBits - hb) < 1e-12)
        // a: counts 3,3,0,0, mean 1.5, std 1.5 -> CV 1
        #expect(abs(a.coefficientOfVariation - 1) < 1e-12)
        #expect(a.reuseRate == 1)
        // b: position 1 reuses none of {0,1}; position 2 reuses 2 of {2,3}: 1 of 4 chosen
        #expect(b.reuseRate == 0.25)
        #expect(a.distinctUsed == 2 && b.distinctUsed == 4)
    }

    @Test func htmlReportIsWellFormedAndHasTheHeatmap() throws {
        let s = ExpertStatistics(experts: trace, expertCount: 4, layerIndices: [1, 3])
        let html = HTMLReport.page(title: "t <&> \"q\"", stats: s, rows: [], predicted: nil, tokens: [1, 2, 3])
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        // Every cell of the heatmap is a rect: layers × experts.
        #expect(html.components(separatedBy: "<rect ").count - 1 == 2 * 4)
        #expect(html.contains("<title>layer 3, expert 0: 2×</title>"))
        #expect(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))   // no network assets
        #expect(!html.contains("<script"))
        // The page is well-formed XHTML: an XML parser reads it to the end.
        let parser = XMLParser(data: Data(html.utf8))
        #expect(parser.parse(), "\(String(describing: parser.parserError))")
        #expect(html.contains("t &lt;&amp;&gt; &quot;q&quot;"))
    }
}
