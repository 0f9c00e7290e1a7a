import Foundation
import Testing

/// `moekit` refuses a CPU without AVX2, FMA or F16C with one line and status 1, before it parses
/// its arguments or runs any kernel. MOEKIT_SIMULATE_MISSING_CPU makes the check treat the listed
/// features as missing (see Sources/MoECPUCheck); KernelDisassemblyTests checks that the check
/// runs first and uses no AVX instruction itself.
@Suite struct CPUCheckTests {
    @Test func missingFeaturesAreRefusedWithOneLine() throws {
        #if arch(x86_64)
        let cases: [(simulate: String, lacks: String)] = [
            ("avx2", "AVX2"), ("fma", "FMA"), ("f16c", "F16C"), ("avx2,fma", "AVX2, FMA"),
            (" F16C , AVX2", "AVX2, F16C"), ("fma,avx2,f16c", "AVX2, FMA, F16C"),
        ]
        for c in cases {
            for args in [["info"], ["--help"], ["generate", fixtures + "/llama", "--tokens", "1"]] {
                let r = try runMoekit(args, environment: ["MOEKIT_SIMULATE_MISSING_CPU": c.simulate])
                #expect(r.status == 1, "\(c.simulate) \(args): status \(r.status)")
                #expect(r.stdout.isEmpty, "\(c.simulate) \(args): \(r.stdout)")
                #expect(r.stderr == "moekit: error: this CPU lacks \(c.lacks) (MoEKit's x86-64 build needs AVX2, FMA and F16C)\n",
                        "\(c.simulate) \(args): \(r.stderr)")
            }
        }
        #else
        print("CPUCheckTests: skipped, the CPU floor (AVX2, FMA, F16C) is x86-64's")
        #endif
    }

    /// Names that are not among the three required features simulate nothing.
    @Test func otherNamesChangeNothing() throws {
        for simulate in ["", "avx512f", "avx", "sse2,avx2x"] {
            let r = try runMoekit(["inspect", "mixtral-8x7b", "--json"], environment: ["MOEKIT_SIMULATE_MISSING_CPU": simulate])
            #expect(r.status == 0, "'\(simulate)': \(r.stderr)")
            #expect(r.stderr.isEmpty, "'\(simulate)': \(r.stderr)")
        }
    }
}
