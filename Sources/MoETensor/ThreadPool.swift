#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A persistent pool of worker threads for the kernels. A job is handed to every thread at once;
/// idle workers spin briefly (dispatch then costs well under a microsecond) and then block on a
/// condition variable, so an idle pool never burns a core and a busy host never sees an unbounded spin.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run a job, the caller's included.
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    // Heap-allocated: pthread objects must not move, and `&property` gives no stable address.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Held for the whole of a job: callers on different threads take turns.
    private let runLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []
    /// Spin iterations before a worker blocks (a few hundred microseconds: long enough to stay awake
    /// across the single-threaded stretches between a token's parallel regions; 20,000 put workers
    /// to sleep mid-token and cost ~10% of 2-thread decode in futex wake-ups).
    private let spinLimit = 200_000

    /// The number of online processors.
    public static var processorCount: Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    public init(threads: Int = ThreadPool.processorCount) {
        threadCount = max(1, threads)
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(runLock, nil)
        pthread_cond_init(cond, nil)
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            #if canImport(Glibc)
            var tid = pthread_t()
            #else
            var tid: pthread_t? = nil
            #endif
            #if canImport(Glibc)
            let rc = pthread_create(&tid, nil, { raw in
                ThreadPool.startWorker(raw!)
                return nil
            }, box.toOpaque())
            #else
            let rc = pthread_create(&tid, nil, { raw in
                ThreadPool.startWorker(raw)
                return nil
            }, box.toOpaque())
            #endif
            precondition(rc == 0, "pthread_create failed: \(rc)")
            #if canImport(Glibc)
            self.threads.append(tid)
            #else
            self.threads.append(tid!)
            #endif
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        pthread_mutex_destroy(runLock)
        cond.deallocate()
        mutex.deallocate()
        runLock.deallocate()
    }

    /// Runs `body(threadIndex)` once on each of the `threadCount` threads (index 0 on the caller)
    /// and returns when all have finished. Callers on different threads are served one after the
    /// other; calling `run` from inside a job deadlocks.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 {
            body(0)
            return
        }
        pthread_mutex_lock(runLock)
        defer { pthread_mutex_unlock(runLock) }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            pending.store(threadCount - 1, ordering: .relaxed)
            pthread_mutex_lock(mutex)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
            escaping(0)
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 {
                spins += 1
                if spins > spinLimit { sched_yield() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into one contiguous range per thread and runs `body(range)` on each
    /// non-empty range in parallel.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        if threadCount == 1 || count == 1 {
            body(0..<count)
            return
        }
        let n = threadCount
        run { t in
            let lo = count * t / n
            let hi = count * (t + 1) / n
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Like `parallelFor`, also passing the index of the thread running each range (for
    /// per-thread scratch).
    public func parallelFor(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
        if count <= 0 { return }
        if threadCount == 1 || count == 1 {
            body(0..<count, 0)
            return
        }
        let n = threadCount
        run { t in
            let lo = count * t / n
            let hi = count * (t + 1) / n
            if lo < hi { body(lo..<hi, t) }
        }
    }

    private static func startWorker(_ raw: UnsafeMutableRawPointer) {
        let start = Unmanaged<WorkerStart>.fromOpaque(raw).takeRetainedValue()
        start.pool.workerLoop(index: start.index)
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var g = generation.load(ordering: .acquiring)
            var spins = 0
            while g == seen {
                spins += 1
                if spins > spinLimit {
                    pthread_mutex_lock(mutex)
                    while generation.load(ordering: .acquiring) == seen {
                        pthread_cond_wait(cond, mutex)
                    }
                    pthread_mutex_unlock(mutex)
                }
                g = generation.load(ordering: .acquiring)
            }
            seen = g
            if stopping.load(ordering: .acquiring) { return }
            if let work = job { work(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerStart {
    // Unowned: workers must not keep the pool alive; deinit joins them before memory goes away.
    unowned(unsafe) let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
