"""Named tolerances and the dtype policy, in one place.

Exact geometry defaults to float64. Every tolerance used by a geometry or
solver routine is named here so that it can be audited and changed together.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import torch

__all__ = [
    "one_thread",
    "mean_cross_entropy",
    "DEFAULT_DTYPE",
    "NP_DTYPE",
    "GEOM_ATOL",
    "LP_FEAS_TOL",
    "INTERIOR_MARGIN",
    "MERGE_ATOL",
    "RANK_RTOL",
    "KKT_TOL",
    "ZERO_COST",
    "BALL_RESOLUTION",
    "BALL_ROUNDING_RTOL",
    "KINK_DIRECTION_SEED",
    "FILTER_SAFETY",
    "allclose_report",
]

#: torch dtype of exact-geometry / certificate computations.
DEFAULT_DTYPE = torch.float64
#: numpy dtype of exact-geometry computations.
NP_DTYPE = np.float64

#: absolute tolerance for "on the hyperplane" tests of pre-activations (float mode).
GEOM_ATOL = 1e-9
#: primal feasibility tolerance passed to LP solvers.
LP_FEAS_TOL = 1e-9
#: minimum Chebyshev radius / LP margin for a region to count as full-dimensional.
INTERIOR_MARGIN = 1e-7
#: tolerance for merging affine maps (slopes/intercepts) into one linear region.
MERGE_ATOL = 1e-9
#: relative singular-value threshold for numerical ranks (always report the gap too).
RANK_RTOL = 1e-7
#: KKT residual below which a convex sub-problem is called solved.
KKT_TOL = 1e-6
#: a cost below ZERO_COST * (1 + ||Y||^2) counts as zero (constructive.md §0).
ZERO_COST = 1e-20
#: gradient sampling: a radius below BALL_RESOLUTION * (eps_mach * ||x|| + tiny) of the dtype is refused
#: (sampled points would round onto x; tamelab.tame.nonsmooth.goldstein1977optimization.check_radius).
BALL_RESOLUTION = 100.0
#: gradient sampling: rounding a sample to the dtype may move it by at most this fraction of the radius.
BALL_ROUNDING_RTOL = 0.05
#: kink detection: seed of the fixed pseudo-random tangent direction along which ties are compared (a tie is a kink
#: when the tied quantities' tangents differ; tamelab.tame.nonsmooth._kinks).
KINK_DIRECTION_SEED = 20260519


def allclose_report(a: Any, b: Any, *, rtol: float = 1e-7, atol: float = 0.0) -> tuple[bool, str]:
    """Compare two arrays and return ``(ok, message)`` with the worst entry."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False, f"shape mismatch {a.shape} vs {b.shape}"
    if a.size == 0:
        return True, "empty"
    err = np.abs(a - b)
    tol = atol + rtol * np.abs(b)
    i = int(np.argmax(err - tol))
    ok = bool(np.all(err <= tol))
    return ok, f"max excess at flat index {i}: |{a.flat[i]!r} - {b.flat[i]!r}| = {err.flat[i]:.3e}"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run tiny, latency-bound kernels on one thread:

    torch's intra-op pool and numpy/SciPy's BLAS (through threadpoolctl, when installed); the previous settings are
    restored.

    On a shared 2-core machine OpenMP contention made small-matmul loops 30-100x slower with the
    default two threads (measured in the ReLU'(0) and Adam-vs-NAG studies), and two-thread OpenBLAS
    made weight matching of two 64-128-128-10 nets vary between 0.007 s and 0.4 s.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    ctl = _blas_controller()
    try:
        if ctl is None:
            yield
        else:
            with ctl.limit(limits=1, user_api="blas"):
                yield
    finally:
        torch.set_num_threads(n)


_BLAS_CTL: list[Any] = []


def _blas_controller() -> Any:
    """A cached ``threadpoolctl.ThreadpoolController`` (1 ms to build; a limit then costs ~15 µs)."""
    if not _BLAS_CTL:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CTL.append(ThreadpoolController())
        except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _BLAS_CTL.append(None)
    return _BLAS_CTL[0]


def mean_cross_entropy(logits: torch.Tensor, y: torch.Tensor, *, class_dim: int = 1) -> tuple[float, int]:
    """Mean cross-entropy of ``logits`` against class indices ``y``, and the number of correct argmax.

    ``logits`` is N×C (``class_dim=1``) or C×N (``class_dim=0``, the layout a last layer computed as
    ``W @ hᵀ`` produces). Same value as ``torch.nn.functional.cross_entropy`` (to float rounding) and the
    same predictions as ``argmax`` (first maximum), in one ``max`` pass plus an explicit log-sum-exp: for
    C = 10 on CPU, PyTorch's log-softmax kernel costs ~4x more than the whole of this.
    """
    mx, pred = logits.max(class_dim)
    lse = mx + torch.log(torch.exp(logits - mx.unsqueeze(class_dim)).sum(class_dim))
    picked = logits.gather(class_dim, y.unsqueeze(class_dim))
    return float(lse.mean() - picked.mean()), int((pred == y).sum())


# --- exact solvers (tamelab.exact) ------------------------------------------------------------
#: safety factor on the first-order float64 error bounds of filtered predicates (dichotomy signs and
#: subset ranks): a sign is decided in float only when |value| exceeds FILTER_SAFETY · (bound); otherwise
#: it is decided in exact integer arithmetic.
FILTER_SAFETY = 1e3


# --- exact ReLU geometry (tamelab.relu, tamelab.models.lower) ---------------------------------
#: float mode of the planar splitting (uncertified): a sign is 0 when |value| <= this times its scale.
PLANAR_FLOAT_RTOL = 1e-12
#: filtered predicates: the first-order error bound of a vertex's position along a line is used only when
#: the vertex's homogeneous weight w is known to this relative accuracy (otherwise exact arithmetic decides).
PLANAR_W_RTOL = 1e-3
#: consistency check of exact regions (the count does not rest on it): |Σ areas − area| <= this × area × #regions.
TILING_RTOL = 1e-9
#: inequality rows with a norm below this are dropped (float n-D traversal).
ROW_NORM_FLOOR = 1e-14
#: float n-D traversal: a Chebyshev radius below this means "not full-dimensional".
ND_CHEB_TOL = 1e-9
#: decision-boundary segments (float geometry on exact regions, for plots): ties and zeros to this accuracy.
BOUNDARY_TIE_TOL = 1e-12
#: tropical form: F − G = f at every check point to this relative accuracy.
TROPICAL_CHECK_RTOL = 1e-9
#: tropical ``cells()``: an LP margin above this means two dominance sets meet with interior (float).
TROPICAL_CELLS_TOL = 1e-9
#: candidate filters of the exact tropical pruning (they only propose; exact certificates decide): Qhull
#: upper-facet orientation, barycentric point location, simplex non-degeneracy, LP-dual support.
HULL_CANDIDATE_TOL = 1e-12
BARY_CANDIDATE_TOL = 1e-9
SIMPLEX_DET_RTOL = 1e-14
DUAL_SUPPORT_RTOL = 1e-9
#: lowering self-check: the program reproduces the float64 torch model to this relative accuracy.
LOWER_CHECK_RTOL = 1e-9
