import Foundation
import Testing
import MoETensor
import MoEKernelsC

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
    }
}

func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
    var out: [UInt8] = []
    for v in values {
        switch dtype {
        case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case .f16: withUnsafeBytes(of: floatToHalf(v).littleEndian) { out.append(contentsOf: $0) }
        case .bf16: withUnsafeBytes(of: floatToBF16(v).littleEndian) { out.append(contentsOf: $0) }
        default: fatalError()
        }
    }
    return out
}

@Suite struct KernelTests {
    @Test(arguments: [DType.f32, .f16, .bf16], [1, 7, 8, 31, 32, 33, 100, 1000])
    func dotMatchesReference(dtype: DType, n: Int) {
        let w = randomFloats(n, seed: UInt64(n))
        let x = randomFloats(n, seed: UInt64(n) + 99)
        // Offset by one byte so unaligned weights are exercised too.
        let bytes = [0] + encode(w, as: dtype)
        bytes.withUnsafeBytes { raw in
            x.withUnsafeBufferPointer { xp in
                let p = raw.baseAddress! + 1
                let fast: Float
                switch dtype {
                case .f32: fast = dotF32(p, xp.baseAddress!, n)
                case .f16: fast = dotF16(p, xp.baseAddress!, n)
                default: fast = dotBF16(p, xp.baseAddress!, n)
                }
                let ref = dotReference(p, dtype: dtype, xp.baseAddress!, n)
                #expect(abs(fast - ref) <= 1e-5 * Float(n).squareRoot() + 1e-6, "\(dtype) n=\(n): \(fast) vs \(ref)")
            }
        }
    }

    @Test func halfAndBF16ConversionsRoundTrip() {
        for v: Float in [0, -0.0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.333251953125] {
            #expect(halfToFloat(floatToHalf(v)) == v)
        }
        #expect(halfToFloat(floatToHalf(1e6)) == .infinity)
        #expect(halfToFloat(floatToHalf(.nan)).isNaN)
        #expect(bf16ToFloat(floatToBF16(1.0)) == 1.0)
        // Round to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7.
        #expect(bf16ToFloat(floatToBF16(1 + 1.0 / 256)) == 1.0)
        #expect(bf16ToFloat(floatToBF16(1 + 3.0 / 256)) == 1 + 4.0 / 256)
        // F16 conversion via SIMD must agree with the integer twin on every bit pattern.
        #if !(os(macOS) && arch(x86_64))
        for bits in stride(from: 0, through: 0xFFFF, by: 1) {
            let h = UInt16(bits)
            let a = halfToFloat(h)
            let b = Float(Float16(bitPattern: h))
            #expect(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN))
        }
        #endif
    }

    /// F32 and F16 always take f32 activations; BF16 takes them in f32 (`.f32`) or rounded to bf16
    /// (`.q8`, the default), and then equals the reference fed the rounded activations.
    @Test(arguments: [(DType.f32, ActivationFormat.q8), (.f16, .q8), (.bf16, .f32), (.bf16, .q8)])
    func matmulMatchesReference(dtype: DType, format: ActivationFormat) {
        let rows = 67, cols = 45, tokens = 5
        let buf = OwnedBuffer(byteCount: rows * cols * dtype.size)
        let bytes = encode(randomFloats(rows * cols, seed: 7), as: dtype)
        bytes.withUnsafeBytes { buf.pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var w = WeightMatrix(base: buf.pointer, dtype: dtype, rows: rows, cols: cols, owner: buf)
        w.activations = format
        let x = randomFloats(tokens * cols, seed: 8)
        let xRef = dtype == .bf16 && format == .q8 ? x.map { bf16ToFloat(moe_f32_to_bf16($0)) } : x
        #expect(xRef != x || dtype != .bf16 || format != .q8)
        var fast = [Float](repeating: 0, count: tokens * rows)
        var ref = fast
        let pool = ThreadPool(threads: 2)
        // Large enough to go through the pool.
        x.withUnsafeBufferPointer { xp in
            fast.withUnsafeMutableBufferPointer { matmul(w, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: pool) }
        }
        xRef.withUnsafeBufferPointer { xp in
            ref.withUnsafeMutableBufferPointer { matmulReference(w, xp.baseAddress!, $0.baseAddress!, tokens: tokens) }
        }
        for i in 0..<fast.count { #expect(abs(fast[i] - ref[i]) <= 1e-4) }
    }

    /// Activations round to the nearest bf16 (ties to even) as PyTorch rounds them; NaN stays NaN,
    /// and subnormals become signed zeros (vdpbf16ps would ignore them anyway).
    @Test func activationsRoundToBF16() {
        var xs: [Float] = [0, -0, 1, -1, 1.00390625, 1.01171875, 3.14159, -2.5e-3, 65504, .infinity, -.infinity,
                           Float.leastNormalMagnitude, Float.greatestFiniteMagnitude]
        xs += randomFloats(1000, seed: 77).map { $0 * 1000 }
        var out = [UInt16](repeating: 0, count: xs.count)
        moe_f32_to_bf16_rows(xs, xs.count, &out)
        for (i, v) in xs.enumerated() {
            #expect(out[i] == floatToBF16(v), "\(v)")
            #expect(out[i] == moe_f32_to_bf16(v))
        }
        let odd: [Float] = [.nan, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, Float.leastNormalMagnitude / 2]
        var o = [UInt16](repeating: 1, count: odd.count)
        moe_f32_to_bf16_rows(odd, odd.count, &o)
        #expect(bf16ToFloat(o[0]).isNaN)
        #expect(o[1] == 0 && o[2] == 0x8000 && o[3] == 0)
    }

    /// The f32-activation kernels for F32, F16 and BF16 weights (wide.c) on every path: one and two
    /// tokens (AVX2), four-token tiles and the packed sixteen-row panels for 64 tokens or more
    /// (AVX-512), with rows and columns that leave partial tiles, panels and vectors, and a row
    /// range that starts mid-matrix. Each result equals a double-precision sum of the same products.
    @Test(arguments: [DType.f32, .f16, .bf16])
    func wideKernelsMatchReference(dtype: DType) {
        for (rows, cols) in [(37, 45), (21, 203)] {
            let bytes = encode(randomFloats(rows * cols, seed: 70), as: dtype)
            let w = bytes.map { $0 }
            for tokens in [1, 2, 3, 4, 5, 9, 64, 70] {
                let x = randomFloats(tokens * cols, seed: 71)
                var y = [Float](repeating: -7, count: tokens * rows)
                w.withUnsafeBytes { wb in
                    _ = moe_dot_wide_rows(dtype.ggmlCode, wb.baseAddress!, cols, cols * dtype.size, 1, rows, x, cols, &y, rows, tokens)
                }
                for t in 0..<tokens {
                    #expect(y[t * rows] == -7, "row 0 is outside the range")
                    for r in 1..<rows {
                        var ref = 0.0, mag = 0.0
                        w.withUnsafeBytes { wb in
                            for c in 0..<cols {
                                let p = Double(dotReference(wb.baseAddress! + (r * cols + c) * dtype.size, dtype: dtype, [1], 1)) * Double(x[t * cols + c])
                                ref += p
                                mag += abs(p)
                            }
                        }
                        #expect(abs(Double(y[t * rows + r]) - ref) <= 1e-6 * mag, "\(dtype) \(rows)x\(cols) tokens \(tokens) [\(t)][\(r)]")
                    }
                }
            }
        }
        // Half subnormals, infinities and NaN widen as IEEE says, on the vector and the scalar paths.
        if dtype == .f16 {
            let halves: [UInt16] = [0x0001, 0x03FF, 0x8001, 0x7C00, 0xFC00, 0x3C00] + [UInt16](repeating: 0x3C00, count: 17)
            let x = [Float](repeating: 1, count: halves.count)
            var y: Float = 0
            halves.withUnsafeBytes { _ = moe_dot_wide_rows(1, $0.baseAddress!, 5, 0, 0, 1, x, 0, &y, 0, 1) }
            #expect(y.isNaN)   // +inf + -inf
            halves.withUnsafeBytes { _ = moe_dot_wide_rows(1, $0.baseAddress!, 3, 0, 0, 1, x, 0, &y, 0, 1) }
            #expect(y == Float(halfToFloat(0x0001)) + halfToFloat(0x03FF) + halfToFloat(0x8001))
            var y2: Float = 0
            halves.withUnsafeBytes { _ = moe_dot_wide_rows(1, $0.baseAddress! + 10, 17, 0, 0, 1, x, 0, &y2, 0, 1) }
            #expect(y2 == 17)
        }
        var out: Float = 0
        #expect(moe_dot_wide_rows(8, [UInt8](repeating: 0, count: 64), 2, 2, 0, 1, [1, 1], 2, &out, 1, 1) == -1)
    }

    /// SwiGLU's vectorised exp (ops.c) against double precision over the whole float range it
    /// covers, and silu(g)·u against the double formula, extremes and the scalar tail included.
    @Test func swigluMatchesDoublePrecision() {
        var worst = 0.0
        var v: Float = -87
        while v <= 88 {
            let e = Double(moe_exp_check(v)), ref = Foundation.exp(Double(v))
            worst = max(worst, abs(e - ref) / ref)
            v += 0.0137
        }
        #expect(worst <= 3e-7, "exp relative error \(worst)")
        var g: [Float] = randomFloats(997, seed: 5).map { $0 * 30 } + [0, -0.0, 100, -100, 1e30, -1e30, 88.5, -88.5, 1e-30]
        let u = randomFloats(g.count, seed: 6).map { $0 * 3 }
        let ref = zip(g, u).map { Double($0) / (1 + Foundation.exp(-Double($0))) * Double($1) }
        swiglu(&g, u, g.count)
        for i in g.indices { #expect(abs(Double(g[i]) - ref[i]) <= 1e-6 * max(1, abs(ref[i])), "\(i): \(g[i]) vs \(ref[i])") }
    }

    /// Grouped attention (GQA: several query heads on one key/value head) in chunks of positions,
    /// combined as the decoder combines them, against double precision per query head.
    @Test func groupedChunkedAttentionMatchesDoublePrecision() {
        for (headDim, group) in [(64, 3), (13, 2), (128, 8), (72, 1)] {
            let stride = headDim * 2 + 3, positions = 300
            let keys = randomFloats(positions * stride, seed: 91), values = randomFloats(positions * stride, seed: 92)
            let q = randomFloats(group * headDim, seed: 93).map { $0 * 4 }
            let scale = 1 / Float(headDim).squareRoot()
            for (first, last, chunks) in [(0, 0, 1), (5, 290, 1), (5, 290, 4), (0, 299, 7), (2, 4, 5)] {
                var m = [Float](repeating: 0, count: group * chunks), l = m
                var o = [Float](repeating: 0, count: group * chunks * headDim)
                var scores = [Float](repeating: 0, count: group * positions)
                let n = last - first + 1
                for c in 0..<chunks {
                    let lo = first + n * c / chunks, hi = first + n * (c + 1) / chunks - 1
                    m.withUnsafeMutableBufferPointer { mp in l.withUnsafeMutableBufferPointer { lp in o.withUnsafeMutableBufferPointer { op in
                        attendGroup(query: q, qStride: headDim, group: group, keys: keys, values: values, stride: stride,
                                    headDim: headDim, first: lo, last: hi, scale: scale, scores: &scores,
                                    m: mp.baseAddress! + c * group, l: lp.baseAddress! + c * group,
                                    o: op.baseAddress! + c * group * headDim)
                    } } }
                }
                for g in 0..<group {
                    let top = (0..<chunks).map { m[$0 * group + g] }.max()!
                    let total = (0..<chunks).reduce(0.0) { $0 + Double(l[$1 * group + g]) * Foundation.exp(Double(m[$1 * group + g] - top)) }
                    let logits = (first...last).map { j in (0..<headDim).reduce(0.0) { $0 + Double(keys[j * stride + $1]) * Double(q[g * headDim + $1]) } * Double(scale) }
                    let mx = logits.max()!
                    let e = logits.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
                    for d in 0..<headDim {
                        let got = (0..<chunks).reduce(0.0) {
                            $0 + Double(o[($1 * group + g) * headDim + d]) * Foundation.exp(Double(m[$1 * group + g] - top))
                        } / total
                        let ref = (first...last).enumerated().reduce(0.0) { $0 + e[$1.offset] / z * Double(values[$1.element * stride + d]) }
                        #expect(abs(got - ref) <= 1e-5, "d\(headDim) g\(group) [\(first), \(last)] in \(chunks): query \(g) dim \(d): \(got) vs \(ref)")
                    }
                }
            }
        }
    }

    /// One query's attention (ops.c) against double precision: head sizes with and without vector
    /// tails, one to 77 positions starting mid-cache, rows of a wider stride.
    @Test func attentionMatchesDoublePrecision() {
        for headDim in [64, 72, 13, 128] {
            let stride = headDim * 3 + 5, positions = 80
            let keys = randomFloats(positions * stride, seed: 81), values = randomFloats(positions * stride, seed: 82)
            let q = randomFloats(headDim, seed: 83).map { $0 * 4 }
            for (first, last) in [(0, 0), (3, 9), (2, 78)] {
                let scale = 1 / Float(headDim).squareRoot()
                var scores = [Float](repeating: 0, count: positions), out = [Float](repeating: 0, count: headDim)
                attendHead(query: q, keys: keys, values: values, stride: stride, headDim: headDim, first: first, last: last,
                           scale: scale, scores: &scores, out: &out)
                let logits = (first...last).map { j in (0..<headDim).reduce(0.0) { $0 + Double(keys[j * stride + $1]) * Double(q[$1]) } * Double(scale) }
                let m = logits.max()!
                let e = logits.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
                for (j, p) in e.enumerated() { #expect(abs(Double(scores[j]) - p / z) <= 1e-6, "d\(headDim) score \(j)") }
                for d in 0..<headDim {
                    let ref = (first...last).enumerated().reduce(0.0) { $0 + e[$1.offset] / z * Double(values[$1.element * stride + d]) }
                    #expect(abs(Double(out[d]) - ref) <= 1e-5, "d\(headDim) [\(first), \(last)] dim \(d): \(out[d]) vs \(ref)")
                }
            }
        }
    }

    @Test func rmsNormMatchesReference() {
        let n = 77
        let x = randomFloats(n, seed: 3), w = randomFloats(n, seed: 4)
        var a = [Float](repeating: 0, count: n), b = a
        rmsNorm(x, weight: w, eps: 1e-6, n: n, out: &a)
        rmsNormReference(x, weight: w, eps: 1e-6, n: n, out: &b)
        for i in 0..<n { #expect(abs(a[i] - b[i]) <= 1e-5) }
    }

    @Test func softmaxSumsToOneAndKeepsOrder() {
        var x: [Float] = [1000, 999, 995, 996]
        softmaxInPlace(&x, 4)
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
        #expect(x[0] > x[1] && x[1] > x[3] && x[3] > x[2])
    }
}

@Suite struct ThreadPoolTests {
    @Test func everyIndexRunsExactlyOnce() {
        let pool = ThreadPool(threads: 3)
        for count in [1, 2, 3, 10, 1000] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            for _ in 0..<50 {
                pool.parallelFor(count) { range in for i in range { hits[i] += 1 } }
            }
            for i in 0..<count { #expect(hits[i] == 50) }
            hits.deallocate()
        }
    }

    @Test func threadIndicesAreDistinct() {
        let pool = ThreadPool(threads: 4)
        let seen = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        seen.initialize(repeating: 0, count: 4)
        pool.run { t in seen[t] += 1 }
        for t in 0..<4 { #expect(seen[t] == 1) }
        seen.deallocate()
    }

    @Test func concurrentCallersTakeTurns() async {
        // Several tasks share one pool, as tests and servers do; each job must complete intact.
        let pool = ThreadPool(threads: 2)
        await withTaskGroup(of: Bool.self) { group in
            for task in 0..<4 {
                group.addTask {
                    let n = 1000 + task
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
                    defer { hits.deallocate() }
                    hits.initialize(repeating: 0, count: n)
                    for _ in 0..<200 { pool.parallelFor(n) { r in for i in r { hits[i] += 1 } } }
                    return (0..<n).allSatisfy { hits[$0] == 200 }
                }
            }
            for await ok in group { #expect(ok) }
        }
    }

    @Test func poolsComeAndGo() {
        // Creating and dropping pools must join their threads, not leak or hang.
        for _ in 0..<20 {
            let p = ThreadPool(threads: 2)
            p.run { _ in }
        }
    }
}

@Suite struct FP8Tests {
    /// Every e4m3 code decodes as PyTorch's float8_e4m3fn does (table by scripts/oracle/e4m3_table.py).
    @Test func decodesLikePyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("e4m3_table.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let values = json["values"] as! [Any]
        #expect(values.count == 256)
        for (code, v) in values.enumerated() {
            let ours = e4m3ToFloat(UInt8(code))
            if let d = v as? Double {
                #expect(ours == Float(d), "code \(code): \(ours) vs \(d)")
                #expect(floatToE4M3(Float(d)) == UInt8(code) || Float(d) == 0, "encode \(d)")
            } else {
                #expect(ours.isNaN, "code \(code)")
            }
        }
        // The SIMD path agrees with the scalar one on every code, subnormals included.
        let codes = (0..<256).map { UInt8($0) }.filter { !e4m3ToFloat($0).isNaN }
        for c in codes {
            var eight = [UInt8](repeating: 0, count: 8)
            eight[3] = c
            let got = eight.withUnsafeBytes { dotE4M3($0.baseAddress!, [0, 0, 0, 1, 0, 0, 0, 0], 8) }
            #expect(got == e4m3ToFloat(c), "simd code \(c)")
        }
    }

    /// The bf16-activation kernels (bf16act.c) for BF16 and FP8 weights, AVX-512 and portable, on
    /// awkward shapes (partial scale blocks, tails shorter than a vector, 1-5 tokens, a row range
    /// that starts mid-matrix): each equals a double-precision sum of the same products.
    @Test func bf16ActivationKernelsMatchReference() {
        let shapes: [(rows: Int, cols: Int, block: (Int, Int))] = [(13, 300, (128, 128)), (9, 700, (32, 48)), (6, 64, (16, 16)),
                                                                   (11, 129, (128, 128)), (12, 1000, (7, 33))]
        for (si, shape) in shapes.enumerated() {
            let (rows, cols) = (shape.rows, shape.cols)
            let (fp8, keepW, keepS) = fp8Matrix(rows: rows, cols: cols, block: shape.block, seed: UInt64(40 + si))
            let bf16Bytes = encode(randomFloats(rows * cols, seed: UInt64(50 + si)), as: .bf16)
            let tokens = 5
            let x = randomFloats(tokens * cols, seed: UInt64(60 + si))
            var xb = [UInt16](repeating: 0, count: x.count)
            moe_f32_to_bf16_rows(x, x.count, &xb)
            for isFP8 in [false, true] {
                for native in [Int32(1), 0] {
                    for t in 1...tokens {
                        var y = [Float](repeating: -7, count: t * rows)
                        bf16Bytes.withUnsafeBytes { wb in
                            let wp = isFP8 ? UnsafeRawPointer(fp8.base) : wb.baseAddress!
                            moe_dot_bf16act_rows_with(native, isFP8 ? 1 : 0, wp, cols, isFP8 ? cols : 2 * cols,
                                                      fp8.scales!.assumingMemoryBound(to: Float.self), fp8.scaleColumns,
                                                      fp8.blockRows, fp8.blockCols, 0, 1, rows, xb, cols, &y, rows, t)
                        }
                        for tk in 0..<t {
                            #expect(y[tk * rows] == -7, "row 0 is outside the range")
                            for r in 1..<rows {
                                var ref = 0.0, mag = 0.0
                                for c in 0..<cols {
                                    let wv: Double = isFP8
                                        ? Double(e4m3ToFloat(fp8.base.load(fromByteOffset: r * cols + c, as: UInt8.self)))
                                            * Double(fp8.scale(row: r, block: c / fp8.blockCols))
                                        : Double(bf16ToFloat(UInt16(bf16Bytes[2 * (r * cols + c)]) | UInt16(bf16Bytes[2 * (r * cols + c) + 1]) << 8))
                                    let p = wv * Double(bf16ToFloat(xb[tk * cols + c]))
                                    ref += p
                                    mag += abs(p)
                                }
                                #expect(abs(Double(y[tk * rows + r]) - ref) <= 1e-6 * mag + 1e-30,
                                        "shape \(si) fp8 \(isFP8) native \(native) tokens \(t) row \(r): \(y[tk * rows + r]) vs \(ref)")
                            }
                        }
                    }
                }
            }
            _ = (keepW, keepS)
        }
    }

    /// Large enough to be split across the pool (and into four-row tiles plus leftovers): the same
    /// results as one thread, for FP8 and BF16 with bf16 activations, one and three tokens.
    @Test func bf16ActivationProductsSplitAcrossThreads() {
        let (fp8, keepW, keepS) = fp8Matrix(rows: 301, cols: 1000, block: (128, 128), seed: 90)
        let bytes = encode(randomFloats(301 * 1000, seed: 91), as: .bf16)
        let buf = OwnedBuffer(byteCount: bytes.count)
        bytes.withUnsafeBytes { buf.pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        let bf16 = WeightMatrix(base: buf.pointer, dtype: .bf16, rows: 301, cols: 1000, owner: buf)
        let one = ThreadPool(threads: 1), two = ThreadPool(threads: 2)
        for w in [fp8, bf16] {
            for tokens in [1, 3] {
                let x = randomFloats(tokens * 1000, seed: 92)
                var a = [Float](repeating: 0, count: tokens * 301), b = a
                matmul(w, x, &a, tokens: tokens, pool: one)
                matmul(w, x, &b, tokens: tokens, pool: two)
                #expect(a == b, "\(w.dtype) tokens \(tokens)")
                #expect(a.allSatisfy { $0 != 0 })
            }
        }
        _ = (keepW, keepS)
    }

    func fp8Matrix(rows: Int, cols: Int, block: (Int, Int), seed: UInt64) -> (WeightMatrix, OwnedBuffer, OwnedBuffer) {
        let w = OwnedBuffer(byteCount: rows * cols)
        let codes = randomFloats(rows * cols, seed: seed).map { floatToE4M3($0 * 300) }
        codes.withUnsafeBytes { w.pointer.copyMemory(from: $0.baseAddress!, byteCount: codes.count) }
        let grid = ((rows + block.0 - 1) / block.0) * ((cols + block.1 - 1) / block.1)
        let s = OwnedBuffer(byteCount: grid * 4)
        let scales = randomFloats(grid, seed: seed + 1).map { abs($0) / 100 + 1e-3 }
        scales.withUnsafeBytes { s.pointer.copyMemory(from: $0.baseAddress!, byteCount: grid * 4) }
        return (WeightMatrix(fp8: w.pointer, rows: rows, cols: cols, scales: s.pointer, blockRows: block.0, blockCols: block.1, owner: w), w, s)
    }

    /// Partial blocks at both edges: 37 × 45 with 16 × 16 blocks.
    /// With f32 activations exact against the dequantised reference; with the default (bf16
    /// activations) exact against the reference fed the rounded activations.
    @Test func blockScaledMatmulMatchesReference() {
        let pool = ThreadPool(threads: 2)
        // Partial blocks at both edges (37 × 45 with 16 × 16 blocks), four-row tiles with leftovers
        // (301 rows), blocks narrower than a vector (7 × 33).
        for (rows, cols, block) in [(37, 45, (16, 16)), (301, 1000, (128, 128)), (13, 300, (7, 33))] {
            let (w0, keepW, keepS) = fp8Matrix(rows: rows, cols: cols, block: block, seed: 11)
            for tokens in [1, 3] {
                let x = randomFloats(tokens * cols, seed: 12)
                for format in [ActivationFormat.f32, .q8] {
                    var w = w0
                    w.activations = format
                    let xRef = format == .q8 ? x.map { bf16ToFloat(moe_f32_to_bf16($0)) } : x
                    var fast = [Float](repeating: 0, count: tokens * rows), ref = fast
                    x.withUnsafeBufferPointer { xp in
                        fast.withUnsafeMutableBufferPointer { matmul(w, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: pool) }
                    }
                    xRef.withUnsafeBufferPointer { xp in
                        ref.withUnsafeMutableBufferPointer { matmulReference(w, xp.baseAddress!, $0.baseAddress!, tokens: tokens) }
                    }
                    for i in fast.indices {
                        #expect(abs(fast[i] - ref[i]) <= 1e-4 * max(1, abs(ref[i])), "\(rows)x\(cols) \(format) \(tokens) \(i): \(fast[i]) vs \(ref[i])")
                    }
                }
            }
            _ = (keepW, keepS)
        }
        let (w, keepW, keepS) = fp8Matrix(rows: 37, cols: 45, block: (16, 16), seed: 11)
        // A row view keeps using the right block row of scales.
        let view = w.rows(20, count: 10)
        var a = [Float](repeating: 0, count: 45), b = a
        view.copyRow(3, to: &a)
        w.copyRow(23, to: &b)
        #expect(a == b)
        // The transposed product (MLA's absorbed query) matches too.
        var y1 = [Float](repeating: 0.5, count: 45), y2 = y1
        accumulateRow(w, 30, scale: 0.7, into: &y1)
        accumulateRowReference(w, 30, scale: 0.7, into: &y2)
        for i in y1.indices { #expect(abs(y1[i] - y2[i]) <= 1e-5 * max(1, abs(y2[i]))) }
        withExtendedLifetime((keepW, keepS)) {}
    }
}

@Suite struct QuantTests {
    struct Vectors {
        let rows: Int, cols: Int
        let input: [Float]
        let types: [String: (bytes: [UInt8], dequantized: [Float])]
    }

    static func load() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("quant_vectors.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var types: [String: ([UInt8], [Float])] = [:]
        for key in ["types", "k_types"] {
            for (k, v) in json[key] as! [String: [String: Any]] {
                let bytes = [UInt8](Data(base64Encoded: v["bytes"] as! String)!)
                types[k] = (bytes, (v["dequantized"] as! [Double]).map { Float($0) })
            }
        }
        return Vectors(rows: json["rows"] as! Int, cols: json["cols"] as! Int,
                       input: (json["input"] as! [Double]).map { Float($0) }, types: types)
    }

    static let allTypes: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// A source file's NaN, infinities or subnormal-sized blocks quantise without trapping, in every type.
    @Test(arguments: allTypes)
    func hostileValuesDoNotTrap(dtype: DType) {
        let n = 256
        for fill: [Float] in [[.nan], [.infinity, -.infinity, 1], [1e-38, -3e-39, 0], [.nan, 2, .greatestFiniteMagnitude]] {
            let x = (0..<n).map { fill[$0 % fill.count] }
            var out = [UInt8](repeating: 0, count: dtype.bytes(elements: n)!)
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { quantizeBlocks(xp.baseAddress!, count: n, dtype: dtype, into: $0.baseAddress!) } }
            #expect(out.count == dtype.bytes(elements: n)!)
        }
    }

    /// Activations as llama.cpp quantises them for a weight type (ggml's quantize_row_q8_0 / _q8_1 /
    /// _q8_K, written from its source), dequantised again: the exact input the integer kernels multiply.
    /// Q8_0/Q8_1: per 32, q = round(x·127/max|x|), scale max|x|/127 rounded to f16. Q8_K: per 256,
    /// q = min(127, round(x·(-127/m))) with m the signed extreme, scale 1/(-127/m) in f32.
    static func q8RoundTrip(_ x: [Float], dtype: DType) -> [Float] {
        var out = x
        if [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains(dtype) {
            for b in 0..<(x.count / 256) {
                var amax: Float = 0, m: Float = 0
                for j in 0..<256 where abs(x[b * 256 + j]) > amax { amax = abs(x[b * 256 + j]); m = x[b * 256 + j] }
                let iscale: Float = amax > 0 ? -127 / m : 0, d: Float = amax > 0 ? 1 / iscale : 0
                for j in 0..<256 { out[b * 256 + j] = d * min(127, (iscale * x[b * 256 + j]).rounded(.toNearestOrEven)) }
            }
            return out
        }
        for b in 0..<(x.count / 32) {
            let amax = x[(b * 32)..<(b * 32 + 32)].map(abs).max()!
            let d = halfToFloat(floatToHalf(amax / 127)), id: Float = amax != 0 ? 127 / amax : 0
            for j in 0..<32 { out[b * 32 + j] = d * max(-127, min(127, (x[b * 32 + j] * id).rounded(.toNearestOrEven))) }
        }
        return out
    }

    /// Dequantisation equals the gguf package's; the integer kernels (int8 activations) equal the
    /// dequantised weights times the quantised activations; the f32-activation path equals the plain
    /// reference.
    @Test(arguments: allTypes)
    func matchesGGUFReference(dtype: DType) throws {
        let v = try Self.load()
        let (bytes, expected) = try #require(v.types[dtype.rawValue])
        #expect(bytes.count == v.rows * dtype.bytes(elements: v.cols)!)
        let buf = OwnedBuffer(byteCount: bytes.count)
        bytes.withUnsafeBytes { buf.pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var w = WeightMatrix(base: buf.pointer, dtype: dtype, rows: v.rows, cols: v.cols, owner: buf)
        var row = [Float](repeating: 0, count: v.cols)
        var dequantized: [[Float]] = []
        for r in 0..<v.rows {
            w.copyRow(r, to: &row)
            let want = Array(expected[(r * v.cols)..<((r + 1) * v.cols)])
            #expect(zip(row, want).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(dtype) row \(r)")
            dequantized.append(row)
        }
        // 1 token (decode) and 6 (a group of four and a partial one: the prompt path).
        for tokens in [1, 6] {
            let xs = randomFloats(tokens * v.cols, seed: UInt64(9 + tokens))
            let xq = Self.q8RoundTrip(xs, dtype: dtype)
            for format in [ActivationFormat.q8, .f32] {
                w.activations = format
                var fast = [Float](repeating: 0, count: tokens * v.rows)
                xs.withUnsafeBufferPointer { xp in
                    fast.withUnsafeMutableBufferPointer { matmul(w, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: ThreadPool(threads: 2)) }
                }
                let x = format == .q8 ? xq : xs
                for t in 0..<tokens {
                    for r in 0..<v.rows {
                        var s = 0.0, mag = 0.0
                        for c in 0..<v.cols {
                            let p = Double(dequantized[r][c]) * Double(x[t * v.cols + c])
                            s += p
                            mag += abs(p)
                        }
                        if format == .q8 && (dtype == .q4_1 || dtype == .q5_1) {
                            // Q8_1: the minimum multiplies llama.cpp's f16 sum f16(d·Σq) (d unrounded),
                            // not the sum of the rounded-scale values.
                            for b in 0..<(v.cols / 32) {
                                let xb = xs[(t * v.cols + b * 32)..<(t * v.cols + b * 32 + 32)]
                                let amax = xb.map(abs).max()!, d = amax / 127
                                let sumq = (xq[(t * v.cols + b * 32)..<(t * v.cols + b * 32 + 32)].reduce(0, +) / max(halfToFloat(floatToHalf(d)), .leastNonzeroMagnitude)).rounded()
                                let m = halfToFloat(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: r * w.rowBytes + b * dtype.blockBytes + 2, as: UInt16.self) })
                                s += Double(m) * (Double(halfToFloat(floatToHalf(d * sumq))) - Double(halfToFloat(floatToHalf(d))) * Double(sumq))
                            }
                        }
                        let got = fast[t * v.rows + r]
                        #expect(abs(Double(got) - s) <= 2e-6 * max(mag, 1e-3), "\(dtype) \(format) token \(t) row \(r): \(got) vs \(s)")
                    }
                }
            }
        }
    }
}

@Suite struct QuantizerTests {
    /// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and MXFP4 quantise to exactly the gguf package's bytes.
    @Test(arguments: [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4])
    func sameBytesAsGGUF(dtype: DType) throws {
        let v = try QuantTests.load()
        let (bytes, _) = try #require(v.types[dtype.rawValue])
        var out = [UInt8](repeating: 0, count: bytes.count)
        v.input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes { quantizeBlocks(x.baseAddress!, count: v.input.count, dtype: dtype, into: $0.baseAddress!) }
        }
        let diff = zip(out, bytes).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(diff.isEmpty, "\(dtype): \(diff.count) bytes differ, first at \(diff.first ?? -1)")
    }

    static func relativeRMSE(_ dtype: DType, _ x: [Float]) -> Double {
        var q = [UInt8](repeating: 0, count: dtype.bytes(elements: x.count)!)
        var back = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBytes { quantizeBlocks(xp.baseAddress!, count: x.count, dtype: dtype, into: $0.baseAddress!) }
        }
        q.withUnsafeBytes { dequantizeBlocks($0.baseAddress!, dtype: dtype, count: x.count, into: &back) }
        var e = 0.0, s = 0.0
        for i in x.indices { e += Double(back[i] - x[i]) * Double(back[i] - x[i]); s += Double(x[i]) * Double(x[i]) }
        return (e / s).squareRoot()
    }

    /// The K-quants (no Python quantiser to compare with) round-trip through the gguf-checked
    /// dequantiser with less error than the gguf quantiser's format of the same width, and in order
    /// of their bits.
    @Test func kQuantsBeatTheirSimpleTwins() throws {
        var x = randomFloats(256 * 64, seed: 21)
        for i in x.indices where i % 97 == 0 { x[i] *= 8 }   // some outliers
        let e = Dictionary(uniqueKeysWithValues: QuantTests.allTypes.map { ($0, Self.relativeRMSE($0, x)) })
        #expect(e[.q4_K]! < e[.q4_0]!, "\(e)")
        #expect(e[.q5_K]! < e[.q5_0]!, "\(e)")
        #expect(e[.q6_K]! < e[.q5_K]! && e[.q5_K]! < e[.q4_K]! && e[.q4_K]! < e[.q3_K]! && e[.q3_K]! < e[.q2_K]!, "\(e)")
        #expect(e[.q6_K]! < 4 * e[.q8_0]!, "\(e)")   // two bits fewer: about 4× the error
        #expect(e[.q2_K]! < 0.45, "\(e)")
        print(e.sorted { $0.value < $1.value }.map { "\($0.key.rawValue) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
    }
}

@Suite struct PackedKernelTests {
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q4_K repacked eight rows at a time give the per-row kernels'
    /// results: 1 token and 6 (a group of four and two single ones), on 1 and 2 threads, whole
    /// matrices and row views.
    @Test(arguments: [DType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K])
    func packedEqualsRowByRow(dtype: DType) throws {
        let rows = 24, cols = 512
        let values = randomFloats(rows * cols, seed: 77)
        let buf = OwnedBuffer(byteCount: dtype.bytes(elements: rows * cols)!)
        values.withUnsafeBufferPointer { quantizeBlocks($0.baseAddress!, count: rows * cols, dtype: dtype, into: buf.pointer) }
        let plain = WeightMatrix(base: buf.pointer, dtype: dtype, rows: rows, cols: cols, owner: buf)
        try #require(plain.canPack)
        let packed = plain.packedForKernels()
        #expect(packed.packed != nil && plain.packed == nil)
        for tokens in [1, 6] {
            let x = randomFloats(tokens * cols, seed: UInt64(40 + tokens))
            for threads in [1, 2] {
                let pool = ThreadPool(threads: threads)
                for (a, b) in [(plain, packed), (plain.rows(8, count: 16), packed.rows(8, count: 16))] {
                    #expect(b.packed != nil)
                    var ya = [Float](repeating: 0, count: tokens * a.rows), yb = ya
                    x.withUnsafeBufferPointer { xp in
                        ya.withUnsafeMutableBufferPointer { matmul(a, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: pool) }
                        yb.withUnsafeMutableBufferPointer { matmul(b, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: pool) }
                    }
                    for i in ya.indices { #expect(abs(ya[i] - yb[i]) <= 1e-5 * max(1, abs(ya[i])), "\(dtype) \(tokens) tokens, \(threads) threads, [\(i)]: \(ya[i]) vs \(yb[i])") }
                }
                // Through a batch whose split cuts the matrix at an arbitrary row.
                let batch = MatmulBatch()
                var y1 = [Float](repeating: 0, count: tokens * rows), y2 = [Float](repeating: 0, count: tokens * 8)
                x.withUnsafeBufferPointer { xp in
                    y1.withUnsafeMutableBufferPointer { y in
                        y2.withUnsafeMutableBufferPointer { z in
                            batch.add(packed, xp.baseAddress!, y.baseAddress!, tokens: tokens)
                            batch.add(packed.rows(16, count: 8), xp.baseAddress!, z.baseAddress!, tokens: tokens)
                            batch.run(pool: pool)
                        }
                    }
                }
                var ref = [Float](repeating: 0, count: tokens * rows)
                x.withUnsafeBufferPointer { xp in ref.withUnsafeMutableBufferPointer { matmul(plain, xp.baseAddress!, $0.baseAddress!, tokens: tokens, pool: pool) } }
                for i in y1.indices { #expect(abs(y1[i] - ref[i]) <= 1e-5 * max(1, abs(ref[i])), "batch [\(i)]") }
                for t in 0..<tokens {
                    for r in 0..<8 { #expect(abs(y2[t * 8 + r] - ref[t * rows + 16 + r]) <= 1e-5 * max(1, abs(ref[t * rows + 16 + r]))) }
                }
            }
        }
    }
}

extension PackedKernelTests {
    /// The AVX-512 VNNI kernels (vpdpbusd) give exactly the AVX2 kernels' results: both add the
    /// same integer products without rounding.
    @Test(arguments: [DType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K])
    func vnniEqualsAVX2(dtype: DType) throws {
        try #require(moe_has_vnni() != 0, "this CPU has no AVX-512 VNNI")
        let rows = 16, cols = 512, tokens = 5
        let values = randomFloats(rows * cols, seed: 91)
        let buf = OwnedBuffer(byteCount: dtype.bytes(elements: rows * cols)!)
        values.withUnsafeBufferPointer { quantizeBlocks($0.baseAddress!, count: rows * cols, dtype: dtype, into: buf.pointer) }
        let w = WeightMatrix(base: buf.pointer, dtype: dtype, rows: rows, cols: cols, owner: buf).packedForKernels()
        let stride = Int(moe_q8_act_bytes(cols))
        var act = [UInt8](repeating: 0, count: stride * tokens)
        let x = randomFloats(tokens * cols, seed: 92)
        act.withUnsafeMutableBytes { a in
            for t in 0..<tokens { moe_quantize_q8_act(x.withUnsafeBufferPointer { $0.baseAddress! } + t * cols, cols, a.baseAddress! + t * stride, moe_q8_act_kind(dtype.ggmlCode)) }
        }
        var y = [[Float]](repeating: [Float](repeating: 0, count: tokens * rows), count: 2)
        for v in 0..<2 {
            act.withUnsafeBytes { a in
                y[v].withUnsafeMutableBufferPointer { out in
                    for g in 0..<(rows / 8) {
                        _ = moe_dot_q8_x8_tokens_with(Int32(v), dtype.ggmlCode, w.packed! + g * w.packedGroupBytes, cols, a.baseAddress!, stride,
                                                      out.baseAddress! + g * 8, rows, tokens)
                    }
                }
            }
        }
        #expect(y[0] == y[1])
    }
}
