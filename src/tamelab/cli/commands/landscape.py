"""``tamelab hessian``, ``tamelab landscape``, ``tamelab connect``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def _model_data(model_path, data, split, dtype="float64"):
    import torch

    from ...data import load_data
    from ...errors import InputError
    from ...models import load

    model = load(model_path).eval()
    ds = load_data(data, split=split)
    if ds.y is None:
        raise InputError("--data", "needs class labels (cross-entropy loss)")
    dt = torch.float64 if dtype == "float64" else torch.float32
    model = model.to(dt)
    X, T = ds.torch(dt)
    if X.shape[1] != model[0].in_features:
        raise InputError("--data", f"has {X.shape[1]} features but MODEL expects {model[0].in_features}")
    return model, X, T


def hessian_task(config: dict[str, Any]) -> dict[str, Any]:
    import torch

    from ...landscape import CurvatureOperator, ce_ggn_diagonal, hutchpp, slq_density, top_eigenpairs
    from ...result import to_jsonable

    model, X, T = _model_data(config["model"], config.get("data", "digits"), config.get("split", "train"), config.get("dtype", "float64"))
    op = CurvatureOperator(model, torch.nn.functional.cross_entropy, (X, T))
    out: dict[str, Any] = {"n_params": op.n, "loss": op.loss()}
    eig = top_eigenpairs(op, int(config.get("top_k", 5)), tol=float(config.get("tol", 1e-6)), seed=int(config.get("seed", 0)))
    out.update(eigenvalues=eig.eigenvalues, residuals=eig.residuals, converged=eig.converged, status=eig.status,
               error_bounds=eig.error_bounds, eigen_hvps=eig.hvps, krylov_dim=eig.krylov_dim, hvp_path=op.path)
    if config.get("trace"):
        tr = hutchpp(op, int(config.get("trace_hvps", 99)), seed=int(config.get("seed", 0)))
        out.update(trace_estimate=tr.trace, trace_estimate_stderr=tr.stderr, trace_method=tr.method, trace_hvps=tr.hvps)
        # exact for piecewise-linear nets + CE: H_ii = G_ii a.e. (see tamelab.landscape._relu_trace)
        diag = ce_ggn_diagonal(model, X, T)
        out.update(trace=float(diag.sum()), trace_stderr=0.0, trace_exact_method="diag GGN (ReLU: H_ii = G_ii a.e.)")
    arrays = {}
    if config.get("density"):
        d = slq_density(op, int(config.get("slq_steps", 80)), int(config.get("slq_probes", 1)), seed=int(config.get("seed", 0)))
        out.update(density_nodes=d.nodes, density_weights=d.weights, density_sigma2=d.sigma2)
        arrays = d.arrays()
    out["hvps"] = op.hvps
    return {**to_jsonable(out), "__arrays__": arrays}


def landscape_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...landscape import loss_surface, plane_through_models
    from ...models import load
    from ...parallel import get_executor

    model, X, T = _model_data(config["model"], config.get("data", "digits"), config.get("split", "train"), "float32")
    through = config.get("through") or []
    others = [load(p).eval().to(X.dtype) for p in through]
    ex = get_executor(config.get("executor", "serial"), workers=config.get("workers"))
    try:
        if others:
            r = plane_through_models(model, *others, X, T, grid=int(config.get("grid", 41)),
                                     margin=float(config.get("margin", 0.25)), executor=ex)
        else:
            r = loss_surface(model, X, T, grid=int(config.get("grid", 41)), span=float(config.get("span", 1.0)),
                             dims=int(config.get("dims", 2)), seed=int(config.get("seed", 0)), executor=ex)
    finally:
        ex.close()
    return r.to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("landscape", landscape_task)
    register_task("hessian", lambda c: {k: v for k, v in hessian_task(c).items() if k != "__arrays__"})

    @app.command("hessian")
    def hessian_cmd(
        model: Path = typer.Argument(..., help="ReLU MLP (.safetensors)"),
        data: str = typer.Option("digits", "--data"),
        split: str = typer.Option("train", "--split", help="train | test | all"),
        top_k: int = typer.Option(5, "--top-k", min=1),
        trace: bool = typer.Option(False, "--trace", help="trace: Hutch++ estimate with stderr, and exact via diag GGN"),
        density: bool = typer.Option(False, "--density", help="spectral density by stochastic Lanczos quadrature"),
        tol: float = typer.Option(1e-6, "--tol", help="relative residual tolerance of the eigenpairs"),
        dtype: str = typer.Option("float64", "--dtype", help="float64 | float32"),
        seed: int = typer.Option(0, "--seed", min=0),
        plot: Optional[Path] = typer.Option(None, "--plot", help="PNG of the spectral density (with --density)"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Top-k Hessian eigenvalues (Lanczos, residual-certified), trace, spectral density."""
        import time

        cfg = {"model": str(model), "data": data, "split": split, "top_k": top_k, "trace": trace, "density": density,
               "tol": tol, "dtype": dtype, "seed": seed}
        t0 = time.perf_counter()
        res = hessian_task(cfg)
        arrays = res.pop("__arrays__")
        res["seconds"] = time.perf_counter() - t0
        figs = {}
        if density and arrays:
            import matplotlib.pyplot as plt

            from ...atlas import fig_to_png

            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.semilogy(arrays["density_grid"], arrays["density"] + 1e-12)
            ax.set_xlabel("eigenvalue"); ax.set_ylabel("density"); ax.set_title("Hessian spectral density (SLQ)")
            figs["density.png"] = fig_to_png(fig)
            if plot:
                Path(plot).write_bytes(figs["density.png"])
        finish("hessian", res, config=cfg, out=out, json_out=json_out, quiet=quiet, arrays=arrays or None, figures=figs)

    @app.command("landscape")
    def landscape_cmd(
        model: Path = typer.Argument(...),
        data: str = typer.Option("digits", "--data"),
        split: str = typer.Option("train", "--split"),
        grid: int = typer.Option(41, "--grid", min=2),
        span: float = typer.Option(1.0, "--span", help="half-width of the grid in units of the directions"),
        dims: int = typer.Option(2, "--dims", min=1, max=2),
        seed: int = typer.Option(0, "--seed", min=0),
        executor: str = typer.Option("serial", "--executor", help="serial | dask"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1),
        through: Optional[list[Path]] = typer.Option(None, "--through", help="two more models (give --through twice): the "
                                                     "surface on the plane through MODEL and them"),
        margin: float = typer.Option(0.25, "--margin", min=0.0, help="with --through: grid beyond the three models, "
                                     "as a fraction of their bounding box"),
        plot: Optional[Path] = typer.Option(None, "--plot", help="PNG contour plot"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Loss surface along filter-normalised random directions (θ at the grid centre), or on the plane
        through MODEL and two more models (--through B --through C)."""
        from ...errors import InputError

        if through and len(through) != 2:
            raise InputError("--through", f"needs exactly two more models, got {len(through)}", "--through B.safetensors --through C.safetensors")
        cfg = {"model": str(model), "data": data, "split": split, "grid": grid, "span": span, "dims": dims, "seed": seed,
               "executor": executor, "workers": workers, "through": [str(p) for p in through or []], "margin": margin}
        res = landscape_task(cfg)
        figs = {}
        if plot and (dims == 2 or through):
            import matplotlib.pyplot as plt
            import numpy as np

            from ...atlas import fig_to_png

            fig, ax = plt.subplots(figsize=(5, 4.3))
            if through:
                xs, ys = np.array(res["xs"]), np.array(res["ys"])
                cs = ax.contourf(xs, ys, np.log(np.array(res["losses"])).T, levels=30)
                pts = np.array(res["model_coords"])
                ax.plot(pts[:, 0], pts[:, 1], "r*", ms=10)
                for (px, py), name in zip(pts, ["MODEL", "B", "C"]):
                    ax.annotate(name, (px, py), color="w", xytext=(4, 4), textcoords="offset points")
            else:
                a = np.array(res["alphas"])
                cs = ax.contourf(a, a, np.log(np.array(res["losses"])).T, levels=30)
                ax.plot(0, 0, "r*")
            fig.colorbar(cs, label="log loss")
            figs["surface.png"] = fig_to_png(fig)
            Path(plot).write_bytes(figs["surface.png"])
        finish("landscape", res, config=cfg, out=out, json_out=json_out, quiet=quiet, figures=figs)

    @app.command("connect")
    def connect_cmd(
        model_a: Path = typer.Argument(...),
        model_b: Path = typer.Argument(...),
        data: str = typer.Option("digits", "--data"),
        split: str = typer.Option("train", "--split"),
        curve_steps: int = typer.Option(400, "--curve-steps", min=0, help="SGD steps for the Bézier bend (0 = skip)"),
        restarts: int = typer.Option(1, "--restarts", min=1, help="weight-matching restarts (best objective kept)"),
        seed: int = typer.Option(0, "--seed", min=0),
        plot: Optional[Path] = typer.Option(None, "--plot", help="PNG: loss along the line (raw/aligned, train/test) and the curve"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Barriers between two models (train and test data) before/after permutation alignment, and along a
        trained Bézier curve."""
        from ...landscape import connect_models, plot_connectivity

        a, X, T = _model_data(model_a, data, split, "float32")
        b, _, _ = _model_data(model_b, data, split, "float32")
        Xt = Tt = None
        if split == "train":
            _, Xt, Tt = _model_data(model_a, data, "test", "float32")
        r = connect_models(a, b, X, T, X_test=Xt, T_test=Tt, curve_steps=curve_steps, restarts=restarts, seed=seed)
        res = {k: v for k, v in r.to_dict().items() if k != "aligned_model"}
        figs = {}
        if plot:
            from ...atlas import fig_to_png

            figs["connect.png"] = fig_to_png(plot_connectivity(r))
            Path(plot).write_bytes(figs["connect.png"])
        cfg = {"a": str(model_a), "b": str(model_b), "data": data, "split": split, "curve_steps": curve_steps,
               "restarts": restarts, "seed": seed}
        finish("connect", res, config=cfg, out=out, json_out=json_out, quiet=quiet, figures=figs)
