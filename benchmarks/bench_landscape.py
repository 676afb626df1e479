"""Curvature and landscape: ours vs PyHessian, curvlinops and loss-landscapes on the same model and data, one run.

Work (issue 4): MLP 64-128-128-10 with torch.manual_seed(0) default init, untrained, digits X/16 (all 1797
samples), full batch, mean cross-entropy, one thread. Known values: top-5 = 0.380174, 0.371137, 0.353712,
0.334607, 0.333535; trace = 3.0557848.
Floors: top-k eigenpairs need at least ~k+few Hessian-vector products (HVPs); a certified pair costs one
more HVP for its residual. A trace to relative error ε by Hutchinson needs ~2‖H‖_F²/(ε tr H)² matvecs;
the exact ReLU-net trace needs one backward pass per output class per sample (ce_ggn_diagonal).
A g×g loss surface needs g² full-batch forward passes (no floor below that).

Run: python benchmarks/bench_landscape.py [--quick]
"""

import argparse
import time

import numpy as np
import torch

from tamelab.data import load_data
from tamelab.landscape import CurvatureOperator, ce_ggn_diagonal, hutchpp, loss_surface, top_eigenpairs


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    tr = load_data("digits", split="all", seed=0)
    X, y = torch.as_tensor(tr.X, dtype=torch.float32), torch.as_tensor(tr.y)
    crit = torch.nn.CrossEntropyLoss()
    k = 5
    print(f"model 64-128-128-10 (seed 0, untrained), {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(X)} samples, float32, 1 thread")

    op = CurvatureOperator(model, crit, (X, y))
    v = torch.randn(op.theta.numel(), dtype=torch.float64)
    op.matvec(v)  # warm-up
    _, t_hvp = _timed(lambda: [op.matvec(v) for _ in range(5)])
    eig, t_ours = _timed(lambda: top_eigenpairs(op, k, tol=1e-6))
    print(f"\nours: one HVP {t_hvp / 5 * 1e3:.1f} ms")
    print(f"{'top-k eigenvalues':>26} {'seconds':>8} {'HVPs':>6}  values (max residual/|λ|)")
    print(f"{'ours (Lanczos, certified)':>26} {t_ours:8.2f} {eig.hvps:6d}  {np.round(eig.eigenvalues, 6).tolist()} "
          f"({max(r / abs(l) for r, l in zip(eig.residuals, eig.eigenvalues)):.1e})")
    try:
        from pyhessian import hessian

        for tol, max_iter in ((1e-3, 100), (1e-6, 1000)):
            vals, t_ph = _timed(lambda: hessian(model, crit, data=(X, y), cuda=False).eigenvalues(top_n=k, maxIter=max_iter, tol=tol)[0])
            err = max(abs(a - b) / abs(b) for a, b in zip(sorted(vals, reverse=True), eig.eigenvalues))
            print(f"{'PyHessian tol ' + format(tol, '.0e'):>26} {t_ph:8.2f} {'':>6}  {np.round(sorted(vals, reverse=True), 6).tolist()}   "
                  f"ratio {t_ph / t_ours:.1f}x, rel. error {err:.1e}")
    except ImportError:
        print("PyHessian not installed (pip install pyhessian --no-deps)")
    try:
        from curvlinops import HessianLinearOperator
        from scipy.sparse.linalg import eigsh

        def cl():
            H = HessianLinearOperator(model, crit, list(model.parameters()), [(X, y)]).to_scipy()
            return eigsh(H, k=k, which="LA", tol=1e-6)[0]

        vals, t_cl = _timed(cl)
        print(f"{'curvlinops + eigsh':>26} {t_cl:8.2f} {'':>6}  {np.round(sorted(vals, reverse=True), 6).tolist()}   ratio {t_cl / t_ours:.1f}x")
    except ImportError:
        print("curvlinops not installed (pip install curvlinops-for-pytorch --no-deps)")

    print(f"\n{'trace':>26} {'seconds':>8} value")
    exact, t_ex = _timed(lambda: float(ce_ggn_diagonal(model, X, y).sum()))
    print(f"{'ours exact (ReLU: H = GGN)':>26} {t_ex:8.2f} {exact:.7f}")
    tp, t_tp = _timed(lambda: hutchpp(op, 99, seed=0))
    print(f"{'ours Hutch++ (99 mv)':>26} {t_tp:8.2f} {tp.trace:.4f} ± {tp.stderr:.4f}")
    try:
        from pyhessian import hessian

        tr_ph, t_trph = _timed(lambda: float(np.mean(hessian(model, crit, data=(X, y), cuda=False).trace(maxIter=100, tol=1e-3))))
        print(f"{'PyHessian Hutchinson':>26} {t_trph:8.2f} {tr_ph:.4f}   (|err| {abs(tr_ph - exact):.3f}; exact ratio {t_trph / t_ex:.1f}x)")
    except ImportError:
        pass

    g = 11 if a.quick else 41
    print(f"\n{'loss surface':>26} {'seconds':>8} grid {g}x{g}")
    surf, t_s = _timed(lambda: loss_surface(model, X, y, grid=g, span=1.0, seed=0))
    print(f"{'ours (filter-normalised)':>26} {t_s:8.2f} centre {float(np.asarray(surf.losses)[g // 2, g // 2]):.5f}")
    try:
        import loss_landscapes
        import loss_landscapes.metrics

        metric = loss_landscapes.metrics.Loss(crit, X, y)
        ll, t_ll = _timed(lambda: loss_landscapes.random_plane(model, metric, distance=1.0, steps=g, normalization="filter",
                                                                deepcopy_model=True))
        print(f"{'loss-landscapes':>26} {t_ll:8.2f} (shape {np.asarray(ll).shape})   ratio {t_ll / t_s:.1f}x")
    except ImportError:
        print("loss-landscapes not installed (pip install loss-landscapes --no-deps)")
    _matching()


def _matching():
    from tamelab.landscape import weight_matching

    torch.manual_seed(1)
    mk = lambda: torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),  # noqa: E731
                                     torch.nn.Linear(128, 10))
    A, B = mk(), mk()
    weight_matching(A, B)
    t = time.perf_counter()
    weight_matching(A, B)
    print(f"\nweight matching of two 64-128-128-10 nets: {time.perf_counter() - t:.4f} s (target <= 0.02 s)")


if __name__ == "__main__":
    main()

