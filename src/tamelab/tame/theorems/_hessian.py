r"""The smallest eigenvalue of the Hessian of a full-batch loss (Lanczos on Hessian-vector products)."""

from __future__ import annotations

import dataclasses

import torch

from ..._rng import SeedLike, resolve_seed
from ...result import Result, Status

__all__ = ["min_hessian_eigenvalue", "HessianEigenvalue"]


@dataclasses.dataclass
class HessianEigenvalue(Result):
    r"""Smallest Ritz value of :math:`\nabla^2F` and what it proves.

    Attributes:
        lambda_min: the smallest Ritz value θ. It is always an **upper bound** of :math:`\lambda_{\min}`
            (Cauchy interlacing: Ritz values lie in :math:`[\lambda_{\min},\lambda_{\max}]`).
        residual: :math:`\|Hv-\theta v\|`; with ``converged`` an eigenvalue of H lies in
            :math:`[\theta-r,\theta+r]`.
        extremality: that θ is the *smallest* eigenvalue, as :func:`tamelab.landscape.top_eigenpairs` checks it
            (a deflated restart from fresh random vectors): ``"exact"`` (the Krylov basis spans the space),
            ``"probabilistic"`` (wrong with probability at most ``extremality_p``) or ``"not certified"``.
        extremal_certified: ``extremality`` is ``"exact"`` or ``"probabilistic"``.
        hvps, krylov_dim, p: Hessian-vector products used, Krylov dimension, number of parameters.
    """

    kind = "min_hessian_eigenvalue"

    lambda_min: float = float("nan")
    residual: float = float("nan")
    converged: bool = False
    extremal_certified: bool = False
    extremality: str = "not certified"
    extremality_p: float = float("nan")
    hvps: int = 0
    krylov_dim: int = 0
    p: int = 0


def min_hessian_eigenvalue(
    model: torch.nn.Module,
    data,
    targets=None,
    *,
    loss="mse",
    tol: float = 1e-3,
    max_dim: int = 300,
    seed: SeedLike = 0,
    device=None,
) -> HessianEigenvalue:
    r"""Smallest eigenvalue of the Hessian of the full-batch loss ``loss(model(X), T)``.

    Smallest eigenvalue :math:`\lambda_{\min}(\nabla^2F)` of the full-batch loss
    :math:`F=\mathrm{loss}(\mathrm{model}(X),T)`.

    Float64 copy of ``model`` (on ``device``); Hessian-vector products by :class:`tamelab.landscape.CurvatureOperator`
    (double backward) and Lanczos with full re-orthogonalisation,
    :func:`tamelab.landscape.top_eigenpairs` (``which="smallest"``, ``k=1``): converged when the true residual
    :math:`\|Hv-\lambda v\|\le\mathrm{tol}\,|\lambda|`; the Krylov dimension stops at ``max_dim`` (then the value is
    reported with ``converged = False``; it is still an upper bound of :math:`\lambda_{\min}`, a Ritz value).

    Args:
        model: any ``nn.Module``.
        data: any form of :func:`tamelab.inputs.as_data` (held in memory).
        targets: the targets when ``data`` holds only the inputs.
        loss: a loss name or callable (:func:`tamelab.losses.resolve_loss`).
        tol: Lanczos residual tolerance.
        max_dim: Krylov dimension cap.
        seed: start-vector seed.
        device: where to compute.

    Returns:
        A :class:`HessianEigenvalue`: ``status`` ``ok`` when the residual converged and θ is certified the
        smallest (``extremality``), ``uncertified`` when only the residual converged, else ``not_converged``.
    """
    from ...landscape import CurvatureOperator, top_eigenpairs
    from ..monitors._noise import model_and_data

    m64, X, T, lossf = model_and_data(model, data, targets, loss, dtype=torch.float64, device=device)
    op = CurvatureOperator(m64, lossf, (X, T), kind="hessian")
    s = resolve_seed(seed)
    r = top_eigenpairs(op, k=1, which="smallest", tol=float(tol), max_dim=int(max_dim), seed=s)
    conv = bool(r.converged[0])
    ext = str(r.extremality)
    extremal = ext in ("exact", "probabilistic")
    status = Status.NOT_CONVERGED if not conv else (Status.OK if extremal else Status.UNCERTIFIED)
    return HessianEigenvalue(
        status=status,
        seed=s,
        lambda_min=float(r.eigenvalues[0]),
        residual=float(r.residuals[0]),
        converged=conv,
        extremal_certified=extremal,
        extremality=ext,
        extremality_p=float(r.extremality_p),
        hvps=int(r.hvps),
        krylov_dim=int(r.krylov_dim),
        p=int(op.n),
    )
