r"""Bertoin, Bolte, Gerchinovitz & Pauwels (NeurIPS 2021, arXiv:2106.12915): numerical influence of ReLU'(0).

The choice ReLU'(0) ∈ {0, 1} changes backprop outputs only on the bifurcation zone, which is null in exact
arithmetic but not in floating point: systematically in 16 bits, rarely in 32 bits, never in 64 bits.
Reproduced on scikit-learn digits (spec tame-optimization §4.4): float16 (emulated GPU-style), float32 and
float64, paired SGD runs from the same initialisation and batch order.
"""

from __future__ import annotations

from ...tame import relu_prime_zero_study
from .._registry import ClaimContext, Measured, claim


@claim(
    "bertoin2021-relu-prime-zero-precision",
    paper="Bertoin, Bolte, Gerchinovitz & Pauwels, NeurIPS 2021, arXiv:2106.12915",
    statement="Backprop outputs for ReLU'(0)=0 and ReLU'(0)=1 differ on a set of initialisations whose measured "
    "volume and kink rate are ordered fp16 >> fp32 >= fp64 = 0; in float64 the two training trajectories are "
    "bitwise identical while in float16 they separate.",
    expected={
        "volume": "fp16 ~1.00, fp32 ~0.01, fp64 0.00 (digits, spec §4.4 protocol A)",
        "kinks_per_run": "fp16 hundreds over 30 epochs, fp32 0-1, fp64 0 (protocol B)",
        "fp64 trajectories": "bitwise identical",
        "fp16 param L1 gap": "> 0",
    },
    tags=("tame", "nonsmooth", "relu", "precision"),
    source="arXiv:2106.12915 §4 (bifurcation zone volume, Fig. 2-3) and spec §4.4 protocols A and B",
    expected_from="paper",
)
def relu_prime_zero(ctx: ClaimContext) -> Measured:
    """Claim: Backprop with ReLU'(0) = 0 vs 1 differs on a set whose size is ordered fp16 >> fp32 >= fp64 = 0."""
    cfg = {"quick": True, "seeds": [ctx.seed]} if ctx.quick else {"seeds": [ctx.seed + i for i in range(4)]}
    r = relu_prime_zero_study(cfg)
    s, v = r.summary, r.volume
    vals = {}
    for dt in ("float16", "float32", "float64"):
        vals[dt] = {
            "volume_fraction": v[dt].fraction,
            "volume_wilson95": list(v[dt].wilson95),
            "volume_exact_zeros": v[dt].exact_zeros_seen,
            "kinks_min": s[dt]["kinks_min"],
            "kinks_max": s[dt]["kinks_max"],
            "kink_rate": s[dt]["kink_rate"],
            "param_l1_gap_max": s[dt]["param_l1_gap_max"],
            "all_bitwise_identical": s[dt]["all_bitwise_identical"],
            "max_test_acc_diff_points": s[dt]["max_test_acc_diff_points"],
            "final_test_acc": s[dt]["final_test_acc"],
        }
    vals["config"] = {
        k: r.config[k] for k in ("seeds", "epochs", "widths", "volume_inits", "volume_widths", "volume_samples")
    }
    f16, f32, f64 = vals["float16"], vals["float32"], vals["float64"]
    holds = bool(
        f64["volume_fraction"] == 0.0
        and f64["kinks_max"] == 0
        and f64["all_bitwise_identical"]
        and f16["volume_fraction"] > f32["volume_fraction"] >= f64["volume_fraction"]
        and f16["kink_rate"] > f32["kink_rate"] >= f64["kink_rate"]
        and f16["param_l1_gap_max"] > 0
    )
    return Measured(
        vals,
        holds,
        "float16 emulated (fp32 matmul accumulation rounded to fp16, fp16 bias add); "
        "quick mode: 1 seed, 2 epochs, 8 initialisations of a 64-128-128-10 net for the volume. "
        "Accuracy gaps are not asserted at this scale (spec §4.4).",
    )
