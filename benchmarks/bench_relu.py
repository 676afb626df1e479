"""Exact linear regions: exact (filtered predicates) vs float mode, a CNN on a plane vs a dense-grid brute force,
and the n-D traversal vs relucent (PyPI, needs gurobipy) — each pair on the same work, in one run.

Floors. 2-D: every region is produced by clipping; the work is the sign decisions (one per unit per vertex of
each polygon it may cut) — printed as ``decisions`` — and ``fallbacks`` of them are recomputed in exact integer
arithmetic. The exact mode's extra cost over float is the error bounds (two extra small matmuls per node per
piece) and the fallbacks. n-D: one LP (Chebyshev centre) and one Qhull halfspace intersection per region.

Dense-grid brute force (the reference the CNN is checked against): patterns of a 401² grid of the plane by
one batched torch forward pass (conv, ReLU signs, max-pool argmax), then the distinct patterns. It only gives a
lower bound on the count (regions between grid points are missed); the exact count is never smaller.

Run: python benchmarks/bench_relu.py [--quick] [--no-anchor]
"""

import argparse
import time

import numpy as np
import torch
from torch import nn

from tamelab._numerics import one_thread
from tamelab.models import lower, mlp
from tamelab.relu import Box, Plane, regions


def _best(fn, reps):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def _relucent(widths, radius):
    import relucent

    m = mlp(widths, seed=0, dtype=torch.float64)
    t = time.perf_counter()
    cx = relucent.Complex(m)
    cx.bfs(cube_radius=radius, cube_mode="intersect", nworkers=1, verbose=0)
    return len(cx), time.perf_counter() - t


def conv_net():
    """The issue's CNN: 1×8×8 → Conv 4 (3×3, pad 1) → ReLU → MaxPool 2 → Linear 10 (torch.manual_seed(0))."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    ).double()


def grid_patterns(model, plane, n):
    """Distinct activation patterns (conv ReLU signs, max-pool argmax) on an n × n grid of the plane's polygon."""
    lo = np.min(plane.polygon, 0)
    hi = np.max(plane.polygon, 0)
    a, b = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    M0 = np.stack([plane.u, plane.v, plane.point], 1)
    X = torch.as_tensor(np.stack([a.ravel(), b.ravel(), np.ones(a.size)], 1) @ M0.T).reshape(-1, 1, 8, 8)
    conv, pool = model[0], model[2]
    with torch.no_grad():
        z = conv(X)
        _, idx = nn.functional.max_pool2d(torch.relu(z), pool.kernel_size, return_indices=True)
        pat = torch.cat([(z > 0).reshape(len(X), -1).to(torch.uint8), idx.reshape(len(X), -1).to(torch.uint8)], 1)
    P = np.ascontiguousarray(pat.numpy())
    return len(np.unique(P.view(np.dtype((np.void, P.shape[1])))))  # rows as byte strings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-anchor", action="store_true", help="skip relucent (it needs gurobipy)")
    a = ap.parse_args()
    reps = 1 if a.quick else 3
    regions(mlp([2, 4, 1], seed=0, dtype=torch.float64), Plane.box2d(-1.0, 1.0))  # warm-up: imports, caches

    print("1. 2-D plane splitting on [-1,1]^2 (torch.manual_seed(0) MLPs): exact (certified) vs float (uncertified)")
    print(
        f"{'widths':>18} {'regions':>8} {'exact s':>8} {'float s':>8} {'ratio':>6} {'regions/s':>9} "
        f"{'decisions':>10} {'fallbacks':>9}"
    )
    rows = []
    cases = [[2, 16, 16, 1], [2, 32, 32, 1], [2, 64, 64, 1], [2, 64, 64, 64, 1]]
    for w in cases[: 2 if a.quick else None]:
        m = mlp(w, seed=0, dtype=torch.float64)
        with one_thread():

            def fx(m=m):
                return regions(m, Plane.box2d(-1.0, 1.0), boundary=False)

            def ff(m=m):
                return regions(m, Plane.box2d(-1.0, 1.0), mode="float", boundary=False)

            tx = tf = float("inf")
            for _ in range(reps):  # interleaved, best of reps
                rx, t = _best(fx, 1)
                tx = min(tx, t)
                rf, t = _best(ff, 1)
                tf = min(tf, t)
        rows.append((rx.activation_regions, tx))
        flag = "" if rx.activation_regions == rf.activation_regions else f"  (float mode: {rf.activation_regions})"
        print(
            f"{w!s:>18} {rx.activation_regions:8d} {tx:8.3f} {tf:8.3f} {tx / tf:6.2f} "
            f"{rx.activation_regions / tx:9.0f} {rx.sign_decisions:10d} {rx.exact_fallbacks:9d}{flag}"
        )
    if len(rows) >= 2:
        n, t = np.log([r[0] for r in rows]), np.log([r[1] for r in rows])
        print(f"  scaling: time ~ regions^{np.polyfit(n, t, 1)[0]:.2f}")
    print(
        "  goal (issue 16): exact <= 2x float on 2-64-64-64-1; before: float 6666 regions (2 missing, status ok), "
        "Fraction exact 774 s"
    )

    print("\n2. The 1x8x8 CNN (Conv 4 -> ReLU -> MaxPool -> Linear 10) on the plane through three images")
    print(f"{'polygon':>22} {'regions':>8} {'exact s':>8} {'grid 401^2 s':>12} {'grid patterns':>13} {'speed-up':>8}")
    model = conv_net()
    net = lower(model, in_shape=(1, 8, 8))
    g = torch.Generator().manual_seed(1)
    imgs = torch.rand((3, 1, 8, 8), generator=g, dtype=torch.float64)
    for margin in [0.0] if a.quick else [0.0, 0.25]:
        pl = Plane.through(*imgs, margin=margin)
        with one_thread():
            r, tx = _best(lambda pl=pl: regions(net, pl, boundary=False), reps)
            ng, tg = _best(lambda pl=pl: grid_patterns(model, pl, 401), reps)
        assert ng <= r.activation_regions
        print(
            f"{'[%g, %g]^2' % (-margin, 1 + margin):>22} {r.activation_regions:8d} {tx:8.3f} {tg:12.3f} {ng:13d} "
            f"{tg / tx:8.2f}"
        )
    print("  goal (issue 12): <= 1 s and >= 10x the 401^2 dense grid")

    print("\n3. n-D LP traversal on [-1,1]^d vs relucent (cube_mode='intersect', 1 worker)")
    print(
        f"{'widths':>18} {'regions':>8} {'ours (s)':>9} {'LPs':>7} {'regions/s':>10} "
        f"{'relucent':>9} {'(s)':>8} {'ratio':>6}"
    )
    cases = [[3, 8, 8, 1], [4, 8, 8, 1], [4, 12, 12, 1]] + ([] if a.quick else [[4, 16, 16, 1]])
    for w in cases:
        m = mlp(w, seed=0, dtype=torch.float64)
        with one_thread():
            r, t = _best(lambda m=m, w=w: regions(m, Box(-1.0, 1.0, w[0])), 1)
        if a.no_anchor:
            rc, tr = "-", float("nan")
        else:
            try:
                rc, tr = _relucent(w, 1.0)
            except ImportError as e:  # gurobipy missing
                rc, tr = f"n/a ({e.name})", float("nan")
        same = "" if rc == r.activation_regions or isinstance(rc, str) else "  COUNT MISMATCH"
        print(
            f"{w!s:>18} {r.activation_regions:8d} {t:9.2f} {r.lps_solved:7d} {r.activation_regions / t:10.0f} "
            f"{rc!s:>9} {tr:8.2f} {tr / t:6.1f}{same}"
        )
    print("  target: 4-16-16-1 at least 5x faster than relucent with the same count")


if __name__ == "__main__":
    main()
