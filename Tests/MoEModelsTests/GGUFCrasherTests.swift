import Foundation
import Testing
import TestSupport
import MoEFormats
import MoEModels
import MoETokenizer

/// GGUF files that once crashed, hung or exhausted memory on the loading path (found with
/// scripts/fuzz_gguf.sh or by reading the code; Tests/Fixtures/gguf-crashers/README.md says which),
/// each with the clean error it gets now. The path is the fuzzer's: parse, `entries()`, the
/// tokenizer, the model config.
@Suite struct GGUFCrasherTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gguf-crashers").path

    /// File -> the error the loading path now stops with (a substring of it).
    static let expected: [String: String] = [
        "block_count_huge.gguf": "block_count_huge.gguf: key 'qwen2moe.block_count': is 2147483647, but the file holds only 37 tensors",
        "block_count_fuzzed.gguf": "block_count_fuzzed.gguf: key 'qwen2moe.block_count': is 4294967294, but the file holds only 37 tensors",
    ]

    /// Runs what a loader runs on `path`, as the fuzzer does: the parse, then the tokenizer and the
    /// config each on their own. Returns their errors, one per line (empty when all succeed).
    static func load(_ path: String) -> String {
        let g: GGUFFile
        do { g = try GGUFFile(path: path) } catch { return "\(error)" }
        _ = g.entries()
        var errors: [String] = []
        do { _ = try Tokenizer(gguf: g) } catch { errors.append("\(error)") }
        do { _ = try GGUFModel.config(g) } catch { errors.append("\(error)") }
        return errors.joined(separator: "\n")
    }

    @Test func everyCrasherFailsCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir).filter { $0.hasSuffix(".gguf") }.sorted()
        #expect(Set(files) == Set(Self.expected.keys), "every crasher needs an expected error here")
        for f in files {
            let start = Date()
            let error = Self.load(Self.dir + "/" + f)
            #expect(error.contains(Self.expected[f] ?? "?"), "\(f): \(error.isEmpty ? "loaded" : error)")
            #expect(Date().timeIntervalSince(start) < 10 * sanitizerSlowdown, "\(f) took \(Date().timeIntervalSince(start)) s")
        }
    }
}
