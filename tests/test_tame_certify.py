"""Tameness certificate (spec tame-optimization.md §1.6): lattice laws and per-program verdicts."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from tamelab.errors import InputError
from tamelab.models import mlp
from tamelab.result import Status
from tamelab.tame import NONE, STRUCTURES, UNKNOWN, join, join_all, leq, op_fact, poly_bounded
from tamelab.tame import ReLUPrime
from tamelab.tame import certify
from tamelab.testing.counterexamples import BatchBranch, BinaryMax, InPlace, SinWhenTraining

ALL = list(STRUCTURES) + [NONE, UNKNOWN]
X = torch.zeros(3, 4)


# ---------------------------------------------------------------------------------- lattice
def test_join_symmetric_idempotent_alg_neutral():
    for a, b in itertools.product(ALL, ALL):
        assert join(a, b) == join(b, a)
    for a in ALL:
        assert join(a, a) == a
        assert join("alg", a) == a


def test_join_is_least_upper_bound_in_the_spec_table():
    assert join("an", "exp") == "an,exp"
    assert join("an", "pfaff") == "P(an)"
    assert join("an,exp", "pfaff") == "P(an)"
    assert join("exp", "pfaff") == "pfaff"
    assert join("alg", "an") == "an"
    for a in ALL:
        assert join(a, NONE) == NONE
    assert join(UNKNOWN, "exp") == UNKNOWN
    # brute force: the join is an upper bound below every other upper bound
    for a, b in itertools.product(STRUCTURES, STRUCTURES):
        j = join(a, b)
        assert leq(a, j) and leq(b, j)
        for c in STRUCTURES:
            if leq(a, c) and leq(b, c):
                assert leq(j, c)


def test_join_associative_and_order_facts():
    for a, b, c in itertools.product(ALL, ALL, ALL):
        assert join(join(a, b), c) == join(a, join(b, c))
    assert not leq("an", "exp") and not leq("exp", "an")
    assert not leq("pfaff", "an,exp") and leq("exp", "pfaff")
    assert poly_bounded("alg") and poly_bounded("an") and not poly_bounded("exp") and not poly_bounded("an,exp")
    assert join_all(["alg", "an", "exp"]) == "an,exp"
    with pytest.raises(InputError):
        join("alg", "R_foo")


def test_op_fact_context_dependent_rows():
    assert op_fact("sin", input_bounded=True).global_ == "an"
    f = op_fact("sin", input_bounded=False)
    assert f.global_ == NONE and f.local == "an"
    assert op_fact("pow", exponent=3).global_ == "alg"
    assert op_fact("pow", exponent=0.5).global_ == "alg"  # rational power on x >= 0
    assert op_fact("pow", exponent=2**0.5).global_ == "exp"
    assert op_fact("pow", exponent="variable").global_ == "exp"
    assert op_fact("gelu", approximate="none").global_ == "pfaff"
    assert op_fact("gelu", approximate="tanh").global_ == "exp"
    assert op_fact("tanh").global_ == "exp" and op_fact("tanh").local == "an"
    assert op_fact("no_such_op") is None


# ------------------------------------------------------------------------------ certificates
class _Net(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.f = f

    def forward(self, x):
        return self.f(self.lin(x))


class _Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)
        self.ln = nn.LayerNorm(4)

    def forward(self, x):
        a = torch.softmax(self.q(x) @ self.k(x).T / 2.0, dim=-1)
        return self.ln(x + a @ self.v(x))


CASES = [
    dict(id="relu-mlp", model=lambda: mlp([4, 5, 3]), loss=None, structure="alg", lip=True),
    dict(id="relu-mlp-mse", model=lambda: mlp([4, 5, 3]), loss="mse", structure="alg", lip=True),
    dict(id="relu-mlp-ce", model=lambda: mlp([4, 5, 3]), loss="cross_entropy", structure="exp", lip=True),
    dict(
        id="batchnorm-ce",
        model=lambda: nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)),
        loss="cross_entropy",
        structure="exp",
        lip=True,
    ),
    dict(id="tanh", model=lambda: _Net(torch.tanh), loss="mse", structure="exp", lip=True),
    dict(
        id="sin-after-tanh",
        model=lambda: _Net(lambda z: torch.sin(torch.tanh(z))),
        loss="mse",
        structure="an,exp",
        lip=True,
    ),
    dict(
        id="sin-after-clamp",
        model=lambda: _Net(lambda z: torch.sin(z.clamp(-1.0, 1.0))),
        loss="mse",
        structure="an",
        lip=True,
    ),
    dict(
        id="cos-after-scaled-sigmoid",
        model=lambda: _Net(lambda z: torch.cos(3.0 * torch.sigmoid(z) + 1.0)),
        loss=None,
        structure="an,exp",
        lip=True,
    ),
    # spec §1.6 says "P(an) (pfaff ∨ an)" for exact GELU + LayerNorm + softmax; by the §1.4 table every op there
    # is alg/exp/pfaff, so the join is pfaff; an `an` op (arctan) is needed to reach P(an).
    dict(
        id="exact-gelu-layernorm",
        model=lambda: nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.LayerNorm(4)),
        loss="cross_entropy",
        structure="pfaff",
        lip=True,
    ),
    dict(
        id="exact-gelu-arctan",
        model=lambda: _Net(lambda z: torch.atan(nn.functional.gelu(z))),
        loss="cross_entropy",
        structure="P(an)",
        lip=True,
    ),
    dict(id="softmax-attention-block", model=lambda: _Attn(), loss="mse", structure="exp", lip=True),
    dict(
        id="tanh-gelu",
        model=lambda: nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate="tanh")),
        loss="cross_entropy",
        structure="exp",
        lip=True,
    ),
    dict(id="sign", model=lambda: _Net(torch.sign), loss="mse", structure="alg", lip=False),
    dict(
        id="relu-prime-module",
        model=lambda: nn.Sequential(nn.Linear(4, 4), ReLUPrime(0.5), nn.Linear(4, 2)),
        loss="mse",
        structure="alg",
        lip=True,
    ),
    dict(id="integer-pow", model=lambda: _Net(lambda z: z**3 + z.pow(2)), loss="mse", structure="alg", lip=True),
    dict(
        id="irrational-pow",
        model=lambda: _Net(lambda z: torch.sigmoid(z) ** 2**0.5),
        loss="mse",
        structure="exp",
        lip=True,
    ),
    dict(id="softplus", model=lambda: _Net(nn.functional.softplus), loss="mse", structure="exp", lip=True),
]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_certificate_table(case):
    torch.manual_seed(0)
    c = certify(case["model"]().eval(), X, loss=case["loss"])
    assert c.structure == case["structure"], (c.structure, c.ops)
    assert c.locally_lipschitz is case["lip"]
    assert c.status is Status.OK
    assert c.poly_bounded is (case["structure"] in ("alg", "an"))
    assert c.local_structure in ("alg", "an")
    assert c.tracer == "fx"
    d = c.to_dict()
    assert d["schema_version"] >= 1 and d["kind"] == "tameness_certificate"
    for op in d["ops"]:
        assert set(op) >= {"node", "target", "global", "local", "reason"}


def test_sin_on_raw_inputs_is_uncertified_naming_sin():
    c = certify(_Net(torch.sin), X, loss="mse")
    assert c.status is Status.UNCERTIFIED
    assert c.structure == NONE and c.local_structure == "an"
    assert "sin" in c.why and any("sin" in o for o in c.offending_ops)
    sin_ops = [o for o in c.ops if o["canonical"] == "sin"]
    assert sin_ops and sin_ops[0]["global"] == NONE


def test_siren_like_trainable_frequency_is_uncertified():
    class Siren(nn.Module):
        def __init__(self):
            super().__init__()
            self.omega = nn.Parameter(torch.tensor(30.0))
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.sin(self.omega * self.lin(x))

    c = certify(Siren(), X)
    assert c.structure == NONE and c.status is Status.UNCERTIFIED


def test_unknown_op_never_crashes():
    c = certify(_Net(torch.special.bessel_j0), X, loss="mse")
    assert c.status is Status.UNCERTIFIED and c.structure == UNKNOWN
    assert "special_bessel_j0" in c.why


def test_untraceable_model_is_uncertified_not_an_exception():
    class DataDependent(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    c = certify(DataDependent(), X)
    assert c.status is Status.UNCERTIFIED and c.tracer is None
    assert "could not trace" in c.why


def test_export_fallback_when_fx_fails():
    class ShapeBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            z = self.lin(x)
            return torch.relu(z) if x.shape[0] > 1 else z

    c = certify(ShapeBranch(), X, loss="cross_entropy")
    assert c.tracer == "export"
    assert c.structure == "exp" and c.status is Status.OK


def test_programs_not_functions_floor_is_none_globally():
    c = certify(_Net(torch.floor), X)
    assert c.structure == NONE and c.local_structure == "alg" and not c.continuous


def test_bad_inputs():
    with pytest.raises(InputError, match="loss"):
        certify(mlp([4, 3]), X, loss="hinge")
    with pytest.raises(InputError, match="data"):
        certify(mlp([4, 3]), torch.zeros(2, 7))
    with pytest.raises(InputError, match="model"):
        certify("not a model", X)


# ----------------------------------------------------------------------------- issue 17 item 4: sin with hidden inputs


def _sin_input_bound(cert):
    """The interval the certificate proved for the input of its (last) sin node when sin reads it, or None."""
    return [op for op in cert.ops if op["canonical"] == "sin"][-1]["input_bounds"]


@pytest.mark.parametrize(
    "model", [BinaryMax(), InPlace(), SinWhenTraining()], ids=["binary-max", "in-place", "training"]
)
def test_hidden_unbounded_sin_inputs_are_caught_issue17(model):
    cert = certify(model, torch.zeros(2, 3))
    assert cert.structure == NONE and cert.status is Status.UNCERTIFIED, cert.why
    assert any("sin" in o for o in cert.offending_ops)


def test_mode_dependent_program_and_mode_restored():
    m = SinWhenTraining()
    m.train()
    m.lin.eval()  # a mixed state must come back exactly
    cert = certify(m, torch.zeros(2, 3), loss="mse")
    assert cert.mode_dependent and cert.modes == {"train": NONE, "eval": "alg"} and "differ" in cert.why
    assert m.training is True and m.lin.training is False
    assert certify(m, torch.zeros(2, 3), mode="eval").structure == "alg"
    assert certify(m, torch.zeros(2, 3), mode="train").structure == NONE
    m.eval()
    certify(m, torch.zeros(2, 3))
    assert m.training is False and m.lin.training is False
    with pytest.raises(InputError, match="mode"):
        certify(m, torch.zeros(2, 3), mode="test")


def test_batch_size_branch_is_not_specialised_away_issue17():
    cert = certify(BatchBranch(), torch.zeros(2, 3), loss="mse")
    assert cert.status is Status.UNCERTIFIED and "specialised" in cert.why and cert.tracer == "export"


def test_bounded_variants_still_certified():
    class Fine(nn.Module):
        def forward(self, z):
            h = torch.tanh(z)
            h.mul_(0.5)
            h += torch.sigmoid(z)
            return torch.sin(torch.maximum(h, torch.tanh(2 * z))) + torch.cos(torch.clamp(z, -1, 1))

    cert = certify(Fine(), torch.zeros(2, 3))
    assert cert.structure == "an,exp" and cert.ok
    assert _sin_input_bound(cert) == [-0.5, 1.5]  # max([-0.5, 0.5] + [0, 1], [-1, 1]) = [-0.5, 1.5]


class _RandomProgram(nn.Module):
    """A random straight-line program over registers: bounded ops (tanh, clamp), unbounded ones (scale by a parameter,
    relu, add), binary max/min, in-place add and views; ends with sin of one register."""

    def __init__(self, rng):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.5))
        self.recipe = []
        n = 1
        for _ in range(int(rng.integers(3, 9))):
            op = str(rng.choice(["tanh", "clamp", "scale", "relu", "add", "max", "min", "iadd", "view", "affine"]))
            self.recipe.append((op, int(rng.integers(n)), int(rng.integers(n))))
            n += 1
        self.out = int(rng.integers(1, n))

    def forward(self, z):
        r = [z]
        for op, i, j in self.recipe:
            a, b = r[i], r[j]
            if op == "tanh":
                r.append(torch.tanh(a))
            elif op == "clamp":
                r.append(torch.clamp(a, -2.0, 2.0))
            elif op == "scale":
                r.append(a * self.w)
            elif op == "relu":
                r.append(torch.relu(a))
            elif op == "add":
                r.append(a + b)
            elif op == "max":
                r.append(torch.max(a, b))
            elif op == "min":
                r.append(torch.minimum(a, b))
            elif op == "iadd":
                r.append(a.add_(b) if a is not b else a.mul_(2.0))
            elif op == "view":
                r.append(a.view(a.shape))
            else:
                r.append(3.0 * a - 1.0)
        self.pre = r[self.out]
        return torch.sin(r[self.out])


def test_random_programs_sin_bound_is_sound(seed):
    """Randomised adversary: whenever the certificate proves the input of sin bounded, the input stays inside the proved
    interval on extreme inputs and parameters; whenever the input grows without bound, the certificate is NONE."""
    rng = np.random.default_rng(seed)
    for _ in range(25):
        prog = _RandomProgram(rng)
        cert = certify(prog, torch.zeros(2, 3), mode="eval")
        bound = _sin_input_bound(cert)
        worst = 0.0
        for scale in (1e3, 1e6):
            for w in (scale, -scale):
                with torch.no_grad():
                    prog.w.fill_(w)
                    z = torch.as_tensor(rng.standard_normal((4, 3)) * scale, dtype=torch.float32)
                    prog(z)
                    pre = prog.pre.detach()
                worst = max(worst, float(pre.abs().max()))
                if bound is not None:
                    assert float(pre.min()) >= bound[0] - 1e-5 and float(pre.max()) <= bound[1] + 1e-5, prog.recipe
        if worst > 1e5:  # grows with the inputs: not bounded, so sin is definable in no o-minimal structure
            assert bound is None and cert.structure == NONE, prog.recipe
        else:
            assert cert.structure in (NONE, "an", "an,exp", "exp", "alg"), cert.structure


def test_input_contract_data_forms_and_callable_loss():
    from torch.utils.data import DataLoader

    net = mlp([4, 5, 3], seed=0)
    rng = np.random.default_rng(0)
    Xn, yn = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    ref = certify(net, torch.as_tensor(Xn), loss="cross_entropy")
    loader = DataLoader([{"x": torch.as_tensor(Xn[i]), "label": int(yn[i])} for i in range(6)], batch_size=3)
    for data in ((Xn, yn), loader, Xn, torch.as_tensor(Xn[:1])):
        c = certify(net, data, loss="cross_entropy")
        assert (c.structure, c.status, c.tracer) == (ref.structure, ref.status, ref.tracer) == ("exp", Status.OK, "fx")
    hinge = lambda out, t: torch.clamp(1 - out.gather(1, t[:, None]), min=0).mean()  # noqa: E731
    c = certify(net, (Xn, yn), loss=hinge)
    assert c.structure == "alg" and c.loss == "<lambda>" and c.ok
    c = certify(net, (Xn, rng.standard_normal((6, 3))), loss="huber", device="cpu")
    assert c.structure == "alg" and c.ok
    with pytest.raises(InputError, match="device"):
        certify(net, Xn, device="tpu")
