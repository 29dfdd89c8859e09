#!/usr/bin/env python3
"""demo-summary.py - the demo's one screen, from a `farsight bench` results.csv.

    tools/demo-summary.py RESULTS.csv PICTURE

The program's footprint (its far-memory peak when all of it fits), the budget, the
plain time, then each prefetcher's time, how much slower than plain it ran, and what
it fetched; then one sentence of conclusion and where the picture is.  Standard
library only, like tools/bench-summary.py.
"""
import csv
import sys


def mib(b):
    return f"{float(b) / (1 << 20):.0f} MiB"


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    rows = list(csv.DictReader(open(sys.argv[1])))
    plain = [r for r in rows if r["kind"] == "plain"]
    local = [r for r in rows if r["kind"] == "all-local-farsight"]
    far = [r for r in rows if r["kind"] == "far"]
    if not plain or not far:
        print("demo: the bench produced no results; see its log above", file=sys.stderr)
        return 1
    p = float(plain[0]["seconds"])
    w = plain[0]["workload"]
    foot = local[0]["local_mem_peak_bytes"] if local else ""
    print(f"{w} (size {plain[0]['size']}): footprint {mib(foot) if foot else 'unknown'}, "
          f"{far[0]['ratio']}% of it local = budget {mib(far[0]['budget_bytes'])}; "
          f"the rest in far memory (embedded, 5 us, 25 Gbit/s)")
    print(f"plain run, all memory local: {p:.2f} s (1.00 = this speed; higher is better)")
    print()
    print(f"  {'prefetcher':<11} {'time':>8} {'vs plain':>12} {'normalised':>10} "
          f"{'demand fetches':>15} {'prefetched':>11}  result")
    best = None
    for r in far:
        s = float(r["seconds"])
        ok = r["checksum_ok"] == "1" and r["status"] == "0"
        slower = s / p if p > 0 else float("inf")
        print(f"  {r['prefetch']:<11} {s:7.2f}s {slower:10.1f}x slower"
              f" {float(r['normalised'] or 0):10.2f} {int(float(r['demand_fetches'] or 0)):>15,}"
              f" {int(float(r['prefetches_issued'] or 0)):>11,}  {'same result' if ok else 'WRONG or failed'}")
        if ok and r["prefetch"] != "none" and (best is None or s < float(best["seconds"])):
            best = r
    none = [r for r in far if r["prefetch"] == "none"]
    print()
    if best and none:
        gain = float(none[0]["seconds"]) / float(best["seconds"])
        print(f"Conclusion: with half its memory far, {w} runs "
              f"{float(best['seconds']) / p:.1f}x slower than all-local with the best "
              f"prefetcher ({best['prefetch']}), {gain:.1f}x faster than with no "
              f"prefetching; every run gave the all-local result.")
    print(f"Picture: {sys.argv[2]}")
    return 0


sys.exit(main())
