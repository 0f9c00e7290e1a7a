#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer under AddressSanitizer.
#
# Usage: scripts/fuzz_gguf.sh [RUNS] [libFuzzer flags...]
#   RUNS   executions to run (default 1000000); extra arguments go to libFuzzer as they are
#          (e.g. -jobs=2, -max_total_time=600, -seed=1).
#
# What it fuzzes: Fuzz/Sources/FuzzGGUF/main.swift parses each input with GGUFFile(mapped:) over an
# in-memory copy (MappedFile(copying:name:), exactly sized, so ASan sees any read past the end), then
# reads every metadata value and tensor record, touches every tensor's first and last byte, calls
# entries(), builds the tokenizer (Tokenizer(gguf:)) and encodes/decodes with it, and reads the model
# config (GGUFModel.config). Errors are expected; a crash, sanitizer report, leak, hang (> 10 s) or
# allocation over 2 GB is a finding. Mutations are mostly GGUF-aware (Fuzz/Sources/FuzzGGUF/Mutator.swift:
# fields set to boundary values, type codes out of range, keys added, removed or duplicated, arrays
# nested, tokens and merges replaced, tensor dimensions/types/offsets changed, truncations), the rest
# libFuzzer's byte-level ones.
#
# How: Fuzz/ is a separate package that depends on this one by path, so the fuzzer's flags never
# touch normal builds. It is built with
#     swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
# (lld: gold crashes formatting this link's diagnostics). Seeds: Fuzz/seeds/ (written by
# Fuzz/make_seeds.py from Tests/Fixtures/gguf/, plus small tokenizers and malformed files) and the
# regression inputs in Tests/Fixtures/gguf-crashers/; dictionary Fuzz/gguf.dict. The working corpus
# grows in Fuzz/.build/fuzz-gguf/corpus (kept between runs, not committed); crashing inputs are
# written to Fuzz/.build/fuzz-gguf/artifacts/. The exit status is libFuzzer's (0: nothing found).
#
# A finding: reproduce with `Fuzz/.build/release/FuzzGGUF <file>` (FUZZ_GGUF_VERBOSE=1 prints how far
# each input gets), fix the library so the input fails with a clear error, copy the input to
# Tests/Fixtures/gguf-crashers/ (listed in its README) and add its expected error to
# GGUFCrasherTests.expected (Tests/MoEModelsTests/GGUFCrasherTests.swift).
#
# The machine may be shared: everything runs under `nice -n 10`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
runs=${1:-1000000}
shift || true

nice -n 10 swift build --package-path Fuzz -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | grep -v "Cannot export local symbol" || true
bin=Fuzz/.build/release/FuzzGGUF
[ -x "$bin" ] || { echo "fuzz_gguf.sh: $bin was not built" >&2; exit 1; }

work=Fuzz/.build/fuzz-gguf
mkdir -p "$work/corpus" "$work/artifacts"
# Swift's crash backtracer would wait on a crashing input; libFuzzer and ASan report on their own.
export SWIFT_BACKTRACE=enable=no
dirs=("$work/corpus" Fuzz/seeds)
[ -d Tests/Fixtures/gguf-crashers ] && dirs+=(Tests/Fixtures/gguf-crashers)
start=$(date +%s)
status=0
nice -n 10 "$bin" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=16384 \
    -dict=Fuzz/gguf.dict -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
    "${dirs[@]}" || status=$?
echo "fuzz_gguf.sh: $runs runs requested, libFuzzer exit status $status, $(( $(date +%s) - start )) s wall"
exit $status
