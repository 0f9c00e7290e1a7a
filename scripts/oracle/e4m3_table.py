#!/usr/bin/env python3
"""Writes the f32 value of every FP8 e4m3fn code as PyTorch decodes it (the kernels' oracle)."""
import json, math, torch
vals = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).float().tolist()
out = [None if math.isnan(v) else v for v in vals]
with open("Tests/MoETensorTests/e4m3_table.json", "w") as f:
    json.dump({"generator": "torch %s float8_e4m3fn" % torch.__version__, "values": out}, f)
