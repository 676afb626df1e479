"""Audit of TameLab's certificates from outside: every reproduction of a certificate that once reported ``ok`` on a
wrong answer, run against the package as it is, with the truth computed independently.

Each row: reproduction -> what the package says now (status, value) -> the truth -> verdict:

* ``refuses``      the package raises ``InputError``/``NotApplicableError`` or returns a non-``ok`` status;
* ``right``        status ``ok`` and the value equals the truth (within the stated tolerance);
* ``STILL LIES``   status ``ok`` (or "certified", "exact", ``local_minimum``) and the value is wrong.

The regression tests with assertions are in ``tests/test_certificate_audit.py``; this script prints the table
(seconds in total on one CPU thread). Run: python benchmarks/audit_certificates.py
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from tamelab._numerics import one_thread
from tamelab.errors import InputError, NotApplicableError
from tamelab.testing import MatrixOperator

F64 = torch.float64


def refused(fn):
    try:
        return fn(), None
    except (InputError, NotApplicableError) as e:
        return None, f"{type(e).__name__}: {str(e)[:60]}"


# ----------------------------------------------------------------------------- "Never certify a wrong answer"
def regions_planes():
    from tamelab.models import mlp
    from tamelab.relu import Box, Plane, regions

    m2, m1 = mlp([2, 8, 8, 1], seed=0, dtype=F64), mlp([1, 8, 1], seed=0, dtype=F64)
    cases = [
        ("regions: plane 0,0;0,0;0,0", lambda: regions(m2, Plane.through([0, 0], [0, 0], [0, 0]))),
        ("regions: plane 0,0;1,1;2,2", lambda: regions(m2, Plane.through([0, 0], [1, 1], [2, 2]))),
        ("regions: plane, 1-D input", lambda: regions(m1, Plane.through([0.0], [1.0], [2.0]))),
        ("regions: box -1e308,1e308", lambda: regions(m2, Box(-1e308, 1e308, 2))),
    ]
    rows = []
    for name, fn in cases:
        r, why = refused(fn)
        says = why if r is None else f"{r.status.value} {r.activation_regions} regions"
        rows.append((name, says, "no plane / no finite box", _verdict(r, why, False)))
    return rows


def regions_tiny():
    from tamelab.models import mlp
    from tamelab.relu import Plane, regions, regions_nd

    m = mlp([2, 64, 64, 1], seed=0, dtype=F64)
    ex = regions(m, Plane.box2d(-1.0, 1.0), mode="exact")
    fl = regions(m, Plane.box2d(-1.0, 1.0), mode="float")
    nd = regions_nd(m, (-1.0, 1.0))  # an independent enumerator (n-D traversal)
    truth = nd.activation_regions
    rows = [
        (
            "regions 2-64-64-1 exact",
            f"{ex.status.value} {ex.activation_regions}",
            f"{truth} (n-D enumerator)",
            _verdict(ex, None, ex.activation_regions == truth),
        ),
        (
            "regions 2-64-64-1 float",
            f"{fl.status.value} {fl.activation_regions}",
            f"{truth}",
            _verdict(fl, None, fl.activation_regions == truth),
        ),
    ]
    from tamelab.relu import from_layers

    e = 1e-12  # a triangle of area 5e-25 at (0.3, -0.2)
    tri = from_layers([([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [-0.3, 0.2, -0.1 - e]), ([[1.0, 1.0, 1.0]], [0.0])])
    for mode in ("exact", "float"):
        r = regions(tri, Plane.box2d(-1.0, 1.0), mode=mode)
        rows.append(
            (
                f"regions tiny triangle {mode}",
                f"{r.status.value} {r.activation_regions}",
                "7",
                _verdict(r, None, r.activation_regions == 7),
            )
        )
    return rows


def bound_prior():
    from tamelab.bounds import pac_bayes_certificate
    from tamelab.bounds.dziugaite2017nonvacuous import split_halves
    from tamelab.models import mlp

    g = torch.Generator().manual_seed(0)
    y = torch.arange(96) % 3
    X = torch.randn(96, 6, generator=g) + 2.0 * nn.functional.one_hot(y, 6).float()
    model = mlp([6, 12, 3], seed=5)
    kw = dict(mc_samples=30, epochs=1, prior_epochs=3, pilot_samples=4, test_mc_samples=5, seed=1)
    a = pac_bayes_certificate(model, (X, y), **kw)
    _, bi = split_halves(len(y), 1)
    y2 = y.clone()
    y2[bi] = y[bi[torch.randperm(len(bi), generator=torch.Generator().manual_seed(9))]]
    b = pac_bayes_certificate(model, (X, y2), **kw)
    other = pac_bayes_certificate(mlp([6, 12, 3], seed=77), (X, y), **kw)
    same = a.prior_digest == b.prior_digest == other.prior_digest
    _, why = refused(lambda: pac_bayes_certificate(model, (X, y), init_model=copy.deepcopy(model), **kw))
    return [
        (
            "bound: prior vs bound-half labels",
            f"{a.status.value} start={a.prior_start} digest equal={same}",
            "prior independent of MODEL and bound half",
            "right" if same else "STILL LIES",
        ),
        ("bound: init_model = MODEL's weights", why or "accepted", "refuse", "refuses" if why else "STILL LIES"),
    ]


# ----------------------------------------------------------------------------- the seven (and the δ′ ledger)
def erm():
    from tamelab.exact import exact_erm

    X = np.array([[t, 0.0] for t in range(5)])
    y = np.array([1.18, -0.65, -1.8, -1.92, 2.07])
    r = exact_erm(X, y, 2)
    truth = 0.27848  # brute force over every labelling (tests/test_exact_erm.py::_brute_force_erm)
    return [
        (
            "ERM collinear width 2",
            f"{r.status.value} optimum={r.optimum:.5f}",
            f"{truth}",
            _verdict(r, None, abs(r.optimum - truth) < 1e-4),
        )
    ]


def lanczos():
    from tamelab.landscape import top_eigenpairs

    n = 3000
    rows = []
    cases = [
        ("Lanczos 2 smallest of [-5,-5,0.5,3..9]", np.r_[-5, -5, 0.5, np.linspace(3, 9, n - 3)], 2, "smallest", None),
        ("Lanczos top-2 of [10,10,9.9,...]", np.r_[10, 10, 9.9, np.linspace(0, 9.8, n - 3)], 2, "largest", None),
    ]
    d = np.r_[-5, -5, 10, -1, np.linspace(1, 2, 2000 - 4)]
    v0 = torch.ones(2000, dtype=F64)
    v0[:3] = 0.0  # exactly orthogonal to the extreme eigenvectors: the Krylov space never sees them
    cases.append(("Lanczos lambda_min, start blind to it", d, 1, "smallest", v0))
    for name, spec, k, which, start in cases:
        r = top_eigenpairs(MatrixOperator.diagonal(spec), k, which=which, tol=1e-8, seed=0, v0=start)
        truth = np.sort(spec)[:k] if which == "smallest" else np.sort(spec)[::-1][:k]
        ok = np.allclose(r.eigenvalues, truth, atol=1e-6)
        rows.append(
            (
                name,
                f"{r.status.value} {np.round(r.eigenvalues, 4).tolist()} ({r.extremality})",
                f"{truth.tolist()}",
                _verdict(r, None, ok),
            )
        )

    J = torch.diag(torch.ones(59, dtype=F64), 1)  # a Jordan block: every eigenvalue is 0
    start = 0.5 ** torch.arange(60, dtype=F64)  # J start = 0.5 start - 0.5^60 e_59: residual 1e-18 at θ = 0.5
    for name, op in (("Lanczos Jordan block, dense", J), ("Lanczos Jordan block, operator", MatrixOperator(J))):
        r, why = refused(lambda op=op: top_eigenpairs(op, 1, tol=1e-6, seed=0, v0=start))
        says = why or f"{r.status.value} {np.round(r.eigenvalues, 4).tolist()} ±{r.radii[0]:.1e}"
        right = r is not None and abs(r.eigenvalues[0]) < 1e-6
        rows.append((name, says, "[0.0] (not symmetric)", _verdict(r, why, right)))
    return rows


def goldstein():
    from tamelab.tame import gradient_sampling_minimize, goldstein_stationarity, stationarity

    class IdentityViaRelus(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([1.0], dtype=F64))

        def forward(self, x):
            h = self.w * x
            return torch.relu(h - 1) - torch.relu(1 - h)

    X, y = torch.ones(8, 1, dtype=F64), torch.full((8, 1), -1.9, dtype=F64)
    r = stationarity(IdentityViaRelus(), (X, y), loss="mse", eps=0.1, m=32, seed=0)
    rows = [
        (
            "Goldstein kink, non-Sequential",
            f"{r.status.value} rho={r.rho:.3f}",
            "rho in [3.6, 3.8]",
            _verdict(r, None, 3.6 - 1e-9 <= r.rho <= 3.8 + 1e-9),
        )
    ]
    for dt, eps in ((torch.float32, 1e-8), (F64, 1e-17)):
        res, why = refused(
            lambda dt=dt, eps=eps: goldstein_stationarity(
                lambda w: (torch.relu(w - 1) - torch.relu(1 - w)).sum(), torch.ones(1, dtype=dt), eps=eps
            )
        )
        says = why or f"{res.status.value} rho={res.rho}"
        rows.append(
            (f"Goldstein eps={eps:g} {str(dt)[6:]}", says, "rho = 1", _verdict(res, why, res and res.rho > 0.9))
        )

    r, why = refused(
        lambda: goldstein_stationarity(
            lambda w: (torch.relu(w) - torch.relu(-w)).sum(), torch.full((3,), 1e300, dtype=F64), eps=1e290, m=8, seed=0
        )
    )
    says = why or f"{r.status.value} rho={r.rho:.4f} radius={r.eps_effective:.3g}"
    right = r is not None and abs(r.rho - 3**0.5) < 1e-9 and r.eps_effective <= 1e290 * (1 + 1e-6)
    rows.append(
        ("Goldstein at x = 1e300, eps = 1e290", says, "rho = sqrt(3), radius <= 1e290", _verdict(r, why, right))
    )

    def artefact(x):  # (x - 1) + (x - 1)^2 / 2 with relu'(0) = 0 at the kink x = 1
        x = float(x[0])
        return max(x - 1, 0.0) - max(1 - x, 0.0) + 0.5 * (x - 1) ** 2, np.array([float(x != 1) + (x - 1)])

    b = gradient_sampling_minimize(artefact, [1.0], seed=0, max_iter=300)
    says = f"{b.status.value} certified={b.certified} x={b.x[0]:.3g}"
    rows.append(
        (
            "BLO at an AD kink artefact",
            says,
            "x* = 0; x0 = 1 not stationary",
            "refuses" if not b.certified else ("right" if abs(b.x[0]) < 1e-3 else "STILL LIES"),
        )
    )
    return rows


def tameness():
    from tamelab.tame import NONE, certify
    from tamelab.testing.counterexamples import TAMENESS_COUNTEREXAMPLES, SinWhenTraining

    rows = []
    for name, cls in TAMENESS_COUNTEREXAMPLES:
        c = certify(cls().train(), torch.zeros(2, 3), loss="mse")
        says = f"{c.status.value} structure={c.structure}"
        rows.append((f"tameness: {name}", says, f"not o-minimal ({NONE})", _verdict(c, None, c.structure == NONE)))
    m = SinWhenTraining().train()
    certify(m, torch.zeros(2, 3))
    rows.append(
        (
            "tameness: caller's mode restored",
            f"training={m.training}",
            "training=True",
            "right" if m.training else "STILL LIES",
        )
    )
    return rows


def local_min():
    from tamelab.exact import local_min_verdict

    rows = []
    th = torch.zeros(48, dtype=F64)
    r = local_min_verdict(lambda t: (t[1:] ** 2).sum() - t[0] ** 4, th, seed=0)
    rows.append(("local min: sum t_i^2 - t0^4, K=48", r.verdict, "saddle", _lm(r.verdict, "saddle")))
    th = torch.zeros(420, dtype=F64)
    r = local_min_verdict(lambda t: (t[1:] ** 2).sum() - 3 * t[0] ** 2, th, seed=0)
    rows.append(
        ("local min: sum t_i^2 - 3t0^2, K=420", f"{r.verdict} ({r.hessian_method})", "saddle", _lm(r.verdict, "saddle"))
    )
    r = local_min_verdict(lambda t: (t[1:] ** 2).sum() - 3 * t[0] ** 2, th, seed=0, max_dense=100)
    rows.append(("  same, Lanczos path", f"{r.verdict} ({r.hessian_method})", "saddle", _lm(r.verdict, "saddle")))
    th = torch.zeros(10, dtype=F64)
    r = local_min_verdict(lambda t: (t[1:] ** 2).sum() + t[0] ** 4, th, seed=0)
    rows.append(
        (
            "local min: sum t_i^2 + t0^4 (degenerate)",
            r.verdict,
            "minimum (2nd order cannot tell)",
            "refuses" if r.verdict != "local_minimum" else "right",
        )
    )
    return rows


def tropical_far():
    from tamelab.models import lower
    from tamelab.relu import from_layers, tropical

    m = from_layers([([[1e-6, 1e-6]], [-3.0]), ([[1.0]], [0.0])])
    f = tropical(m)
    x = np.array([[2e6, 2e6]])
    got, want = float(f(x)[0, 0]), float(lower(m).forward(x)[0, 0])
    return [
        (
            "tropical relu(1e-6(x1+x2)-3)",
            f"{f.status.value} F-G(2e6,2e6)={got:g}",
            f"{want:g}",
            _verdict(f, None, abs(got - want) < 1e-9),
        )
    ]


def trace():
    from tamelab.landscape import hessian_trace
    from tamelab.testing import dense_hessian

    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(30, 4, dtype=F64, generator=g), torch.randint(0, 3, (30,), generator=g)
    rows = []
    for name, make in (
        ("tanh", lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))),
        ("relu+layernorm", lambda: nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.ReLU(), nn.Linear(5, 3))),
    ):
        torch.manual_seed(0)
        m = make().double()
        truth = float(torch.trace(dense_hessian(m, "cross_entropy", X, y)))
        r = hessian_trace(m, (X, y), "cross_entropy", hvps=30, seed=1)
        says = f"{r.status.value} {r.method} {r.trace:.4f}±{r.stderr:.3f} exact={r.exact}"
        right = abs(r.trace - truth) <= (1e-9 * abs(truth) if r.exact else 6 * r.stderr)
        rows.append(
            (
                f"trace: {name} MLP",
                says,
                f"{truth:.4f}",
                "STILL LIES" if (r.exact and not right) else ("right" if right else "STILL LIES"),
            )
        )
        from tamelab.tasks.curvature import hessian_summary  # what `tamelab hessian --trace` runs

        h = hessian_summary(m, (X, y), trace=True, top_k=1)
        if h.trace is None:
            says, v = (
                f"{h.status.value} trace=None, estimate {h.trace_estimate:.4f}±{h.trace_estimate_stderr:.3f}",
                ("right" if abs(h.trace_estimate - truth) <= 6 * h.trace_estimate_stderr else "STILL LIES"),
            )
        else:
            says = f"{h.status.value} exact trace {h.trace:.4f} stderr {h.trace_stderr}"
            v = "right" if abs(h.trace - truth) <= 1e-9 * abs(truth) else "STILL LIES"
        rows.append((f"hessian task --trace: {name}", says, f"{truth:.4f}", v))
    return rows


def pac_bayes_ledger():
    from tamelab.bounds import pac_bayes_certificate
    from tamelab.models import mlp

    g = torch.Generator().manual_seed(0)
    y = torch.arange(96) % 3
    X = torch.randn(96, 6, generator=g) + 2.0 * nn.functional.one_hot(y, 6).float()
    r = pac_bayes_certificate(
        mlp([6, 8, 3], seed=0),
        (X, y),
        mode="full",
        seed=0,
        mc_samples=30,
        epochs=1,
        prior_epochs=3,
        pilot_samples=4,
        test_mc_samples=5,
    )
    mc = [e["delta"] for e in r.ledger if e["statement"].startswith("Monte-Carlo")]
    spent = sum(e["delta"] for e in r.ledger)
    ok = abs(r.confidence - (1 - spent)) < 1e-15 and abs(spent - 0.035) < 1e-15
    return [
        (
            "PAC-Bayes delta' over 4 prior scales",
            f"{r.status.value} conf={r.confidence:.4f} mc deltas={mc}",
            "1 - delta - delta' with delta' split",
            "right" if ok else "STILL LIES",
        )
    ]


# ----------------------------------------------------------------------------- table
def _verdict(res, why, right) -> str:
    if res is None:
        return "refuses" if why else "STILL LIES"
    status = getattr(res, "status", None)
    status = getattr(status, "value", status)
    if status != "ok":
        return "refuses"
    return "right" if right else "STILL LIES"


def _lm(verdict: str, truth: str) -> str:
    if verdict == truth:
        return "right"
    return "STILL LIES" if verdict in ("local_minimum", "global_minimum") else "refuses"


def main() -> int:
    rows = []
    t0 = time.perf_counter()
    with one_thread():
        for block in (
            regions_planes,
            regions_tiny,
            bound_prior,
            erm,
            lanczos,
            goldstein,
            tameness,
            local_min,
            tropical_far,
            trace,
            pac_bayes_ledger,
        ):
            t = time.perf_counter()
            rows += block()
            print(f"# {block.__name__}: {time.perf_counter() - t:.1f} s", flush=True)
    w = [max(len(str(r[i])) for r in rows) for i in range(4)]
    w = [min(x, 70) for x in w]
    head = ("reproduction", "package says now", "truth", "verdict")
    print(" | ".join(h.ljust(x) for h, x in zip(head, w)))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(str(c)[:70].ljust(x) for c, x in zip(r, w)))
    lies = [r for r in rows if r[3] == "STILL LIES"]
    print(f"\n{len(rows)} reproductions, {len(lies)} still lie, {time.perf_counter() - t0:.0f} s")
    return 1 if lies else 0


if __name__ == "__main__":
    raise SystemExit(main())
