#!/usr/bin/env python3
"""Convert the tiny Hugging Face fixtures to GGUF, laid out the way llama.cpp's converter does it.

Run from the repository root:

    python3 scripts/oracle/tiny_to_gguf.py               # convert every supported fixture
    python3 scripts/oracle/tiny_to_gguf.py llama olmoe   # only some
    python3 scripts/oracle/tiny_to_gguf.py --verify      # convert, then check each file (see below)
    python3 scripts/oracle/tiny_to_gguf.py --list        # print the key/value pairs and tensors written

Reads Tests/Fixtures/tiny/<name>/ (config.json + model.safetensors, or shards with an index) and writes
Tests/Fixtures/gguf/<name>.gguf (GGUF v3, default alignment 32). The output is deterministic.

What the layout follows (llama.cpp's convert_hf_to_gguf.py together with gguf-py's constants and tensor
map; this is an independent re-implementation for these seven fixtures, not a copy):

* Output type: like `--outtype` set to the checkpoint's own dtype. F32 checkpoints -> ALL_F32, F16 ->
  MOSTLY_F16, BF16 -> MOSTLY_BF16 (tensors as GGML type BF16 = 30). In all cases tensors with one
  dimension (norms, biases, rope_freqs) and every `*_norm.weight` are F32, and the MoE routers
  (`ffn_gate_inp`) and the Qwen2-MoE shared-expert gate (`ffn_gate_inp_shexp`) are always F32.
* Tensor order: `rope_freqs` first (llama3 rope only), then the checkpoint tensors sorted by their
  Hugging Face name (shard by shard), which is the order the converter visits them. Per-expert weights
  are held back until the last expert of a layer has been seen, then written as three stacked tensors
  in the order down, gate, up.
* Llama only: rows of q_proj/k_proj (weights and biases) are permuted from Hugging Face's rotate-half
  RoPE layout to the interleaved-pair layout llama.cpp's LLAMA architecture uses (its rope type is
  NORM). Qwen2/Qwen3/Qwen2-MoE/Qwen3-MoE/OLMoE use NEOX rope in llama.cpp, so no permutation.
* Stacked experts: torch.stack over the expert index, so numpy shape [n_expert, rows, cols] and GGML
  ne = {cols, rows, n_expert}.
* The converter writes no tokenizer of its own for these fixtures (they ship none); a placeholder
  "gpt2" vocabulary with vocab_size tokens "<t0>", "<t1>", ..., all of type NORMAL, an empty merges
  list and pre-tokenizer "default" is written instead, plus bos/eos ids from config.json (read the
  way the converter's gguf.SpecialVocab reads them).

Deliberate departures from the stock converter, because these fixtures go where it does not:

* qwen3_moe has `mlp_only_layers=[1]`: layer 1 is a dense MLP. gguf-py's QWEN3MOE tensor list has no
  dense FFN tensors, so the stock converter stops with "Can not map tensor". Here the dense layer's
  MLP is written under the generic dense names blk.1.ffn_gate/ffn_up/ffn_down.weight (the names every
  other llama.cpp architecture uses for a dense FFN); no metadata key marks the layer as dense, a
  reader sees it from the absence of blk.1.ffn_gate_inp.
* llama3 rope factors use `original_max_position_embeddings` from `rope_parameters` (as current
  llama.cpp master does). Older converters read it from the top level of the config only and fall back
  to 8192, which is wrong for transformers-5 style configs like these fixtures.

Things llama.cpp itself (read, not run: src/models/*.cpp) would reject in two of these files, both
because the tiny fixtures are more general than the real models: OLMoE's loader wants attn_k_norm of
n_embd (64) elements, but with GQA the checkpoint's k_norm has n_kv_head * head_dim (32); and the
QWEN3MOE graph needs ffn_gate_inp in every layer, so the dense layer 1 of qwen3_moe cannot load.

Qwen2-MoE's shared-expert gate (HF shared_expert_gate.weight, [1, n_embd]) is written 2-D, ne
{n_embd, 1}, F32, as the converter has done since it stopped squeezing tensors. llama.cpp declares it
{n_embd} and accepts either; older GGUFs have it 1-D, and transformers' GGUF loader only handles
the 1-D form (it expand_dims the tensor to [1, 1, n_embd] and then rejects the size).

--verify reads every file back with gguf.GGUFReader, checks it against the safetensors (names, shapes,
types, values, the permutation), checks that rope_freqs reproduces the fixture's `rope_inv_freq`, and
runs the model from the GGUF through transformers' GGUF loader, comparing the logits with
oracle.json.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from safetensors import safe_open

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType, LlamaFileType
from gguf import MODEL_ARCH, MODEL_TENSOR

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_ROOT = REPO_ROOT / "Tests" / "Fixtures" / "tiny"
OUT_ROOT = REPO_ROOT / "Tests" / "Fixtures" / "gguf"

# fixture name -> (llama.cpp architecture, converter family)
FIXTURES: dict[str, tuple[MODEL_ARCH, str]] = {
    "llama": (MODEL_ARCH.LLAMA, "llama"),
    "llama_f16": (MODEL_ARCH.LLAMA, "llama"),
    "qwen2": (MODEL_ARCH.QWEN2, "qwen2"),
    "qwen3": (MODEL_ARCH.QWEN3, "qwen2"),
    "qwen2_moe": (MODEL_ARCH.QWEN2MOE, "qwen2moe"),
    "qwen3_moe": (MODEL_ARCH.QWEN3MOE, "qwen2moe"),
    "olmoe": (MODEL_ARCH.OLMOE, "olmoe"),
}

OUTTYPE = {
    torch.float32: LlamaFileType.ALL_F32,
    torch.float16: LlamaFileType.MOSTLY_F16,
    torch.bfloat16: LlamaFileType.MOSTLY_BF16,
}
FILETYPE_QTYPE = {
    LlamaFileType.ALL_F32: QT.F32,
    LlamaFileType.MOSTLY_F16: QT.F16,
    LlamaFileType.MOSTLY_BF16: QT.BF16,
}
# tensors llama.cpp always keeps in F32 (of the ones that occur here)
ALWAYS_F32 = (MODEL_TENSOR.FFN_GATE_INP, MODEL_TENSOR.FFN_GATE_INP_SHEXP)
EXPERT_PROJS = ("down_proj", "gate_proj", "up_proj")  # order the stacked tensors are written in
DENSE_FALLBACK = {
    "gate_proj": MODEL_TENSOR.FFN_GATE,
    "up_proj": MODEL_TENSOR.FFN_UP,
    "down_proj": MODEL_TENSOR.FFN_DOWN,
}


class Writer(gguf.GGUFWriter):
    """GGUFWriter that can also write an empty typed array (llama.cpp needs `tokenizer.ggml.merges`
    to exist for a "gpt2" vocabulary, and gguf-py refuses empty arrays)."""

    def _pack_val(self, val: Any, vtype: GGUFValueType, add_vtype: bool, sub_type: GGUFValueType | None = None) -> bytes:
        if vtype == GGUFValueType.ARRAY and sub_type is not None and len(val) == 0:
            out = bytearray()
            if add_vtype:
                out += self._pack("I", vtype)
            out += self._pack("I", sub_type)
            out += self._pack("Q", 0)
            return bytes(out)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


# ---------------------------------------------------------------------------------------------- input


def load_config(fixture_dir: Path) -> dict[str, Any]:
    with open(fixture_dir / "config.json", encoding="utf-8") as f:
        return json.load(f)


def iter_checkpoint(fixture_dir: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors in the order convert_hf_to_gguf visits them: parts in sorted order, names sorted
    within each part."""
    index = fixture_dir / "model.safetensors.index.json"
    if index.is_file():
        with open(index, encoding="utf-8") as f:
            weight_map: dict[str, str] = json.load(f)["weight_map"]
        parts = sorted(dict.fromkeys(weight_map.values()))
    else:
        parts = ["model.safetensors"]
    for part in parts:
        with safe_open(fixture_dir / part, framework="pt") as f:
            for name in sorted(f.keys()):
                yield name, f.get_tensor(name)


def checkpoint_dtype(fixture_dir: Path) -> torch.dtype:
    for _, t in iter_checkpoint(fixture_dir):
        if t.dim() >= 2:
            return t.dtype
    raise ValueError(f"{fixture_dir}: no matrix in the checkpoint")


# ------------------------------------------------------------------------------------ hparams & rope


def rope_params(cfg: dict[str, Any]) -> dict[str, Any]:
    params = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    params = params.get("full_attention", params)
    if "rope_theta" not in params and "rope_theta" in cfg:
        params["rope_theta"] = cfg["rope_theta"]
    if "rope_type" not in params and "type" in params:
        params["rope_type"] = params["type"]
    if "original_max_position_embeddings" not in params and "original_max_position_embeddings" in cfg:
        params["original_max_position_embeddings"] = cfg["original_max_position_embeddings"]
    return params


def head_dim(cfg: dict[str, Any]) -> int:
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def llama3_rope_factors(cfg: dict[str, Any]) -> torch.Tensor | None:
    """Per-frequency divisors for llama3 rope: llama.cpp rotates pair i by
    pos * base^(-2i/d) / rope_freqs[i]. Computed in float32 torch like the converter."""
    p = rope_params(cfg)
    if str(p.get("rope_type", "")).lower() != "llama3":
        return None
    base = p.get("rope_theta", 10000.0)
    dim = head_dim(cfg)
    factor = p.get("factor", 8.0)
    lo = p.get("low_freq_factor", 1.0)
    hi = p.get("high_freq_factor", 4.0)
    old_ctx = p.get("original_max_position_embeddings", 8192)
    long_wavelen = old_ctx / lo  # longer than this: divide by `factor`
    short_wavelen = old_ctx / hi  # shorter than this: unchanged
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    out: list[Any] = []
    for f in inv_freq:
        wavelen = 2 * math.pi / f
        if wavelen < short_wavelen:
            out.append(1)
        elif wavelen > long_wavelen:
            out.append(factor)
        else:
            s = (old_ctx / wavelen - lo) / (hi - lo)
            out.append(1 / ((1 - s) / factor + s))
    return torch.tensor(out, dtype=torch.float32)


def write_hparams(w: Writer, arch: MODEL_ARCH, family: str, cfg: dict[str, Any], ftype: LlamaFileType) -> None:
    """The key/value pairs convert_hf_to_gguf writes for these architectures, in its order."""
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    p = rope_params(cfg)
    rope_type = p.get("rope_type")
    if rope_type not in (None, "default", "llama3"):
        raise NotImplementedError(f"rope_type {rope_type!r}")  # llama3 is carried by rope_freqs only
    if "rope_theta" in p:
        w.add_rope_freq_base(p["rope_theta"])
    # OlmoeModel writes the config value and then overwrites it with a hard-coded 1e-5 (same slot)
    w.add_layer_norm_rms_eps(1e-5 if family == "olmoe" else cfg["rms_norm_eps"])
    n_expert = cfg.get("num_local_experts", cfg.get("num_experts"))
    if n_expert is not None:
        w.add_expert_count(n_expert)
    if (n_used := cfg.get("num_experts_per_tok")) is not None:
        w.add_expert_used_count(n_used)
    if (hd := cfg.get("head_dim")) is not None:  # only when the config states head_dim
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_file_type(ftype)
    # architecture-specific additions
    if family == "llama":
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_dimension_count(head_dim(cfg))
    elif family == "qwen2moe":
        if (v := cfg.get("moe_intermediate_size")) is not None:
            w.add_expert_feed_forward_length(v)
        if (v := cfg.get("shared_expert_intermediate_size")) is not None:
            w.add_expert_shared_feed_forward_length(v)


# ------------------------------------------------------------------------------------------ tensors


def permute_rope_rows(t: torch.Tensor, n_head: int) -> torch.Tensor:
    """Rows of each head go from [x_0 .. x_{d/2-1}, y_0 .. y_{d/2-1}] (Hugging Face rotate-half) to
    [x_0, y_0, x_1, y_1, ...] (interleaved pairs): new row 2i = old row i, new row 2i+1 = old i + d/2."""
    rows = t.shape[0]
    half = rows // n_head // 2
    return t.reshape(n_head, 2, half, *t.shape[1:]).transpose(1, 2).reshape(t.shape)


def block_id(name: str) -> int | None:
    for part in name.split("."):
        if part.isdecimal():
            return int(part)
    return None


class Converter:
    def __init__(self, name: str):
        self.name = name
        self.fixture_dir = TINY_ROOT / name
        self.arch, self.family = FIXTURES[name]
        self.cfg = load_config(self.fixture_dir)
        self.n_layer = self.cfg["num_hidden_layers"]
        self.tensor_map = gguf.get_tensor_name_map(self.arch, self.n_layer)
        self.ftype = OUTTYPE[checkpoint_dtype(self.fixture_dir)]
        self.experts: dict[int, dict[str, torch.Tensor]] = {}
        self.notes: list[str] = []

    # name mapping ------------------------------------------------------------------------------
    def tensor_name(self, key: MODEL_TENSOR, bid: int | None = None, suffix: str = ".weight") -> str:
        return gguf.TENSOR_NAMES[key].format(bid=bid) + suffix

    def map_name(self, hf_name: str) -> str:
        new = self.tensor_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is not None:
            return new
        m = re.fullmatch(r"model\.layers\.(\d+)\.mlp\.(gate_proj|up_proj|down_proj)\.weight", hf_name)
        if m and self.arch == MODEL_ARCH.QWEN3MOE:
            new = self.tensor_name(DENSE_FALLBACK[m.group(2)], int(m.group(1)))
            self.notes.append(f"{hf_name} -> {new} (dense layer; not in gguf-py's QWEN3MOE tensor list)")
            return new
        raise ValueError(f"cannot map tensor {hf_name!r} for {self.arch.name}")

    def is_tensor(self, new_name: str, key: MODEL_TENSOR, bid: int | None) -> bool:
        if key not in gguf.MODEL_TENSORS[self.arch]:
            return False
        template = gguf.TENSOR_NAMES[key]
        if ("{bid}" in template) != (bid is not None):
            return False
        return new_name == template.format(bid=bid) + ".weight"

    # tensor stream -----------------------------------------------------------------------------
    def modify(self, name: str, t: torch.Tensor, bid: int | None) -> Iterator[tuple[str, torch.Tensor]]:
        if self.family == "llama":
            n_head = self.cfg["num_attention_heads"]
            n_kv = self.cfg["num_key_value_heads"]
            if name.endswith(("q_proj.weight", "q_proj.bias")):
                t = permute_rope_rows(t, n_head)
            elif name.endswith(("k_proj.weight", "k_proj.bias")):
                t = permute_rope_rows(t, n_kv)
        if self.family in ("qwen2moe", "olmoe") and "experts" in name:
            assert bid is not None
            n_expert = self.cfg.get("num_local_experts", self.cfg.get("num_experts"))
            layer = self.experts.setdefault(bid, {})
            layer[name] = t
            if len(layer) < n_expert * 3:
                return
            for proj in EXPERT_PROJS:
                stacked = torch.stack([layer.pop(f"model.layers.{bid}.mlp.experts.{x}.{proj}.weight")
                                       for x in range(n_expert)], dim=0)
                yield self.map_name(f"model.layers.{bid}.mlp.experts.{proj}.weight"), stacked
            return
        yield self.map_name(name), t

    def tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        if self.family == "llama" and (factors := llama3_rope_factors(self.cfg)) is not None:
            yield self.tensor_name(MODEL_TENSOR.ROPE_FREQS), factors
        for name, t in iter_checkpoint(self.fixture_dir):
            if name.endswith(".rotary_emb.inv_freq"):
                continue
            if t.dtype not in (torch.float16, torch.float32):
                t = t.to(torch.float32)
            yield from self.modify(name, t, block_id(name))
        left = [k for d in self.experts.values() for k in d]
        if left:
            raise ValueError(f"unprocessed experts: {left}")

    def qtype_for(self, new_name: str, n_dims: int) -> QT:
        bid = block_id(new_name)
        if n_dims <= 1 or new_name.endswith("_norm.weight"):
            return QT.F32
        if any(self.is_tensor(new_name, k, bid) for k in ALWAYS_F32) or not new_name.endswith(".weight"):
            return QT.F32
        return FILETYPE_QTYPE[self.ftype]

    # vocabulary --------------------------------------------------------------------------------
    def write_vocab(self, w: Writer) -> None:
        n_vocab = self.cfg["vocab_size"]
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        w.add_token_list([f"<t{i}>" for i in range(n_vocab)])
        w.add_token_types([gguf.TokenType.NORMAL] * n_vocab)
        w.add_key_value(gguf.Keys.Tokenizer.MERGES, [], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
        special = gguf.SpecialVocab(self.fixture_dir, load_merges=False, n_vocab=n_vocab)
        special.add_to_gguf(w, quiet=True)

    # whole file --------------------------------------------------------------------------------
    def convert(self, out_path: Path) -> None:
        w = Writer(path=None, arch=gguf.MODEL_ARCH_NAMES[self.arch])
        for new_name, t in self.tensors():
            data = t.numpy()
            qtype = self.qtype_for(new_name, data.ndim)
            w.add_tensor(new_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        # metadata, in the converter's order: type, model card, hparams, quant version, vocab
        total, shared, expert, n_expert = w.get_total_parameter_count()
        meta = gguf.Metadata.load(None, self.fixture_dir, None, total)
        if meta.name is None:
            meta.name = self.fixture_dir.name
        if meta.size_label is None and total > 0:
            meta.size_label = gguf.size_label(total, shared, expert, n_expert)
        w.add_type(gguf.GGUFType.MODEL)
        meta.set_gguf_meta_model(w)
        write_hparams(w, self.arch, self.family, self.cfg, self.ftype)
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        self.write_vocab(w)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        w.write_header_to_file(path=out_path)
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


# ----------------------------------------------------------------------------------------- listing


def field_value(field: Any) -> Any:
    if not field.types:
        return None
    if field.types[0] == GGUFValueType.ARRAY:
        n = len(field.data)
        if n == 0:  # GGUFReader records no item type for an empty array; it is the 4th part
            return f"[0 x {GGUFValueType(int(field.parts[3][0])).name}] []"
        if field.types[-1] == GGUFValueType.STRING:
            items = [bytes(field.parts[i]).decode("utf-8") for i in field.data[:3]]
        else:
            items = [field.parts[i].tolist()[0] for i in field.data[:3]]
        return f"[{n} x {field.types[-1].name}] {items}{' ...' if n > 3 else ''}"
    if field.types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    return field.parts[field.data[0]].tolist()[0]


def list_file(path: Path) -> None:
    r = gguf.GGUFReader(path)
    print(f"== {path.relative_to(REPO_ROOT)}  ({path.stat().st_size} bytes)")
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        print(f"  {key} = {field_value(field)}")
    for t in r.tensors:
        ne = [int(x) for x in t.shape]
        print(f"  {t.name:28s} {t.tensor_type.name:5s} ne={ne}")


# ---------------------------------------------------------------------------------------- checking


def reader_tensors(path: Path) -> dict[str, tuple[QT, list[int], np.ndarray]]:
    r = gguf.GGUFReader(path)
    out = {}
    for t in r.tensors:
        ne = [int(x) for x in t.shape]
        arr = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(list(reversed(ne)))
        out[t.name] = (t.tensor_type, ne, arr)
    return out


def check_against_checkpoint(name: str, path: Path) -> list[str]:
    """Independent of the conversion code: rebuild every expected GGUF tensor from the safetensors
    with the llama.cpp rules, and compare."""
    conv = Converter(name)
    cfg = conv.cfg
    got = reader_tensors(path)
    problems: list[str] = []
    src = {k: v.to(torch.float32) for k, v in iter_checkpoint(conv.fixture_dir)}
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = head_dim(cfg)
    expected: dict[str, np.ndarray] = {}
    for hf, t in src.items():
        m = re.fullmatch(r"model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(\w+)\.weight", hf)
        if m:
            continue
        g = conv.map_name(hf)
        a = t.numpy()
        if conv.family == "llama" and re.search(r"\.(q|k)_proj\.", hf):
            heads = n_head if ".q_proj." in hf else n_kv
            # explicit loop version of the permutation: per head, interleave the two halves
            b = np.empty_like(a)
            for h in range(heads):
                for i in range(d // 2):
                    b[h * d + 2 * i] = a[h * d + i]
                    b[h * d + 2 * i + 1] = a[h * d + d // 2 + i]
            a = b
        expected[g] = a
    n_expert = cfg.get("num_local_experts", cfg.get("num_experts"))
    if n_expert:
        for bid in range(cfg["num_hidden_layers"]):
            for proj, key in (("gate_proj", MODEL_TENSOR.FFN_GATE_EXP), ("up_proj", MODEL_TENSOR.FFN_UP_EXP),
                              ("down_proj", MODEL_TENSOR.FFN_DOWN_EXP)):
                names = [f"model.layers.{bid}.mlp.experts.{x}.{proj}.weight" for x in range(n_expert)]
                if names[0] in src:
                    expected[conv.tensor_name(key, bid)] = np.stack([src[n].numpy() for n in names])
    if (factors := llama3_rope_factors(cfg)) is not None:
        expected["rope_freqs.weight"] = factors.numpy()
    if set(expected) != set(got):
        problems.append(f"tensor set differs: missing {sorted(set(expected) - set(got))}, "
                        f"extra {sorted(set(got) - set(expected))}")
    want_type = FILETYPE_QTYPE[conv.ftype]
    for g, a in expected.items():
        if g not in got:
            continue
        qtype, ne, arr = got[g]
        if ne != list(reversed(a.shape)):
            problems.append(f"{g}: ne {ne}, expected {list(reversed(a.shape))}")
            continue
        one_d_or_f32 = a.ndim == 1 or g.endswith("_norm.weight") or "ffn_gate_inp" in g or not g.endswith(".weight")
        if qtype != (QT.F32 if one_d_or_f32 else want_type):
            problems.append(f"{g}: type {qtype.name}")
        if not np.array_equal(arr, a.astype(np.float32)):
            problems.append(f"{g}: values differ (max {np.abs(arr - a).max()})")
    return problems


def check_rope_freqs(name: str, path: Path) -> str | None:
    oracle = json.loads((TINY_ROOT / name / "oracle.json").read_text())
    got = reader_tensors(path)
    if "rope_freqs.weight" not in got:
        return None
    cfg = load_config(TINY_ROOT / name)
    d = head_dim(cfg)
    base = rope_params(cfg)["rope_theta"]
    factors = got["rope_freqs.weight"][2].astype(np.float64)
    plain = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    llama_cpp_inv_freq = plain / factors
    ref = np.array(oracle["rope_inv_freq"], dtype=np.float64)
    rel = np.abs(llama_cpp_inv_freq - ref) / np.abs(ref)
    return f"rope_freqs={factors.round(6).tolist()} -> max rel diff vs oracle rope_inv_freq {rel.max():.2e}"


def oracle_of(name: str) -> dict[str, Any]:
    return json.loads((TINY_ROOT / name / "oracle.json").read_text())


def run_logits(name: str, model: Any) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([oracle_of(name)["input_ids"]])).logits[0].float().numpy()


# Config fields transformers' GGUF loader cannot get from these files' metadata (it does not read
# rope_freqs, attention.key_length for qwen3, expert_(shared_)feed_forward_length, and llama.cpp
# has no metadata for biases: llama.cpp finds them by tensor presence).
GGUF_CONFIG_GAPS: dict[str, tuple[str, ...]] = {
    "llama": ("rope_parameters",),
    "llama_f16": ("attention_bias", "mlp_bias"),
    "qwen2": (),
    "qwen3": ("head_dim",),
    "qwen2_moe": ("moe_intermediate_size", "shared_expert_intermediate_size"),
    "qwen3_moe": ("moe_intermediate_size", "mlp_only_layers"),
}


def transformers_from_pretrained(name: str, path: Path, config_mode: str) -> np.ndarray:
    """transformers' own GGUF loader. config_mode: "fixture" = the fixture's config.json (checks the
    tensor layout only), "gguf" = the config transformers derives from the GGUF metadata, "gguf+gaps"
    = that config with only the GGUF_CONFIG_GAPS fields copied from the fixture."""
    from transformers import AutoConfig, AutoModelForCausalLM

    kwargs: dict[str, Any] = {"gguf_file": path.name, "dtype": torch.float32}
    if config_mode == "fixture":
        kwargs["config"] = AutoConfig.from_pretrained(TINY_ROOT / name)
    elif config_mode == "gguf+gaps":
        cfg = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
        ref = AutoConfig.from_pretrained(TINY_ROOT / name)
        for field in GGUF_CONFIG_GAPS[name]:
            setattr(cfg, field, getattr(ref, field))
        kwargs["config"] = cfg
    model = AutoModelForCausalLM.from_pretrained(path.parent, attn_implementation="eager", **kwargs)
    return run_logits(name, model)


def transformers_mapping_strict(name: str, path: Path) -> tuple[np.ndarray, list[str]]:
    """Every architecture, strict: a model built from the fixture config is filled through
    transformers' GGUF->HF name map and its tensor processor for the architecture (reverse Llama
    permutation, MoE expert un-stacking), then load_state_dict(strict=True). Returns the logits and
    the adaptations that were needed (tensor reshapes, extra names)."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers import modeling_gguf_pytorch_utils as mg

    cfg = AutoConfig.from_pretrained(TINY_ROOT / name)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    arch_name = gguf.MODEL_ARCH_NAMES[FIXTURES[name][0]]
    processor_cls = mg.TENSOR_PROCESSORS.get(arch_name, mg.TensorProcessor)
    if arch_name == "olmoe":
        processor_cls = mg.Qwen2MoeTensorProcessor  # same per-expert checkpoint layout
    processor = processor_cls(config=cfg.to_dict())
    mapping = mg.get_gguf_hf_weights_map(model, processor)
    params = dict(model.named_parameters())
    notes: list[str] = []
    for hf in params:  # dense MLP layers inside an MoE architecture (qwen3_moe mlp_only_layers)
        m = re.fullmatch(r"model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight", hf)
        if m and hf not in mapping.values():
            mapping[f"blk.{m.group(1)}.ffn_{m.group(2)}.weight"] = hf
            notes.append(f"mapped blk.{m.group(1)}.ffn_{m.group(2)} -> {hf} by hand")
    parsed: dict[str, Any] = {"tensors": {}}
    for t in gguf.GGUFReader(path).tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        res = processor.process(weights=w, name=t.name, tensor_key_mapping=mapping, parsed_parameters=parsed)
        if res.name is None:
            continue
        if res.name not in mapping:
            if t.name != "rope_freqs.weight":  # not a transformers parameter (rope is in the config)
                notes.append(f"unmapped {t.name}")
            continue
        parsed["tensors"][mapping[res.name]] = torch.from_numpy(np.copy(res.weights))
    state = {}
    for k, v in parsed["tensors"].items():
        v = v.to(torch.float32)
        if k in params and tuple(v.shape) != tuple(params[k].shape) and v.numel() == params[k].numel():
            notes.append(f"reshaped {k} {tuple(v.shape)} -> {tuple(params[k].shape)}")
            v = v.reshape(params[k].shape)
        state[k] = v
    result = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if cfg.tie_word_embeddings else set()
    if set(result.missing_keys) - tied or result.unexpected_keys:
        raise RuntimeError(f"missing {sorted(set(result.missing_keys) - tied)}, unexpected {result.unexpected_keys}")
    if tied:
        model.tie_weights()
        notes.append("lm_head tied to token_embd (no output.weight)")
    return run_logits(name, model), notes


def compare_logits(name: str, logits: np.ndarray) -> tuple[bool, float]:
    ref = np.array(oracle_of(name)["logits"], dtype=np.float32)
    if logits.shape != ref.shape:
        return False, float("inf")
    rel = float(np.max(np.abs(logits - ref)) / np.max(np.abs(ref)))
    return rel <= 1e-4, rel


def verify(names: Sequence[str]) -> bool:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    from transformers import modeling_gguf_pytorch_utils as mg

    mg.tqdm = lambda it, **_: it  # no progress bars
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    ok = True

    def report(label: str, fn: Any, required: bool) -> None:
        nonlocal ok
        try:
            out = fn()
            logits, notes = out if isinstance(out, tuple) else (out, [])
            good, rel = compare_logits(name, logits)
            print(f"  {label}: {'MATCH' if good else 'MISMATCH'} (max|dlogit| / max|logit| = {rel:.1e})")
            for n in notes:
                print(f"      {n}")
            if required:
                ok &= good
        except Exception as e:  # noqa: BLE001
            msg = str(e).strip().splitlines()[0][:140] if str(e).strip() else ""
            print(f"  {label}: FAILED {type(e).__name__}: {msg}")
            if required:
                ok = False

    for name in names:
        path = OUT_ROOT / f"{name}.gguf"
        print(f"== {name}")
        problems = check_against_checkpoint(name, path)
        print("  tensors vs safetensors (names, ne, types, values, permutation):", "OK" if not problems else problems)
        ok &= not problems
        if (msg := check_rope_freqs(name, path)) is not None:
            print("  " + msg)
        report("transformers GGUF name map + tensor processor, strict load", lambda: transformers_mapping_strict(name, path), True)
        if name in GGUF_CONFIG_GAPS:
            report("from_pretrained(gguf_file), fixture config", lambda: transformers_from_pretrained(name, path, "fixture"), False)
            report("from_pretrained(gguf_file), config from GGUF metadata", lambda: transformers_from_pretrained(name, path, "gguf"), False)
            if GGUF_CONFIG_GAPS[name]:
                report(f"from_pretrained(gguf_file), GGUF config + {', '.join(GGUF_CONFIG_GAPS[name])} from fixture",
                       lambda: transformers_from_pretrained(name, path, "gguf+gaps"), False)
        else:
            print("  from_pretrained(gguf_file): not attempted (transformers' GGUF loader does not list this architecture)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"fixtures (default: all of {', '.join(FIXTURES)})")
    ap.add_argument("--verify", action="store_true", help="check the written files (needs transformers)")
    ap.add_argument("--list", action="store_true", help="print each file's metadata and tensors")
    args = ap.parse_args()
    names = args.names or list(FIXTURES)
    for n in names:
        if n not in FIXTURES:
            ap.error(f"unknown fixture {n!r}")
    for n in names:
        conv = Converter(n)
        out = OUT_ROOT / f"{n}.gguf"
        conv.convert(out)
        print(f"wrote {out.relative_to(REPO_ROOT)} ({out.stat().st_size} bytes, {conv.ftype.name})")
        for note in dict.fromkeys(conv.notes):
            print(f"  note: {note}")
    if args.list:
        for n in names:
            list_file(OUT_ROOT / f"{n}.gguf")
    if args.verify:
        return 0 if verify(names) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
