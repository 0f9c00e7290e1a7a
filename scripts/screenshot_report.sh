#!/usr/bin/env bash
# Renders a `moekit trace` report in headless Chromium (Debian package `chromium`) and saves the
# screenshot committed as docs/trace-report.png. Usage: scripts/screenshot_report.sh [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/trace-report.png}"
swift build -c release --product moekit >/dev/null
work=$(mktemp -d)
.build/release/moekit demo --dir "$work/model" --max-tokens 1 >/dev/null
.build/release/moekit trace "$work/model" --tokens 1,17,256,42,901,7 --max-tokens 40 --out "$work/trace"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1400 \
  --screenshot="$out" "file://$work/trace/report.html"
echo "wrote $out"
