#!/usr/bin/env bash
# Rebuilds a base student of the synthetic experiment from its recipe (SyntheticBaseModelOptions: the default, small one,
# or SyntheticBaseModelOptions.Medium()) with the library's own pretraining stage (`magdi pretrain --synthetic`) and
# compares it, file by file and bit for bit, with the one shipped in samples/Shared/synthetic-base. Pretraining runs on one
# thread, so the same recipe gives the same bits. Build included: about 18 minutes for the small student, about 65 for the
# medium one.
#   eng/rebuild-synthetic-base.sh [--student small|medium]           rebuild into a temporary folder and compare
#   eng/rebuild-synthetic-base.sh [--student small|medium] --update  ship the rebuild (after a recipe change); it replaces
#                                                                    the shipped base of the same size, not the other one
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
student=small
update=0
while [ $# -gt 0 ]; do
  case "$1" in
    --student) student="${2:?--student needs small or medium}"; shift 2 ;;
    --update) update=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet run --project samples/MagDi.Cli -c Release -- pretrain --synthetic --student "$student" --out "$out"
built="$(find "$out" -mindepth 1 -maxdepth 1 -type d -name 'synthetic-base-*' | head -n 1)"
name="$(basename "$built")"
shipped="samples/Shared/synthetic-base/$name"
size_of() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["hidden_size"], c["num_hidden_layers"])' "$1/config.json"; }
if [ "$update" = 1 ]; then
  mkdir -p samples/Shared/synthetic-base
  for old in samples/Shared/synthetic-base/synthetic-base-*; do
    if [ -d "$old" ] && [ "$(basename "$old")" != "$name" ] && [ "$(size_of "$old")" = "$(size_of "$built")" ]; then
      echo "Removing the superseded $old"
      rm -rf "$old"
    fi
  done
  rm -rf "$shipped"
  cp -r "$built" "$shipped"
  echo "Shipped $shipped. Also refresh tests/TestData/synthetic-base with:"
  echo "  MAGDI_WRITE_FIXTURES=1 dotnet test tests/MagDi.Training.Tests -c Release --filter ShippedBaseModelTests"
  exit 0
fi
if [ ! -d "$shipped" ]; then
  echo "The $student recipe's fingerprint is $name, but samples/Shared/synthetic-base holds: $(ls samples/Shared/synthetic-base)" >&2
  exit 1
fi
status=0
for f in config.json model.safetensors tokenizer.json tokenizer_config.json recipe.json; do
  if cmp -s "$built/$f" "$shipped/$f"; then echo "identical: $f"; else echo "DIFFERENT: $f" >&2; status=1; fi
done
exit $status
