r"""Loss-landscape slices (Li, Xu, Taylor, Studer & Goldstein, arXiv:1712.09913) and interpolation.

Filter normalisation: draw :math:`\delta\sim N(0,I)` shaped like every parameter; for tensors with
≥ 2 dims rescale each row (filter / neuron) to the norm of the same row of :math:`\theta`; 1-D tensors
(biases, norm parameters) are zeroed by default (``ignore="biasbn"``) or copied from θ.
Surfaces :math:`f(\alpha,\beta)=L(\theta+\alpha\delta+\beta\eta)` on a grid whose centre is exactly
:math:`\theta` (odd grid sizes) and whose ``span`` is in units of the directions.
Grid points are evaluated in chunks through an executor (``tamelab.parallel``), so a 2-D surface can
spread over Dask workers.

Interpolation :math:`\theta(\alpha)=(1-\alpha)\theta_A+\alpha\theta_B` with both barrier definitions:
Frankle et al. / Ainsworth et al. :math:`\max_\alpha L(\theta(\alpha))-\tfrac12(L_A+L_B)` and Entezari et al.
:math:`\max_\alpha[L(\theta(\alpha))-((1-\alpha)L_A+\alpha L_B)]`, refined by golden-section search.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
from torch import nn

from .._numerics import COLLINEAR_RTOL, MODEL_MATCH_EPS_UNITS, mean_cross_entropy
from .._rng import resolve_seed
from ..errors import ComputationError, InputError
from ..models import linear_relu_forward, linear_relu_modules
from ..result import Result, Status

__all__ = [
    "filter_normalized_direction",
    "SurfaceResult",
    "loss_surface",
    "interpolate",
    "InterpolationResult",
    "model_direction",
    "plane_through_models",
    "PlaneResult",
    "trajectory_surface",
    "TrajectorySurface",
]


def filter_normalized_direction(model: nn.Module, *, seed=0, ignore: str = "biasbn") -> dict[str, torch.Tensor]:
    """A random Gaussian direction with every filter rescaled to the norm of the model's filter (Li et al. 2018)."""
    if ignore not in ("biasbn", "none"):
        raise InputError("ignore", f"unknown {ignore!r}", "use biasbn or none")
    g = torch.Generator().manual_seed(resolve_seed(seed))
    out = {}
    for k, p in model.named_parameters():
        d = torch.randn(p.shape, generator=g, dtype=torch.float64).to(dtype=p.dtype, device=p.device)
        if p.dim() <= 1:
            d = torch.zeros_like(p) if ignore == "biasbn" else p.detach().clone()
        else:
            pf, df = p.detach().reshape(p.shape[0], -1), d.reshape(p.shape[0], -1)
            df = df * (pf.norm(dim=1, keepdim=True) / (df.norm(dim=1, keepdim=True) + 1e-10))
            d = df.reshape(p.shape)
        out[k] = d
    return out


#: exact module types that are affine in (weight, bias) jointly:
#: f(X; W + Σ cᵢDᵢ, b + Σ cᵢdᵢ) = f(X; W, b) + Σ cᵢ f(X; Dᵢ, dᵢ).
_AFFINE_FIRST = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _prepare(
    model: nn.Module,
    data,
    targets,
    loss,
    device,
    dtype,
    input_key=None,
    target_key=None,
    batch_size=None,
    *,
    field: str = "data",
):
    """The input contract for every slice:

    ``(model on device/dtype, X, T, Loss)`` with the data held as two tensors on the model's device (a loader's batches
    are concatenated once; the surface evaluates every sample at every grid point). The caller's model is never changed.
    """
    from ..inputs import as_data, as_model, model_on, resolve_device, resolve_dtype
    from ..losses import resolve_loss

    as_model(model)
    lossf = resolve_loss(loss)
    first = next(iter(model.parameters()), None)
    if first is None:
        raise InputError("model", "has no parameters")
    dev = resolve_device(device) if device is not None else first.device
    dt = resolve_dtype(dtype) if dtype is not None else first.dtype
    model = model_on(model, dev, dt)
    d = as_data(data, targets, input_key=input_key, target_key=target_key, batch_size=batch_size, field=field)
    X, T = d.tensors(dev, dt)
    if lossf.targets == "labels" and T.is_floating_point():
        raise InputError(
            "loss",
            f"{lossf.name} needs integer class labels, the targets are {T.dtype}",
            "pass labels 0..C-1 or a regression loss such as mse",
        )
    return model, X, T, lossf


class _GridEvaluator:
    r"""Evaluates :math:`L(\theta+\sum_i c_i\delta_i)` and the accuracy at many grid points ``c``.

    Work per point is one forward pass, made cheaper in two exact ways:

    * parameters are written in place into a private copy of the model with fused ``_foreach`` ops
      (no ``functional_call`` re-binding per point);
    * when the model is an ``nn.Sequential`` whose first module is a plain ``Linear``/``Conv`` layer,
      that layer is affine in its parameters, so its output at every grid point is
      :math:`A_0+\sum_i c_iA_i` with :math:`A_0=f(X;\theta_1)`, :math:`A_i=f(X;\delta_{i,1})` computed
      once; points are visited row by row so :math:`A_0+\sum_{i\ge1}c_iA_i` is shared along a row and
      each point costs one fused add instead of the first layer's matmul. The result differs from the
      plain forward pass only by float rounding (tested to 1e-5 relative).
    """

    def __init__(
        self,
        model: nn.Module,
        theta: dict | None,
        dirs: list[dict],
        X: torch.Tensor,
        T: torch.Tensor,
        loss,
        points_per_batch: int = 1,
    ):
        import copy

        from ..losses import resolve_loss

        self.m = copy.deepcopy(model)
        with torch.no_grad():
            for k, p in self.m.named_parameters():
                p.requires_grad_(False)
                if theta is not None:  # the centre θ may differ from the model's own parameters
                    p.copy_(theta[k])
        if theta is None:
            theta = {k: p.detach().clone() for k, p in self.m.named_parameters()}
        self.loss_fn = resolve_loss(loss)
        self.X, self.T = X, T
        self._labels = T.dim() == 1 and not T.is_floating_point()
        self._fast_ce = self.loss_fn.builtin and self.loss_fn.name == "cross_entropy" and self._labels
        names = [k for k, _ in self.m.named_parameters()]
        self.first = None
        self.folded: list[str] = []
        m = self.m
        if (
            isinstance(m, nn.Sequential)
            and len(m) > 1
            and type(m[0]) in _AFFINE_FIRST
            and not (set(map(id, m[0].parameters())) & set(map(id, m[1:].parameters())))
        ):
            self.first = m[0]
            fnames = [k for k in names if k.startswith("0.")]
            with torch.no_grad():
                self.A0 = m[0](X)
                self.A = [torch.func.functional_call(m[0], {k[2:]: d[k] for k in fnames}, (X,)) for d in dirs]
                # fold the following modules that are affine in their input and do not move (BatchNorm in eval
                # mode with zero direction components, pooling by averages, reshapes): A0 ← g(A0), Aᵢ ← L_g(Aᵢ)
                j = 1
                while j < len(m) - 1:
                    lin = _linear_part(m[j], str(j), dirs)
                    if lin is None:
                        break
                    self.A0 = m[j](self.A0)
                    self.A = [lin(a) for a in self.A]
                    self.folded.append(type(m[j]).__name__)
                    j += 1
            self.rest = m[j:]
            # in a Sequential each output feeds only the next module: ReLUs of our private copy may work in
            # place (the first one's input is our own buffer, never the cached row base)
            for mod in self.rest:
                if type(mod) is nn.ReLU:
                    mod.inplace = True
            prefixes = tuple(f"{i}." for i in range(j))
            names = [k for k in names if not k.startswith(prefixes)]
        elif points_per_batch <= 1:
            traced = _traced_first_layer(m, X)
            if traced is not None:
                path, mod, tail = traced
                with torch.no_grad():
                    self.A0 = mod(X)
                    pre = f"{path}."
                    own = [k for k in names if k.startswith(pre)]
                    self.A = [torch.func.functional_call(mod, {k[len(pre) :]: d[k] for k in own}, (X,)) for d in dirs]
                self.first, self.rest = mod, tail
                names = [k for k in names if not k.startswith(pre)]
        params = dict(self.m.named_parameters())
        self.names = names
        self.P = [params[k] for k in names]
        self.theta = [theta[k].to(params[k].dtype) for k in names]
        self.D = [[d[k].to(params[k].dtype) for k in names] for d in dirs]
        self._key = None
        self._base = None
        self._pkey = None
        self._row_theta = self.theta
        # Linear/ReLU tails run as direct addmm / relu_ calls (no module-call overhead per grid point)
        self._plan = linear_relu_modules(self.rest) if self.first is not None else None
        self.batch = max(1, int(points_per_batch))

    def _set_params(self, c) -> None:
        if not self.P:
            return
        key = tuple(c[1:])
        if key != self._pkey:  # θ + Σ_{i≥1} c_i δ_i once per grid row
            row = [t.clone() for t in self.theta]
            for ci, d in zip(c[1:], self.D[1:]):
                if ci != 0.0:
                    torch._foreach_add_(row, d, alpha=float(ci))
            self._pkey, self._row_theta = key, row
        torch._foreach_copy_(self.P, self._row_theta)
        if c[0] != 0.0:
            torch._foreach_add_(self.P, self.D[0], alpha=float(c[0]))

    def _tail(self, h: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The rest of the network; returns the outputs and their class dimension.

        ``h`` is our own buffer, so the first ReLU may overwrite it; with the fast cross-entropy the logits come as C×N.
        """
        if self._plan is None:
            return self.rest(h), 1
        return linear_relu_forward(self._plan, h, logits_t=self._fast_ce, inplace_input=True), 0 if self._fast_ce else 1

    def _forward(self, c) -> torch.Tensor:
        if self.first is None:
            return self.m(self.X), 1
        key = tuple(c[1:])
        if key != self._key:
            base = self.A0.clone()
            for ci, Ai in zip(c[1:], self.A[1:]):
                if ci != 0.0:
                    base.add_(Ai, alpha=float(ci))
            self._key, self._base = key, base
            self._buf = torch.empty_like(base)
        h = (
            torch.add(self._base, self.A[0], alpha=float(c[0]), out=self._buf)
            if c[0] != 0.0
            else self._buf.copy_(self._base)
        )
        return self._tail(h)

    def _score(self, o: torch.Tensor, cdim: int) -> tuple[float, float]:
        if self._fast_ce:
            lv, correct = mean_cross_entropy(o, self.T, class_dim=cdim)
            return lv, correct / len(self.T)
        lv = float(self.loss_fn(o, self.T))
        acc = (
            float((o.argmax(1) == self.T).sum()) / len(self.T)
            if self._labels and o.dim() == 2 and o.shape[1] > 1
            else float("nan")
        )
        return lv, acc

    def __call__(self, coords) -> list[tuple[float, float]]:
        if self.batch > 1:
            return self._batched(coords)
        out = []
        with torch.inference_mode():
            for c in coords:
                self._set_params(c)
                o, cdim = self._forward(c)
                out.append(self._score(o, cdim))
        return out

    def _batched(self, coords) -> list[tuple[float, float]]:
        """``points_per_batch`` grid points per forward pass:

        the parameters θ + Σ cᵢδᵢ of a group of points are stacked and the network runs under ``torch.func.vmap`` (one
        batched kernel per layer; pays off on GPUs, where one point leaves the device idle; on one CPU thread it
        measured no faster than the loop).
        """
        from torch.func import functional_call, vmap

        mod = self.rest if self.first is not None else self.m
        bufs = {k: v for k, v in mod.named_buffers()}
        out: list[tuple[float, float]] = []
        with torch.inference_mode():
            for lo in range(0, len(coords), self.batch):
                C = torch.tensor(coords[lo : lo + self.batch], dtype=self.X.dtype, device=self.X.device)
                B = C.shape[0]
                P = {}
                for j, k in enumerate(self.names):
                    t = self.theta[j].expand(B, *self.theta[j].shape).clone()
                    for i, d in enumerate(self.D):
                        t += C[:, i].view(B, *([1] * d[j].dim())) * d[j]
                    P[k] = t
                if self.first is not None:
                    h = self.A0.expand(B, *self.A0.shape).clone()
                    for i, a in enumerate(self.A):
                        h += C[:, i].view(B, *([1] * a.dim())) * a
                    outs = vmap(lambda p, x: functional_call(mod, {**p, **bufs}, (x,)))(P, h)
                else:
                    outs = vmap(lambda p: functional_call(mod, {**p, **bufs}, (self.X,)))(P)
                out.extend(self._score(o, 1) for o in outs)
        return out


class _CachedOutput(nn.Module):
    """Stands in for the first layer in a traced graph: returns the output computed from the cached products."""

    def __init__(self) -> None:
        super().__init__()
        self.value: torch.Tensor | None = None

    def forward(self, x):
        return self.value


class _TracedTail(nn.Module):
    """The rest of a traced (non-``Sequential``) model: ``tail(h)`` runs the graph with the first layer's output h."""

    def __init__(self, gm, cached: _CachedOutput, X: torch.Tensor) -> None:
        super().__init__()
        self.gm, self.cached, self.X = gm, cached, X

    def forward(self, h):
        self.cached.value = h
        return self.gm(self.X)


def _traced_first_layer(model: nn.Module, X: torch.Tensor):
    """``(path, layer, tail)`` when the input goes straight into one Linear/Conv layer, else ``None``.

    For any model that ``torch.fx`` traces and whose input goes straight into one Linear/Conv layer (called once,
    parameters not shared): ``(path, layer, tail)`` so the first-layer reuse also works for models written as
    classes (ResNets, custom MLPs); ``None`` otherwise (the plain forward pass is used).
    """
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - not traceable: no reuse, same results
        return None
    holders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(holders) != 1:
        return None
    x = holders[0]
    mods = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            calls[n.target] = calls.get(n.target, 0) + 1
        elif n.op == "get_attr":
            return None  # parameters used directly in forward: the bookkeeping below would not see them
    for n in list(x.users):
        if n.op != "call_module" or n.args != (x,) or n.kwargs or calls.get(n.target) != 1:
            continue
        mod = mods[n.target]
        if type(mod) not in _AFFINE_FIRST:
            continue
        mine = {id(p) for p in mod.parameters()}
        if any(
            id(p) in mine
            for k, sub in mods.items()
            if k != n.target and not k.startswith(n.target + ".") and sub is not mod
            for p in sub.parameters(recurse=False)
        ):
            continue
        cached = _CachedOutput()
        gm.add_submodule("_tamelab_cached_first", cached)
        n.target = "_tamelab_cached_first"
        gm.recompile()
        return _module_path(model, mod), mod, _TracedTail(gm, cached, X)
    return None


def _module_path(model: nn.Module, mod: nn.Module) -> str:
    return next(k for k, v in model.named_modules() if v is mod)


def _linear_part(mod: nn.Module, prefix: str, dirs: list[dict]):
    """For a module affine in its input whose parameters do not move along any direction:

    its linear part (``x ↦ g(x) − g(0)``), else ``None``.
    """
    if isinstance(
        mod,
        (
            nn.Identity,
            nn.Flatten,
            nn.AvgPool1d,
            nn.AvgPool2d,
            nn.AvgPool3d,
            nn.AdaptiveAvgPool1d,
            nn.AdaptiveAvgPool2d,
            nn.AdaptiveAvgPool3d,
        ),
    ) or (isinstance(mod, nn.Dropout) and not mod.training):
        return mod
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        if mod.training or mod.running_var is None:
            return None
        for pname, _ in mod.named_parameters(recurse=False):
            if any(bool(torch.count_nonzero(d[f"{prefix}.{pname}"])) for d in dirs):
                return None
        scale = torch.rsqrt(mod.running_var + mod.eps)
        if mod.weight is not None:
            scale = scale * mod.weight.detach()

        def lin(x, scale=scale):
            return x * scale.view(1, -1, *([1] * (x.dim() - 2)))

        return lin
    return None


def _eval_chunk(args: tuple) -> list[tuple[float, float]]:
    """Top-level (picklable) chunk evaluator returning ``[(loss, acc)]`` for each grid point.

    Top-level (picklable) chunk evaluator: (model, θ or None, dirs, coords, X, T, loss name or Loss) -> [(loss,
    acc)].

    ``θ = None`` means the model's own parameters (and keeps them out of the task payload).

    Points are sorted so that those sharing all coordinates but the first are consecutive (row reuse
    of the first layer), and returned in the order given.
    """
    model, theta, dirs, coords, X, T, loss_name, *rest = args
    ev = _GridEvaluator(model, theta, dirs, X, T, loss_name, points_per_batch=rest[0] if rest else 1)
    order = sorted(range(len(coords)), key=lambda i: (tuple(coords[i][1:]), coords[i][0]))
    vals = ev([coords[i] for i in order])
    out: list = [None] * len(coords)
    for i, v in zip(order, vals):
        out[i] = v
    return out


def _pack_chunk_payload(model: nn.Module, dirs: list[dict], X: torch.Tensor, T: torch.Tensor):
    """The shared part of a chunk's arguments as NumPy arrays and a meta-device model skeleton, or ``None``.

    The shared part of a chunk's arguments with every tensor as a NumPy array and the model as a
    meta-device skeleton: Dask ships NumPy buffers without pickling them (a ~1 MB payload started a task
    after ~6-15 ms instead of ~30-65 ms). ``None`` if some tensor has no NumPy dtype (e.g. bfloat16).
    """
    import copy

    try:
        state = {k: v.detach().cpu().numpy() for k, v in [*model.named_parameters(), *model.named_buffers()]}
        dnp = [{k: v.detach().cpu().numpy() for k, v in d.items()} for d in dirs]
        skeleton = copy.deepcopy(model).to("meta")
        # the worker rebuilds with to_empty + copy: check here that this gives back exactly these tensors
        probe = copy.deepcopy(skeleton).to_empty(device="cpu")
        if {k for k, _ in [*probe.named_parameters(), *probe.named_buffers()]} != set(state):
            return None
        return skeleton, state, dnp, X.detach().cpu().numpy(), T.detach().cpu().numpy()
    except (TypeError, RuntimeError, NotImplementedError, AttributeError):
        return None


def _eval_chunk_packed(args: tuple) -> list[tuple[float, float]]:
    """Top-level (picklable) evaluator of a chunk packed by :func:`_pack_chunk_payload`."""
    (skeleton, state, dnp, Xn, Tn), coords, loss_name, *rest = args
    coords = [tuple(map(float, row)) for row in np.asarray(coords, dtype=np.float64).reshape(len(coords), -1)]
    model = skeleton.to_empty(device="cpu")
    with torch.no_grad():
        for k, t in [*model.named_parameters(), *model.named_buffers()]:
            t.copy_(torch.from_numpy(state[k]))
    dirs = [{k: torch.from_numpy(v) for k, v in d.items()} for d in dnp]
    return _eval_chunk((model, None, dirs, coords, torch.from_numpy(Xn), torch.from_numpy(Tn), loss_name, *rest))


@dataclasses.dataclass
class SurfaceResult(Result):
    """The loss (and accuracy) on a grid in the plane (or line) of two (one) directions around the model."""

    kind = "landscape"

    losses: list = dataclasses.field(default_factory=list)
    accuracies: list = dataclasses.field(default_factory=list)
    alphas: list[float] = dataclasses.field(default_factory=list)
    betas: list[float] = dataclasses.field(default_factory=list)
    center_loss: float = float("nan")
    grid: int = 0
    span: float = 1.0
    dims: int = 2
    executor: str = "serial"

    def arrays(self):
        """The loss grid, stored in ``arrays.npz``."""
        return {"losses": np.asarray(self.losses, dtype=float)}


def _points_per_batch(points_per_batch, X: torch.Tensor) -> int:
    if points_per_batch is None:
        return 16 if X.device.type == "cuda" else 1  # see _GridEvaluator._batched
    if not isinstance(points_per_batch, (int, np.integer)) or points_per_batch < 1:
        raise InputError("points_per_batch", f"must be a positive integer, got {points_per_batch!r}")
    return int(points_per_batch)


def _evaluate_grid(
    model: nn.Module,
    dirs: list[dict],
    coords: list[tuple],
    X,
    T,
    loss,
    executor,
    chunks: int | None,
    points_per_batch: int | None = None,
) -> dict[tuple, tuple[float, float]]:
    """(loss, accuracy) at ``θ_model + Σ c_i dirs_i`` for every c, evaluated in chunks through the executor.

    (loss, accuracy) at ``θ_model + Σ c_i dirs_i`` for every c, in chunks of whole grid rows through the
    executor (default: one chunk per worker).
    """
    from ..parallel import SerialExecutor

    ppb = _points_per_batch(points_per_batch, X)
    ex = executor or SerialExecutor()
    # one chunk per worker by default: each chunk ships the model and the data once (~1 MB here), and
    # the Dask dispatch latency is paid per chunk; pass more chunks for balance/fault tolerance
    nchunks = chunks or (1 if ex.name == "serial" else max(1, int(getattr(ex, "n_workers", 2) or 2)))
    # whole rows (all points sharing the trailing coordinates) per chunk, so the first-layer row reuse holds
    rows = {key: i for i, key in enumerate(sorted({tuple(c[1:]) for c in coords}))}
    parts = [p for p in ([c for c in coords if rows[tuple(c[1:])] % nchunks == i] for i in range(nchunks)) if p]
    packed = _pack_chunk_payload(model, dirs, X, T) if ex.name != "serial" else None
    if packed is not None:
        # coordinates as one array too: a list of ~900 tuples made each task start ~10 ms later
        res = ex.map(
            _eval_chunk_packed, [(packed, np.asarray(p, dtype=np.float64), loss, ppb) for p in parts], desc="landscape"
        )
    else:
        res = ex.map(_eval_chunk, [(model, None, dirs, p, X, T, loss, ppb) for p in parts], desc="landscape")
    vals: dict[tuple, tuple[float, float]] = {}
    for p, r in zip(parts, res):
        vals.update(dict(zip(p, r)))
    return vals


def _check_dirs(model: nn.Module, dirs: list[dict]) -> list[dict[str, torch.Tensor]]:
    params = dict(model.named_parameters())
    out = []
    for i, d in enumerate(dirs):
        if not isinstance(d, dict) or set(d) != set(params):
            raise InputError(
                "directions",
                f"direction {i} must be a dict with the model's parameter names",
                "build it with filter_normalized_direction(model) or model_direction(a, b)",
            )
        bad = [k for k in params if tuple(d[k].shape) != tuple(params[k].shape)]
        if bad:
            raise InputError("directions", f"direction {i} has wrong shapes for {bad[:3]}")
        out.append({k: torch.as_tensor(d[k]).to(dtype=params[k].dtype, device=params[k].device) for k in params})
    return out


def loss_surface(
    model: nn.Module,
    data,
    targets=None,
    *,
    loss="cross_entropy",
    grid: int = 41,
    span: float = 1.0,
    dims: int = 2,
    directions: list[dict[str, torch.Tensor]] | None = None,
    seed=0,
    executor=None,
    chunks: int | None = None,
    device=None,
    dtype=None,
    input_key: str | None = None,
    target_key: str | None = None,
    points_per_batch: int | None = None,
) -> SurfaceResult:
    """1-D or 2-D loss/accuracy surface around ``model`` (θ exactly at the grid centre when ``grid`` is odd).

    ``directions`` defaults to filter-normalised Gaussian directions; pass e.g.
    ``[model_direction(model, other)]`` for the slice along the model-to-model direction (α = 1 is
    ``other``). ``executor`` (``tamelab.parallel``) evaluates ``chunks`` groups of whole grid rows (default:
    one per worker); the surface is bitwise the same for any executor and chunking. ``points_per_batch`` grid
    points share one batched forward pass (``torch.func.vmap``; default 16 on CUDA, 1 on the CPU).

    Input contract (every slice function): ``data`` is anything :func:`tamelab.inputs.as_data` takes — ``X`` with
    ``targets=T``, ``(X, T)`` tensors or NumPy arrays, a ``Dataset``, a ``DataLoader`` with tuple or dict batches
    (``input_key``/``target_key``) — and ``loss`` a name (``"cross_entropy"``, ``"nll"``, ``"mse"``, ...) or a callable
    ``(output, target) -> mean loss``; ``device``/``dtype`` choose where and in which precision to evaluate (default:
    the model's); the caller's model is never changed. Accuracy is reported for integer labels (argmax), NaN
    otherwise.
    """
    t0 = time.perf_counter()
    if not isinstance(grid, (int, np.integer)) or grid < 2:
        raise InputError("--grid", f"must be an integer >= 2, got {grid!r}")
    if dims not in (1, 2):
        raise InputError("dims", "must be 1 or 2")
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 0):
        raise InputError("span", f"must be a positive number, got {span!r}")
    s = resolve_seed(seed)
    model, X, T, loss = _prepare(model, data, targets, loss, device, dtype, input_key, target_key)
    theta = {k: v.detach().clone() for k, v in model.named_parameters()}
    dirs = (
        _check_dirs(model, directions)
        if directions
        else [filter_normalized_direction(model, seed=s + i) for i in range(dims)]
    )
    if len(dirs) != dims:
        raise InputError("directions", f"{len(dirs)} given for a {dims}-D surface", f"pass {dims}")
    alphas = np.linspace(-span, span, grid)
    coords = [(a,) for a in alphas] if dims == 1 else [(a, b) for a in alphas for b in alphas]
    vals = _evaluate_grid(model, dirs, coords, X, T, loss, executor, chunks, points_per_batch)
    L = np.array([vals[c][0] for c in coords])
    A = np.array([vals[c][1] for c in coords])
    if not np.isfinite(L).all():
        raise ComputationError("non-finite loss on the grid; reduce --span")
    shape = (grid,) if dims == 1 else (grid, grid)
    zero = (0.0,) * dims  # on the grid for odd sizes; evaluated on its own otherwise
    center = vals[zero][0] if zero in vals else _eval_chunk((model, theta, dirs, [zero], X, T, loss))[0][0]
    return SurfaceResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        losses=L.reshape(shape).tolist(),
        accuracies=A.reshape(shape).tolist(),
        alphas=alphas.tolist(),
        betas=alphas.tolist() if dims == 2 else [],
        center_loss=center,
        grid=grid,
        span=span,
        dims=dims,
        executor=(executor.name if executor is not None else "serial"),
    )


def _same_architecture(models: list[nn.Module]) -> list[dict[str, torch.Tensor]]:
    thetas = [{k: v.detach() for k, v in m.named_parameters()} for m in models]
    ref = thetas[0]
    if not ref:
        raise InputError("model", "has no parameters")
    for t in thetas[1:]:
        if t.keys() != ref.keys() or any(t[k].shape != ref[k].shape for k in ref):
            raise InputError(
                "models", "architectures differ (parameter names or shapes)", "use models of one architecture"
            )
    return thetas


def model_direction(model_a: nn.Module, model_b: nn.Module) -> dict[str, torch.Tensor]:
    r"""The parameter-space direction :math:`\theta_B-\theta_A` (every tensor, biases included)."""
    ta, tb = _same_architecture([model_a, model_b])
    return {k: tb[k].to(ta[k].device, ta[k].dtype) - ta[k] for k in ta}


def _dot(a: dict, b: dict) -> float:
    return float(sum((a[k].double() * b[k].double().to(a[k].device)).sum() for k in a))


@dataclasses.dataclass
class PlaneResult(Result):
    """Loss/accuracy on the plane through three models (Garipov et al. 2018, Fig. 1 construction)."""

    kind = "model_plane"

    losses: list = dataclasses.field(default_factory=list)
    accuracies: list = dataclasses.field(default_factory=list)
    xs: list[float] = dataclasses.field(default_factory=list)
    ys: list[float] = dataclasses.field(default_factory=list)
    model_coords: list[list[float]] = dataclasses.field(default_factory=list)
    model_losses: list[float] = dataclasses.field(default_factory=list)
    plane_losses_at_models: list[float] = dataclasses.field(default_factory=list)
    max_model_mismatch: float = float("nan")
    grid: int = 0
    margin: float = 0.0
    executor: str = "serial"

    def arrays(self):
        """The loss grid, stored in ``arrays.npz``."""
        return {"losses": np.asarray(self.losses, dtype=float)}


def plane_through_models(
    model_a: nn.Module,
    model_b: nn.Module,
    model_c: nn.Module,
    data,
    targets=None,
    *,
    loss="cross_entropy",
    grid: int = 25,
    margin: float = 0.25,
    executor=None,
    chunks: int | None = None,
    device=None,
    dtype=None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> PlaneResult:
    r"""Loss and accuracy on the affine plane through three models of one architecture.

    Orthonormal basis by Gram–Schmidt (Garipov et al., arXiv:1802.10026, §5):
    :math:`u=(\theta_B-\theta_A)/\|\theta_B-\theta_A\|`,
    :math:`v\propto(\theta_C-\theta_A)-\langle\theta_C-\theta_A,u\rangle u`; the point
    :math:`(x,y)` is :math:`\theta_A+xu+yv`, so A, B, C sit at :math:`(0,0)`, :math:`(\|\theta_B-\theta_A\|,0)`
    and :math:`(\langle\theta_C-\theta_A,u\rangle,\langle\theta_C-\theta_A,v\rangle)` (``model_coords``). The
    grid covers the bounding box of the three points, widened by ``margin`` times its size on every side.
    Certificate: the three models are also evaluated at their plane coordinates and compared with their
    own losses (``max_model_mismatch``); status ``ok`` when it is float rounding only (``MODEL_MATCH_EPS_UNITS``
    × eps(dtype) × max(1, |loss|)), ``uncertified`` otherwise (e.g. the models' BatchNorm running statistics
    differ: the plane moves the parameters only, evaluated with A's buffers).

    Input contract (every slice function): ``data`` is anything :func:`tamelab.inputs.as_data` takes — ``X`` with
    ``targets=T``, ``(X, T)`` tensors or NumPy arrays, a ``Dataset``, a ``DataLoader`` with tuple or dict batches
    (``input_key``/``target_key``) — and ``loss`` a name (``"cross_entropy"``, ``"nll"``, ``"mse"``, ...) or a callable
    ``(output, target) -> mean loss``; ``device``/``dtype`` choose where and in which precision to evaluate (default:
    the model's); the caller's model is never changed. Accuracy is reported for integer labels (argmax), NaN
    otherwise.
    """
    t0 = time.perf_counter()
    if grid < 2:
        raise InputError("--grid", f"must be >= 2, got {grid}")
    if not margin >= 0:
        raise InputError("margin", f"must be >= 0, got {margin}")
    from ..inputs import model_on

    model_a, X, T, loss = _prepare(model_a, data, targets, loss, device, dtype, input_key, target_key)
    p0 = next(model_a.parameters())
    model_b, model_c = model_on(model_b, p0.device, p0.dtype), model_on(model_c, p0.device, p0.dtype)
    ta, tb, tc = _same_architecture([model_a, model_b, model_c])
    d1 = {k: (tb[k].to(ta[k].device).double() - ta[k].double()) for k in ta}
    d2 = {k: (tc[k].to(ta[k].device).double() - ta[k].double()) for k in ta}
    n1 = math.sqrt(_dot(d1, d1))
    if n1 == 0.0:
        raise InputError("models", "A and B are the same point", "pass three distinct models")
    u = {k: v / n1 for k, v in d1.items()}
    cx = _dot(d2, u)
    w = {k: d2[k] - cx * u[k] for k in d2}
    cy = math.sqrt(max(_dot(w, w), 0.0))
    if cy <= COLLINEAR_RTOL * max(n1, math.sqrt(_dot(d2, d2))):
        raise InputError(
            "models", "the three models are collinear: they span no plane", "pass three non-collinear models"
        )
    v = {k: x / cy for k, x in w.items()}
    dt = {k: p.dtype for k, p in ta.items()}
    dirs = [{k: u[k].to(dt[k]) for k in u}, {k: v[k].to(dt[k]) for k in v}]
    pts = np.array([[0.0, 0.0], [n1, 0.0], [cx, cy]])
    lo, hi = pts.min(0), pts.max(0)
    pad = margin * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
    coords = [(x, y) for x in xs for y in ys]
    vals = _evaluate_grid(model_a, dirs, coords, X, T, loss, executor, chunks)
    L = np.array([vals[c][0] for c in coords]).reshape(grid, grid)
    A = np.array([vals[c][1] for c in coords]).reshape(grid, grid)
    if not np.isfinite(L).all():
        raise ComputationError("non-finite loss on the plane; reduce margin")
    at_models = [v_[0] for v_ in _eval_chunk((model_a, None, dirs, [tuple(p) for p in pts], X, T, loss))]
    own = [_eval_chunk((m, None, dirs, [(0.0, 0.0)], X, T, loss))[0][0] for m in (model_a, model_b, model_c)]
    # the plane's own check: each model sits on the plane at its coordinates (differing BatchNorm buffers or
    # other state outside the parameters break it; the surface then is not the plane through the three models)
    mismatch, sits = _matches_own_losses(at_models, own, p0.dtype)
    return PlaneResult(
        status=Status.OK if sits else Status.UNCERTIFIED,
        seconds=time.perf_counter() - t0,
        losses=L.tolist(),
        accuracies=A.tolist(),
        xs=xs.tolist(),
        ys=ys.tolist(),
        model_coords=pts.tolist(),
        model_losses=own,
        plane_losses_at_models=at_models,
        max_model_mismatch=mismatch,
        grid=grid,
        margin=margin,
        executor=(executor.name if executor is not None else "serial"),
    )


@dataclasses.dataclass
class InterpolationResult(Result):
    """The loss along the straight line between two models, with its barriers."""

    kind = "interpolation"

    alphas: list[float] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    accuracies: list[float] = dataclasses.field(default_factory=list)
    barrier_mean: float = float("nan")
    barrier_linear: float = float("nan")
    accuracy_barrier: float = float("nan")
    argmax_alpha: float = float("nan")
    #: |loss on the line at t = 1 − B's own loss|: float rounding when B's state outside the parameters (BatchNorm
    #: running statistics) equals A's; larger, and the status is ``uncertified``, when it does not — the line moves
    #: the parameters only (use :func:`tamelab.landscape.connect_models` with ``bn=`` for BatchNorm models).
    endpoint_mismatch: float = float("nan")


def interpolate(
    model_a: nn.Module,
    model_b: nn.Module,
    data,
    targets=None,
    *,
    loss="cross_entropy",
    points: int = 25,
    refine: bool = True,
    device=None,
    dtype=None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> InterpolationResult:
    """Linear interpolation A → B with loss/accuracy barriers (both definitions).

    Input contract (every slice function): ``data`` is anything :func:`tamelab.inputs.as_data` takes — ``X`` with
    ``targets=T``, ``(X, T)`` tensors or NumPy arrays, a ``Dataset``, a ``DataLoader`` with tuple or dict batches
    (``input_key``/``target_key``) — and ``loss`` a name (``"cross_entropy"``, ``"nll"``, ``"mse"``, ...) or a callable
    ``(output, target) -> mean loss``; ``device``/``dtype`` choose where and in which precision to evaluate (default:
    the model's); the caller's model is never changed. Accuracy is reported for integer labels (argmax), NaN
    otherwise.

    The line moves the parameters only; buffers are A's. The end point is checked against B's own loss
    (``endpoint_mismatch``): the status is ``uncertified`` when they differ beyond float rounding (e.g. BatchNorm
    running statistics differ; :func:`tamelab.landscape.connect_models` interpolates or resets them).
    """
    t0 = time.perf_counter()
    if not isinstance(points, (int, np.integer)) or points < 2:
        raise InputError("points", f"must be an integer >= 2, got {points!r}")
    model_a, X, T, loss = _prepare(model_a, data, targets, loss, device, dtype, input_key, target_key)
    ta = {k: v.detach() for k, v in model_a.named_parameters()}
    tb = {k: v.detach().to(ta[k].device, ta[k].dtype) for k, v in model_b.named_parameters() if k in ta}
    if set(tb) != set(dict(model_b.named_parameters())):
        raise InputError("models", "have different architectures", "interpolation needs identical parameter shapes")
    if ta.keys() != tb.keys() or any(ta[k].shape != tb[k].shape for k in ta):
        raise InputError("models", "have different architectures", "interpolation needs identical parameter shapes")
    delta = {k: tb[k] - ta[k] for k in ta}

    def ev(a):
        return _eval_chunk((model_a, ta, [delta], [(a,)], X, T, loss))[0]

    r = line_barriers(ev, points, refine=refine)
    from ..inputs import model_on

    p0 = next(iter(ta.values()))
    mb = model_on(model_b, p0.device, p0.dtype)
    own_b = _eval_chunk((mb, None, [delta], [(0.0,)], X, T, loss))[0][0]
    at_one = r["losses"][-1]  # the line's end point (t = 1), already evaluated by line_barriers
    mismatch, sits = _matches_own_losses([at_one], [own_b], p0.dtype)
    status = Status.OK if sits else Status.UNCERTIFIED
    return InterpolationResult(status=status, seconds=time.perf_counter() - t0, endpoint_mismatch=mismatch, **r)


def _matches_own_losses(got, own, dtype: torch.dtype) -> tuple[float, bool]:
    """Largest |got − own| and whether it is float rounding only (``MODEL_MATCH_EPS_UNITS`` × eps × max(1, |own|))."""
    mismatch = float(np.max(np.abs(np.subtract(got, own))))
    tol = MODEL_MATCH_EPS_UNITS * float(torch.finfo(dtype).eps) * max(1.0, *(abs(float(x)) for x in own))
    return mismatch, mismatch <= tol


def line_barriers(ev, points: int, *, refine: bool = True) -> dict:
    r"""Loss and accuracy barriers of a path :math:`t\in[0,1]` evaluated by ``ev(t) -> (loss, accuracy | None)``.

    On ``points`` equispaced :math:`t`: ``barrier_mean`` :math:`=\max_t L(t)-\frac12(L(0)+L(1))` (the maximum
    refined by a golden-section search around the grid's argmax when ``refine``), ``barrier_linear``
    :math:`=\max_t L(t)-((1-t)L(0)+tL(1))` and ``accuracy_barrier`` :math:`=\frac12(A(0)+A(1))-\min_t A(t)` (NaN
    when an accuracy is missing or non-finite). The one barrier definition of :func:`interpolate` and
    :func:`tamelab.landscape.barrier`.
    """
    al = np.linspace(0, 1, points)
    vals = [ev(float(a)) for a in al]
    Ls = np.array([v[0] for v in vals], dtype=float)
    As = np.array([np.nan if v[1] is None else v[1] for v in vals], dtype=float)
    La, Lb = Ls[0], Ls[-1]
    i = int(np.argmax(Ls - 0.5 * (La + Lb)))
    amax, lmax = float(al[i]), float(Ls[i])
    if refine and 0 < i < points - 1:
        lo, hi = al[i - 1], al[i + 1]
        gr = (np.sqrt(5) - 1) / 2
        for _ in range(30):
            c, d = hi - gr * (hi - lo), lo + gr * (hi - lo)
            if ev(float(c))[0] > ev(float(d))[0]:
                hi = d
            else:
                lo = c
        a2 = float(0.5 * (lo + hi))
        l2 = ev(a2)[0]
        if l2 > lmax:
            amax, lmax = a2, float(l2)
    lin = float(np.max(Ls - ((1 - al) * La + al * Lb)))
    accb = float(0.5 * (As[0] + As[-1]) - As.min()) if np.isfinite(As).all() else float("nan")
    return {
        "alphas": al.tolist(),
        "losses": Ls.tolist(),
        "accuracies": As.tolist(),
        "barrier_mean": float(lmax - 0.5 * (La + Lb)),
        "barrier_linear": max(lin, float(lmax - ((1 - amax) * La + amax * Lb))),
        "accuracy_barrier": accb,
        "argmax_alpha": float(amax),
    }


@dataclasses.dataclass
class TrajectorySurface(Result):
    """The loss on the plane of the first two principal directions of a training trajectory."""

    kind = "trajectory_surface"

    losses: list = dataclasses.field(default_factory=list)
    xs: list[float] = dataclasses.field(default_factory=list)
    ys: list[float] = dataclasses.field(default_factory=list)
    path: list[list[float]] = dataclasses.field(default_factory=list)
    explained_variance_ratio: list[float] = dataclasses.field(default_factory=list)
    grid: int = 0
    margin: float = 0.0

    def arrays(self):
        """The loss grid and the projected trajectory, stored in ``arrays.npz``."""
        return {"losses": np.asarray(self.losses, dtype=float), "path": np.asarray(self.path, dtype=float)}


def trajectory_surface(
    model: nn.Module,
    snapshots: list[dict[str, torch.Tensor]],
    data,
    targets=None,
    *,
    loss="cross_entropy",
    grid: int = 15,
    margin: float = 0.3,
    executor=None,
    chunks: int | None = None,
    device=None,
    dtype=None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> TrajectorySurface:
    r"""Loss on the PCA plane of a trajectory (Li et al., arXiv:1712.09913, §7), with the path on it.

    ``model`` holds the final point :math:`\theta_n` (the origin of the plane, as in
    :func:`~tamelab.landscape.trajectory_pca`); the grid covers the path's bounding box widened by
    ``margin`` times its size. ``path`` are the snapshots' coordinates (the last is (0, 0)).

    Input contract (every slice function): ``data`` is anything :func:`tamelab.inputs.as_data` takes — ``X`` with
    ``targets=T``, ``(X, T)`` tensors or NumPy arrays, a ``Dataset``, a ``DataLoader`` with tuple or dict batches
    (``input_key``/``target_key``) — and ``loss`` a name (``"cross_entropy"``, ``"nll"``, ``"mse"``, ...) or a callable
    ``(output, target) -> mean loss``; ``device``/``dtype`` choose where and in which precision to evaluate (default:
    the model's); the caller's model is never changed. Accuracy is reported for integer labels (argmax), NaN
    otherwise.
    """
    from ._pca import trajectory_pca

    t0 = time.perf_counter()
    if len(snapshots) < 3:
        raise InputError("snapshots", f"need at least 3 for a 2-D PCA, got {len(snapshots)}", "record more snapshots")
    if grid < 2:
        raise InputError("--grid", f"must be >= 2, got {grid}")
    model, X, T, loss = _prepare(model, data, targets, loss, device, dtype, input_key, target_key)
    pca = trajectory_pca(snapshots)
    c = np.asarray(pca["coords"])
    lo, hi = c.min(0), c.max(0)
    pad = margin * (hi - lo) + 1e-9
    xs, ys = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid), np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
    coords = [(x, y) for x in xs for y in ys]
    vals = _evaluate_grid(model, _check_dirs(model, pca["directions"]), coords, X, T, loss, executor, chunks)
    L = np.array([vals[p][0] for p in coords]).reshape(grid, grid)
    return TrajectorySurface(
        status=Status.OK,
        seconds=time.perf_counter() - t0,
        losses=L.tolist(),
        xs=xs.tolist(),
        ys=ys.tolist(),
        path=c.tolist(),
        explained_variance_ratio=list(pca["explained_variance_ratio"]),
        grid=grid,
        margin=margin,
    )
