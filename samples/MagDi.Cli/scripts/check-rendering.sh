#!/usr/bin/env bash
# Visual check of MAG rendering: renders the sample MAGs with the magdi CLI and screenshots the SVG
# of each graph type and the HTML report in headless Chromium (Debian package `chromium`).
# Usage: samples/MagDi.Cli/scripts/check-rendering.sh [OUTPUT_DIR]   (default: artifacts/rendering-check)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-"$root/artifacts/rendering-check"}
mkdir -p "$out"
command -v chromium >/dev/null || { echo "chromium not found: sudo apt-get install chromium" >&2; exit 1; }

dotnet build "$root/samples/MagDi.Cli" -c Release -nologo -v q
magdi="$root/samples/MagDi.Cli/bin/Release/net10.0/magdi"
data="$root/samples/MagDi.Cli/data/GSM8K_sample.json"

"$magdi" mags convert --in "$data" --out "$out/gsm8k.jsonl"
"$magdi" mags report --in "$out/gsm8k.jsonl" --out "$out/report.html"
for i in 0 1 2 3; do
  "$magdi" mags render --in "$out/gsm8k.jsonl" --index "$i" --out "$out/mag-$i.svg"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,700 \
    --screenshot="$out/mag-$i.png" "file://$out/mag-$i.svg" 2>/dev/null
done
chromium --headless --no-sandbox --disable-gpu --window-size=1400,2400 \
  --screenshot="$out/report.png" "file://$out/report.html" 2>/dev/null
ls -l "$out"/*.png
echo "Open the PNG files to check: agents by row, rounds by column, green correct / red incorrect nodes, edges, answers and confidences."
