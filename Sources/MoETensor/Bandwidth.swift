#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures memory read bandwidth in bytes/s: every thread of `pool` sums its share of a buffer
/// far larger than the caches with SIMD loads; the best of a few passes counts.
public func measureReadBandwidth(bytes: Int = 1 << 30, passes: Int = 4, pool: ThreadPool) -> Double {
    let count = bytes / MemoryLayout<SIMD8<Float>>.stride
    let buf = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
    defer { buf.deallocate() }
    buf.initialize(repeating: SIMD8<Float>(repeating: 1), count: count)
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
    defer { sums.deallocate() }
    var best = 0.0
    for _ in 0..<passes {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        pool.parallelFor(count) { range, thread in
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                a0 += buf[i]; a1 += buf[i + 1]; a2 += buf[i + 2]; a3 += buf[i + 3]
                i += 4
            }
            while i < range.upperBound { a0 += buf[i]; i += 1 }
            sums[thread] = (a0 + a1 + a2 + a3).sum()
        }
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let s = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
        if s > 0 { best = max(best, Double(count * MemoryLayout<SIMD8<Float>>.stride) / s) }
    }
    return best
}
