#!/usr/bin/env bash
# Builds llama.cpp, MoEKit's speed and output peer, for the side-by-side benchmark and the parity
# oracle. The source is the llama.cpp that PyPI's `llama-cpp-python` sdist vendors (pinned below);
# nothing of it is committed: the sdist, its unpacked tree and the build all live under
# .cache/llama.cpp/ (gitignored). Idempotent: a finished build of the pinned version is reused.
#
#   scripts/bench/build_llamacpp.sh        # env: JOBS (default 2), NICE (default 10)
#
# Produces, under .cache/llama.cpp/:
#   build/bin/llama-bench, llama-quantize, llama-tokenize   the tools
#   build/bin/libllama.so (+ libggml*.so)                    for the Python ctypes bindings
#   llama_cpp_python-$VERSION/llama_cpp/                     those bindings (pure Python): use them with
#       PYTHONPATH=.cache/llama.cpp/llama_cpp_python-$VERSION LLAMA_CPP_LIB_PATH=.cache/llama.cpp/build/bin
#   build/moekit-stamp                                       version, llama.cpp commit, build seconds
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
JOBS=${JOBS:-2}
NICE=${NICE:-10}

root=$PWD/.cache/llama.cpp
src=$root/llama_cpp_python-$VERSION
build=$root/build
bin=$build/bin
stamp=$build/moekit-stamp
tools=(llama-bench llama-quantize llama-tokenize)

report() {
    echo "llama.cpp from llama-cpp-python $VERSION ($(grep '^commit=' "$stamp" | cut -d= -f2))"
    echo "  binaries:  $bin/{$(IFS=,; echo "${tools[*]}")}"
    echo "  libllama:  $bin/libllama.so"
    echo "  bindings:  PYTHONPATH=$src LLAMA_CPP_LIB_PATH=$bin"
}

built() {
    [ -f "$stamp" ] && grep -qx "version=$VERSION" "$stamp" && [ -f "$bin/libllama.so" ] || return 1
    for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}

if built; then report; exit 0; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v cmake >/dev/null; then
    as_root apt-get install -y cmake || { as_root apt-get update && as_root apt-get install -y cmake; }
fi
for c in cc c++ make git; do
    command -v $c >/dev/null || { echo "build_llamacpp: '$c' is needed" >&2; exit 1; }
done

mkdir -p "$root"
tarball=$root/llama_cpp_python-$VERSION.tar.gz
sha_ok() { [ -f "$tarball" ] && [ "$(sha256sum "$tarball" | cut -d' ' -f1)" = "$SHA256" ]; }
if ! sha_ok; then
    # The sdist's address comes from PyPI's JSON API (fast); `pip download` of an sdist would first
    # install scikit-build-core and prepare metadata, which is slow, so it is only the fallback.
    python3 - "$VERSION" "$tarball" <<'PY' || true
import json, sys, urllib.parse, urllib.request
version, out = sys.argv[1], sys.argv[2]
api = "https://pypi.org/pypi/llama-cpp-python/json"
meta = json.load(urllib.request.urlopen(api, timeout=120))
files = [f for f in meta["releases"].get(version, []) if f["packagetype"] == "sdist"]
if not files:
    sys.exit(f"no sdist of llama-cpp-python {version} in {api}")
url = urllib.parse.urljoin(api, files[0]["url"])
print("downloading", url, flush=True)
with urllib.request.urlopen(url, timeout=600) as r, open(out + ".part", "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
import os; os.replace(out + ".part", out)
PY
    if ! sha_ok; then
        tmp=$(mktemp -d)
        python3 -m pip download --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION"
        mv "$tmp/llama_cpp_python-$VERSION.tar.gz" "$tarball"
        rm -rf "$tmp"
    fi
    sha_ok || { echo "build_llamacpp: $tarball does not have sha256 $SHA256" >&2; exit 1; }
fi

if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
    rm -rf "$src"
    tar -xzf "$tarball" -C "$root"
fi
# The sdist ships its git metadata, so llama.cpp's build-info (and llama-bench's JSON) name the
# vendored commit.
commit=$(git -C "$src/vendor/llama.cpp" rev-parse HEAD 2>/dev/null || echo unknown)

if [ -f "$build/CMakeCache.txt" ] && ! grep -q "$src/vendor/llama.cpp" "$build/CMakeCache.txt"; then
    rm -rf "$build"   # configured from another version's tree
fi
start=$(date +%s)
# GGML_NATIVE: -march=native (AVX2/FMA/F16C here). Shared libraries for the Python bindings.
# No OpenSSL/CURL (no downloads), no server, web UI, tests or examples.
nice -n "$NICE" cmake -S "$src/vendor/llama.cpp" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >"$root/configure.log" 2>&1
nice -n "$NICE" cmake --build "$build" -j"$JOBS" --target llama "${tools[@]}" >"$root/build.log" 2>&1 || {
    tail -30 "$root/build.log" >&2
    echo "build_llamacpp: build failed, see $root/build.log" >&2
    exit 1
}
seconds=$(( $(date +%s) - start ))
printf 'version=%s\ncommit=%s\nbuild_seconds=%s\njobs=%s\n' "$VERSION" "$commit" "$seconds" "$JOBS" >"$stamp"
echo "built in ${seconds}s with -j$JOBS"
report
