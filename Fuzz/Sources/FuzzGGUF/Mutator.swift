// A GGUF-aware mutator for libFuzzer (LLVMFuzzerCustomMutator). Byte-level mutation rarely turns a
// well-formed file into one with a huge but well-formed field (block_count = 2^31, a string array
// whose items are merges with three parts, a tensor with 2^40 elements at an unaligned offset), so
// most mutations here parse the input as GGUF, change one field the way a hostile file would, and
// write the file back with its data section: integer values set to boundary values, type codes out
// of range, keys a loader reads added with odd values, duplicated or removed keys and tensors,
// array counts and string lengths set huge, arrays nested, tokens and merges replaced, dimensions,
// GGML types and offsets changed, truncation at field boundaries. The rest (and any input that does
// not parse) goes to libFuzzer's own byte-level mutator.
import FuzzerDriver

@_cdecl("LLVMFuzzerCustomMutator")
public func customMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    var rng = Mix(seed: UInt64(seed) &+ 0x9E37_79B9_7F4A_7C15)
    if rng.below(4) == 0 { return LLVMFuzzerMutate(data, size, maxSize) }
    guard var file = RawGGUF(Array(UnsafeBufferPointer(start: data, count: size))) else {
        return LLVMFuzzerMutate(data, size, maxSize)
    }
    for _ in 0...rng.below(2) { file.mutate(&rng) }
    var out = file.serialized()
    if out.count > maxSize {
        out.removeLast(out.count - maxSize)
    }
    guard !out.isEmpty else { return 0 }
    out.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: $0.count) }
    return out.count
}

/// SplitMix64, seeded by libFuzzer's seed: deterministic per seed.
struct Mix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

/// Boundary values for counts, lengths, dimensions and ids.
let interesting: [UInt64] = [
    0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, 1023, 1024, 4096, 32768, 65535, 65536,
    0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 48, 1 << 62,
    UInt64(Int64.max), 1 << 63, UInt64.max - 1, UInt64.max,
]

/// Keys (after `<arch>.`) and `general.`/`tokenizer.` keys the loaders read.
let archKeys = [
    "block_count", "context_length", "embedding_length", "feed_forward_length", "attention.head_count",
    "attention.head_count_kv", "attention.key_length", "attention.value_length", "attention.layer_norm_rms_epsilon",
    "rope.freq_base", "rope.dimension_count", "rope.scaling.type", "rope.scaling.factor", "rope.scaling.attn_factor",
    "rope.scaling.original_context_length", "rope.scaling.yarn_log_multiplier", "vocab_size", "expert_count",
    "expert_used_count", "expert_feed_forward_length", "expert_shared_feed_forward_length", "expert_shared_count",
    "expert_group_count", "expert_group_used_count", "expert_gating_func", "expert_weights_scale", "expert_weights_norm",
    "leading_dense_block_count", "nextn_predict_layers", "attention.q_lora_rank", "attention.kv_lora_rank",
    "attention.key_length_mla", "attention.value_length_mla", "attention.scale", "embedding_scale", "residual_scale",
    "logit_scale",
]
let otherKeys = [
    "general.architecture", "general.alignment", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type", "tokenizer.ggml.scores", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix",
]
let strings: [[UInt8]] = [
    "", "gpt2", "llama", "qwen2", "qwen2moe", "qwen3moe", "olmoe", "deepseek2", "glm4moe", "granite", "granitemoe",
    "yarn", "linear", "none", "default", "llama3", "smollm", "deepseek-v3", "gpt-4o", "tekken", "<s>", "</s>", "<unk>",
    "\u{2581}", "\u{2581}a", "a b", "a  b", " a", "a ", "<0x41>", "<0xZZ>", "Ġ", "Ġ t", "<|endoftext|>",
].map { Array($0.utf8) } + [[0xFF, 0xFE], [0xC3], [0xE2, 0x96], [0], Array(repeating: 0x61, count: 300)]
let tensorNames = [
    "token_embd.weight", "output.weight", "output_norm.weight", "rope_freqs.weight", "blk.0.attn_q.weight",
    "blk.0.attn_q.bias", "blk.0.ffn_gate_inp.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_gate_up_exps.weight",
    "blk.1.ffn_gate_inp.weight", "blk.0.attn_k_b.weight", "blk.0.attn_kv_b.weight", "blk.0.ffn_gate_inp_shexp.weight",
]

/// A GGUF file as fields, for mutation; `serialized()` writes it back (tensor offsets stay relative
/// to the data section, which follows the header at the file's alignment).
struct RawGGUF {
    struct KV { var key: [UInt8]; var type: UInt32; var value: [UInt8] }
    struct Tensor { var name: [UInt8]; var dims: [UInt64]; var type: UInt32; var offset: UInt64 }
    var version: UInt32
    var kvs: [KV] = []
    var tensors: [Tensor] = []
    var data: [UInt8] = []
    /// Written instead of the true counts, when set.
    var tensorCount: UInt64?
    var kvCount: UInt64?
    /// Bytes to drop from the end of the header (a truncation inside it).
    var cut = 0

    init?(_ b: [UInt8]) {
        var r = Reader(b: b)
        guard b.count >= 24, r.u32() == 0x4655_4747, let v = r.u32(), let nt = r.u64(), let nkv = r.u64(),
              nt < 100_000, nkv < 100_000 else { return nil }
        version = v
        for _ in 0..<nkv {
            guard let key = r.string(), let t = r.u32() else { return nil }
            let start = r.pos
            guard r.skipValue(t, depth: 0) else { return nil }
            kvs.append(KV(key: key, type: t, value: Array(b[start..<r.pos])))
        }
        for _ in 0..<nt {
            guard let name = r.string(), let nd = r.u32(), nd <= 8 else { return nil }
            var dims: [UInt64] = []
            for _ in 0..<nd {
                guard let d = r.u64() else { return nil }
                dims.append(d)
            }
            guard let t = r.u32(), let off = r.u64() else { return nil }
            tensors.append(Tensor(name: name, dims: dims, type: t, offset: off))
        }
        let start = (r.pos + alignment - 1) / alignment * alignment
        data = start < b.count ? Array(b[start...]) : []
    }

    var alignment: Int {
        guard let kv = kvs.first(where: { $0.key == Array("general.alignment".utf8) }), kv.type == 4, kv.value.count == 4 else { return 32 }
        let v = Int(UInt32(kv.value[0]) | UInt32(kv.value[1]) << 8 | UInt32(kv.value[2]) << 16 | UInt32(kv.value[3]) << 24)
        return v > 0 && v <= 1 << 20 && v & (v - 1) == 0 ? v : 32
    }

    var architecture: [UInt8] {
        guard let kv = kvs.first(where: { $0.key == Array("general.architecture".utf8) }), kv.type == 8, kv.value.count >= 8 else {
            return Array("llama".utf8)
        }
        return Array(kv.value[8...])
    }

    func serialized() -> [UInt8] {
        var w = Writer()
        w.bytes(Array("GGUF".utf8))
        w.u32(version)
        w.u64(tensorCount ?? UInt64(tensors.count))
        w.u64(kvCount ?? UInt64(kvs.count))
        for kv in kvs {
            w.string(kv.key)
            w.u32(kv.type)
            w.bytes(kv.value)
        }
        for t in tensors {
            w.string(t.name)
            w.u32(UInt32(t.dims.count))
            for d in t.dims { w.u64(d) }
            w.u32(t.type)
            w.u64(t.offset)
        }
        if cut > 0 {
            w.out.removeLast(min(cut, w.out.count))
            return w.out
        }
        while w.out.count % alignment != 0 { w.out.append(0) }
        return w.out + data
    }

    mutating func mutate(_ rng: inout Mix) {
        switch rng.below(16) {
        case 0, 1:     // an integer value set to a boundary value, in its own width or widened
            guard let i = pickKV(&rng, where: { [0, 1, 2, 3, 4, 5, 10, 11].contains($0.type) }) else { return mutateTensor(&rng) }
            let v = rng.pick(interesting)
            if rng.below(3) == 0 {
                kvs[i].type = rng.pick([4, 5, 10, 11])
            }
            kvs[i].value = Writer.scalar(kvs[i].type, v)
        case 2:        // a key a loader reads, added or replaced, with an odd value
            let arch = String(decoding: architecture, as: UTF8.self)
            let key = rng.below(3) == 0 ? rng.pick(otherKeys) : arch + "." + rng.pick(archKeys)
            let type = rng.pick([UInt32(4), 5, 6, 7, 8, 10, 11, 12, 9])
            let value: [UInt8]
            switch type {
            case 6: value = Writer.scalar(6, UInt64(rng.pick([Float.nan, .infinity, -1, 0, 1e30, 1e-30, 4]).bitPattern))
            case 12: value = Writer.scalar(12, rng.pick([Double.nan, -.infinity, 0, 1e300, 0.1]).bitPattern)
            case 7: value = [UInt8(rng.below(3))]
            case 8: value = Writer.stringValue(rng.pick(strings))
            case 9:
                var w = Writer()
                w.u32(rng.pick([4, 5, 6, 8]))
                let n = rng.below(5)
                w.u64(UInt64(n))
                for _ in 0..<n { w.u32(UInt32(truncatingIfNeeded: rng.pick(interesting))) }
                value = w.out
            default: value = Writer.scalar(type, rng.pick(interesting))
            }
            let kv = KV(key: Array(key.utf8), type: type, value: value)
            if let j = kvs.firstIndex(where: { $0.key == kv.key }), rng.below(4) != 0 { kvs[j] = kv } else { kvs.append(kv) }
        case 3:        // a type code changed, the bytes kept
            guard let i = pickKV(&rng) else { return }
            kvs[i].type = rng.below(2) == 0 ? UInt32(rng.below(14)) : UInt32(truncatingIfNeeded: rng.pick(interesting))
        case 4:        // keys removed, duplicated, reordered
            guard let i = pickKV(&rng) else { return }
            switch rng.below(3) {
            case 0: kvs.remove(at: i)
            case 1: kvs.insert(kvs[i], at: rng.below(kvs.count + 1))
            default: kvs.swapAt(i, rng.below(kvs.count))
            }
        case 5:        // an array's count or item type changed, or the array nested in another
            guard let i = pickKV(&rng, where: { $0.type == 9 && $0.value.count >= 12 }) else { return mutateTensor(&rng) }
            switch rng.below(4) {
            case 0: kvs[i].value.replaceSubrange(4..<12, with: Writer.scalar(10, rng.pick(interesting)))
            case 1: kvs[i].value.replaceSubrange(0..<4, with: Writer.scalar(4, UInt64(rng.below(14))))
            case 2: kvs[i].value = Writer.scalar(4, 9) + Writer.scalar(10, 1) + kvs[i].value
            default: mutateArrayItems(i, &rng)
            }
        case 6, 7:     // an item of a string array (tokens, merges) replaced, or items removed or repeated
            guard let i = pickKV(&rng, where: { $0.type == 9 && $0.value.count >= 12 && $0.value[0] == 8 }) else { return mutateTensor(&rng) }
            mutateArrayItems(i, &rng)
        case 8:        // a string value or a key replaced, or its length field set
            guard let i = pickKV(&rng) else { return }
            if kvs[i].type == 8 && rng.below(2) == 0 {
                kvs[i].value = rng.below(3) == 0 ? Writer.scalar(10, rng.pick(interesting)) + kvs[i].value.dropFirst(8) : Writer.stringValue(rng.pick(strings))
            } else {
                kvs[i].key = rng.below(2) == 0 ? rng.pick(strings) : Array(rng.pick(otherKeys).utf8)
            }
        case 9, 10, 11, 12:
            mutateTensor(&rng)
        case 13:       // header counts, version
            switch rng.below(3) {
            case 0: tensorCount = rng.pick(interesting)
            case 1: kvCount = rng.pick(interesting)
            default: version = UInt32(truncatingIfNeeded: rng.pick([0, 1, 2, 3, 4, 0xFFFF_FFFF]))
            }
        case 14:       // truncated: inside the header, or in the data
            if rng.below(2) == 0 {
                cut = 1 + rng.below(64)
            } else if !data.isEmpty {
                data.removeLast(1 + rng.below(data.count))
            }
        default:       // data grown or shrunk by a block
            if rng.below(2) == 0 || data.count < 64 {
                data += [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: 32 * (1 + rng.below(4)))
            } else {
                data.removeLast(32)
            }
        }
    }

    mutating func mutateTensor(_ rng: inout Mix) {
        guard !tensors.isEmpty else {
            tensors.append(Tensor(name: Array(rng.pick(tensorNames).utf8), dims: [32], type: 0, offset: 0))
            return
        }
        let i = rng.below(tensors.count)
        switch rng.below(8) {
        case 0, 1:
            guard !tensors[i].dims.isEmpty else { return }
            tensors[i].dims[rng.below(tensors[i].dims.count)] = rng.pick(interesting)
        case 2:
            if rng.below(2) == 0 && !tensors[i].dims.isEmpty { tensors[i].dims.removeLast() } else { tensors[i].dims.append(rng.pick(interesting)) }
        case 3: tensors[i].type = rng.below(2) == 0 ? UInt32(rng.below(42)) : UInt32(truncatingIfNeeded: rng.pick(interesting))
        case 4: tensors[i].offset = rng.below(2) == 0 ? rng.pick(interesting) : tensors[i].offset &+ UInt64(rng.below(64))
        case 5: tensors[i].name = rng.below(2) == 0 ? Array(rng.pick(tensorNames).utf8) : tensors[rng.below(tensors.count)].name
        case 6: tensors.insert(tensors[i], at: rng.below(tensors.count + 1))
        default: tensors.remove(at: i)
        }
    }

    /// Items of array `i` (strings or fixed-size scalars): one replaced, some removed, or one
    /// repeated; the count is rewritten to match.
    mutating func mutateArrayItems(_ i: Int, _ rng: inout Mix) {
        var r = Reader(b: kvs[i].value)
        guard let itemType = r.u32(), let n = r.u64(), n <= 1 << 20 else { return }
        var items: [[UInt8]] = []
        for _ in 0..<n {
            let start = r.pos
            guard r.skipValue(itemType, depth: 1) else { return }
            items.append(Array(kvs[i].value[start..<r.pos]))
        }
        let item: [UInt8]
        switch itemType {
        case 8: item = Writer.stringValue(rng.pick(strings))
        case 0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12: item = Writer.scalar(itemType, rng.pick(interesting))
        default: return
        }
        switch rng.below(4) {
        case 0 where !items.isEmpty: items[rng.below(items.count)] = item
        case 1 where !items.isEmpty: items.removeSubrange(rng.below(items.count)...)
        case 2 where !items.isEmpty: items.insert(items[rng.below(items.count)], at: rng.below(items.count + 1))
        default: items.insert(item, at: rng.below(items.count + 1))
        }
        kvs[i].value = Writer.scalar(4, UInt64(itemType)) + Writer.scalar(10, UInt64(items.count)) + items.flatMap { $0 }
    }

    mutating func pickKV(_ rng: inout Mix, where ok: (KV) -> Bool = { _ in true }) -> Int? {
        let candidates = kvs.indices.filter { ok(kvs[$0]) }
        return candidates.isEmpty ? nil : rng.pick(candidates)
    }
}

struct Reader {
    let b: [UInt8]
    var pos = 0

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, n <= b.count - pos else { return nil }
        defer { pos += n }
        return b[pos..<pos + n]
    }
    mutating func u32() -> UInt32? { take(4).map { $0.reversed().reduce(0) { $0 << 8 | UInt32($1) } } }
    mutating func u64() -> UInt64? { take(8).map { $0.reversed().reduce(0) { $0 << 8 | UInt64($1) } } }
    mutating func string() -> [UInt8]? {
        guard let n = u64(), n <= UInt64(b.count - pos) else { return nil }
        return take(Int(n)).map(Array.init)
    }
    mutating func skipValue(_ t: UInt32, depth: Int) -> Bool {
        switch t {
        case 0, 1, 7: return take(1) != nil
        case 2, 3: return take(2) != nil
        case 4, 5, 6: return take(4) != nil
        case 10, 11, 12: return take(8) != nil
        case 8: return string() != nil
        case 9:
            guard depth < 3, let it = u32(), let n = u64(), n <= UInt64(b.count - pos) else { return false }
            for _ in 0..<n where !skipValue(it, depth: depth + 1) { return false }
            return true
        default: return false
        }
    }
}

struct Writer {
    var out: [UInt8] = []
    mutating func bytes(_ b: [UInt8]) { out += b }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    mutating func string(_ s: [UInt8]) { u64(UInt64(s.count)); out += s }

    /// A scalar of GGUF type `t` holding the low bytes of `v`.
    static func scalar(_ t: UInt32, _ v: UInt64) -> [UInt8] {
        let width: Int
        switch t {
        case 0, 1, 7: width = 1
        case 2, 3: width = 2
        case 4, 5, 6: width = 4
        default: width = 8
        }
        return (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
    }

    static func stringValue(_ s: [UInt8]) -> [UInt8] { scalar(10, UInt64(s.count)) + s }
}
