#!/usr/bin/env python3
"""llama.cpp's own intermediate tensors, for the C harness's check of `--numerics llamacpp`
(Sources/MoEKernelsC/llamacpp.c): inputs and outputs of each operation of one layer of the real
SmolLM2-135M-Instruct Q4_1 GGUF, exactly as llama.cpp computed them.

How it runs: like llamacpp_reference.py (whose bindings loader it uses), against the libllama.so that
scripts/bench/build_llamacpp.sh builds from PyPI's llama-cpp-python sdist. It evaluates the parity
text's tokens in one batch (1 thread, F32 KV cache, flash attention off: the settings of
llamacpp_reference.py), with an eval callback that copies the named tensors of layer 1 as llama.cpp
computed them, and writes Tests/CKernels/llamacpp_ops.json. Arrays are base64 of little-endian
float32 (bit exact); Q4_1 rows are base64 of their bytes in the file. Needs numpy and the gguf
package (for the weights).

  rms_norm   x = l_out-0[t] (layer 1's input), w = blk.1.attn_norm.weight, out = attn_norm-1[t]
  q4_1       rows of blk.1.attn_q.weight times attn_norm-1[t] -> Qcur-1[t, r]; rows of
             blk.1.ffn_down.weight times ffn_swiglu-1[t] -> ffn_out-1[t, r]
  rope       Qcur-1[t] before and after RoPE at position t
  attention  head h of token t: the roped query, the roped keys and the values of positions 0..t of
             its key/value head -> kqv_out-1[t, head h]
  swiglu     ffn_gate-1[t], ffn_up-1[t] -> ffn_swiglu-1[t]
  output     rows of token_embd.weight (Q8_0, the tied output layer) times result_norm[t] ->
             result_output[t, v]: the logits
  f16        rows of blk.1.attn_q.weight of the F16 re-quantisation (--f16-model) times its
             attn_norm-1[t] -> Qcur-1[t, r], from a second run on that file

Usage (from the repository root): python3 scripts/oracle/llamacpp_ops.py [--model GGUF] [--out JSON]
"""
import argparse
import base64
import ctypes
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llamacpp_reference as ref  # noqa: E402  (bindings loader, paths, sha256)

LAYER = 1
TOKENS = {"rms_norm": 37, "q4_1": (37, 600), "rope": 600, "attention": 100, "swiglu": 37}
Q_ROWS, DOWN_ROWS, HEAD = (0, 101, 575), (0, 300, 575), 4


class Tensor(ctypes.Structure):
    """struct ggml_tensor of this ggml (include/ggml.h)."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4),
                ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16), ("flags", ctypes.c_int32),
                ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p), ("view_offs", ctypes.c_size_t),
                ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64), ("extra", ctypes.c_void_p), ("padding", ctypes.c_char * 8)]


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def capture(ll, model_path, text_path):
    """Runs the text through llama.cpp in one batch; returns (token count, {name: [F32 tensors of
    layers LAYER-1 and LAYER and the output, in evaluation order]}) (names repeat: Qcur is the
    product, then its reshape, then RoPE's output)."""
    seen = {}

    def callback(t, ask, _):
        x = ctypes.cast(t, ctypes.POINTER(Tensor)).contents
        name = x.name.decode()
        layer = name.rsplit("-", 1)[-1]
        wanted = (layer.isdigit() and int(layer) in (LAYER - 1, LAYER) or name in ("result_norm", "result_output")) and x.type == 0
        if ask or not wanted:
            return bool(wanted) if ask else True
        ne, nb = list(x.ne), list(x.nb)
        size = sum((ne[i] - 1) * nb[i] for i in range(4)) + 4
        raw = np.ctypeslib.as_array(ctypes.cast(x.data, ctypes.POINTER(ctypes.c_uint8)), shape=(size,))
        a = np.lib.stride_tricks.as_strided(raw, shape=(ne[3], ne[2], ne[1], ne[0] * 4), strides=(nb[3], nb[2], nb[1], 1))
        seen.setdefault(name, []).append(a.copy().view(np.float32).reshape(ne[3], ne[2], ne[1], ne[0]))
        return True

    cb = ll.ggml_backend_sched_eval_callback(callback)
    model = ref.load_model(ll, model_path)
    vocab = ll.llama_model_get_vocab(model)
    text = open(text_path, "rb").read()
    buf = (ll.llama_token * (len(text) + 16))()
    n = ll.llama_tokenize(vocab, text, len(text), buf, len(buf), True, False)
    tokens = list(buf[:n])
    cparams = ll.llama_context_default_params()
    cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = max(1024, (n + 255) // 256 * 256)
    cparams.n_seq_max = 1
    cparams.n_threads = cparams.n_threads_batch = 1
    cparams.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
    cparams.type_k = cparams.type_v = ll.GGML_TYPE_F32
    cparams.no_perf = True
    cparams.cb_eval = cb
    ctx = ll.llama_init_from_model(model, cparams)
    batch = ll.llama_batch_init(n, 0, 1)
    for i, tok in enumerate(tokens):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = tok, i, 1, 1
        batch.seq_id[i][0] = 0
    batch.n_tokens = n
    if ll.llama_decode(ctx, batch) != 0:
        sys.exit("llama_decode failed")
    ll.llama_batch_free(batch)
    ll.llama_free(ctx)
    ll.llama_model_free(model)
    return n, seen


def block_row(weights, name, r):
    """Row r of a 2-D GGUF tensor, its bytes as stored (base64)."""
    w = weights[name]
    data = np.asarray(w.data).view(np.uint8).reshape(-1)
    row_bytes = data.size // int(w.shape[1])
    return base64.b64encode(data[r * row_bytes:(r + 1) * row_bytes].tobytes()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ref.REPO, ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--f16-model", default=os.path.join(ref.REPO, ".cache/models/SmolLM2-135M-Instruct.requant-F16.gguf"),
                    help="its F16 re-quantisation (made by scripts/bench/compare_llamacpp.sh), for the F16 products")
    ap.add_argument("--text", default=os.path.join(ref.REPO, "Tests/Fixtures/smollm2/parity_text.txt"))
    ap.add_argument("--out", default=os.path.join(ref.REPO, "Tests/CKernels/llamacpp_ops.json"))
    ap.add_argument("--lib", default=os.path.join(ref.CACHE, "build", "bin"))
    args = ap.parse_args()

    import gguf
    reader = gguf.GGUFReader(args.model)
    weights = {t.name: t for t in reader.tensors}
    f16_weights = {t.name: t for t in gguf.GGUFReader(args.f16_model).tensors}

    def meta(key):
        """A scalar of the GGUF's metadata (`llama.` keys: the fixture is for that architecture)."""
        field = reader.fields["llama." + key]
        return field.parts[field.data[0]][0].item()

    ll, version = ref.load_bindings(args.lib)
    quiet = ll.llama_log_callback(lambda level, text, data: None)
    ll.llama_log_set(quiet, None)
    ll.llama_backend_init()
    n, seen = capture(ll, args.model, args.text)
    _, f16_seen = capture(ll, args.f16_model, args.text)

    L = LAYER

    def rows(name, i=0, width=None):
        a = seen[name][i]
        return a.reshape(n, -1) if width is None else a.reshape(n, width)

    heads, kv_heads = meta("attention.head_count"), meta("attention.head_count_kv")
    hd = rows(f"Qcur-{L}", 0).shape[1] // heads

    def products(model_weights, captured, matrix, x, y, rows_of, tokens=TOKENS["q4_1"], **extra):
        """One case per (token, row): the matrix row as stored, the activations it met, llama.cpp's product."""
        cols = captured(x).shape[1]
        return [{"matrix": matrix, **extra, "row": r, "token": t, "cols": cols, "w": block_row(model_weights, matrix, r),
                 "x": b64(captured(x)[t]), "out": b64(captured(y)[t, r:r + 1])}
                for t in tokens for r in rows_of(t)]

    out = {
        "source": {"llama_cpp_python": version, "model": os.path.basename(args.model), "sha256": ref.sha256(args.model),
                   "layer": L, "settings": "one batch of the parity text, 1 thread, F32 KV cache, flash attention off"},
        "eps": float(np.float32(meta("attention.layer_norm_rms_epsilon"))),
        "rms_norm": {"token": TOKENS["rms_norm"], "x": b64(rows(f"l_out-{L - 1}")[TOKENS["rms_norm"]]),
                     "w": b64(np.asarray(weights[f"blk.{L}.attn_norm.weight"].data, dtype=np.float32)),
                     "out": b64(rows(f"attn_norm-{L}")[TOKENS["rms_norm"]])},
        "q4_1": None,   # below
        "rope": {"token": TOKENS["rope"], "position": TOKENS["rope"], "heads": heads, "head_dim": hd, "base": float(meta("rope.freq_base")),
                 "in": b64(rows(f"Qcur-{L}", 1)[TOKENS["rope"]]), "out": b64(rows(f"Qcur-{L}", 2)[TOKENS["rope"]])},
        "swiglu": {"token": TOKENS["swiglu"], "gate": b64(rows(f"ffn_gate-{L}")[TOKENS["swiglu"]]),
                   "up": b64(rows(f"ffn_up-{L}")[TOKENS["swiglu"]]), "out": b64(rows(f"ffn_swiglu-{L}")[TOKENS["swiglu"]])},
    }
    out["q4_1"] = [c for t in TOKENS["q4_1"] for c in
                   products(weights, rows, f"blk.{L}.attn_q.weight", f"attn_norm-{L}", f"Qcur-{L}", lambda _: Q_ROWS, tokens=[t])
                   + products(weights, rows, f"blk.{L}.ffn_down.weight", f"ffn_swiglu-{L}", f"ffn_out-{L}", lambda _: DOWN_ROWS,
                              tokens=[t])]
    logits = seen["result_output"][0].reshape(n, -1)
    out["output"] = products(weights, rows, "token_embd.weight", "result_norm", "result_output",
                             lambda t: (0, int(np.argmax(logits[t])), logits.shape[1] - 1))
    # F16 products: the same layer of the F16 re-quantisation.
    out["f16"] = products(f16_weights, lambda name: f16_seen[name][0].reshape(n, -1), f"blk.{L}.attn_q.weight",
                          f"attn_norm-{L}", f"Qcur-{L}", lambda _: Q_ROWS, model=os.path.basename(args.f16_model))
    t, h = TOKENS["attention"], HEAD
    kv = h // (heads // kv_heads)
    q = rows(f"Qcur-{L}", 2).reshape(n, heads, hd)
    k = rows(f"Kcur-{L}", 2).reshape(n, kv_heads, hd)
    v = rows(f"Vcur-{L}", 1).reshape(n, kv_heads, hd)
    out["attention"] = {"token": t, "head": h, "kv_head": kv, "positions": t + 1, "head_dim": hd,
                        "scale": float(np.float32(1) / np.sqrt(np.float32(hd))),
                        "q": b64(q[t, h]), "keys": b64(k[:t + 1, kv]), "values": b64(v[:t + 1, kv]),
                        "out": b64(rows(f"kqv_out-{L}")[t, h * hd:(h + 1) * hd])}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(args.out, ref.REPO)}")


if __name__ == "__main__":
    main()
