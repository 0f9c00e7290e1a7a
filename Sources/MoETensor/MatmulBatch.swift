import MoEKernelsC

/// Several independent matrix products run as one parallel region: the q/k/v projections of a
/// layer, the gate and up projections of an MLP, or every active expert of an MoE layer at once.
/// One barrier instead of one per product, and activations that several products share (same
/// pointer, token count and preparation: int8 kind or bf16) are prepared once.
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
        /// How its activations are prepared, and their byte offset in `act` (-1: f32 path).
        var prep: ActivationPrep
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
        jobs.append(Job(w: w, x: x, y: y, tokens: tokens, prep: ActivationPrep(w), act: -1, costStart: start, rowCost: max(1, tokens * w.cols)))
    }

    /// Runs every job added since the last `reset()`, then resets.
    public func run(pool: ThreadPool, counters: KernelCounters? = nil) {
        defer { reset() }
        if jobs.isEmpty { return }
        if let counters { for j in jobs { counters.matmul(j.w, tokens: j.tokens) } }
        prepareActivations()
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

    /// Prepares each distinct activation block once (jobs with the same input and kind share it).
    private func prepareActivations() {
        var need = 0
        for i in jobs.indices where jobs[i].prep != .none {
            if let prev = jobs[..<i].first(where: {
                $0.act >= 0 && $0.x == jobs[i].x && $0.tokens == jobs[i].tokens && $0.w.cols == jobs[i].w.cols
                    && $0.prep == jobs[i].prep
            }) {
                jobs[i].act = prev.act
                continue
            }
            jobs[i].act = need
            need += jobs[i].prep.rowBytes(jobs[i].w.cols) * jobs[i].tokens
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
            j.prep.prepare(j.x, cols: j.w.cols, tokens: j.tokens, into: act + j.act, for: j.w)
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
                preparedRows(j.w, j.prep, UnsafeRawPointer(act + j.act), j.prep.rowBytes(j.w.cols), j.y, tokens: j.tokens, range: from..<to)
            } else {
                matmulRows(j.w, j.x, j.y, tokens: j.tokens, range: from..<to)
            }
        }
    }
}
