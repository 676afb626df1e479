"""Exact ERM (ours: enumeration + one QP per surviving combination) vs a generic MIQP (SCIP, big-M), same data.

Problem: one-hidden-layer ReLU net, n = 2 inputs, width w = 2, squared loss, planted-noisy data (a width-2
teacher plus N(0, 0.1²) noise). The MIQP fixes the output signs s ∈ {±1}^w (by positive homogeneity;
w+1 sign multisets up to symmetry) and models h_ij = relu(ã_i·x_j + b̃_i) with binaries z_ij and big-M
constraints, |ã|, |b̃| ≤ B with B = 2·max|coefficient of our optimum| + 1 (so the MIQP's box contains our
optimum — the MIQP gets a head start it would not have in practice).

Floor for ours: the number of (sign, dichotomy) combinations is C(2K+w−1, w) with K = 2·Σ_{i≤n} C(D−1, i)
dichotomies, i.e. O(D^{nw}); each is pruned by an O(D) bound or an O(D·(n+1)²w²) least-squares relaxation,
and only the survivors cost a QP. We print how time and counts grow with D.

Run: python benchmarks/bench_erm.py [--quick] [--scip-limit SECONDS]   (needs `pip install pyscipopt` for the anchor)
"""

import argparse
import time

import numpy as np

from tamelab.exact import dichotomies, exact_erm


def planted(D, n=2, w=2, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((D, n))
    A, b = rng.standard_normal((w, n)), rng.standard_normal(w)
    a = rng.choice([-1.0, 1.0], w) * rng.uniform(0.5, 1.5, w)
    return X, np.maximum(X @ A.T + b, 0) @ a + noise * rng.standard_normal(D)


def scip_miqp(X, y, w, B, time_limit):
    from pyscipopt import Model, quicksum

    D, n = X.shape
    best, status = np.inf, "optimal"
    t0 = time.perf_counter()
    for npos in range(w + 1):  # sign multisets: npos units with s = +1, the rest −1
        s = [1.0] * npos + [-1.0] * (w - npos)
        m = Model()
        m.hideOutput()
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            return best, "time limit", time.perf_counter() - t0
        m.setParam("limits/time", left)
        A = [[m.addVar(lb=-B, ub=B) for _ in range(n)] for _ in range(w)]
        b = [m.addVar(lb=-B, ub=B) for _ in range(w)]
        Mbig = B * (np.abs(X).sum(1).max() + 1)
        h = [[m.addVar(lb=0, ub=Mbig) for _ in range(D)] for _ in range(w)]
        z = [[m.addVar(vtype="B") for _ in range(D)] for _ in range(w)]
        for i in range(w):
            for j in range(D):
                pre = quicksum(A[i][k] * X[j, k] for k in range(n)) + b[i]
                m.addCons(h[i][j] >= pre)
                m.addCons(h[i][j] <= pre + Mbig * (1 - z[i][j]))
                m.addCons(h[i][j] <= Mbig * z[i][j])
        t = m.addVar(lb=0)
        r = [quicksum(s[i] * h[i][j] for i in range(w)) - y[j] for j in range(D)]
        m.addCons(t >= quicksum(rj * rj for rj in r))
        m.setObjective(t, "minimize")
        m.optimize()
        if m.getStatus() != "optimal":
            status = m.getStatus()
        if m.getNSols():
            best = min(best, m.getObjVal() / D)
    return best, status, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scip-limit", type=float, default=600.0)
    a = ap.parse_args()
    Ds = [10, 15, 20] if a.quick else [10, 15, 20, 30, 40]
    print("n = 2, w = 2, planted-noisy data (seed 0)")
    print(f"{'D':>4} {'dichot.':>8} {'combinations':>13} {'QPs':>5} {'ours (s)':>9} {'optimum':>12} {'KKT res':>9} "
          f"{'SCIP (s)':>9} {'SCIP optimum':>13} {'status':>11} {'ratio':>7}")
    for D in Ds:
        X, y = planted(D)
        r = exact_erm(X, y, 2, seed=0)
        B = 2 * float(np.abs(np.r_[np.ravel(r.A), r.b]).max()) + 1
        try:
            f_s, st, t_s = scip_miqp(X, y, 2, B, a.scip_limit)
        except ImportError:
            f_s, st, t_s = float("nan"), "n/a", float("nan")
        print(f"{D:4d} {r.dichotomies:8d} {r.combinations:13d} {r.qps_solved:5d} {r.seconds:9.2f} {r.optimum:12.8f} "
              f"{r.kkt_residual:9.1e} {t_s:9.2f} {f_s:13.8f} {st:>11} {t_s / r.seconds:7.1f}")
    print("growth: combinations ~ D^{nw} = D^4; time follows the surviving QPs and the O(D^4) bound evaluations")
    # the dichotomy enumeration alone: float filter (general position) vs exact integer arithmetic (degenerate data)
    print("\ndichotomy enumeration, n = 2: general position (float filter) vs integer grid (collinear triples, ties: "
          "exact arithmetic where the filter cannot decide); best of 3")
    print(f"{'D':>4} {'general (s)':>12} {'K':>6} {'grid (s)':>10} {'K':>6} {'ratio':>7}")
    for D in ([10, 20] if a.quick else [10, 20, 40]):
        Xg = np.random.default_rng(0).standard_normal((D, 2))
        Xd = np.random.default_rng(0).integers(0, 5, size=(D, 2)).astype(float)
        tg, td = [], []
        for _ in range(3):  # interleaved
            t0 = time.perf_counter()
            kg = len(dichotomies(Xg))
            tg.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            kd = len(dichotomies(Xd))
            td.append(time.perf_counter() - t0)
        print(f"{D:4d} {min(tg):12.3f} {kg:6d} {min(td):10.3f} {kd:6d} {min(td) / min(tg):7.1f}")
    print("floor: C(D, n) candidate rays, each an O(n³) null vector and an O(D n) sign pass")
    Xc = np.array([[t, 0.0] for t in range(5)])
    yc = np.array([1.18, -0.65, -1.8, -1.92, 2.07])
    r = exact_erm(Xc, yc, 2)
    print(f"\nissue-17 reproduction (collinear, constant feature): optimum {r.optimum:.6f} (was 2.605; restarts "
          f"{r.incumbent_start:.6f}), status {r.status.value}, {r.dichotomies} dichotomies, {r.seconds:.2f} s")


if __name__ == "__main__":
    main()
