import Foundation
import Testing
import MoETokenizer

/// Encode throughput. Runs only with MOEKIT_TOKENIZER_BENCH=<output file> (it prints nothing and asserts no
/// timing; the numbers go to that file). Meaningful in release:
///   MOEKIT_TOKENIZER_BENCH=/tmp/bench.txt swift test -c release --filter Benchmark
@Suite("benchmark")
struct BenchmarkTests {
    static let output = ProcessInfo.processInfo.environment["MOEKIT_TOKENIZER_BENCH"]

    /// About `bytes` of English-like text: sentences from a fixed word list, numbers, punctuation, newlines.
    static func englishText(bytes: Int) -> String {
        let words = ("the of and to in is was for on that with as by at from his her it an were are which this be has had "
            + "one their not but all also new first after two who they been more its when other time would into year there "
            + "can some about only these people world city state may over most could house water music light river story "
            + "small great under early between school family during government system number national public company group "
            + "country general however several language history science nature market street garden window letter summer "
            + "winter morning don't it's we'll they're").split(separator: " ").map(String.init)
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        var s = ""
        s.reserveCapacity(bytes + 200)
        while s.utf8.count < bytes {
            let n = 6 + next() % 14
            for i in 0..<n {
                var w = words[next() % words.count]
                if i == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
                s += (i == 0 ? "" : " ") + w
                if next() % 29 == 0 { s += ", \(next() % 100000)" }
            }
            s += [".", ".", "!", "?", ";"][next() % 5]
            s += next() % 7 == 0 ? "\n\n" : " "
        }
        return s
    }

    @Test(.enabled(if: BenchmarkTests.output != nil))
    func encodeThroughput() throws {
        let text = Self.englishText(bytes: 4 << 20)
        let lines = text.split(separator: "\n").map(String.init)
        let mb = Double(text.utf8.count) / 1e6
        var report = "MoETokenizer encode throughput, one core, \(text.utf8.count) bytes of English-like text\n"
        for name in ["smollm2", "llama3_split", "qwen2_trimmed", "deepseek_v3_trimmed", "spm_legacy", "spm_metaspace",
                     "spm_metaspace_always", "o200k_split"] {
            let tok = try Oracle.tokenizer(Oracle.entries.first { $0.name == name }!)
            _ = tok.encode(String(text.prefix(10_000)))
            let c0 = ContinuousClock.now
            let ids = tok.encode(text)
            let whole = (ContinuousClock.now - c0).seconds
            let c1 = ContinuousClock.now
            var count = 0
            for line in lines { count += tok.encode(line).count }
            let perLine = (ContinuousClock.now - c1).seconds
            let c2 = ContinuousClock.now
            let decoded = tok.decode(ids)
            let dec = (ContinuousClock.now - c2).seconds
            #expect(decoded.utf8.count > 0 && count > 0)
            let label = name.padding(toLength: 22, withPad: " ", startingAt: 0)
            report += label + String(format: "one call: %6.2f MB/s   per line (%d lines): %6.2f MB/s   decode: %6.1f MB/s   %.2f bytes/token\n",
                                     mb / whole, lines.count, mb / perLine, mb / dec,
                                     Double(text.utf8.count) / Double(ids.count))
        }
        try report.write(toFile: Self.output!, atomically: true, encoding: .utf8)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
