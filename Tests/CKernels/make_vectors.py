#!/usr/bin/env python3
"""Flattens the kernel oracles into one little-endian binary file for Tests/CKernels/kernel_check.c,
which does not parse JSON. Standard library only. Usage: make_vectors.py REPO_ROOT OUT_FILE

Inputs (committed, made by scripts/oracle/*.py from the gguf package and PyTorch):
  Tests/MoETensorTests/quant_vectors.json  block bytes (base64) + gguf's dequantised floats per type
  Tests/MoETensorTests/e4m3_table.json     the 256 float8_e4m3fn values (null = NaN)
  Tests/CKernels/llamacpp_ops.json         llama.cpp's own tensors for llamacpp.c (scripts/oracle/llamacpp_ops.py)

Layout (all integers u32, all floats f32):
  "MKCK" | version = 1 | rows | cols | input[rows*cols]
  | ntypes | ntypes x (ggml code | nbytes | bytes[nbytes] | dequantised[rows*cols])
  | 256 | e4m3[256]
  | "LLCP" | named blobs: (name length | name | nbytes | bytes)..., then a name length of 0
  (llama.cpp's own tensors, Tests/CKernels/llamacpp_ops.json from scripts/oracle/llamacpp_ops.py:
   f32 arrays and Q4_1 rows as stored; "meta" blobs are u32 fields, a float one as its f32 bits)
"""
import base64, json, math, os, struct, sys

# GGUF type codes of the block types quant_vectors.json holds.
CODES = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11,
         "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "MXFP4": 39}


def f32s(values):
    # The JSON holds f32 values printed as doubles: packing them as f32 is exact.
    return struct.pack("<%df" % len(values), *[math.nan if v is None else v for v in values])


def llamacpp_blobs(root):
    """The llama.cpp tensors of llamacpp_ops.json as (name, bytes) pairs."""
    with open(os.path.join(root, "Tests", "CKernels", "llamacpp_ops.json")) as f:
        ops = json.load(f)
    b = base64.b64decode
    f32 = lambda v: struct.pack("<f", v)
    blobs = [("eps", f32(ops["eps"]))]
    r = ops["rms_norm"]
    blobs += [("rms/x", b(r["x"])), ("rms/w", b(r["w"])), ("rms/out", b(r["out"]))]
    for kind, cases in (("q4_1", ops["q4_1"]), ("q8_0", ops["output"]), ("f16", ops["f16"])):
        for i, c in enumerate(cases):
            blobs += [("%s/%d/meta" % (kind, i), struct.pack("<I", c["cols"])), ("%s/%d/w" % (kind, i), b(c["w"])),
                      ("%s/%d/x" % (kind, i), b(c["x"])), ("%s/%d/out" % (kind, i), b(c["out"]))]
    r = ops["rope"]
    blobs += [("rope/meta", struct.pack("<III", r["heads"], r["head_dim"], r["position"]) + f32(r["base"])),
              ("rope/in", b(r["in"])), ("rope/out", b(r["out"]))]
    r = ops["swiglu"]
    blobs += [("swiglu/gate", b(r["gate"])), ("swiglu/up", b(r["up"])), ("swiglu/out", b(r["out"]))]
    r = ops["attention"]
    blobs += [("attn/meta", struct.pack("<II", r["positions"], r["head_dim"]) + f32(r["scale"])),
              ("attn/q", b(r["q"])), ("attn/keys", b(r["keys"])), ("attn/values", b(r["values"])), ("attn/out", b(r["out"]))]
    return blobs


def main():
    root, out_path = sys.argv[1], sys.argv[2]
    tests = os.path.join(root, "Tests", "MoETensorTests")
    with open(os.path.join(tests, "quant_vectors.json")) as f:
        qv = json.load(f)
    with open(os.path.join(tests, "e4m3_table.json")) as f:
        e4m3 = json.load(f)["values"]
    rows, cols = qv["rows"], qv["cols"]
    types = {}
    for group in ("types", "k_types"):
        types.update(qv[group])
    missing = sorted(set(CODES) - set(types))
    if missing:
        sys.exit("make_vectors.py: quant_vectors.json lacks %s" % ", ".join(missing))
    if len(e4m3) != 256 or len(qv["input"]) != rows * cols:
        sys.exit("make_vectors.py: unexpected table sizes")
    out = [b"MKCK", struct.pack("<III", 1, rows, cols), f32s(qv["input"]), struct.pack("<I", len(CODES))]
    for name, code in sorted(CODES.items(), key=lambda kv: kv[1]):
        raw = base64.b64decode(types[name]["bytes"])
        deq = types[name]["dequantized"]
        if len(deq) != rows * cols:
            sys.exit("make_vectors.py: %s has %d dequantised values" % (name, len(deq)))
        out += [struct.pack("<II", code, len(raw)), raw, f32s(deq)]
    out += [struct.pack("<I", 256), f32s(e4m3)]
    out.append(b"LLCP")
    for name, data in llamacpp_blobs(root):
        out += [struct.pack("<I", len(name)), name.encode(), struct.pack("<I", len(data)), data]
    out.append(struct.pack("<I", 0))
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"".join(out))
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
