#!/usr/bin/env bash
# Regenerates tests/TestData/sentencepiece/: trains small SentencePiece models (Unigram and BPE, with byte fallback)
# with the real SentencePiece library and writes the ids it gives for eng/tokenizer-reference/texts.json plus the
# extra texts in eng/sentencepiece-reference/generate.py. Developer tool: run it after changing either, review the
# diff, commit. Tests and CI only read the committed files (they need nothing but the .NET SDK).
#
# Needs Python 3 with the sentencepiece module: on Debian/Ubuntu `apt-get install python3-sentencepiece`
# (the fixtures were made with its 0.1.97), elsewhere `pip install sentencepiece`. Set PYTHON to choose the
# interpreter. The output is deterministic for a given SentencePiece version (one training thread, no shuffling).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sentencepiece' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
if [[ -z "$python" ]]; then
  echo "generate-sentencepiece-fixtures: no python3 with the sentencepiece module (apt-get install python3-sentencepiece, or pip install sentencepiece)" >&2
  exit 1
fi
"$python" "$repo_root/eng/sentencepiece-reference/generate.py" \
  "$repo_root/eng/tokenizer-reference/texts.json" "$repo_root/tests/TestData/sentencepiece"
