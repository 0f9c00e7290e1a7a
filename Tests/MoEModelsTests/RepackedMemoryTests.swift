import Foundation
import Testing
import MoEModels
import MoETensor

/// Repacking copies Q4_0/Q4_1/Q5_x/Q8_0/Q4_K matrices; the originals' pages in the mapped file are
/// then handed back, so the process does not hold the weights twice. Measured on the mapping itself
/// (its `Rss` in /proc/self/smaps, which other tests' mappings of the same file do not share).
@Suite struct RepackedMemoryTests {
    /// Resident kB of the mapping that starts at `base`, from /proc/self/smaps.
    static func residentKB(of base: UnsafeRawPointer) -> Int? {
        // procfs files report size 0: read to the end rather than by size.
        guard let h = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return nil }
        defer { try? h.close() }
        let text = String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
        let start = String(UInt(bitPattern: base), radix: 16)
        var inside = false
        for line in text.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit), line.contains(" ") {
                inside = line[..<dash] == start
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ").dropFirst().first ?? "")
            }
        }
        return nil
    }

    @Test func repackedOriginalsAreHandedBack() throws {
        #if os(Linux)
        let path = RealModelTests.gguf
        try #require(FileManager.default.fileExists(atPath: path), "run scripts/fetch_models.sh")
        let model = try loadModel(directory: path, pool: Fixtures.pool, activations: .q8)
        let file = try #require(model.mappedFiles().first)
        let base = try #require(file.base)
        let rss = try #require(Self.residentKB(of: base))
        // Every linear layer of this file is Q4_1 (repacked), the tied head Q8_0 (repacked): what
        // stays is norms, metadata and a few partial pages, well under a tenth of the file.
        #expect(rss * 1024 < file.size / 10, "\(rss) kB of the \(file.size / 1024) kB mapping resident after load")
        // Prefetching the whole file (as `moekit run` does) skips the handed-back ranges...
        file.prefetch(offset: 0, count: file.size)
        let after = try #require(Self.residentKB(of: base))
        #expect(after * 1024 < file.size / 10, "\(after) kB resident after prefetch")
        // ...and the model still computes: reading a released row faults it in again.
        let logits = try model.forward([1, 2, 3], state: model.makeState(), logits: .last)
        #expect(logits.allSatisfy { $0.isFinite })
        // With --activations q8-mapped nothing is repacked, so nothing is handed back.
        let mapped = try loadModel(directory: path, pool: Fixtures.pool, activations: .q8Mapped)
        let mfile = try #require(mapped.mappedFiles().first)
        mfile.prefetch(offset: 0, count: mfile.size)
        let mbase = try #require(mfile.base)
        let full = try #require(Self.residentKB(of: mbase))
        #expect(full * 1024 > mfile.size * 9 / 10)
        #endif
    }
}
