#!/usr/bin/env python3
"""Quantises random data with the `gguf` package's reference quantisers and records the bytes and
their dequantised values: the oracle for MoEKit's block-quantised kernels."""
import base64, json, numpy as np, gguf
from gguf import GGMLQuantizationType as T

rng = np.random.default_rng(7)
data = (rng.standard_normal((3, 96)) * np.array([[0.02], [1.0], [30.0]])).astype(np.float32)
data[0, :32] = 0  # an all-zero block
out = {"generator": f"gguf {gguf.__version__ if hasattr(gguf, '__version__') else ''}".strip(), "rows": 3, "cols": 96,
       "input": data.flatten().tolist(), "types": {}}
for t in (T.Q8_0, T.Q4_0, T.Q4_1):
    q = gguf.quants.quantize(data, t)
    deq = gguf.quants.dequantize(q, t).astype(np.float32)
    out["types"][t.name] = {"bytes": base64.b64encode(q.tobytes()).decode(), "dequantized": deq.flatten().tolist()}
with open("Tests/MoETensorTests/quant_vectors.json", "w") as f:
    json.dump(out, f)
