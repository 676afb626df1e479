"""Run claims (serially or through an executor) and group the verdicts by paper.

``run_claims`` is what ``tamelab claims run`` calls; Python users get the same table::

    from tamelab.claims import run_claims
    table = run_claims(all_=True, quick=True, executor="dask", workers=2)
    table.summary            # {"holds": …, "fails": …, "not reproduced": …}
    table.to_dict()["claims"]

Claims are independent, so they are mapped over the executor (``serial`` or ``dask``,
:func:`tamelab.parallel.get_executor`) longest-first by the measured :data:`COST_HINT`, so that a long claim
never starts last while the other workers sit idle.
Claims of one catalog module tagged ``study`` read one shared, cached computation (e.g. the ADAM-vs-NAG
autoencoder study behind three claims): they run as one task, in one process, so that the study is
computed once and not once per worker.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

from ..result import Result, Status
from ..verdicts import CLAIM_VERDICTS
from ._registry import Claim, ClaimContext, all_claims, get_claim, run_claim

__all__ = ["ClaimsRun", "run_claims", "group_by_paper"]


@dataclasses.dataclass
class ClaimsRun(Result):
    """The claims table of one run: one JSON row per claim, the verdict counts and the rows grouped by paper."""

    kind = "claims"

    claims: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    summary: dict[str, int] = dataclasses.field(default_factory=dict)
    #: one entry per catalog module (paper): its title, claim ids and verdict counts.
    papers: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    quick: bool = False
    executor: str = "serial"
    workers: int | None = None
    #: claims whose run raised (recorded as ``not reproduced`` with the error); the run's status is then ``failed``.
    errors: list[str] = dataclasses.field(default_factory=list)


def _run_one(args: tuple[tuple[str, ...], int, bool, bool]) -> list[dict[str, Any]]:
    """Top-level (picklable) runner for one task (one claim, or the claims sharing a study), for the executor."""
    cids, seed, quick, single_thread = args
    if not single_thread:
        return [run_claim(cid, ClaimContext(seed=seed, quick=quick)) for cid in cids]
    from .._numerics import one_thread

    with one_thread():  # one process per core: no intra-op threads fighting over the same cores
        return [run_claim(cid, ClaimContext(seed=seed, quick=quick)) for cid in cids]


def summarize(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Verdict counts, every verdict present (zero when absent)."""
    counts = Counter(r["verdict"] for r in rows)
    return {v.value: counts.get(v.value, 0) for v in CLAIM_VERDICTS}


def group_by_paper(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by catalog module (one module per paper), in first-appearance order."""
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r.get("group") or r.get("paper") or "?"
        g = groups.setdefault(key, {"group": key, "title": None, "papers": [], "claims": [], "rows": []})
        if g["title"] is None:
            try:
                g["title"] = get_claim(r["id"]).paper_title
            except Exception:  # a row from another installation: fall back to its paper field
                g["title"] = r.get("paper")
        if r.get("paper") not in g["papers"]:
            g["papers"].append(r.get("paper"))
        g["claims"].append(r["id"])
        g["rows"].append(r)
    out = []
    for g in groups.values():
        g["summary"] = summarize(g.pop("rows"))
        out.append(g)
    return out


#: CPU seconds of a full (non-quick) run on one core (measured on the 2-core machine; only orders the queue).
#: A shared study is charged to the first claim that computes it. Claims not listed took under 3 s and count as
#: :data:`UNLISTED_COST`; an unlisted claim marked ``slow`` (a new one, not measured yet) goes first.
COST_HINT: dict[str, float] = {
    "dmu-adam-vs-nag-autoencoder-train-loss": 366.0,  # the ADAM-vs-NAG study (shared by three claims)
    "bertoin2021-relu-prime-zero-precision": 111.0,
    "bad-minima-vanish-with-width": 101.0,
    "ddkl-noise-sum-cauchy-least-squares": 65.0,
    "dmu-rmsprop-deterministic-within-T": 53.0,
    "implicit-bias-logistic-max-margin": 36.0,
    "sparse-coding-local-minimum": 23.0,
    "linear-net-critical-point-counts": 19.0,
    "rebasin-aligned-barrier-lower": 18.0,
    "hanin-rolnick-regions-linear-in-neurons": 16.0,
    "dmu-rmsprop-stochastic-sign-condition": 15.0,
    "sparse-coding-support-recovery-and-vanishing-gradient": 15.0,
    "tkb-pure-spurious-critical-points": 15.0,
    "chen-ewald-construction-vs-gd": 11.0,
    "robbins-monro-sgd-gradient-to-zero": 11.0,
    "arora-pwl-to-relu-depth-bound": 10.0,
    "hessian-rank-tracks-data-dimension": 10.0,
    "tron-relu-gate-geometric-rate": 9.0,
    "ddkl-monitor-digits-sgd-bounded": 8.0,
    "arora-depth-size-gap": 7.0,
    "pac-bayes-nonvacuous-digits": 6.0,
    "thesis-ch6-pac-bayes-bound": 6.0,
    "ddkl-sgd-tame-toy-critical": 5.0,
    "deep-linear-closed-form-equals-gd-limit": 4.0,
    "tron-relu-gate-poisoning-floor": 4.0,
    "arora-exact-erm-below-every-restart": 3.0,
}
UNLISTED_COST = 1.5


def _tasks(selected: list[Claim]) -> list[tuple[Claim, ...]]:
    """One task per claim, except claims of one module tagged ``study``: those share a task (one process)."""
    tasks: list[tuple[Claim, ...]] = []
    shared: dict[str, list[Claim]] = {}
    for c in selected:
        if "study" in c.tags:
            if c.module not in shared:
                shared[c.module] = []
                tasks.append(())  # placeholder, filled below, keeps first-appearance order
            shared[c.module].append(c)
        else:
            tasks.append((c,))
    it = iter(shared.values())
    return [t if t else tuple(next(it)) for t in tasks]


def _order(selected: list[Claim], quick: bool) -> list[tuple[Claim, ...]]:
    """Longest task first (LPT): no long task starts last while the other workers sit idle."""

    def cost(task: tuple[Claim, ...]) -> float:
        return sum(COST_HINT.get(c.id, float("inf") if c.slow else UNLISTED_COST) for c in task)

    return sorted(_tasks(selected), key=lambda t: -cost(t))


def run_claims(
    ids: list[str] | None = None,
    *,
    all_: bool = False,
    tags: list[str] | None = None,
    seed: int = 0,
    quick: bool = False,
    include_slow: bool = True,
    executor: Any = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> ClaimsRun:
    """Run claims by id, by tag, or all, and return the :class:`ClaimsRun` table (rows in id order).

    ``executor`` is ``"serial"``, ``"dask"`` (a local cluster of ``workers`` single-threaded processes,
    or an existing ``scheduler``) or an executor object with ``map(fn, items, desc=)``. With more than
    one worker every claim runs with one torch/BLAS thread.
    """
    from ..errors import InputError
    from ..parallel import get_executor

    if ids:
        selected = [get_claim(i) for i in ids]
    elif all_ or tags:
        selected = [c for c in all_claims() if not tags or set(tags) & set(c.tags)]
    else:
        raise InputError("claims run", "no claims selected", "pass claim ids, --tag T, or --all")
    if not include_slow:
        selected = [c for c in selected if not c.slow]
    t0 = time.perf_counter()
    own = isinstance(executor, str)
    ex = get_executor(executor, workers=workers, scheduler=scheduler) if own else executor
    name = getattr(ex, "name", type(ex).__name__)
    parallel = name != "serial"
    try:
        queue = _order(selected, quick)
        done = ex.map(_run_one, [(tuple(c.id for c in t), seed, quick, parallel) for t in queue], desc="claims")
    finally:
        if own:
            ex.close()
    by_id = {r["id"]: r for rows_of_task in done for r in rows_of_task}
    rows = [by_id[c.id] for c in selected]
    errors = [r["id"] for r in rows if isinstance(r.get("measured"), dict) and "error" in r["measured"]]
    return ClaimsRun(
        # a claim that raised is recorded as `not reproduced` with its error, but the run itself did not compute it
        status=Status.FAILED if errors else Status.OK,
        seed=seed,
        seconds=time.perf_counter() - t0,
        claims=rows,
        summary=summarize(rows),
        papers=group_by_paper(rows),
        quick=quick,
        executor=name,
        workers=workers if parallel else None,
        errors=errors,
    )
