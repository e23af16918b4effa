#!/usr/bin/env bash
# Regenerates the committed expected token ids (tests/MagDi.Core.Tests/Tokenization/Expected/*.json)
# from independent reference implementations on npm. Developer tool: run it after changing
# eng/tokenizer-reference/texts.json, review the diff, commit. CI only reads the committed files.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Unpack the committed test vocabularies (tests/TestData/tokenizers/*/*.gz) for the reference implementations.
vocab="$repo_root/.testdata/tokenizers"
for gz in "$repo_root"/tests/TestData/tokenizers/*/*.gz; do
  family="$(basename "$(dirname "$gz")")"
  mkdir -p "$vocab/$family"
  gzip -dc "$gz" >"$vocab/$family/$(basename "$gz" .gz)"
done
ref="$repo_root/.testdata/tokenizer-reference"
mkdir -p "$ref"
cp "$repo_root/eng/tokenizer-reference/package.json" "$repo_root/eng/tokenizer-reference/generate-expected.mjs" \
   "$repo_root/eng/tokenizer-reference/texts.json" "$ref/"
(cd "$ref" && npm install --silent --no-audit --no-fund >/dev/null)
node "$ref/generate-expected.mjs" "$vocab" "$repo_root/tests/MagDi.Core.Tests/Tokenization/Expected"
