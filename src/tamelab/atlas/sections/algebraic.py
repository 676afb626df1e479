"""Atlas section: polynomial-activation counterparts of the atlas architecture."""

from __future__ import annotations

from ...algebraic import neuromanifold_dimension
from .._registry import SectionContent, Table, section


@section("algebraic", title="Algebraic geometry (polynomial counterparts)", order=80)
def algebraic_section(run) -> SectionContent:
    depth = len(run.config.get("widths", [64, 64, 64, 10])) - 1
    rows = []
    for w in range(1, 4 if run.quick else 5):
        for r in (2, 3):
            widths = [3] + [w] * (depth - 1) + [1]
            if r ** (depth - 1) > 27:
                continue
            res = neuromanifold_dimension(widths, r, seeds=2)
            rows.append([str(widths), r, res.dimension, res.expected, res.ambient, res.verdict])
    return SectionContent(
        title="Algebraic geometry (polynomial counterparts)",
        summary={"architectures": len(rows), "defective": sum(r[-1] == "defective" for r in rows)},
        paragraphs=[
            "A ReLU network has no neurovariety; this table replaces ReLU by t^r in a network with the atlas model's depth "
            f"({depth} weight layers), 3 inputs and one output, and reports the exact dimension of the set of functions it "
            "represents (Jacobian rank over GF(p)) next to the parameter count minus rescalings and the ambient dimension "
            "(Kileel–Trager–Bruna, arXiv:1905.12207). Narrow layers make the function space defective."
        ],
        tables=[Table(["widths", "r", "dimension", "expected", "ambient", "verdict"], rows, "Neurovariety dimensions")],
        data={"rows": rows},
    )
