#!/usr/bin/env python3
"""Convert the tiny Hugging Face fixtures to GGUF, laid out the way llama.cpp's converter does it.

Run from the repository root:

    python3 scripts/oracle/tiny_to_gguf.py               # convert every supported fixture
    python3 scripts/oracle/tiny_to_gguf.py llama olmoe   # only some
    python3 scripts/oracle/tiny_to_gguf.py --verify      # convert, then check each file (see below)
    python3 scripts/oracle/tiny_to_gguf.py --list        # print the key/value pairs and tensors written

Reads Tests/Fixtures/tiny/<name>/ (config.json + model.safetensors, or shards with an index) and writes
Tests/Fixtures/gguf/<name>.gguf (GGUF v3, default alignment 32). The output is deterministic.

Fixtures and the llama.cpp architecture each becomes: llama, llama_f16 -> llama; qwen2 -> qwen2;
qwen3 -> qwen3; qwen2_moe -> qwen2moe; qwen3_moe -> qwen3moe; olmoe -> olmoe; deepseek_v3,
deepseek_v3_noq -> deepseek2; deepseek_v32 -> deepseek32; glm_moe_dsa -> glm-dsa; glm4_moe -> glm4moe;
granite -> granite; granitemoe -> granitemoe. scripts/oracle/GGUF_ARCHS.md documents the last six
architectures key by key and tensor by tensor.

What the layout follows (llama.cpp's convert_hf_to_gguf.py / conversion/*.py at master, together with
gguf-py's constants and tensor map; this is an independent re-implementation for these fourteen
fixtures, not a copy):

* Output type: like `--outtype` set to the checkpoint's own dtype. F32 checkpoints -> ALL_F32, F16 ->
  MOSTLY_F16, BF16 -> MOSTLY_BF16 (tensors as GGML type BF16 = 30). In all cases tensors with one
  dimension (norms, biases, rope_freqs, DeepSeek/GLM's exp_probs_b) and every `*_norm.weight` are F32,
  and the MoE routers (`ffn_gate_inp`), the Qwen2-MoE shared-expert gate (`ffn_gate_inp_shexp`) and
  the DSA indexer's head weights (`indexer.proj`) are always F32.
* Tensor order: `rope_freqs` first (llama3 rope only), then the checkpoint tensors sorted by their
  Hugging Face name (shard by shard), which is the order the converter visits them. Per-expert weights
  are held back until the last expert of a layer has been seen, then written as three stacked tensors
  in the order down, gate, up. A tensor the converter splits (DeepSeek's kv_b_proj, GraniteMoE's
  input_linear) puts its parts where the original was, in the order given below.
* Llama and Granite only: rows of q_proj/k_proj (weights and biases) are permuted from Hugging Face's
  rotate-half RoPE layout to the interleaved-pair layout llama.cpp's LLAMA/GRANITE architectures use
  (their rope type is NORM). Qwen2/Qwen3/Qwen2-MoE/Qwen3-MoE/OLMoE/GLM-4-MoE use NEOX rope in
  llama.cpp, so no permutation. DeepSeek2 uses NORM rope but is not permuted either: DeepSeek-V3's
  Hugging Face model already rotates interleaved pairs (`rope_interleave: true`).
* Stacked experts: torch.stack over the expert index, so numpy shape [n_expert, rows, cols] and GGML
  ne = {cols, rows, n_expert}.
* deepseek2 (DeepseekV2Model): MLA is written in llama.cpp's absorbed form. kv_b_proj ([n_head *
  (nope + v), kv_lora_rank]) is viewed as [n_head, nope + v, rank] and split per head into
  attn_k_b = k part transposed, numpy [n_head, rank, nope] (ne {nope, rank, n_head}), then
  attn_v_b = v part, numpy [n_head, v, rank] (ne {rank, v, n_head}); no attn_kv_b is written.
  head_count_kv is written as 1, key_length = kv_lora_rank + qk_rope_head_dim, value_length =
  kv_lora_rank (the latent MQA view), and key_length_mla / value_length_mla carry the real head sizes.
  e_score_correction_bias becomes blk.N.exp_probs_b.bias; yarn_log_multiplier is 0.1 * mscale_all_dim.
  q_lora_rank is omitted when the config's is null (deepseek_v3_noq: attn_q instead of attn_q_a/_b).
* deepseek32 / glm-dsa (DeepseekV32Model / GlmMoeDsaModel, DeepseekV2Model subclasses): everything
  deepseek2 writes, plus the DSA indexer: attention.indexer.head_count / key_length / top_k
  (index_n_heads, index_head_dim, index_topk) and per layer blk.N.indexer.attn_q_b (wq_b),
  indexer.attn_k (wk), indexer.k_norm.weight/.bias, indexer.proj (weights_proj), all as they are.
  glm-dsa also writes attention.indexer.types, one BOOL per decoder layer (true = "full", false =
  "shared": no indexer tensors, the previous full layer's choice reused), and rewrites
  rope.dimension_count (same slot) as qk_rope_head_dim * partial_rotary_factor (default 1). Neither
  drops the NextN/MTP layers: block_count includes num_nextn_predict_layers (written when the config
  has it; these two fixtures have none). The pre-FFN norm is ffn_norm, as in deepseek2.
* glm4moe (Glm4MoeModel): rope.dimension_count = head_dim * partial_rotary_factor; the pre-FFN norm is
  blk.N.post_attention_norm (not ffn_norm); q/k/v biases and per-head q/k norms are written as they
  are; expert_gating_func is always 2 (sigmoid). block_count includes num_nextn_predict_layers (the
  NextN/MTP blocks follow the decoder blocks; glm4_moe has none, nextn_predict_layers = 0 is written).
* granite / granitemoe (GraniteModel / GraniteMoeModel, LlamaModel subclasses): the four multipliers are
  written as attention.scale, embedding_scale, residual_scale, logit_scale; head_dim is ignored.
  GraniteMoE's input_linear ([n_expert, 2 * ff, n_embd]) is split along its rows into ffn_gate_exps
  (first ff rows) and ffn_up_exps; output_linear -> ffn_down_exps, router.layer -> ffn_gate_inp.
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
* deepseek_v3 / deepseek_v3_noq: `deepseek2.expert_gating_func = 2` (sigmoid) is written although the
  fixture configs have no `scoring_func`. transformers' DeepseekV3Config has no such field (its router
  is always sigmoid), while the real DeepSeek-V3 / Kimi-K2 config.json files say "scoring_func":
  "sigmoid", which the stock converter turns into exactly this key, in this slot. Without it llama.cpp
  falls back to softmax gating and the logits are wrong (checked: 0.67 relative error).
* deepseek_v32: `deepseek32.expert_gating_func = 2` likewise (DeepSeek-V3.2-Exp's config.json says
  "scoring_func": "sigmoid"; transformers' DeepseekV32Config drops it). The DEEPSEEK32 loader requires
  the key, so without it llama.cpp refuses the file. For the comparison with llama.cpp's converter, the
  converter is run on a copy of the fixture whose config.json has that field (LLAMACPP_CONFIG_PATCH),
  and the two files are then identical. glm_moe_dsa needs nothing of the kind: the GLM_DSA loader
  routes with a sigmoid when the key is absent, and the file is what the converter writes.

Things llama.cpp itself would reject in three of these files, because the tiny fixtures are more
general than the real models (--verify runs llama.cpp on them when it is built, see below): OLMoE's
loader wants attn_k_norm of n_embd (64) elements, but with GQA the checkpoint's k_norm has
n_kv_head * head_dim (32); the QWEN3MOE loader needs ffn_gate_inp in every layer, so the dense layer 1
of qwen3_moe cannot load; and DEEPSEEK2's loader requires attention.q_lora_rank unless the file has
26, 27 or 48 blocks (its test for "lite" models), so deepseek_v3_noq (3 blocks, no q LoRA, the key
omitted as the converter omits it) does not load. Written with q_lora_rank = 0 it would (checked in an
F32 variant: logits match the oracle to 7e-7), but real q-LoRA-free files (DeepSeek-V2-Lite) have no
such key either, so the fixture keeps the converter's layout.
llama.cpp also cannot run the two DSA files as they are: it multiplies the indexer's q and k by a
Hadamard matrix of at least 64 x 64 and asserts on 16-wide indexer heads (real models have 128).
--verify runs it on a copy of the checkpoint with the indexer heads padded to 64 without changing the
model (pad_indexer_heads), converted by this script.

Qwen2-MoE's shared-expert gate (HF shared_expert_gate.weight, [1, n_embd]) is written 2-D, ne
{n_embd, 1}, F32, as the converter has done since it stopped squeezing tensors. llama.cpp declares it
{n_embd} and accepts either; older GGUFs have it 1-D, and transformers' GGUF loader only handles
the 1-D form (it expand_dims the tensor to [1, 1, n_embd] and then rejects the size).

--verify reads every file back with gguf.GGUFReader and checks it against the safetensors (names,
shapes, types, values, the permutation, the kv_b split rebuilt with explicit loops, and for deepseek2
kv_b_proj reassembled from attn_k_b/attn_v_b bit for bit), checks that rope_freqs reproduces the
fixture's `rope_inv_freq`, and then runs the model and compares the logits with oracle.json:
the seven older fixtures through transformers' GGUF loader; deepseek2/deepseek32/glm-dsa/glm4moe/
granite/granitemoe, which that loader does not know, through hf_config_from_gguf + hf_tensors_from_gguf below (a reader
written from GGUF_ARCHS.md: metadata -> Hugging Face config, tensors -> checkpoint tensors), then
transformers. When a llama.cpp source tree with conversion/ is found (LLAMA_CPP_DIR, or the one
scripts/bench/build_llamacpp.sh unpacks under .cache/llama.cpp/), its converter is run on the fixture
(placeholder vocabulary patched in) and its file compared with ours key by key and tensor by tensor;
and when libllama.so is built there, llama.cpp evaluates each file and its logits are compared with
the oracle's (F32 files within 1e-4; for the DSA files also the greedy tokens and the positions each
indexer picks).
"""

from __future__ import annotations

import argparse
import json
import logging
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

# gguf-py 0.19.0 (PyPI) predates llama.cpp's DEEPSEEK32 architecture ("deepseek32"). llama.cpp's own
# gguf-py gives it exactly GLM_DSA's tensor names (less the legacy attn_kv_b, which is never written),
# so without it GLM_DSA's tensor map names deepseek_v32's tensors.
DEEPSEEK32_TENSOR_ARCH = getattr(MODEL_ARCH, "DEEPSEEK32", MODEL_ARCH.GLM_DSA)

# fixture name -> (llama.cpp architecture, converter family)
FIXTURES: dict[str, tuple[MODEL_ARCH, str]] = {
    "llama": (MODEL_ARCH.LLAMA, "llama"),
    "llama_f16": (MODEL_ARCH.LLAMA, "llama"),
    "qwen2": (MODEL_ARCH.QWEN2, "qwen2"),
    "qwen3": (MODEL_ARCH.QWEN3, "qwen2"),
    "qwen2_moe": (MODEL_ARCH.QWEN2MOE, "qwen2moe"),
    "qwen3_moe": (MODEL_ARCH.QWEN3MOE, "qwen2moe"),
    "olmoe": (MODEL_ARCH.OLMOE, "olmoe"),
    "deepseek_v3": (MODEL_ARCH.DEEPSEEK2, "deepseek2"),
    "deepseek_v3_noq": (MODEL_ARCH.DEEPSEEK2, "deepseek2"),
    "deepseek_v32": (DEEPSEEK32_TENSOR_ARCH, "deepseek32"),
    "glm_moe_dsa": (MODEL_ARCH.GLM_DSA, "glmdsa"),
    "glm4_moe": (MODEL_ARCH.GLM4_MOE, "glm4moe"),
    "granite": (MODEL_ARCH.GRANITE, "granite"),
    "granitemoe": (MODEL_ARCH.GRANITE_MOE, "granite"),
}
# families whose per-expert checkpoint tensors (mlp.experts.{x}.{proj}) are stacked per layer
# families written by DeepseekV2Model or a subclass: MLA in llama.cpp's absorbed form
MLA_FAMILIES = ("deepseek2", "deepseek32", "glmdsa")
# ... of which DeepseekV32Model and GlmMoeDsaModel add the DSA indexer and keep the NextN/MTP blocks
DSA_FAMILIES = ("deepseek32", "glmdsa")
PER_EXPERT_FAMILIES = ("qwen2moe", "olmoe", "glm4moe") + MLA_FAMILIES
# families whose q/k rows are permuted to llama.cpp's interleaved-pair (NORM) rope layout
PERMUTED_FAMILIES = ("llama", "granite")

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
ALWAYS_F32 = (MODEL_TENSOR.FFN_GATE_INP, MODEL_TENSOR.FFN_GATE_INP_SHEXP, MODEL_TENSOR.INDEXER_PROJ)
EXPERT_PROJS = ("down_proj", "gate_proj", "up_proj")  # order the stacked tensors are written in
DENSE_FALLBACK = {
    "gate_proj": MODEL_TENSOR.FFN_GATE,
    "up_proj": MODEL_TENSOR.FFN_UP,
    "down_proj": MODEL_TENSOR.FFN_DOWN,
}


def arch_name(name: str) -> str:
    """general.architecture of a fixture's file."""
    return "deepseek32" if FIXTURES[name][1] == "deepseek32" else gguf.MODEL_ARCH_NAMES[FIXTURES[name][0]]


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


def n_experts(cfg: dict[str, Any]) -> int | None:
    """Routed expert count, looked up the way the converter's find_hparam does."""
    for key in ("num_local_experts", "num_experts", "n_routed_experts"):
        if key in cfg:
            return cfg[key]
    return None


def block_count(family: str, cfg: dict[str, Any]) -> int:
    """GLM-4-MoE, DeepSeek-V3.2 and GLM-5 append their NextN/MTP layers to the decoder blocks
    (blk.{n_layer} ...), so their block_count includes them; DeepSeek-V2/V3's converter drops them
    (skip_mtp)."""
    n = cfg["num_hidden_layers"]
    if family in ("glm4moe",) + DSA_FAMILIES:
        n += cfg.get("num_nextn_predict_layers") or 0
    return n


def write_hparams(w: Writer, family: str, cfg: dict[str, Any], ftype: LlamaFileType) -> None:
    """The key/value pairs convert_hf_to_gguf writes for these architectures, in its order.

    Where the converter writes a key twice (TextModel.set_gguf_parameters, then the model class),
    gguf-py keeps the first slot and the last value; the same happens here (the duplicate-key warning
    of GGUFWriter is silenced, it is expected)."""
    cfg = dict(cfg)
    if family in MLA_FAMILIES:
        cfg["num_key_value_heads"] = 1  # MLA is written as MQA over the latent (one kv head)
        cfg.setdefault("rms_norm_eps", 1e-6)
    if family == "granite":
        cfg.pop("head_dim", None)  # GraniteModel ignores head_dim
    logging.getLogger("gguf.gguf_writer").setLevel(logging.ERROR)
    w.add_block_count(block_count(family, cfg))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    p = rope_params(cfg)
    rope_type = p.get("rope_type")
    if rope_type == "yarn" and p.get("factor") is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(p["factor"])
        w.add_rope_scaling_orig_ctx_len(p["original_max_position_embeddings"])
        if (v := p.get("extrapolation_factor")) is not None:
            w.add_rope_scaling_yarn_ext_factor(v)
        if (v := p.get("attention_factor", p.get("attn_factor"))) is not None:
            w.add_rope_scaling_yarn_attn_factor(v)
        if (v := p.get("beta_fast")) is not None:
            w.add_rope_scaling_yarn_beta_fast(v)
        if (v := p.get("beta_slow")) is not None:
            w.add_rope_scaling_yarn_beta_slow(v)
    elif rope_type not in (None, "default", "llama3"):
        raise NotImplementedError(f"rope_type {rope_type!r}")  # llama3 is carried by rope_freqs only
    if "rope_theta" in p:
        w.add_rope_freq_base(p["rope_theta"])
    # OlmoeModel writes the config value and then overwrites it with a hard-coded 1e-5 (same slot)
    w.add_layer_norm_rms_eps(1e-5 if family == "olmoe" else cfg["rms_norm_eps"])
    n_expert = n_experts(cfg)
    if n_expert is not None:
        w.add_expert_count(n_expert)
    if (n_used := cfg.get("num_experts_per_tok")) is not None:
        w.add_expert_used_count(n_used)
    if (v := cfg.get("n_group")) is not None:
        w.add_expert_group_count(v)
    if (v := cfg.get("topk_group")) is not None:
        w.add_expert_group_used_count(v)
    score_func = cfg.get("scoring_func")
    if score_func is None and family in ("deepseek2", "deepseek32"):
        # Departure: transformers' DeepseekV3Config / DeepseekV32Config have no scoring_func (the
        # router is always sigmoid), so the fixture config lacks the key that real DeepSeek-V3 and
        # V3.2 configs carry ("scoring_func": "sigmoid"); without it llama.cpp would fall back to
        # softmax (deepseek2) or refuse the file (deepseek32 requires the key). GLM-5's loader
        # defaults to sigmoid, so glmdsa writes what the converter writes: nothing.
        score_func = "sigmoid"
    if score_func is not None:
        w.add_expert_gating_func({"softmax": gguf.ExpertGatingFuncType.SOFTMAX,
                                  "sigmoid": gguf.ExpertGatingFuncType.SIGMOID}[score_func])
    if (hd := cfg.get("head_dim")) is not None:  # only when the config states head_dim
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_file_type(ftype)
    # architecture-specific additions
    if family in ("llama", "granite"):
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_dimension_count(head_dim(cfg))
    if family == "granite":
        # GraniteModel: *_multiplier -> *_scale, each only when present and non-zero
        if v := cfg.get("attention_multiplier"):
            w.add_attention_scale(v)
        if v := cfg.get("embedding_multiplier"):
            w.add_embedding_scale(v)
        if v := cfg.get("residual_multiplier"):
            w.add_residual_scale(v)
        if v := cfg.get("logits_scaling"):
            w.add_logit_scale(v)
        if v := cfg.get("shared_intermediate_size"):  # GraniteMoeShared only
            w.add_expert_shared_feed_forward_length(v)
    elif family == "qwen2moe":
        if (v := cfg.get("moe_intermediate_size")) is not None:
            w.add_expert_feed_forward_length(v)
        if (v := cfg.get("shared_expert_intermediate_size")) is not None:
            w.add_expert_shared_feed_forward_length(v)
    elif family in MLA_FAMILIES:
        has_moe = cfg.get("n_routed_experts") is not None
        first_dense = cfg.get("first_k_dense_replace")
        if first_dense is None:
            first_dense = 0 if has_moe else cfg["num_hidden_layers"]
        w.add_leading_dense_block_count(first_dense)
        kv_lora_rank = cfg.get("kv_lora_rank", 512)
        w.add_vocab_size(cfg["vocab_size"])
        if cfg.get("q_lora_rank") is not None:
            w.add_q_lora_rank(cfg["q_lora_rank"])
        w.add_kv_lora_rank(kv_lora_rank)
        # the MQA view of MLA: one "head" of the latent (+ the shared rope key) ...
        w.add_key_length(kv_lora_rank + cfg["qk_rope_head_dim"])
        w.add_value_length(kv_lora_rank)
        # ... and the real per-head sizes after decompression
        w.add_key_length_mla(cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"])
        w.add_value_length_mla(cfg["v_head_dim"])
        w.add_expert_feed_forward_length(cfg.get("moe_intermediate_size", cfg["intermediate_size"]))
        if has_moe:
            w.add_expert_count(cfg["n_routed_experts"])
        w.add_expert_shared_count(cfg.get("n_shared_experts", 0))
        if (v := cfg.get("routed_scaling_factor")) is not None:
            w.add_expert_weights_scale(v)
        if cfg.get("norm_topk_prob"):  # written only when true
            w.add_expert_weights_norm(True)
        w.add_rope_dimension_count(cfg["qk_rope_head_dim"])
        if (v := rope_params(cfg).get("mscale_all_dim")) is not None:
            # llama.cpp's legacy DeepSeek convention: 0.1 * mscale_all_dim (the loader divides by 0.1)
            w.add_rope_scaling_yarn_log_mul(0.1 * v)
        if family == "glmdsa":
            # GlmMoeDsaModel rewrites rope.dimension_count (same slot) with a partial rotary factor
            w.add_rope_dimension_count(int(cfg["qk_rope_head_dim"] * rope_params(cfg).get("partial_rotary_factor", 1.0)))
        if family in DSA_FAMILIES:
            if (v := cfg.get("num_nextn_predict_layers")) is not None:
                w.add_nextn_predict_layers(v)
            w.add_uint32(f"{w.arch}.attention.indexer.head_count", cfg["index_n_heads"])
            w.add_uint32(f"{w.arch}.attention.indexer.key_length", cfg["index_head_dim"])
            w.add_uint32(f"{w.arch}.attention.indexer.top_k", cfg["index_topk"])
        if family == "glmdsa" and (types := cfg.get("indexer_types")) is not None:
            # "full" (the layer runs its own indexer) -> true, "shared" (reuses the previous
            # full layer's top-k) -> false; an array of BOOL, one per decoder layer
            w.add_array(f"{w.arch}.attention.indexer.types", [t == "full" for t in types])
    elif family == "glm4moe":
        hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        w.add_rope_dimension_count(int(hd * rope_params(cfg).get("partial_rotary_factor", 0.5)))
        if (v := cfg.get("n_routed_experts")) is not None:
            w.add_expert_count(v)
        if (v := cfg.get("moe_intermediate_size")) is not None:
            w.add_expert_feed_forward_length(v)
        if (v := cfg.get("n_shared_experts")) is not None:
            w.add_expert_shared_count(v)
        if (v := cfg.get("first_k_dense_replace")) is not None:
            w.add_leading_dense_block_count(v)
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        if (v := cfg.get("routed_scaling_factor")) is not None:
            w.add_expert_weights_scale(v)
        if (v := cfg.get("norm_topk_prob")) is not None:  # written even when false
            w.add_expert_weights_norm(v)
        if (v := cfg.get("num_nextn_predict_layers")) is not None:
            w.add_nextn_predict_layers(v)


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
    def __init__(self, name: str, fixture_dir: Path | None = None):
        self.name = name
        self.fixture_dir = fixture_dir or TINY_ROOT / name
        self.arch, self.family = FIXTURES[name]
        self.cfg = load_config(self.fixture_dir)
        self.n_layer = block_count(self.family, self.cfg)
        self.tensor_map = gguf.get_tensor_name_map(self.arch, self.n_layer)
        self.ftype = OUTTYPE[checkpoint_dtype(self.fixture_dir)]
        self.experts: dict[int, dict[str, torch.Tensor]] = {}
        self.notes: list[str] = []

    # name mapping ------------------------------------------------------------------------------
    def tensor_name(self, key: MODEL_TENSOR, bid: int | None = None, suffix: str = ".weight") -> str:
        return gguf.TENSOR_NAMES[key].format(bid=bid) + suffix

    def map_name(self, hf_name: str) -> str:
        # the converter renames DeepSeek-V3's router bias buffer while indexing the checkpoint
        hf_name = re.sub(r"e_score_correction_bias$", "e_score_correction.bias", hf_name)
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
        cfg = self.cfg
        if self.family in MLA_FAMILIES:
            if cfg.get("tie_word_embeddings") and name in ("lm_head.weight", "model.lm_head.weight"):
                return
            if (self.family == "deepseek2" and bid is not None and re.match(r"model\.layers\.\d+", name)
                    and bid >= cfg["num_hidden_layers"]):
                return  # skip_mtp: DeepSeek-V2/V3's NextN layers are not converted (V3.2's and GLM-5's are)
        if self.family in PERMUTED_FAMILIES:
            n_head = cfg["num_attention_heads"]
            n_kv = cfg["num_key_value_heads"]
            if name.endswith(("q_proj.weight", "q_proj.bias")):
                t = permute_rope_rows(t, n_head)
            elif name.endswith(("k_proj.weight", "k_proj.bias")):
                t = permute_rope_rows(t, n_kv)
        if self.family == "granite" and name.endswith(("block_sparse_moe.input_linear.weight",
                                                       "shared_mlp.input_linear.weight")):
            # JetMoE-style fused [gate; up] along the output rows -> two tensors, gate first
            shared = "shared_mlp" in name
            ff = cfg["shared_intermediate_size"] if shared else cfg["intermediate_size"]
            assert t.shape[-2] == 2 * ff, f"{name}: {tuple(t.shape)}"
            gate, up = t.split(ff, dim=-2)
            keys = ((MODEL_TENSOR.FFN_GATE_SHEXP, MODEL_TENSOR.FFN_UP_SHEXP) if shared
                    else (MODEL_TENSOR.FFN_GATE_EXP, MODEL_TENSOR.FFN_UP_EXP))
            yield self.tensor_name(keys[0], bid), gate
            yield self.tensor_name(keys[1], bid), up
            return
        if self.family in MLA_FAMILIES and name.endswith("kv_b_proj.weight"):
            # MLA absorption layout: per head, kv_b rows are [k_nope (nope) ; v (v_head_dim)];
            # k_b = k_nope part transposed to [head, kv_lora_rank, nope], v_b = [head, v_head_dim, kv_lora_rank]
            n_head_kv = cfg["num_key_value_heads"]  # the config's value (= n_head), not the 1 written
            nope, v_dim = cfg["qk_nope_head_dim"], cfg["v_head_dim"]
            assert t.shape[0] == n_head_kv * (nope + v_dim)
            kv_b = t.view(n_head_kv, nope + v_dim, t.shape[-1])
            k_b, v_b = torch.split(kv_b, [nope, v_dim], dim=1)
            yield self.map_name(name.replace("kv_b_proj", "k_b_proj")), k_b.transpose(1, 2)
            yield self.map_name(name.replace("kv_b_proj", "v_b_proj")), v_b
            return
        is_expert = ("mlp.experts" in name) if self.family in ("glm4moe",) + MLA_FAMILIES else ("experts" in name)
        if self.family in PER_EXPERT_FAMILIES and is_expert:
            assert bid is not None
            n_expert = n_experts(cfg)
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
        if self.family in ("llama", "granite") and (factors := llama3_rope_factors(self.cfg)) is not None:
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
        w = Writer(path=None, arch=arch_name(self.name))
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
        write_hparams(w, self.family, self.cfg, self.ftype)
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
        bid = block_id(hf)
        a = t.numpy()
        if conv.family in MLA_FAMILIES and (
                (conv.family == "deepseek2" and hf.startswith("model.layers.") and bid is not None
                 and bid >= cfg["num_hidden_layers"])
                or (cfg.get("tie_word_embeddings") and hf == "lm_head.weight")):
            continue  # NextN layers and a tied lm_head are not written
        if conv.family in MLA_FAMILIES and hf.endswith(".self_attn.kv_b_proj.weight"):
            # explicit loops: per head h, kv_b rows h*(nope+v) .. +nope are k_nope, the next v rows are v
            nope, vd, rank = cfg["qk_nope_head_dim"], cfg["v_head_dim"], a.shape[1]
            k_b = np.empty((n_head, rank, nope), dtype=a.dtype)  # GGML ne {nope, rank, n_head}
            v_b = np.empty((n_head, vd, rank), dtype=a.dtype)  # GGML ne {rank, v, n_head}
            for h in range(n_head):
                for r in range(rank):
                    for i in range(nope):
                        k_b[h, r, i] = a[h * (nope + vd) + i, r]
                    for j in range(vd):
                        v_b[h, j, r] = a[h * (nope + vd) + nope + j, r]
            expected[f"blk.{bid}.attn_k_b.weight"] = k_b
            expected[f"blk.{bid}.attn_v_b.weight"] = v_b
            continue
        if hf.endswith(".mlp.gate.e_score_correction_bias"):
            expected[f"blk.{bid}.exp_probs_b.bias"] = a
            continue
        if conv.family == "granite" and hf.endswith(".block_sparse_moe.input_linear.weight"):
            ff = cfg["intermediate_size"]  # [n_expert, 2*ff, n_embd]: rows 0..ff-1 gate, ff..2ff-1 up
            expected[f"blk.{bid}.ffn_gate_exps.weight"] = a[:, :ff, :]
            expected[f"blk.{bid}.ffn_up_exps.weight"] = a[:, ff:, :]
            continue
        g = conv.map_name(hf)
        if conv.family in PERMUTED_FAMILIES and re.search(r"\.(q|k)_proj\.", hf):
            heads = n_head if ".q_proj." in hf else n_kv
            # explicit loop version of the permutation: per head, interleave the two halves
            b = np.empty_like(a)
            for h in range(heads):
                for i in range(d // 2):
                    b[h * d + 2 * i] = a[h * d + i]
                    b[h * d + 2 * i + 1] = a[h * d + d // 2 + i]
            a = b
        expected[g] = a
    n_expert = n_experts(cfg)
    if n_expert:
        for bid in range(conv.n_layer):
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
        one_d_or_f32 = (a.ndim == 1 or g.endswith("_norm.weight") or "ffn_gate_inp" in g or "indexer.proj" in g
                        or not g.endswith(".weight"))
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
    arch = arch_name(name)
    processor_cls = mg.TENSOR_PROCESSORS.get(arch, mg.TensorProcessor)
    if arch == "olmoe":
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


# ------------------------- reading deepseek2 / deepseek32 / glm-dsa / glm4moe / granite(moe) back
# transformers' GGUF loader does not know these six architectures. Instead, a small reader written
# from scripts/oracle/GGUF_ARCHS.md alone (metadata -> Hugging Face config, GGUF tensors ->
# checkpoint tensors, every transform undone) rebuilds a checkpoint that transformers then runs.
# It is the Python twin of what MoEKit's Swift loader has to do.

READER_ARCHS = {
    "deepseek2": ("deepseek_v3", "DeepseekV3ForCausalLM"),
    "deepseek32": ("deepseek_v32", "DeepseekV32ForCausalLM"),
    "glm-dsa": ("glm_moe_dsa", "GlmMoeDsaForCausalLM"),
    "glm4moe": ("glm4_moe", "Glm4MoeForCausalLM"),
    "granite": ("granite", "GraniteForCausalLM"),
    "granitemoe": ("granitemoe", "GraniteMoeForCausalLM"),
}
_MISSING = object()


def gguf_kv(path: Path) -> tuple[dict[str, Any], list[str]]:
    r = gguf.GGUFReader(path)
    kv = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
    return kv, [t.name for t in r.tensors]


def yarn_mscale(factor: float, m: float) -> float:
    return 1.0 if factor <= 1 else 1 + 0.1 * m * math.log(factor)


def glm_dsa_default_indexer_full(n_layer: int, n_ctx: int) -> list[bool]:
    """glm-dsa without attention.indexer.types (GGUF_ARCHS.md §6.3): GLM-5/5.1 files (context below
    2^20) run an indexer on every layer; longer-context files get GLM-5.2's pattern (layers 0, 1 and
    then every fourth from 2 up to 74; none from 78 on)."""
    if n_ctx < 1048576:
        return [True] * n_layer
    return [i < 2 or (i < 78 and (i - 2) % 4 == 0) for i in range(n_layer)]


def hf_config_from_gguf(path: Path) -> dict[str, Any]:
    """The Hugging Face config a GGUF of one of the six architectures describes (GGUF_ARCHS.md)."""
    kv, names = gguf_kv(path)
    arch = kv["general.architecture"]

    def g(key: str, default: Any = _MISSING) -> Any:
        v = kv.get(f"{arch}.{key}", default)
        if v is _MISSING:
            raise KeyError(f"{arch}.{key}")
        return v

    model_type, hf_arch = READER_ARCHS[arch]
    n_embd, n_head = g("embedding_length"), g("attention.head_count")
    n_layer = g("block_count") - g("nextn_predict_layers", 0)
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": g("rope.freq_base", 10000.0)}
    cfg: dict[str, Any] = {
        "model_type": model_type, "architectures": [hf_arch],
        "hidden_size": n_embd, "num_hidden_layers": n_layer,
        "intermediate_size": g("feed_forward_length"), "num_attention_heads": n_head,
        "vocab_size": g("vocab_size", None) or len(kv["tokenizer.ggml.tokens"]),
        "max_position_embeddings": g("context_length"),
        "rms_norm_eps": g("attention.layer_norm_rms_epsilon"),
        "tie_word_embeddings": "output.weight" not in names,
        "hidden_act": "silu",
    }
    if arch in ("deepseek2", "deepseek32", "glm-dsa"):
        n_rot = g("rope.dimension_count")
        # MLA files: *_mla are the real head sizes (key_length/value_length describe the latent MQA
        # view); legacy files (unsplit attn_kv_b) have no *_mla and the real sizes in key/value_length
        k_head = g("attention.key_length_mla", None) or g("attention.key_length")
        v_head = g("attention.value_length_mla", None) or g("attention.value_length")
        # absent: softmax for deepseek2, sigmoid for glm-dsa, refused for deepseek32 (§3.5, §6.2)
        if g("expert_gating_func", 2 if arch == "glm-dsa" else 0) != 2:
            raise ValueError(f"transformers' {model_type} routes with a sigmoid only (expert_gating_func 2)")
        cfg.update({
            "num_key_value_heads": n_head,  # head_count_kv (1) is the latent MQA view
            "q_lora_rank": g("attention.q_lora_rank", None) or None,
            "kv_lora_rank": g("attention.kv_lora_rank"),
            "qk_rope_head_dim": n_rot, "qk_nope_head_dim": k_head - n_rot, "v_head_dim": v_head,
            "qk_head_dim": k_head, "head_dim": n_rot,
            "n_routed_experts": g("expert_count"), "num_experts_per_tok": g("expert_used_count"),
            "moe_intermediate_size": g("expert_feed_forward_length"),
            "n_shared_experts": g("expert_shared_count"),
            "first_k_dense_replace": g("leading_dense_block_count", 0),
            "routed_scaling_factor": g("expert_weights_scale", 1.0),
            "norm_topk_prob": g("expert_weights_norm", False),
            "n_group": g("expert_group_count", 1), "topk_group": g("expert_group_used_count", 1),
            "rope_interleave": True, "attention_bias": False,
        })
        if g("rope.scaling.type", "none") == "yarn":
            rope.update({"rope_type": "yarn", "factor": g("rope.scaling.factor"),
                         "original_max_position_embeddings": g("rope.scaling.original_context_length"),
                         "beta_fast": g("rope.scaling.yarn_beta_fast", 32.0),
                         "beta_slow": g("rope.scaling.yarn_beta_slow", 1.0)})
            log_mul = g("rope.scaling.yarn_log_multiplier", None) if arch != "glm-dsa" else None  # §6.4
            if arch == "deepseek2":
                if log_mul is not None:
                    # deepseek2 stores 0.1 * mscale_all_dim; llama.cpp assumes mscale == mscale_all_dim
                    rope["mscale_all_dim"] = rope["mscale"] = log_mul / 0.1
            else:
                # deepseek32 (mscale 1) / glm-dsa (no multiplier): cos and sin scaled by
                # mscale(f, 1) / mscale(f, m), q.k by mscale(f, 1)^2 on top (GGUF_ARCHS.md §6.4)
                f, m = rope["factor"], (log_mul or 0) / 0.1
                rope["attention_factor"] = yarn_mscale(f, 1) / (yarn_mscale(f, m) if m else 1)
                rope["mscale_all_dim"] = 1.0
        if arch in ("deepseek32", "glm-dsa"):
            cfg.update({
                "index_n_heads": g("attention.indexer.head_count"),
                "index_head_dim": g("attention.indexer.key_length"),
                "index_topk": g("attention.indexer.top_k"),
                "num_nextn_predict_layers": g("nextn_predict_layers", 0),
            })
        if arch == "glm-dsa":
            full = g("attention.indexer.types", None)
            if full is None:
                full = glm_dsa_default_indexer_full(n_layer, g("context_length"))
            if len(full) != n_layer:
                raise ValueError(f"glm-dsa.attention.indexer.types has {len(full)} entries for {n_layer} layers")
            cfg["indexer_types"] = ["full" if x else "shared" for x in full]
    elif arch == "glm4moe":
        hd = g("attention.key_length")
        rope["partial_rotary_factor"] = g("rope.dimension_count") / hd
        cfg.update({
            "num_key_value_heads": g("attention.head_count_kv"), "head_dim": hd,
            "attention_bias": "blk.0.attn_q.bias" in names,
            "use_qk_norm": "blk.0.attn_q_norm.weight" in names,
            "n_routed_experts": g("expert_count"), "num_experts_per_tok": g("expert_used_count"),
            "moe_intermediate_size": g("expert_feed_forward_length"),
            "n_shared_experts": g("expert_shared_count"),
            "first_k_dense_replace": g("leading_dense_block_count", 0),
            "routed_scaling_factor": g("expert_weights_scale", 1.0),
            "norm_topk_prob": g("expert_weights_norm", False),
            "n_group": g("expert_group_count", 1), "topk_group": g("expert_group_used_count", 1),
            "num_nextn_predict_layers": g("nextn_predict_layers", 0),
        })
        if g("expert_gating_func", 2) != 2:
            raise ValueError("GLM-4-MoE routes with a sigmoid (expert_gating_func 2)")
    else:  # granite, granitemoe
        hd = n_embd // n_head
        cfg.update({
            "num_key_value_heads": g("attention.head_count_kv", n_head),
            "attention_multiplier": g("attention.scale", None) or hd ** -0.5,
            "embedding_multiplier": g("embedding_scale", None) or 1.0,
            "residual_multiplier": g("residual_scale", None) or 1.0,
            "logits_scaling": g("logit_scale"),
            "attention_bias": "blk.0.attn_q.bias" in names,
        })
        if arch == "granite":
            cfg["mlp_bias"] = "blk.0.ffn_gate.bias" in names
        else:
            cfg.update({"num_local_experts": g("expert_count"), "num_experts_per_tok": g("expert_used_count")})
            if (v := g("expert_shared_feed_forward_length", None)):
                cfg.update({"model_type": "granitemoeshared", "architectures": ["GraniteMoeSharedForCausalLM"],
                            "shared_intermediate_size": v})
    cfg["rope_parameters"] = rope
    return cfg


def unpermute_rope_rows(a: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of the Llama/Granite q/k permutation: row h*d + 2i -> h*d + i, h*d + 2i+1 -> h*d + d/2 + i."""
    d = a.shape[0] // n_head
    return a.reshape(n_head, d // 2, 2, *a.shape[1:]).swapaxes(1, 2).reshape(a.shape)


def hf_tensors_from_gguf(path: Path, cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Checkpoint-format tensors (the fixture's safetensors names) rebuilt from a GGUF of one of the
    six architectures, float32 (GGUF_ARCHS.md, "tensors")."""
    kv, _ = gguf_kv(path)
    arch = kv["general.architecture"]
    got = {n: arr for n, (_, _, arr) in reader_tensors(path).items()}
    top = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
           "output.weight": "lm_head.weight"}
    per_layer = {
        "attn_norm.weight": "input_layernorm.weight",
        "ffn_norm.weight": "post_attention_layernorm.weight",
        "post_attention_norm.weight": "post_attention_layernorm.weight",  # glm4moe
        "attn_output.weight": "self_attn.o_proj.weight", "attn_output.bias": "self_attn.o_proj.bias",
        "attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
        "ffn_gate.bias": "mlp.gate_proj.bias", "ffn_up.bias": "mlp.up_proj.bias", "ffn_down.bias": "mlp.down_proj.bias",
        # deepseek2 MLA
        "attn_q_a.weight": "self_attn.q_a_proj.weight", "attn_q_a_norm.weight": "self_attn.q_a_layernorm.weight",
        "attn_q_b.weight": "self_attn.q_b_proj.weight",
        "attn_kv_a_mqa.weight": "self_attn.kv_a_proj_with_mqa.weight",
        "attn_kv_a_norm.weight": "self_attn.kv_a_layernorm.weight",
        "attn_kv_b.weight": "self_attn.kv_b_proj.weight",  # legacy (pre-MLA) files only
        # deepseek32 / glm-dsa DSA indexer
        "indexer.attn_q_b.weight": "self_attn.indexer.wq_b.weight", "indexer.attn_k.weight": "self_attn.indexer.wk.weight",
        "indexer.k_norm.weight": "self_attn.indexer.k_norm.weight", "indexer.k_norm.bias": "self_attn.indexer.k_norm.bias",
        "indexer.proj.weight": "self_attn.indexer.weights_proj.weight",
        # NextN/MTP blocks (glm4moe, deepseek32, glm-dsa)
        "nextn.eh_proj.weight": "eh_proj.weight", "nextn.enorm.weight": "enorm.weight",
        "nextn.hnorm.weight": "hnorm.weight", "nextn.embed_tokens.weight": "embed_tokens.weight",
        "nextn.shared_head_head.weight": "shared_head.head.weight",
        "nextn.shared_head_norm.weight": "shared_head.norm.weight",
    }
    for p in ("q", "k", "v"):
        for s in ("weight", "bias"):
            per_layer[f"attn_{p}.{s}"] = f"self_attn.{p}_proj.{s}"
    deepseek_moe = ("deepseek2", "deepseek32", "glm-dsa", "glm4moe")
    if arch in deepseek_moe:
        per_layer.update({"ffn_gate_inp.weight": "mlp.gate.weight", "exp_probs_b.bias": "mlp.gate.e_score_correction_bias"})
        for p in ("gate", "up", "down"):
            per_layer[f"ffn_{p}_shexp.weight"] = f"mlp.shared_experts.{p}_proj.weight"
    else:
        per_layer.update({"ffn_gate_inp.weight": "block_sparse_moe.router.layer.weight",
                          "ffn_down_exps.weight": "block_sparse_moe.output_linear.weight",
                          "ffn_down_shexp.weight": "shared_mlp.output_linear.weight"})
    halves = {"deepseek2": ("attn_k_b.weight", "attn_v_b.weight"), "deepseek32": ("attn_k_b.weight", "attn_v_b.weight"),
              "glm-dsa": ("attn_k_b.weight", "attn_v_b.weight"),
              "granitemoe": ("ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_gate_shexp.weight", "ffn_up_shexp.weight")}
    out: dict[str, np.ndarray] = {}
    pending: dict[tuple[int, str], np.ndarray] = {}
    for name, a in got.items():
        if name in top:
            out[top[name]] = a
            continue
        m = re.fullmatch(r"blk\.(\d+)\.(.+)", name)
        if m is None:
            raise ValueError(f"unexpected tensor {name}")
        bid, suffix = int(m.group(1)), m.group(2)
        pre = f"model.layers.{bid}."
        if arch in deepseek_moe and (e := re.fullmatch(r"ffn_(gate|up|down)_exps\.weight", suffix)):
            for x in range(a.shape[0]):  # [n_expert, rows, cols] -> one matrix per expert
                out[f"{pre}mlp.experts.{x}.{e.group(1)}_proj.weight"] = a[x]
        elif suffix in halves.get(arch, ()):
            pending[(bid, suffix)] = a  # parts of one Hugging Face tensor, joined below
        elif suffix in per_layer:
            out[pre + per_layer[suffix]] = a
        else:
            raise ValueError(f"no Hugging Face name for {name}")
    for (bid, suffix), a in list(pending.items()):
        pre = f"model.layers.{bid}."
        if suffix == "attn_k_b.weight":
            k_b, v_b = a, pending[(bid, "attn_v_b.weight")]  # [H, rank, nope], [H, v, rank]
            kv_b = np.concatenate([k_b.transpose(0, 2, 1), v_b], axis=1)  # [H, nope + v, rank]
            out[pre + "self_attn.kv_b_proj.weight"] = kv_b.reshape(-1, kv_b.shape[-1])
        elif suffix == "ffn_gate_exps.weight":  # granitemoe: input_linear = [gate; up] along the rows
            out[pre + "block_sparse_moe.input_linear.weight"] = np.concatenate(
                [a, pending[(bid, "ffn_up_exps.weight")]], axis=1)
        elif suffix == "ffn_gate_shexp.weight":
            out[pre + "shared_mlp.input_linear.weight"] = np.concatenate(
                [a, pending[(bid, "ffn_up_shexp.weight")]], axis=0)
    if arch in ("granite", "granitemoe"):  # undo the interleaved-pair permutation of q/k rows
        for hf in list(out):
            if re.search(r"self_attn\.q_proj\.", hf):
                out[hf] = unpermute_rope_rows(out[hf], cfg["num_attention_heads"])
            elif re.search(r"self_attn\.k_proj\.", hf):
                out[hf] = unpermute_rope_rows(out[hf], cfg["num_key_value_heads"])
    return out


def check_mla_roundtrip(name: str, path: Path) -> list[str]:
    """kv_b_proj rebuilt from attn_k_b / attn_v_b must equal the checkpoint's, bit for bit."""
    conv = Converter(name)
    src = {k: v.to(torch.float32).numpy() for k, v in iter_checkpoint(conv.fixture_dir)}
    rebuilt = hf_tensors_from_gguf(path, hf_config_from_gguf(path))
    bad = []
    for k, a in src.items():
        if k.endswith("kv_b_proj.weight") and not np.array_equal(rebuilt.get(k), a):
            bad.append(k)
    return bad


def compare_configs(name: str, derived: dict[str, Any]) -> list[str]:
    """Fields of the config derived from the metadata that disagree with the fixture's config."""
    ref = load_config(TINY_ROOT / name)
    ref_rope = rope_params(ref)
    out = []

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-6)
        return a == b
    for k, v in derived.items():
        if k in ("architectures", "hidden_act"):
            continue
        if k == "rope_parameters":
            for rk, rv in v.items():
                if not same(rv, ref_rope.get(rk)):
                    out.append(f"rope_parameters.{rk}: {rv!r} vs fixture {ref_rope.get(rk)!r}")
            continue
        if k not in ref:
            continue
        if not same(v, ref[k]):
            out.append(f"{k}: {v!r} vs fixture {ref[k]!r}")
    return out


def reader_logits(name: str, path: Path, config_mode: str) -> tuple[np.ndarray, list[str]]:
    """Rebuild a checkpoint from the GGUF (hf_tensors_from_gguf) and run it with transformers.
    config_mode "gguf": the config derived from the metadata; "fixture": the fixture's config.json."""
    import tempfile
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    derived = hf_config_from_gguf(path)
    notes = [f"config field differs: {d}" for d in compare_configs(name, derived)]
    cfg = derived if config_mode == "gguf" else load_config(TINY_ROOT / name)
    tensors = hf_tensors_from_gguf(path, derived)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(cfg))
        save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()},
                  str(Path(tmp) / "model.safetensors"))
        model, info = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager",
                                                           output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems:
        raise RuntimeError(f"load problems: {problems}")
    return run_logits(name, model), notes


# ------------------------------------------------------------------- llama.cpp's converter, run
# If a llama.cpp checkout is at hand (LLAMA_CPP_DIR, or the copy scripts/bench/build_llamacpp.sh
# unpacks under .cache/llama.cpp/), its convert_hf_to_gguf.py is run on the fixture (in a
# subprocess, with its own gguf-py; only set_vocab is replaced by the placeholder vocabulary) and the
# file is compared with ours: keys, values and order, tensor names, order, types, shapes and bytes.

# differences that are deliberate (see the module docstring)
LLAMACPP_EXPECTED_FAIL = {"qwen3_moe": "its dense layer 1 has no QWEN3MOE tensor name"}
LLAMACPP_EXPECTED_DIFFS: dict[str, set[str]] = {
    "deepseek_v3": {"kv deepseek2.expert_gating_func"},
    "deepseek_v3_noq": {"kv deepseek2.expert_gating_func"},
}
# Fields added to a copy of the fixture's config.json before llama.cpp's converter sees it: what the
# real model's config.json says and transformers' config class drops (the comparison stays exact).
LLAMACPP_CONFIG_PATCH: dict[str, dict[str, Any]] = {
    "deepseek_v32": {"scoring_func": "sigmoid"},  # DeepSeek-V3.2-Exp's config.json; deepseek32 requires the key
}
_LLAMACPP_RUNNER = r'''
import sys
from pathlib import Path
lc, fixture, out, ftype = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
sys.path.insert(0, str(lc)); sys.path.insert(1, str(lc / "gguf-py"))
import logging; logging.disable(logging.WARNING)
import gguf
from conversion import ModelBase, get_model_class
hp = ModelBase.load_hparams(fixture, False)
cls = get_model_class(hp["architectures"][0])
def set_vocab(self):
    n = self.hparams["vocab_size"]; w = self.gguf_writer
    w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("default")
    w.add_token_list([f"<t{i}>" for i in range(n)]); w.add_token_types([gguf.TokenType.NORMAL] * n)
    gguf.SpecialVocab(self.dir_model, load_merges=False, n_vocab=n).add_to_gguf(w, quiet=True)
cls.set_vocab = set_vocab
cls(fixture, gguf.LlamaFileType[ftype], out, eager=True).write()
'''


def find_llama_cpp() -> Path | None:
    import glob
    import os

    cands = [os.environ.get("LLAMA_CPP_DIR", "")]
    cands += sorted(glob.glob(str(REPO_ROOT / ".cache" / "llama.cpp" / "*" / "vendor" / "llama.cpp")))
    cands.append(str(REPO_ROOT / ".cache" / "llama.cpp"))
    for c in cands:
        if c and (Path(c) / "convert_hf_to_gguf.py").is_file() and (Path(c) / "conversion").is_dir():
            return Path(c)
    return None


def llamacpp_crosscheck(name: str, path: Path) -> tuple[bool, str]:
    import subprocess
    import tempfile

    lc = find_llama_cpp()
    if lc is None:
        return True, "skipped (no llama.cpp checkout with conversion/ found; set LLAMA_CPP_DIR)"
    import shutil

    conv = Converter(name)
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "ref.gguf"
        fixture = conv.fixture_dir
        if name in LLAMACPP_CONFIG_PATCH:
            fixture = Path(tmp) / name  # same directory name: general.name comes from it
            shutil.copytree(conv.fixture_dir, fixture)
            cfg = load_config(fixture) | LLAMACPP_CONFIG_PATCH[name]
            (fixture / "config.json").write_text(json.dumps(cfg, indent=2))
        res = subprocess.run([sys.executable, "-c", _LLAMACPP_RUNNER, str(lc), str(fixture), str(ref),
                              conv.ftype.name], capture_output=True, text=True)
        if res.returncode != 0 or not ref.is_file():
            last = (res.stderr.strip().splitlines() or ["?"])[-1][:160]
            return False, f"llama.cpp's converter failed: {last}"
        diffs = diff_gguf(ref, path)
    diffs.discard("kv tokenizer.ggml.merges")  # gguf-py cannot write the empty merges array
    expected = LLAMACPP_EXPECTED_DIFFS.get(name, set())
    unexpected = sorted(diffs - expected)
    msg = f"{lc.relative_to(REPO_ROOT) if lc.is_relative_to(REPO_ROOT) else lc}: "
    if name in LLAMACPP_CONFIG_PATCH:
        msg += f"(its config.json + {LLAMACPP_CONFIG_PATCH[name]}) "
    if unexpected:
        return False, msg + f"differs: {unexpected}"
    return True, msg + ("identical" if not diffs else f"identical except the deliberate {sorted(diffs)}")


def diff_gguf(a: Path, b: Path) -> set[str]:
    ra, rb = gguf.GGUFReader(a), gguf.GGUFReader(b)

    def kvs(r: Any) -> dict[str, Any]:
        return {k: (f.types, f.contents()) for k, f in r.fields.items() if not k.startswith("GGUF.")}
    ka, kb = kvs(ra), kvs(rb)
    out = {f"kv {k}" for k in set(ka) | set(kb) if ka.get(k) != kb.get(k)}
    common = [k for k in ka if k in kb]
    if common != [k for k in kb if k in ka]:
        out.add("kv order")
    ta = [(t.name, t.tensor_type, [int(x) for x in t.shape], bytes(t.data)) for t in ra.tensors]
    tb = [(t.name, t.tensor_type, [int(x) for x in t.shape], bytes(t.data)) for t in rb.tensors]
    if ta != tb:
        da, db = {t[0]: t for t in ta}, {t[0]: t for t in tb}
        out |= {f"tensor {n}" for n in set(da) | set(db) if da.get(n) != db.get(n)}
        if [t[0] for t in ta] != [t[0] for t in tb]:
            out.add("tensor order")
    return out


# --------------------------------------------------------------- llama.cpp itself, run on the file
# If scripts/bench/build_llamacpp.sh has built libllama.so (.cache/llama.cpp/build/bin), each file is
# loaded and evaluated by llama.cpp through the sdist's ctypes bindings, in a subprocess (a GGML_ASSERT
# would abort the process): one batch of the oracle's input_ids, logits at every position, F32 KV
# cache, no flash attention, one thread. Files with F16/BF16 weights differ from the oracle by
# llama.cpp's reduced-precision activations, so only the F32 files are held to 1e-4.
#
# DSA files (deepseek32, glm-dsa): llama.cpp multiplies the indexer's q and k by a Hadamard matrix of
# at least 64 x 64 (an exact rotation, q.k unchanged), so it asserts on the fixtures' 16-wide indexer
# heads. llama.cpp runs a copy of the checkpoint whose indexer heads are padded to 64 without changing
# the model (pad_indexer_heads; transformers gives the oracle's logits on it), converted by this
# script. The batch is then the prompt and the greedy tokens: the logits of the prompt positions are
# compared, the top token at each later position must be the next greedy token, and the positions
# each layer's indexer picks (graph nodes "top_k-N", read through the eval callback) must be the
# oracle's.

LLAMACPP_RUN_EXPECTED_FAIL = {
    "qwen3_moe": "QWEN3MOE wants ffn_gate_inp in every layer; layer 1 is dense",
    "olmoe": "OLMOE wants attn_k_norm of n_embd (64); with GQA it has n_kv_head*head_dim (32)",
    "deepseek_v3_noq": "no q_lora_rank key; llama.cpp only treats 26/27/48-layer files as q-LoRA-free",
}
_LIBLLAMA_RUNNER = r"""
import ctypes, glob, json, os, sys, types
import numpy as np
cache, gguf_path, oracle_path = sys.argv[1:4]
os.environ["LLAMA_CPP_LIB_PATH"] = os.path.join(cache, "build", "bin")
pkg = types.ModuleType("llama_cpp")
pkg.__path__ = [sorted(glob.glob(os.path.join(cache, "llama_cpp_python-*", "llama_cpp")))[-1]]
sys.modules["llama_cpp"] = pkg
import llama_cpp.llama_cpp as ll
logs = []
cb = ll.llama_log_callback(lambda level, text, data: logs.append(text.decode(errors="replace")))
ll.llama_log_set(cb, None)
ll.llama_backend_init()
mp = ll.llama_model_default_params(); mp.n_gpu_layers = 0
model = ll.llama_model_load_from_file(gguf_path.encode(), mp)
if not model:
    err = [l.strip() for l in logs if "error loading model" in l]
    print(json.dumps({"error": (err or ["load failed"])[0]})); sys.exit(0)
oracle = json.load(open(oracle_path))
dsa = "indexer_topk" in oracle
ids = oracle["input_ids"] + (oracle["greedy"] if dsa else []); n = len(ids); P = len(oracle["input_ids"])

class Tensor(ctypes.Structure):  # struct ggml_tensor (ggml.h), as far as the name and data
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4),
                ("nb", ctypes.c_size_t * 4), ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16),
                ("flags", ctypes.c_int32), ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p),
                ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64)]
top_k = {}
@ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_bool, ctypes.c_void_p)
def eval_cb(ptr, ask, user_data):
    t = Tensor.from_address(ptr)
    name = t.name.decode(errors="replace")
    if not name.startswith("top_k-") or name.endswith(")"):
        return not ask
    if not ask:  # I32 [n_top_k, n_tokens], contiguous, in host memory on the CPU backend
        rows, cols = t.ne[1], t.ne[0]
        top_k[int(name[6:])] = np.ctypeslib.as_array(ctypes.cast(t.data, ctypes.POINTER(ctypes.c_int32)),
                                                     shape=(rows * cols,)).reshape(rows, cols).copy()
    return True

nv = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(model))
cp = ll.llama_context_default_params()
cp.n_ctx = cp.n_batch = cp.n_ubatch = 64; cp.n_seq_max = 1; cp.n_threads = cp.n_threads_batch = 1
cp.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED; cp.type_k = cp.type_v = ll.GGML_TYPE_F32; cp.no_perf = True
if dsa:
    cp.cb_eval = eval_cb
ctx = ll.llama_init_from_model(model, cp)
b = ll.llama_batch_init(n, 0, 1)
for i, t in enumerate(ids):
    b.token[i] = t; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1
b.n_tokens = n
if ll.llama_decode(ctx, b) != 0:
    print(json.dumps({"error": "llama_decode failed"})); sys.exit(0)
got = np.stack([np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, p), shape=(nv,)).copy() for p in range(n)])
ref = np.array(oracle["logits"], dtype=np.float32)
out = {"rel": float(np.abs(got[:P] - ref).max() / np.abs(ref).max()),
       "argmax": float((got[:P].argmax(1) == ref.argmax(1)).mean())}
if dsa:
    out["greedy"] = sum(int(got[P - 1 + i].argmax()) == g for i, g in enumerate(oracle["greedy"]))
    out["greedy_of"] = len(oracle["greedy"])
    layers = oracle["indexer_topk"]
    same = []
    for l, want in enumerate(layers):
        # a "shared" layer names the top_k of the full layer before it again: the node carries the
        # name of the last layer that uses it
        src = next((j for j in range(l, len(layers)) if j in top_k), None)
        # positions beyond the query's (masked) may fill the k slots of early queries: left out,
        # as the oracle leaves them out
        same.append(0 if src is None else sum(sorted(int(x) for x in top_k[src][p] if x <= p) == sorted(w)
                                              for p, w in enumerate(want)))
    out["indexer"] = same; out["indexer_of"] = len(layers[0])
print(json.dumps(out))
"""


def pad_indexer_heads(name: str, out_dir: Path, width: int = 64) -> Path:
    """A copy of a DSA fixture whose indexer heads are `width` wide and whose model is unchanged:
    wk's rows repeated (with k_norm's weight and bias), so the LayerNorm sees the same mean and
    variance and k = [k, k, ...]; each head of wq_b gets zero rows after its own, so q.k is the same
    dot product. Only the uniform 1/sqrt(head_dim) factor changes, which leaves the top-k (the
    indexer's only output) alone."""
    from safetensors.torch import load_file, save_file

    src = TINY_ROOT / name
    cfg = load_config(src)
    d, heads = cfg["index_head_dim"], cfg["index_n_heads"]
    assert width % d == 0 and width >= d, (d, width)
    out = out_dir / name  # same directory name: general.name comes from it
    out.mkdir(parents=True)
    for f in src.iterdir():
        if f.name not in ("config.json", "model.safetensors"):
            (out / f.name).write_bytes(f.read_bytes())
    tensors = load_file(str(src / "model.safetensors"))
    for k, v in tensors.items():
        if k.endswith(".indexer.wk.weight"):
            tensors[k] = v.repeat(width // d, 1)
        elif k.endswith((".indexer.k_norm.weight", ".indexer.k_norm.bias")):
            tensors[k] = v.repeat(width // d)
        elif k.endswith(".indexer.wq_b.weight"):
            per_head = v.view(heads, d, -1)
            zeros = torch.zeros(heads, width - d, per_head.shape[-1], dtype=v.dtype)
            tensors[k] = torch.cat([per_head, zeros], dim=1).reshape(heads * width, -1)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg | {"index_head_dim": width}, indent=2))
    return out


def libllama_run(name: str, path: Path) -> tuple[bool, str]:
    import subprocess
    import tempfile

    cache = REPO_ROOT / ".cache" / "llama.cpp"
    if not (cache / "build" / "bin" / "libllama.so").is_file() or not list(cache.glob("llama_cpp_python-*/llama_cpp")):
        return True, "skipped (no libllama.so; scripts/bench/build_llamacpp.sh builds it)"
    conv = Converter(name)
    note = ""
    with tempfile.TemporaryDirectory() as tmp:
        if conv.family in DSA_FAMILIES and conv.cfg["index_head_dim"] % 64:
            from transformers import AutoModelForCausalLM

            padded = Converter(name, pad_indexer_heads(name, Path(tmp)))
            path = Path(tmp) / f"{name}.gguf"
            padded.convert(path)
            same, rel = compare_logits(name, run_logits(name, AutoModelForCausalLM.from_pretrained(
                padded.fixture_dir, dtype=torch.float32, attn_implementation="eager")))
            if not same:
                return False, f"the padded copy changed the model (transformers: {rel:.1e} from the oracle)"
            note = (f" [run on a copy with the indexer heads padded from {conv.cfg['index_head_dim']} to 64; "
                    f"transformers on that copy: {rel:.1e} from the oracle]")
        res = subprocess.run([sys.executable, "-c", _LIBLLAMA_RUNNER, str(cache), str(path), str(TINY_ROOT / name / "oracle.json")],
                             capture_output=True, text=True, timeout=600)
    try:
        out = json.loads(res.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        out = {"error": f"crashed (exit {res.returncode}): {(res.stderr.strip().splitlines() or ['?'])[-1][:140]}"}
    if "error" in out:
        if name in LLAMACPP_RUN_EXPECTED_FAIL:
            return True, f"does not load, as expected ({LLAMACPP_RUN_EXPECTED_FAIL[name]}): {out['error']}"
        return False, out["error"] + note
    f32 = conv.ftype == LlamaFileType.ALL_F32
    good = out["rel"] <= 1e-4 or not f32
    note = ("" if f32 else " (F16/BF16 weights: llama.cpp rounds activations too, not held to 1e-4)") + note
    if "indexer" in out:
        good &= out["greedy"] == out["greedy_of"] and all(k == out["indexer_of"] for k in out["indexer"])
        note = (f"; greedy tokens {out['greedy']}/{out['greedy_of']}, indexer positions equal to the oracle's at "
                f"{'/'.join(map(str, out['indexer']))} of {out['indexer_of']} positions per layer") + note
    return good, (f"{'MATCH' if good else 'MISMATCH'} (max|dlogit| / max|logit| = {out['rel']:.1e}, "
                  f"argmax agrees at {out['argmax'] * 100:.0f}% of positions){note}")


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
        arch = arch_name(name)
        if FIXTURES[name][1] in MLA_FAMILIES:
            bad = check_mla_roundtrip(name, path)
            print("  kv_b_proj rebuilt from attn_k_b + attn_v_b == checkpoint:", "OK" if not bad else f"DIFFERS {bad}")
            ok &= not bad
        good, msg = llamacpp_crosscheck(name, path)
        if not good and name in LLAMACPP_EXPECTED_FAIL:
            msg += f" (expected: {LLAMACPP_EXPECTED_FAIL[name]})"
            good = True
        print(f"  llama.cpp convert_hf_to_gguf.py on the fixture vs this file: {msg}")
        ok &= good
        good, msg = libllama_run(name, path)
        print(f"  llama.cpp (libllama) evaluates the file vs oracle logits: {msg}")
        ok &= good
        if arch in READER_ARCHS:
            report("GGUF_ARCHS.md reader -> transformers, config from GGUF metadata",
                   lambda: reader_logits(name, path, "gguf"), True)
            report("GGUF_ARCHS.md reader -> transformers, fixture config", lambda: reader_logits(name, path, "fixture"), True)
            print("  transformers' own GGUF loader: not attempted (it does not know this architecture)")
            continue
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
