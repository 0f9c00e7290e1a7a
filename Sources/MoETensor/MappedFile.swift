#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors raised while mapping a file.
public enum MappingError: Error, CustomStringConvertible, Sendable {
    case open(path: String, errno: Int32)
    case stat(path: String, errno: Int32)
    case notRegular(path: String)
    case map(path: String, size: Int, errno: Int32)

    public var description: String {
        switch self {
        case .open(let p, let e): return "\(p): cannot open (\(String(cString: strerror(e))))"
        case .stat(let p, let e): return "\(p): cannot stat (\(String(cString: strerror(e))))"
        case .notRegular(let p): return "\(p): not a regular file"
        case .map(let p, let s, let e): return "\(p): cannot map \(s) bytes (\(String(cString: strerror(e))))"
        }
    }
}

/// A read-only, private memory mapping of a whole file. Tensors are read in place from it, so
/// resident memory grows only with the pages a computation touches.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    /// Start of the mapping; nil for an empty file.
    public let base: UnsafeRawPointer?
    /// True when `base` is a heap copy (`init(copying:name:)`) rather than a mapping.
    private let isCopy: Bool
    /// Page ranges handed back with `release` (sorted and merged when `releasedSorted`), which
    /// `prefetch` leaves alone.
    private var released: [Range<Int>] = []
    private var releasedSorted = true
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(path: String) throws {
        self.path = path
        isCopy = false
        pthread_mutex_init(lock, nil)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MappingError.open(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw MappingError.stat(path: path, errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw MappingError.notRegular(path: path) }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw MappingError.map(path: path, size: size, errno: errno) }
        base = UnsafeRawPointer(p)
    }

    /// An in-memory copy of `bytes`, read exactly like a mapped file and named `name` in messages.
    /// For fuzzers and tests that parse many small inputs without touching the disk; model files are
    /// always mapped with `init(path:)`. The copy is exactly `bytes.count` long (no page padding), so
    /// an address sanitizer catches any read past the end.
    public init(copying bytes: UnsafeRawBufferPointer, name: String) {
        path = name
        pthread_mutex_init(lock, nil)
        size = bytes.count
        isCopy = true
        guard let src = bytes.baseAddress, bytes.count > 0 else {
            base = nil
            return
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        p.copyMemory(from: src, byteCount: bytes.count)
        base = UnsafeRawPointer(p)
    }

    /// The bytes `[offset, offset+count)`, which the caller has already checked lie inside the file.
    public func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(offset >= 0 && count >= 0 && offset <= size - count)
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Number of this mapping's pages now resident in memory (mincore), and the page count.
    public func residentPages() -> (resident: Int, total: Int) {
        guard let base, size > 0 else { return (0, 0) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + page - 1) / page
        var vec = [UInt8](repeating: 0, count: pages)
        #if canImport(Darwin)
        let rc = vec.withUnsafeMutableBytes { mincore(UnsafeMutableRawPointer(mutating: base), size, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        #else
        let rc = vec.withUnsafeMutableBytes { mincore(UnsafeMutableRawPointer(mutating: base), size, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        #endif
        guard rc == 0 else { return (0, pages) }
        return (vec.reduce(0) { $0 + Int($1 & 1) }, pages)
    }

    /// Reads `[offset, offset+count)` into memory ahead of use (asks the kernel, then touches one
    /// byte per page), so the first tokens do not stall on page faults. Returns a checksum of the
    /// touched bytes so the reads are not optimised away.
    /// Ranges handed back with `release` are skipped.
    @discardableResult
    public func prefetch(offset: Int, count: Int) -> UInt8 {
        guard let base, offset >= 0, count > 0, offset < size else { return 0 }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var sum: UInt8 = 0
        for r in unreleased(offset..<(offset + min(count, size - offset))) {
            let start = r.lowerBound / page * page
            _ = madvise(UnsafeMutableRawPointer(mutating: base + start), r.upperBound - start, Int32(MADV_WILLNEED))
            var i = r.lowerBound
            while i < r.upperBound {
                sum &+= base.load(fromByteOffset: i, as: UInt8.self)
                i += page
            }
        }
        return sum
    }

    /// Hands the whole pages inside `[p, p+count)` back to the kernel (madvise DONTNEED): for bytes
    /// that were copied elsewhere (a repacked matrix), so they stop counting in this process's
    /// resident memory. The mapping is read-only and private, so a later read simply faults the
    /// file's bytes in again. Does nothing for an in-memory copy or a range outside the mapping.
    public func release(_ p: UnsafeRawPointer, count: Int) {
        guard let base, !isCopy, count > 0, p >= base, p - base <= size - count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let offset = p - base
        let start = (offset + page - 1) / page * page, end = (offset + count) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
        pthread_mutex_lock(lock)
        released.append(start..<end)   // sorted when read (`unreleased`): O(1) per matrix at load
        releasedSorted = false
        pthread_mutex_unlock(lock)
    }

    /// The parts of `range` not handed back with `release`.
    func unreleased(_ range: Range<Int>) -> [Range<Int>] {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if !releasedSorted {
            // Sort and merge, so both bounds increase and a binary search finds the first overlap.
            var merged: [Range<Int>] = []
            for r in released.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = merged.last, r.lowerBound <= last.upperBound {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    merged.append(r)
                }
            }
            released = merged
            releasedSorted = true
        }
        var lo = 0, hi = released.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if released[mid].upperBound <= range.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        var out: [Range<Int>] = []
        var from = range.lowerBound
        for r in released[lo...] {
            if r.lowerBound >= range.upperBound { break }
            if r.lowerBound > from { out.append(from..<r.lowerBound) }
            from = max(from, r.upperBound)
        }
        if from < range.upperBound { out.append(from..<range.upperBound) }
        return out
    }

    /// Bytes of this mapping now resident in memory (whole pages, capped at the file size).
    public func residentBytes() -> Int {
        min(size, residentPages().resident * Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
        guard let base else { return }
        if isCopy {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
    }
}
