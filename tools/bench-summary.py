#!/usr/bin/env python3
"""bench-summary.py - cross-policy tables from one `farsight bench` results.csv.

    tools/bench-summary.py out/matrix-small/results.csv [--markdown]

The bench's own report.md has per-workload tables.  This adds the comparisons the
issues ask for, all taken from the same run (side by side, so they are ratios of
numbers measured together):

  * speed-up of each prefetcher over readahead (the FastSwap-style baseline) and over
    the best baseline, per workload and ratio, from median kernel times;
  * misses avoided: (demand fetches without prefetching - with it) / (the same for the
    oracle).  A prefetch hit is only counted as a hit when the prefetcher sees it, and
    hermit and farsight map prefetched pages on arrival, so their "prefetch hits"
    undercount; demand fetches are comparable for every policy, so "hits within 80% of
    the oracle's" is read as misses avoided within 80% of the oracle's.

Standard library only (csv, statistics), so it runs wherever the bench runs.
"""
import csv
import statistics
import sys
from collections import defaultdict

BASELINES = ["readahead", "leap", "hermit", "linux-swap"]


def load(path):
    runs = defaultdict(list)  # (workload, ratio, prefetch) -> rows
    plain = defaultdict(list)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["checksum_ok"] != "1" or not r["seconds"]:
                continue
            if r["kind"] == "plain":
                plain[r["workload"]].append(float(r["seconds"]))
            elif r["kind"] == "far":
                runs[(r["workload"], int(r["ratio"]), r["prefetch"])].append(r)
    return runs, plain


def med(rows, key):
    vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return statistics.median(vals) if vals else float("nan")


def fmt(x, nd=2):
    return "-" if x != x else f"{x:.{nd}f}"


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    runs, plain = load(sys.argv[1])
    workloads = sorted({k[0] for k in runs}, key=["mcf", "xgboost", "pagerank", "sssp"].index)
    ratios = sorted({k[1] for k in runs})
    policies = []
    for k in runs:
        if k[2] not in policies:
            policies.append(k[2])
    learned = [p for p in policies if p.startswith("farsight")]

    def per_policy_table(title, cell):
        """One row per workload and ratio, one column per policy: cell(w, rows)."""
        print(title + "\n")
        print("| workload | local | " + " | ".join(policies) + " |")
        print("|---|---|" + "---|" * len(policies))
        for w in workloads:
            for q in ratios:
                cells = [cell(w, runs.get((w, q, p), [])) for p in policies]
                print(f"| {w} | {q}% | " + " | ".join(cells) + " |")

    def time_cell(w, rows):
        base = statistics.median(plain[w]) if plain[w] else float("nan")
        t = med(rows, "seconds")
        return f"{fmt(t)} ({fmt(base / t, 3)})" if t == t else "-"

    def fetch_cell(w, rows):
        d, i = med(rows, "demand_fetches"), med(rows, "prefetches_issued")
        return f"{fmt(d, 0)} / {fmt(i, 0)}" if d == d else "-"

    per_policy_table("Median kernel time (s) and normalised performance (all-local / far):",
                     time_cell)
    per_policy_table("\nMedian demand fetches (what the program waits for) / prefetches issued:",
                     fetch_cell)

    print("\nSpeed-up of each learned configuration (median time ratio; > 1 is faster):\n")
    cols = []
    for p in learned:
        cols += [f"{p} vs readahead", f"{p} vs best baseline (which)"]
    print("| workload | local | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for w in workloads:
        for q in ratios:
            cells = []
            for p in learned:
                t = med(runs.get((w, q, p), []), "seconds")
                ra = med(runs.get((w, q, "readahead"), []), "seconds")
                best, name = float("inf"), "-"
                for b in BASELINES:
                    tb = med(runs.get((w, q, b), []), "seconds")
                    if tb == tb and tb < best:
                        best, name = tb, b
                cells.append(fmt(ra / t))
                cells.append(f"{fmt(best / t)} ({name})" if name != "-" else "-")
            print(f"| {w} | {q}% | " + " | ".join(cells) + " |")

    if any(k[2] == "oracle" for k in runs):
        others = [p for p in policies if p not in ("none", "oracle") and not p.startswith("linux-swap")]
        print("\nMisses avoided relative to the oracle's ((none - P) / (none - oracle), median "
              "demand fetches):\n")
        print("| workload | local | none misses | oracle misses | " + " | ".join(others) + " |")
        print("|---|---|---|---|" + "---|" * len(others))
        for w in workloads:
            for q in ratios:
                n = med(runs.get((w, q, "none"), []), "demand_fetches")
                o = med(runs.get((w, q, "oracle"), []), "demand_fetches")
                cells = []
                for p in others:
                    d = med(runs.get((w, q, p), []), "demand_fetches")
                    cells.append(fmt((n - d) / (n - o), 2) if n - o > 0 and d == d else "-")
                print(f"| {w} | {q}% | {fmt(n, 0)} | {fmt(o, 0)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
