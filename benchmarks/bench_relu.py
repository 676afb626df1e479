"""Exact linear regions: our enumerators vs relucent (PyPI, needs gurobipy) on the same networks, one run.

Floors. 2-D: every region is produced by clipping; the work is Σ_regions (#cutting neurons per
layer) polygon clips — no LPs at all. n-D: one LP (Chebyshev centre) and one Qhull halfspace
intersection per region; relucent solves LPs per candidate facet with Gurobi. Time should grow
linearly with the number of regions (printed as regions/second).

Run: python benchmarks/bench_relu.py [--quick] [--no-anchor]
"""

import argparse
import time

import torch

from tamelab.models import mlp
from tamelab.relu import Box, Plane, regions


def _ours(widths, domain, mode="float", reps=1):
    m = mlp(widths, seed=0, dtype=torch.float64)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        r = regions(m, domain, mode=mode, boundary=False)
        best = min(best, time.perf_counter() - t)
    return r, best


def _relucent(widths, radius):
    import relucent

    m = mlp(widths, seed=0, dtype=torch.float64)
    t = time.perf_counter()
    cx = relucent.Complex(m)
    cx.bfs(cube_radius=radius, cube_mode="intersect", nworkers=1, verbose=0)
    return len(cx), time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-anchor", action="store_true", help="skip relucent (it needs gurobipy)")
    a = ap.parse_args()
    print("2-D plane splitting on [-1,1]^2 (seed 0)")
    print(f"{'widths':>18} {'mode':>6} {'regions':>8} {'seconds':>8} {'regions/s':>10}")
    for w, mode in [([2, 16, 16, 1], "float"), ([2, 16, 16, 1], "exact"), ([2, 32, 32, 1], "float"),
                    ([2, 64, 64, 64, 1], "float")][: 2 if a.quick else None]:
        r, t = _ours(w, Plane.box2d(-1.0, 1.0), mode, reps=3 if mode == "float" else 1)
        print(f"{str(w):>18} {mode:>6} {r.activation_regions:8d} {t:8.3f} {r.activation_regions / t:10.0f}")
    print("  targets: 2-16-16-1 <= 0.05 s (spec's plain reference 0.056 s; SplineCam 0.91 s, relucent 3.9 s per the issue);"
          " 2-64-64-64-1 <= 2 s")

    print("\nn-D LP traversal on [-1,1]^d vs relucent (cube_mode='intersect', 1 worker)")
    print(f"{'widths':>18} {'regions':>8} {'ours (s)':>9} {'LPs':>7} {'regions/s':>10} {'relucent':>9} {'(s)':>8} {'ratio':>6}")
    cases = [[3, 8, 8, 1], [4, 8, 8, 1], [4, 12, 12, 1]] + ([] if a.quick else [[4, 16, 16, 1]])
    for w in cases:
        r, t = _ours(w, Box(-1.0, 1.0, w[0]))
        if a.no_anchor:
            rc, tr = "-", float("nan")
        else:
            try:
                rc, tr = _relucent(w, 1.0)
            except ImportError as e:  # gurobipy missing
                rc, tr = f"n/a ({e.name})", float("nan")
        same = "" if rc == r.activation_regions or isinstance(rc, str) else "  COUNT MISMATCH"
        print(f"{str(w):>18} {r.activation_regions:8d} {t:9.2f} {r.lps_solved:7d} {r.activation_regions / t:10.0f} "
              f"{str(rc):>9} {tr:8.2f} {tr / t:6.1f}{same}")
    print("  target: 4-16-16-1 at least 5x faster than relucent with the same count")


if __name__ == "__main__":
    main()
