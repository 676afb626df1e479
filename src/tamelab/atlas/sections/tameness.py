"""Atlas section: tameness certificate of the model + loss, and Goldstein ε-stationarity of the weights."""

from __future__ import annotations

from ...report import fmt_value
from ...tame import certify, stationarity
from .._registry import Figure, SectionContent, Table, section
from ._plot import set_yscale_for


_STRUCTURES = {
    "alg": "ℝ (semialgebraic sets)",
    "an": "ℝ_an (restricted analytic functions)",
    "exp": "ℝ_exp",
    "an,exp": "ℝ_an,exp",
    "pfaff": "ℝ_Pfaff (Pfaffian functions)",
    "P(an)": "ℝ_an",
}


def _name(structure: str) -> str:
    return _STRUCTURES.get(structure, structure)


@section(
    "tameness",
    title="Tameness certificate and nonsmooth stationarity",
    order=20,
    estimate=(8.0, 3.0),
)
def tameness_section(run) -> SectionContent:
    """The atlas section for ``run`` (what it shows: the module docstring)."""
    import matplotlib.pyplot as plt

    q = run.quick
    cert = certify(run.model_copy(), run.example_input(2), loss=run.loss_arg)
    rows = [
        [
            o.get("node"),
            o.get("target"),
            o.get("global"),
            o.get("local"),
            "yes" if o.get("locally_lipschitz") else "no",
            o.get("reason"),
        ]
        for o in cert.ops
    ]
    tables = [
        Table(
            ["node", "op", "global", "local", "loc. Lipschitz", "why"],
            rows,
            f"Per-operation definability facts (traced with {cert.tracer}); the program is definable in their join.",
        )
    ]
    eps_list = [1e-3, 1e-1] if q else [1e-4, 1e-3, 1e-2, 1e-1]
    m = 16 if q else 100
    n = min(run.n_train, 256 if q else 2000)
    ds = run.data_arg("train", n=n)
    st = {e: stationarity(run.model_copy(), ds, loss=run.loss_arg, eps=e, m=m, seed=run.seed) for e in eps_list}
    tables.append(
        Table(
            [
                "ε",
                "ρ_ε (≥ dist(0, ∂_ε F))",
                "‖∇F(θ)‖ (AD)",
                "duality gap",
                "samples",
                "resampled (kinks)",
            ],
            [[e, r.rho, r.grad_norm_center, r.qp.get("duality_gap"), r.m, r.resampled] for e, r in st.items()],
            f"Gradient-sampling certificate at the model's weights, full-batch loss on {n} training points "
            f"(seed {run.seed}).",
        )
    )
    fig, ax = plt.subplots(figsize=(5.4, 3.4), layout="constrained")
    rhos = [max(st[e].rho, 1e-300) for e in eps_list]
    ax.plot(eps_list, rhos, "o-", label="ρ_ε (min-norm of sampled hull)")
    ax.set_xscale("log")
    g0 = st[eps_list[0]].grad_norm_center
    if g0:
        ax.axhline(g0, color="k", ls="--", lw=1, label="‖AD gradient at θ‖")
    sc = set_yscale_for(ax, rhos, [g0] if g0 else None)
    ax.set_xlabel("ε: radius of the ball in parameter space (log scale)")
    ax.set_ylabel("stationarity measure (gradient norm)" + (", log scale" if sc == "log" else ""))
    ax.legend(fontsize=7)
    ax.set_title("Goldstein ε-stationarity of the weights", fontsize=9)
    summary = {
        "definable in": cert.structure,
        "locally (tame)": cert.local_structure,
        "locally Lipschitz": cert.locally_lipschitz,
        "polynomially bounded": cert.poly_bounded,
        **{f"ρ_ε, ε={e:g}": r.rho for e, r in st.items()},
    }
    paras = [
        f"The traced program loss(model(x), y) is definable in {cert.structure}: {cert.why}. Definability, local "
        "Lipschitz continuity and a finite-sum loss are the hypotheses under which Davis, Drusvyatskiy, Kakade and "
        "Lee (arXiv:1804.07795) and Bolte and Pauwels (arXiv:1909.10300) prove that the limit points of "
        "(automatic-differentiation) SGD are Clarke-critical (resp. critical for a conservative field).",
        "ρ_ε is the norm of the minimum-norm convex combination of gradients sampled uniformly in the ε-ball around "
        "the weights (Burke–Lewis–Overton gradient sampling); it upper-bounds the distance from 0 to the "
        "Goldstein ε-subdifferential, so a small ρ_ε certifies (ε, ρ_ε)-stationarity; a large one proves nothing.",
    ]
    tame = cert.ok
    e_big = eps_list[-1]
    rho = st[e_big].rho
    if tame:
        first = (
            f"The loss of this network is tame: on bounded sets it is definable in {_name(cert.local_structure)}, "
            "an o-minimal structure, and it is "
            f"{'locally Lipschitz' if cert.locally_lipschitz else 'not locally Lipschitz'}"
            f"; so the tameness hypothesis of the SGD convergence theorems "
            f"{'holds' if cert.locally_lipschitz else 'holds only in part'}"
        )
    else:
        first = (
            f"The tameness certificate could not be established ({cert.why}), so the convergence theorems that "
            "assume a tame loss do not apply as certified"
        )
    near = g0 is not None and rho <= 0.5 * float(g0)
    verdict = (
        f"{first}; at the model's weights the sampled subgradients within ε = {e_big:g} combine to a vector of "
        f"norm ρ = {fmt_value(rho)}"
        + (
            f", well below the gradient norm {fmt_value(g0)} at the weights themselves."
            if near
            else f" (gradient norm at the weights: {fmt_value(g0)})."
            if g0 is not None
            else "."
        )
    )
    status = "ok" if tame and all(r.ok for r in st.values()) else "uncertified"
    return SectionContent(
        "Tameness certificate and nonsmooth stationarity",
        verdict=verdict,
        summary=summary,
        paragraphs=paras,
        tables=tables,
        figures=[Figure("stationarity", "ρ_ε against ε at the model's weights.", fig=fig)],
        data={
            "certificate": cert.to_dict(),
            "stationarity": {str(e): r.to_dict() for e, r in st.items()},
        },
        status=status,
    )
