import Foundation
import Testing

/// The hot kernels in the built `moekit`, disassembled: each must be free of calls (a SIMD
/// operation lowered to a library call per lane, or a helper that failed to inline, shows up as a
/// `call`) and must contain the vector instructions it was written for. x86-64 only: the kernels are
/// compiled for haswell (Package.swift), and this is what proves the flags took effect.
///
/// Checks name their functions by pattern, so kernel variants can be added without touching the
/// test: every symbol that matches is checked (e.g. every `x8_*_vnni` / `*avx512*` kernel must use
/// `vpdpbusd`). A check whose pattern matches nothing fails, so a renamed kernel cannot silently
/// drop out. The disassembler is binutils' objdump/nm, or llvm-objdump/llvm-nm.
///
/// The binary is the `moekit` built with the tests (debug under `swift test`), or the one named by
/// MOEKIT_DISASSEMBLE, e.g. `MOEKIT_DISASSEMBLE=.build/release/moekit swift test --filter KernelDisassemblyTests`
/// after `swift build -c release`.
@Suite struct KernelDisassemblyTests {
    static let binary = ProcessInfo.processInfo.environment["MOEKIT_DISASSEMBLE"] ?? moekitPath

    struct Check: CustomStringConvertible, Sendable {
        /// What the kernel is, for messages.
        var description: String
        /// Which symbols (raw, mangled for Swift) this check covers.
        var matches: @Sendable (String) -> Bool
        /// Each inner list: at least one mnemonic starting with one of these must appear.
        var needs: [[String]]
        /// Call (or tail-call) targets that are allowed, by symbol; none for a kernel.
        var mayCall: @Sendable (String) -> Bool = { _ in false }
        /// When true, `needs` is checked over all matching symbols together (a dispatcher with
        /// the kernels inlined into it or beside it), not per symbol.
        var needsOverAll = false
        /// How many symbols must match at least.
        var minimum = 1
    }

    static let checks: [Check] = [
        Check(description: "q8 integer dot moe_dot_q8_tokens (with its static helpers inlined)",
              matches: { $0 == "moe_dot_q8_tokens" }, needs: [["vpmaddubsw", "vpdpbusd"], ["vpmaddwd", "vpdpbusd"], ["vfmadd"]]),
        Check(description: "q8 activation quantisation moe_quantize_q8_act",
              matches: { $0 == "moe_quantize_q8_act" }, needs: [["vcvtps2dq"], ["vpacksswb"], ["vmaxps"]]),
        Check(description: "Q4_0 f32 dot moe_dot_q4_0_f32",
              matches: { $0 == "moe_dot_q4_0_f32" }, needs: [["vfmadd"], ["vcvtdq2ps"]]),
        // AVX-512 variants: whatever their number, each must use the VNNI dot instruction.
        Check(description: "AVX-512 VNNI q8 kernels (x8_*_vnni, q8 kernels named *avx512*)",
              matches: { ($0.hasPrefix("x8_") || $0.contains("q8")) && ($0.hasSuffix("_vnni") || $0.contains("avx512")) },
              needs: [["vpdpbusd"]]),
        // The AVX2 eight-row kernels are inlined into their dispatcher (or stand beside it as
        // x8_*_avx2); the dispatcher may call the VNNI kernels and the CPU feature probe.
        Check(description: "AVX2 eight-row q8 kernels (moe_dot_q8_x8_tokens_with, x8_*_avx2)",
              matches: { $0 == "moe_dot_q8_x8_tokens_with" || ($0.hasPrefix("x8_") && $0.hasSuffix("_avx2")) },
              needs: [["vpmaddubsw"], ["vpmaddwd"]],
              mayCall: { $0.hasPrefix("x8_") || $0 == "moe_has_vnni" || $0.hasPrefix("__cpu_indicator_init") },
              needsOverAll: true),
        Check(description: "Swift dotF32", matches: swiftFunction("dotF32"), needs: [["vfmadd"]]),
        Check(description: "Swift dotF16", matches: swiftFunction("dotF16"), needs: [["vfmadd"], ["vcvtph2ps"]]),
        Check(description: "Swift dotBF16", matches: swiftFunction("dotBF16"), needs: [["vfmadd"], ["vpmovzxwd"], ["vpslld"]]),
        // The FP8 dot (fp8.c), with its one-token path inlined.
        Check(description: "FP8 e4m3 dot moe_dot_fp8_tokens", matches: { $0 == "moe_dot_fp8_tokens" },
              needs: [["vfmadd"], ["vcvtph2ps"]]),
        // bf16act.c: the AVX-512 tiles (FP8 bytes through two byte tables into bf16, vdpbf16ps) and
        // the portable AVX2 path in the dispatcher, which may call only the tiles and the CPU probe (once).
        Check(description: "AVX-512 BF16/FP8 x bf16 tiles rows_native", matches: { $0 == "rows_native" },
              needs: [["vdpbf16ps"], ["vpermi2b", "vpermt2b"], ["vpermb"], ["vpunpcklbw"], ["prefetcht1"]]),
        Check(description: "AVX2 BF16/FP8 x bf16 moe_dot_bf16act_rows_with", matches: { $0 == "moe_dot_bf16act_rows_with" },
              needs: [["vfmadd"], ["vcvtph2ps"], ["vpmovzxwd"]],
              mayCall: { $0 == "rows_native" || $0 == "moe_bf16act_native" || $0.hasPrefix("pthread_once") }),
        // wide.c: F32/F16/BF16 × f32. The dispatcher holds the AVX2 one- and two-token tiles and may
        // call the AVX-512 four-token tiles, the packed panels (with their buffer) and the CPU probe.
        Check(description: "AVX2 F32/F16/BF16 x f32 moe_dot_wide_rows", matches: { $0 == "moe_dot_wide_rows" },
              needs: [["vfmadd"], ["vcvtph2ps"], ["vpmovzxwd"]],
              mayCall: { ["gemm_avx512", "rows4_avx512"].contains($0) || $0.hasPrefix("aligned_alloc")
                  || $0.hasPrefix("free") || $0.hasPrefix("__cpu_indicator_init") }),
        Check(description: "AVX-512 four-token tiles rows4_avx512", matches: { $0 == "rows4_avx512" },
              needs: [["vfmadd"], ["vcvtph2ps"], ["vpmovzxwd"]]),
        Check(description: "AVX-512 packed panels gemm_avx512", matches: { $0 == "gemm_avx512" },
              needs: [["vfmadd"], ["vcvtph2ps"], ["vpmovzxwd"]], mayCall: { $0.hasPrefix("memset") }),
    ]

    /// A top-level Swift function `name` of MoETensor, any signature (`$s9MoETensor<len><name>y...F`).
    static func swiftFunction(_ name: String) -> @Sendable (String) -> Bool {
        let prefix = "$s9MoETensor\(name.utf8.count)\(name)y"
        return { $0.hasPrefix(prefix) && $0.hasSuffix("F") }
    }

    @Test func hotKernelsAreCallFreeAndVectorised() throws {
        #if arch(x86_64)
        let bin = try Binary(path: Self.binary)
        if Self.skipInstrumented(bin) { return }
        var checked: [String] = []
        for check in Self.checks {
            try verify(check, in: bin, checked: &checked)
        }
        print("KernelDisassemblyTests: checked \(checked.count) kernels: \(checked.joined(separator: ", "))")
        #else
        print("KernelDisassemblyTests: skipped, the kernel flags and this check are for x86-64 only")
        #endif
    }

    func verify(_ check: Check, in bin: Binary, checked: inout [String]) throws {
        let names = bin.symbols.keys.filter(check.matches).sorted()
        #expect(names.count >= check.minimum,
                "\(check): no symbol matches in \(bin.path) (renamed? update KernelDisassemblyTests.checks)")
        var all: [Binary.Instruction] = []
        func lacks(_ code: [Binary.Instruction]) -> [[String]] {
            check.needs.filter { group in !code.contains { i in group.contains { i.mnemonic.hasPrefix($0) } } }
        }
        for name in names {
            let code = try bin.disassemble(name)
            #expect(!code.isEmpty, "\(check): \(name) disassembles to nothing")
            var reported = Set<String>()   // each callee once
            for branch in code where branch.isCall || branch.isJump {
                guard let target = branch.leavesFunction(bin.symbols[name]!), reported.insert(target).inserted else { continue }
                #expect(check.mayCall(target), "\(check): \(name) calls \(target): \(branch.text)")
            }
            if check.needsOverAll {
                all += code
            } else {
                for group in lacks(code) {
                    Issue.record("\(check): \(name) has no \(group.joined(separator: " or ")) (compiled without the haswell flags?)")
                }
            }
            checked.append(name)
        }
        if check.needsOverAll && !names.isEmpty {
            for group in lacks(all) {
                Issue.record("\(check): none of \(names) has \(group.joined(separator: " or "))")
            }
        }
    }

    /// The CPU check runs first and runs on any x86-64: in `main`, the call to the check
    /// (requireSupportedCPU, or moe_cpu_supported where that was inlined) comes before any call
    /// other than to the Swift runtime and standard library, and no AVX (VEX-encoded, `v…`)
    /// instruction comes before it; the check itself (compiled without -march=haswell) has none.
    @Test func cpuCheckRunsFirstAndUsesNoAVX() throws {
        #if arch(x86_64)
        let bin = try Binary(path: Self.binary)
        if Self.skipInstrumented(bin) { return }
        let entry = ["moekit_main", "main"].first { bin.symbols[$0]?.size ?? 0 > 0 }
        let mainName = try #require(entry, "no main in \(bin.path)")
        let isRequire = Self.swiftMoekitFunction("requireSupportedCPU")
        let isCheck: (String) -> Bool = { isRequire($0) || $0 == "moe_cpu_supported" }
        let code = try bin.disassemble(mainName)
        let at = try #require(code.firstIndex { $0.isCall && $0.target.map(isCheck) == true },
                              "\(mainName) never calls requireSupportedCPU or moe_cpu_supported")
        let runtime = ["swift_", "$ss", "$sS", "memset", "memcpy", "malloc"]
        for i in code[..<at] {
            if i.isCall, let t = i.target, !runtime.contains(where: { t.hasPrefix($0) }) {
                Issue.record("\(mainName) calls \(t) before the CPU check: \(i.text)")
            }
            if Self.usesAVX(i) { Issue.record("\(mainName) runs \(i.text) before the CPU check") }
        }
        let checkers = bin.symbols.keys.filter { isCheck($0) || $0 == "listed" }.sorted()
        #expect(checkers.contains("moe_cpu_supported"))
        for name in checkers {
            for i in try bin.disassemble(name) where Self.usesAVX(i) {
                Issue.record("\(name) uses \(i.text), which a CPU without AVX cannot run")
            }
        }
        #else
        print("KernelDisassemblyTests: skipped, the CPU check is for x86-64 only")
        #endif
    }

    /// An AddressSanitizer build (`swift test --sanitize=address`) puts a call to the sanitizer
    /// before every memory access, so its kernels cannot pass: say so and check nothing. `.ci/run`
    /// points MOEKIT_DISASSEMBLE at the uninstrumented release binary for its sanitizer run.
    static func skipInstrumented(_ bin: Binary) -> Bool {
        guard bin.symbols["__asan_init"] != nil else { return false }
        print("KernelDisassemblyTests: skipped, \(bin.path) is built with AddressSanitizer (set MOEKIT_DISASSEMBLE to an uninstrumented moekit)")
        return true
    }

    static func usesAVX(_ i: Binary.Instruction) -> Bool {
        i.mnemonic.hasPrefix("v") || i.text.contains("%ymm") || i.text.contains("%zmm")
    }

    /// A function of the moekit module (`$s6moekit<len><name>y...F`).
    static func swiftMoekitFunction(_ name: String) -> @Sendable (String) -> Bool {
        let prefix = "$s6moekit\(name.utf8.count)\(name)y"
        return { $0.hasPrefix(prefix) && $0.hasSuffix("F") }
    }
}

/// Symbols (nm) and disassembly (objdump) of an executable.
struct Binary {
    struct Symbol { var address: UInt64; var size: UInt64 }
    struct Instruction {
        var address: UInt64
        var mnemonic: String
        /// The whole line after the address.
        var text: String
        /// Direct branch target and its symbol, if the disassembler printed them (`call 1234 <f>`).
        var targetAddress: UInt64?
        var target: String?

        var isCall: Bool { mnemonic.hasPrefix("call") }
        var isJump: Bool { mnemonic.hasPrefix("j") }

        /// The function this branch goes to when it leaves `function` (a call, or a tail-call
        /// jump), or nil when it stays inside. A jump through a register is a jump table, not a call.
        func leavesFunction(_ function: Symbol) -> String? {
            if let a = targetAddress {
                return a >= function.address && a < function.address + function.size ? nil : (target ?? String(a, radix: 16))
            }
            if isJump && text.contains("*%") { return nil }
            return isCall || isJump ? "an indirect target (\(text))" : nil
        }
    }

    let path: String
    let symbols: [String: Symbol]
    let objdump: String

    init(path: String) throws {
        self.path = path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Failure("moekit not found (\(path))") }
        let tools = try Binary.tools()
        objdump = tools.objdump
        var table: [String: Symbol] = [:]
        // "address size type name" for defined symbols with a size.
        for line in try Binary.run(tools.nm, ["-S", "--defined-only", path]).split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 3)
            guard f.count == 4, let a = UInt64(f[0], radix: 16), let s = UInt64(f[1], radix: 16), "tTwW".contains(f[2]) else { continue }
            let name = String(f[3])
            if let old = table[name], old.size >= s { continue }
            table[name] = Symbol(address: a, size: s)
        }
        symbols = table
    }

    func disassemble(_ name: String) throws -> [Instruction] {
        guard let s = symbols[name], s.size > 0 else { return [] }
        let out = try Binary.run(objdump, ["-d", "--no-show-raw-insn", "--start-address=0x" + String(s.address, radix: 16),
                                           "--stop-address=0x" + String(s.address + s.size, radix: 16), path])
        var code: [Instruction] = []
        for line in out.split(separator: "\n") {
            // "  1e74d0:\tvpxor  %xmm0,%xmm0,%xmm0" (objdump) or "  1e74d0: \tvpxor\t..." (llvm-objdump)
            guard let colon = line.firstIndex(of: ":"),
                  let address = UInt64(line[..<colon].trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
            let text = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            while let w = words.first, ["notrack", "bnd", "rep", "repz", "repe", "repnz", "repne", "lock", "data16", "cs", "ds"].contains(w) {
                words.removeFirst()
            }
            guard let mnemonic = words.first else { continue }
            var targetAddress: UInt64?, target: String?
            if mnemonic.hasPrefix("call") || mnemonic.hasPrefix("j"), words.count >= 2 {
                targetAddress = UInt64(words[1].hasPrefix("0x") ? String(words[1].dropFirst(2)) : words[1], radix: 16)
                if let lt = text.firstIndex(of: "<"), let gt = text.lastIndex(of: ">"), lt < gt {
                    let sym = text[text.index(after: lt)..<gt]
                    // "f+0x12" inside f, "f@plt" for a library call.
                    target = String(sym.split(separator: "+").first ?? sym)
                }
            }
            code.append(Instruction(address: address, mnemonic: mnemonic, text: text, targetAddress: targetAddress, target: target))
        }
        return code
    }

    /// binutils' objdump and nm, or LLVM's (from PATH or the Swift toolchain).
    static func tools() throws -> (objdump: String, nm: String) {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        dirs += ["/usr/bin", "/usr/local/bin", "/opt/swift/usr/bin"]
        func find(_ name: String) -> String? {
            dirs.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        if let o = find("objdump"), let n = find("nm") { return (o, n) }
        if let o = find("llvm-objdump"), let n = find("llvm-nm") { return (o, n) }
        throw Failure("neither objdump/nm (binutils) nor llvm-objdump/llvm-nm found in \(dirs)")
    }

    static func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure("\(tool) \(args.joined(separator: " ")): status \(p.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
