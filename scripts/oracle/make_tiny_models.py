#!/usr/bin/env python3
"""Build tiny random Hugging Face checkpoints plus reference outputs for MoEKit tests.

Run from the repository root:

    python3 scripts/oracle/make_tiny_models.py            # build everything
    python3 scripts/oracle/make_tiny_models.py --show-keys # also list tensor names
    python3 scripts/oracle/make_tiny_models.py llama qwen2 # only some models

For every model a directory Tests/Fixtures/tiny/<name>/ is written with
config.json, generation_config.json, the safetensors weights (sharded where
requested) and oracle.json holding the reference outputs. All references are
computed in float32 with eager attention and eager experts. For float16 /
bfloat16 checkpoints the weights are rounded to that dtype first and the
references are computed in float32 from the rounded values.

The output is deterministic: running the script twice gives identical files.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    GraniteConfig,
    GraniteMoeConfig,
    LlamaConfig,
    MixtralConfig,
    OlmoeConfig,
    Qwen2Config,
    Qwen2MoeConfig,
    Qwen3Config,
    Qwen3MoeConfig,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_ROOT = REPO_ROOT / "Tests" / "Fixtures" / "tiny"

PROMPT_LEN = 12
GEN_LEN = 16
MAX_SEED = 2000
BOS_ID = 1

# Decision-margin requirements (see README.md).
GREEDY_REL_MARGIN = 1e-3  # top1 - top2 >= this * max|logit| at every greedy step
EXPERT_ABS_MARGIN = 1e-3  # router logit gap between k-th and (k+1)-th expert
MIN_EXPERTS_PER_LAYER = 6  # distinct experts picked in every MoE layer (of 8)
MIN_DISTINCT_GREEDY = 4  # avoid degenerate "same token forever" continuations

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}

# Shared geometry: hidden 64, 4 query heads, 2 kv heads, head_dim 16.
BASE = dict(
    hidden_size=64,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=96,
    max_position_embeddings=128,
    hidden_act="silu",
    bos_token_id=BOS_ID,
    pad_token_id=None,
    attention_dropout=0.0,
)


def rope(theta, **extra):
    params = {"rope_type": "default", "rope_theta": float(theta)}
    params.update(extra)
    return params


# name -> spec
#   cls:        config class
#   kw:         config kwargs (on top of BASE)
#   dtype:      checkpoint dtype
#   shard:      max_shard_size for save_pretrained, or None for a single file
#   moe:        None for dense models, else (block attribute on the decoder layer, router attribute on the block)
#   moe_layers: expected MoE layer indices (checked against the instantiated model)
SPECS = OrderedDict(
    llama=dict(
        cls=LlamaConfig,
        kw=dict(
            vocab_size=112,
            num_hidden_layers=2,
            rms_norm_eps=1e-5,
            tie_word_embeddings=True,
            rope_parameters=rope(
                10000.0,
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=64,
            ),
        ),
        dtype="F32",
        shard=None,
        moe=None,
        moe_layers=[],
        embed_std=0.1,
    ),
    llama_f16=dict(
        cls=LlamaConfig,
        kw=dict(
            vocab_size=100,
            num_hidden_layers=3,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            attention_bias=True,
            mlp_bias=True,
            rope_parameters=rope(10000.0),
        ),
        dtype="F16",
        shard=None,
        moe=None,
        moe_layers=[],
    ),
    qwen2=dict(
        cls=Qwen2Config,
        kw=dict(
            vocab_size=120,
            num_hidden_layers=2,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            use_sliding_window=False,
            rope_parameters=rope(1000000.0),
        ),
        dtype="BF16",
        shard=None,
        moe=None,
        moe_layers=[],
    ),
    qwen3=dict(
        cls=Qwen3Config,
        kw=dict(
            vocab_size=128,
            num_hidden_layers=2,
            head_dim=32,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            attention_bias=False,
            use_sliding_window=False,
            rope_parameters=rope(1000000.0),
        ),
        dtype="F32",
        shard=None,
        moe=None,
        moe_layers=[],
        embed_std=0.1,
    ),
    granite=dict(
        cls=GraniteConfig,
        kw=dict(
            vocab_size=104,
            num_hidden_layers=2,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            embedding_multiplier=6.0,
            attention_multiplier=0.09,
            residual_multiplier=0.4,
            logits_scaling=3.0,
            rope_parameters=rope(10000.0),
        ),
        dtype="F32",
        shard=None,
        moe=None,
        moe_layers=[],
    ),
    mixtral=dict(
        cls=MixtralConfig,
        kw=dict(
            vocab_size=112,
            num_hidden_layers=2,
            intermediate_size=32,  # expert width
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            sliding_window=None,
            rope_parameters=rope(1000000.0),
        ),
        dtype="F32",
        shard="200KB",
        moe=("mlp", "gate"),
        moe_layers=[0, 1],
    ),
    qwen2_moe=dict(
        cls=Qwen2MoeConfig,
        kw=dict(
            vocab_size=116,
            num_hidden_layers=2,
            moe_intermediate_size=32,
            shared_expert_intermediate_size=48,
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=False,
            decoder_sparse_step=1,
            mlp_only_layers=[],
            qkv_bias=True,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            use_sliding_window=False,
            rope_parameters=rope(1000000.0),
        ),
        dtype="BF16",
        shard=None,
        moe=("mlp", "gate"),
        moe_layers=[0, 1],
    ),
    qwen3_moe=dict(
        cls=Qwen3MoeConfig,
        kw=dict(
            vocab_size=128,
            num_hidden_layers=4,
            head_dim=16,
            moe_intermediate_size=32,
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=True,
            decoder_sparse_step=1,
            mlp_only_layers=[1],
            attention_bias=False,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            use_sliding_window=False,
            rope_parameters=rope(1000000.0),
        ),
        dtype="F32",
        shard=None,
        moe=("mlp", "gate"),
        moe_layers=[0, 2, 3],
    ),
    qwen3_moe_step2=dict(
        cls=Qwen3MoeConfig,
        kw=dict(
            vocab_size=96,
            num_hidden_layers=4,
            head_dim=16,
            moe_intermediate_size=32,
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=False,
            decoder_sparse_step=2,
            mlp_only_layers=[],
            attention_bias=False,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            use_sliding_window=False,
            rope_parameters=rope(1000000.0),
        ),
        dtype="F16",
        shard=None,
        moe=("mlp", "gate"),
        moe_layers=[1, 3],
    ),
    olmoe=dict(
        cls=OlmoeConfig,
        kw=dict(
            vocab_size=108,
            num_hidden_layers=2,
            intermediate_size=32,  # expert width
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=False,
            clip_qkv=None,
            attention_bias=False,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            rope_parameters=rope(10000.0),
        ),
        dtype="F32",
        shard=None,
        moe=("mlp", "gate"),
        moe_layers=[0, 1],
    ),
    granitemoe=dict(
        cls=GraniteMoeConfig,
        kw=dict(
            vocab_size=124,
            num_hidden_layers=2,
            intermediate_size=32,  # expert width
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            embedding_multiplier=6.0,
            attention_multiplier=0.09,
            residual_multiplier=0.4,
            logits_scaling=3.0,
            rope_parameters=rope(10000.0),
        ),
        dtype="F32",
        shard=None,
        moe=("block_sparse_moe", "router"),
        moe_layers=[0, 1],
        embed_std=0.01,
    ),
)


# --------------------------------------------------------------------------------------
# helpers


def f32_text(x: float) -> float:
    """Shortest decimal that round-trips as float32, returned as a Python float."""
    x32 = struct.unpack("<f", struct.pack("<f", float(x)))[0]
    if not math.isfinite(x32):
        raise ValueError(f"non-finite value {x}")
    for digits in range(1, 10):
        s = f"{x32:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(s)))[0] == x32:
            return float(s)
    return x32


def f32_list(t: torch.Tensor):
    if t.dim() == 0:
        return f32_text(t.item())
    return [f32_list(row) for row in t] if t.dim() > 1 else [f32_text(v) for v in t.tolist()]


def build_model(spec, seed: int):
    cfg = spec["cls"](**{**BASE, **spec["kw"]})
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(
        cfg, attn_implementation="eager", experts_implementation="eager", dtype=torch.float32
    )
    model.eval()
    return model


def reinitialise(model, seed: int, dtype_tag: str, embed_std: float):
    """Overwrite every parameter with larger random values (deterministic in `seed`)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters are listed once
            shape = p.shape
            if p.dim() == 1:
                if name.endswith("bias"):
                    vals = 0.1 * torch.randn(shape, generator=gen)
                else:  # RMSNorm weights: 1 +- 0.2
                    vals = 1.0 + 0.2 * (2.0 * torch.rand(shape, generator=gen) - 1.0)
            elif "embed_tokens" in name:
                vals = embed_std * torch.randn(shape, generator=gen)
            elif name.endswith(".gate.weight") or name.endswith(".router.weight"):
                vals = (2.0 / math.sqrt(shape[-1])) * torch.randn(shape, generator=gen)
            else:  # Linear [out, in] or fused experts [E, out, in]
                vals = (1.0 / math.sqrt(shape[-1])) * torch.randn(shape, generator=gen)
            if dtype_tag != "F32":
                vals = vals.to(DTYPES[dtype_tag]).to(torch.float32)
            p.copy_(vals)


def moe_routers(model, spec):
    """[(layer_index, router_module)] for the MoE layers, checked against the expected layout."""
    found = []
    if spec["moe"] is None:
        for layer in model.model.layers:
            assert not any("Experts" in type(m).__name__ for m in layer.modules()), "unexpected MoE block"
        return found
    block_attr, router_attr = spec["moe"]
    for i, layer in enumerate(model.model.layers):
        block = getattr(layer, block_attr)
        if hasattr(block, "experts"):
            router = getattr(block, router_attr)
            assert "Router" in type(router).__name__, type(router)
            found.append((i, router))
        else:
            assert not any("Experts" in type(m).__name__ for m in block.modules())
    assert [i for i, _ in found] == spec["moe_layers"], ([i for i, _ in found], spec["moe_layers"])
    return found


def forward_logits(model, ids):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float()


def top2_gap(v: torch.Tensor) -> float:
    top = torch.topk(v, 2).values
    return float(top[0] - top[1])


def evaluate(model, spec, seed: int):
    """Run the reference computations. Returns (record, ok, reason)."""
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(100000 + seed)
    prompt = torch.randint(0, vocab, (PROMPT_LEN,), generator=gen).tolist()

    logits = forward_logits(model, prompt)

    # Greedy decoding with full (cache-free) forward passes.
    seq = list(prompt)
    greedy, margins, rels = [], [], []
    ok, reason = True, ""
    for _ in range(GEN_LEN):
        step = forward_logits(model, seq)[-1]
        nxt = int(torch.argmax(step))
        gap = top2_gap(step)
        rel = gap / float(step.abs().max())
        if rel < GREEDY_REL_MARGIN and ok:
            ok, reason = False, f"greedy margin {rel:.2e}"
        greedy.append(nxt)
        margins.append(gap)
        rels.append(rel)
        seq.append(nxt)
    if ok and len(set(greedy)) < MIN_DISTINCT_GREEDY:
        ok, reason = False, f"greedy has only {len(set(greedy))} distinct tokens"

    # Router decisions over prompt + greedy tokens.
    routers = moe_routers(model, spec)
    captured = {}
    handles = []
    for li, router in routers:
        def hook(mod, inp, out, li=li):
            captured[li] = (out[0].detach().float().clone(), out[2].detach().clone())
        handles.append(router.register_forward_hook(hook))
    full_logits = forward_logits(model, seq)
    for h in handles:
        h.remove()
    # The positions of the full pass agree with the per-step passes (sanity, loose tolerance).
    assert torch.allclose(full_logits[:PROMPT_LEN], logits, atol=1e-4, rtol=1e-4)

    experts, expert_margins = [], []
    min_expert_margin = math.inf
    used_union = set()
    k = model.config.num_experts_per_tok if routers else 0
    for li, _ in routers:
        r_logits, r_idx = captured[li]
        assert r_logits.shape == (len(seq), r_logits.shape[1])
        ordered = torch.sort(r_logits, dim=-1, descending=True)
        chosen = torch.sort(ordered.indices[:, :k], dim=-1).values
        # The module's own choice (top-k of softmax probs or of logits) must agree.
        assert torch.equal(chosen, torch.sort(r_idx, dim=-1).values), f"router mismatch layer {li}"
        gaps = ordered.values[:, k - 1] - ordered.values[:, k]
        experts.append(chosen.tolist())
        expert_margins.append(gaps)
        min_expert_margin = min(min_expert_margin, float(gaps.min()))
        used = set(chosen.flatten().tolist())
        used_union |= used
        if ok and len(used) < MIN_EXPERTS_PER_LAYER:
            ok, reason = False, f"layer {li} uses only {len(used)} experts"
    if ok and routers and min_expert_margin < EXPERT_ABS_MARGIN:
        ok, reason = False, f"expert margin {min_expert_margin:.2e}"

    rec = dict(
        prompt=prompt,
        logits=logits,
        greedy=greedy,
        greedy_margins=margins,
        min_greedy_rel=min(rels),
        moe_layers=[li for li, _ in routers],
        experts=experts,
        expert_margins=expert_margins,
        min_expert_margin=min_expert_margin if routers else None,
        experts_used=sorted(used_union),
        top_k=k,
    )
    return rec, ok, reason


def check_llama3_rope(model):
    """The llama3 scaling must leave some, divide some and smooth some inverse frequencies."""
    cfg = model.config
    rp = cfg.rope_parameters
    dim = cfg.head_dim
    base = 1.0 / (rp["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaled = model.model.rotary_emb.inv_freq.float()
    same = torch.isclose(scaled, base, rtol=1e-6, atol=0)
    divided = torch.isclose(scaled, base / rp["factor"], rtol=1e-6, atol=0)
    smoothed = ~(same | divided)
    assert same.any() and divided.any() and smoothed.any(), (base, scaled)
    return dict(unchanged=int(same.sum()), divided=int(divided.sum()), smoothed=int(smoothed.sum()))


def pick_eos(vocab: int, greedy, prompt) -> int:
    """Largest token id that appears neither in the prompt nor in the greedy continuation."""
    taken = set(greedy) | set(prompt) | {BOS_ID}
    for tok in range(vocab - 1, -1, -1):
        if tok not in taken:
            return tok
    raise RuntimeError("no free eos id")


def key_patterns(directory: Path):
    """{pattern: (shape-set, dtype-set, count)} with layer / expert indices collapsed to '*'."""
    pats = OrderedDict()
    for f in sorted(directory.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as sf:
            for key in sf.keys():
                sl = sf.get_slice(key)
                shape = tuple(sl.get_shape())
                dtype = sl.get_dtype()
                pat = re.sub(r"\.(\d+)\.", ".*.", key)
                pat = re.sub(r"\.(\d+)\.", ".*.", pat)
                entry = pats.setdefault(pat, [set(), set(), 0])
                entry[0].add(shape)
                entry[1].add(dtype)
                entry[2] += 1
    return pats


def write_model(name, spec, seed, model, rec):
    out_dir = OUT_ROOT / name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)

    eos = pick_eos(model.config.vocab_size, rec["greedy"], rec["prompt"])
    model.config.eos_token_id = eos
    model.config.bos_token_id = BOS_ID
    model.generation_config = GenerationConfig(bos_token_id=BOS_ID, eos_token_id=eos, do_sample=False)

    oracle = OrderedDict()
    oracle["model_type"] = model.config.model_type
    oracle["weights_dtype"] = spec["dtype"]
    oracle["seed"] = seed
    oracle["vocab_size"] = model.config.vocab_size
    oracle["bos_token_id"] = BOS_ID
    oracle["eos_token_id"] = eos
    oracle["input_ids"] = rec["prompt"]
    oracle["greedy"] = rec["greedy"]
    oracle["greedy_margins"] = [f32_text(m) for m in rec["greedy_margins"]]
    oracle["moe_layers"] = rec["moe_layers"]
    oracle["num_experts_per_tok"] = rec["top_k"]
    oracle["experts"] = rec["experts"]
    oracle["expert_margins"] = [f32_list(g) for g in rec["expert_margins"]]
    oracle["rope_inv_freq"] = f32_list(model.model.rotary_emb.inv_freq.float())
    oracle["logits"] = f32_list(rec["logits"])
    text = json.dumps(oracle, separators=(",", ":"), allow_nan=False)
    (out_dir / "oracle.json").write_text(text + "\n")

    # Save last: casting to the checkpoint dtype also casts non-persistent buffers (rope inv_freq).
    dtype = DTYPES[spec["dtype"]]
    save_kwargs = dict(safe_serialization=True)
    if spec["shard"] is not None:
        save_kwargs["max_shard_size"] = spec["shard"]
    model.to(dtype)
    model.save_pretrained(str(out_dir), **save_kwargs)
    return out_dir


def verify_roundtrip(out_dir: Path, spec, rec):
    """Reload the saved checkpoint and check it reproduces the reference logits."""
    model = AutoModelForCausalLM.from_pretrained(
        str(out_dir), attn_implementation="eager", experts_implementation="eager", dtype=torch.float32
    )
    model.eval()
    logits = forward_logits(model, rec["prompt"])
    diff = float((logits - rec["logits"]).abs().max())
    assert diff <= 1e-5, f"{out_dir.name}: reloaded checkpoint differs from reference by {diff}"
    # Every saved tensor must have the checkpoint dtype.
    want = {"F32": "F32", "F16": "F16", "BF16": "BF16"}[spec["dtype"]]
    for pat, (_, dtypes, _) in key_patterns(out_dir).items():
        assert dtypes == {want}, (out_dir.name, pat, dtypes)
    return diff


def build_one(name, spec, show_keys=False):
    for seed in range(MAX_SEED):
        model = build_model(spec, seed)
        reinitialise(model, seed, spec["dtype"], spec.get("embed_std", 0.5))
        moe_routers(model, spec)  # layout check
        rec, ok, reason = evaluate(model, spec, seed)
        if ok:
            break
    else:
        raise RuntimeError(f"{name}: no seed below {MAX_SEED} satisfies the margin requirements")

    rope_info = check_llama3_rope(model) if name == "llama" else None
    out_dir = write_model(name, spec, seed, model, rec)
    diff = verify_roundtrip(out_dir, spec, rec)

    files = sorted(p for p in out_dir.iterdir() if p.is_file())
    sizes = ", ".join(f"{p.name}={p.stat().st_size}" for p in files)
    total = sum(p.stat().st_size for p in files)
    min_exp = rec["min_expert_margin"]
    print(
        f"[{name}] seed={seed} dtype={spec['dtype']} "
        f"min_greedy_margin_rel={rec['min_greedy_rel']:.3e} "
        f"min_expert_margin={'-' if min_exp is None else f'{min_exp:.3e}'} "
        f"moe_layers={rec['moe_layers']} experts_used={len(rec['experts_used'])}/8 "
        f"greedy_distinct={len(set(rec['greedy']))} reload_maxdiff={diff:.1e} total_bytes={total}"
    )
    if rope_info:
        print(f"[{name}] llama3 rope inv_freq bands: {rope_info}")
    print(f"[{name}] files: {sizes}")
    if show_keys:
        for pat, (shapes, dtypes, count) in key_patterns(out_dir).items():
            shp = " | ".join(str(list(s)) for s in sorted(shapes))
            print(f"    {pat}  {shp}  {','.join(sorted(dtypes))}  x{count}")
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help=f"subset of {list(SPECS)}")
    ap.add_argument("--show-keys", action="store_true", help="print tensor name patterns, shapes and dtypes")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()

    names = args.models or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        ap.error(f"unknown model(s): {unknown}")

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, output {OUT_ROOT}")
    total = 0
    for name in names:
        total += build_one(name, SPECS[name], show_keys=args.show_keys)
    print(f"total fixture bytes: {total}")


if __name__ == "__main__":
    main()
