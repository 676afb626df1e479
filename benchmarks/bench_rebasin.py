"""Conv weight matching: ``tamelab.landscape.weight_matching`` vs the ``rebasin`` package (PyPI 0.0.47,
``PermutationCoordinateDescent``), on the same trained twins, in one run.

Models: digits 1×8×8 CNNs ``conv(1→w)-BN-ReLU-conv(w→2w)-BN-ReLU-head`` with two heads — global average
pooling + Linear (``gap``, the ResNet head) and 2×2 max-pool + flatten + Linear (``flatten``: each
channel moves a block of 16 inputs of the Linear) — at several widths ``w``. Two twins per width are
trained with Adam from seeds 0 and 1 (same data, same schedule).

Timed (best of ``--repeat``, interleaved, one BLAS/torch thread, warm): the whole alignment as a
user calls it — ours: spec derivation by ``torch.fx`` + certification, coordinate descent, the
permuted copy and the function check; rebasin: its graph tracing (torchview), coordinate descent and
applying the permutations to a copy. Reported for both aligned twins, with the same evaluator
(``tamelab.landscape.barrier``, 25 points + refinement, BatchNorm statistics interpolated): the
loss barrier on the training data, the matching objective ``Σ⟨θ_A, π(θ_B)⟩`` and the function
change ``max|f_{π(B)} − f_B|`` on 64 training images (a permutation must not change it).
Goal: ≥ 5× faster with an equal or lower barrier.

Floor: one sweep of coordinate descent is one ``n×n`` assignment per permutation plus products over
every parameter once per permutation axis (two conv permutations here): a few milliseconds at
``w = 64``; the spec derivation (an fx trace and two forward passes) is most of our time at small ``w``.

Run: python benchmarks/bench_rebasin.py [--quick] [--repeat 3] [--widths 8,16,32,64]
"""

from __future__ import annotations

import argparse
import copy
import logging
import time

import numpy as np
import torch
from torch import nn

from tamelab._numerics import one_thread
from tamelab.data import load_data
from tamelab.landscape import barrier, matching_objective, resolve_spec, weight_matching


class CNN(nn.Module):
    def __init__(self, w: int, head: str) -> None:
        super().__init__()
        self.head = head
        self.c1, self.b1 = nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w)
        self.c2, self.b2 = nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w)
        self.fc = nn.Linear(2 * w * (1 if head == "gap" else 16), 10)

    def forward(self, x):
        h = torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))
        h = h.mean((2, 3)) if self.head == "gap" else nn.functional.max_pool2d(h, 2).flatten(1)
        return self.fc(h)


def train(w: int, head: str, seed: int, X, y, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    m = CNN(w, head)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    m.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for lo in range(0, len(y), 64):
            idx = perm[lo:lo + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(m(X[idx]), y[idx]).backward()
            opt.step()
    return m.eval()


def ours(a, b, x):
    return weight_matching(a, b, X=x).model


def theirs(a, b, x):
    from rebasin import PermutationCoordinateDescent

    bb = copy.deepcopy(b)
    PermutationCoordinateDescent(a, bb, x, logging_level=logging.ERROR).rebasin()
    return bb.eval()


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--widths", default=None)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    widths = [int(v) for v in a.widths.split(",")] if a.widths else ([4, 8] if a.quick else [8, 16, 32, 64])
    tr = load_data("digits", split="train", seed=0)
    X = torch.as_tensor(tr.X, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.as_tensor(tr.y)
    x = X[:64]
    print(f"digits train n={len(y)}; timings best of {a.repeat}, one thread; barrier on the training data")
    print(f"{'head':8s}{'w':>4s}{'ours s':>9s}{'rebasin s':>11s}{'speed-up':>10s}  "
          f"{'barrier raw':>12s}{'ours':>9s}{'rebasin':>9s}  {'objective ours':>15s}{'rebasin':>10s}  "
          "f-change ours / rebasin")
    sizes, t_ours, t_theirs = [], [], []
    with one_thread():
        for head in ("gap", "flatten"):
            for w in widths:
                A = train(w, head, 0, X, y, a.epochs)
                B = train(w, head, 1, X, y, a.epochs)
                ours(A, B, x), theirs(A, B, x)  # warm-up (imports, first trace)
                best_o = best_t = np.inf
                for _ in range(a.repeat):  # interleaved
                    mo, to = timed(ours, A, B, x)
                    mt, tt = timed(theirs, A, B, x)
                    best_o, best_t = min(best_o, to), min(best_t, tt)
                spec = resolve_spec(A, example_input=x)
                obj = lambda m: matching_objective(A, m, spec)  # noqa: E731  (identity permutation of an aligned copy)
                raw = barrier(A, B, (X, y)).barrier_mean
                bo, bt = barrier(A, mo, (X, y)).barrier_mean, barrier(A, mt, (X, y)).barrier_mean
                with torch.no_grad():
                    fo = float((mo(x) - B(x)).abs().max())
                    ft = float((mt(x) - B(x)).abs().max())
                print(f"{head:8s}{w:4d}{best_o:9.3f}{best_t:11.3f}{best_t / best_o:9.1f}x  "
                      f"{raw:12.4f}{bo:9.4f}{bt:9.4f}  "
                      f"{obj(mo):15.3f}{obj(mt):10.3f}  {fo:.1e} / {ft:.1e}")
                sizes.append(sum(p.numel() for p in A.parameters()))
                t_ours.append(best_o)
                t_theirs.append(best_t)
    if len(widths) > 1:
        n = len(widths)
        for name, ts in (("ours", t_ours), ("rebasin", t_theirs)):
            for h, sl in (("gap", slice(0, n)), ("flatten", slice(n, 2 * n))):
                k = np.polyfit(np.log(sizes[sl]), np.log(ts[sl]), 1)[0]
                print(f"scaling exponent (time ~ params^k), {name}, {h}: k = {k:.2f}")


if __name__ == "__main__":
    main()
