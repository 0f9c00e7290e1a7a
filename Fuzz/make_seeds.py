#!/usr/bin/env python3
"""Writes the GGUF fuzzer's seed corpus (Fuzz/seeds/) and dictionary (Fuzz/gguf.dict).

Deterministic; run from the repository root: `python3 Fuzz/make_seeds.py`. The seeds are small
(a few KB each) so that libFuzzer spends its time on headers, not on tensor data:

- `<fixture>.gguf` for every file in Tests/Fixtures/gguf/: the same metadata and tensor names, types
  and number of dimensions, but every tensor shrunk to one block (ne = {block, 1, ...}) with zero
  data (`rope_freqs.weight` keeps ones). They parse, and reach `entries()`, the tokenizer and the
  model config.
- `tok_gpt2.gguf`, `tok_llama.gguf`: small real tokenizers (byte-level BPE with merges; SentencePiece
  with byte tokens, scores and types), so tokenizer construction and encoding get far.
- a few truncated and mutated files (unknown type codes, nested arrays, a huge length, duplicate key).
"""
import os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures", "gguf")
OUT = os.path.join(ROOT, "Fuzz", "seeds")
BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
         10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
         24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2), 39: (32, 17)}
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def parse(b):
    """(version, [(key, type, raw value bytes)], [(name, dims, type)], alignment)."""
    pos = 0

    def take(n):
        nonlocal pos
        v = b[pos:pos + n]
        pos += n
        return v

    def u32(): return struct.unpack("<I", take(4))[0]
    def u64(): return struct.unpack("<Q", take(8))[0]
    def string(): return take(u64())

    def value(t):
        if t in SCALAR:
            take(SCALAR[t])
        elif t == 8:
            string()
        elif t == 9:
            it, n = u32(), u64()
            for _ in range(n):
                value(it)
        else:
            raise ValueError(t)

    assert take(4) == b"GGUF"
    version, nt, nkv = u32(), u64(), u64()
    kvs, align = [], 32
    for _ in range(nkv):
        key = string().decode()
        t = u32()
        start = pos
        value(t)
        kvs.append((key, t, b[start:pos]))
        if key == "general.alignment":
            align = struct.unpack("<I", b[start:start + 4])[0]
    tensors = []
    for _ in range(nt):
        name = string().decode()
        nd = u32()
        dims = [u64() for _ in range(nd)]
        t = u32()
        u64()
        tensors.append((name, dims, t))
    return version, kvs, tensors, align


def gstr(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(s)) + s


def build(kvs, tensors, version=3, align=32, data_of=None):
    """A GGUF file: kvs as (key, type, raw value bytes); tensors as (name, dims, type)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, t, raw in kvs:
        out += gstr(key) + struct.pack("<I", t) + raw
    offset, blobs = 0, []
    for name, dims, t in tensors:
        block, nbytes = BLOCK[t]
        n = 1
        for d in dims:
            n *= d
        size = n // block * nbytes
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", t, offset)
        blob = data_of(name, t, size) if data_of else bytes(size)
        blobs.append((offset, blob))
        offset += (size + align - 1) // align * align
    out += bytes(-len(out) % align)
    data = bytearray(offset)
    for o, blob in blobs:
        data[o:o + len(blob)] = blob
    return out + bytes(data)


def kv_u32(k, v): return (k, 4, struct.pack("<I", v))
def kv_f32(k, v): return (k, 6, struct.pack("<f", v))
def kv_bool(k, v): return (k, 7, bytes([1 if v else 0]))
def kv_str(k, v): return (k, 8, gstr(v))


def kv_arr(k, item, values):
    raw = struct.pack("<IQ", item, len(values))
    for v in values:
        raw += {8: lambda: gstr(v), 4: lambda: struct.pack("<I", v), 5: lambda: struct.pack("<i", v),
                6: lambda: struct.pack("<f", v)}[item]()
    return (k, 9, raw)


def ones(name, t, size):
    return struct.pack("<f", 1.0) * (size // 4) if name == "rope_freqs.weight" and t == 0 else bytes(size)


def gpt2_tokenizer():
    # GPT-2's byte-to-unicode alphabet, as the byte-level tokens are spelled.
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    alphabet = [chr(c) for _, c in sorted(zip(bs, cs))]
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "Ġ w", "o r", "l l", "Ġ 1", "2 3"]
    tokens = alphabet + [m.replace(" ", "") for m in merges] + ["<|endoftext|>", "<|im_start|>", "<tool>"]
    types = [1] * (len(tokens) - 3) + [3, 3, 4]
    return [kv_str("general.architecture", "qwen2"), kv_str("tokenizer.ggml.model", "gpt2"),
            kv_str("tokenizer.ggml.pre", "qwen2"), kv_arr("tokenizer.ggml.tokens", 8, tokens),
            kv_arr("tokenizer.ggml.token_type", 5, types), kv_arr("tokenizer.ggml.merges", 8, merges),
            kv_u32("tokenizer.ggml.bos_token_id", len(tokens) - 3), kv_u32("tokenizer.ggml.eos_token_id", len(tokens) - 3),
            kv_bool("tokenizer.ggml.add_bos_token", False)]


def llama_tokenizer():
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    words = ["▁", "▁t", "he", "▁the", "▁a", "in", "er", "▁w", "or", "ll", "▁1", "23", "é", "▁hé"]
    tokens += words
    types = [2, 3, 3] + [6] * 256 + [1] * len(words)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(words))]
    return [kv_str("general.architecture", "llama"), kv_str("tokenizer.ggml.model", "llama"),
            kv_arr("tokenizer.ggml.tokens", 8, tokens), kv_arr("tokenizer.ggml.scores", 6, scores),
            kv_arr("tokenizer.ggml.token_type", 5, types), kv_u32("tokenizer.ggml.bos_token_id", 1),
            kv_u32("tokenizer.ggml.eos_token_id", 2), kv_u32("tokenizer.ggml.unknown_token_id", 0),
            kv_bool("tokenizer.ggml.add_space_prefix", True)]


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds, keys = {}, set()
    for f in sorted(os.listdir(FIX)):
        if not f.endswith(".gguf"):
            continue
        version, kvs, tensors, align = parse(open(os.path.join(FIX, f), "rb").read())
        keys.update(k for k, _, _ in kvs)
        small = [(name, [BLOCK[t][0]] + [1] * (len(dims) - 1), t) for name, dims, t in tensors]
        seeds[f] = build(kvs, small, version, align, ones)
    seeds["tok_gpt2.gguf"] = build(gpt2_tokenizer(), [("token_embd.weight", [32, 2], 8)])
    seeds["tok_llama.gguf"] = build(llama_tokenizer(), [("rope_freqs.weight", [4], 0)], data_of=ones)
    for _, kvs, _ in [(0, gpt2_tokenizer(), 0), (0, llama_tokenizer(), 0)]:
        keys.update(k for k, _, _ in kvs)

    base = seeds["llama.gguf"]
    header_end = 24 + sum(8 + len(k) + 4 + len(raw) for k, _, raw in parse(base)[1])
    seeds["trunc_header.gguf"] = base[:23]
    seeds["trunc_metadata.gguf"] = base[:header_end // 2]
    seeds["trunc_tensors.gguf"] = base[:header_end + 40]
    seeds["trunc_data.gguf"] = base[:len(base) - 1]
    nested = [("general.architecture", 8, gstr("llama")),
              ("nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)
               + struct.pack("<IQ", 8, 1) + gstr("x")),
              ("bad_type", 13, b""), ("general.alignment", 4, struct.pack("<I", 64))]
    seeds["nested_arrays.gguf"] = build(nested[:2], [("t", [32, 1], 2)])
    seeds["bad_value_type.gguf"] = build(nested[2:3], [])
    seeds["alignment_64.gguf"] = build(nested[3:] + nested[:1], [("a", [3], 0), ("b", [256], 12)], align=64)
    huge = bytearray(seeds["tok_llama.gguf"])
    at = huge.index(b"tokenizer.ggml.tokens") + len("tokenizer.ggml.tokens") + 4 + 4
    huge[at:at + 8] = struct.pack("<Q", 1 << 62)
    seeds["huge_array_length.gguf"] = bytes(huge)
    dup = [("general.architecture", 8, gstr("llama")), ("general.architecture", 8, gstr("qwen2"))]
    seeds["duplicate_key.gguf"] = build(dup, [])
    seeds["v2.gguf"] = build(llama_tokenizer()[:3], [("x", [8], 1)], version=2)

    for name, b in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(b)
    # libFuzzer dictionary: the keys and tokens a loader looks for.
    words = sorted(keys | {"general.alignment", "tokenizer.ggml.scores", "tokenizer.ggml.unknown_token_id",
                           "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_eos_token",
                           "tokenizer.ggml.add_space_prefix", "rope_freqs.weight", "token_embd.weight",
                           "output.weight", "gpt2", "llama", "GGUF", "llama3", "qwen2", "smollm", "deepseek-v3",
                           "gpt-4o", "tekken", "<0x41>", "\u2581"})
    with open(os.path.join(ROOT, "Fuzz", "gguf.dict"), "w") as fh:
        fh.write("# GGUF keys and tokens for libFuzzer (-dict); written by Fuzz/make_seeds.py\n")
        for w in words:
            fh.write('"%s"\n' % "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else
                                         "".join("\\x%02X" % x for x in c.encode()) for c in w))
    print("wrote %d seeds to %s" % (len(seeds), OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
