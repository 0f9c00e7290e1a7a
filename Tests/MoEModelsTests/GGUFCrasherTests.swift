import Foundation
import Testing
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
    ]

    /// Runs what a loader runs on `path` and returns the first error (nil when all of it succeeds).
    static func load(_ path: String) -> String? {
        do {
            let g = try GGUFFile(path: path)
            _ = g.entries()
            _ = try Tokenizer(gguf: g)
            _ = try GGUFModel.config(g)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func everyCrasherFailsCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir).filter { $0.hasSuffix(".gguf") }.sorted()
        #expect(Set(files) == Set(Self.expected.keys), "every crasher needs an expected error here")
        for f in files {
            let start = Date()
            let error = Self.load(Self.dir + "/" + f)
            #expect(error?.contains(Self.expected[f] ?? "?") == true, "\(f): \(error ?? "loaded")")
            #expect(Date().timeIntervalSince(start) < 10, "\(f) took \(Date().timeIntervalSince(start)) s")
        }
    }
}
