#!/usr/bin/env python3
"""Exact parameter counts for the public MoE configs in /work/shared/model-configs.

Run from the repository root:

    python3 scripts/oracle/param_counts.py                # all configs
    python3 scripts/oracle/param_counts.py GLM-5.2 Qwen3-30B-A3B   # print only these (JSON still has all)

Every model is built by Hugging Face `transformers` on the meta device
(`with torch.device("meta"): AutoModelForCausalLM.from_config(cfg)`), so no
weights are ever allocated. Counts come from the module tree transformers
builds; nothing here re-derives shapes from the config by hand, except

  * the multi-token-prediction (MTP / "nextn") block, which transformers does
    not build: its decoder layer is built by transformers too (one more layer of
    the model's own decoder-layer class), and the four MTP-only tensors
    (enorm, hnorm, eh_proj, shared_head.norm) are added by hand;
  * the MXFP4 storage layout of gpt-oss experts in the published checkpoint.

Output: Tests/Fixtures/accounting/param_counts.json (deterministic: sorted keys,
sorted lists, no timestamps). A summary table goes to stdout. The field
definitions are in scripts/oracle/PARAM_COUNTS.md.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.core_model_loading import revert_weight_conversion
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = Path("/work/shared/model-configs")
OUT_PATH = REPO_ROOT / "Tests" / "Fixtures" / "accounting" / "param_counts.json"

# Vendor headline figures (billions), from /work/shared/model-configs/SOURCES.md
# and the model names. "counts" says what the vendor includes in "active".
ADVERTISED = {
    "DeepSeek-R1": (671, 37, "DeepSeek: 36.6B incl. output head, excl. input embedding; MTP excluded"),
    "DeepSeek-V3": (671, 37, "DeepSeek: 36.6B incl. output head, excl. input embedding; MTP excluded"),
    "DeepSeek-V3.2": (671, 37, "same shape family as DeepSeek-V3 (+ DSA indexer)"),
    "GLM-4.5-Air.derived-INTELLECT-3-Base": (106, 12, "GLM-4.5-Air figures; Zhipu excludes embedding and head"),
    "GLM-4.7": (355, 32, "GLM-4.5 figures (same shape); Zhipu excludes embedding and head"),
    "GLM-5": (744, 40, "Zhipu: ~40B; excludes embedding and head"),
    "GLM-5.1": (744, 40, "Zhipu: ~40B; excludes embedding and head"),
    "GLM-5.2": (744, 40, "Zhipu: ~40B; excludes embedding and head"),
    "Kimi-K2-Instruct": (1000, 32, "Moonshot: 1T total / 32B active"),
    "Llama-4-Scout-17B-16E-Instruct": (109, 17, "Meta: 109B total incl. vision encoder / 17B active"),
    "MiniMax-M2.5": (229, 10, "MiniMax: 229B / 10B (name not in SOURCES.md list)"),
    "Mixtral-8x22B-v0.1": (141, 39, "Mistral: incl. embedding and head"),
    "Mixtral-8x7B-v0.1": (46.7, 12.9, "Mistral: incl. embedding and head"),
    "OLMoE-1B-7B-0924": (6.9, 1.3, "AI2: incl. embedding and head"),
    "Qwen3-235B-A22B": (235, 22, "Qwen: incl. embedding and head"),
    "Qwen3-30B-A3B": (30.5, 3.3, "Qwen: incl. embedding and head"),
    "gpt-oss-120b": (117, 5.1, "OpenAI: 116.8B / 5.13B, active incl. unembedding only"),
    "gpt-oss-20b": (21, 3.6, "OpenAI: 20.9B / 3.61B, active incl. unembedding only"),
    "granite-3.0-1b-a400m-base": (1.3, 0.4, "IBM: 1.3B / 400M"),
}

# What the *published* checkpoint stores in its MTP block besides the decoder
# layer and enorm/hnorm/eh_proj/shared_head.norm: full copies of the input
# embedding (`model.layers.N.embed_tokens.weight`) and of the output head
# (`model.layers.N.shared_head.head.weight`). See PARAM_COUNTS.md for sources.
MTP_COPIES = {
    "deepseek_v3": (True, "verified: DeepSeek-V3/R1 safetensors list model.layers.61.embed_tokens.weight and "
                          "model.layers.61.shared_head.head.weight [129280, 7168]; README_WEIGHTS.md calls them shared"),
    "deepseek_v32": (True, "assumed: same release layout as DeepSeek-V3 (layer 61)"),
    "glm_moe_dsa": (False, "verified: GLM-5.1 BF16 header scan = 753,864,139,008 elements and GLM-5.2 = "
                           "753,329,921,024 params, both without layer-78 embed_tokens/shared_head.head"),
    "glm4_moe:GLM-4.7": (False, "assumed: GLM-4.6 dropped layer-92 embed_tokens/shared_head.head (llama.cpp and vLLM "
                                "mark them optional since GLM-4.6); GLM-4.7 has the same layout"),
    "glm4_moe": (None, "unknown: the GLM-4.5 generation stored layer-N embed_tokens/shared_head.head copies; "
                       "not verified for this derived INTELLECT-3-Base checkpoint"),
}

LAYER_RE = re.compile(r"(?<=\.layers\.)\d+(?=\.)")
EXPERT_RE = re.compile(r"(?<=\.experts\.)\d+(?=\.)")


def pattern(name: str) -> str:
    return EXPERT_RE.sub("{E}", LAYER_RE.sub("{L}", name))


def layer_of(name: str):
    m = LAYER_RE.search(name)
    return int(m.group(0)) if m else None


def group_tensors(items):
    """items: iterable of (name, shape) -> sorted [[pattern, shape, count], ...]."""
    counts = defaultdict(int)
    for name, shape in items:
        counts[(pattern(name), tuple(int(s) for s in shape))] += 1
    return [[p, list(s), c] for (p, s), c in sorted(counts.items())]


def numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


# ----------------------------------------------------------------------------- config loading


def load_config(path: Path):
    """Returns (config, raw_dict, instantiated_as, note)."""
    raw = json.loads(path.read_text())
    kwargs = {k: v for k, v in raw.items() if k != "auto_map"}  # never follow remote code
    model_type = raw.get("model_type")
    if model_type in CONFIG_MAPPING:
        return AutoConfig.for_model(**kwargs), raw, model_type, None
    # model_type unknown to transformers: try the architecture class named in the config.
    arch = (raw.get("architectures") or [None])[0]
    cls = getattr(transformers, arch, None) if arch else None
    if cls is None or not hasattr(cls, "config_class"):
        raise LookupError(
            f"model_type {model_type!r} is not registered in transformers {transformers.__version__} "
            f"and architectures[0]={arch!r} is not a transformers class"
        )
    cfg_cls = cls.config_class
    kwargs.pop("model_type", None)
    cfg = cfg_cls(**kwargs)
    note = (
        f"model_type {model_type!r} is not registered in transformers {transformers.__version__}; "
        f"built with {cfg_cls.__name__} / {arch} because config.architectures[0] names that class "
        f"(the checkpoint's own remote code is a copy of it)"
    )
    return cfg, raw, cfg_cls.model_type, note


def build_meta(cfg):
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(cfg, trust_remote_code=False)


# ----------------------------------------------------------------------------- classification


def is_routed(name: str) -> bool:
    # Fused routed-expert tensors: ...experts.gate_up_proj / down_proj (+ _bias for gpt-oss).
    # Shared experts are `shared_expert(s)`; they never match ".experts." with the leading dot.
    return ".experts." in name and "shared_expert" not in name


def category(name: str, embed_name: str, head_name: str | None) -> str:
    if name == embed_name:
        return "embedding"
    if head_name is not None and name == head_name:
        return "lm_head"
    if layer_of(name) is None:
        return "final_norm" if name.endswith("norm.weight") else "other"
    if is_routed(name):
        return "routed_experts"
    if "shared_expert" in name:
        return "shared_experts"
    if ".self_attn.indexer." in name:
        return "indexer"
    if ".self_attn." in name:
        return "attention"
    if re.search(r"\.(mlp|feed_forward|block_sparse_moe)\.(gate|router)\.", name):
        return "router"
    if re.search(r"\.(mlp|feed_forward)\.(gate_proj|up_proj|down_proj)\.", name):
        return "dense_mlp"
    if name.endswith("layernorm.weight"):
        return "layer_norms"
    return "other"


def num_experts_of(cfg) -> int:
    for key in ("n_routed_experts", "num_local_experts", "num_experts"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    raise KeyError("no expert count")


# ----------------------------------------------------------------------------- MTP


def mtp_block(model, cfg, raw, model_type: str, stem: str):
    n_mtp = int(raw.get("num_nextn_predict_layers") or 0)
    if n_mtp <= 0:
        return None
    H = cfg.hidden_size
    V = cfg.vocab_size
    L = cfg.num_hidden_layers
    layer_cls = type(model.model.layers[L - 1])
    ext = copy.deepcopy(cfg)
    # Extend the per-layer schedules so layer index L.. exists; the MTP layer is MoE
    # ("sparse") and, for DSA models, has its own indexer ("full"; verified for GLM-5.2,
    # whose checkpoint has indexer weights at layer 78).
    for key, value in (("mlp_layer_types", "sparse"), ("indexer_types", "full"), ("layer_types", None)):
        seq = getattr(ext, key, None)
        if isinstance(seq, list) and len(seq) == L:
            setattr(ext, key, seq + [value if value is not None else seq[-1]] * n_mtp)
    params = []
    buffers = []
    layer_sd = {}
    for i in range(n_mtp):
        idx = L + i
        with torch.device("meta"):
            layer = layer_cls(ext, idx)
        pnames = set()
        for n, p in layer.named_parameters():
            params.append((f"model.layers.{idx}.{n}", tuple(p.shape)))
            pnames.add(n)
        for n, b in layer.state_dict().items():
            layer_sd[f"model.layers.{idx}.{n}"] = b
            if n not in pnames:
                buffers.append((f"model.layers.{idx}.{n}", tuple(b.shape)))
        params += [
            (f"model.layers.{idx}.enorm.weight", (H,)),
            (f"model.layers.{idx}.hnorm.weight", (H,)),
            (f"model.layers.{idx}.eh_proj.weight", (H, 2 * H)),
            (f"model.layers.{idx}.shared_head.norm.weight", (H,)),
        ]
    copies_key = f"{model_type}:{stem}" if f"{model_type}:{stem}" in MTP_COPIES else model_type
    stores_copies, copies_source = MTP_COPIES.get(copies_key, (None, "unknown"))
    copies = [
        (f"model.layers.{L + i}.{n}", (V, H))
        for i in range(n_mtp)
        for n in ("embed_tokens.weight", "shared_head.head.weight")
    ]
    # Checkpoint names of the MTP decoder layer: same reverse conversion as the main model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hub_layer = revert_weight_conversion(model, dict(layer_sd))
    hub_items = sorted((n, tuple(t.shape)) for n, t in hub_layer.items())
    hub_items += [(n, s) for n, s in params if re.search(r"\.(enorm|hnorm|eh_proj|shared_head)\.", n)]
    assert sum(numel(s) for _, s in hub_items) == sum(numel(s) for _, s in params) + sum(
        numel(s) for _, s in buffers
    )
    mtp_layer_params = sum(numel(s) for n, s in params if not re.search(r"\.(enorm|hnorm|eh_proj|shared_head)\.", n))
    return {
        "num_nextn_predict_layers": n_mtp,
        "mtp_params": sum(numel(s) for _, s in params),
        "mtp_decoder_layer_params": mtp_layer_params,
        "mtp_buffer_elements": sum(numel(s) for _, s in buffers),
        "tensors": group_tensors(params),
        "buffers": group_tensors(buffers),
        "hub_tensors": group_tensors(hub_items),
        "shared_copies_stored": stores_copies,
        "shared_copies_source": copies_source,
        "shared_copy_params": sum(numel(s) for _, s in copies),
        "shared_copy_tensors": group_tensors(copies),
    }


# ----------------------------------------------------------------------------- gpt-oss MXFP4


def mxfp4_storage(hub_items, cfg):
    """gpt-oss checkpoints store expert matrices as MXFP4: per expert, per output row,
    blocks of 32 input values = 16 bytes (two FP4 values per uint8) + one uint8 E8M0 scale.
    In memory (dequantized): gate_up_proj [E, H, 2I], down_proj [E, I, H] (input-major).
    Stored: <proj>_blocks [E, out, in/32, 16] U8 and <proj>_scales [E, out, in/32] U8."""
    out = []
    for name, shape in hub_items:
        m = re.search(r"\.experts\.(gate_up_proj|down_proj)$", name)
        if m:
            E, din, dout = shape  # in-memory layout is [E, in, out]
            assert din % 32 == 0
            out.append((name + "_blocks", (E, dout, din // 32, 16)))
            out.append((name + "_scales", (E, dout, din // 32)))
        else:
            out.append((name, shape))
    return out


# ----------------------------------------------------------------------------- independent formula (the spec)


def spec_counts(raw: dict) -> dict:
    """Re-derives the counts from the raw config.json keys alone, following PARAM_COUNTS.md.
    Used only as a cross-check of the spec against what transformers builds."""
    mt = raw["model_type"]
    c = raw.get("text_config", raw) if mt == "llama4" else raw
    g = c.get
    H, V, L = g("hidden_size"), g("vocab_size"), g("num_hidden_layers")
    nh = g("num_attention_heads")
    nkv = g("num_key_value_heads") or nh
    tie = bool(g("tie_word_embeddings", mt == "granitemoe"))
    mla = mt in ("deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa")

    # ---- expert geometry
    E = g("n_routed_experts") or g("num_local_experts") or g("num_experts")
    k = g("num_experts_per_tok")
    if mt in ("deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa", "glm4_moe", "qwen3_moe"):
        Im = g("moe_intermediate_size")
    else:
        Im = g("intermediate_size")
    per_expert = 3 * H * Im + ((2 * Im + H) if mt == "gpt_oss" else 0)

    # ---- which layers are MoE
    if mt in ("deepseek_v3", "kimi_k2", "glm4_moe"):
        moe = [i >= g("first_k_dense_replace", 0) for i in range(L)]
    elif mt in ("deepseek_v32", "glm_moe_dsa"):
        types = g("mlp_layer_types") or (
            ["dense"] * min(g("first_k_dense_replace", 3), L) + ["sparse"] * (L - min(g("first_k_dense_replace", 3), L))
        )
        moe = [t == "sparse" for t in types]
    elif mt == "qwen3_moe":
        step = g("decoder_sparse_step", 1)
        only = set(g("mlp_only_layers") or [])
        moe = [(i not in only) and E > 0 and (i + 1) % step == 0 for i in range(L)]
    elif mt == "llama4":
        ml = g("moe_layers")
        step = g("interleave_moe_layer_step", 1)
        ml = set(ml if ml is not None else range(step - 1, L, step))
        moe = [i in ml for i in range(L)]
    else:  # mixtral, olmoe, granitemoe, gpt_oss, minimax_m2: every layer
        moe = [True] * L
    n_moe = sum(moe)

    # ---- attention per layer
    bias = bool(g("attention_bias", False))
    if mla:
        rq, rkv = g("q_lora_rank"), g("kv_lora_rank")
        dn, dr, dv = g("qk_nope_head_dim"), g("qk_rope_head_dim"), g("v_head_dim")
        if rq:
            attn = rq * H + (rq if bias else 0) + rq + nh * (dn + dr) * rq
        else:
            attn = nh * (dn + dr) * H
        attn += (rkv + dr) * H + ((rkv + dr) if bias else 0) + rkv
        attn += nh * (dn + dv) * rkv + H * nh * dv + (H if bias else 0)
    else:
        D = g("head_dim") or H // nh
        attn = nh * D * H + 2 * nkv * D * H + H * nh * D
        if bias:
            attn += nh * D + 2 * nkv * D + (0 if mt == "glm4_moe" else H)
        if mt == "qwen3_moe" or (mt == "glm4_moe" and g("use_qk_norm", False)):
            attn += 2 * D
        elif mt == "olmoe":
            attn += H + (H // nh) * nkv
        elif mt == "minimax_m2":
            attn += nh * D + nkv * D
        if mt == "gpt_oss":
            attn += nh  # sinks
    # ---- DSA indexer
    indexer_layers = []
    per_indexer = 0
    if mt in ("deepseek_v32", "glm_moe_dsa"):
        ih, idim = g("index_n_heads"), g("index_head_dim")
        per_indexer = ih * idim * g("q_lora_rank") + idim * H + 2 * idim + ih * H
        if mt == "deepseek_v32":
            indexer_layers = list(range(L))
        else:
            types = g("indexer_types")
            if types is None:
                freq = max(g("index_topk_freq", 1), 1)
                off = g("index_skip_topk_offset", 2)
                types = ["full" if (max(i - off + 1, 0) % freq) == 0 else "shared" for i in range(L)]
            indexer_layers = [i for i, t in enumerate(types) if t == "full"]

    # ---- MLP per layer
    if mt in ("deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa", "glm4_moe"):
        shared = 3 * H * Im * g("n_shared_experts", 1 if mt == "glm4_moe" else 0)
        router = E * H
        dense = 3 * H * g("intermediate_size")
    elif mt == "llama4":
        shared = 3 * H * Im
        router = E * H
        dense = 3 * H * g("intermediate_size_mlp")
    elif mt == "gpt_oss":
        shared, router, dense = 0, E * H + E, 0
    elif mt == "qwen3_moe":
        shared, router, dense = 0, E * H, 3 * H * g("intermediate_size")
    else:
        shared, router, dense = 0, E * H, 0
    buffers_per_moe_layer = E if mt in ("deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa", "glm4_moe", "minimax_m2") else 0

    emb = V * H
    head = 0 if tie else V * H
    routed = n_moe * E * per_expert
    total = (
        emb + head + H
        + L * (attn + 2 * H)
        + per_indexer * len(indexer_layers)
        + n_moe * (router + shared) + routed
        + (L - n_moe) * dense
    )
    active_core = total - emb - head - routed + n_moe * k * per_expert

    # ---- MTP (DeepSeek-V3 layout): one more MoE decoder layer + enorm, hnorm, eh_proj, shared_head.norm
    n_mtp = g("num_nextn_predict_layers") or 0
    mtp = n_mtp * (attn + 2 * H + router + shared + E * per_expert + (per_indexer if per_indexer else 0) + 3 * H + 2 * H * H)
    return {
        "total_params": total,
        "embedding_params": emb,
        "lm_head_params": head,
        "routed_expert_params": routed,
        "params_per_routed_expert": per_expert,
        "moe_layers": n_moe,
        "active_params_core": active_core,
        "persistent_buffer_elements": n_moe * buffers_per_moe_layer,
        "mtp_params": mtp,
        "indexer_layers": indexer_layers,
    }


# ----------------------------------------------------------------------------- main analysis


def analyse(path: Path):
    stem = path.stem
    cfg, raw, built_as, note = load_config(path)
    model = build_meta(cfg)
    text_cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    model_type = raw.get("model_type")

    named = list(model.named_parameters())  # remove_duplicate=True: tied tensors once
    assert all(p.device.type == "meta" for _, p in named)
    pnames = {n for n, _ in named}
    total = sum(p.numel() for _, p in named)

    emb = model.get_input_embeddings().weight
    out_emb = model.get_output_embeddings()
    tied = out_emb is not None and out_emb.weight is emb
    embed_name = next(n for n, p in named if p is emb)
    head_name = None
    if not tied:
        head_name = next(n for n, p in named if p is out_emb.weight)
    embedding_params = emb.numel()
    lm_head_params = 0 if tied else out_emb.weight.numel()

    # Persistent buffers (saved in the checkpoint but not nn.Parameters), e.g. e_score_correction_bias.
    sd = model.state_dict()
    tied_aliases = set()
    if tied:  # state_dict lists a tied output head under its own name too; the checkpoint does not
        tied_aliases = {f"{n}.weight" for n, mod in model.named_modules() if mod is out_emb} - pnames
    buffers = [(k, tuple(v.shape)) for k, v in sd.items() if k not in pnames and k not in tied_aliases]

    # Breakdown by role
    breakdown = defaultdict(int)
    for n, p in named:
        breakdown[category(n, embed_name, head_name)] += p.numel()
    assert sum(breakdown.values()) == total
    assert breakdown.get("other", 0) == 0, [n for n, _ in named if category(n, embed_name, head_name) == "other"]

    # Routed experts
    E = num_experts_of(text_cfg)
    k = int(getattr(text_cfg, "num_experts_per_tok"))
    per_layer = defaultdict(int)
    for n, p in named:
        if is_routed(n):
            assert p.shape[0] == E, (n, tuple(p.shape), E)
            per_layer[layer_of(n)] += p.numel()
    moe_layer_ids = sorted(per_layer)
    n_layers = text_cfg.num_hidden_layers
    dense_layer_ids = [i for i in range(n_layers) if i not in per_layer]
    routed = sum(per_layer.values())
    per_expert = sorted({v // E for v in per_layer.values()})
    assert all(v % E == 0 for v in per_layer.values())
    ppe = per_expert[0] if len(per_expert) == 1 else [per_layer[i] // E for i in moe_layer_ids]
    active_routed = sum(k * (per_layer[i] // E) for i in moe_layer_ids)

    active_core = total - embedding_params - lm_head_params - routed + active_routed
    active_compute = active_core + (lm_head_params if not tied else embedding_params)
    active_all = active_compute + (embedding_params if not tied else 0)

    # Hub / checkpoint naming via transformers' own save-time reverse conversion.
    sd_for_save = {k2: v for k2, v in sd.items() if k2 not in tied_aliases}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hub = revert_weight_conversion(model, dict(sd_for_save))
    hub_items = sorted((k2, tuple(v.shape)) for k2, v in hub.items())
    assert sum(numel(s) for _, s in hub_items) == total + sum(numel(s) for _, s in buffers), stem
    hub_note = "names/shapes from transformers' reverse weight conversion (what save_pretrained writes)"
    quant = raw.get("quantization_config") or {}
    stored_items = None
    if quant.get("quant_method") == "mxfp4":
        stored_items = mxfp4_storage(hub_items, text_cfg)
    if model_type == "llama4":
        hub_note += "; the published Llama4ForConditionalGeneration checkpoint prefixes text weights with 'language_model.'"

    entry = {
        "model_type": model_type,
        "instantiated_as": built_as,
        "transformers_class": type(model).__name__,
        "note": note,
        "tie_word_embeddings": bool(tied),
        "total_params": total,
        "persistent_buffer_elements": sum(numel(s) for _, s in buffers),
        "embedding_params": embedding_params,
        "lm_head_params": lm_head_params,
        "routed_expert_params": routed,
        "params_per_routed_expert": ppe,
        "num_experts": E,
        "experts_per_token": k,
        "moe_layers": len(moe_layer_ids),
        "dense_layers": len(dense_layer_ids),
        "moe_layer_indices": moe_layer_ids,
        "dense_layer_indices": dense_layer_ids,
        "num_hidden_layers": n_layers,
        "active_params_core": active_core,
        "active_params_compute": active_compute,
        "active_params_all": active_all,
        "breakdown": dict(sorted(breakdown.items())),
        "tensors": group_tensors((n, p.shape) for n, p in named),
        "buffers": group_tensors(buffers),
        "hub_tensors": group_tensors(hub_items),
        "hub_tensors_note": hub_note,
    }
    if stored_items is not None:
        entry["hub_tensors_stored"] = group_tensors(stored_items)
        entry["hub_tensors_stored_note"] = (
            "MXFP4 as published: *_blocks/*_scales are uint8 (blocks hold 2 FP4 values per byte); "
            "hub_tensors above is the dequantized BF16 equivalent"
        )
        entry["hub_stored_elements"] = sum(numel(s) for _, s in stored_items)

    # DSA indexer
    idx_layers = sorted({layer_of(n) for n, _ in named if ".self_attn.indexer." in n})
    if idx_layers or model_type in ("glm_moe_dsa", "deepseek_v32"):
        per_idx = defaultdict(int)
        for n, p in named:
            if ".self_attn.indexer." in n:
                per_idx[layer_of(n)] += p.numel()
        vals = sorted(set(per_idx.values()))
        assert len(vals) == 1
        entry["indexer"] = {
            "params_per_indexer": vals[0],
            "layers_with_indexer": idx_layers,
            "num_layers_with_indexer": len(idx_layers),
            "indexer_params_total": sum(per_idx.values()),
            "indexer_types_in_config": "indexer_types" in raw,
            "indexer_types_effective": list(getattr(text_cfg, "indexer_types", []) or []),
            "tensors": group_tensors((n, p.shape) for n, p in named if ".self_attn.indexer." in n),
        }

    # MTP
    mtp = mtp_block(model, text_cfg, raw, built_as, stem)
    if mtp is not None:
        entry["mtp"] = mtp
        entry["checkpoint_params"] = total + mtp["mtp_params"]
        copies = mtp["shared_copy_params"] if mtp["shared_copies_stored"] else 0
        entry["checkpoint_stored_elements"] = (
            entry["checkpoint_params"] + copies + entry["persistent_buffer_elements"] + mtp["mtp_buffer_elements"]
        )
    else:
        entry["mtp"] = None
        entry["checkpoint_params"] = total
        entry["checkpoint_stored_elements"] = total + entry["persistent_buffer_elements"]
    if model_type == "minimax_m2":
        entry["mtp_note"] = (
            "config declares use_mtp/num_mtp_modules=3/mtp_transformer_layers=1 but has no "
            "num_nextn_predict_layers; the published MiniMax-M2/M2.5/M2.7 checkpoints contain no MTP weights "
            "(MiniMax-AI/MiniMax-M2.5#8, MiniMax-AI/MiniMax-M2.7#16), so nothing is added"
        )

    # Cross-check the hand-written spec (PARAM_COUNTS.md) against transformers.
    spec = spec_counts(raw)
    got = {
        "total_params": total,
        "embedding_params": embedding_params,
        "lm_head_params": lm_head_params,
        "routed_expert_params": routed,
        "params_per_routed_expert": ppe,
        "moe_layers": len(moe_layer_ids),
        "active_params_core": active_core,
        "persistent_buffer_elements": entry["persistent_buffer_elements"],
        "mtp_params": mtp["mtp_params"] if mtp else 0,
        "indexer_layers": entry.get("indexer", {}).get("layers_with_indexer", []),
    }
    mismatch = {key: (spec[key], got[key]) for key in got if spec[key] != got[key]}
    if mismatch:
        raise AssertionError(f"{stem}: PARAM_COUNTS.md formula disagrees with transformers: {mismatch}")
    entry["spec_formula_matches"] = True

    adv = ADVERTISED.get(stem)
    if adv:
        entry["advertised"] = {"total_B": adv[0], "active_B": adv[1], "note": adv[2]}
    del model
    return stem, entry


def fmt_b(x):
    return f"{x / 1e9:.3f}"


def main(argv):
    only = set(argv[1:])
    results = {}
    unsupported = {}
    for path in sorted(CONFIG_DIR.glob("*.json")):
        try:
            stem, entry = analyse(path)
        except LookupError as e:  # model type unavailable in this transformers
            unsupported[path.stem] = str(e)
            continue
        results[stem] = entry

    doc = {
        "generator": "scripts/oracle/param_counts.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "config_dir": str(CONFIG_DIR),
        "unsupported": unsupported,
        "models": results,
    }
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")

    hdr = (
        f"{'config':38} {'model_type':12} {'total':>9} {'act_core':>9} {'act_comp':>9} {'act_all':>9} "
        f"{'ckpt':>9} {'stored':>9}  {'advertised tot/act'}"
    )
    print(hdr)
    print("-" * len(hdr))
    for stem, e in sorted(results.items()):
        if only and stem not in only:
            continue
        adv = e.get("advertised") or {}
        print(
            f"{stem:38} {e['model_type']:12} {fmt_b(e['total_params']):>9} {fmt_b(e['active_params_core']):>9} "
            f"{fmt_b(e['active_params_compute']):>9} {fmt_b(e['active_params_all']):>9} "
            f"{fmt_b(e['checkpoint_params']):>9} {fmt_b(e['checkpoint_stored_elements']):>9}  "
            f"{adv.get('total_B', '?')} / {adv.get('active_B', '?')}"
        )
    for stem, why in sorted(unsupported.items()):
        print(f"UNSUPPORTED {stem}: {why}")
    print(f"wrote {OUT_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    transformers.logging.set_verbosity_error()
    main(sys.argv)
