#!/usr/bin/env python3
"""What llama.cpp's converter writes for a checkpoint's tokenizer: the oracle of `moekit quantize`'s
tokenizer conversion.

Run from the repository root (needs torch, transformers, safetensors, sentencepiece, numpy and a
llama.cpp source tree with convert_hf_to_gguf.py and conversion/: LLAMA_CPP_DIR, or the one
scripts/bench/build_llamacpp.sh unpacks from PyPI's llama-cpp-python sdist under .cache/llama.cpp/):

    python3 scripts/oracle/tokenizer_to_gguf.py            # every case
    python3 scripts/oracle/tokenizer_to_gguf.py smollm2    # some

For each case below it assembles a tiny checkpoint in a temporary directory: the case's config.json
(a one-layer model), a tokenizer.json from Tests/MoETokenizerTests/Oracle (optionally with top-level
sections replaced, see `patch`), the tokenizer_config.json / chat_template.jinja / ... files of the
case, and random weights. llama.cpp's convert_hf_to_gguf.py converts it (F32), and every
`tokenizer.*` key of its file is recorded in Tests/Fixtures/tokenizer_gguf/<case>/expected.json, in
file order, with its GGUF type: scalars and short arrays in full; long arrays as their length, an
FNV-1a 64 hash of their GGUF encoding (strings: u64 length + bytes; int32 and float32: 4 bytes,
little-endian), the first and last items, and for numbers the runs of equal values.
The case's files (not the weights, not the tokenizer.json) are written next to it:
Tests/MoEModelsTests/TokenizerExportTests.swift rebuilds the same checkpoint and demands the same
keys from `moekit quantize`.

One thing is not llama.cpp's own: its converter names the pre-tokenizer of a byte-level BPE
tokenizer by hashing the ids it gives a fixed text, and only knows the hashes of full, published
vocabularies. The byte-level tokenizers cut down for the tests (all but SmolLM2's) have no known
hash, so the converter stops ("BPE pre-tokenizer was not recognized"). For those, and only when the converter
does stop there, the name llama.cpp gives the model the tokenizer was cut from (`pre`, checked to
be a name in the converter's table) is used instead; expected.json says which cases (`pre_source`).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_to_gguf import find_llama_cpp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TOKENIZERS = REPO / "Tests" / "MoETokenizerTests" / "Oracle"
OUT = REPO / "Tests" / "Fixtures" / "tokenizer_gguf"
SMOLLM2_GGUF = REPO / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# SmolLM2's own pre-tokenizer (Oracle/smollm2/tokenizer.json is transformers' rebuild from the GGUF,
# which loses the digit split; the GGUF says pre = "smollm").
SMOLLM2_PRE = {"type": "Sequence", "pretokenizers": [
    {"type": "Digits", "individual_digits": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}


def smollm2_files() -> dict[str, object]:
    import gguf
    r = gguf.GGUFReader(SMOLLM2_GGUF)
    template = r.fields["tokenizer.chat_template"].contents()
    # SmolLM2-135M-Instruct's tokenizer_config.json (its token list is in tokenizer.json).
    return {"tokenizer_config.json": {
        "add_prefix_space": False, "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|im_start|>", "chat_template": template, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "model_max_length": 8192, "pad_token": "<|im_end|>",
        "tokenizer_class": "GPT2Tokenizer", "unk_token": "<|endoftext|>", "vocab_size": 49152}}


QWEN_TEMPLATE = ("{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + "
                 "'<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")

# name: architecture, vocab_size, source tokenizer.json, top-level replacements, other files, config
# extras, and the pre-tokenizer name llama.cpp gives the source model (used only if it cannot tell).
CASES: dict[str, dict] = {
    # The real SmolLM2-135M-Instruct vocabulary: llama.cpp recognises it ("smollm") by itself.
    "smollm2": dict(arch="LlamaForCausalLM", vocab=49152, tokenizer="smollm2/tokenizer.json",
                    patch={"pre_tokenizer": SMOLLM2_PRE}, files=smollm2_files,
                    config={"bos_token_id": 1, "eos_token_id": 2}),
    # Mistral-style SentencePiece BPE from tokenizer.json (no tokenizer.model): the `llama` model.
    "spm_mistral": dict(arch="LlamaForCausalLM", vocab=2257, tokenizer="tokenizers/spm_metaspace.json",
                        files=lambda: {
                            "tokenizer_config.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                                      "add_bos_token": True, "add_eos_token": False, "legacy": False,
                                                      "additional_special_tokens": ["[INST]"]},
                            "chat_template.jinja": "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"},
                        config={"bos_token_id": 1, "eos_token_id": 2}),
    # Llama-2-style (normalizer Prepend + Replace); named special tokens that tokenizer.json lacks
    # (transformers appends them), one in the model vocabulary but not added, add_prefix_space.
    "spm_llama2": dict(arch="LlamaForCausalLM", vocab=2260, tokenizer="tokenizers/spm_legacy.json",
                       files=lambda: {
                           "tokenizer_config.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                                     "pad_token": "<pad>", "mask_token": "<mask>", "sep_token": "<sep>",
                                                     "add_prefix_space": True, "add_bos_token": True,
                                                     "chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}},
                       config={"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}),
    # Qwen2's real tokenizer.json (first 6000 merges) with its tokenizer_config, a Qwen2 model padded
    # to a larger vocabulary (as Qwen's 151936). Cut down, its added tokens get ids after the 6256
    # tokens left (HF tokenizers numbers added tokens past the model's vocabulary).
    "qwen2": dict(arch="Qwen2ForCausalLM", vocab=151700, tokenizer="tokenizers/qwen2_trimmed.json", pre="qwen2",
                  files=lambda: {"tokenizer_config.json": {
                      "add_prefix_space": False, "bos_token": None, "chat_template": QWEN_TEMPLATE,
                      "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
                      "model_max_length": 32768, "pad_token": "<|endoftext|>", "split_special_tokens": False,
                      "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
                      "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}},
                  config={"bos_token_id": 151643, "eos_token_id": 151645}),
    # GPT-2-style byte-level BPE with lstrip/rstrip/single-word added tokens, a named pad token that
    # is a plain added token, a missing one, a template file plus an additional named template.
    "gpt2": dict(arch="Qwen2ForCausalLM", vocab=2520, tokenizer="tokenizers/gpt2_bytelevel.json", pre="gpt-2",
                 files=lambda: {
                     "tokenizer_config.json": {"eos_token": "<|endoftext|>", "pad_token": "<<", "mask_token": "<mask>",
                                               "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<tool>"]},
                     "chat_template.jinja": "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}",
                     "additional_chat_templates/tool_use.jinja": "{{ tools }}"},
                 config={"eos_token_id": 0}),
    # Llama 3's pre-tokenizer (Split + ByteLevel, ignore_merges) under a Llama model: the converter
    # goes past the SentencePiece route to byte-level BPE. TemplateProcessing adds BOS.
    "llama3": dict(arch="LlamaForCausalLM", vocab=2830, tokenizer="tokenizers/llama3_split.json", pre="llama-bpe",
                   patch={"normalizer": None},
                   files=lambda: {"tokenizer_config.json": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                                                            "chat_template": "{{ bos_token }}{{ messages[0].content }}"}},
                   config={"bos_token_id": 0, "eos_token_id": [1, 2822]}),
}

HIDDEN, INTER, HEADS = 16, 32, 2


def config_for(case: dict) -> dict:
    model_type = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}[case["arch"]]
    cfg = {"architectures": [case["arch"]], "model_type": model_type, "hidden_size": HIDDEN,
           "intermediate_size": INTER, "num_hidden_layers": 1, "num_attention_heads": HEADS,
           "num_key_value_heads": HEADS, "vocab_size": case["vocab"], "max_position_embeddings": 256,
           "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": True, "torch_dtype": "float32"}
    cfg.update(case.get("config", {}))
    return cfg


def write_weights(d: Path, cfg: dict) -> None:
    """Random weights of the one-layer model (only their shapes matter here)."""
    rng = np.random.default_rng(0)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    t = {"model.embed_tokens.weight": rng.standard_normal((V, H), dtype=np.float32) * 0.02,
         "model.norm.weight": np.ones(H, np.float32)}
    p = "model.layers.0."
    for n, s in [("self_attn.q_proj", (H, H)), ("self_attn.k_proj", (H, H)), ("self_attn.v_proj", (H, H)),
                 ("self_attn.o_proj", (H, H)), ("mlp.gate_proj", (I, H)), ("mlp.up_proj", (I, H)), ("mlp.down_proj", (H, I))]:
        t[p + n + ".weight"] = rng.standard_normal(s, dtype=np.float32) * 0.02
    if cfg["model_type"] == "qwen2":
        for n in ("q_proj", "k_proj", "v_proj"):
            t[p + f"self_attn.{n}.bias"] = np.zeros(H, np.float32)
    t[p + "input_layernorm.weight"] = np.ones(H, np.float32)
    t[p + "post_attention_layernorm.weight"] = np.ones(H, np.float32)
    save_file(t, str(d / "model.safetensors"))


def source_tokenizer(case: dict) -> dict:
    j = json.loads((TOKENIZERS / case["tokenizer"]).read_text(encoding="utf-8"))
    for k, v in case.get("patch", {}).items():
        j[k] = v
    return j


def case_files(case: dict) -> dict[str, object]:
    return case["files"]() if "files" in case else {}


def write_text(path: Path, content: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


_RUNNER = r'''
import sys
from pathlib import Path
lc, model, out, fallback = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
sys.path.insert(0, str(lc)); sys.path.insert(1, str(lc / "gguf-py"))
import logging; logging.disable(logging.WARNING)
import gguf
from conversion import ModelBase, TextModel, get_model_class
original = TextModel.get_vocab_base_pre
def get_vocab_base_pre(self, tokenizer):
    try:
        return original(self, tokenizer)
    except NotImplementedError:
        if not fallback:
            raise
        print("PRE_FALLBACK", file=sys.stderr)
        return fallback
TextModel.get_vocab_base_pre = get_vocab_base_pre
hp = ModelBase.load_hparams(model, False)
cls = get_model_class(hp["architectures"][0])
cls(model, gguf.LlamaFileType.ALL_F32, out, eager=True).write()
'''


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def encode_items(items: list, item_type: int) -> bytes:
    if item_type == 8:
        return b"".join(struct.pack("<Q", len(s)) + s for s in (x.encode("utf-8") for x in items))
    fmt = {5: "<i", 6: "<f"}[item_type]
    return b"".join(struct.pack(fmt, x) for x in items)


def runs(items: list) -> list:
    out: list = []
    for x in items:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return out


def record(path: Path) -> list[dict]:
    """The tokenizer.* keys of a GGUF file, in file order, as expected.json holds them."""
    import gguf
    r = gguf.GGUFReader(path)
    keys = []
    for k, f in r.fields.items():
        if not k.startswith("tokenizer."):
            continue
        types = [int(t) for t in f.types]
        v = f.contents()
        e: dict = {"key": k, "type": types[0]}
        if types[0] == 9:
            e["item"] = types[1]
            if types[1] == 6:
                v = [float(np.float32(x)) for x in v]
            if len(v) <= 32:
                e["value"] = v
            else:
                e["count"] = len(v)
                e["fnv1a64"] = fnv1a64(encode_items(v, types[1]))
                e["head"], e["tail"] = v[:6], v[-6:]
                if types[1] != 8:
                    rl = runs(v)
                    if len(rl) <= 400:
                        e["runs"] = rl
        else:
            e["value"] = float(np.float32(v)) if types[0] == 6 else v
        keys.append(e)
    return keys


def run_case(name: str, lc: Path) -> dict:
    case = CASES[name]
    cfg = config_for(case)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / name
        d.mkdir()
        write_text(d / "config.json", cfg)
        write_text(d / "tokenizer.json", source_tokenizer(case))
        for rel, content in case_files(case).items():
            write_text(d / rel, content)
        write_weights(d, cfg)
        out = Path(tmp) / "out.gguf"
        res = subprocess.run([sys.executable, "-c", _RUNNER, str(lc), str(d), str(out), case.get("pre", "")],
                             capture_output=True, text=True)
        if res.returncode != 0 or not out.is_file():
            raise RuntimeError(f"{name}: llama.cpp's converter failed:\n{res.stderr[-3000:]}")
        keys = record(out)
    fallback = "PRE_FALLBACK" in res.stderr
    if fallback:
        src = (lc / "conversion" / "base.py").read_text(encoding="utf-8")
        assert f'res = "{case["pre"]}"' in src, f"{name}: '{case['pre']}' is not a pre-tokenizer name of llama.cpp's converter"
    return {"case": name, "tokenizer": str((TOKENIZERS / case["tokenizer"]).relative_to(REPO)),
            "patch": case.get("patch", {}),
            "pre_source": ("declared: the source model's name in llama.cpp's table (the cut-down vocabulary has no known hash)"
                           if fallback else "llama.cpp"),
            "keys": keys}


def main() -> None:
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(CASES)
    lc = find_llama_cpp()
    if lc is None:
        sys.exit("no llama.cpp source tree with conversion/ found (set LLAMA_CPP_DIR or run scripts/bench/build_llamacpp.sh)")
    import transformers
    for name in names:
        case = CASES[name]
        rec = run_case(name, lc)
        source = next((p.name for p in [lc, *lc.parents] if p.name.startswith("llama_cpp_python-")), lc.name)
        rec["versions"] = {"llama.cpp": source,
                           "transformers": transformers.__version__}
        d = OUT / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        write_text(d / "config.json", config_for(case))
        for rel, content in case_files(case).items():
            write_text(d / rel, content)
        (d / "expected.json").write_text(json.dumps(rec, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n",
                                         encoding="utf-8")
        print(f"{name}: {len(rec['keys'])} keys, pre {next((e['value'] for e in rec['keys'] if e['key'] == 'tokenizer.ggml.pre'), None)!r}"
              f" ({rec['pre_source'].split(':')[0]})")


if __name__ == "__main__":
    main()
