"""Mukherjee's thesis, chapter 6 (arXiv:2104.14033):

PAC-Bayesian risk bounds for stochastic neural nets and the geometry of the paths in weight space traced out during
training.

The thesis abstract promises "new and improved PAC-Bayesian bounds for the risk of stochastic neural nets"
and "an experimental investigation revealing new geometric properties of the paths in weight space that
are traced out by the net during the training". Neither the chapter's bound (its form, premises and
constants) nor the properties it reports could be retrieved from the sources available to this project
(the searchable corpus holds the thesis abstract only), so neither can be checked: both claims are
registered as ``not reproduced`` with that reason, and they report what TameLab *can* measure on the same
kind of network — the Dziugaite–Roy/Pérez-Ortiz certificate with its KL term, and the path geometry of
:func:`tamelab.bounds.path_geometry` — without calling either "the thesis's bound".
"""

from __future__ import annotations

from ...bounds import pac_bayes_certificate, path_geometry
from ...train import fit
from .._registry import ClaimContext, Measured, claim

_UNAVAILABLE = (
    "the chapter's text was not retrievable here (only the thesis abstract is in the searchable corpus; "
    "no public repository holds the chapter), so its statement cannot be checked"
)


@claim(
    "thesis-ch6-pac-bayes-bound",
    paper="arXiv:2104.14033",
    statement="Thesis ch. 6: new and improved PAC-Bayesian bounds on the risk of stochastic neural nets.",
    expected="the chapter's bound, evaluated on a trained net, below the Dziugaite-Roy certificate",
    tags=("bounds", "thesis"),
    source="arXiv:2104.14033 ch. 6 (abstract: 'new and improved PAC-Bayesian bounds for the risk of stochastic "
    "neural nets')",
    expected_from="paper",
)
def thesis_bound(ctx: ClaimContext) -> Measured:
    """Measure the claim: Thesis ch. 6: new and improved PAC-Bayesian bounds on the risk of stochastic neural nets."""
    r = fit({"epochs": 10 if ctx.quick else 20, "widths": [64, 64, 10], "seed": ctx.seed})
    c = pac_bayes_certificate(
        r.model,
        r.train,
        r.test,
        prior="data",
        init_model=r.init_model,
        mode="fast" if ctx.quick else "full",
        seed=ctx.seed,
    )
    vals = {
        "dziugaite_roy_bound": c.bound,
        "kl": c.kl,
        "kl_share_of_complexity": c.components["kl_share"],
        "kl_term": c.components["kl_term"],
        "stochastic_test_error": c.test_error,
        "n": c.n,
        "status": c.status,
    }
    note = (
        f"Not reproduced: {_UNAVAILABLE}. For reference, the Dziugaite-Roy certificate (not the thesis's bound) "
        f"on the same net: {c.bound:.3f} with KL(Q||P) = {c.kl:.3g}, {100 * c.components['kl_share']:.2g}% of the "
        "complexity term. " + c.note
    )
    return Measured(vals, None, note.strip())


@claim(
    "thesis-ch6-weight-space-paths",
    paper="arXiv:2104.14033",
    statement="Thesis ch. 6: the paths in weight space traced out during training have new geometric properties "
    "(experimental).",
    expected="the properties reported in the chapter",
    tags=("bounds", "thesis"),
    source="arXiv:2104.14033 ch. 6 (abstract: 'geometric properties of the paths in weight space that are traced out "
    "by the net during the training')",
    expected_from="paper",
)
def thesis_paths(ctx: ClaimContext) -> Measured:
    """Claim: Thesis ch. 6: geometric properties of the paths in weight space traced during training."""
    r = fit({"epochs": 10 if ctx.quick else 20, "widths": [64, 64, 10], "seed": ctx.seed})
    pg = path_geometry(r.snapshots)
    vals = {
        "distance_from_init": float(pg["distance"][-1]),
        "path_length": float(pg["path_length"][-1]),
        "straightness": float(pg["straightness"][-1]),
        "cos_to_final_at_first_snapshot": float(pg["cos_to_final"][1]),
        "snapshots": pg.snapshots,
    }
    note = (
        f"Not reproduced: {_UNAVAILABLE}. Measured instead (our path-geometry proxies, not the thesis's "
        f"quantities): distance from init {vals['distance_from_init']:.3g}, path length {vals['path_length']:.3g}, "
        f"straightness {vals['straightness']:.3g}."
    )
    return Measured(vals, None, note)
