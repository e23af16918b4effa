#!/usr/bin/env bash
# bf16 + LoRA r16 training throughput, before (main, or any other build) vs after (this checkout), interleaved.
# Usage: bash bench/run-lora-comparison.sh BEFORE_DLL [rounds=3] [threads=2] [extra bench args, e.g. --quick]
#   BEFORE_DLL: MagDi.Bench.Model.dll built from the baseline, e.g.
#     git worktree add /tmp/magdi-before main && dotnet build /tmp/magdi-before/bench/MagDi.Bench.Model -c Release
#     (a baseline without the --cases option ignores it and also runs the f32 case: slower, same result)
# Runs each side with --only training --cases BFloat16,BFloat16_lora_r16 (full bf16 training is the control: the
# change must not move it), alternating before/after, and writes
# bench/MagDi.Bench.Model/results/lora-training-before-after-<threads>threads.json with every run, the load averages
# around it and the medians. MFU is relative to the matmul peak each run measures itself.
set -euo pipefail
before_dll=$1; rounds=${2:-3}; threads=${3:-2}; shift $(( $# < 3 ? $# : 3 ))
cd "$(dirname "$0")/.."
dotnet build bench/MagDi.Bench.Model -c Release -nologo -v q >/dev/null
after_dll=bench/MagDi.Bench.Model/bin/Release/net10.0/MagDi.Bench.Model.dll
work=$(mktemp -d); runs=()
for round in $(seq 1 "$rounds"); do
  for side in before after; do
    dll=$before_dll; [ "$side" = after ] && dll=$after_dll
    out="$work/$side-$round.json"; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    dotnet "$dll" --only training --cases BFloat16,BFloat16_lora_r16 --threads "$threads" --out "$out" "$@" | grep -E "^train" || true
    echo "$side round $round: load $load_before -> $(cut -d' ' -f1-3 /proc/loadavg)"
    runs+=("$side|$round|$load_before|$(cut -d' ' -f1-3 /proc/loadavg)|$out")
  done
done
result=bench/MagDi.Bench.Model/results/lora-training-before-after-${threads}threads.json
python3 - "$result" "$threads" "${runs[@]}" <<'PY'
import json, statistics, sys
result, threads, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
entries = []
for r in runs:
    side, rnd, lb, la, path = r.split('|')
    rep = json.load(open(path))
    entries.append({"side": side, "round": int(rnd), "loadavg_before": lb, "loadavg_after": la,
                    "matmul_peak_gflops": rep["matmul_peak_gflops"], "training": rep["training_fwd_bwd"]})
def med(side, case, field):
    return statistics.median(e["training"][case][field] for e in entries if e["side"] == side)
summary = {side: {case: {f: med(side, case, f) for f in ("mfu_vs_matmul_peak", "tokens_per_second", "step_seconds_best", "step_seconds_median")}
                  for case in ("BFloat16_lora_r16", "BFloat16")} for side in ("before", "after")}
json.dump({"threads": threads, "runs": entries, "median_over_runs": summary}, open(result, "w"), indent=2)
print(json.dumps(summary, indent=2)); print("wrote", result)
PY
