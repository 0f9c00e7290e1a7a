#!/usr/bin/env python3
"""llama.cpp's next-token predictions for the real SmolLM2-135M-Instruct Q4_1 GGUF, for MoEKit's
parity test.

How it runs: llama.cpp is the one scripts/bench/build_llamacpp.sh builds from PyPI's
`llama-cpp-python` sdist into .cache/llama.cpp/ (run that first). This script uses that sdist's
pure-Python ctypes bindings (`llama_cpp/llama_cpp.py`, the low-level API only) against the built
libllama.so, which they load from $LLAMA_CPP_LIB_PATH; so llama.cpp is compiled once and no wheel
is installed. Needs numpy.

What it does: loads the GGUF on the CPU (no GPU layers, one thread by default), tokenizes
Tests/Fixtures/smollm2/parity_text.txt the way llama.cpp does for a prompt (llama_tokenize with
add_special=true, parse_special=false: BOS only if the GGUF asks for it), evaluates every token in a
single batch with logits requested for every position, and writes
Tests/Fixtures/smollm2/llamacpp_reference.json (compact JSON):

  llama_cpp       llama-cpp-python version, vendored llama.cpp commit, ggml version, CPU features
  settings        the context settings used (threads, batch, KV cache type, flash attention)
  model           GGUF file name, its sha256 and vocabulary size
  text_file, text_sha256
  add_bos         whether llama.cpp prepended BOS (the GGUF's tokenizer.ggml.add_bos_token)
  tokens          all token ids exactly as llama.cpp tokenized the text (BOS included if added)
  positions       P = min(512, len(tokens)): how many positions are recorded below
  top1            [P] argmax of the logits at position p, i.e. the prediction for token p+1
  top5            [P][5] [token id, logit] pairs, highest logit first (ties: lower id first);
                  logits are the shortest decimals that read back as the same float32
  self_check      llama.cpp against itself: the same P tokens decoded one llama_decode call per
                  token instead of in one batch; top1_agreement (fraction), median_abs_logit_diff
                  and max_abs_logit_diff over the batch run's top-5 ids. A parity test can allow
                  another engine about this much difference.

The KV cache is kept in F32 and flash attention is off by default, so the only roundings on
llama.cpp's side are those of its kernels (it quantizes activations to 8 bits for the quantized
matrix products). Deterministic: the same build gives the same file.

The same for a file of mixed matrix types that `moekit quantize` writes from the Q4_1 file, for
`--numerics llamacpp`'s test (LlamaCppNumericsTests remakes the file and checks its sha256):
  moekit quantize .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/SmolLM2-135M-Instruct.mixed.gguf \
      --type F16 --tensor-type attn_q=Q4_1 --tensor-type attn_v=Q8_0 --tensor-type ffn_down=Q8_0
  python3 scripts/oracle/llamacpp_reference.py --model /tmp/SmolLM2-135M-Instruct.mixed.gguf --no-self-check \
      --made-by "moekit quantize ... (the line above)" --out Tests/Fixtures/smollm2/llamacpp_reference.mixed.json

Usage (from the repository root):
  scripts/bench/build_llamacpp.sh
  python3 scripts/oracle/llamacpp_reference.py [--model GGUF] [--text FILE] [--out JSON]
                                               [--threads 1] [--kv-type f32|f16] [--positions 512]
                                               [--no-self-check]
"""
import argparse
import ctypes
import glob
import hashlib
import json
import os
import subprocess
import sys
import types

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(REPO, ".cache", "llama.cpp")


def load_bindings(lib_dir):
    """Imports llama_cpp.llama_cpp (ctypes bindings) from the unpacked sdist without running the
    package's __init__, which would also import the high-level API and its extra dependencies."""
    sdists = sorted(glob.glob(os.path.join(CACHE, "llama_cpp_python-*", "llama_cpp")))
    if not sdists:
        sys.exit("no llama-cpp-python sdist under .cache/llama.cpp: run scripts/bench/build_llamacpp.sh")
    pkg_dir = sdists[-1]
    os.environ["LLAMA_CPP_LIB_PATH"] = lib_dir
    pkg = types.ModuleType("llama_cpp")
    pkg.__path__ = [pkg_dir]
    sys.modules["llama_cpp"] = pkg
    import llama_cpp.llama_cpp as ll  # noqa: E402  (loads $LLAMA_CPP_LIB_PATH/libllama.so)
    version = None
    with open(os.path.join(pkg_dir, "__init__.py")) as f:
        for line in f:
            if line.startswith("__version__"):
                version = line.split("=")[1].strip().strip("\"'")
    return ll, version


def load_model(ll, path):
    """The GGUF at `path`, on the CPU (no GPU layers)."""
    mparams = ll.llama_model_default_params()
    mparams.n_gpu_layers = 0
    model = ll.llama_model_load_from_file(path.encode(), mparams)
    if not model:
        sys.exit(f"llama.cpp could not load {path}")
    return model


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def f32(x):
    """Shortest decimal that reads back as the same float32, as a Python float."""
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO, ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=os.path.join(REPO, "Tests/Fixtures/smollm2/parity_text.txt"))
    ap.add_argument("--out", default=os.path.join(REPO, "Tests/Fixtures/smollm2/llamacpp_reference.json"))
    ap.add_argument("--lib", default=os.path.join(CACHE, "build", "bin"), help="directory of libllama.so")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kv-type", choices=["f32", "f16"], default="f32")
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--no-self-check", action="store_true", help="skip the token-by-token self check")
    ap.add_argument("--made-by", help="how the model file was made (recorded as model.made_by)")
    ap.add_argument("--verbose", action="store_true", help="let llama.cpp log to stderr")
    args = ap.parse_args()

    ll, bindings_version = load_bindings(args.lib)
    if not args.verbose:
        quiet = ll.llama_log_callback(lambda level, text, data: None)
        ll.llama_log_set(quiet, None)
    ll.llama_backend_init()
    ggml = ctypes.CDLL(os.path.join(args.lib, "libggml-base.so"))
    ggml.ggml_version.restype = ctypes.c_char_p
    ggml.ggml_commit.restype = ctypes.c_char_p
    # The vendored llama.cpp commit: the sdist ships its git metadata.
    vendor = os.path.join(os.path.dirname(ll.__file__), "..", "vendor", "llama.cpp")
    r = subprocess.run(["git", "-C", vendor, "rev-parse", "HEAD"], capture_output=True, text=True)
    commit = r.stdout.strip() if r.returncode == 0 else "unknown"

    model = load_model(ll, args.model)
    vocab = ll.llama_model_get_vocab(model)
    n_vocab = ll.llama_vocab_n_tokens(vocab)
    add_bos = bool(ll.llama_vocab_get_add_bos(vocab))

    text = open(args.text, "rb").read()
    cap = len(text) + 16
    buf = (ll.llama_token * cap)()
    n = ll.llama_tokenize(vocab, text, len(text), buf, cap, True, False)
    if n < 0:
        sys.exit(f"llama_tokenize needs {-n} tokens")
    tokens = list(buf[:n])
    P = min(args.positions, n)
    if P < args.positions:
        print(f"warning: the text has only {n} tokens, fewer than {args.positions} positions", file=sys.stderr)

    n_ctx = max(1024, (n + 255) // 256 * 256)
    cparams = ll.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = n_ctx
    cparams.n_ubatch = n_ctx
    cparams.n_seq_max = 1
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    cparams.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
    kv = {"f32": ll.GGML_TYPE_F32, "f16": ll.GGML_TYPE_F16}[args.kv_type]
    cparams.type_k = kv
    cparams.type_v = kv
    cparams.no_perf = True
    ctx = ll.llama_init_from_model(model, cparams)
    if not ctx:
        sys.exit("llama_init_from_model failed")

    batch = ll.llama_batch_init(n, 0, 1)
    for i, t in enumerate(tokens):
        batch.token[i] = t
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1
    batch.n_tokens = n
    rc = ll.llama_decode(ctx, batch)
    if rc != 0:
        sys.exit(f"llama_decode returned {rc}")

    top1, top5 = [], []
    for p in range(P):
        row = np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, p), shape=(n_vocab,)).copy()
        order = np.lexsort((np.arange(n_vocab), -row))[:5]   # highest logit, then lowest id
        top1.append(int(order[0]))
        top5.append([[int(i), f32(row[i])] for i in order])

    ll.llama_batch_free(batch)
    ll.llama_free(ctx)

    # How far llama.cpp is from itself: the same tokens decoded one llama_decode call per token (as
    # in generation) in a fresh context with the same settings, against the one-batch run above.
    # Batch and single-token matrix products take different kernels and summation orders, which a
    # 30-layer model amplifies; a parity test can allow another engine about this much.
    self_check = None
    if not args.no_self_check:
        ctx = ll.llama_init_from_model(model, cparams)
        one = ll.llama_batch_init(1, 0, 1)
        agree, diffs = 0, []
        for p in range(P):
            one.token[0], one.pos[0], one.n_seq_id[0], one.logits[0] = tokens[p], p, 1, 1
            one.seq_id[0][0] = 0
            one.n_tokens = 1
            rc = ll.llama_decode(ctx, one)
            if rc != 0:
                sys.exit(f"llama_decode (position {p}) returned {rc}")
            row = np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, 0), shape=(n_vocab,))
            agree += int(np.argmax(row)) == top1[p]
            diffs += [abs(float(row[i]) - v) for i, v in top5[p]]
        ll.llama_batch_free(one)
        ll.llama_free(ctx)
        self_check = {
            "method": "the same tokens, one llama_decode per token, fresh context, same settings, vs the one-batch run",
            "positions": P,
            "top1_agreement": round(agree / P, 4),
            "median_abs_logit_diff": round(float(np.median(diffs)), 4),
            "max_abs_logit_diff": round(float(np.max(diffs)), 4),
            "diff_over": "the one-batch run's top-5 ids at each position",
        }
    ll.llama_model_free(model)

    out = {
        "llama_cpp": {
            "llama_cpp_python": bindings_version,
            "commit": commit,
            "ggml_version": ggml.ggml_version().decode(),
            "system_info": ll.llama_print_system_info().decode().strip(),
        },
        "settings": {
            "threads": args.threads, "n_ctx": n_ctx, "n_batch": n_ctx, "single_batch": True,
            "kv_type": args.kv_type, "flash_attn": False, "n_gpu_layers": 0,
            "tokenize": {"add_special": True, "parse_special": False},
        },
        "model": {"file": os.path.basename(args.model), "sha256": sha256(args.model), "n_vocab": n_vocab,
                  **({"made_by": args.made_by} if args.made_by else {})},
        "text_file": os.path.relpath(os.path.abspath(args.text), REPO),
        "text_sha256": hashlib.sha256(text).hexdigest(),
        "add_bos": add_bos,
        "n_tokens": n,
        "tokens": tokens,
        "positions": P,
        "top1": top1,
        "top5": top5,
    }
    if self_check:
        out["self_check"] = self_check
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{args.out}: {n} tokens (add_bos={add_bos}), {P} positions, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
