"""Curvature and landscape: ours vs PyHessian, curvlinops and loss-landscapes on the same model and data, one run.

Work (issue 4): MLP 64-128-128-10 with torch.manual_seed(0) default init, untrained, digits X/16 (all 1797
samples), full batch, mean cross-entropy, one thread. Known values: top-5 = 0.380174, 0.371137, 0.353712,
0.334607, 0.333535; trace = 3.0557848.
Floors: top-k eigenpairs need at least ~k+few Hessian-vector products (HVPs); a certified pair costs one
more HVP for its residual. A trace to relative error ε by Hutchinson needs ~2‖H‖_F²/(ε tr H)² matvecs;
the exact ReLU-net trace needs one backward pass per output class per sample (ce_ggn_diagonal).
A g×g loss surface needs g² full-batch forward passes (no floor below that).

Run: python benchmarks/bench_landscape.py [--quick] [--workers 2]
"""

import argparse
import time

import numpy as np
import torch

from tamelab._numerics import one_thread
from tamelab.data import load_data
from tamelab.landscape import (
    CurvatureOperator,
    ce_ggn_diagonal,
    hutchinson,
    hutchpp,
    loss_surface,
    top_eigenpairs,
    xtrace,
)


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers for the distributed surface (0: skip)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    tr = load_data("digits", split="all", seed=0)
    X, y = torch.as_tensor(tr.X, dtype=torch.float32), torch.as_tensor(tr.y)
    crit = torch.nn.CrossEntropyLoss()
    k = 5
    known = np.array([0.380174, 0.371137, 0.353712, 0.334607, 0.333535])
    print(
        f"model 64-128-128-10 (seed 0, untrained), {sum(p.numel() for p in model.parameters())} parameters, "
        f"{len(X)} samples, float32, 1 thread"
    )
    with one_thread():  # torch and numpy/SciPy BLAS: the workload is single-threaded
        _curvature(model, X, y, crit, k, known)
        _surface(model, X, y, crit, 11 if a.quick else 41, a.workers)
    _matching()


def _curvature(model, X, y, crit, k, known):
    op = CurvatureOperator(model, crit, (X, y))
    slow = CurvatureOperator(model, crit, (X, y), fast_path=False)
    v = torch.randn(op.theta.numel())
    for o in (op, slow):
        o.matvec(v)  # warm-up (and the cached forward state)
    t_hvp = min(_timed(lambda: [op.matvec(v) for _ in range(10)])[1] for _ in range(3)) / 10
    t_hvp_ag = min(_timed(lambda: [slow.matvec(v) for _ in range(10)])[1] for _ in range(3)) / 10
    print(
        f"\none HVP: {t_hvp * 1e3:.1f} ms ({op.path}), {t_hvp_ag * 1e3:.1f} ms (autograd, cached gradient graph); "
        f"floor ≈ 14 matrix products ≈ 0.5 GFLOP"
    )
    try:
        from pyhessian import hessian

        H = hessian(model, crit, data=(X, y), cuda=False)
        vs = [torch.randn_like(p) for p in H.params]
        from pyhessian.utils import hessian_vector_product

        hessian_vector_product(H.gradsH, H.params, vs)
        _, t_ph = _timed(lambda: [hessian_vector_product(H.gradsH, H.params, vs) for _ in range(10)])
        print(f"PyHessian one HVP: {t_ph / 10 * 1e3:.1f} ms   ratio {t_ph / 10 / t_hvp:.1f}x")
    except ImportError:
        print("PyHessian not installed (pip install pyhessian --no-deps)")
    eig, t_ours = _timed(lambda: top_eigenpairs(op, k, tol=1e-6))
    err = np.abs(np.array(eig.eigenvalues) - known) / known
    print(f"{'top-k eigenvalues':>26} {'seconds':>8} {'HVPs':>6}  values (max residual/|λ|; max |λ-known|/known)")
    print(
        f"{'ours (Lanczos, certified)':>26} {t_ours:8.2f} {eig.hvps:6d}  {np.round(eig.eigenvalues, 6).tolist()} "
        f"({max(r / abs(lam) for r, lam in zip(eig.residuals, eig.eigenvalues)):.1e}; {err.max():.1e}, "
        "known to 6 decimals)"
    )
    try:
        from pyhessian import hessian

        for tol, max_iter in ((1e-3, 100), (1e-6, 1000)):
            vals, t_ph = _timed(
                lambda max_iter=max_iter, tol=tol: hessian(model, crit, data=(X, y), cuda=False).eigenvalues(
                    top_n=k, maxIter=max_iter, tol=tol
                )[0]
            )
            e = max(abs(a - b) / abs(b) for a, b in zip(sorted(vals, reverse=True), eig.eigenvalues))
            print(
                f"{'PyHessian tol ' + format(tol, '.0e'):>26} {t_ph:8.2f} {'':>6}  "
                f"{np.round(sorted(vals, reverse=True), 6).tolist()}   "
                f"ratio {t_ph / t_ours:.1f}x, rel. error {e:.1e}"
            )
    except ImportError:
        pass
    try:
        from curvlinops import HessianLinearOperator
        from scipy.sparse.linalg import eigsh

        def cl():
            Hc = HessianLinearOperator(model, crit, list(model.parameters()), [(X, y)]).to_scipy()
            return eigsh(Hc, k=k, which="LA", tol=1e-6)[0]

        vals, t_cl = _timed(cl)
        print(
            f"{'curvlinops + eigsh':>26} {t_cl:8.2f} {'':>6}  {np.round(sorted(vals, reverse=True), 6).tolist()}   "
            f"ratio {t_cl / t_ours:.1f}x (target >= 3x)"
        )
    except ImportError:
        print("curvlinops not installed (pip install curvlinops-for-pytorch --no-deps)")

    print(f"\n{'trace':>26} {'seconds':>8} value")
    exact, t_ex = _timed(lambda: float(ce_ggn_diagonal(model, X, y).sum()))
    print(f"{'ours exact (ReLU: H_ii = G_ii)':>26} {t_ex:8.2f} {exact:.7f}   (10 per-sample-gradient passes, no HVP)")
    for name, est in (("Hutch++", hutchpp), ("XTrace", xtrace), ("Hutchinson", hutchinson)):
        runs, t_tr = _timed(lambda est=est: [est(op, 100, seed=s) for s in range(5)])
        errs = [abs(r.trace - exact) / exact for r in runs]
        cover = sum(abs(r.trace - exact) <= 2 * r.stderr for r in runs)
        print(
            f"{'ours ' + name + ' (100 HVPs)':>26} {t_tr / 5:8.2f} {runs[0].trace:.4f} ± {runs[0].stderr:.4f}; "
            "5 seeds: "
            f"|err| {np.mean(errs):.1%} mean, {max(errs):.1%} max; 2·stderr covers {cover}/5"
        )
    # Hutchinson with Rademacher probes: Var = 2(‖H‖_F² − Σ H_ii²); a 2 % stderr needs m = Var/(0.02 tr)² probes
    runs = hutchinson(op, 100, seed=0)
    m_needed = (runs.stderr * 10 / (0.02 * exact)) ** 2
    print(
        f"{'':>26} a 2 % stochastic estimate here needs ≈ {m_needed:,.0f} Hutchinson probes (flat, indefinite spectrum)"
    )
    try:
        from pyhessian import hessian

        tr_ph, t_trph = _timed(
            lambda: float(np.mean(hessian(model, crit, data=(X, y), cuda=False).trace(maxIter=100, tol=1e-3)))
        )
        print(
            f"{'PyHessian Hutchinson':>26} {t_trph:8.2f} {tr_ph:.4f}   (|err| {abs(tr_ph - exact) / exact:.1%}; "
            f"exact ratio {t_trph / t_ex:.1f}x)"
        )
    except ImportError:
        pass


def _surface(model, X, y, crit, g, workers):
    print(f"\n{'loss surface':>26} {'seconds':>8} grid {g}x{g} (= {g * g} full-batch forward passes)")
    surf, t_s = _timed(lambda: loss_surface(model, X, y, grid=g, span=1.0, seed=0))
    print(f"{'ours (filter-normalised)':>26} {t_s:8.2f} centre {float(np.asarray(surf.losses)[g // 2, g // 2]):.5f}")
    t_ll = None
    try:
        import loss_landscapes
        import loss_landscapes.metrics

        metric = loss_landscapes.metrics.Loss(crit, X, y)
        ll, t_ll = _timed(
            lambda: loss_landscapes.random_plane(
                model, metric, distance=1.0, steps=g, normalization="filter", deepcopy_model=True
            )
        )
        print(
            f"{'loss-landscapes':>26} {t_ll:8.2f} (shape {np.asarray(ll).shape})   "
            f"ratio {t_ll / t_s:.2f}x (target >= 1.5x)"
        )
    except ImportError:
        print("loss-landscapes not installed (pip install loss-landscapes --no-deps)")
    if workers:
        try:
            from tamelab.parallel import get_executor

            ex, t_start = _timed(lambda: get_executor("dask", workers=workers))
        except Exception as e:  # dask missing or the cluster cannot start: say so and go on
            print(f"Dask surface skipped: {e}")
            return
        try:
            ex.client.run(lambda: __import__("tamelab.landscape"))  # every worker imports torch + tamelab first
            loss_surface(model, X, y, grid=5, span=1.0, seed=0, executor=ex)
            sd, t_d = _timed(lambda: loss_surface(model, X, y, grid=g, span=1.0, seed=0, executor=ex))
            same = np.array_equal(np.asarray(sd.losses), np.asarray(surf.losses))
            print(
                f"{'ours, Dask ' + str(workers) + ' workers':>26} {t_d:8.2f} "
                f"(cluster start {t_start:.1f} s, not included; "
                f"identical to serial: {same})   speed-up {t_s / t_d:.2f}x (target >= 1.8x)"
                + (f", vs loss-landscapes {t_ll / t_d:.2f}x" if t_ll else "")
            )
        finally:
            ex.close()


def _matching():
    from tamelab.landscape import weight_matching

    torch.manual_seed(1)

    def mk():
        return torch.nn.Sequential(
            torch.nn.Linear(64, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )

    A, B = mk(), mk()
    weight_matching(A, B)
    t = time.perf_counter()
    weight_matching(A, B)
    print(f"\nweight matching of two 64-128-128-10 nets: {time.perf_counter() - t:.4f} s (target <= 0.02 s)")


if __name__ == "__main__":
    main()
