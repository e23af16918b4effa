#!/usr/bin/env bash
# bf16 + LoRA r16 training throughput, before (main, or any other build) vs after (this checkout), interleaved.
# Usage: bash bench/run-lora-comparison.sh BEFORE_DLL [rounds=3] [threads=2] [extra bench args, e.g. --quick]
#   BEFORE_DLL: MagDi.Bench.Model.dll built from the baseline, e.g.
#     git worktree add /tmp/magdi-before main && dotnet build /tmp/magdi-before/bench/MagDi.Bench.Model -c Release
# Runs each side with --only training and the same cases in the same order (Float32, BFloat16, BFloat16_lora_r16;
# full bf16 training is the control: the change must not move it), alternating before/after, and writes
# bench/MagDi.Bench.Model/results/lora-training-before-after-<threads>threads.json with every run, the load averages
# around it and the medians. MFU is relative to the matmul peak each run measures itself.
# Why not --cases: a case's speed depends on what ran before it in the process. The first case of a fresh process
# pays for new pages (minor faults, the bench reports them) until glibc's mmap threshold adapts to its tensors: run
# first, full bf16 took ~37,000 faults and 0.79 s per step; after the f32 case, ~18,000 and 0.55 s. A baseline built
# before --cases existed ignores it and runs the f32 case first, so --cases on one side only compares unlike runs.
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
    dotnet "$dll" --only training --threads "$threads" --out "$out" "$@" | grep -E "^train" || true
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
# The cases every run measured (--cases may pick some).
cases = [c for c in ("Float32", "BFloat16", "BFloat16_lora_r16") if all(c in e["training"] for e in entries)]
def med(side, case, field):
    return statistics.median(e["training"][case][field] for e in entries if e["side"] == side)
summary = {side: {case: {f: med(side, case, f) for f in ("mfu_vs_matmul_peak", "tokens_per_second", "step_seconds_best", "step_seconds_median")}
                  for case in cases} for side in ("before", "after")}
# after / before tokens/s paired by round: geometric mean and a 95 % t interval on the log ratios.
import math
T975 = dict(enumerate([12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                       2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042], 1))  # df 1-30
paired = {}
for case in cases:
    logs = []
    for rnd in sorted({e["round"] for e in entries}):
        b = [e for e in entries if e["side"] == "before" and e["round"] == rnd][0]["training"][case]["tokens_per_second"]
        a = [e for e in entries if e["side"] == "after" and e["round"] == rnd][0]["training"][case]["tokens_per_second"]
        logs.append(math.log(a / b))
    m = statistics.mean(logs)
    h = T975[min(len(logs) - 1, 30)] * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    paired[case] = {"ratios": [round(math.exp(x), 3) for x in logs], "geometric_mean": round(math.exp(m), 3),
                    "ci95": [round(math.exp(m - h), 3), round(math.exp(m + h), 3)]}
json.dump({"threads": threads, "runs": entries, "median_over_runs": summary, "after_over_before_tokens_per_second": paired},
          open(result, "w"), indent=2)
print(json.dumps(summary, indent=2)); print(json.dumps(paired, indent=2)); print("wrote", result)
PY
