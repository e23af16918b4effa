#!/usr/bin/env python3
"""Paired comparison of rows across two experiment output folders.

Usage: eng/compare-experiment-runs.py OUT_A OUT_B ROW[:ROW_B][,...] SEEDS
  e.g. eng/compare-experiment-runs.py out/quickstart out/quickstart-keep-agreement level-2,level-4-magdi 1,2,3

Prints mean(A) - mean(B) in points with a 95 % interval and a two-sided p-value, for runs made on the same test
questions with the same seeds (docs/quickstart.md uses it for the ablation of the release's cleaning). The algorithm is
the one of MagDi.Training.Experiments.ExperimentStatistics.PairedBootstrap: 10000 resamples, each drawing the seeds
and then the questions with replacement (the same draws for both folders), a percentile interval, and
p = 2 (min(#<=0, #>=0) + 1) / (R + 1). Python's random numbers differ from .NET's, so the last digit can differ from
what the experiment's own table would print. Standard library only.
"""
import json
import random
import sys


def fail(message):
    print(f"compare-experiment-runs: {message}", file=sys.stderr)
    sys.exit(2)


def load(folder, row, seed):
    path = f"{folder}/experiment/runs/{row}/seed-{seed}/result.json"
    try:
        with open(path, encoding="utf-8") as f:
            questions = json.load(f)["questions"]
    except FileNotFoundError:
        fail(f"{path}: no such run (row slug '{row}', seed {seed})")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        fail(f"{path}: not a finished run's result.json ({e})")
    return [(q["id"], 1.0 if q["correct"] else 0.0) for q in questions]


def main(argv):
    if len(argv) != 5:
        fail(__doc__.strip().splitlines()[2])
    a_dir, b_dir, rows, seeds_arg = argv[1:]
    try:
        seeds = [int(s) for s in seeds_arg.split(",")]
    except ValueError:
        fail(f"SEEDS must be integers separated by commas (was '{seeds_arg}')")
    resamples = 10000
    for spec in rows.split(","):
        row_a, row_b = (spec.split(":") + [spec])[:2]
        d = []
        for s in seeds:
            a, b = load(a_dir, row_a, s), load(b_dir, row_b, s)
            if [q for q, _ in a] != [q for q, _ in b]:
                fail(f"seed {s}: '{row_a}' in {a_dir} and '{row_b}' in {b_dir} were not evaluated on the same questions")
            d.append([x - y for (_, x), (_, y) in zip(a, b)])
        n_seeds, n_questions = len(d), len(d[0])
        observed = sum(map(sum, d)) / (n_seeds * n_questions)
        rng = random.Random(12345)
        samples = []
        for _ in range(resamples):
            drawn = [rng.randrange(n_seeds) for _ in range(n_seeds)]
            total = 0.0
            for _ in range(n_questions):
                j = rng.randrange(n_questions)
                total += sum(d[i][j] for i in drawn)
            samples.append(total / (n_seeds * n_questions))
        samples.sort()

        def percentile(p):
            x = p * (resamples - 1)
            lo = int(x)
            return samples[lo] + (x - lo) * (samples[min(lo + 1, resamples - 1)] - samples[lo])

        below = sum(1 for x in samples if x <= 0)
        above = sum(1 for x in samples if x >= 0)
        p = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
        print(f"{spec}: {observed * 100:+.1f} [{percentile(0.025) * 100:+.1f}, {percentile(0.975) * 100:+.1f}] p={p:.3f}")


if __name__ == "__main__":
    main(sys.argv)
