import Foundation
import Testing
import MoEFormats

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tiny").path

/// The `moekit` executable built next to the test bundle.
let moekitPath: String = {
    var candidates: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
    candidates.append(Bundle.main.bundleURL)
    for c in candidates {
        var dir = c
        for _ in 0..<4 {
            let p = dir.appendingPathComponent("moekit").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
    }
    return "moekit-not-found"
}()

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `moekit` with `args`; `environment` is added to this process's environment.
func runMoekit(_ args: [String], environment: [String: String] = [:]) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: moekitPath)
    p.arguments = args
    if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func oracle(_ name: String) throws -> JSONValue {
    try JSONParser.parse(readFile(fixtures + "/\(name)/oracle.json"))
}

@Suite(.serialized) struct CLITests {
    @Test func executableIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: moekitPath), "moekit not found near \(CommandLine.arguments[0])")
    }

    @Test func logitsJSONMatchesTransformers() throws {
        let o = try oracle("qwen2_moe")
        let ids = o["input_ids"]!.arrayValue!.map { String($0.intValue!) }.joined(separator: ",")
        // qwen2_moe holds BF16 weights: f32 activations are the exact mode (the default rounds them to bf16).
        let r = try runMoekit(["logits", fixtures + "/qwen2_moe", "--tokens", ids, "--json", "--activations", "f32"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONParser.parse(r.stdout)
        let rows = json["logits"]!.arrayValue!
        let ref = o["logits"]!.arrayValue!
        #expect(rows.count == ref.count)
        for (row, refRow) in zip(rows, ref) {
            let a = row.arrayValue!.map { $0.doubleValue! }, b = refRow.arrayValue!.map { $0.doubleValue! }
            #expect(a.count == b.count)
            let scale = b.map(abs).max()!
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-4 * scale)
        }
    }

    /// `--top K --json`: the K largest logits per position, matching transformers' top tokens.
    @Test func logitsTopK() throws {
        let o = try oracle("qwen2_moe")
        let ids = o["input_ids"]!.arrayValue!.map { String($0.intValue!) }.joined(separator: ",")
        let r = try runMoekit(["logits", fixtures + "/qwen2_moe", "--tokens", ids, "--json", "--top", "3", "--activations", "f32"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try JSONParser.parse(r.stdout)["top"]!.arrayValue!
        let ref = o["logits"]!.arrayValue!
        #expect(rows.count == ref.count)
        for (row, refRow) in zip(rows, ref) {
            let b = refRow.arrayValue!.map { $0.doubleValue! }
            let pairs = row.arrayValue!.map { ($0.arrayValue![0].intValue!, $0.arrayValue![1].doubleValue!) }
            #expect(pairs.count == 3)
            #expect(pairs[0].0 == b.indices.max { b[$0] < b[$1] }!)
            for (id, v) in pairs { #expect(abs(v - b[id]) <= 1e-4 * b.map(abs).max()!) }
            #expect(pairs[0].1 >= pairs[1].1 && pairs[1].1 >= pairs[2].1)
        }
        #expect(try runMoekit(["logits", fixtures + "/qwen2_moe", "--tokens", "1", "--json", "--top", "0"]).status == 1)
    }

    @Test func generateJSONWithExpertTrace() throws {
        let o = try oracle("mixtral")
        let ids = o["input_ids"]!.arrayValue!.map { String($0.intValue!) }.joined(separator: ",")
        let r = try runMoekit(["generate", fixtures + "/mixtral", "--tokens", ids, "--max-tokens", "16",
                               "--temperature", "0", "--json", "--trace-experts"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONParser.parse(r.stdout)
        #expect(json["tokens"] == o["greedy"])
        #expect(json["experts"] == o["experts"])
    }

    @Test func generateJSONWithoutTraceHasOnlyTokens() throws {
        let r = try runMoekit(["generate", fixtures + "/llama", "--tokens", "1,2,3", "--max-tokens", "4", "--temperature", "0", "--json"])
        #expect(r.status == 0)
        let json = try JSONParser.parse(r.stdout)
        #expect(json.objectMembers?.map(\.0) == ["tokens"])
        #expect(json["tokens"]?.arrayValue?.count == 4)
    }

    @Test func errorsAreOneLineWithStatusOne() throws {
        let cases: [[String]] = [
            ["logits", "/nonexistent/model", "--tokens", "1,2", "--json"],
            ["logits", fixtures + "/llama", "--tokens", "1,x", "--json"],
            ["logits", fixtures + "/llama", "--tokens", "1,999999", "--json"],
            ["generate", fixtures + "/llama", "--tokens", "1", "--top-p", "0"],
        ]
        for args in cases {
            let r = try runMoekit(args)
            #expect(r.status == 1, "\(args): status \(r.status)")
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("moekit: error: "), "\(args): \(r.stderr)")
        }
    }

    @Test func demoRuns() throws {
        let dir = NSTemporaryDirectory() + "moekit-cli-demo-\(getpid())"
        let r = try runMoekit(["demo", "--dir", dir, "--max-tokens", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("active per token"))
        #expect(r.stdout.contains("experts fired"))
    }
}

@Suite struct InspectCLITests {
    @Test func glm52JSON() throws {
        let r = try runMoekit(["inspect", "glm-5.2", "--json", "--context", "4096"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONParser.parse(r.stdout)
        for key in ["total_params", "checkpoint_params", "active_params_core", "active_params_compute", "active_params_all",
                    "flops_per_token", "weight_bytes", "kv_bytes_per_token", "gpus_needed"] {
            #expect(j[key] != nil, "missing \(key)")
        }
        #expect(j["total_params"]?.intValue == 743_377_000_704)
        #expect(j["active_params_core"]?.intValue == 39_347_345_664)
        #expect(j["weight_bytes"]?["FP8"]?.intValue != nil)
        #expect(j["gpus_needed"]?["H100 80GB"]?["FP8"]?.intValue == 11)
    }

    @Test func markdownAndErrors() throws {
        let md = try runMoekit(["inspect", "mixtral-8x7b", "--markdown"])
        #expect(md.status == 0 && md.stdout.contains("| Parameters held (total) | 46.70B |"))
        let bad = try runMoekit(["inspect", "no-such-model"])
        #expect(bad.status == 1 && bad.stderr.contains("neither a preset"))
    }

    @Test func traceWritesJSONLinesAndHTML() throws {
        let out = NSTemporaryDirectory() + "moekit-trace-\(getpid())"
        let r = try runMoekit(["trace", fixtures + "/olmoe", "--tokens", "1,2,3", "--max-tokens", "4", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: out + "/trace.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 7 * 2)   // (3 prompt + 4 generated) positions × 2 MoE layers
        let first = try JSONParser.parse(String(lines[0]))
        #expect(first["layer"]?.intValue == 0 && first["experts"]?.arrayValue?.count == 2 && first["weights"]?.arrayValue?.count == 2)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("agrees"))
    }
}

/// Text in, text out with the real SmolLM2 GGUF (fetched by scripts/fetch_models.sh).
@Suite(.serialized) struct TextCLITests {
    static let gguf = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    @Test func tokenizeContract() throws {
        try #require(FileManager.default.fileExists(atPath: Self.gguf), "run scripts/fetch_models.sh")
        let r = try runMoekit(["tokenize", Self.gguf, "--text", "Hello, world! 123", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        // HF tokenizers on SmolLM2's tokenizer.json: digits one by one.
        #expect(try JSONParser.parse(r.stdout) == .object([("tokens", .array([19556, 28, 905, 17, 216, 33, 34, 35].map { .int($0) }))]))
    }

    @Test func runAnswersInEnglish() throws {
        try #require(FileManager.default.fileExists(atPath: Self.gguf), "run scripts/fetch_models.sh")
        // The reference prompt (Tests/Fixtures/smollm2). Without "Answer in one sentence." the first
        // token is a near tie ("The" vs "L", 0.06 apart in llama.cpp, which picks "L" and goes on
        // in French; so does MoEKit's default int8-activation path, token for token).
        let r = try runMoekit(["run", Self.gguf, "What is the capital of France? Answer in one sentence.", "--max-tokens", "30"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Paris"), "\(r.stdout)")
        #expect(r.stderr.contains("tok/s"))
        let g = try runMoekit(["generate", Self.gguf, "--prompt", "The capital of France is", "--max-tokens", "3", "--json"])
        let j = try JSONParser.parse(g.stdout)
        #expect(j["tokens"]?.arrayValue?.count == 3 && j["text"]?.stringValue?.contains("Paris") == true, "\(g.stdout)")
    }

    /// `moekit chat` driven through a pseudo-terminal, as a person would: two turns with history,
    /// /stats, /reset, /exit.
    @Test func chatThroughAPseudoTerminal() throws {
        try #require(FileManager.default.fileExists(atPath: Self.gguf), "run scripts/fetch_models.sh")
        var master: Int32 = 0, slave: Int32 = 0
        #expect(openpty(&master, &slave, nil, nil, nil) == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: moekitPath)
        p.arguments = ["chat", Self.gguf, "--max-tokens", "40"]
        let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        p.standardInput = tty
        p.standardOutput = tty
        p.standardError = tty
        try p.run()
        // The slave fd is not closed here: Process may already have closed it after spawning, and
        // a second close could hit a descriptor another test has just opened.
        let input = FileHandle(fileDescriptor: master, closeOnDealloc: false)
        var transcript = ""
        // Waits for the next prompt: new output after `start` that ends with the marker.
        func readUntil(_ marker: String, after start: Int = 0, timeout: Double = 60) {
            let deadline = Date().addingTimeInterval(timeout)
            while !(transcript.count > start && transcript.dropFirst(start).hasSuffix(marker)) && Date() < deadline {
                var buf = [UInt8](repeating: 0, count: 4096)
                var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 200) > 0 else { continue }
                let n = read(master, &buf, buf.count)
                if n <= 0 { break }
                transcript += String(decoding: buf[0..<n], as: UTF8.self)
            }
        }
        readUntil("> ")
        for line in ["What is the capital of France? Answer in one sentence.", "/stats", "/reset"] {
            let start = transcript.count + line.count   // the terminal echoes the line first
            input.write(Data((line + "\n").utf8))
            readUntil("> ", after: start)
        }
        input.write(Data("/exit\n".utf8))
        p.waitUntilExit()
        close(master)
        #expect(p.terminationStatus == 0)
        #expect(transcript.contains("Paris"), "\(transcript)")
        #expect(transcript.contains("tok/s") && transcript.contains("(history cleared)"), "\(transcript)")
    }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct BenchCLITests {
    @Test func benchJSONContract() throws {
        let r = try runMoekit(["bench", fixtures + "/qwen3_moe", "-p", "16", "-n", "4", "-t", "2", "-r", "2", "--json", "--stats"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONParser.parse(r.stdout)
        #expect((j["pp_tokens_per_s"]?.doubleValue ?? 0) > 0 && (j["tg_tokens_per_s"]?.doubleValue ?? 0) > 0)
        #expect((j["weight_bytes_per_token"]?.doubleValue ?? 0) > 0 && j["roofline_share"] != nil && j["tg"]?["stddev"] != nil)
        // Every decoded token's measured costs agree with the prediction from config.json.
        let rows = try #require(j["stats"]?.arrayValue)
        #expect(rows.count == 4 && rows.allSatisfy { $0["agrees"] == .bool(true) })
    }

    /// `-d`: the tests run after that many context tokens (llama-bench's depth); the decoded tokens'
    /// measured costs, attention over the longer context included, still agree with the prediction.
    @Test func benchAtDepth() throws {
        let r = try runMoekit(["bench", fixtures + "/qwen3_moe", "-p", "8", "-n", "3", "-d", "40", "-t", "2", "-r", "1", "--json", "--stats"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONParser.parse(r.stdout)
        #expect(j["n_depth"]?.intValue == 40 && (j["tg_tokens_per_s"]?.doubleValue ?? 0) > 0)
        // The decoded tokens (positions 40, 41, 42) read 41, 42 and 43 cached rows of keys and values
        // per key/value head and layer, keys and values: qwen3_moe has 4 layers, 2 key/value heads of
        // 16 floats.
        let cache = try #require(j["cache_bytes_per_token"]?.doubleValue)
        #expect(cache == Double(42 * 4 * 2 * 16 * 2 * 4), "cache bytes per token \(cache)")
        let rows = try #require(j["stats"]?.arrayValue)
        #expect(rows.count == 3 && rows.allSatisfy { $0["agrees"] == .bool(true) }, "\(rows)")
        let bad = try runMoekit(["bench", fixtures + "/qwen3_moe", "-d", "-1"])
        #expect(bad.status != 0)
    }
}

@Suite struct BadTokenizerTests {
    /// A broken tokenizer.json does not stop the model from running on token ids; asking for text
    /// reports what is wrong with it.
    @Test func brokenTokenizerIsReportedWhenTextIsNeeded() throws {
        let d = NSTemporaryDirectory() + "moekit-badtok-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        try FileManager.default.copyItem(atPath: fixtures + "/llama", toPath: d)
        try "{\"model\": {\"type\": \"BPE\"".write(toFile: d + "/tokenizer.json", atomically: true, encoding: .utf8)
        let ids = try runMoekit(["generate", d, "--tokens", "1,2", "--max-tokens", "2", "--json"])
        #expect(ids.status == 0, "\(ids.stderr)")
        let text = try runMoekit(["run", d, "hello", "--max-tokens", "2"])
        #expect(text.status == 1 && text.stderr.contains("tokenizer.json"), "\(text.stderr)")
    }
}

@Suite struct QuantizeTokenizerCLITests {
    /// `moekit quantize` from a checkpoint with a tokenizer.json writes that tokenizer: the file
    /// tokenizes as the directory does; a broken tokenizer.json stops it with the file's name.
    @Test func checkpointTokenizerIsConverted() throws {
        let d = NSTemporaryDirectory() + "moekit-quanttok-\(getpid())", out = d + ".gguf"
        defer { try? FileManager.default.removeItem(atPath: d); unlink(out) }
        try? FileManager.default.removeItem(atPath: d)
        try FileManager.default.copyItem(atPath: fixtures + "/llama", toPath: d)
        let oracle = URL(fileURLWithPath: fixtures).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MoETokenizerTests/Oracle/tokenizers/spm_metaspace.json").path
        try FileManager.default.copyItem(atPath: oracle, toPath: d + "/tokenizer.json")
        try #"{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "additional_special_tokens": ["[INST]"], "chat_template": "{{ messages[0].content }}"}"#
            .write(toFile: d + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        let q = try runMoekit(["quantize", d, out, "--type", "F32"])
        #expect(q.status == 0, "\(q.stderr)")
        let text = "[INST] Héllo, wörld! 12345 [/INST]"
        let fromDir = try runMoekit(["tokenize", d, "--text", text, "--json"])
        let fromFile = try runMoekit(["tokenize", out, "--text", text, "--json"])
        #expect(fromDir.status == 0 && fromFile.status == 0, "\(fromDir.stderr) \(fromFile.stderr)")
        #expect(fromFile.stdout == fromDir.stdout && fromDir.stdout.hasPrefix("{\"tokens\": [1, "), "\(fromFile.stdout) vs \(fromDir.stdout)")

        try "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}".write(toFile: d + "/tokenizer.json", atomically: true, encoding: .utf8)
        unlink(out)
        let bad = try runMoekit(["quantize", d, out, "--type", "F32"])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("moekit: error: \(d)/tokenizer.json: key 'model.merges[0]'"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
