"""Device check: the main paths on an accelerator (float32) against CPU float64 results, as one table.

Without CUDA it prints "no CUDA device" and exits 0; ``--device cpu`` runs the same checks on the CPU in
float32 (a dry run of this script). Runs in well under 5 minutes on a GPU (about a minute on one CPU thread).

Checks (each a function registered with :func:`check`; add yours the same way — regions, PAC-Bayes,
training — and they appear in the table):

* ``hvp``: one Hessian-vector product of a CNN (Conv/BatchNorm-eval/ReLU/MaxPool/Linear), relative error;
* ``ggn``: one GGN-vector product, relative error;
* ``top5``: certified top-5 eigenvalues; passes when every device value lies within the device's certified
  radius plus the CPU's of the float64 value, and the status is ``ok``;
* ``trace``: exact Hessian trace (GGN diagonal, the premise holds for this CNN), relative error;
* ``surface``: a 9×9 loss surface, max relative error over the grid.

Run: python benchmarks/device_check.py [--device cuda|cuda:1|cpu] [--only hvp,top5]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from _models import cnn28, randomize_batchnorm


@dataclasses.dataclass
class Row:
    """One line of the table: what was compared, both values, the error and the tolerance it must meet."""

    name: str
    device_value: str
    cpu_value: str
    error: float
    tolerance: float
    seconds_device: float
    seconds_cpu: float
    ok: bool | None = None

    def __post_init__(self):
        if self.ok is None:
            self.ok = bool(np.isfinite(self.error) and self.error <= self.tolerance)


#: name → check(device) -> Row. Register more with @check("name").
CHECKS: dict[str, Callable[[torch.device], Row]] = {}


def check(name: str):
    """Decorator: register ``fn(device) -> Row`` as a device check named ``name``."""

    def deco(fn):
        CHECKS[name] = fn
        return fn

    return deco


def cnn_case(seed: int = 0, n: int = 256):
    """The CNN of the checks (float64 master copy on the CPU) and synthetic 1×28×28 data."""
    torch.manual_seed(seed)
    m = cnn28().double()
    g = torch.Generator().manual_seed(seed + 1)
    randomize_batchnorm(m, g)
    X = torch.rand(n, 1, 28, 28, dtype=torch.float64, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return m, X, y


def _timed(f):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = f()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _ops(device, kind="hessian"):
    from tamelab.landscape import CurvatureOperator

    m, X, y = cnn_case()
    dev = CurvatureOperator(m, "cross_entropy", (X, y), kind=kind, device=device, dtype="float32")
    cpu = CurvatureOperator(m, "cross_entropy", (X, y), kind=kind, device="cpu", dtype="float64")
    return dev, cpu


@check("hvp")
def check_hvp(device) -> Row:
    dev, cpu = _ops(device)
    v = torch.randn(cpu.n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, ta = _timed(lambda: dev.matvec(v).cpu())
    b, tb = _timed(lambda: cpu.matvec(v))
    err = float((a.double() - b).norm() / b.norm())
    return Row(
        "hvp (CNN, 9146 params)", f"|Hv|={float(a.norm()):.6g}", f"|Hv|={float(b.norm()):.6g}", err, 1e-4, ta, tb
    )


@check("ggn")
def check_ggn(device) -> Row:
    dev, cpu = _ops(device, "ggn")
    v = torch.randn(cpu.n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a, ta = _timed(lambda: dev.matvec(v).cpu())
    b, tb = _timed(lambda: cpu.matvec(v))
    err = float((a.double() - b).norm() / b.norm())
    return Row("ggn product (CNN)", f"|Gv|={float(a.norm()):.6g}", f"|Gv|={float(b.norm()):.6g}", err, 1e-4, ta, tb)


@check("top5")
def check_top5(device) -> Row:
    from tamelab.landscape import top_eigenpairs

    dev, cpu = _ops(device)
    a, ta = _timed(lambda: top_eigenpairs(dev, 5, tol=1e-5, seed=0))
    b, tb = _timed(lambda: top_eigenpairs(cpu, 5, tol=1e-8, seed=0))
    diff = np.abs(np.array(a.eigenvalues) - np.array(b.eigenvalues))
    slack = np.array(a.radii) + np.array(b.radii)
    err = _rel(a.eigenvalues, b.eigenvalues)
    ok = bool(a.status.value == "ok" and b.status.value == "ok" and np.all(diff <= slack))
    return Row(
        "top-5 eigenvalues (certified)",
        f"{a.status.value} {a.eigenvalues[0]:.6g}..{a.eigenvalues[-1]:.6g}",
        f"{b.status.value} {b.eigenvalues[0]:.6g}..{b.eigenvalues[-1]:.6g}",
        err,
        float(np.max(slack)),
        ta,
        tb,
        ok,
    )


@check("trace")
def check_trace(device) -> Row:
    from tamelab.landscape import hessian_trace

    m, X, y = cnn_case()
    a, ta = _timed(lambda: hessian_trace(m, (X, y), "cross_entropy", device=device, dtype="float32"))
    b, tb = _timed(lambda: hessian_trace(m, (X, y), "cross_entropy", device="cpu", dtype="float64"))
    err = abs(a.trace - b.trace) / abs(b.trace)
    ok = a.exact and b.exact and err <= 1e-4
    return Row(
        "exact trace (GGN diagonal)",
        f"{a.trace:.8g} ({a.method})",
        f"{b.trace:.8g} ({b.method})",
        err,
        1e-4,
        ta,
        tb,
        ok,
    )


@check("surface")
def check_surface(device) -> Row:
    from tamelab.landscape import filter_normalized_direction, loss_surface

    m, X, y = cnn_case()
    d = [filter_normalized_direction(m, seed=s) for s in (1, 2)]
    a, ta = _timed(lambda: loss_surface(m, X, y, grid=9, span=0.5, directions=d, device=device, dtype="float32"))
    b, tb = _timed(lambda: loss_surface(m, X, y, grid=9, span=0.5, directions=d, device="cpu", dtype="float64"))
    err = _rel(a.losses, b.losses)
    return Row(
        "9x9 loss surface (CNN)", f"centre {a.center_loss:.6g}", f"centre {b.center_loss:.6g}", err, 1e-4, ta, tb
    )


def run(device: torch.device, only: list[str] | None = None) -> list[Row]:
    rows = []
    for name, fn in CHECKS.items():
        if only and name not in only:
            continue
        try:
            rows.append(fn(device))
        except Exception as e:  # noqa: BLE001 - a failing check is a row, not a crash of the table
            rows.append(Row(name, f"error: {type(e).__name__}: {str(e)[:60]}", "", float("nan"), 0.0, 0.0, 0.0, False))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when present)")
    ap.add_argument("--only", default="", help="comma-separated check names: " + ",".join(CHECKS))
    a = ap.parse_args(argv)
    if a.device is None:
        if not torch.cuda.is_available():
            print("no CUDA device: nothing to check (run with --device cpu for a dry run on the CPU)")
            return 0
        a.device = "cuda"
    from tamelab.inputs import resolve_device

    device = resolve_device(a.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (float32 dry run)"
    print(f"device check on {device} ({name}) against CPU float64; torch {torch.__version__}")
    t0 = time.perf_counter()
    rows = run(device, [s for s in a.only.split(",") if s] or None)
    w = max(len(r.name) for r in rows)
    print(
        f"{'check':{w}s}  {'device (float32)':34s} {'cpu (float64)':34s} {'error':>9s} {'tol':>9s} "
        f"{'t_dev':>7s} {'t_cpu':>7s}  ok"
    )
    for r in rows:
        print(
            f"{r.name:{w}s}  {r.device_value[:34]:34s} {r.cpu_value[:34]:34s} {r.error:9.2e} {r.tolerance:9.2e} "
            f"{r.seconds_device:7.2f} {r.seconds_cpu:7.2f}  {'yes' if r.ok else 'NO'}"
        )
    print(f"{sum(r.ok for r in rows)}/{len(rows)} passed in {time.perf_counter() - t0:.1f} s")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
