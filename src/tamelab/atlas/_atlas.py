"""The atlas runner: an atlas of any model (:func:`atlas`) or of the built-in MLP (:func:`run_atlas`).

Flow: validate every argument and the output path (one :class:`~tamelab.errors.InputError` line, before
any work) → optionally train (:func:`tamelab.train.train`, or :func:`tamelab.train.fit` for the
built-in config) → :class:`~tamelab.atlas.AtlasRun` → each selected section, timed, with progress
(a status line on a terminal, one plain log line per section start and end otherwise) → the run
directory: figures, ``model.safetensors``, ``arrays.npz``, ``report.html`` and, last,
``result.json`` (its presence marks a complete run).

A section whose mathematics does not apply raises :class:`~tamelab.errors.NotApplicableError` and is
recorded ``not_applicable`` with the reason; any other exception is recorded ``failed`` with its
error. Neither stops the atlas.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..config import validate
from ..errors import InputError, NotApplicableError
from ..result import Result, Status
from ..train import TrainConfig
from ._registry import FIGURE_FORMATS, SectionContent, SectionSpec, all_sections, fig_to_bytes
from ._run import AtlasRun

__all__ = [
    "AtlasConfig",
    "AtlasResult",
    "TrainSettings",
    "atlas",
    "run_atlas",
    "default_config",
    "select_sections",
]


class AtlasConfig(BaseModel):
    """The built-in atlas flow (``tamelab atlas`` without ``--model``; ``default.toml``).

    Attributes:
        train: the :class:`~tamelab.train.TrainConfig` of the built-in MLP.
        quick: CI-sized sections. sections / skip: section ids to run / to leave out.
        format: figure files also written as ``svg`` or ``pdf`` (the report always embeds PNG).
    """

    model_config = ConfigDict(extra="forbid")

    train: TrainConfig = Field(default_factory=TrainConfig)
    quick: bool = False
    sections: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)
    format: Literal["png", "svg", "pdf"] = "png"


class TrainSettings(BaseModel):
    """How :func:`atlas` trains a model when ``train_first`` asks for it.

    The fields are keyword arguments of :func:`tamelab.train.train`.

    Attributes:
        optimizer: a name of :data:`tamelab.train.OPTIMIZERS` (``adam``, ``sgd``, ...).
        lr: step size. epochs: passes over the data. batch_size: mini-batch size.
        snapshot_every: steps between parameter snapshots (0: one per epoch).
    """

    model_config = ConfigDict(extra="forbid")

    optimizer: str = "adam"
    lr: float = Field(1e-3, gt=0)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    snapshot_every: int = Field(0, ge=0)


def default_config() -> dict[str, Any]:
    """The shipped ``default.toml`` of the built-in atlas, as a dict."""
    import tomllib

    return tomllib.loads(resources.files("tamelab.atlas").joinpath("default.toml").read_text("utf-8"))


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class AtlasResult(Result):
    """An atlas run (``result.json`` of the run directory; ``report.html`` next to it).

    Attributes:
        model: the model's class name; ``architecture``: its layers in order (compact);
            ``n_params``: trainable parameters.
        data: the training data's name; ``n_train``/``n_test`` sample counts (``n_test`` 0 without test
            data); ``input_shape``: one sample's shape; ``n_classes``: outputs read as classes (``None``
            for regression); ``test_source``: where the test data came from.
        loss: the loss name (a callable's ``__name__``); ``device``, ``dtype``: where the atlas ran.
        trained: whether the atlas trained the model (else it was given trained).
        train_loss, test_loss: mean loss of the final model; ``train_accuracy``/``test_accuracy``:
            fraction correct (``None`` without class labels or test data).
        training: the training run's summary (:class:`~tamelab.train.TrainResult` fields) or ``None``.
        sections: one entry per section: ``id``, ``title``, ``part`` (``model`` or ``reference``),
            ``status`` (``ok``, ``uncertified``, ``not_applicable``, ``failed``), ``verdict`` (one
            sentence), ``reason`` (not applicable: why), ``error`` (failed), ``summary``, ``units``,
            ``paragraphs``, ``tables``, ``figures`` (file names and captions), ``data``, ``seconds``.
        sections_failed, sections_not_applicable: the ids of those sections.
        quick: CI-sized run. figure_format: the extra figure format (``png`` = PNG only).
        report: path of ``report.html``; ``out_dir``: the run directory.
        training_seconds: wall time of training (0 when not trained); ``seconds``: the whole atlas.
    """

    kind = "atlas"

    model: str = ""
    architecture: str = ""
    n_params: int = 0
    data: str = ""
    n_train: int = 0
    n_test: int = 0
    input_shape: list[int] = dataclasses.field(default_factory=list)
    n_classes: int | None = None
    test_source: str | None = None
    loss: str = ""
    device: str = "cpu"
    dtype: str = "float32"
    trained: bool = False
    train_loss: float | None = None
    train_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    training: dict[str, Any] | None = None
    sections: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    sections_failed: list[str] = dataclasses.field(default_factory=list)
    sections_not_applicable: list[str] = dataclasses.field(default_factory=list)
    quick: bool = False
    figure_format: str = "png"
    report: str = ""
    out_dir: str = ""
    training_seconds: float = 0.0

    def section(self, id: str) -> dict[str, Any]:
        """The entry of section ``id``."""
        for s in self.sections:
            if s["id"] == id:
                return s
        raise KeyError(f"no section {id!r}; have {[s['id'] for s in self.sections]}")

    @property
    def statuses(self) -> dict[str, str]:
        """Section id → status."""
        return {s["id"]: s["status"] for s in self.sections}


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------
def select_sections(
    sections: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
    *,
    field: str = "sections",
) -> list[SectionSpec]:
    """The registered sections to run: ``sections`` (default: every default section) minus ``skip``.

    Unknown ids are an :class:`~tamelab.errors.InputError` listing the available ones.
    """
    specs = all_sections()
    known = {s.id for s in specs}
    for f, ids in ((field, sections), ("skip", skip)):
        if ids is None:
            continue
        if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
            raise InputError(
                f,
                f"expected a list of section ids, got {ids!r}",
                f"available: {', '.join(sorted(known))}",
            )
        bad = [i for i in ids if i not in known]
        if bad:
            raise InputError(f, f"unknown section(s) {bad}", f"available: {', '.join(sorted(known))}")
    sel = list(sections or [])
    skp = set(skip or [])
    return [s for s in specs if (s.id in sel if sel else s.default) and s.id not in skp]


def _check_out(out: str | os.PathLike, field: str = "out") -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(field, f"{p} exists and is not a directory", "choose another path")
    if p.is_symlink():
        raise InputError(field, f"{p} is a symbolic link", "pass the real directory")
    anc = p
    while not anc.exists():
        if anc.parent == anc:
            break
        anc = anc.parent
    if anc.exists() and (not anc.is_dir() or not os.access(anc, os.W_OK | os.X_OK)):
        raise InputError(field, f"cannot create {p}: {anc} is not a writable directory", "choose another path")
    for sub in ("figures",):
        q = p / sub
        if q.is_symlink() or (q.exists() and not q.is_dir()):
            raise InputError(field, f"{q} is a symbolic link or a file", "remove it or choose another path")
    return p


def _check_format(fmt: str, field: str = "format") -> str:
    if fmt not in FIGURE_FORMATS:
        raise InputError(field, f"unknown figure format {fmt!r}", f"use one of {', '.join(FIGURE_FORMATS)}")
    return fmt


def _describe_model(model: nn.Module) -> tuple[str, str]:
    """(class name, compact layer list)."""
    leaves = [type(m).__name__ for m in model.modules() if not list(m.children())]
    runs: list[list[Any]] = []
    for name in leaves:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    parts = [f"{n}×{k}" if k > 1 else n for n, k in runs]
    arch = " → ".join(parts) if len(parts) <= 14 else " → ".join(parts[:12]) + f" → … ({len(leaves)} layers)"
    return type(model).__name__, arch


# --------------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------------
class _Progress:
    """Names the running section with an estimate.

    On a terminal: a tqdm bar whose description is the running section; otherwise one plain line per section start and
    end (with seconds) on stderr.
    """

    def __init__(self, specs: list[SectionSpec], quick: bool, enabled: bool | None) -> None:
        from .._progress import is_quiet

        self.quiet = (enabled is False) or (enabled is None and is_quiet())
        self.tty = sys.stderr.isatty()
        self.specs = specs
        self.quick = quick
        self.factor = 1.0  # measured / estimated so far (calibrates the estimates to this machine)
        self._ratios: list[float] = []
        self.bar = None
        if not self.quiet and self.tty and specs:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=len(specs),
                file=sys.stderr,
                leave=False,
                mininterval=0.2,
                bar_format="{desc} [{n_fmt}/{total_fmt}] {elapsed}",
            )

    def log(self, msg: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(f"atlas: {msg}", file=sys.stderr)
        else:
            print(f"atlas: {msg}", file=sys.stderr, flush=True)

    def _est(self, spec: SectionSpec) -> float:
        return spec.estimate[1 if self.quick else 0] * self.factor

    def start(self, i: int, spec: SectionSpec) -> None:
        if self.quiet:
            return
        remaining = sum(self._est(s) for s in self.specs[i:])
        text = f"{spec.id}: {spec.title} (est. {self._est(spec):.0f} s, about {remaining:.0f} s left)"
        if self.bar is not None:
            self.bar.set_description_str(f"atlas [{i + 1}/{len(self.specs)}] {text}")
        else:
            print(f"atlas: [{i + 1}/{len(self.specs)}] {text} started", file=sys.stderr, flush=True)

    def end(self, i: int, spec: SectionSpec, status: str, seconds: float) -> None:
        est = spec.estimate[1 if self.quick else 0]
        if est > 0.5:  # calibrate on sections long enough to measure: the median of measured / estimated
            self._ratios.append(seconds / est)
            r = sorted(self._ratios)
            self.factor = min(5.0, max(0.2, r[len(r) // 2]))
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.write(
                f"atlas: [{i + 1}/{len(self.specs)}] {spec.id} {status} in {seconds:.1f} s",
                file=sys.stderr,
            )
        else:
            print(
                f"atlas: [{i + 1}/{len(self.specs)}] {spec.id} {status} in {seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------------------------------
# running sections and writing the run directory
# --------------------------------------------------------------------------------------------------
def _run_section(spec: SectionSpec, run: AtlasRun, fmt: str, figures: dict[str, bytes]) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    ts, cs = time.perf_counter(), time.process_time()
    entry: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "part": spec.part,
        "verdict": "",
        "reason": None,
        "error": None,
        "summary": {},
        "units": {},
        "paragraphs": [],
        "tables": [],
        "figures": [],
        "data": {},
    }
    try:
        content = spec.fn(run)
        if not isinstance(content, SectionContent):
            raise TypeError(f"section {spec.id} returned {type(content).__name__}, expected SectionContent")
        figs = []
        for f in content.figures:
            png = f.png if f.png is not None else fig_to_bytes(f.fig, "png", close=False)
            fname = f"{spec.id}-{f.name}.png"
            figures[fname] = png
            entry_fig = {"file": fname, "caption": f.caption}
            if f.fig is not None:
                if fmt != "png":
                    extra = f"{spec.id}-{f.name}.{fmt}"
                    figures[extra] = fig_to_bytes(f.fig, fmt, close=False)
                    entry_fig["file_" + fmt] = extra
                plt.close(f.fig)
            figs.append(entry_fig)
        entry.update(
            title=content.title or spec.title,
            status=str(content.status),
            verdict=content.verdict,
            summary=dict(content.summary),
            summary_order=[str(k) for k in content.summary],
            units=dict(content.units),
            paragraphs=list(content.paragraphs),
            tables=[
                {
                    "columns": list(t.columns),
                    "rows": [list(r) for r in t.rows],
                    "caption": t.caption,
                }
                for t in content.tables
            ],
            figures=figs,
            data=content.data,
        )
    except NotApplicableError as e:
        why = e.problem if not e.fix else f"{e.problem} ({e.fix})"
        reason = f"{e.field}: {why}"
        entry.update(status="not_applicable", reason=reason, verdict=f"Not applicable: {reason}.")
    except Exception as e:  # noqa: BLE001 - a broken section is reported, never fatal to the atlas
        entry.update(
            status="failed",
            error=f"{type(e).__name__}: {e}",
            traceback=traceback.format_exc(limit=6),
            verdict=f"This section failed ({type(e).__name__}); its error is shown below.",
        )
    finally:
        plt.close("all")
    entry["seconds"] = time.perf_counter() - ts
    entry["cpu_seconds"] = time.process_time() - cs  # CPU time of this process (all threads): load-independent
    return entry


def _evaluate(run: AtlasRun) -> dict[str, Any]:
    from ..inputs import evaluate

    out: dict[str, Any] = {}
    for split, d in (("train", run.train), ("test", run.test)):
        if d is None:
            out[f"{split}_loss"] = None
            out[f"{split}_accuracy"] = None
            continue
        ev = evaluate(run.model, d, run.loss, device=run.device, dtype=run.dtype)
        out[f"{split}_loss"] = ev.loss
        out[f"{split}_accuracy"] = ev.accuracy if run.classification else None
    return out


def _execute(
    run: AtlasRun,
    specs: list[SectionSpec],
    *,
    out: Path,
    fmt: str,
    progress: bool | None,
    t0: float,
    training_seconds: float,
    data_name: str,
    test_source: str | None,
    config: Mapping[str, Any],
    arrays: Mapping[str, Any],
    prog: _Progress | None = None,
) -> AtlasResult:
    from ..report import render_document
    from ..result import provenance
    from ..runstore import dumps, write_run

    import json

    prog = prog or _Progress(specs, run.quick, progress)
    figures: dict[str, bytes] = {}
    entries = []
    try:
        for i, spec in enumerate(specs):
            prog.start(i, spec)
            e = _run_section(spec, run, fmt, figures)
            entries.append(e)
            prog.end(i, spec, e["status"], e["seconds"])
    finally:
        prog.close()
    ev = _evaluate(run)
    name, arch = _describe_model(run.model)
    x0 = run.example_input(1)
    res = AtlasResult(
        status=Status.OK,
        seed=run.seed,
        model=name,
        architecture=arch,
        n_params=run.n_params,
        data=data_name,
        n_train=run.n_train,
        n_test=int(run.test.count()) if run.test is not None else 0,
        input_shape=list(x0.shape[1:]),
        n_classes=run.n_classes,
        test_source=test_source,
        loss=run.loss.name,
        device=str(run.device),
        dtype=str(run.dtype).removeprefix("torch."),
        trained=run.trained,
        training=_training_summary(run.train_result),
        sections=entries,
        sections_failed=[e["id"] for e in entries if e["status"] == "failed"],
        sections_not_applicable=[e["id"] for e in entries if e["status"] == "not_applicable"],
        quick=run.quick,
        figure_format=fmt,
        report=str(out / "report.html"),
        out_dir=str(out),
        training_seconds=training_seconds,
        **ev,
    )
    res.seconds = time.perf_counter() - t0
    doc = json.loads(
        dumps(
            {
                "schema_version": res.to_dict()["schema_version"],
                "command": "atlas",
                "config": dict(config),
                "provenance": provenance(),
                "result": res.to_dict(),
            }
        )
    )
    html = render_document(doc, lambda f: figures.get(f))
    from ..models import save as save_model

    out.mkdir(parents=True, exist_ok=True)
    save_model(run.model, out / "model.safetensors")
    # report.html before result.json: result.json, written last by write_run, marks a complete run
    write_run(
        out,
        res.to_dict(),
        command="atlas",
        config=dict(config),
        figures=figures,
        arrays=dict(arrays),
        extra_files={"report.html": html.encode("utf-8")},
    )
    prog.log(
        f"wrote {out / 'report.html'} ({res.seconds:.1f} s in all; "
        f"{len(res.sections_failed)} failed, {len(res.sections_not_applicable)} not applicable)"
    )
    return res


def _training_summary(tr: Any) -> dict[str, Any] | None:
    if tr is None:
        return None
    d = tr.to_dict()
    keep = (
        "epochs_run",
        "steps",
        "final_loss",
        "final_train_loss",
        "final_test_loss",
        "final_train_acc",
        "final_test_acc",
        "dist_init",
        "path_length",
        "optimizer",
        "batch_order",
        "test_source",
        "seconds",
        "status",
        "config",
    )
    return {k: d[k] for k in keep if k in d}


# --------------------------------------------------------------------------------------------------
# the built-in flow
# --------------------------------------------------------------------------------------------------
def run_atlas(
    config: AtlasConfig | dict[str, Any] | None = None,
    *,
    out: str | os.PathLike = "runs/atlas",
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train the built-in MLP of ``config``, run every selected section and write the run directory.

    Train the built-in MLP of ``config`` (default: ``default.toml``), run every selected section,
    write the run directory; return the ``result`` part of ``result.json``.
    """
    from ..inputs import as_data
    from ..losses import resolve_loss
    from ..train import fit

    t0 = time.perf_counter()
    if config is None:
        config = default_config()
    cfg = config if isinstance(config, AtlasConfig) else validate(AtlasConfig, config, source="atlas config")
    chosen = select_sections(cfg.sections or None, cfg.skip or None)
    out = _check_out(out, "--out")
    prog = _Progress(chosen, cfg.quick, progress)
    prog.log(f"training the built-in MLP {cfg.train.widths} on {cfg.train.data} ({cfg.train.epochs} epochs)")
    tt = time.perf_counter()
    res = fit(cfg.train)
    training_seconds = time.perf_counter() - tt
    prog.log(f"training done in {training_seconds:.1f} s")

    def retrain(seed: int):
        return fit(cfg.train.model_copy(update={"seed": int(seed)}))

    model = res.model.eval()
    dt = next(model.parameters()).dtype
    run = AtlasRun(
        model=model,
        train=as_data(res.train),
        test=as_data(res.test) if res.test is not None else None,
        loss=resolve_loss(res.config.get("loss", "cross_entropy")),
        device=next(model.parameters()).device,
        dtype=dt,
        init_model=res.init_model,
        history=res.history,
        snapshots=res.snapshots,
        snapshot_steps=res.snapshot_steps,
        config=dict(res.config),
        train_result=res,
        datasets={"train": res.train, "test": res.test},
        seed=int(res.seed or 0),
        quick=cfg.quick,
        builtin=True,
        out_dir=out,
        retrain=retrain,
    )
    meta = getattr(res.test, "meta", None) or {}
    result = _execute(
        run,
        chosen,
        out=out,
        fmt=cfg.format,
        progress=progress,
        t0=t0,
        training_seconds=training_seconds,
        data_name=str(cfg.train.data),
        test_source=meta.get("test_source"),
        config=cfg.model_dump(),
        arrays=res.arrays(),
        prog=prog,
    )
    return result.to_dict()


# --------------------------------------------------------------------------------------------------
# any model
# --------------------------------------------------------------------------------------------------
def atlas(
    model: nn.Module,
    train: Any,
    test: Any = None,
    *,
    loss: str | Callable | Any = "cross_entropy",
    out: str | os.PathLike = "runs/atlas",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    train_first: bool | Mapping[str, Any] | TrainSettings = False,
    init_model: nn.Module | None = None,
    sections: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    input_key: str | None = None,
    target_key: str | None = None,
    format: str = "png",
    progress: bool | None = None,
    name: str | None = None,
) -> AtlasResult:
    """The geometric atlas of any model: every section that applies, a report, a run directory.

    Also callable as ``tamelab.atlas(...)`` (the ``tamelab.atlas`` package is callable and forwards
    here).

    Args:
        model: any ``nn.Module`` (never modified: the atlas works on copies).
        train: training data in any form of :func:`tamelab.inputs.as_data` (``(X, y)`` tensors or
            arrays, a TameLab or torch ``Dataset``, a ``DataLoader`` with tuple or dict batches, a list
            of batches).
        test: held-out data in the same forms (optional; test numbers are then absent).
        loss: a name (``cross_entropy``, ``mse``, ``nll``, ...) or a callable ``(output, target) -> mean``.
        out: the run directory to write (``report.html``, ``result.json``, figures, model).
        device: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``auto``.
        dtype: ``float32``/``float64`` (default: the model's).
        train_first: ``False`` (default): the model is atlassed as given (sections that need a training
            run say "not applicable"); ``True``: train it first with :class:`TrainSettings` defaults; a
            dict or :class:`TrainSettings`: train with these settings.
        init_model: the model at initialisation, when ``train_first`` is False and it is known (the
            data-independent PAC-Bayes prior and interpolation start); ignored when training here.
        sections: section ids to run (default: every default section).
        skip: section ids to leave out.
        quick: CI-sized work in every section.
        seed: training, random directions and samples.
        input_key: the input key of dict batches (found automatically when not given).
        target_key: the target key of dict batches (found automatically when not given).
        format: figures are also written as ``svg`` or ``pdf`` (``png``: PNG only).
        progress: ``None`` (default: on unless quiet), ``True`` or ``False``.
        name: the data's name in the report.

    Returns:
        :class:`AtlasResult` (also written as ``out/result.json``; the report is ``out/report.html``).
    """
    from ..inputs import as_data, as_model, model_dtype, model_on, resolve_device
    from ..losses import resolve_loss
    from ..train import train as train_loop

    t0 = time.perf_counter()
    # ---- validate everything before any work ---------------------------------------------------
    as_model(model)
    dev = resolve_device(device)
    dt = model_dtype(model, dtype)
    lossf = resolve_loss(loss)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    fmt = _check_format(format)
    chosen = select_sections(sections, skip)
    out = _check_out(out)
    if train_first is True:
        settings: TrainSettings | None = TrainSettings(epochs=2 if quick else 10)
    elif train_first is False or train_first is None:
        settings = None
    elif isinstance(train_first, TrainSettings):
        settings = train_first
    elif isinstance(train_first, Mapping):
        settings = validate(TrainSettings, dict(train_first), source="train_first")
    else:
        raise InputError(
            "train_first",
            f"expected False, True, a dict or TrainSettings, got {type(train_first).__name__}",
        )
    if init_model is not None:
        as_model(init_model, field="init_model")
    train_d = as_data(train, input_key=input_key, target_key=target_key, field="train", name=name)
    test_d = as_data(test, input_key=input_key, target_key=target_key, field="test") if test is not None else None
    datasets = {}
    from ..data import Dataset as TLDataset

    if isinstance(train, TLDataset):
        datasets["train"] = train
    if isinstance(test, TLDataset):
        datasets["test"] = test
    work = model_on(model, dev, dt).eval()
    with torch.no_grad():  # the model must accept the data and the loss must evaluate, before any work
        x, t = train_d.first_batch(dev, dt)
        try:
            o = work(x[:2])
        except Exception as e:  # noqa: BLE001 - any failure here is bad input
            raise InputError(
                "model",
                f"does not accept the training inputs of shape {tuple(x.shape)} ({type(e).__name__}: {e})",
                "pass data the model takes",
            ) from None
        try:
            v = lossf(o, t[:2])
            float(v)
        except Exception as e:  # noqa: BLE001
            raise InputError(
                "loss",
                f"{lossf.name} cannot be evaluated on the model's output ({type(e).__name__}: {e})",
                "pass a loss matching the targets",
            ) from None

    prog = _Progress(chosen, quick, progress)
    # ---- train (optional) -----------------------------------------------------------------------
    training_seconds = 0.0
    tr = None
    retrain = None
    if settings is not None:
        kw = settings.model_dump()
        prog.log(f"training {type(model).__name__} ({kw['epochs']} epochs, {kw['optimizer']}, lr {kw['lr']:g})")
        tt = time.perf_counter()
        tr = train_loop(
            model,
            train,
            test=test,
            loss=lossf,
            device=dev,
            dtype=dt,
            seed=seed,
            input_key=input_key,
            target_key=target_key,
            **kw,
        )
        training_seconds = time.perf_counter() - tt
        prog.log(f"training done in {training_seconds:.1f} s")
        work = tr.model.eval()

        def retrain(s: int):
            fresh = _reinitialised(tr.init_model, s)
            return train_loop(
                fresh,
                train,
                test=test,
                loss=lossf,
                device=dev,
                dtype=dt,
                seed=s,
                input_key=input_key,
                target_key=target_key,
                **kw,
            )

    run = AtlasRun(
        model=work,
        train=train_d,
        test=test_d,
        loss=lossf,
        device=dev,
        dtype=dt,
        init_model=tr.init_model
        if tr is not None
        else (model_on(init_model, dev, dt) if init_model is not None else None),
        history=tr.history if tr is not None else {},
        snapshots=tr.snapshots if tr is not None else [],
        snapshot_steps=tr.snapshot_steps if tr is not None else [],
        config=dict(tr.config) if tr is not None else {"loss": lossf.name},
        train_result=tr,
        datasets=datasets,
        seed=seed,
        quick=quick,
        out_dir=out,
        retrain=retrain,
    )
    meta = getattr(test, "meta", None)
    test_source = (meta or {}).get("test_source") if isinstance(meta, dict) else ("given" if test is not None else None)
    config = {
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "loss": lossf.name,
        "device": str(dev),
        "dtype": str(dt).removeprefix("torch."),
        "seed": seed,
        "quick": quick,
        "sections": [s.id for s in chosen],
        "format": fmt,
        "train_first": settings.model_dump() if settings is not None else False,
    }
    return _execute(
        run,
        chosen,
        out=out,
        fmt=fmt,
        progress=progress,
        t0=t0,
        training_seconds=training_seconds,
        data_name=train_d.name,
        test_source=test_source,
        config=config,
        arrays=tr.arrays() if tr is not None else {},
        prog=prog,
    )


def _reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every parameter re-drawn by its module's ``reset_parameters`` under ``seed``.

    A copy of ``model`` with every parameter re-drawn by its module's ``reset_parameters`` under
    ``seed`` (torch's global generator is restored afterwards).
    """
    import copy

    m = copy.deepcopy(model)
    owners = [mod for mod in m.modules() if any(True for _ in mod.parameters(recurse=False))]
    lacking = [type(mod).__name__ for mod in owners if not callable(getattr(mod, "reset_parameters", None))]
    if lacking:
        raise NotApplicableError(
            "twin model",
            f"module(s) {sorted(set(lacking))} own parameters but have no "
            "reset_parameters(), so no independent initialisation can be drawn",
        )
    cuda = sorted({p.device.index or 0 for p in m.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(int(seed))
        for mod in owners:
            mod.reset_parameters()
    return m
