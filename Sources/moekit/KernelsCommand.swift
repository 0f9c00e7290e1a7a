import ArgumentParser
import MoETensor

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure matrix-vector throughput per weight format (F32, BF16, F16, FP8 and the GGML block types) against memory bandwidth.")

    @Option(help: "Matrix rows. The default, 65536 × 8192, makes every format's matrix (even Q2_K's, 168 MB) far larger than the caches: at 128 MB a CPU with a 32 MB L3 was measured serving part of an FP8 matrix from cache.")
    var rows = 65536

    @Option(help: "Matrix columns.")
    var cols = 8192

    @Option(help: "Timed runs per format (the median counts).")
    var repetitions = 20

    @Option(name: [.customShort("t"), .long], help: "Comma-separated thread counts.")
    var threads = "1,2"

    func run() throws {
        let (elements, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard rows > 0, cols > 0, !overflow, elements <= 1 << 31 else { throw CLIError("--rows × --cols must be positive and at most 2^31") }
        guard cols % 256 == 0 else { throw CLIError("--cols must be a multiple of 256 (the K-quants' super-block)") }
        let counts = try threads.split(separator: ",").map { s -> Int in
            guard let t = Int(s), t >= 1, t <= 1024 else { throw CLIError("--threads: '\(s)' is not a thread count") }
            return t
        }
        print("matrix-vector product, \(rows)×\(cols) weights, median of \(repetitions) (min–max)")
        print("format    threads  memory GB/s (read)  weights read GB/s  G weights/s  ms/product")
        let formats: [(DType, ActivationFormat)] = [(.f32, .q8), (.bf16, .q8), (.bf16, .f32), (.f16, .q8), (.f8e4m3, .q8), (.f8e4m3, .f32)]
            + [DType.q8_0, .q6_K, .q5_K, .q5_1, .q5_0, .q4_K, .q4_1, .q4_0, .mxfp4, .q3_K, .q2_K].map { ($0, .q8) }
        let pools = counts.map { ThreadPool(threads: $0) }
        let bandwidths = pools.map { measureReadBandwidth(pool: $0) / 1e9 }
        // Each matrix is built once (they are hundreds of MB) and timed at every thread count; the
        // tables print per thread count.
        var lines = [[String]](repeating: [], count: counts.count)
        var bf16: MatVecBench?, fp8: MatVecBench?
        for (dtype, act) in formats {
            let bench = MatVecBench(dtype: dtype, rows: rows, cols: cols, activations: act)
            if act == .q8 && dtype == .bf16 { bf16 = bench }
            if act == .q8 && dtype == .f8e4m3 { fp8 = bench }
            let name = (dtype == .f8e4m3 ? "FP8" : dtype.rawValue) + (act == .f32 && dtype != .f32 ? " f32" : "")
            for (i, pool) in pools.enumerated() {
                let r = benchmarkMatVec(bench, repetitions: repetitions, pool: pool), bandwidth = bandwidths[i]
                lines[i].append("\(pad(name, 8))  \(pad(String(counts[i]), 7))  \(pad(format(bandwidth), 18))  \(pad(format(r.gigabytesPerSecond) + " (\(Int((100 * r.gigabytesPerSecond / bandwidth).rounded()))%)", 17))  \(pad(format(r.gigaweightsPerSecond, digits: 2), 11))  \(format(r.medianSeconds * 1e3, digits: 2)) (\(format(r.minSeconds * 1e3, digits: 2))–\(format(r.maxSeconds * 1e3, digits: 2)))")
            }
        }
        for table in lines {
            print(String(repeating: "-", count: 76))
            for line in table { print(line) }
        }
        print("BF16 and FP8 take activations rounded to bf16 (the default); \"f32\": --activations f32, exact.")
        // The FP8 target is BF16's speed per byte: time the two alternately, so noise hits both.
        guard let bf16, let fp8 else { return }
        for (t, pool) in zip(counts, pools) {
            let (b, f) = compareMatVec(bf16, fp8, rounds: repetitions, pool: pool)
            print("FP8 vs BF16 per byte, \(t) thread(s), alternating: BF16 \(format(b / 1e9)) GB/s, FP8 \(format(f / 1e9)) GB/s: \(format(f / b, digits: 2))x")
        }
    }
}

func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
