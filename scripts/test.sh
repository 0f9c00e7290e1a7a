#!/usr/bin/env bash
# The whole test suite: the C kernels on every CPU target (x86-64, and aarch64 under qemu-user; see
# scripts/test_c_kernels.sh), then fetches the real model files the tests need (PyPI) and runs swift test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test_c_kernels.sh
scripts/fetch_models.sh
swift test "$@"
