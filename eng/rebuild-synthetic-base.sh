#!/usr/bin/env bash
# Rebuilds the synthetic experiment's base student from its recipe (SyntheticBaseModelOptions defaults) with the library's
# own pretraining stage (`magdi pretrain --synthetic`) and compares it, file by file and bit for bit, with the one shipped in
# samples/Shared/synthetic-base. About 18 minutes, build included (pretraining runs on one thread: the same recipe gives
# the same bits).
#   eng/rebuild-synthetic-base.sh           rebuild into a temporary folder and compare
#   eng/rebuild-synthetic-base.sh --update  replace the shipped base by the rebuild (after a recipe change)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet run --project samples/MagDi.Cli -c Release -- pretrain --synthetic --out "$out"
built="$(find "$out" -mindepth 1 -maxdepth 1 -type d -name 'synthetic-base-*' | head -n 1)"
name="$(basename "$built")"
shipped="samples/Shared/synthetic-base/$name"
if [ "${1:-}" = "--update" ]; then
  rm -rf samples/Shared/synthetic-base
  mkdir -p samples/Shared/synthetic-base
  cp -r "$built" "$shipped"
  echo "Shipped $shipped. Also refresh tests/TestData/synthetic-base with:"
  echo "  MAGDI_WRITE_FIXTURES=1 dotnet test tests/MagDi.Training.Tests -c Release --filter ShippedBaseModelTests"
  exit 0
fi
if [ ! -d "$shipped" ]; then
  echo "The recipe's fingerprint is $name, but samples/Shared/synthetic-base holds: $(ls samples/Shared/synthetic-base)" >&2
  exit 1
fi
status=0
for f in config.json model.safetensors tokenizer.json tokenizer_config.json recipe.json; do
  if cmp -s "$built/$f" "$shipped/$f"; then echo "identical: $f"; else echo "DIFFERENT: $f" >&2; status=1; fi
done
exit $status
