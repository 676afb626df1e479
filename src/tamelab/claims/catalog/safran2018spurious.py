"""Claim: bad minima disappear with width (Safran & Shamir, arXiv:1712.08968, ICML 2018).

Bad minima disappearing with width (interview 002; Safran & Shamir, "Spurious local minima are common in two-layer
ReLU neural networks", arXiv:1712.08968, ICML 2018). Library code: :mod:`tamelab.landscape.safran2018spurious`.
"""

from __future__ import annotations

import math

from ...landscape import safran2018spurious as ss
from .._registry import ClaimContext, Measured, claim


@claim(
    "bad-minima-vanish-with-width",
    paper="arXiv:1712.08968",
    statement="Teacher x -> sum_{i<=k} [v_i.x]_+ with orthonormal v_i, Gaussian inputs, squared (population) loss: the "
    "probability that gradient descent from a random initialisation ends at a spurious local minimum is quite high "
    "for a student of width n = k, and mild over-parameterization (n = k+1, k+2) drastically reduces it. "
    "Pre-registered criteria: (C1) at n = k at least 10% of the restarts do not reach the global minimum (F < 1e-4) "
    "within the step budget; (C2) the fraction reaching it rises by >= 0.2 from n = k to n = k+2 and never drops by "
    "more than 2 binomial standard errors from one width to the next; (C3, full mode) stationary spurious points "
    "(|grad F| < 1e-5, F > 1e-4) are found at n = k.",
    expected={"C1": True, "C2": True, "C3 (full)": True},
    tags=("landscape", "interview"),
    slow=True,
    source="arXiv:1712.08968 abstract and §4 experiments (percentages not retrieved: the criteria are the abstract's "
    "qualitative statements, fixed in advance)",
    expected_from="paper",
)
def bad_minima(ctx: ClaimContext) -> Measured:
    """Claim: GD often ends at spurious minima for student width k; mild over-parameterisation removes them."""
    if ctx.quick:
        ks, restarts, steps, lr, extra = (10,), 60, 1500, 0.2, ()
    else:
        ks, restarts, steps, lr, extra = (10, 12), 200, 6000, 0.1, ("2k",)
    rows, ok, c3 = {}, True, False
    for k in ks:
        widths = [k, k + 1, k + 2] + ([2 * k] if extra else [])
        runs = {n: ss.restart_study(k, n, restarts=restarts, steps=steps, lr=lr, seed=ctx.seed + k) for n in widths}
        frac = [runs[n].global_fraction for n in widths]
        se = [math.sqrt(max(p * (1 - p), 1 / restarts) / restarts) for p in frac]
        c1 = 1 - frac[0] >= 0.1
        c2 = frac[2] - frac[0] >= 0.2 and all(
            frac[i + 1] >= frac[i] - 2 * math.hypot(se[i], se[i + 1]) for i in range(len(frac) - 1)
        )
        c3 |= runs[k].spurious_fraction > 0
        ok &= c1 and c2
        rows[f"k={k}"] = {
            n: {
                "global": runs[n].global_fraction,
                "spurious_stationary": runs[n].spurious_fraction,
                "unconverged": runs[n].unconverged_fraction,
                "spurious_losses": runs[n].spurious_losses[:5],
            }
            for n in widths
        }
        rows[f"k={k}"]["C1"], rows[f"k={k}"]["C2"] = c1, c2
    if not ctx.quick:
        ok &= c3
    vals = {"restarts": restarts, "steps": steps, "lr": lr, "C3 (full)": c3 if not ctx.quick else "not run", **rows}
    return Measured(
        vals,
        bool(ok),
        "plain GD on the closed-form population loss, w_i ~ N(0, I/d) at start, d = k; "
        "'global' = F < 1e-4 at the end of the budget, 'spurious_stationary' = |grad F| < 1e-5 and F > "
        "1e-4, 'unconverged' = neither (most sit near the spurious values)",
    )
