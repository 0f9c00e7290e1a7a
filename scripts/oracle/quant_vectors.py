#!/usr/bin/env python3
"""Oracle for MoEKit's block-quantised kernels, from the `gguf` Python package (gguf.quants).

Run from the repository root: python3 scripts/oracle/quant_vectors.py
Writes Tests/MoETensorTests/quant_vectors.json:

* "types": for the types gguf can quantise (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4), random rows
  quantised by gguf, with gguf's dequantisation of those bytes. MoEKit's quantisers must produce the
  same bytes (up to ties) and its dequantiser the same values.
* "k_types": the K-quants (Q2_K .. Q6_K), which gguf can only dequantise: random super-blocks (random
  bytes with sane f16 scales written over the scale fields) and gguf's dequantisation of them.
"""
import base64, json, numpy as np, gguf
from gguf import GGMLQuantizationType as T

rng = np.random.default_rng(7)
rows, cols = 3, 512
data = (rng.standard_normal((rows, cols)) * np.array([[0.02], [1.0], [30.0]])).astype(np.float32)
data[0, :32] = 0  # an all-zero block
out = {"generator": f"gguf {getattr(gguf, '__version__', '')}".strip(), "rows": rows, "cols": cols,
       "input": data.flatten().tolist(), "types": {}, "k_types": {}}

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()

for t in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.MXFP4):
    q = gguf.quants.quantize(data, t)
    deq = gguf.quants.dequantize(q, t).astype(np.float32)
    out["types"][t.name] = {"bytes": b64(q), "dequantized": deq.flatten().tolist()}

# Offsets of the f16 scale fields in each K-quant super-block.
half_fields = {T.Q2_K: (80, 82), T.Q3_K: (108,), T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,)}
for t, fields in half_fields.items():
    block, size = gguf.GGML_QUANT_SIZES[t]
    nb = rows * cols // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    for i in range(nb):
        for f in fields:
            raw[i, f:f + 2] = np.array([rng.uniform(-0.05, 0.05)], dtype=np.float16).view(np.uint8)
    q = raw.reshape(rows, cols // block * size)
    deq = gguf.quants.dequantize(q, t).astype(np.float32)
    out["k_types"][t.name] = {"bytes": b64(q), "dequantized": deq.flatten().tolist()}

with open("Tests/MoETensorTests/quant_vectors.json", "w") as f:
    json.dump(out, f)
