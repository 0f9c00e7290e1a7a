import ArgumentParser
import MoETensor

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure matrix-vector throughput per weight format (F32, BF16, F16, FP8) against memory bandwidth.")

    @Option(help: "Matrix rows.")
    var rows = 8192

    @Option(help: "Matrix columns.")
    var cols = 8192

    @Option(help: "Timed runs per format (the median counts).")
    var repetitions = 20

    @Option(name: [.customShort("t"), .long], help: "Comma-separated thread counts.")
    var threads = "1,2"

    func run() throws {
        guard rows > 0, cols > 0, rows * cols <= 1 << 31 else { throw CLIError("--rows × --cols must be positive and at most 2^31") }
        let counts = try threads.split(separator: ",").map { s -> Int in
            guard let t = Int(s), t >= 1, t <= 1024 else { throw CLIError("--threads: '\(s)' is not a thread count") }
            return t
        }
        print("matrix-vector product, \(rows)×\(cols) weights, median of \(repetitions) (min–max)")
        print("format  threads  memory GB/s (read)  weights read GB/s  G weights/s  ms/product")
        for t in counts {
            let pool = ThreadPool(threads: t)
            let bandwidth = measureReadBandwidth(pool: pool) / 1e9
            print(String(repeating: "-", count: 72))
            for dtype in [DType.f32, .bf16, .f16, .f8e4m3, .q8_0, .q6_K, .q5_K, .q5_1, .q5_0, .q4_K, .q4_1, .q4_0, .mxfp4, .q3_K, .q2_K] {
                let r = benchmarkMatVec(dtype: dtype, rows: rows, cols: cols, repetitions: repetitions, pool: pool)
                let name = dtype == .f8e4m3 ? "FP8" : dtype.rawValue
                print("\(pad(name, 6))  \(pad(String(t), 7))  \(pad(format(bandwidth), 18))  \(pad(format(r.gigabytesPerSecond) + " (\(Int((100 * r.gigabytesPerSecond / bandwidth).rounded()))%)", 17))  \(pad(format(r.gigaweightsPerSecond, digits: 2), 11))  \(format(r.medianSeconds * 1e3, digits: 2)) (\(format(r.minSeconds * 1e3, digits: 2))–\(format(r.maxSeconds * 1e3, digits: 2)))")
            }
        }
    }
}

func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
