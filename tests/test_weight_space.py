"""Weight-space tools on real architectures: permutation specs (derived by torch.fx or explicit), weight
matching, barriers and mode connectivity (Ainsworth et al. arXiv:2209.04836; Garipov et al. arXiv:1802.10026)."""

import copy
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from tamelab import InputError
from tamelab.errors import NotApplicableError
from tamelab.landscape import (
    PermutationSpec, barrier, connect_models, derive_spec, fit_curve, matching_objective, permute, weight_matching,
)
from tamelab.landscape._permutation_spec import check_spec, random_permutations

torch.set_default_dtype(torch.float32)


# --------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------
class CNNBN(nn.Module):
    def __init__(self, c1=4, c2=6, k=3):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1)
        self.c2, self.b2 = nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2)
        self.fc = nn.Linear(c2 * 4 * 4, k)

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = nn.functional.max_pool2d(torch.relu(self.b2(self.c2(h))), 2)
        return self.fc(h.flatten(1))


class ResBlockCNN(nn.Module):
    """A ResNet-style block: the stream (stem conv + BN) is added to two convs' output."""

    def __init__(self, c=4, k=3):
        super().__init__()
        self.stem, self.bs = nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c)
        self.c1, self.b1 = nn.Conv2d(c, c + 1, 3, padding=1), nn.BatchNorm2d(c + 1)
        self.c2, self.b2 = nn.Conv2d(c + 1, c, 3, padding=1), nn.BatchNorm2d(c)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, k)

    def forward(self, x):
        h = torch.relu(self.bs(self.stem(x)))
        h = torch.relu(h + self.b2(self.c2(torch.relu(self.b1(self.c1(h))))))
        return self.fc(self.pool(h).flatten(1))


class ResMLP(nn.Module):
    """Residual stream of width w with two blocks; LayerNorm + GELU in the second."""

    def __init__(self, d=5, w=8, h=7, k=3):
        super().__init__()
        self.inp = nn.Linear(d, w)
        self.l1, self.l2 = nn.Linear(w, h), nn.Linear(h, w)
        self.ln = nn.LayerNorm(w)
        self.l3, self.l4 = nn.Linear(w, h - 1), nn.Linear(h - 1, w)
        self.out = nn.Linear(w, k)

    def forward(self, x):
        s = self.inp(x)
        s = s + self.l2(torch.relu(self.l1(s)))
        s = s + self.l4(nn.functional.gelu(self.l3(self.ln(s))))
        return self.out(s)


def ln_gelu_mlp(d=5, w=(8, 6), k=3):
    return nn.Sequential(nn.Linear(d, w[0]), nn.LayerNorm(w[0]), nn.GELU(), nn.Linear(w[0], w[1]), nn.LayerNorm(w[1]),
                         nn.GELU(), nn.Linear(w[1], k))


def relu_mlp(d=5, w=(8, 7), k=3):
    return nn.Sequential(nn.Linear(d, w[0]), nn.ReLU(), nn.Linear(w[0], w[1]), nn.ReLU(), nn.Linear(w[1], k))


def _randomise_buffers(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    for name, b in m.named_buffers():
        if b.is_floating_point():
            b.copy_(0.5 + torch.rand(b.shape, generator=g, dtype=b.dtype))
    for p in m.parameters():
        with torch.no_grad():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))  # LayerNorm/BN affine away from 1/0
    return m.eval()


CASES = {
    "mlp": (lambda: relu_mlp(), lambda g: torch.randn(6, 5, generator=g)),
    "cnn_bn": (lambda: CNNBN(), lambda g: torch.randn(3, 1, 8, 8, generator=g)),
    "residual_cnn": (lambda: ResBlockCNN(), lambda g: torch.randn(3, 1, 6, 6, generator=g)),
    "residual_ln_gelu_mlp": (lambda: ResMLP(), lambda g: torch.randn(6, 5, generator=g)),
    "ln_gelu_mlp": (lambda: ln_gelu_mlp(), lambda g: torch.randn(6, 5, generator=g)),
}


# --------------------------------------------------------------------------------------------------
# specs
# --------------------------------------------------------------------------------------------------
def test_derived_specs_have_the_expected_structure():
    g = torch.Generator().manual_seed(0)
    sp = derive_spec(CNNBN().eval(), torch.randn(2, 1, 8, 8, generator=g))
    assert sp.perms == {"P_c1": 4, "P_c2": 6}
    assert [a and (a.perm, a.inner) for a in sp.axes["fc.weight"]] == [None, ("P_c2", 16)]  # flatten: 4×4 blocks
    assert all(sp.axes[f"b1.{n}"][0].perm == "P_c1" for n in ("weight", "bias", "running_mean", "running_var"))
    assert "b1.num_batches_tracked" not in sp.axes
    sp = derive_spec(ResMLP().eval(), torch.randn(2, 5, generator=g))
    stream = sp.axes["inp.weight"][0].perm
    # one permutation for everything added into the stream, LayerNorm's affine parameters included
    for k in ("l2.weight", "l2.bias", "l4.weight", "l4.bias", "ln.weight", "ln.bias"):
        assert sp.axes[k][0].perm == stream
    assert sp.axes["out.weight"] == (None, sp.axes["inp.weight"][0]) and len(sp.perms) == 3
    sp = derive_spec(ResBlockCNN().eval(), torch.randn(2, 1, 6, 6, generator=g))
    assert sp.axes["c2.weight"][0].perm == sp.axes["stem.weight"][0].perm == sp.axes["bs.running_var"][0].perm
    assert sp.axes["fc.weight"][1].inner == 1  # adaptive pool to 1×1, then flatten


def test_a_stream_added_to_the_raw_input_is_not_permutable():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(6, 4), nn.Linear(4, 2)

        def forward(self, x):
            return self.c(x + self.b(torch.relu(self.a(x))))

    sp = derive_spec(Skip().eval(), torch.randn(3, 4))
    assert sp.perms == {"P_a": 6} and sp.axes["b.weight"][0] is None
    assert any("unpermuted" in n for n in sp.notes)


@pytest.mark.parametrize("bad, name", [
    ("attention", "MultiheadAttention"), ("grouped", "grouped convolution"), ("cat", "cat"),
])
def test_unsupported_operations_are_refused_by_name(bad, name):
    class Att(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.out = nn.Linear(4, 8), nn.Linear(8, 2)
            self.att = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            h = self.emb(x)
            return self.out(self.att(h, h, h)[0])

    class Grouped(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.fc = nn.Conv1d(2, 4, 3), nn.Conv1d(4, 4, 3, groups=2), nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.b(torch.relu(self.a(x))).mean(-1))

    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 3), nn.Linear(4, 3), nn.Linear(6, 2)

        def forward(self, x):
            return self.c(torch.cat([self.a(x), self.b(x)], -1))

    model, x = {"attention": (Att(), torch.randn(2, 3, 4)), "grouped": (Grouped(), torch.randn(2, 2, 9)),
                "cat": (Cat(), torch.randn(2, 4))}[bad]
    with pytest.raises(NotApplicableError, match=name):
        derive_spec(model.eval(), x)
    with pytest.raises(NotApplicableError, match=name):
        weight_matching(model, copy.deepcopy(model), example_input=x)


def test_explicit_spec_and_a_wrong_spec_is_caught_by_the_function_certificate():
    m = _randomise_buffers(relu_mlp(), 1)
    x = torch.randn(6, 5)
    good = {"perms": {"H1": 8, "H2": 7}, "axes": {"0.weight": ["H1", None], "0.bias": ["H1"],
                                                  "2.weight": ["H2", "H1"], "2.bias": ["H2"], "4.weight": [None, "H2"]}}
    b = permute(m, random_permutations(PermutationSpec.from_dict(good), 4), PermutationSpec.from_dict(good))
    r = weight_matching(m, b, spec=good, X=x)
    assert r.status == "ok" and r.max_function_change < 1e-6 and set(r.permutations) == {"H1", "H2"}
    wrong = copy.deepcopy(good)
    wrong["axes"]["2.weight"] = ["H2", None]  # forgets that layer 2 reads H1's units
    r = weight_matching(m, b, spec=wrong, X=x)
    assert r.status == "uncertified" and r.max_function_change > 1e-3
    assert check_spec(m, PermutationSpec.from_dict(wrong), x) > 1e-3
    assert check_spec(m, PermutationSpec.from_dict(good), x) < 1e-6
    with pytest.raises(InputError, match="unknown permutation"):
        PermutationSpec.from_dict({"perms": {"H1": 8}, "axes": {"0.weight": ["H9", None]}})
    with pytest.raises(InputError, match="has size 7, permutation .H2. needs 8"):
        weight_matching(m, b, spec={"perms": {"H1": 8, "H2": 8}, "axes": {"2.weight": ["H2", "H1"]}})


# --------------------------------------------------------------------------------------------------
# weight matching
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_permuted_model_is_aligned_back_exactly(case):
    make, inp = CASES[case]
    torch.manual_seed(3)
    m = _randomise_buffers(make().double(), 2)
    x = inp(torch.Generator().manual_seed(5)).double()
    sp = derive_spec(m, x)
    assert sp.perms
    b = permute(m, random_permutations(sp, 11), sp)
    with torch.no_grad():
        assert torch.allclose(m(x), b.eval()(x), atol=1e-12)  # the permutation is a symmetry
    assert any(not torch.equal(p, q) for p, q in zip(m.state_dict().values(), b.state_dict().values()))
    r = weight_matching(m, b, X=x)
    assert r.status == "ok" and r.max_function_change < 1e-12 and r.optimality.startswith("coordinate-wise")
    for (k, p), q in zip(m.state_dict().items(), r.model.state_dict().values()):
        assert torch.equal(p, q), k
    assert r.objective_after == pytest.approx(matching_objective(m, m, sp), rel=1e-12)
    with torch.no_grad():
        assert torch.equal(r.model.eval()(x), m(x))


def _naive_objective_cnn(a: CNNBN, b: CNNBN, p1, p2) -> float:
    """Independent reference: permute B's conv channels by hand, then sum the parameter dot products."""
    sb = {k: v.detach().clone() for k, v in b.named_parameters()}
    sb["c1.weight"] = sb["c1.weight"][list(p1)]
    for k in ("c1.bias", "b1.weight", "b1.bias"):
        sb[k] = sb[k][list(p1)]
    sb["c2.weight"] = sb["c2.weight"][list(p2)][:, list(p1)]
    for k in ("c2.bias", "b2.weight", "b2.bias"):
        sb[k] = sb[k][list(p2)]
    W = sb["fc.weight"].reshape(-1, len(p2), 16)[:, list(p2)].reshape(sb["fc.weight"].shape)
    sb["fc.weight"] = W
    return float(sum((pa.detach().double() * sb[k].double()).sum() for k, pa in a.named_parameters()))


def test_exhaustive_and_coordinate_descent_against_brute_force_on_a_tiny_cnn():
    torch.manual_seed(0)
    a, b = CNNBN(3, 4).double(), CNNBN(3, 4).double()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    vals = {(p1, p2): _naive_objective_cnn(a, b, p1, p2)
            for p1 in itertools.permutations(range(3)) for p2 in itertools.permutations(range(4))}
    best = max(vals.values())
    ex = weight_matching(a, b, example_input=x, exhaustive=True)
    assert ex.optimality == "global (exhaustive)" and ex.objective_after == pytest.approx(best, rel=1e-12)
    p1, p2 = ex.permutations["P_c1"], ex.permutations["P_c2"]
    assert vals[(tuple(p1), tuple(p2))] == pytest.approx(best, rel=1e-12)
    cd = weight_matching(a, b, example_input=x, restarts=5, seed=1)
    q1, q2 = tuple(cd.permutations["P_c1"]), tuple(cd.permutations["P_c2"])
    assert cd.objective_after == pytest.approx(vals[(q1, q2)], rel=1e-12) and cd.objective_after <= best + 1e-9
    # the coordinate-wise certificate: no single permutation change improves (checked by brute force)
    assert all(vals[(p, q2)] <= vals[(q1, q2)] + 1e-9 for p in itertools.permutations(range(3)))
    assert all(vals[(q1, q)] <= vals[(q1, q2)] + 1e-9 for q in itertools.permutations(range(4)))
    with pytest.raises(InputError, match="max_enumeration"):
        weight_matching(a, b, example_input=x, exhaustive=True, max_enumeration=5)


def test_exhaustive_on_a_residual_mlp_matches_brute_force_over_all_permutations():
    torch.manual_seed(1)
    a, b = ResMLP(d=3, w=4, h=3, k=2).double(), ResMLP(d=3, w=4, h=3, k=2).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    sp = derive_spec(a, x)
    assert sorted(sp.perms.values()) == [2, 3, 4]  # 4!·3!·2! = 288 joint permutations
    names = sorted(sp.perms)
    best = max(matching_objective(a, b, sp, dict(zip(names, map(np.array, combo))))
               for combo in itertools.product(*[itertools.permutations(range(sp.perms[n])) for n in names]))
    ex = weight_matching(a, b, example_input=x, exhaustive=True)
    assert ex.objective_after == pytest.approx(best, rel=1e-12)
    cd = weight_matching(a, b, example_input=x, restarts=8)
    assert cd.objective_after <= best + 1e-9 and cd.objective_after >= ex.objective_before - 1e-9


def test_weight_matching_input_validation():
    a, b = relu_mlp(), relu_mlp(w=(8, 6))
    with pytest.raises(InputError, match="architectures differ"):
        weight_matching(a, b)
    with pytest.raises(InputError, match="restarts"):
        weight_matching(a, copy.deepcopy(a), restarts=0)


# --------------------------------------------------------------------------------------------------
# barriers and connectivity
# --------------------------------------------------------------------------------------------------
def test_barrier_against_direct_interpolation_and_the_input_contract():
    from torch.utils.data import DataLoader, Dataset

    torch.manual_seed(0)
    a, b = _randomise_buffers(CNNBN().double(), 1), _randomise_buffers(CNNBN().double(), 2)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 1, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 3, (20,), generator=g)
    r = barrier(a, b, (X, y), points=5, refine=False)
    for t, L in zip(r.alphas, r.losses):  # reference: a fresh copy with every tensor interpolated by hand
        m = copy.deepcopy(a)
        sa, sb = a.state_dict(), b.state_dict()
        m.load_state_dict({k: ((1 - t) * sa[k] + t * sb[k]) if sa[k].is_floating_point() else sa[k] for k in sa})
        with torch.no_grad():
            assert L == pytest.approx(float(nn.functional.cross_entropy(m.eval()(X), y)), rel=1e-12)
    assert r.barrier_mean == pytest.approx(max(r.losses) - 0.5 * (r.losses[0] + r.losses[-1]), rel=1e-12)

    class D(Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            return {"image": X[i], "label": y[i]}

    r2 = barrier(a, b, DataLoader(D(), batch_size=7), points=5, refine=False)
    r3 = barrier(a, b, (X.numpy(), y.numpy()), points=5, refine=False,
                 loss=lambda o, t: nn.functional.cross_entropy(o, t))
    assert r2.losses == pytest.approx(r.losses, rel=1e-12) and r3.losses == pytest.approx(r.losses, rel=1e-12)
    with pytest.raises(InputError, match="bn"):
        barrier(a, b, (X, y), bn="recompute")


def test_bn_reset_recomputes_the_running_statistics_on_the_data():
    from tamelab.landscape._connect import _reset_bn

    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double().eval()
    X = torch.randn(50, 3, dtype=torch.float64)
    from tamelab.inputs import as_data

    _reset_bn(m, as_data((X, torch.zeros(50, dtype=torch.long)), batch_size=50), None, torch.float64)
    with torch.no_grad():
        h = m[0](X)
    assert torch.allclose(m[1].running_mean, h.mean(0), atol=1e-14)
    assert torch.allclose(m[1].running_var, h.var(0, unbiased=True), atol=1e-14)
    assert not m[1].training


def _train(model, X, y, steps=150, seed=0, lr=0.02):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(y), (32,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


def _images(n=160, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    X = 0.5 * torch.randn(n, 1, 8, 8, generator=g)
    X[y == 0, 0, :4, :4] += 1.0
    X[y == 1, 0, 4:, 4:] += 1.0
    X[y == 2, 0, :4, 4:] += 1.0
    return X, y


def test_alignment_lowers_the_barrier_between_trained_twins():
    from tamelab.train import fit

    a = fit({"widths": [64, 32, 10], "epochs": 4, "seed": 0})
    b = fit({"widths": [64, 32, 10], "epochs": 4, "seed": 1})
    r = connect_models(a.model, b.model, a.train, test=a.test, curve_steps=0, points=9)
    assert r.status == "ok" and r.barrier_aligned <= r.barrier_raw and r.test_barrier_aligned <= r.test_barrier_raw
    assert r.alignment_function_change < 1e-4 and r.barrier_raw > 0.05
    X, y = _images()
    torch.manual_seed(0)
    ca = _train(CNNBN(8, 8), X, y, steps=60, seed=0)
    torch.manual_seed(1)
    cb = _train(CNNBN(8, 8), X, y, steps=60, seed=1)
    for bn in ("interpolate", "reset"):
        rc = connect_models(ca, cb, (X, y), curve_steps=10 if bn == "reset" else 0, points=5, bn=bn)
        assert rc.barrier_aligned <= rc.barrier_raw + 1e-9, bn
        assert rc.bn == bn and "P_c1" in rc.permutation_spec["perms"]
    assert rc.barrier_curve is not None and len(rc.losses_curve) == 61


def test_fit_curve_with_batchnorm_interpolates_buffers_and_takes_any_data():
    torch.manual_seed(0)
    a, b = _randomise_buffers(CNNBN().double(), 1), _randomise_buffers(CNNBN().double(), 2)
    X, y = _images(30)
    r = fit_curve(a, b, (X.double().numpy(), y.numpy()), loss="cross_entropy", steps=5, points=5, seed=0)
    ref = barrier(a, b, (X.double(), y), points=5, refine=False)
    assert r.losses_line == pytest.approx(ref.losses, rel=1e-12)  # the same line, buffers included
    with torch.no_grad():
        assert r.losses_curve[0] == pytest.approx(float(nn.functional.cross_entropy(a(X.double()), y)), rel=1e-12)
    with pytest.raises(InputError, match="steps"):
        fit_curve(a, b, (X.double(), y), steps=-1)


# --------------------------------------------------------------------------------------------------
# the width-sweep claim must fail for a wrong alignment
# --------------------------------------------------------------------------------------------------
def test_rebasin_width_claim_holds_and_fails_for_identity_or_random_alignment(monkeypatch):
    import functools

    from tamelab.claims import ClaimContext, get_claim
    from tamelab.claims.catalog import ainsworth2023rebasin as cat
    from tamelab.landscape import mlp_spec

    monkeypatch.setattr(cat, "_twin", functools.lru_cache(maxsize=None)(cat._twin))  # train each twin once
    c = get_claim("rebasin-aligned-barrier-lower")
    assert c.source and c.expected_from == "paper"
    ok = c.run(ClaimContext(seed=0, quick=True))
    assert ok["verdict"] == "holds", ok["measured"]
    monkeypatch.setattr(cat, "_align", lambda a, b, X: b)  # identity: no alignment at all
    ident = c.run(ClaimContext(seed=0, quick=True))
    assert ident["verdict"] == "fails" and ident["measured"]["checks"]["aligned < raw at every width"] is False

    def random_alignment(a, b, X):
        sp = mlp_spec(b)
        return permute(b, random_permutations(sp, 7), sp)

    monkeypatch.setattr(cat, "_align", random_alignment)
    rnd = c.run(ClaimContext(seed=0, quick=True))
    assert rnd["verdict"] == "fails" and rnd["measured"]["checks"]["aligned(widest) <= 0.25 raw(widest)"] is False
