"""Tasks ``hessian``, ``landscape`` and ``connect``: curvature and loss-landscape geometry of a model on data.

The Python entry points take objects (:func:`hessian_summary`, :func:`plot_density`,
:func:`plot_surface`); the ``run_*`` functions take a config naming files, as the CLI and sweeps do.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..errors import InputError, NotApplicableError
from ..result import Result, to_jsonable
from ._load import check_accepts, check_targets, data_tensors, load_task_data, load_task_model
from ._registry import Task, register_task
from ._spec import DataFields, DeviceField, LossField, ModelFields, SeedField, check_model_spec, option

__all__ = [
    "HessianConfig",
    "HessianSummary",
    "hessian_summary",
    "run_hessian",
    "plot_density",
    "LandscapeConfig",
    "run_landscape",
    "plot_surface",
    "ConnectConfig",
    "run_connect",
]


#: added to a density before its log-scale plot (a display floor, not a tolerance).
_LOG_FLOOR = 1e-12


def _dtype(name: str) -> torch.dtype:
    from ..inputs import resolve_dtype

    return resolve_dtype(name, allowed=(torch.float32, torch.float64))


# ------------------------------------------------------------------------------------------------ hessian
@dataclasses.dataclass
class HessianSummary(Result):
    """Top eigenvalues of the loss Hessian with residual certificates, and optionally its trace and density.

    Attributes:
        n_params: number of parameters (the Hessian is ``n_params`` × ``n_params``).
        loss: the loss at the model's parameters.
        eigenvalues: the ``top_k`` largest eigenvalues, descending.
        residuals: ``‖Hu − θu‖`` of each Ritz pair: an eigenvalue lies within it of θ.
        converged: whether each residual met ``tol``·|θ|.
        error_bounds: sharper Kato–Temple estimates (see :func:`tamelab.landscape.top_eigenpairs`).
        eigen_hvps, krylov_dim: Hessian-vector products and Krylov dimension of the eigen-solve.
        hvp_path: how products were computed (``mlp-rop`` for the Linear/ReLU fast path, ``autograd``).
        trace_estimate, trace_estimate_stderr, trace_method, trace_hvps: Hutch++ estimate (``trace=True``).
        trace, trace_stderr, trace_exact_method: exact trace of a piecewise-linear net with cross-entropy
            (diagonal of the GGN: H_ii = G_ii almost everywhere); ``None`` otherwise.
        density_nodes, density_weights, density_sigma2: stochastic Lanczos quadrature (``density=True``).
        hvps: all Hessian-vector products used.
    """

    kind = "hessian"

    n_params: int = 0
    loss: float = float("nan")
    eigenvalues: list[float] = dataclasses.field(default_factory=list)
    residuals: list[float] = dataclasses.field(default_factory=list)
    converged: list[bool] = dataclasses.field(default_factory=list)
    error_bounds: list[float] = dataclasses.field(default_factory=list)
    eigen_hvps: int = 0
    krylov_dim: int = 0
    hvp_path: str = ""
    trace_estimate: float | None = None
    trace_estimate_stderr: float | None = None
    trace_method: str | None = None
    trace_hvps: int | None = None
    trace: float | None = None
    trace_stderr: float | None = None
    trace_exact_method: str | None = None
    density_nodes: list[list[float]] | None = None
    density_weights: list[list[float]] | None = None
    density_sigma2: float | None = None
    hvps: int = 0
    density_grid: np.ndarray | None = dataclasses.field(default=None, repr=False)
    density: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """The density on its grid (``density_grid``, ``density``) when computed."""
        if self.density is None or self.density_grid is None:
            return {}
        return {"density_grid": np.asarray(self.density_grid), "density": np.asarray(self.density)}


def hessian_summary(
    model: nn.Module,
    data: Any,
    *,
    loss: Any = "cross_entropy",
    top_k: int = 5,
    trace: bool = False,
    density: bool = False,
    tol: float = 1e-6,
    trace_hvps: int = 99,
    slq_steps: int = 80,
    slq_probes: int = 1,
    seed: int = 0,
    dtype: Any = torch.float64,
    device: Any = "cpu",
) -> HessianSummary:
    """Top-``top_k`` Hessian eigenvalues (Lanczos, residual-certified), trace and spectral density.

    Args:
        model: any ``nn.Module`` (copied to ``device``/``dtype``; the caller's model is untouched).
        data: any form of the input contract (:func:`tamelab.inputs.as_data`).
        loss: a registry name or a callable ``(output, target) -> scalar``.
        top_k: number of largest eigenvalues.
        trace: Hutch++ estimate with its standard error, and the exact trace of a ReLU net with
            cross-entropy (diagonal GGN, equal to the Hessian diagonal almost everywhere).
        density: spectral density by stochastic Lanczos quadrature.
        tol: relative residual tolerance of the eigenpairs.
        trace_hvps: Hessian-vector products of the Hutch++ estimate.
        slq_steps: Lanczos steps per density probe.
        slq_probes: random probes of the density.
        seed: seed of the random start vectors and probes.
        dtype: precision of the products (``float64`` or ``float32``).
        device: where the products are computed.
    """
    from ..inputs import as_data, model_on, resolve_device
    from ..landscape import CurvatureOperator, hessian_trace, hutchpp, slq_density, top_eigenpairs
    from ..losses import resolve_loss

    t0 = time.perf_counter()
    lossf = resolve_loss(loss)
    dt = _dtype(dtype) if not isinstance(dtype, torch.dtype) else dtype
    dev = resolve_device(device)
    m = model_on(model, dev, dt).eval()
    X, T = as_data(data).tensors(dev, dt)
    check_targets(lossf, T)
    op = CurvatureOperator(m, lossf, (X, T))
    eig = top_eigenpairs(op, int(top_k), tol=float(tol), seed=int(seed))
    r = HessianSummary(
        status=eig.status,
        seed=int(seed),
        n_params=op.n,
        loss=float(op.loss()),
        eigenvalues=eig.eigenvalues,
        residuals=eig.residuals,
        converged=eig.converged,
        error_bounds=eig.error_bounds,
        eigen_hvps=eig.hvps,
        krylov_dim=eig.krylov_dim,
        hvp_path=str(op.path),
    )
    if trace:
        tr = hutchpp(op, int(trace_hvps), seed=int(seed))
        r.trace_estimate, r.trace_estimate_stderr, r.trace_method, r.trace_hvps = (
            tr.trace,
            tr.stderr,
            tr.method,
            tr.hvps,
        )
        if lossf.builtin and lossf.name == "cross_entropy" and not T.is_floating_point():
            try:  # the GGN diagonal is the Hessian's only under the premise (piecewise-linear in the parameters)
                ex = hessian_trace(m, (X, T), lossf, method="ggn-diagonal")
            except (InputError, NotApplicableError):
                ex = None  # premise fails (tanh, LayerNorm, ...): only the estimate
            if ex is not None and ex.exact:
                r.trace, r.trace_stderr = float(ex.trace), 0.0
                r.trace_exact_method = "diag GGN (piecewise-linear net: H_ii = G_ii a.e.)"
    if density:
        d = slq_density(op, int(slq_steps), int(slq_probes), seed=int(seed))
        r.density_nodes, r.density_weights, r.density_sigma2 = to_jsonable(d.nodes), to_jsonable(d.weights), d.sigma2
        r.density_grid, r.density = d.grid, d.density
    r.hvps = int(op.hvps)
    r.seconds = time.perf_counter() - t0
    return r


def plot_density(r: HessianSummary) -> Any:
    """The spectral density of a :class:`HessianSummary` (log scale), or ``None`` without a density."""
    if r.density is None or r.density_grid is None:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(r.density_grid, np.asarray(r.density) + _LOG_FLOOR)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title("Hessian spectral density (SLQ)")
    fig.tight_layout()
    return fig


class HessianConfig(ModelFields, DataFields, LossField, SeedField, DeviceField):
    """``tamelab hessian MODEL``: the top of the Hessian spectrum, its trace and density."""

    split: Literal["train", "test", "all"] = option("train", "which part of the data: train | test | all")
    top_k: int = option(5, "number of largest eigenvalues", ge=1)
    trace: bool = option(False, "trace: Hutch++ estimate with stderr, and exact via diag GGN (ReLU + CE)")
    density: bool = option(False, "spectral density by stochastic Lanczos quadrature")
    tol: float = option(1e-6, "relative residual tolerance of the eigenpairs", gt=0, lt=1)
    dtype: Literal["float32", "float64"] = option("float64", "precision of the products: float64 | float32")
    trace_hvps: int = option(99, "Hessian-vector products of the Hutch++ estimate", ge=3)
    slq_steps: int = option(80, "Lanczos steps per density probe", ge=2)
    slq_probes: int = option(1, "random probes of the density", ge=1)


def run_hessian(cfg: HessianConfig, *, out_dir: Any = None) -> HessianSummary:
    """The ``hessian`` task: load MODEL and the data named in ``cfg``, then :func:`hessian_summary`."""
    dt = _dtype(cfg.dtype)
    model = load_task_model(cfg.model, cfg.weights)
    ds = load_task_data(
        cfg.data, split=cfg.split, split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key
    )
    X, T = data_tensors(ds, dtype=dt)
    check_accepts(model.to(dt), X)
    return hessian_summary(
        model,
        (X, T),
        loss=cfg.loss,
        top_k=cfg.top_k,
        trace=cfg.trace,
        density=cfg.density,
        tol=cfg.tol,
        trace_hvps=cfg.trace_hvps,
        slq_steps=cfg.slq_steps,
        slq_probes=cfg.slq_probes,
        seed=cfg.seed,
        dtype=dt,
        device=cfg.device,
    )


def _hessian_figures(r: HessianSummary, cfg: HessianConfig) -> dict[str, Any]:
    fig = plot_density(r)
    return {"density": fig} if fig is not None else {}


# ------------------------------------------------------------------------------------------------ landscape
class LandscapeConfig(ModelFields, DataFields, LossField, SeedField, DeviceField):
    """``tamelab landscape MODEL``: the loss surface around MODEL, or on the plane through three models."""

    split: Literal["train", "test", "all"] = option("train", "which part of the data: train | test | all")
    grid: int = option(41, "grid points per axis", ge=2)
    span: float = option(1.0, "half-width of the grid in units of the directions", gt=0)
    dims: int = option(2, "1 or 2 directions", ge=1, le=2)
    dtype: Literal["float32", "float64"] = option("float32", "precision of the evaluations: float32 | float64")
    through: list[str] = option(
        [], "two more models (give --through twice): the surface on the plane through MODEL and them", multiple=True
    )
    margin: float = option(
        0.25, "with --through: grid beyond the three models, as a fraction of their bounding box", ge=0
    )
    executor: Literal["serial", "dask"] = option(
        "serial", "serial | dask (the surface is bitwise the same)", record=False
    )
    workers: int | None = option(None, "Dask LocalCluster workers", ge=1, record=False)
    max_points: int = option(1_000_000, "refuse grids with more points than this", ge=1, record=False)

    def check(self) -> None:
        """Two ``through`` models that exist; the grid within ``max_points``."""
        if self.through:
            if len(self.through) != 2:
                raise InputError(
                    "through",
                    f"needs exactly two more models, got {len(self.through)}",
                    "--through B.safetensors --through C.safetensors",
                )
            for p in self.through:
                check_model_spec(p, field="through")
        points = self.grid ** (2 if self.through else self.dims)
        if points > self.max_points:
            raise InputError(
                "grid",
                f"{self.grid}^{2 if self.through else self.dims} = {points:.3g} grid points, "
                f"each a pass over the data (limit {self.max_points:.3g})",
                "use a smaller --grid or raise --max-points",
            )


def run_landscape(cfg: LandscapeConfig, *, out_dir: Any = None) -> Any:
    """The ``landscape`` task: a loss surface (:func:`~tamelab.landscape.loss_surface`, or plane_through_models).

    The surface around MODEL along filter-normalised directions, or on the plane through MODEL and
    the two ``through`` models.
    """
    from ..landscape import loss_surface, plane_through_models
    from ..parallel import get_executor

    dt = _dtype(cfg.dtype)
    model = load_task_model(cfg.model, cfg.weights, device=cfg.device, dtype=dt)
    ds = load_task_data(
        cfg.data, split=cfg.split, split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key
    )
    X, T = data_tensors(ds, dtype=dt, device=cfg.device)
    check_accepts(model, X)
    others = [load_task_model(p, device=cfg.device, dtype=dt, field="through") for p in cfg.through]
    ex = get_executor(cfg.executor, workers=cfg.workers)
    try:
        if others:
            b, c = others
            return plane_through_models(model, b, c, X, T, loss=cfg.loss, grid=cfg.grid, margin=cfg.margin, executor=ex)
        return loss_surface(
            model, X, T, loss=cfg.loss, grid=cfg.grid, span=cfg.span, dims=cfg.dims, seed=cfg.seed, executor=ex
        )
    finally:
        ex.close()


def plot_surface(r: Any) -> Any:
    """Contour plot of log(loss) of a 2-D surface; ``None`` for a 1-D surface.

    Takes a :class:`~tamelab.landscape.SurfaceResult` or a :class:`~tamelab.landscape.PlaneResult`
    (then the three models are marked). Losses that are not all positive (``nll`` of raw scores, a
    user's loss) are drawn as they are, not as their logarithm.
    """
    import matplotlib.pyplot as plt

    L = np.asarray(r.losses, dtype=float)
    if L.ndim != 2:
        return None
    Z, label = (np.log(L), "log(loss)") if bool((L > 0).all()) else (L, "loss")
    fig, ax = plt.subplots(figsize=(5, 4.3))
    if hasattr(r, "model_coords"):
        xs, ys = np.asarray(r.xs), np.asarray(r.ys)
        cs = ax.contourf(xs, ys, Z.T, levels=30)
        pts = np.asarray(r.model_coords)
        ax.plot(pts[:, 0], pts[:, 1], "r*", ms=10)
        for (px, py), label in zip(pts, ["MODEL", "B", "C"]):
            ax.annotate(label, (px, py), color="w", xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("plane coordinate 1")
        ax.set_ylabel("plane coordinate 2")
    else:
        a = np.asarray(r.alphas)
        cs = ax.contourf(a, a, Z.T, levels=30)
        ax.plot(0, 0, "r*")
        ax.set_xlabel("direction 1")
        ax.set_ylabel("direction 2")
    fig.colorbar(cs, label=label)
    fig.tight_layout()
    return fig


def _landscape_figures(r: Any, cfg: LandscapeConfig) -> dict[str, Any]:
    fig = plot_surface(r)
    return {"surface": fig} if fig is not None else {}


# ------------------------------------------------------------------------------------------------ connect
class ConnectConfig(DataFields, LossField, SeedField, DeviceField):
    """``tamelab connect A B``: barriers between two models before/after alignment and along a Bézier curve."""

    model: str = option(..., "model A (.safetensors or package.module:factory)", positional=True, metavar="A")
    model_b: str = option(..., "model B, of A's architecture", positional=True, metavar="B")
    weights: str | None = option(None, "weights of a factory model A")
    weights_b: str | None = option(None, "weights of a factory model B")
    split: Literal["train", "test", "all"] = option(
        "train", "data the barriers are measured on (train also reports test barriers)"
    )
    curve_steps: int = option(400, "SGD steps for the Bézier bend (0 = skip)", ge=0)
    restarts: int = option(1, "weight-matching restarts (best objective kept)", ge=1)
    points: int = option(25, "points along the line", ge=3)

    def check(self) -> None:
        """Both models exist."""
        check_model_spec(self.model, field="model")
        check_model_spec(self.model_b, field="model_b")


def run_connect(cfg: ConnectConfig, *, out_dir: Any = None) -> Any:
    """The ``connect`` task: :func:`tamelab.landscape.connect_models` on train (and test) data."""
    from ..landscape import connect_models

    a = load_task_model(cfg.model, cfg.weights, device=cfg.device, dtype=torch.float32)
    b = load_task_model(cfg.model_b, cfg.weights_b, device=cfg.device, dtype=torch.float32, field="model_b")
    kw: dict[str, Any] = dict(split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key)
    X, T = data_tensors(load_task_data(cfg.data, split=cfg.split, **kw), device=cfg.device)
    check_accepts(a, X)
    test = None
    if cfg.split == "train" and not (cfg.input_key or cfg.target_key):
        test = data_tensors(load_task_data(cfg.data, split="test", **kw), device=cfg.device)
    return connect_models(
        a,
        b,
        (X, T),
        test=test,
        loss=cfg.loss,
        points=cfg.points,
        curve_steps=cfg.curve_steps,
        restarts=cfg.restarts,
        seed=cfg.seed,
        device=cfg.device,
    )


def _connect_figures(r: Any, cfg: ConnectConfig) -> dict[str, Any]:
    from ..landscape import plot_connectivity

    return {"connect": plot_connectivity(r)}


def _connect_models(r: Any) -> dict[str, Any]:
    return {"aligned_b.safetensors": r.aligned_model} if getattr(r, "aligned_model", None) is not None else {}


register_task(
    Task(
        "hessian",
        HessianConfig,
        run_hessian,
        "Top-k Hessian eigenvalues (Lanczos, residual-certified), trace, spectral density.",
        figures=_hessian_figures,
    )
)
register_task(
    Task(
        "landscape",
        LandscapeConfig,
        run_landscape,
        "Loss surface along filter-normalised random directions (the model at the grid centre), or on "
        "the plane through MODEL and two more models (--through B --through C).",
        figures=_landscape_figures,
    )
)
register_task(
    Task(
        "connect",
        ConnectConfig,
        run_connect,
        "Barriers between two models (train and test data) before/after permutation alignment, and "
        "along a trained Bézier curve.",
        figures=_connect_figures,
        models=_connect_models,
    )
)
