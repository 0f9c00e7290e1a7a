import Foundation
import Testing
import MoEFormats
import MoETensor

/// A fresh temporary directory per test.
func tempDir(_ tag: String = #function) -> String {
    let d = NSTemporaryDirectory() + "moekit-tests-\(getpid())-\(tag.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func writeBytes(_ bytes: [UInt8], _ path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// A raw safetensors file from a header string and a data section.
func rawFile(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

/// Parses `bytes` as a safetensors file and returns the error's message (nil if it parsed).
func parseError(_ bytes: [UInt8]) -> String? {
    let path = tempDir() + "/model.safetensors"
    writeBytes(bytes, path)
    do {
        _ = try SafetensorsFile(path: path)
        return nil
    } catch {
        return "\(error)"
    }
}

let validTensors: [SafetensorsWriter.Tensor] = [
    .init(name: "a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
    .init(name: "b.bf16", shape: [4], values: [0.5, -1, 2, 3], as: .bf16),
    .init(name: "c.f16", shape: [1, 2], values: [0.25, -8], as: .f16),
]

@Suite struct SafetensorsTests {
    @Test func roundTripReadsInPlace() throws {
        let path = tempDir() + "/model.safetensors"
        writeBytes(SafetensorsWriter.serialize(validTensors, metadata: [("format", "pt")]), path)
        let f = try SafetensorsFile(path: path)
        #expect(f.tensors.map(\.name) == ["a", "b.bf16", "c.f16"])
        #expect(f.metadata.first?.1 == "pt")
        for t in f.tensors {
            var out = [Float](repeating: 0, count: t.elementCount)
            convertToFloat(t.data!, dtype: t.dtype, count: t.elementCount, into: &out)
            let expected: [Float] = t.name == "a" ? [1, 2, 3, 4, 5, 6] : t.name == "b.bf16" ? [0.5, -1, 2, 3] : [0.25, -8]
            #expect(out == expected)
            // In place: the data pointer lies inside the mapping.
            #expect(t.data! >= t.file.base! && t.data! < t.file.base! + t.file.size)
        }
    }

    @Test func tooShort() {
        #expect(parseError([1, 2, 3])?.contains("too short") == true)
        #expect(parseError([])?.contains("too short") == true)
    }

    @Test func headerLengthPastEnd() {
        let e = parseError(rawFile(header: "{}", data: [], declaredLength: 1000))
        #expect(e?.contains("header length 1000") == true)
        let huge = parseError(rawFile(header: "{}", data: [], declaredLength: UInt64.max))
        #expect(huge?.contains("header length") == true)
    }

    @Test func invalidJSONNamesOffset() {
        let e = parseError(rawFile(header: "{\"a\": {\"dtype\": F32}}", data: []))
        #expect(e?.contains("not valid JSON at byte offset 24") == true, "\(e ?? "")")
        #expect(parseError(rawFile(header: "[1, 2]", data: []))?.contains("not a JSON object") == true)
    }

    @Test func unknownDType() {
        let e = parseError(rawFile(header: #"{"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]))
        #expect(e?.contains("tensor 'w'") == true && e?.contains("unknown dtype 'F33'") == true, "\(e ?? "")")
    }

    @Test func missingFields() {
        let e = parseError(rawFile(header: #"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]))
        #expect(e?.contains("'dtype'") == true)
        let e2 = parseError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [1]}}"#, data: [0, 0, 0, 0]))
        #expect(e2?.contains("data_offsets") == true)
    }

    @Test func shapeTimesSizeMustMatchRange() {
        let e = parseError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}"#, data: Array(repeating: 0, count: 12)))
        #expect(e?.contains("tensor 'w'") == true && e?.contains("needs 16 bytes") == true, "\(e ?? "")")
    }

    @Test func negativeOrOverflowingShape() {
        let e = parseError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]))
        #expect(e?.contains("negative") == true)
        let big = #"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 4]}}"#
        #expect(parseError(rawFile(header: big, data: [0, 0, 0, 0]))?.contains("overflow") == true)
    }

    @Test func reversedOffsets() {
        let e = parseError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}"#, data: Array(repeating: 0, count: 8)))
        #expect(e?.contains("not an ordered range") == true)
    }

    @Test func rangeOutsideFile() {
        let e = parseError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: Array(repeating: 0, count: 8)))
        #expect(e?.contains("past the end of the file") == true, "\(e ?? "")")
    }

    @Test func overlappingTensors() {
        let h = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#
        let e = parseError(rawFile(header: h, data: Array(repeating: 0, count: 12)))
        #expect(e?.contains("overlaps") == true, "\(e ?? "")")
    }

    @Test func everyTruncationFailsCleanly() {
        let full = SafetensorsWriter.serialize(validTensors)
        for n in 0..<full.count {
            #expect(parseError(Array(full[0..<n])) != nil, "truncated to \(n) bytes parsed")
        }
        #expect(parseError(full) == nil)
    }

    @Test func corruptedHeaderBytesNeverCrash() {
        let full = SafetensorsWriter.serialize(validTensors)
        var rng = SystemRandomNumberGenerator()
        let headerEnd = 8 + Int(full[0]) + Int(full[1]) << 8
        for _ in 0..<300 {
            var b = full
            for _ in 0..<3 { b[Int.random(in: 0..<headerEnd, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = parseError(b)   // either parses or throws; must not crash
        }
    }
}

@Suite struct ShardIndexTests {
    func shardedDir(index: String) -> String {
        let d = tempDir()
        writeBytes(SafetensorsWriter.serialize([validTensors[0]]), d + "/model-00001-of-00002.safetensors")
        writeBytes(SafetensorsWriter.serialize([validTensors[1]]), d + "/model-00002-of-00002.safetensors")
        try! index.write(toFile: d + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        return d
    }

    @Test func loadsShards() throws {
        let d = shardedDir(index: #"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b.bf16": "model-00002-of-00002.safetensors"}}"#)
        let dir = try TensorDirectory(modelDirectory: d)
        #expect(dir["a"]?.shape == [2, 3])
        #expect(dir["b.bf16"]?.dtype == .bf16)
        #expect(dir.files.count == 2)
    }

    @Test func missingShardFile() {
        let d = shardedDir(index: #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b.bf16": "model-00009-of-00009.safetensors"}}"#)
        #expect(throws: FormatError.self) { try TensorDirectory(modelDirectory: d) }
        do { _ = try TensorDirectory(modelDirectory: d) } catch {
            #expect("\(error)".contains("model-00009-of-00009.safetensors") && "\(error)".contains("does not exist"))
        }
    }

    @Test func pathTraversalRejected() {
        let d = shardedDir(index: #"{"weight_map": {"a": "../model-00001-of-00002.safetensors"}}"#)
        do { _ = try TensorDirectory(modelDirectory: d); Issue.record("accepted") } catch {
            #expect("\(error)".contains("not a plain file name"))
        }
    }

    @Test func tensorNotInNamedShard() {
        let d = shardedDir(index: #"{"weight_map": {"a": "model-00002-of-00002.safetensors"}}"#)
        do { _ = try TensorDirectory(modelDirectory: d); Issue.record("accepted") } catch {
            #expect("\(error)".contains("tensor 'a'") && "\(error)".contains("does not hold it"))
        }
    }

    @Test func badIndexJSON() {
        let d = shardedDir(index: #"{"weight_map": "#)
        do { _ = try TensorDirectory(modelDirectory: d); Issue.record("accepted") } catch {
            #expect("\(error)".contains("model.safetensors.index.json") && "\(error)".contains("not valid JSON"))
        }
    }

    @Test func emptyDirectory() {
        do { _ = try TensorDirectory(modelDirectory: tempDir()); Issue.record("accepted") } catch {
            #expect("\(error)".contains("no model.safetensors"))
        }
    }
}
