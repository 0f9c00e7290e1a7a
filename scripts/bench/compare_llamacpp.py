#!/usr/bin/env python3
"""The work of scripts/bench/compare_llamacpp.sh (run that: it builds llama.cpp and checks the
moekit binary first). Arguments: extra GGUF files to benchmark. Environment: MOEKIT, THREADS, REPS,
PROMPT, GEN, DEPTH, ROUNDS, RETRIES, QUIET_WAIT, NO_WRITE, PARITY_ONLY (see the .sh)."""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(REPO, ".cache", "llama.cpp")
BIN = os.path.join(CACHE, "build", "bin")
MODELS = os.path.join(REPO, ".cache", "models")
ORIGINAL = os.path.join(MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf")
REFERENCE = os.path.join(REPO, "Tests", "Fixtures", "smollm2", "llamacpp_reference.json")
PARITY_TEXT = os.path.join(REPO, "Tests", "Fixtures", "smollm2", "parity_text.txt")
BENCHMARKS = os.path.join(REPO, "BENCHMARKS.md")
RESULTS = os.path.join(CACHE, "results")
BEGIN, END = "<!-- llamacpp:begin -->", "<!-- llamacpp:end -->"
REQUANT = ["Q4_0", "Q8_0", "F16"]

MOEKIT = os.environ["MOEKIT"]
THREADS = [int(t) for t in os.environ.get("THREADS", "1 2").split()]
REPS = int(os.environ.get("REPS", "5"))
PROMPT = int(os.environ.get("PROMPT", "128"))
GEN = int(os.environ.get("GEN", "64"))
RETRIES = int(os.environ.get("RETRIES", "3"))
ROUNDS = max(1, int(os.environ.get("ROUNDS", "3")))
PARITY_ONLY = bool(os.environ.get("PARITY_ONLY"))
# Long-context pairs: the SmolLM2 files again with DEPTH tokens already in the context (llama-bench's
# -d), at the largest thread count. DEPTH=0 skips them.
DEPTH = int(os.environ.get("DEPTH", "2000"))
NOISY = 0.25   # cores used by other processes above which a measurement is retried


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


def cpu_seconds():
    """Machine-wide busy CPU seconds (/proc/stat, steal included) and our children's CPU seconds."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    busy = (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")   # all but idle and iowait
    t = os.times()
    return busy, t.children_user + t.children_system


def wait_for_quiet():
    """Waits (up to QUIET_WAIT seconds, default 120) until other processes use under a quarter of a
    core over 2 s, so a benchmark pair does not start in the middle of someone's build."""
    deadline = time.monotonic() + float(os.environ.get("QUIET_WAIT", "120"))
    while True:
        b0, w0 = cpu_seconds()[0], time.monotonic()
        time.sleep(2)
        busy = (cpu_seconds()[0] - b0) / (time.monotonic() - w0)
        if busy < NOISY or time.monotonic() > deadline:
            return busy


def measured(fn, *args):
    """fn(*args), plus the CPU (in cores) that everything else on the machine used meanwhile."""
    b0, c0, w0 = *cpu_seconds(), time.monotonic()
    res = fn(*args)
    b1, c1, w1 = *cpu_seconds(), time.monotonic()
    res["others_cores"] = max(0.0, ((b1 - b0) - (c1 - c0)) / (w1 - w0))
    return res


def requantized(kind):
    dst = os.path.join(MODELS, f"SmolLM2-135M-Instruct.requant-{kind}.gguf")
    if not os.path.exists(dst):
        log(f"llama-quantize {os.path.basename(ORIGINAL)} -> {kind}")
        run(["nice", "-n", "10", os.path.join(BIN, "llama-quantize"), "--allow-requantize",
             ORIGINAL, dst + ".part", kind])
        os.replace(dst + ".part", dst)
    return dst


def llama_bench(path, threads, depth=0):
    out = run([os.path.join(BIN, "llama-bench"), "-m", path, "-p", str(PROMPT), "-n", str(GEN),
               "-t", str(threads), "-r", str(REPS), "-d", str(depth), "-o", "json"])
    rows = json.loads(out)
    pp = next(r for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r for r in rows if r["n_gen"] > 0 and r["n_prompt"] == 0)
    return {"pp": statistics.median(pp["samples_ts"]), "tg": statistics.median(tg["samples_ts"]),
            "pp_samples": pp["samples_ts"], "tg_samples": tg["samples_ts"], "raw": rows}


def moekit_bench(path, threads, depth=0):
    out = run([MOEKIT, "bench", path, "-p", str(PROMPT), "-n", str(GEN), "-t", str(threads),
               "-r", str(REPS), "-d", str(depth), "--json"])
    j = json.loads(out)
    return {"pp": j["pp_tokens_per_s"], "tg": j["tg_tokens_per_s"], "bytes": j["weight_bytes_per_token"],
            "bandwidth": j["bandwidth_bytes_per_s"], "raw": j}


CLEAR = 0.5   # llama.cpp's top-1 leads its top-2 by at least this many logits: a "clear" position


def parity(ref, threads, numerics="moekit", path=ORIGINAL):
    """MoEKit's logits for llama.cpp's token ids (the first P, all positions in one forward pass,
    `moekit logits --json --numerics N`) against the reference's top-1 and top-5; None when this
    machine cannot run those numerics (llamacpp needs AVX-512)."""
    P = ref["positions"]
    ids = ",".join(map(str, ref["tokens"][:P]))
    r = subprocess.run([MOEKIT, "logits", path, "--tokens", ids, "-t", str(threads), "--json", "--numerics", numerics],
                       capture_output=True)
    if r.returncode != 0 and numerics != "moekit" and b"AVX-512" in r.stderr:
        return None
    if r.returncode != 0:
        sys.exit(f"moekit logits --numerics {numerics} failed: {r.stderr.decode(errors='replace').strip()}")
    out = r.stdout
    body = out[out.index(b"[["):].translate(None, b"[]}\n ")
    V = ref["model"]["n_vocab"]
    logits = np.fromstring(body.decode(), dtype=np.float32, sep=",").reshape(P, V)
    same = clear = clear_same = in_top5 = 0
    misses, diffs = [], []
    for p in range(P):
        row, theirs = logits[p], ref["top5"][p]
        mine = int(np.argmax(row))
        gap = theirs[0][1] - theirs[1][1]
        order = np.argsort(-row)[:2]
        if mine == ref["top1"][p]:
            same += 1
        else:
            misses.append({"position": p, "llama_cpp": theirs[0][0], "moekit": mine, "llama_cpp_gap": gap,
                           "moekit_gap": float(row[order[0]] - row[order[1]])})
        if gap >= CLEAR:
            clear += 1
            clear_same += mine == ref["top1"][p]
        in_top5 += mine in [i for i, _ in theirs]
        diffs += [abs(float(row[i]) - float(np.float32(v))) for i, v in theirs]   # the reference holds float32s as shortest decimals
    return {"positions": P, "same_top1": same, "clear_positions": clear, "clear_same_top1": clear_same,
            "moekit_top1_in_llama_top5": in_top5, "median_abs_logit_diff": float(np.median(diffs)),
            "max_abs_logit_diff": float(np.max(diffs)), "mismatches": misses}


def tokenization(ref):
    out = run([MOEKIT, "tokenize", ORIGINAL, "--file", PARITY_TEXT, "--json"])
    ours, theirs = json.loads(out)["tokens"], ref["tokens"]
    if ours == theirs:
        return {"equal": True, "count": len(ours)}
    first = next((i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]), min(len(ours), len(theirs)))
    return {"equal": False, "moekit_count": len(ours), "llama_cpp_count": len(theirs), "first_difference": first,
            "moekit_around": ours[max(0, first - 3):first + 5], "llama_cpp_around": theirs[max(0, first - 3):first + 5]}


def git_rev(path):
    d = os.path.dirname(os.path.abspath(path))
    r = subprocess.run(["git", "-C", d, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", d, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (r.stdout.strip() + ("+changes" if dirty else "")) if r.returncode == 0 else "unknown"


def decode_context():
    """Where each tool's tg test starts: llama-bench's from an empty context; moekit bench's says so
    in its help when it does the same (older builds decoded after the prompt)."""
    h = subprocess.run([MOEKIT, "bench", "--help"], capture_output=True, text=True).stdout
    if "empty context" in h:
        return "both from an empty context"
    return f"llama-bench from an empty context, moekit bench after the {PROMPT}-token prompt"


def fmt(x, d=1):
    return f"{x:.{d}f}"


def main():
    os.makedirs(RESULTS, exist_ok=True)
    files = [ORIGINAL] + [requantized(k) for k in REQUANT] + [os.path.abspath(f) for f in sys.argv[1:]]
    if not os.path.exists(REFERENCE):
        log("writing the llama.cpp reference (scripts/oracle/llamacpp_reference.py)")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "oracle", "llamacpp_reference.py")], check=True)
    ref = json.load(open(REFERENCE))

    rows, raw = [], []
    turn = 0
    pairs = [(path, t, 0) for path in files for t in THREADS]
    if DEPTH > 0:
        pairs += [(path, max(THREADS), DEPTH) for path in files if os.path.basename(path).startswith("SmolLM2")]
    def measure_pair(path, t, depth, order):
        """One llama-bench and one moekit bench back to back in `order`, measured again (up to
        RETRIES times) while other processes used NOISY cores or more; the quietest attempt."""
        best = None
        for attempt in range(1 + RETRIES):
            res = {}
            busy = wait_for_quiet()
            if busy >= NOISY:
                log(f"machine still busy ({busy:.2f} cores) after QUIET_WAIT; measuring anyway")
            for engine in order:
                log(f"{engine:9} {os.path.basename(path)} -t {t} -d {depth}")
                res[engine] = measured(llama_bench if engine == "llama.cpp" else moekit_bench, path, t, depth)
            noisy = max(r["others_cores"] for r in res.values())
            if best is None or noisy < best[0]:
                best = (noisy, res)
            if noisy < NOISY:
                break
            log(f"other processes used {noisy:.2f} cores meanwhile: " +
                ("measuring this pair again" if attempt < RETRIES else "keeping the quietest attempt"))
        return best[1]

    for path, t, depth in ([] if PARITY_ONLY else pairs):
        # ROUNDS pairs, alternating which engine goes first, so neither always runs on a warmer or
        # quieter machine; each engine's figures are the medians over the rounds.
        rounds = []
        for rnd in range(ROUNDS):
            order = ["llama.cpp", "moekit"] if turn % 2 == 0 else ["moekit", "llama.cpp"]
            turn += 1
            rounds.append(measure_pair(path, t, depth, order))
        res = {}
        for e in ("llama.cpp", "moekit"):
            res[e] = dict(rounds[0][e])
            for key in ("pp", "tg"):
                res[e][key] = statistics.median(r[e][key] for r in rounds)
            res[e]["others_cores"] = max(r[e]["others_cores"] for r in rounds)
            if e == "moekit":
                res[e]["bandwidth"] = statistics.median(r[e]["bandwidth"] for r in rounds)
        tg_ratios = [r["moekit"]["tg"] / r["llama.cpp"]["tg"] for r in rounds]
        # Roofline shares per round, against the bandwidth `moekit bench` measured in that round: this
        # VM's two-thread read bandwidth has been seen to switch between ~35 and ~63 GB/s within a run.
        for e in ("llama.cpp", "moekit"):
            res[e]["roofline"] = statistics.median(r[e]["tg"] * res["moekit"]["bytes"] / r["moekit"]["bandwidth"] for r in rounds)
        rows.append({"file": os.path.basename(path), "threads": t, "depth": depth, "llama": res["llama.cpp"], "moekit": res["moekit"],
                     "tg_ratio_range": (min(tg_ratios), max(tg_ratios)),
                     "bandwidth_range": (min(r["moekit"]["bandwidth"] for r in rounds), max(r["moekit"]["bandwidth"] for r in rounds))})
        raw.append({"file": path, "threads": t, "depth": depth,
                    "rounds": [{"llama.cpp": r["llama.cpp"]["raw"], "moekit": r["moekit"]["raw"],
                                "others_cores": {e: r[e]["others_cores"] for e in r}} for r in rounds]})

    log("parity: moekit logits over llama.cpp's tokens")
    par = parity(ref, max(THREADS))
    exact = parity(ref, max(THREADS), "llamacpp")
    # The re-quantisations whose arithmetic `--numerics llamacpp` covers too, against llama.cpp's
    # logits for them, made now by the oracle script (same text, same settings).
    requant_par = {}
    for kind in ("Q8_0", "F16"):
        path = requantized(kind)
        ref_path = os.path.join(RESULTS, f"llamacpp_reference.requant-{kind}.json")
        run(["python3", os.path.join(REPO, "scripts/oracle/llamacpp_reference.py"), "--model", path, "--out", ref_path,
             "--no-self-check"])
        kref = json.load(open(ref_path))
        requant_par[kind] = {n: parity(kref, max(THREADS), n, path) for n in ("moekit", "llamacpp")}
    tok = tokenization(ref)
    if PARITY_ONLY:
        print(json.dumps({k: v for k, v in par.items() if k != "mismatches"}), json.dumps(tok))
        if exact:
            print("--numerics llamacpp:", json.dumps({k: v for k, v in exact.items() if k != "mismatches"}))
        for kind, both in requant_par.items():
            for k, v in both.items():
                if v:
                    print(f"{kind} re-quantisation, --numerics {k}:", json.dumps({a: b for a, b in v.items() if a != "mismatches"}))
        return
    bandwidth = {t: statistics.median(r["moekit"]["bandwidth"] for r in rows if r["threads"] == t and r["depth"] == 0) for t in THREADS}

    stamp = dict(line.strip().split("=", 1) for line in open(os.path.join(CACHE, "build", "moekit-stamp")) if "=" in line)
    cpu = raw[0]["rounds"][0]["llama.cpp"][0].get("cpu_info", "?")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = []
    md.append(f"Made by `scripts/bench/compare_llamacpp.sh` on {now}: llama.cpp {stamp.get('commit', '?')[:10]} "
              f"(vendored by PyPI's llama-cpp-python {stamp.get('version', '?')}; Release, GGML_NATIVE, CPU backend; "
              f"{cpu}) against moekit {git_rev(MOEKIT)}. One run; for every file and thread count llama-bench and "
              f"`moekit bench` ran back to back {ROUNDS} times, alternating which went first; each engine's figure is "
              f"the median over those rounds of its median of {REPS} repetitions, and \"tg ratios\" gives the "
              f"lowest and highest decode ratio of a single round: pp = {PROMPT} random prompt tokens in one batch, tg = {GEN} tokens decoded one "
              f"by one ({decode_context()}). "
              f"Ratio = moekit ÷ llama.cpp (above 1: moekit faster).")
    feats = [f.split("=")[0].strip() for f in ref["llama_cpp"]["system_info"].split("|") if f.strip().endswith("= 1")]
    md.append("")
    md.append("llama.cpp's CPU backend as built here (`-march=native`; its llama_print_system_info): " +
              ", ".join(f.replace("CPU : ", "") for f in feats) + ". MoEKit's kernels are compiled for Haswell "
              "(AVX2, FMA, F16C; see Package.swift).")
    md.append("")
    md.append("Roofline share = weight bytes read per decoded token (counted by `moekit bench`; the same tensors "
              "for both engines) × tg tokens/s ÷ this machine's read bandwidth at that thread count, as `moekit bench` "
              "measured it in the same round (a plain streaming read; the median over the rounds of each round's share; "
              "\"read GB/s\" gives the range of the rounds' bandwidths, median over all rows: " +
              ", ".join(f"{t} thread{'s' if t > 1 else ''} {fmt(bandwidth[t] / 1e9)} GB/s" for t in THREADS) + "). "
              f"Others' CPU = cores' worth of CPU that other processes on this {os.cpu_count()}-core machine used "
              "while llama-bench / moekit bench ran (from /proc/stat, less the benchmark's own CPU time): "
              f"a pair measured while they used {NOISY} cores or more was measured again, up to {RETRIES} times, "
              "and the quietest attempt kept; a row still above that is not a fair figure.")
    md.append("")
    md.append("| file | threads | llama.cpp pp t/s | moekit pp t/s | ratio | llama.cpp tg t/s | moekit tg t/s | ratio | tg ratios "
              "| weights/token | read GB/s | llama.cpp roofline | moekit roofline | others' CPU |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in (r for r in rows if r["depth"] == 0):
        L, M, t = r["llama"], r["moekit"], r["threads"]
        lo, hi = r["bandwidth_range"]
        md.append(f"| {r['file']} | {t} | {fmt(L['pp'])} | {fmt(M['pp'])} | {fmt(M['pp'] / L['pp'], 2)} "
                  f"| {fmt(L['tg'])} | {fmt(M['tg'])} | {fmt(M['tg'] / L['tg'], 2)} "
                  f"| {fmt(r['tg_ratio_range'][0], 2)}–{fmt(r['tg_ratio_range'][1], 2)} | {fmt(M['bytes'] / 1e6)} MB "
                  f"| {fmt(lo / 1e9)}–{fmt(hi / 1e9)} | {fmt(100 * L['roofline'])}% | {fmt(100 * M['roofline'])}% "
                  f"| {fmt(L['others_cores'], 2)} / {fmt(M['others_cores'], 2)} |")
    deep = [r for r in rows if r["depth"] > 0]
    if deep:
        md.append("")
        md.append(f"**At depth {DEPTH}** (both engines' tests run with {DEPTH} random tokens already in the context, "
                  f"untimed: llama-bench `-d {DEPTH}`, `moekit bench -d {DEPTH}`; pp = {PROMPT} more tokens in one batch, "
                  f"tg = {GEN} decoded one by one; every attention reads the {DEPTH} cached positions too):")
        md.append("")
        md.append("| file | threads | llama.cpp pp t/s | moekit pp t/s | ratio | llama.cpp tg t/s | moekit tg t/s | ratio | tg ratios | others' CPU |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in deep:
            L, M = r["llama"], r["moekit"]
            md.append(f"| {r['file']} | {r['threads']} | {fmt(L['pp'])} | {fmt(M['pp'])} | {fmt(M['pp'] / L['pp'], 2)} "
                      f"| {fmt(L['tg'])} | {fmt(M['tg'])} | {fmt(M['tg'] / L['tg'], 2)} "
                      f"| {fmt(r['tg_ratio_range'][0], 2)}–{fmt(r['tg_ratio_range'][1], 2)} "
                      f"| {fmt(L['others_cores'], 2)} / {fmt(M['others_cores'], 2)} |")
    md.append("")
    s = ref["settings"]
    sc = ref.get("self_check")
    md.append(f"**Parity** ({os.path.basename(ORIGINAL)}, the first {par['positions']} of the {ref['n_tokens']} "
              f"tokens of `parity_text.txt` as llama.cpp tokenized them; llama.cpp's top-1 and top-5 logits from "
              f"`Tests/Fixtures/smollm2/llamacpp_reference.json` ({s['threads']} thread, one batch, "
              f"{s['kv_type'].upper()} KV cache); MoEKit's from one `moekit logits` pass over the same ids, "
              f"{max(THREADS)} threads): MoEKit's top-1 equals llama.cpp's at **{par['same_top1']} of "
              f"{par['positions']}** positions ({fmt(100 * par['same_top1'] / par['positions'])}%), and at "
              f"{par['clear_same_top1']} of the {par['clear_positions']} where llama.cpp's top-1 leads its top-2 by "
              f"{CLEAR} logit or more; MoEKit's top-1 is in llama.cpp's top 5 at {par['moekit_top1_in_llama_top5']}. "
              f"|Δlogit| over llama.cpp's top-5 tokens: median {fmt(par['median_abs_logit_diff'], 3)}, "
              f"max {fmt(par['max_abs_logit_diff'], 3)}.")
    if sc:
        md.append("")
        md.append(f"For scale, llama.cpp against itself (the same tokens decoded one `llama_decode` per token "
                  f"instead of in one batch; the reference's `self_check`): top-1 agreement "
                  f"{fmt(100 * sc['top1_agreement'])}%, |Δlogit| median {fmt(sc['median_abs_logit_diff'], 3)}, "
                  f"max {fmt(sc['max_abs_logit_diff'], 3)}.")
    if par["mismatches"]:
        md.append("")
        md.append("Positions where the top-1 differs (each engine's top-1 minus top-2 logit in brackets):")
        md.append("")
        md.append("; ".join(f"{m['position']}: llama.cpp {m['llama_cpp']} ({fmt(m['llama_cpp_gap'], 3)}), "
                            f"moekit {m['moekit']} ({fmt(m['moekit_gap'], 3)})" for m in par["mismatches"]) + ".")
    md.append("")
    if exact:
        md.append(f"With `--numerics llamacpp` (MoEKit reproducing llama.cpp's CPU arithmetic operation for operation; "
                  f"same ids, same threads): MoEKit's top-1 equals llama.cpp's at **{exact['same_top1']} of "
                  f"{exact['positions']}** positions ({fmt(100 * exact['same_top1'] / exact['positions'])}%); |Δlogit| over "
                  f"llama.cpp's top-5 tokens: median {exact['median_abs_logit_diff']:.2g}, max {exact['max_abs_logit_diff']:.2g} "
                  f"(0: the same float32s).")
    else:
        md.append("With `--numerics llamacpp`: not measured, this CPU lacks AVX-512 (llama.cpp's AVX-512 arithmetic).")
    for kind, both in requant_par.items():
        m, e = both["moekit"], both["llamacpp"]
        md.append("")
        md.append(f"The {kind} re-quantisation, against llama.cpp's logits for it (the same oracle script, run now on the "
                  f"same {m['positions']} token ids): MoEKit's top-1 equals llama.cpp's at {m['same_top1']} of {m['positions']} "
                  f"(|Δlogit| median {fmt(m['median_abs_logit_diff'], 3)}, max {fmt(m['max_abs_logit_diff'], 3)})"
                  + (f"; with `--numerics llamacpp` at {e['same_top1']} of {e['positions']} (|Δlogit| max "
                     f"{e['max_abs_logit_diff']:.2g})." if e else "."))
    md.append("")
    if tok["equal"]:
        md.append(f"Tokenization: `moekit tokenize` gives the same {tok['count']} ids as llama.cpp for "
                  f"`parity_text.txt` (add_bos={str(ref['add_bos']).lower()}).")
    else:
        md.append(f"Tokenization: `moekit tokenize` differs from llama.cpp for `parity_text.txt`: "
                  f"{tok['moekit_count']} vs {tok['llama_cpp_count']} ids, first difference at index "
                  f"{tok['first_difference']} (moekit {tok['moekit_around']}, llama.cpp {tok['llama_cpp_around']}).")
    text = "\n".join(md)

    stamp_name = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(RESULTS, f"compare-{stamp_name}.json"), "w") as f:
        json.dump({"rows": raw, "bandwidth": bandwidth, "parity": par, "parity_llamacpp_numerics": exact,
                   "parity_requant": requant_par, "tokenization": tok}, f, indent=1)
    print(text)
    if os.environ.get("NO_WRITE"):
        return
    doc = open(BENCHMARKS).read()
    if BEGIN not in doc or END not in doc:
        doc = doc.rstrip("\n") + "\n\n## Side by side with llama.cpp\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(BENCHMARKS, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    log(f"wrote {BENCHMARKS}")


if __name__ == "__main__":
    main()
