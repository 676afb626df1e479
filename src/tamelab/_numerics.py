"""Named tolerances, in one place (the package's one tolerance table).

Every numerical tolerance in ``src/`` is a named constant here or a documented argument
(``tests/test_tolerance_table.py`` finds float literals in comparisons; every name here is used).
Exact geometry defaults to float64.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import torch

__all__ = [
    "one_thread",
    "mean_cross_entropy",
    "MERGE_ATOL",
    "RANK_RTOL",
    "KKT_TOL",
    "ZERO_COST",
    "BALL_RESOLUTION",
    "BALL_ROUNDING_RTOL",
    "KINK_DIRECTION_SEED",
    "FILTER_SAFETY",
    "allclose_report",
    "FLOAT64_RTOL",
    "ULP_RTOL",
    "TINY",
]

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
#: a loss equals its closed form to this relative accuracy (deep linear nets, Chen–Ewald costs).
CLOSED_FORM_RTOL = 1e-9
#: the gradient norm of a closed-form critical point is zero to this relative accuracy (float64 products).
CRITICAL_GRAD_RTOL = 1e-7
#: eigenvalues closer than this (relative) are treated as repeated (degenerate spectrum).
EIGEN_GAP_RTOL = 1e-9
#: a Hessian whose asymmetry exceeds this × its scale is refused (it is not a second derivative).
HESSIAN_SYMMETRY_RTOL = 1e-8
#: QP feasibility of a candidate: G z <= this × (1 + |z|∞).
QP_FEAS_RTOL = 1e-10
#: a convex sub-problem's duality gap below this × (1 + |objective|) is closed.
DUALITY_GAP_RTOL = 1e-8
#: the network's loss equals the QP objective (+ constant) to this relative accuracy.
OBJECTIVE_RTOL = 1e-7
#: below this, a (squared) geometric length in the Chen–Ewald constructions is zero (the vectors coincide).
GEOM_ZERO_LENGTH = 1e-12
#: two points closer than this coincide (float64 rounding of O(1) coordinates).
POINT_COINCIDE_ATOL = 1e-14
#: gradient-descent error curves: values below this are the float64 floor and are left out of slope fits.
ERROR_FLOOR = 1e-13

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


# --- shared ----------------------------------------------------------------------------------
#: agreement to float64 rounding of a short computation: |a − b| <= FLOAT64_RTOL · max(1, |b|).
FLOAT64_RTOL = 1e-12
#: agreement to a few ulps of one float64 operation (comparisons of values that should be bitwise equal).
ULP_RTOL = 1e-15
#: floor of a denominator or a scale (not a tolerance): ``x / max(d, TINY)`` never divides by zero.
TINY = 1e-300


# --- tame optimisation (tamelab.tame) --------------------------------------------------------
#: Wolfe's nearest point: a barycentric weight at or below this leaves the corral.
WOLFE_WEIGHT_TOL = 1e-15
#: Wolfe's nearest point: ρ² at or below this times the largest ‖g‖² is ρ = 0 (0 lies in the hull).
WOLFE_ZERO_RHO2 = 1e-30
#: Frank–Wolfe polish of the hull weights: stop when the duality gap is below this × max(1, λᵀKλ).
FW_GAP_RTOL = 1e-15
#: a hull weight above this counts in the support of the minimal-norm element.
HULL_SUPPORT_TOL = 1e-12
#: noise test: a squared mean below this is zero when the exact variance is zero.
NOISE_ZERO_MEAN_SQ = 1e-28
#: noise test: a coordinate whose standard deviation is below this × |mean| is constant (not tested).
NOISE_LIVE_RTOL = 1e-8
#: Łojasiewicz fit: bootstrap samples whose exponents spread less than this (relative) are degenerate.
LOJ_SPREAD_RTOL = 1e-9
#: recorded learning rates agree with the stated schedule to this relative accuracy.
LR_RECORD_RTOL = 1e-6
#: a step size equals the theorem's step size to this relative accuracy.
THEOREM_STEP_RTOL = 1e-9
#: AD vs Clarke probe: the AD value is inconsistent when its distance to the sampled hull exceeds this × scale.
AD_HULL_RTOL = 1e-6
#: AD vs Clarke probe: finite-difference error allowed when the hull's support dominates a one-sided derivative.
FD_SUPPORT_RTOL = 1e-4


# --- curvature (tamelab.landscape) -----------------------------------------------------------
#: Lanczos breakdown: the next β below this × max(1, |α|) means an invariant subspace was found.
LANCZOS_BREAKDOWN_RTOL = 1e-12
#: plane through three models: collinear when the second direction's orthogonal part is below this (relative).
COLLINEAR_RTOL = 1e-12
#: plane through three models: each model, evaluated at its plane coordinates, must give its own loss to within
#: this many units of the computation dtype's epsilon × max(1, |loss|) (float rounding only; more means state
#: outside the parameters, e.g. BatchNorm running statistics, differs between the models).
MODEL_MATCH_EPS_UNITS = 1e4
#: Lanczos re-orthogonalisation: a norm below this fraction of its value before means heavy cancellation,
#: and one more full pass is made (Daniel–Gragg–Kaufman–Stewart).
REORTH_CANCELLATION = 1e-3


# --- PAC-Bayes (tamelab.bounds) --------------------------------------------------------------
#: the batched stochastic forward agrees with the plain one (float32 accumulation order) to these tolerances.
BATCHED_FORWARD_RTOL = 1e-5
BATCHED_FORWARD_ATOL = 1e-6


# --- algebraic geometry (tamelab.algebraic) --------------------------------------------------
#: a homotopy endpoint is real when its imaginary part is below this × max(1, |z|).
REAL_ROOT_RTOL = 1e-6
#: two real critical points closer than this (absolute, per coordinate) are the same point.
CRITICAL_MERGE_ATOL = 1e-9
#: Hessian eigenvalues beyond ±this classify a critical point (minimum / saddle; between: degenerate).
HESSIAN_EIG_ATOL = 1e-10
#: Newton's corrector has converged when its relative step is below this.
NEWTON_STEP_RTOL = 1e-9
#: Newton's corrector contracts: the second step is at most a quarter of the first, plus this rounding slack.
NEWTON_CONTRACTION_SLACK = 1e-13
#: a Waring decomposition reproduces its tensor to this relative accuracy (else uncertified).
WARING_RTOL = 1e-6
#: Jacobian rank: no singular value gap when the smallest singular value is above this × the largest.
JACOBIAN_RANK_RTOL = 1e-8


# --- claims acceptance thresholds (tamelab.claims.catalog) -------------------------------------
#: an identity exact in real arithmetic, checked on a short float64 computation (permutation invariance,
#: a closed-form constant, a bound ≥ the measured value up to rounding).
CLAIM_EXACT_TOL = 1e-12
#: float64 results of many operations that agree in exact arithmetic (Chen–Ewald scans and distance tables,
#: a computed root against its closed form).
CLAIM_ACCUMULATED_TOL = 1e-10
#: agreement with a closed form, or of two float64 algorithms of several steps (eigenvalues, critical losses,
#: a planted zero optimum, Monte-Carlo means against their bound).
CLAIM_CLOSED_FORM_TOL = 1e-9
#: a value the paper prints to 9 significant digits (e.g. Baldi–Hornik's 0.144818819) is reproduced to its last digit.
CLAIM_PRINTED_9_DIGITS = 1e-8
#: Lanczos eigenvalues against the dense spectrum (a converged Krylov method on a tiny float64 operator).
CLAIM_EIGEN_ATOL = 1e-8
#: an error above this is not yet at the float64 floor (its curve still measures the rate).
CLAIM_ABOVE_FLOOR = 1e-8
#: an optimum is no worse than the brute-force best beyond this (absolute; the QP solver's accuracy).
CLAIM_OPTIMUM_ATOL = 1e-7
#: a value the paper prints to 6 decimals (Dziugaite–Roy's bounds) is reproduced to its last digit.
CLAIM_PRINTED_6_DIGITS = 1e-6
#: an iterative solver's output is solved / at zero (KKT residual, gradient-sampling ρ and iterate, GD reaching
#: the optimum, a final error or floor at zero).
CLAIM_SOLVER_TOL = 1e-6
#: gradient sampling's final value matches the LP optimum to this (absolute).
CLAIM_LP_GAP_TOL = 1e-5
#: a stochastic or first-order method has converged (distance to the critical set, iterate, product error):
#: regression threshold at the quick-mode step counts.
CLAIM_CONVERGED_TOL = 1e-3
