#!/usr/bin/env bash
# MoEKit side by side with llama.cpp on this machine: speed (llama-bench vs `moekit bench`, run
# alternately so machine noise hits both) and output parity (MoEKit's top-1 next-token prediction
# vs llama.cpp's over the 512 positions of Tests/Fixtures/smollm2/llamacpp_reference.json, with
# MoEKit's own kernels and with --numerics llamacpp; and the same for the Q8_0 and F16
# re-quantisations, against llama.cpp's logits for them made by scripts/oracle/llamacpp_reference.py).
# Writes the result into BENCHMARKS.md between <!-- llamacpp:begin --> and <!-- llamacpp:end -->.
#
#   scripts/bench/compare_llamacpp.sh [EXTRA.gguf ...]
#
# Files benchmarked: .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf (the original, fetched by
# scripts/fetch_models.sh), its re-quantisations to Q4_0, Q8_0 and F16 made here with
# llama-quantize --allow-requantize (.cache/models/SmolLM2-135M-Instruct.requant-TYPE.gguf), and
# any GGUF given as an argument.
# Environment:
#   MOEKIT=path      moekit binary (default .build/release/moekit; build it with swift build -c release)
#   THREADS="1 2"    thread counts;  REPS=5, PROMPT=128, GEN=64: llama-bench's -r, -p, -n
#   DEPTH=2000       the SmolLM2 files again, at the largest thread count, with this many tokens
#                    already in the context (llama-bench -d, moekit bench -d); 0 skips them
#   NO_WRITE=1       print the Markdown only, leave BENCHMARKS.md alone
#   PARITY_ONLY=1    skip the speed runs; print the parity and tokenization figures as JSON only
#   QUIET_WAIT=120   seconds to wait, before each file and thread count, for other processes to use
#                    under a quarter of a core (the table shows what they used during each run)
#   ROUNDS=3         times each file and thread count is measured (pairs alternating which engine
#                    goes first); the table shows the medians over the rounds and the range of ratios
#   RETRIES=3        times a pair is measured again when other processes used a quarter of a core
#                    or more meanwhile
# llama.cpp is built first by scripts/bench/build_llamacpp.sh if missing. Raw outputs go to
# .cache/llama.cpp/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOEKIT=${MOEKIT:-$PWD/.build/release/moekit}
if [ ! -x "$MOEKIT" ]; then
    echo "compare_llamacpp: no moekit binary at $MOEKIT (swift build -c release, or set MOEKIT=...)" >&2
    exit 1
fi
scripts/fetch_models.sh
scripts/bench/build_llamacpp.sh
exec python3 scripts/bench/compare_llamacpp.py "$@"
