import Foundation
import Testing
import MoEFormats
import MoETensor

/// A small GGUF v3 file built by hand: two metadata keys (one an array of strings) and two tensors.
func tinyGGUF(alignment: Int = 32) -> [UInt8] {
    var b: [UInt8] = []
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); b.append(contentsOf: s.utf8) }
    b.append(contentsOf: Array("GGUF".utf8))
    u32(3)
    u64(2)          // tensors
    u64(2)          // metadata
    str("general.architecture"); u32(8); str("llama")
    str("tokenizer.ggml.tokens"); u32(9); u32(8); u64(3); str("a"); str("b"); str("<s>")
    // tensor 0: F32 [4] at 0; tensor 1: Q8_0 [32 x 2] (rows of 32) at 32
    str("v"); u32(1); u64(4); u32(0); u64(0)
    str("m"); u32(2); u64(32); u64(2); u32(8); u64(32)
    while b.count % alignment != 0 { b.append(0) }
    for i in 0..<4 { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { b.append(contentsOf: $0) } }
    b.append(contentsOf: [UInt8](repeating: 0, count: 16))            // pad to offset 32
    for _ in 0..<2 {
        withUnsafeBytes(of: floatToHalf(0.5).littleEndian) { b.append(contentsOf: $0) }
        b.append(contentsOf: (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) })
    }
    return b
}

func parseGGUF(_ bytes: [UInt8]) -> String? {
    let path = NSTemporaryDirectory() + "moekit-gguf-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).gguf"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: path) }
    do {
        _ = try GGUFFile(path: path)
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct GGUFTests {
    @Test func readsMetadataAndTensorsInPlace() throws {
        let path = NSTemporaryDirectory() + "moekit-gguf-ok-\(getpid()).gguf"
        FileManager.default.createFile(atPath: path, contents: Data(tinyGGUF()))
        let g = try GGUFFile(path: path)
        #expect(g.version == 3 && g["general.architecture"]?.stringValue == "llama")
        #expect(g["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue) == ["a", "b", "<s>"])
        let e = g.entries()
        #expect(e.map(\.name) == ["v", "m"] && e[1].shape == [2, 32] && e[1].dtype == .q8_0)
        var v = [Float](repeating: 0, count: 4)
        convertToFloat(e[0].data!, dtype: .f32, count: 4, into: &v)
        #expect(v == [0, 1, 2, 3])
        var row = [Float](repeating: 0, count: 32)
        convertToFloat(e[1].data! + 34, dtype: .q8_0, count: 32, into: &row)
        #expect(row[0] == -8 && row[31] == 7.5)
    }

    @Test func everyTruncationFailsCleanly() {
        let full = tinyGGUF()
        for n in 0..<full.count { #expect(parseGGUF(Array(full[0..<n])) != nil, "truncated to \(n) bytes parsed") }
        #expect(parseGGUF(full) == nil)
    }

    @Test func hostileCountsAndSizesAreRejected() {
        var b = tinyGGUF()
        // tensor_count = 2^62: far more than the file can hold
        b.replaceSubrange(8..<16, with: withUnsafeBytes(of: UInt64(1 << 62).littleEndian) { Array($0) })
        #expect(parseGGUF(b)?.contains("tensor_count") == true)
        var c = tinyGGUF()
        // the first key's length = 2^60
        c.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(1 << 60).littleEndian) { Array($0) })
        #expect(parseGGUF(c)?.contains("runs past the end") == true)
        var m = tinyGGUF()
        m[0] = UInt8(ascii: "X")
        #expect(parseGGUF(m)?.contains("not a GGUF file") == true)
    }

    /// A seeded mutation loop over the header: every mutant parses or throws; none crashes.
    @Test func mutatedHeadersNeverCrash() {
        let full = tinyGGUF()
        var rng = SplitMix64(seed: 42)
        let headerEnd = 160
        for _ in 0..<3000 {
            var b = full
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(headerEnd))
                b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = parseGGUF(b)
        }
    }
}

@Suite struct InMemoryGGUFTests {
    /// `MappedFile(copying:name:)` (the fuzzer's input) reads exactly as the mapped file does.
    @Test func copyParsesLikeTheMappedFile() throws {
        let bytes = tinyGGUF()
        let path = NSTemporaryDirectory() + "moekit-gguf-copy-\(getpid()).gguf"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mapped = try GGUFFile(path: path)
        let copy = try bytes.withUnsafeBytes { try GGUFFile(mapped: MappedFile(copying: $0, name: "tiny.gguf")) }
        #expect(copy.path == "tiny.gguf" && copy.file.size == bytes.count)
        #expect(copy.metadata.map(\.0) == mapped.metadata.map(\.0) && copy.metadata.map(\.1) == mapped.metadata.map(\.1))
        #expect(copy.tensors.map(\.offset) == mapped.tensors.map(\.offset) && copy.dataOffset == mapped.dataOffset)
        #expect(copy.entries().count == mapped.entries().count && !mapped.entries().isEmpty)
        for (a, b) in zip(copy.entries(), mapped.entries()) {
            #expect(Array(UnsafeRawBufferPointer(start: a.data, count: a.byteCount)) == Array(UnsafeRawBufferPointer(start: b.data, count: b.byteCount)))
        }
        // Errors name the copy, with the same offsets and messages.
        let cut = Array(bytes[0..<100])
        let viaPath = try #require(parseGGUF(cut))
        var viaCopy = ""
        do { _ = try cut.withUnsafeBytes { try GGUFFile(mapped: MappedFile(copying: $0, name: "cut.gguf")) } } catch { viaCopy = "\(error)" }
        #expect(viaCopy.hasPrefix("cut.gguf: bad header at byte offset ") && viaPath.hasSuffix(viaCopy.dropFirst("cut.gguf".count)), "\(viaCopy) vs \(viaPath)")
        #expect(MappedFile(copying: UnsafeRawBufferPointer(start: nil, count: 0), name: "empty").base == nil)
    }
}

@Suite struct GGUFArrayLimitTests {
    /// Array items cost 16-24 bytes in memory however few they take in the file, so the metadata may
    /// hold at most 2^24 of them: a bool array of 2^24 + 1 items (a 16 MB file) is refused at its count
    /// before anything is allocated for it.
    @Test func arrayItemsAreCapped() throws {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b.append(contentsOf: s.utf8) }
        b.append(contentsOf: Array("GGUF".utf8))
        u32(3); u64(0); u64(2)
        str("general.architecture"); u32(8); str("llama")
        str("flags"); u32(9); u32(7)
        let countAt = b.count
        u64(1 << 24 + 1)
        b.append(contentsOf: [UInt8](repeating: 1, count: 1 << 24 + 1))
        let error = b.withUnsafeBytes { bytes in
            Result { try GGUFFile(mapped: MappedFile(copying: bytes, name: "many.gguf")) }
        }
        guard case .failure(let e) = error else { Issue.record("parsed"); return }
        #expect("\(e)" == "many.gguf: bad header at byte offset \(countAt): flags: array length 16777217 takes the metadata past 16777216 array items")
        // One item fewer fits.
        b.removeLast()
        b.replaceSubrange(countAt..<countAt + 8, with: withUnsafeBytes(of: UInt64(1 << 24).littleEndian) { Array($0) })
        while b.count % 32 != 0 { b.append(0) }   // the (empty) data section starts aligned
        let g = try b.withUnsafeBytes { try GGUFFile(mapped: MappedFile(copying: $0, name: "many.gguf")) }
        #expect(g["flags"]?.arrayValue?.count == 1 << 24)
    }
}
