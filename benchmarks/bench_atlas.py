"""Atlas speed: the default and the quick built-in atlas, per section (wall and CPU seconds, shares).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_atlas.py [--quick-only] [--default-only]
        [--model cnn] [--repeat N]

Prints, for each atlas, the total wall time, the training time and every section's wall seconds, CPU
seconds (this process, all threads: independent of other processes' load) and share of the sections'
total. The machine is shared, so the script also times an *anchor* (a fixed float64 matrix-product
workload, best of 5) before and after, and reports each total in anchor units: a machine twice as
loaded gives about the same number of anchor units. Targets (issue "atlas speed"): default <= 60 s,
quick <= 20 s on an unloaded 2-core machine.

``--model cnn`` runs the same on a small Conv+BatchNorm CNN through ``tamelab.atlas`` (training first),
the path a user's model takes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def anchor(reps: int = 5) -> float:
    """Best-of-``reps`` seconds of a fixed workload: 40 products of 384x384 float64 matrices."""
    import torch

    a = torch.randn(384, 384, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        b = a
        for _ in range(40):
            b = (b @ a) / 384.0
        float(b.sum())
        best = min(best, time.perf_counter() - t)
    return best


def report(name: str, res: dict, wall: float, cpu: float, anc: float) -> dict:
    secs = res["sections"]
    tot = sum(s["seconds"] for s in secs) or 1.0
    ctot = sum(s.get("cpu_seconds", 0.0) for s in secs) or 1.0
    print(
        f"\n== {name}: {wall:.1f} s wall ({wall / anc:.0f} anchor units), {cpu:.1f} s CPU; training "
        f"{res.get('training_seconds', 0.0):.1f} s; sections {tot:.1f} s wall / {ctot:.1f} s CPU"
    )
    print(f"{'section':<14} {'wall s':>8} {'CPU s':>8} {'share (CPU)':>12}  status")
    for s in sorted(secs, key=lambda s: -s.get("cpu_seconds", s["seconds"])):
        c = s.get("cpu_seconds", float("nan"))
        print(f"{s['id']:<14} {s['seconds']:8.2f} {c:8.2f} {100 * c / ctot:11.1f} %  {s['status']}")
    return {
        "name": name,
        "wall": wall,
        "cpu": cpu,
        "anchor": anc,
        "anchor_units": wall / anc,
        "training": res.get("training_seconds"),
        "sections": {s["id"]: [s["seconds"], s.get("cpu_seconds")] for s in secs},
    }


def run_builtin(quick: bool, out: Path) -> tuple[dict, float, float]:
    from tamelab.atlas import run_atlas, default_config

    cfg = default_config()
    cfg["quick"] = quick
    w, c = time.perf_counter(), time.process_time()
    res = run_atlas(cfg, out=out, progress=False)
    return res, time.perf_counter() - w, time.process_time() - c


def run_cnn(quick: bool, out: Path) -> tuple[dict, float, float]:
    import torch
    from torch import nn

    import tamelab

    train = tamelab.data.load_data("digits", split="train")
    test = tamelab.data.load_data("digits", split="test")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )
    w, c = time.perf_counter(), time.process_time()
    res = tamelab.atlas(
        model,
        train,
        test,
        out=out,
        quick=quick,
        progress=False,
        train_first={"epochs": 3 if quick else 10},
    )
    return res.to_dict(), time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick-only", action="store_true")
    ap.add_argument("--default-only", action="store_true")
    ap.add_argument("--model", choices=["builtin", "cnn"], default="builtin")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    os.environ.setdefault("TAMELAB_QUIET", "1")
    import matplotlib

    matplotlib.use("Agg")
    import torch

    print(
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, load average "
        f"{os.getloadavg() if hasattr(os, 'getloadavg') else '?'}"
    )
    runs = []
    modes = [
        m
        for m in ("quick", "default")
        if not (m == "quick" and args.default_only) and not (m == "default" and args.quick_only)
    ]
    fn = run_builtin if args.model == "builtin" else run_cnn
    for mode in modes:
        a0 = anchor()
        with tempfile.TemporaryDirectory() as d:
            res, wall, cpu = fn(mode == "quick", Path(d) / "atlas")
        a1 = anchor()
        anc = min(a0, a1)
        print(f"anchor {a0 * 1e3:.0f} ms before, {a1 * 1e3:.0f} ms after")
        runs.append(report(f"{args.model} {mode} atlas", res, wall, cpu, anc))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
