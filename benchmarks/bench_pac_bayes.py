"""Cost of the PAC-Bayes certificate (``tamelab.bounds.pac_bayes_certificate``): fast vs full mode.

Same model (digits MLP 64-64-10 trained 20 epochs by ``fit``, and a 1×8×8 CNN with BatchNorm on the
digits images), same data-dependent prior (``init_model`` = the network at initialisation), same
seed. Measured interleaved, best of ``--repeat``, each in a fresh process (so the one-time
``torch.optim`` import, ~2 s, is counted in neither and thread pools start clean), with the torch
default thread count unless ``--threads`` is given.

``--old-src DIR`` adds the implementation in another source tree (e.g. a checkout of the commit before
the fast mode, ``git worktree add /tmp/old <commit>``; ``DIR`` is its ``src``) with its defaults,
timed the same way in the same run: the before/after ratio.

Floor (digits MLP, bound half n = 719, p = 4,810 parameters): fast mode needs 40 prior epochs
(480 Adam steps on 64 samples), 4 × 3 posterior epochs (72 steps on 128 samples), 4 × 64 pilot and
1,000 certified posterior draws, each one forward pass over the 719 bound samples — ≈ 0.9 M
sample-forwards, 85 % of them in the Monte-Carlo term (batched with ``vmap``).

Run: python benchmarks/bench_pac_bayes.py [--repeat 3] [--threads N] [--old-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time, torch
args = json.loads(sys.argv[1])
if args["threads"]:
    torch.set_num_threads(args["threads"])
from tamelab.train import fit
import torch.optim  # noqa: F401  (one-time import cost, excluded)
from tamelab.bounds import pac_bayes_certificate
r = fit({"epochs": 20, "widths": [64, 64, 10], "seed": 0})
model, train, test, init = r.model, r.train, r.test, r.init_model
if args["case"] == "cnn":
    import numpy as np
    from torch import nn
    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 8, 3, padding=1); self.bn = nn.BatchNorm2d(8); self.fc = nn.Linear(8 * 16, 10)
        def forward(self, x):
            x = x.reshape(-1, 1, 8, 8)
            return self.fc(nn.functional.max_pool2d(torch.relu(self.bn(self.c(x))), 2).flatten(1))
    torch.manual_seed(0); init = CNN(); model = CNN()  # prior='data' uses only MODEL's architecture
    train = (torch.as_tensor(r.train.X, dtype=torch.float32), torch.as_tensor(r.train.y))
    test = (torch.as_tensor(r.test.X, dtype=torch.float32), torch.as_tensor(r.test.y))
kw = {} if args["which"] == "old" else {"mode": args["which"]}
t = time.perf_counter()
c = pac_bayes_certificate(model, train, test, prior="data", init_model=init, seed=0, **kw)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "bound": c.bound, "kl": c.kl, "test_error": c.test_error,
                  "confidence": c.confidence}))
"""


def run(which: str, case: str, threads: int | None, src: str) -> dict:
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps({"which": which, "case": case, "threads": threads})],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{which}/{case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--old-src", default=None)
    ap.add_argument("--cases", default="mlp,cnn")
    a = ap.parse_args()
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    variants = [("fast", here), ("full", here)] + ([("old", a.old_src)] if a.old_src else [])
    for case in a.cases.split(","):
        if case == "cnn":
            variants = [v for v in variants if v[0] != "old"]  # the old implementation takes ReLU MLPs only
        best: dict[str, dict] = {}
        for _ in range(a.repeat):
            for which, src in variants:  # interleaved
                r = run(which, case, a.threads, src)
                if which not in best or r["seconds"] < best[which]["seconds"]:
                    best[which] = r
        print(f"== {case} (best of {a.repeat}, threads={a.threads or 'default'})")
        for which, r in best.items():
            print(f"  {which:5s} {r['seconds']:7.2f} s  bound {r['bound']:.4f}  KL {r['kl']:.4g}  "
                  f"stochastic test error {r['test_error']:.4f}  confidence {r['confidence']:.4f}")
        for slow in ("full", "old"):
            if slow in best:
                print(f"  {slow}/fast = {best[slow]['seconds'] / best['fast']['seconds']:.1f}x")


if __name__ == "__main__":
    main()
