"""Exact n-D regions: ``tamelab.relu.regions_nd`` vs Berzins' edge subdivision (ICML 2023), same weights, one run.

The anchor is ``arturs-berzins/relu_edge_subdivision`` (plain PyTorch, float32). It is never part of TameLab:
export it outside the repository and point ``--anchor-dir`` (or ``TAMELAB_EDGE_SUBDIVISION``) at it, e.g.

    git --git-dir=/path/to/relu_edge_subdivision.git archive HEAD | tar -x -C /tmp/anchors/relu_edge_subdivision

Both run on one thread, interleaved, best of ``--reps``. The anchor inserts the hidden neurons only (its
``Net`` is given the hidden layers, so it does not also insert the output's level set): the same work as ours.
Its regions are read off its complex the way ours are (every vertex sign vector with its zeros perturbed
inside the box) and compared pattern by pattern with ours; where the two sets differ, every pattern in the
difference is decided by an exact rational LP (is its region full-dimensional?) and the winner is printed.

``+count`` is the anchor plus a vectorised count of its regions (``_anchor_count``: the same
perturb-and-hash method as ours): the time to a region *count*, which the skeleton alone does not give.
``pub cpu`` is the anchor run as published and as in the issue's table (the whole net: it also inserts the
output neuron, i.e. builds the decision boundary, which activation regions do not need).

Columns: ``ours`` = the default call (exact predicates, patterns, interior points, the combinatorial
certificate); ``+wit+lin`` = ``witness=True, linear=True`` (certified interior points, linear regions).
Floor: every neuron's sign must be decided at every vertex present when it is inserted (``preds``); the ns per
predicate (CPU) is printed.

Run: python benchmarks/bench_relu_nd.py [--anchor-dir DIR] [--reps 5] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import sys
import time
from fractions import Fraction

import numpy as np
import torch

from tamelab._numerics import one_thread
from tamelab.models import mlp
from tamelab.relu import _nd_exact as X
from tamelab.relu import regions_nd
from tamelab.relu._nd import _as_pwl, _program

CASES = [
    ([2, 16, 16, 1], True),
    ([2, 64, 64, 64, 1], True),
    ([4, 8, 8, 1], True),
    ([4, 16, 16, 1], True),
    ([3, 32, 32, 1], True),
    ([2, 8, 8, 1], False),
    ([3, 8, 8, 1], False),
]


def _load_anchor(path):
    if not path or not os.path.isfile(os.path.join(path, "edge_subdivision.py")):
        return None
    sys.path.insert(0, path)
    try:
        import edge_subdivision
        from NN import Net
    except Exception as e:  # noqa: BLE001 - any failure of a foreign checkout means: no anchor
        print(f"anchor not available ({type(e).__name__}: {e})")
        return None
    return edge_subdivision.skeletal_subdivision, Net


def _anchor_net(Net, model, full=False):
    """The anchor's ``Net`` with the model's weights: the hidden layers only (same work as ours), or with
    ``full`` the whole net as published (it then also inserts the output neuron's level set)."""
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]
    keep = lin if full else lin[:-1]
    ks = [lin[0].in_features] + [m.out_features for m in keep]
    f = Net(ks=ks)
    with torch.no_grad():
        for fc, m in zip(f.fcs, keep):
            fc.weight.copy_(m.weight.float())
            if m.bias is not None:
                fc.bias.copy_(m.bias.float())
            else:
                fc.bias.zero_()
    return f


def _anchor_patterns(v_sv, d):
    """Activation patterns of the anchor's complex: each vertex sign vector with its zeros perturbed (box
    entries only inwards), neuron entries > 0."""
    sv = v_sv.numpy().astype(np.int8)
    B = 2 * d
    out = set()
    for row in sv:
        z = np.flatnonzero(row == 0)
        opts = [(1,) if j < B else (1, -1) for j in z]
        for combo in itertools.product(*opts):
            r = row.copy()
            r[z] = combo
            out.add(tuple((r[B:] > 0).astype(int).tolist()))
    return out


def _anchor_count(v_sv, d):
    """Vectorised region count from the anchor's complex (the same method as ours: hash every vertex sign
    vector with its zeros perturbed, box entries inwards only, count distinct). ``None`` if a vertex does not
    have exactly ``d`` zeros (a non-simple complex: the anchor's output is then not a valid input)."""
    sv = v_sv.numpy().astype(np.int64)
    V, C = sv.shape
    rows, cols = np.nonzero(sv == 0)
    if len(rows) != V * d:
        return None
    Z = cols.reshape(V, d)
    r = np.random.default_rng(0).integers(-(2**62), 2**62, size=(C, 2), dtype=np.int64)
    base = sv @ r
    combos = np.array(list(itertools.product([1, -1], repeat=d)), dtype=np.int64)
    keys = []
    for cb in combos:
        ok = ~((cb < 0)[None, :] & (Z < 2 * d)).any(1)
        k = base + (cb[None, :, None] * r[Z]).sum(1)
        keys.append(k[ok])
    K = np.concatenate(keys)
    o = np.lexsort((K[:, 1], K[:, 0]))
    Ks = K[o]
    return int(1 + (Ks[1:] != Ks[:-1]).any(1).sum())


def _exists(prog, pattern, lo, hi):
    """Exact: is the region of ``pattern`` full-dimensional? (rational LP over its exact rows)"""
    ex = X.ExactProgram(prog)
    bits = np.asarray(pattern, dtype=np.uint8)
    d = prog.d
    rows = []
    for m in range(len(prog.width)):
        pre = ex.cell_pre(bits, m)[m].to_fractions()
        for j, row in enumerate(pre):
            a, c = list(row[:d]), row[d]
            if all(v == 0 for v in a) and c == 0:
                if bits[prog.offset[m] + j]:
                    return False
                continue
            sg = 1 if bits[prog.offset[m] + j] else -1
            rows.append(([sg * v for v in a], sg * c))
    G, h = X._region_system(rows, d, [Fraction(float(v)) for v in lo], [Fraction(float(v)) for v in hi])
    return X.lp_max_margin(G, h, d) > 0


def _timed(fn):
    """(wall seconds, CPU seconds of this process, result) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _run_anchor(anchor, model, full=False):
    sub, Net = anchor
    f = _anchor_net(Net, model, full)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        return _timed(lambda: sub(f, bbox=(-1, 1), device=torch.device("cpu"), verbose=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--anchor-dir", default=os.environ.get("TAMELAB_EDGE_SUBDIVISION", ""))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="the three smallest cases, 3 reps")
    a = ap.parse_args()
    reps = 3 if a.quick else a.reps
    anchor = _load_anchor(a.anchor_dir)
    if anchor is None:
        print("anchor not available (set --anchor-dir or TAMELAB_EDGE_SUBDIVISION); timing ours only")
    cases = CASES[:1] + CASES[2:3] + CASES[5:6] if a.quick else CASES
    print("times: best of", reps, "interleaved runs, ms; wall / CPU (process time: robust on a shared machine)")
    print(
        f"{'net':>18} {'bias':>4} {'regions':>7} {'anchor':>6} {'agree':>5} {'ours wall/cpu':>14} "
        f"{'anchor wall/cpu':>16} {'ratio wall/cpu':>14} {'+count cpu':>10} {'ratio':>5} {'+wit+lin cpu':>12} "
        f"{'pub cpu':>8} {'preds':>7} {'ns/pred':>7} status"
    )
    rows = []
    with one_thread():
        for widths, bias in cases:
            model = mlp(widths, seed=0, dtype=torch.float64, bias=bias)
            d = widths[0]
            prog = _program(_as_pwl(model))
            res = regions_nd(model, (-1.0, 1.0))  # warm-up and the result compared below
            best = {k: [float("inf"), float("inf")] for k in ("ours", "full", "anchor", "anchor_pub", "anchor_count")}
            anc_out, anc_fail, anc_cnt = None, "", None
            for r in range(reps):
                ks_ = ["ours", "full", "anchor", "anchor_pub"]
                for k in ks_ if r % 2 == 0 else ks_[::-1]:
                    if k == "anchor_pub":
                        if anchor is None or anc_fail:
                            continue
                        try:
                            w, c, _ = _run_anchor(anchor, model, full=True)
                        except Exception:  # noqa: BLE001, S112 - reported through the hidden-layer run
                            continue
                    elif k == "anchor":
                        if anchor is None or anc_fail:
                            continue
                        try:
                            w, c, anc_out = _run_anchor(anchor, model)
                            w2, c2, anc_cnt = _timed(lambda o_=anc_out, d_=d: _anchor_count(o_[2], d_))
                            best["anchor_count"] = [
                                min(best["anchor_count"][0], w + w2),
                                min(best["anchor_count"][1], c + c2),
                            ]
                        except Exception as e:  # noqa: BLE001 - the anchor has no degenerate-case handling
                            anc_fail = f"{type(e).__name__}: {str(e)[:60]}"
                            continue
                    elif k == "ours":
                        w, c, _ = _timed(lambda m_=model: regions_nd(m_, (-1.0, 1.0)))
                    else:
                        w, c, _ = _timed(lambda m_=model: regions_nd(m_, (-1.0, 1.0), witness=True, linear=True))
                    best[k] = [min(best[k][0], w), min(best[k][1], c)]
            ours = {tuple(p) for p in res.patterns.tolist()}
            agree, anc_n = ("-", "-") if not anc_fail else ("fail", "fail")
            if anc_fail:
                print(f"    {widths} bias={bias}: the anchor raised {anc_fail}")
            elif anc_out is not None:
                ap_ = _anchor_patterns(anc_out[2], d)
                anc_n = len(ap_)
                if anc_cnt is not None and anc_cnt != anc_n:
                    print(f"    {widths}: vectorised anchor count {anc_cnt} != {anc_n} (pattern count)")
                if anc_cnt is None:
                    print(f"    {widths} bias={bias}: the anchor's complex is not simple (vertices with > d zeros)")
                agree = "yes" if ap_ == ours else "NO"
                if ap_ != ours:
                    lo, hi = -np.ones(d), np.ones(d)
                    only_a, only_o = ap_ - ours, ours - ap_
                    real_a = sum(_exists(prog, p, lo, hi) for p in list(only_a)[:200])
                    real_o = sum(_exists(prog, p, lo, hi) for p in list(only_o)[:200])
                    who = "ours" if real_a == 0 and real_o == len(only_o) else "anchor" if real_o == 0 else "neither"
                    print(
                        f"    {widths} bias={bias}: {len(only_a)} patterns only in the anchor ({real_a} real), "
                        f"{len(only_o)} only in ours ({real_o} real): {who} is right (exact rational LP)"
                    )
            preds = res.predicates["float"] + res.predicates["exact"] + res.predicates["symbolic"]
            o, an, fu, pb, ac = best["ours"], best["anchor"], best["full"], best["anchor_pub"], best["anchor_count"]
            print(
                f"{widths!s:>18} {str(bias)[0]:>4} {res.activation_regions:7d} {anc_n!s:>6} {agree:>5} "
                f"{o[0] * 1e3:6.1f}/{o[1] * 1e3:6.1f} {an[0] * 1e3:7.1f}/{an[1] * 1e3:7.1f} "
                f"{an[0] / o[0]:6.2f}/{an[1] / o[1]:6.2f} {ac[1] * 1e3:10.1f} {ac[1] / o[1]:5.2f} "
                f"{fu[1] * 1e3:12.1f} {pb[1] * 1e3:8.1f} {preds:7d} "
                f"{o[1] / preds * 1e9:7.0f} {res.status.value}",
                flush=True,
            )
            rows.append((widths, bias, res.activation_regions, o[1], an[1], fu[1]))
    gen = [r for r in rows if r[1]]
    if len(gen) >= 3:
        lr = np.log([r[2] for r in gen])
        for name, col in (("ours", 3), ("anchor", 4), ("ours+witness+linear", 5)):
            tt = np.array([r[col] for r in gen])
            if np.all(np.isfinite(tt)):
                print(
                    f"scaling exponent (log CPU time vs log regions, biased nets) {name}: "
                    f"{np.polyfit(lr, np.log(tt), 1)[0]:.2f}"
                )


if __name__ == "__main__":
    main()
