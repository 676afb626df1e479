"""Atlas section (reference): polynomial-activation counterparts of the model's fully-connected architecture."""

from __future__ import annotations

from torch import nn

from ...algebraic import neuromanifold_dimension
from ...errors import NotApplicableError
from .._registry import SectionContent, Table, section

#: parameter-free layers a fully-connected network may have between its Linear layers
_PLAIN = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.GELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.SiLU,
    nn.ELU,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
    nn.Flatten,
)


def _depth(model: nn.Module) -> int:
    """Number of weight layers of a fully-connected network (Linear layers and parameter-free activations)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    other = sorted({type(m).__name__ for m in leaves if not isinstance(m, (nn.Linear, *_PLAIN))})
    if other:
        raise NotApplicableError(
            "architecture",
            f"polynomial counterparts are defined for fully-connected networks "
            f"(Linear layers and activations); this model has {', '.join(other)}",
        )
    depth = sum(isinstance(m, nn.Linear) for m in leaves)
    if depth < 2:
        raise NotApplicableError("architecture", f"needs at least two Linear layers, found {depth}")
    return depth


@section(
    "algebraic",
    title="Algebraic geometry of polynomial counterparts",
    order=80,
    part="reference",
    estimate=(0.3, 0.2),
)
def algebraic_section(run) -> SectionContent:
    """The section for ``run``: polynomial-activation counterparts of the model's fully-connected architecture."""
    depth = _depth(run.model)
    rows = []
    for w in range(1, 4 if run.quick else 5):
        for r in (2, 3):
            widths = [3] + [w] * (depth - 1) + [1]
            if r ** (depth - 1) > 27:
                continue
            res = neuromanifold_dimension(widths, r, seeds=2)
            rows.append([str(widths), r, res.dimension, res.expected, res.ambient, res.verdict])
    if not rows:
        raise NotApplicableError(
            "architecture",
            f"depth {depth} makes every polynomial counterpart too large to "
            "compute exactly here (degree r^(depth−1) > 27)",
        )
    defective = sum(r[-1] == "defective" for r in rows)
    verdict = (
        f"Of {len(rows)} polynomial networks with this model's depth ({depth} weight layers), {defective} have a "
        "function space of smaller dimension than their parameter count predicts (defective): "
        + ("narrow layers lose dimensions." if defective else "none loses dimensions at these sizes.")
    )
    return SectionContent(
        title="Algebraic geometry of polynomial counterparts",
        verdict=verdict,
        summary={"architectures": len(rows), "defective": defective},
        paragraphs=[
            "A reference construction, not a property of the trained weights: a network with ReLU (or another "
            "non-polynomial activation) has no neurovariety, so this table replaces the activation by t^r in a "
            f"network with the model's depth ({depth} weight layers), 3 inputs and one output, and reports the exact "
            "dimension of the set of functions it represents (Jacobian rank over GF(p)) next to the parameter count "
            "minus rescalings and the ambient dimension (Kileel, Trager and Bruna, arXiv:1905.12207)."
        ],
        tables=[
            Table(
                ["widths", "r", "dimension", "expected", "ambient", "verdict"],
                rows,
                "Neurovariety dimensions",
            )
        ],
        data={"rows": rows},
    )
