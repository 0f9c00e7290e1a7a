import Foundation
import MoEFormats
import MoEModels
import MoETensor
import MoETokenizer
import Testing

/// `moekit quantize` from a checkpoint with a tokenizer: the `tokenizer.*` keys equal those llama.cpp's
/// converter writes for the same directory (Tests/Fixtures/tokenizer_gguf, recorded by
/// scripts/oracle/tokenizer_to_gguf.py), and the tokenizer read back from the file tokenizes as the
/// checkpoint's tokenizer.json does.
@Suite struct TokenizerExportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
    static let cases = ["smollm2", "spm_mistral", "spm_llama2", "qwen2", "gpt2", "llama3"]
    /// A GGUF `llama` vocabulary means Metaspace with `prepend_scheme: first` to MoEKit (and to
    /// transformers' GGUF reader); spm_llama2's tokenizer.json prepends "▁" to every piece between added
    /// tokens (Llama 2's legacy normalizer), which the GGUF keys cannot say.
    static let roundTripCases = cases.filter { $0 != "spm_llama2" }

    /// A case's checkpoint: its files, the tokenizer.json it names (with its replaced sections) and
    /// random weights of its config's shape.
    static func checkpoint(_ name: String) throws -> (dir: String, expected: JSONValue, tokenizerJSON: [UInt8]) {
        let src = root + "/Fixtures/tokenizer_gguf/" + name
        let expected = try JSONParser.parse(try readFile(src + "/expected.json"))
        let dir = QuantizeTests.tmp("tokexport-\(name)-\(UInt32.random(in: 0...UInt32.max))")
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in try fm.subpathsOfDirectory(atPath: src) where f != "expected.json" {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: src + "/" + f, isDirectory: &isDir)
            if isDir.boolValue { try fm.createDirectory(atPath: dir + "/" + f, withIntermediateDirectories: true) } else { try fm.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f) }
        }
        var tok = try JSONParser.parse(try readFile(root + "/../" + expected["tokenizer"]!.stringValue!))
        if case .object(var members) = tok, let patch = expected["patch"]?.objectMembers {
            for (k, v) in patch {
                if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = v } else { members.append((k, v)) }
            }
            tok = .object(members)
        }
        let tokBytes = Array(tok.serialized().utf8)
        #expect(fm.createFile(atPath: dir + "/tokenizer.json", contents: Data(tokBytes)))
        try writeWeights(dir)
        return (dir, expected, tokBytes)
    }

    /// One decoder layer of a llama or qwen2 config, random (only shapes matter).
    static func writeWeights(_ dir: String) throws {
        let cfg = try JSONParser.parse(try readFile(dir + "/config.json"))
        let H = cfg["hidden_size"]!.intValue!, I = cfg["intermediate_size"]!.intValue!, V = cfg["vocab_size"]!.intValue!
        var rng = SplitMix64(seed: 7)
        func t(_ name: String, _ shape: [Int], one: Bool = false) -> SafetensorsWriter.Tensor {
            let n = shape.reduce(1, *)
            return SafetensorsWriter.Tensor(name: name, shape: shape, values: (0..<n).map { _ in one ? 1 : Float(rng.next() >> 40) / Float(1 << 24) * 0.04 - 0.02 })
        }
        let p = "model.layers.0."
        var list = [t("model.embed_tokens.weight", [V, H]), t("model.norm.weight", [H], one: true),
                    t(p + "input_layernorm.weight", [H], one: true), t(p + "post_attention_layernorm.weight", [H], one: true)]
        for n in ["q_proj", "k_proj", "v_proj", "o_proj"] { list.append(t(p + "self_attn.\(n).weight", [H, H])) }
        list += [t(p + "mlp.gate_proj.weight", [I, H]), t(p + "mlp.up_proj.weight", [I, H]), t(p + "mlp.down_proj.weight", [H, I])]
        if cfg["model_type"]?.stringValue == "qwen2" {
            for n in ["q_proj", "k_proj", "v_proj"] { list.append(t(p + "self_attn.\(n).bias", [H])) }
        }
        #expect(FileManager.default.createFile(atPath: dir + "/model.safetensors", contents: Data(SafetensorsWriter.serialize(list))))
    }

    static func convert(_ dir: String, _ name: String) throws -> GGUFFile {
        let out = dir + ".gguf"
        _ = try Quantizer.convert(directory: dir, to: out, plan: QuantizePlan(target: .f32), pool: Fixtures.pool,
                                  tokenizer: TokenizerGGUFExport.metadata)
        defer { unlink(out) }
        return try GGUFFile(path: out)
    }

    /// FNV-1a 64 of an array's items as GGUF encodes them (the oracle's hash).
    static func fnv(_ items: [GGUFValue], item: UInt32) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func eat<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: x.littleEndian) { for b in $0 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 } } }
        for v in items {
            switch (item, v) {
            case (8, .string(let s)):
                eat(UInt64(s.utf8.count))
                for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            case (5, .int(let i)): eat(Int32(truncatingIfNeeded: i))
            case (6, .float(let d)): eat(Float(d).bitPattern)
            default: return "unexpected item \(v)"
            }
        }
        return String(h, radix: 16).leftPadded(16)
    }

    static func json(_ v: GGUFValue) -> JSONValue {
        switch v {
        case .uint(let u): return .int(Int(u))
        case .int(let i): return .int(Int(i))
        case .float(let d): return .double(Double(Float(d)))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(json))
        }
    }

    /// Numbers as the oracle wrote them (JSON integers for integral floats).
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        default:
            if let x = a.doubleValue, let y = b.doubleValue { return x == y }
            return a == b
        }
    }

    @Test(arguments: cases)
    func keysAsLlamaCppWritesThem(name: String) throws {
        let (dir, expected, _) = try Self.checkpoint(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let g = try Self.convert(dir, name)
        let model = g["tokenizer.ggml.model"]?.stringValue
        var ours = g.metadata.map(\.0).filter { $0.hasPrefix("tokenizer.") }
        if model == "llama" {
            // MoEKit's one addition for SentencePiece vocabularies: the merges llama.cpp's all -1000 scores lose.
            #expect(ours.contains("tokenizer.ggml.merges"), "\(name)")
            ours.removeAll { $0 == "tokenizer.ggml.merges" }
            let source = try JSONParser.parse(Array(try String(contentsOfFile: dir + "/tokenizer.json", encoding: .utf8).utf8))
            #expect(g["tokenizer.ggml.merges"]?.arrayValue?.count == source["model"]?["merges"]?.arrayValue?.count, "\(name)")
        }
        let keys = expected["keys"]!.arrayValue!
        #expect(ours == keys.map { $0["key"]!.stringValue! }, "\(name): keys and their order")
        for e in keys {
            let k = e["key"]!.stringValue!
            guard let v = g[k], let type = g.metadataTypes[k] else { continue }
            #expect(Int(type.type) == e["type"]!.intValue!, "\(name): type of \(k)")
            if let item = e["item"]?.intValue { #expect(type.item.map(Int.init) == item, "\(name): item type of \(k)") }
            if let want = e["value"] {
                #expect(Self.same(Self.json(v), want), "\(name): \(k) = \(Self.json(v).serialized().prefix(300))")
                continue
            }
            let items = v.arrayValue ?? []
            #expect(items.count == e["count"]!.intValue!, "\(name): length of \(k)")
            #expect(Self.fnv(items, item: type.item ?? 0) == e["fnv1a64"]!.stringValue!, "\(name): items of \(k)")
            let head = e["head"]!.arrayValue!, tail = e["tail"]!.arrayValue!
            #expect(Self.same(.array(items.prefix(head.count).map(Self.json)), .array(head)), "\(name): first items of \(k)")
            #expect(Self.same(.array(items.suffix(tail.count).map(Self.json)), .array(tail)), "\(name): last items of \(k)")
            if let runs = e["runs"]?.arrayValue {
                var ourRuns: [JSONValue] = []
                var last: JSONValue?, n = 0
                for x in items.map(Self.json) {
                    if let l = last, Self.same(l, x) { n += 1; continue }
                    if let l = last { ourRuns.append(.array([l, .int(n)])) }
                    last = x
                    n = 1
                }
                if let l = last { ourRuns.append(.array([l, .int(n)])) }
                #expect(Self.same(.array(ourRuns), .array(runs)), "\(name): runs of \(k): \(JSONValue.array(ourRuns).serialized().prefix(400))")
            }
        }
    }

    /// The GGUF's tokenizer, as MoEKit loads it, gives tokenizer.json's ids on the tokenizer corpus. GGUF
    /// has no field for an added token's lstrip / rstrip / single_word: lines holding such a token (the
    /// gpt2 and llama3 cases' tokenizers have them on purpose) are left out, and only those.
    @Test(arguments: roundTripCases)
    func roundTrip(name: String) throws {
        let (dir, expected, tokBytes) = try Self.checkpoint(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let g = try Self.convert(dir, name)
        let back = try Tokenizer(gguf: g)
        let original = try Tokenizer(tokenizerJSON: tokBytes)
        let flagged = original.addedTokens.map(\.token).filter { $0.lstrip || $0.rstrip || $0.singleWord }.map(\.content)
        let corpus = try JSONParser.parse(try readFile(Self.root + "/MoETokenizerTests/Oracle/corpus.json")).arrayValue!.map { $0.stringValue! }
        var bad: [String] = [], skipped = 0, compared = 0
        for line in corpus {
            let exempt = flagged.contains { line.contains($0) }
            for special in [false, true] {
                let same = back.encode(line, addSpecialTokens: special) == original.encode(line, addSpecialTokens: special)
                if exempt { skipped += 1; continue }
                compared += 1
                if !same { bad.append("\(special ? "with" : "without") special tokens: \(line.debugDescription.prefix(80))") }
            }
        }
        #expect(bad.isEmpty, "\(name): \(bad.count) of \(compared) encodings differ, e.g. \(bad.prefix(5))")
        // Where tokenizer.json is used as it is, the same against HF tokenizers' ids for it.
        if expected["patch"]?.objectMembers?.isEmpty ?? true, let file = expected["tokenizer"]?.stringValue,
           file.hasPrefix("Tests/MoETokenizerTests/Oracle/tokenizers/") {
            let hf = try JSONParser.parse(try readFile(Self.root + "/MoETokenizerTests/Oracle/expected/" + (file as NSString).lastPathComponent)).arrayValue!
            var differ = 0
            for (line, ref) in zip(corpus, hf) where !flagged.contains(where: { line.contains($0) }) {
                if back.encode(line, addSpecialTokens: true).map(Int.init) != ref["ids"]!.arrayValue!.map({ $0.intValue! }) { differ += 1 }
            }
            #expect(differ == 0, "\(name): \(differ) lines differ from HF's ids")
        }
        #expect(compared >= 2 * corpus.count - 8, "\(name): only \(compared) encodings compared (\(skipped) left out)")
    }

    /// A bad tokenizer.json (or tokenizer_config.json) stops the conversion with an error that names the
    /// file and what is wrong, before anything is written.
    @Test func hostileTokenizerFiles() throws {
        let (dir, _, _) = try Self.checkpoint("spm_mistral")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try readFile(dir + "/tokenizer.json")
        let json = try JSONParser.parse(good)
        func with(_ key: String, _ value: JSONValue, in v: JSONValue) -> JSONValue {
            guard case .object(var m) = v else { return v }
            if let i = m.firstIndex(where: { $0.0 == key }) { m[i].1 = value } else { m.append((key, value)) }
            return .object(m)
        }
        let model = json["model"]!
        let vocab = model["vocab"]!.objectMembers!
        let bad: [(file: String, text: String, mentions: [String])] = [
            ("tokenizer.json", "{\"model\": {\"vocab\": ", ["tokenizer.json", "invalid JSON"]),
            ("tokenizer.json", "[1, 2, 3]", ["tokenizer.json", "expected an object"]),
            ("tokenizer.json", with("model", with("vocab", .array([]), in: model), in: json).serialized(), ["tokenizer.json", "model.vocab"]),
            ("tokenizer.json", with("model", with("merges", .array([.string("▁q ▁zz")]), in: model), in: json).serialized(),
             ["tokenizer.json", "model.merges[0]"]),
            ("tokenizer.json", with("model", with("vocab", .object(vocab + [("▁zzz", .int(-5))]), in: model), in: json).serialized(),
             ["tokenizer.json", "model.vocab"]),
            ("tokenizer.json", with("added_tokens", .array([.object([("id", .int(0))])]), in: json).serialized(),
             ["tokenizer.json", "added_tokens[0].content"]),
            ("tokenizer.json", with("pre_tokenizer", .object([("type", .string("Telepathy"))]), in: json).serialized(),
             ["tokenizer.json", "pre_tokenizer.type", "Telepathy"]),
            ("tokenizer_config.json", "{\"bos_token\": \"<s>\",", ["tokenizer_config.json", "invalid JSON"]),
            ("tokenizer_config.json", "[\"<s>\"]", ["tokenizer_config.json", "expected a JSON object"]),
        ]
        for b in bad {
            try Data(b.text.utf8).write(to: URL(fileURLWithPath: dir + "/" + b.file))
            do {
                _ = try Self.convert(dir, "hostile")
                Issue.record("\(b.file) \(b.text.prefix(60)): converted")
            } catch {
                let message = "\(error)"
                for m in b.mentions { #expect(message.contains(m), "\(b.file): \(message)") }
                #expect(message.contains(dir), "the error names the file's path: \(message)")
            }
            try Data(good).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
            try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        }
        // Byte-level BPE whose pre-tokenizer llama.cpp has no name for, and a token past config.json's vocab_size.
        try Data(try readFile(Self.root + "/MoETokenizerTests/Oracle/tokenizers/whitespace_uncased.json")).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        #expect { _ = try Self.convert(dir, "hostile") } throws: { "\($0)".contains(dir + "/tokenizer.json") && "\($0)".contains("pre-tokenizer llama.cpp names") }
        try Data(try readFile(Self.root + "/MoETokenizerTests/Oracle/tokenizers/gpt2_bytelevel.json")).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        #expect { _ = try Self.convert(dir, "hostile") } throws: { "\($0)".contains(dir + "/tokenizer.json") && "\($0)".contains("vocab_size 2257") }
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

extension TokenizerExportTests {
    /// The SmolLM2 case (SmolLM2's tokenizer.json and tokenizer_config.json) converts to the tokenizer of the
    /// published SmolLM2-135M-Instruct GGUF, which llama.cpp's converter made from the original files:
    /// every key and value (only the position of `add_bos_token` differs, the converter of then wrote it first).
    @Test func smolLM2AsPublished() throws {
        try #require(FileManager.default.fileExists(atPath: RealModelTests.gguf),
                     "the SmolLM2 GGUF is missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        let (dir, _, _) = try Self.checkpoint("smollm2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ours = try Self.convert(dir, "smollm2"), published = try GGUFFile(path: RealModelTests.gguf)
        let keys = published.metadata.map(\.0).filter { $0.hasPrefix("tokenizer.") }
        #expect(Set(ours.metadata.map(\.0).filter { $0.hasPrefix("tokenizer.") }) == Set(keys))
        for k in keys {
            #expect(ours[k] == published[k], "\(k)")
            #expect(ours.metadataTypes[k] == published.metadataTypes[k], "type of \(k)")
        }
    }
}
