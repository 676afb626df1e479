"""Tasks ``regions`` and ``tropical``: exact ReLU geometry of a model file on a box, plane or segment."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from .._numerics import RANK_RTOL
from ..errors import InputError
from ..relu._nd import ND_MAX_VERTICES
from ._load import load_task_model
from ._registry import Annotated, Task, register_task
from ._spec import ModelFields, SeedField, check_data_spec, option, parse_number_list

__all__ = ["RegionsConfig", "run_regions", "regions_domain", "TropicalConfig", "run_tropical", "parse_points"]


def parse_points(value: Any, *, field: str, n: int) -> list[list[float]]:
    """``n`` points from ``"x0;x1;x2"`` (each comma-separated) or a list of lists; all finite."""
    if isinstance(value, str):
        parts = [p for p in value.split(";") if p.strip()]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise InputError(field, f"expected {n} points, got {type(value).__name__}", 'e.g. "0,0;1,0;0,1"')
    if len(parts) != n:
        raise InputError(field, f"expected {n} points separated by ';', got {len(parts)}", 'e.g. "0,0;1,0;0,1"')
    pts = [parse_number_list(p, field=field) for p in parts]
    if len({len(p) for p in pts}) != 1:
        raise InputError(field, f"the points have different dimensions {[len(p) for p in pts]}")
    return pts


class RegionsConfig(ModelFields, SeedField):
    """``tamelab regions MODEL``: activation and linear regions on exactly one of a box, a plane or a segment."""

    box: list[float] | None = option(
        None,
        "LO,HI: the box [LO,HI]^d (d=2: exact plane splitting; d>=3: exact n-D enumeration, relu.regions_nd)",
        metavar="LO,HI",
    )
    plane: list[list[float]] | None = option(None, '"x0;x1;x2": the plane through three inputs', metavar='"x0;x1;x2"')
    segment: list[list[float]] | None = option(None, '"a;b": the segment from a to b', metavar='"a;b"')
    margin: float = option(0.25, "with --plane: the square around the three points, as a fraction", ge=0)
    mode: Literal["float", "exact"] = option("float", "float | exact (rational arithmetic; segment/plane)")
    data: str | None = option(None, "draw these data points on the partition plot (2-D inputs)")
    linear: bool = option(False, "n-D box: also count linear regions (exact comparison of output maps)")
    witness: bool = option(False, "n-D box: certify every region by an interior point checked against its inequalities")
    max_vertices: int = option(
        ND_MAX_VERTICES, "n-D box: budget on the vertices of the complex (memory guard)", ge=1, record=False
    )

    @field_validator("box", mode="before")
    @classmethod
    def _box(cls, v: Any) -> Any:
        if v is None:
            return None
        lo, hi = parse_number_list(v, field="box", n=2)
        if not lo < hi:
            raise InputError("box", f"need LO < HI, got {lo}, {hi}")
        if not math.isfinite(hi - lo):
            raise InputError("box", f"[{lo}, {hi}] is too wide to measure (its width overflows)", "use a finite box")
        return [lo, hi]

    @field_validator("plane", mode="before")
    @classmethod
    def _plane(cls, v: Any) -> Any:
        if v is None:
            return None
        pts = parse_points(v, field="plane", n=3)
        P = np.asarray(pts, dtype=float)
        D = np.stack([P[1] - P[0], P[2] - P[0]])
        scale = max(float(np.abs(D).max()), 1.0)
        # rank with the package's numerical-rank threshold (relative: the differences are scaled to max 1)
        if np.linalg.matrix_rank(D / scale, tol=RANK_RTOL) < 2:
            raise InputError(
                "plane",
                "the three points are collinear (or coincide): they span no plane",
                "pass three affinely independent points",
            )
        return pts

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, v: Any) -> Any:
        if v is None:
            return None
        a, b = parse_points(v, field="segment", n=2)
        if a == b:
            raise InputError("segment", "the two end points coincide", "pass two different points")
        return [a, b]

    @field_validator("data")
    @classmethod
    def _data(cls, v: str | None) -> str | None:
        return None if v is None else check_data_spec(v, field="data")

    @model_validator(mode="after")
    def _one_domain(self) -> RegionsConfig:
        given = [k for k in ("box", "plane", "segment") if getattr(self, k) is not None]
        if len(given) != 1:
            raise InputError(
                "box",
                f"give exactly one of box, plane, segment (got {len(given)})",
                'e.g. --box -1,1 or --plane "0,0;1,0;0,1"',
            )
        return self


def regions_domain(cfg: RegionsConfig, d: int) -> Any:
    """The :mod:`tamelab.relu` domain (``Plane``, ``Box`` or ``Segment``) of a config, for inputs of dimension ``d``."""
    from ..relu import Box, Plane, Segment

    if cfg.box is not None:
        lo, hi = cfg.box
        return Plane.box2d(lo, hi) if d == 2 else (Box(lo, hi, d) if d > 2 else Segment([lo], [hi]))
    if cfg.plane is not None:
        for p in cfg.plane:
            if len(p) != d:
                raise InputError("plane", f"points need {d} coordinates (the model's input dimension), got {len(p)}")
        x0, x1, x2 = cfg.plane
        return Plane.through(x0, x1, x2, margin=cfg.margin)
    if cfg.segment is None:  # pragma: no cover - the config's validator requires one domain
        raise InputError("box", "give exactly one of box, plane, segment")
    for p in cfg.segment:
        if len(p) != d:
            raise InputError("segment", f"end points need {d} coordinates (the model's input dimension), got {len(p)}")
    a, b = cfg.segment
    return Segment(a, b)


def _input_dim(model: Any) -> int:
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.Linear):
            return int(m.in_features)
    raise InputError("model", "cannot tell the input dimension (no Linear layer)")


def run_regions(cfg: RegionsConfig, *, out_dir: Any = None) -> Any:
    """The ``regions`` task: exact regions on the config's segment, plane or box.

    :func:`tamelab.relu.regions` on a segment, plane or 1-/2-D box; the exact n-D enumeration
    :func:`tamelab.relu.regions_nd` on a box of dimension d >= 3.
    """
    from ..relu import regions, regions_nd

    model = load_task_model(cfg.model, cfg.weights)
    d = _input_dim(model)
    if cfg.box is not None and d >= 3:
        lo, hi = cfg.box
        return regions_nd(
            model,
            (lo, hi),
            linear=cfg.linear,
            witness=cfg.witness,
            seed=cfg.seed,
            max_vertices=cfg.max_vertices,
            keep=False,
        )
    for flag in ("linear", "witness"):
        if getattr(cfg, flag):
            raise InputError(flag, "only applies to a box in d >= 3 input dimensions", f"drop --{flag}")
    return regions(model, regions_domain(cfg, d), mode=cfg.mode)


def _regions_figures(r: Any, cfg: RegionsConfig) -> dict[str, Any]:
    from ..relu._plot import plot_partition

    if getattr(r, "domain", None) not in ("plane", "box", "segment") or not getattr(r, "regions_list", None):
        return {}
    X = None
    if cfg.data and cfg.box is not None:
        from ..data import load_data

        Xd = load_data(cfg.data, split="all").X
        X = Xd if Xd.shape[1] == 2 else None
    return {"partition": plot_partition(r, X=X)}


class TropicalConfig(ModelFields, SeedField):
    """``tamelab tropical MODEL``: the tropical form F − G of a ReLU network (Zhang–Naitzat–Lim 2018)."""

    prune: bool = option(True, "drop dominated monomials after every layer")
    cells: bool = option(False, "also count the cells of the common refinement of F and G (one LP per pair)")
    monomials: bool = option(False, "include every monomial (exponents, coefficients) in the JSON")


def run_tropical(cfg: TropicalConfig, *, out_dir: Any = None) -> Any:
    """The ``tropical`` task: :func:`tamelab.relu.tropical` (+ cells and monomials on request)."""
    from ..relu import tropical

    form = tropical(load_task_model(cfg.model, cfg.weights), prune=cfg.prune, seed=cfg.seed)
    extra: dict[str, Any] = {}
    if cfg.cells:
        extra["cells"] = [form.cells(k) for k in range(len(form.F))]
    if cfg.monomials:
        extra["F"] = [{"exponents": p.exponents.tolist(), "coeffs": p.coeffs.tolist()} for p in form.F]
        extra["G"] = [{"exponents": p.exponents.tolist(), "coeffs": p.coeffs.tolist()} for p in form.G]
    return Annotated(form, extra)


register_task(
    Task(
        "regions",
        RegionsConfig,
        run_regions,
        "Count activation and linear regions exactly, next to every known bound.",
        figures=_regions_figures,
    )
)
register_task(
    Task(
        "tropical",
        TropicalConfig,
        run_tropical,
        "Tropical form F - G of a ReLU network (Zhang–Naitzat–Lim): monomial counts, upper-hull check, identity error.",
    )
)
