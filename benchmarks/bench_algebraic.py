"""Exact Jacobian rank over GF(p) (ours, vectorised NumPy) vs SymPy's exact rational rank, same matrix.

Floor: one Gaussian elimination of an m×n matrix, O(m n min(m,n)) modular operations.
Run: python benchmarks/bench_algebraic.py [--quick]
"""

import argparse
import time

import numpy as np
import sympy as sp

from tamelab.algebraic import neuromanifold_dimension, rank_mod
from tamelab.algebraic.kileel2019neuromanifold import jacobian_mod_p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    cases = [((3, 2, 2, 1), 2)] + ([] if a.quick else [((3, 3, 3, 1), 2), ((3, 3, 1), 3)])
    print(f"{'architecture':>16} {'shape':>10} {'ours (s)':>9} {'sympy (s)':>10} {'ratio':>7} {'rank':>5}")
    for w, r in cases:
        J = jacobian_mod_p(w, r, np.random.default_rng(0))
        Js = J % 1000  # sympy on the same-sized integer matrix (smaller entries so it finishes)
        t = time.perf_counter()
        rk = rank_mod(Js)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        rs = sp.Matrix(Js.tolist()).rank()
        t_sp = time.perf_counter() - t
        assert rk == rs, (rk, rs)
        print(f"{str(w) + '^' + str(r):>16} {str(J.shape):>10} {t_ours:9.4f} {t_sp:10.3f} {t_sp / t_ours:7.0f} {rk:5d}")
    t = time.perf_counter()
    from tamelab.algebraic import KTB_TABLE

    for w, r, _ in KTB_TABLE:
        neuromanifold_dimension(w, r)
    print(f"whole 20-row KTB table, 3 seeds each: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
