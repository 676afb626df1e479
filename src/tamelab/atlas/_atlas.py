"""The atlas runner: train once, call every registered section, save, render.

Flow: validate config → :func:`tamelab.train.fit` → :class:`AtlasRun` → each
section (timed; a failure is recorded with its error, the rest goes on) →
run directory written atomically (model, figures, ``result.json``) →
``report.html`` rendered from the saved directory.
"""

from __future__ import annotations

import os
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..config import validate
from ..errors import InputError
from ..train import TrainConfig, fit
from ._registry import SectionContent, all_sections

__all__ = ["AtlasConfig", "run_atlas", "default_config"]


class AtlasConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: TrainConfig = Field(default_factory=TrainConfig)
    quick: bool = False
    sections: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)


def default_config() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(resources.files("tamelab.atlas").joinpath("default.toml").read_text("utf-8"))


def _select(cfg: AtlasConfig):
    specs = all_sections()
    known = {s.id for s in specs}
    for field, ids in (("sections", cfg.sections), ("skip", cfg.skip)):
        bad = [i for i in ids if i not in known]
        if bad:
            raise InputError(f"config field '{field}'", f"unknown section(s) {bad}", f"available: {', '.join(sorted(known))}")
    chosen = [s for s in specs if (not cfg.sections or s.id in cfg.sections) and s.id not in cfg.skip]
    return chosen


def run_atlas(config: AtlasConfig | dict[str, Any] | None = None, *, out: str | os.PathLike = "runs/atlas") -> dict[str, Any]:
    """Train, compute every section, write the run directory and ``report.html``; return the result."""
    from ..report import write_report
    from ..runstore import write_run
    from ._run import atlas_run_from_training

    if config is None:
        config = default_config()
    cfg = config if isinstance(config, AtlasConfig) else validate(AtlasConfig, config, source="atlas config")
    chosen = _select(cfg)
    out = Path(out)
    t0 = time.perf_counter()
    res = fit(cfg.train)
    run = atlas_run_from_training(res, quick=cfg.quick, out_dir=out)
    figures: dict[str, bytes] = {}
    sections = []
    from .._progress import progress

    for spec in progress(chosen, desc="atlas sections"):
        ts = time.perf_counter()
        entry: dict[str, Any] = {"id": spec.id, "title": spec.title}
        try:
            content = spec.fn(run)
            if not isinstance(content, SectionContent):
                raise TypeError(f"section {spec.id} returned {type(content).__name__}, expected SectionContent")
            figs = []
            for f in content.figures:
                fname = f"{spec.id}-{f.name}.png"
                figures[fname] = f.png
                figs.append({"file": fname, "caption": f.caption})
            entry.update(
                title=content.title or spec.title, status=content.status, summary=content.summary,
                paragraphs=content.paragraphs,
                tables=[{"columns": t.columns, "rows": t.rows, "caption": t.caption} for t in content.tables],
                figures=figs, data=content.data,
            )
        except Exception as e:  # a broken section is reported, not fatal
            entry.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=4),
                         summary={}, paragraphs=[], tables=[], figures=[], data={})
        entry["seconds"] = time.perf_counter() - ts
        sections.append(entry)
    from safetensors.torch import save as st_save

    model_bytes = st_save({k: v.detach().contiguous() for k, v in res.model.state_dict().items()})
    result = {
        **res.to_dict(),
        "kind": "atlas",
        "sections": sections,
        "sections_failed": [s["id"] for s in sections if s["status"] == "failed"],
        "report": str(out / "report.html"),
        "seconds": time.perf_counter() - t0,
        "training_seconds": res.seconds,
    }
    doc = write_run(out, result, command="atlas", config=cfg.model_dump(), figures=figures,
                    arrays=res.arrays(), extra_files={"model.safetensors": model_bytes})
    write_report(out)
    return doc["result"]
