// libFuzzer entry point for the GGUF reader: parses the input as a GGUF file held in memory, then
// touches what a loader touches next (every metadata value, every tensor record and its bytes,
// `entries()`, the tokenizer the metadata describes, encoding and decoding with it, and the model
// config). Errors are fine; crashes, sanitizer reports, hangs and huge allocations are not.
//
// `main` hands the command line to libFuzzer's driver (-runs=N, corpus directories, ...). SwiftPM
// links an executable's Swift main as `main`, so libFuzzer's own main is not used.
import FuzzerDriver
import MoEFormats
import MoEModels
import MoETensor
import MoETokenizer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FUZZ_GGUF_VERBOSE=1 prints how far each input got (to check that the seeds reach the tokenizer
/// and the model config).
let verbose = getenv("FUZZ_GGUF_VERBOSE") != nil

func report(_ text: @autoclosure () -> String) {
    if verbose { print("FuzzGGUF: \(text())") }
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzGGUF(data, size) })

/// One input: never throws, never crashes (that is what the fuzzer checks).
func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = MappedFile(copying: UnsafeRawBufferPointer(start: data, count: size), name: "fuzz.gguf")
    let g: GGUFFile
    do {
        g = try GGUFFile(mapped: file)
    } catch {
        report("\(size) bytes: \(error)")
        sink("\(error)")
        return 0
    }
    report("\(size) bytes: GGUF v\(g.version), \(g.metadata.count) keys, \(g.tensors.count) tensors")
    exercise(g)
    return 0
}

/// Keeps values alive so the optimiser cannot drop the work that produced them.
@inline(never)
func sink<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// A checksum of the first and last byte of `[offset, offset+count)`: under ASan, reading them
/// proves the range lies inside the input.
func touch(_ f: MappedFile, _ offset: Int, _ count: Int) -> UInt8 {
    guard count > 0 else { return 0 }
    let b = f.bytes(at: offset, count: count)
    return b[0] &+ b[count - 1]
}

func exercise(_ g: GGUFFile) {
    var check: UInt64 = 0
    for (key, value) in g.metadata {
        check &+= UInt64(truncatingIfNeeded: key.utf8.count)
        if let i = value.intValue { check &+= UInt64(truncatingIfNeeded: i) }
        if let d = value.doubleValue { check &+= d.bitPattern }
        if let s = value.stringValue { check &+= UInt64(s.utf8.count) }
        if let b = value.boolValue, b { check &+= 1 }
        if let a = value.arrayValue {
            check &+= UInt64(a.count)
            for item in a.prefix(4) { check &+= UInt64("\(item)".utf8.count) }
        } else {
            check &+= UInt64("\(value)".utf8.count)
        }
        if let t = g.metadataTypes[key] { check &+= UInt64(t.type) &+ UInt64(t.item ?? 0) }
        precondition(g[key] != nil, "metadata key '\(key)' not found by subscript")
    }
    for t in g.tensors {
        precondition(t.offset >= g.dataOffset && t.offset + t.byteCount <= g.file.size, "tensor '\(t.name)' out of range")
        check &+= UInt64(t.shape.reduce(1, *)) &+ UInt64(t.typeName.utf8.count)
        check &+= UInt64(touch(g.file, t.offset, t.byteCount))
    }
    for e in g.entries() {
        check &+= UInt64(e.shape.count) &+ UInt64(e.byteCount)
        check &+= UInt64(touch(e.file, e.offset, e.byteCount))
    }
    check &+= UInt64(g.unsupportedTensors.count)
    let tokenizer: Tokenizer?
    do {
        tokenizer = try Tokenizer(gguf: g)
        report("  tokenizer: \(tokenizer!.vocabularySize) tokens")
    } catch {
        report("  tokenizer: \(error)")
        tokenizer = nil
    }
    if let tokenizer {
        for text in ["Hello, world! 123", " the wé\u{2581}<s></s><|endoftext|> <0x41>\n\t", ""] {
            let ids = tokenizer.encode(text)
            precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.idLimit }, "encode returned an id outside the vocabulary")
            check &+= UInt64(ids.count)
            check &+= UInt64(tokenizer.decode(ids).utf8.count)
        }
        let n = Int32(clamping: tokenizer.idLimit)
        let probe: [Int32] = [0, 1, 2, n / 2, n - 1].filter { $0 >= 0 && $0 < n }
        check &+= UInt64(tokenizer.decode(probe, skipSpecialTokens: true).utf8.count)
        for id in probe { check &+= UInt64(tokenizer.idToToken(id)?.utf8.count ?? 0) }
    }
    do {
        let config = try GGUFModel.config(g)
        report("  config: ok")
        sink(config)
    } catch {
        report("  config: \(error)")
        sink("\(error)")
    }
    sink(check)
}
