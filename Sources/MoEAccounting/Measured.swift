#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

/// What one decoded token cost, as the kernels reported it.
public struct TokenMeasurement: Sendable {
    /// Position of the token run through the model (0-based).
    public var position: Int
    public var params: Int
    public var flops: Int
    public var weightBytes: Int
    public var kvBytes: Int
    /// Experts fired per MoE layer, ids ascending.
    public var experts: [[Int]]
    public var residentBytes: Int?
    public var mappedResidentBytes: Int?
    public var mappedBytes: Int?

    public init(position: Int, counters c: KernelCounters, kvBytes: Int, experts: [[Int]]) {
        self.position = position
        params = c.params
        flops = c.flops
        weightBytes = c.totalWeightBytes
        self.kvBytes = kvBytes
        self.experts = experts
    }
}

/// What the cost model predicts a decoded token costs in MoEKit's engine, which keeps matrices as
/// stored, norm and bias vectors in f32, and the KV cache in f32.
public struct TokenPrediction: Sendable, Equatable {
    public var params: Int
    public var flops: Int
    public var weightBytes: Int
    public var kvBytes: Int
}

public struct EnginePredictor: Sendable {
    public let inventory: ModelInventory
    public let report: CostReport
    /// Bytes per element of the checkpoint's (unquantised) matrices.
    public let matrixElementBytes: Int
    /// `weight_block_size` when the checkpoint is FP8: the recipe's matrices then take one byte
    /// per weight plus an f32 scale per block.
    public let fp8Block: (rows: Int, cols: Int)?

    public init(inventory: ModelInventory, matrixElementBytes: Int, fp8Block: (rows: Int, cols: Int)? = nil) {
        self.inventory = inventory
        self.matrixElementBytes = matrixElementBytes
        self.fp8Block = fp8Block
        report = CostModel.report(inventory)
    }

    /// The token at `position` attends over `position + 1` positions.
    public func predict(position: Int) -> TokenPrediction {
        let n = position + 1
        let e = matrixElementBytes
        let block = fp8Block
        let bytes = CostModel.activeWeightBytes(inventory) { t in
            if let b = block, let q = Precision.fp8Bytes(t, block: b) { return q }
            return t.shape.count >= 2 ? t.count * e : t.count * 4
        }
        return TokenPrediction(
            params: report.activeParamsCompute,
            flops: 2 * report.activeParamsCompute + Int(CostModel.attentionFlops(inventory, positions: n)),
            weightBytes: bytes,
            kvBytes: CostModel.kvBytes(inventory, positions: n, elementBytes: 4, windowed: false))
    }
}

/// One row of measured-versus-predicted, with the relative gaps.
public struct TokenComparison: Sendable {
    public var measured: TokenMeasurement
    public var predicted: TokenPrediction

    public init(measured: TokenMeasurement, predicted: TokenPrediction) {
        self.measured = measured
        self.predicted = predicted
    }

    static func gap(_ a: Int, _ b: Int) -> Double { b == 0 ? (a == 0 ? 0 : 1) : abs(Double(a - b)) / Double(b) }

    /// The largest relative disagreement among params, FLOPs, weight bytes and KV bytes.
    public var worstGap: Double {
        [Self.gap(measured.params, predicted.params), Self.gap(measured.flops, predicted.flops),
         Self.gap(measured.weightBytes, predicted.weightBytes), Self.gap(measured.kvBytes, predicted.kvBytes)].max()!
    }

    /// Over 1%: the model or the engine is not what the calculator thinks.
    public var disagrees: Bool { worstGap > 0.01 }
}

/// Resident set size of this process in bytes (Linux /proc/self/statm; nil elsewhere).
public func residentMemoryBytes() -> Int? {
    #if os(Linux)
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 256)
    let n = read(fd, &buf, buf.count)
    guard n > 0 else { return nil }
    let fields = String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    #else
    return nil
    #endif
}
