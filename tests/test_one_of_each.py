"""One of each (issue 15): one loss registry, one verdict enum, one model writer — used everywhere."""

from __future__ import annotations

import ast
import math
import pathlib

import pytest
import torch

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "tamelab"


# ------------------------------------------------------------------------------------------------ losses
def _dict_literals_with_loss_keys(tree: ast.AST) -> list[int]:
    """Line numbers of dict literals keyed by two or more registry loss names (a private name → function map)."""
    from tamelab.losses import LOSSES

    names = set(LOSSES)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if len(keys & names) >= 2:
                hits.append(node.lineno)
    return hits


def test_no_private_loss_name_to_function_tables():
    found = []
    for f in sorted(SRC.rglob("*.py")):
        if f.name == "losses.py" or "claims/catalog" in f.as_posix():  # claims tabulate expected values by loss
            continue
        for line in _dict_literals_with_loss_keys(ast.parse(f.read_text(encoding="utf-8"))):
            found.append(f"{f.relative_to(SRC)}:{line}")
    assert not found, "name → loss tables outside tamelab.losses: " + ", ".join(found)


def test_the_scanner_finds_a_table():
    tree = ast.parse('T = {"cross_entropy": f, "mse": g}\nU = {"cross_entropy": 1}\n')
    assert _dict_literals_with_loss_keys(tree) == [1]


def test_builtin_losses_carry_their_torch_function_and_agree_with_it():
    import torch.nn.functional as F

    from tamelab.losses import LOSSES, resolve_loss

    g = torch.Generator().manual_seed(0)
    out = torch.randn(6, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    real = torch.rand(6, 3, generator=g, dtype=torch.float64)
    for name, loss in LOSSES.items():
        assert loss.builtin and loss.torch_fn is not None, name
        t = labels if loss.targets == "labels" else real
        o = torch.log_softmax(out, 1) if name == "nll" else out
        assert float(loss(o, t)) == float(loss.torch_fn(o, t)), name
    assert LOSSES["cross_entropy"].torch_fn is F.cross_entropy
    assert resolve_loss(lambda o, t: (o - t).abs().mean()).torch_fn is None


def test_loss_smoothness_is_a_registry_field_that_matches_the_loss():
    """``Loss.smooth`` (not a list elsewhere) says C¹ in the prediction; checked by one-sided derivatives."""
    from tamelab.losses import LOSSES, resolve_loss
    from tamelab.tame.nonsmooth import _kinks

    assert not hasattr(_kinks, "SMOOTH_LOSSES")
    assert resolve_loss(lambda o, t: (o - t).abs().mean()).smooth is False  # a user's loss is not assumed smooth
    assert resolve_loss("smooth_l1").smooth and not resolve_loss("l1").smooth
    labels = torch.tensor([0, 2])
    real = torch.zeros(2, 3, dtype=torch.float64)
    d = torch.ones(2, 3, dtype=torch.float64)
    h = 1e-6
    for name, loss in LOSSES.items():
        t = labels if loss.targets == "labels" else real
        jumps = []
        for c in (0.0, 1.0, -1.0):  # where the registry's piecewise losses break: out − target ∈ {0, ±1}
            o = torch.full((2, 3), c, dtype=torch.float64)
            right = (float(loss(o + h * d, t)) - float(loss(o, t))) / h
            left = (float(loss(o, t)) - float(loss(o - h * d, t))) / h
            jumps.append(abs(right - left))
        assert (max(jumps) < 1e-4) == loss.smooth, (name, jumps)


def test_certify_traces_the_registry_loss_and_refuses_unknown_names():
    from tamelab.errors import InputError
    from tamelab.losses import LOSSES
    from tamelab.models import mlp
    from tamelab.tame import LOSSES as CERTIFY_LOSSES
    from tamelab.tame import certify

    assert set(CERTIFY_LOSSES) == set(LOSSES) | {"none"}
    m = mlp([3, 4, 2], seed=0)
    X = torch.zeros(5, 3)
    assert certify(m, X, loss="mse").loss == "mse"
    ops = {o["canonical"] for o in certify(m, X, loss="cross_entropy").ops}
    assert any("cross_entropy" in str(o) or "log_softmax" in str(o) for o in ops), ops
    with pytest.raises(InputError, match="unknown loss 'msse'"):
        certify(m, X, loss="msse")


def test_curvature_fast_path_recognises_registry_losses():
    from tamelab.landscape._mlp_rop import mlp_rop_plan
    from tamelab.losses import resolve_loss
    from tamelab.models import mlp

    m = mlp([3, 4, 2], seed=0)
    names = [k for k, _ in m.named_parameters()]
    assert mlp_rop_plan(m, resolve_loss("cross_entropy"), names)[1] == "ce"
    assert mlp_rop_plan(m, resolve_loss("mse"), names)[1] == "mse"
    assert mlp_rop_plan(m, resolve_loss("l1"), names) is None  # no R-operator for l1: the generic product
    assert mlp_rop_plan(m, torch.nn.MSELoss(), names)[1] == "mse"


@pytest.mark.parametrize("loss", ["nll", "huber"])
def test_landscape_task_takes_any_registry_loss(loss, tmp_path, capsys):
    """The surface evaluator computes every registry loss (no second list of 'surface losses')."""
    import json

    import numpy as np

    from tamelab.cli.main import main
    from tamelab.landscape import loss_surface
    from tamelab.models import load_model, mlp, save

    save(mlp([2, 3, 2], seed=0), tmp_path / "m.safetensors")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    argv = ["landscape", str(tmp_path / "m.safetensors"), "--data", str(tmp_path / "d.npz"), "--split", "all"]
    assert main([*argv, "--loss", loss, "--grid", "3", "--out", str(tmp_path / "o"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = loss_surface(load_model(str(tmp_path / "m.safetensors")), (X, y), loss=loss, grid=3, seed=0)
    assert np.allclose(doc["losses"], ref.losses, rtol=1e-6, atol=1e-7)
    assert main([*argv, "--loss", "msse", "--out", str(tmp_path / "x")]) == 2
    assert "--loss" in capsys.readouterr().err and not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------------ verdicts
def test_one_verdict_vocabulary():
    """Hypothesis verdicts of the DDKL report are the :class:`tamelab.verdicts.Verdict` members; no string table."""
    import json

    from tamelab.runstore import dumps
    from tamelab.tame import VERDICTS
    from tamelab.tame.monitors.davis2020stochastic import Hypothesis, convergence_report
    from tamelab.verdicts import HYPOTHESIS_VERDICTS, Verdict

    assert VERDICTS is HYPOTHESIS_VERDICTS
    h = Hypothesis("X", "x", "holds", "why")
    assert h.verdict is Verdict.HOLDS
    with pytest.raises(ValueError, match="hypothesis verdict"):
        Hypothesis("X", "x", "fails", "a claim verdict is not a hypothesis verdict")
    with pytest.raises(ValueError):
        Hypothesis("X", "x", "maybe", "not a verdict")
    import types

    import numpy as np
    from torch import nn

    from tamelab.data import Dataset

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    snaps = [
        {"0.weight": torch.as_tensor(rng.standard_normal((2, 3))), "0.bias": torch.zeros(2, dtype=torch.float64)}
        for _ in range(5)
    ]
    steps = np.arange(1, 201, dtype=float)
    run = types.SimpleNamespace(
        history={"step": steps, "lr": 0.1 / steps, "param_norm": 2 - 1 / steps, "loss": np.ones(200)},
        snapshots=snaps,
        snapshot_steps=list(range(0, 201, 50)),
        model=nn.Sequential(nn.Linear(3, 2)).double(),
        train=Dataset(X, None, Y),
        config={"optimizer": "adam", "schedule": "constant", "lr": 0.1, "loss": "mse", "batch_size": 4},
    )
    rep = convergence_report(run, seed=0, rho_samples=2, lojasiewicz=False)
    assert rep.verdicts()["M"] is Verdict.VIOLATED and rep.verdicts()["M"] == "violated"
    assert all(isinstance(x.verdict, Verdict) and x.verdict in HYPOTHESIS_VERDICTS for x in rep.hypotheses)
    doc = json.loads(dumps(rep.to_dict()))  # JSON keeps the plain strings
    assert {x["verdict"] for x in doc["hypotheses"]} <= {"holds", "violated", "not checkable"}
    assert doc["hypotheses"][0]["verdict"] == str(rep.hypotheses[0].verdict)


def test_no_string_verdict_tables():
    """Outside tamelab.verdicts, no tuple/set/dict literal lists two or more verdict words as plain strings."""
    words = {"holds", "fails", "not reproduced", "violated", "not checkable"}
    found = []
    for f in sorted(SRC.rglob("*.py")):
        if f.name == "verdicts.py" or "claims/catalog" in f.as_posix():
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            elts = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if isinstance(node, (ast.Dict, ast.Tuple, ast.Set, ast.List)) and elts:
                lits = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if len(lits & words) >= 2:
                    found.append(f"{f.relative_to(SRC)}:{node.lineno}")
    assert not found, "string verdict tables (use tamelab.verdicts.Verdict): " + ", ".join(found)


# ------------------------------------------------------------------------------------------------ model files
def test_one_model_file_writer():
    """Model files are written only by :func:`tamelab.models.save` (the training checkpoint is its own format)."""
    writers = {"models/_io.py", "train/_checkpoint.py"}
    found = []
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC).as_posix()
        src = f.read_text(encoding="utf-8")
        writes = ("save_file(" in src) or ("torch.save(" in src) or ("safetensors.torch import save" in src)
        if rel not in writers and writes:
            found.append(rel)
    assert not found, "model files written outside tamelab.models.save: " + ", ".join(found)


def test_atlas_and_train_write_model_files_that_models_load(tmp_path):
    from tamelab.models import load, mlp, save

    m = mlp([2, 3, 2], seed=0)
    p = save(m, tmp_path / "m.safetensors")
    back = load(p)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), back.state_dict().values()))


# ------------------------------------------------------------------------------------------------ barriers
def test_one_barrier_definition():
    """``interpolate`` (Li et al.) and ``barrier`` (weight space) share :func:`line_barriers`; a closed-form check."""
    import numpy as np

    from tamelab.landscape import barrier, interpolate
    from tamelab.landscape.li2018visualizing import line_barriers
    from tamelab.models import mlp

    # L(t) = 1 + t + sin(pi t): the refined mean barrier against a fine grid; the chord barrier is max sin = 1
    def ev(t):
        return 1.0 + t + math.sin(math.pi * t), 1.0 - 0.5 * math.sin(math.pi * t)

    r = line_barriers(ev, 11)
    ts = np.linspace(0, 1, 200001)
    mean_ref = float(np.max(1 + ts + np.sin(np.pi * ts) - 1.5))
    assert r["barrier_mean"] == pytest.approx(mean_ref, abs=1e-9)
    assert r["barrier_linear"] == pytest.approx(1.0, abs=1e-9)  # sin(pi t) peaks at 1 on the chord
    assert r["accuracy_barrier"] == pytest.approx(0.5, abs=1e-12)
    assert math.isnan(line_barriers(lambda t: (t, None), 3)["accuracy_barrier"])  # no accuracies: NaN
    a, b = mlp([2, 4, 2], seed=0), mlp([2, 4, 2], seed=1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 2, generator=g), torch.randint(0, 2, (20,), generator=g)
    i, w = interpolate(a, b, (X, y), points=9), barrier(a, b, (X, y), points=9)
    # float32 models: the two evaluators sum in different orders
    assert i.losses == pytest.approx(w.losses, rel=1e-5) and i.barrier_mean == pytest.approx(w.barrier_mean, abs=1e-6)


def test_one_default_dtype_rule():
    """Every capability computes in the model's float32/float64 dtype unless told (one helper)."""
    from tamelab.errors import InputError
    from tamelab.inputs import model_dtype

    lin = torch.nn.Linear(2, 1)
    assert model_dtype(lin) == torch.float32 and model_dtype(lin.double()) == torch.float64
    assert model_dtype(torch.nn.Linear(2, 1).half()) == torch.float32  # half precisions compute in float32
    assert model_dtype(torch.nn.ReLU()) == torch.float32 and model_dtype(lin, "float64") == torch.float64
    with pytest.raises(InputError, match="dtype"):
        model_dtype(lin, "float16")
    hits = [
        f.relative_to(SRC).as_posix()
        for f in SRC.rglob("*.py")
        if "in (torch.float32, torch.float64) else torch.float32" in f.read_text(encoding="utf-8")
        and f.name != "inputs.py"
    ]
    assert not hits, hits
