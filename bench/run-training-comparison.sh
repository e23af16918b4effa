#!/usr/bin/env bash
# One command for the training-step comparison: MagDi's trainer vs the released MAGDi recipe in PyTorch (Debian's
# python3-torch at /usr/bin/python3), interleaved A B A B on this CPU. Extra arguments go to the benchmark
# (e.g. --rounds 5 --dtypes f32). Results: bench/MagDi.Bench.Training/results/training-comparison.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's torch calls libblas.so.3, which is the slow reference BLAS unless OpenBLAS is installed. Fetch OpenBLAS's
# package once into a cache folder (no system change) and point only the Python side at it.
OPENBLAS_ROOT="${MAGDI_OPENBLAS_CACHE:-$HOME/.cache/magdi-bench/openblas}"
OPENBLAS_DIR="$OPENBLAS_ROOT/usr/lib/x86_64-linux-gnu/openblas-pthread"
if [ ! -e "$OPENBLAS_DIR/libblas.so.3" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download libopenblas0-pthread >/dev/null)
  mkdir -p "$OPENBLAS_ROOT"
  dpkg -x "$tmp"/libopenblas0-pthread_*.deb "$OPENBLAS_ROOT"
  rm -rf "$tmp"
fi

dotnet build bench/MagDi.Bench.Training -c Release -v q -nologo
dotnet run --project bench/MagDi.Bench.Training -c Release --no-build -- --openblas "$OPENBLAS_DIR" "$@"
