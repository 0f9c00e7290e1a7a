import MoEKernelsC

/// Several independent matrix products run as one parallel region: the q/k/v projections of a
/// layer, the gate and up projections of an MLP, or every active expert of an MoE layer at once.
/// One barrier instead of one per product, and activations that several products share (same
/// pointer, token count and quantisation kind) are quantised once.
///
/// Work is split across threads by cost (rows × tokens × columns), so experts that received many
/// tokens do not leave a thread idle. Reusable: `reset()` keeps its storage, so a steady decode loop
/// allocates nothing.
public final class MatmulBatch: @unchecked Sendable {
    struct Job {
        var w: WeightMatrix
        var x: UnsafePointer<Float>
        var y: UnsafeMutablePointer<Float>
        var tokens: Int
        /// Byte offset of the job's quantised activations in `act`, or -1 for the f32 path.
        var act: Int
        var costStart: Int
        var rowCost: Int
    }

    private var jobs: [Job] = []
    private var act: UnsafeMutableRawPointer
    private var actCapacity = 0

    public init() {
        jobs.reserveCapacity(64)
        act = .allocate(byteCount: 64, alignment: 64)
    }

    deinit { act.deallocate() }

    public var isEmpty: Bool { jobs.isEmpty }

    public func reset() {
        jobs.removeAll(keepingCapacity: true)
    }

    /// Adds `y = x · wᵀ` over `tokens` rows of `x` (`[tokens, w.cols]` -> `[tokens, w.rows]`).
    public func add(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, tokens: Int) {
        guard tokens > 0, w.rows > 0 else { return }
        let start = jobs.last.map { $0.costStart + $0.rowCost * $0.w.rows } ?? 0
        jobs.append(Job(w: w, x: x, y: y, tokens: tokens, act: -1, costStart: start, rowCost: max(1, tokens * w.cols)))
    }

    /// Runs every job added since the last `reset()`, then resets.
    public func run(pool: ThreadPool, counters: KernelCounters? = nil) {
        defer { reset() }
        if jobs.isEmpty { return }
        if let counters { for j in jobs { counters.matmul(j.w, tokens: j.tokens) } }
        quantiseActivations()
        let total = jobs.last.map { $0.costStart + $0.rowCost * $0.w.rows } ?? 0
        let threads = pool.threadCount
        if threads == 1 || total < 16_384 {
            runShare(0, total)
            return
        }
        pool.parallelFor(threads) { range in
            for t in range { self.runShare(total * t / threads, total * (t + 1) / threads) }
        }
    }

    private static func usesQ8(_ j: Job) -> Bool {
        j.w.dtype.isBlockQuantized && j.w.activations.isInt8 && moe_q8_supported() != 0
    }

    /// Quantises each distinct activation block once (jobs with the same input share it).
    private func quantiseActivations() {
        var need = 0
        for i in jobs.indices where Self.usesQ8(jobs[i]) {
            let kind = moe_q8_act_kind(jobs[i].w.dtype.ggmlCode)
            if let prev = jobs[..<i].first(where: {
                $0.act >= 0 && $0.x == jobs[i].x && $0.tokens == jobs[i].tokens && $0.w.cols == jobs[i].w.cols
                    && moe_q8_act_kind($0.w.dtype.ggmlCode) == kind
            }) {
                jobs[i].act = prev.act
                continue
            }
            jobs[i].act = need
            need += Int(moe_q8_act_bytes(jobs[i].w.cols)) * jobs[i].tokens
            need = (need + 63) & ~63
        }
        if need == 0 { return }
        if need > actCapacity {
            act.deallocate()
            actCapacity = max(need, actCapacity * 2)
            act = .allocate(byteCount: actCapacity, alignment: 64)
        }
        // New blocks get increasing offsets; a shared one points back to an earlier offset.
        var last = -1
        for j in jobs where j.act > last {
            last = j.act
            moe_quantize_q8_rows(j.x, j.w.cols, j.tokens, act + j.act, j.w.dtype.ggmlCode)
        }
    }

    /// The rows whose cost starts in `[lo, hi)`, on the calling thread.
    private func runShare(_ lo: Int, _ hi: Int) {
        for j in jobs {
            let end = j.costStart + j.rowCost * j.w.rows
            if end <= lo { continue }
            if j.costStart >= hi { break }
            let from = max(0, min(j.w.rows, (lo - j.costStart + j.rowCost - 1) / j.rowCost))
            let to = max(0, min(j.w.rows, (hi - j.costStart + j.rowCost - 1) / j.rowCost))
            if from >= to { continue }
            if j.act >= 0 {
                q8Rows(j.w, UnsafeRawPointer(act + j.act), Int(moe_q8_act_bytes(j.w.cols)), j.y, tokens: j.tokens, range: from..<to)
            } else {
                matmulRows(j.w, j.x, j.y, tokens: j.tokens, range: from..<to)
            }
        }
    }
}
