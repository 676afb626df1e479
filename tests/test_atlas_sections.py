"""Every atlas section on tiny models of three kinds (a smoke test in the default suite).

* a Linear/ReLU MLP on (X, y) NumPy arrays with cross-entropy;
* a small CNN (Conv + BatchNorm + ReLU + MaxPool + Linear) on 1×8×8 images;
* a LayerNorm/GELU MLP fed by a DataLoader with dict batches and a callable loss.

For each, the test asserts which sections run (``ok``, or ``uncertified`` where a certificate is
honestly refused) and which say "not applicable", with the reason. Every section runs (or says why not)
on every kind: no case is expected to fail.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import tamelab
from tamelab.atlas import AtlasResult

RAN = {"ok", "uncertified"}


def _mlp_data(n=96, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 8)).astype(np.float32)
    y = ((X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)).astype(np.int64)
    return X, y


def _image_data(n=96, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 1, 8, 8)).astype(np.float32)
    y = ((X[:, 0, :4].mean((1, 2)) > 0).astype(np.int64) + (X[:, 0, 4:].mean((1, 2)) > 0.1)).astype(np.int64)
    return X, y


class DictData(Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {"features": self.X[i], "label": self.y[i]}


def my_loss(out, target):
    """A user's callable loss (label-smoothed cross-entropy)."""
    return nn.functional.cross_entropy(out, target, label_smoothing=0.05)


TRAIN = {"epochs": 2, "batch_size": 16}


@pytest.fixture(scope="module")
def mlp_atlas(tmp_path_factory) -> AtlasResult:
    torch.manual_seed(0)
    X, y = _mlp_data()
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    return tamelab.atlas(
        model,
        (X[:72], y[:72]),
        (X[72:], y[72:]),
        out=tmp_path_factory.mktemp("mlp") / "a",
        train_first=TRAIN,
        quick=True,
        progress=False,
    )


@pytest.fixture(scope="module")
def cnn_atlas(tmp_path_factory) -> AtlasResult:
    torch.manual_seed(0)
    X, y = _image_data()
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * 4 * 4, 3),
    )
    return tamelab.atlas(
        model,
        (X[:72], y[:72]),
        (X[72:], y[72:]),
        out=tmp_path_factory.mktemp("cnn") / "a",
        train_first=TRAIN,
        quick=True,
        skip=["constructions"],
        progress=False,
    )


@pytest.fixture(scope="module")
def ln_atlas(tmp_path_factory) -> AtlasResult:
    torch.manual_seed(0)
    X, y = _mlp_data(seed=1)
    model = nn.Sequential(nn.Linear(8, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 3))
    train = DataLoader(DictData(X[:72], y[:72]), batch_size=16, shuffle=True)
    test = DataLoader(DictData(X[72:], y[72:]), batch_size=16)
    return tamelab.atlas(
        model,
        train,
        test,
        loss=my_loss,
        out=tmp_path_factory.mktemp("ln") / "a",
        train_first={"epochs": 2},
        quick=True,
        skip=["constructions"],
        progress=False,
    )


# (fixture, section, expected status set, regex the reason must match (not applicable) or None)
CASES = [
    *[
        ("mlp_atlas", s, RAN, None)
        for s in (
            "training",
            "tameness",
            "convergence",
            "regions",
            "curvature",
            "landscape",
            "connectivity",
            "bounds",
            "algebraic",
            "constructions",
        )
    ],
    ("cnn_atlas", "training", RAN, None),
    ("cnn_atlas", "tameness", RAN, None),
    ("cnn_atlas", "convergence", RAN, None),
    ("cnn_atlas", "regions", RAN, None),
    ("cnn_atlas", "curvature", RAN, None),
    ("cnn_atlas", "landscape", RAN, None),
    ("cnn_atlas", "connectivity", RAN, None),
    ("cnn_atlas", "bounds", RAN, None),
    ("cnn_atlas", "algebraic", {"not_applicable"}, r"fully-connected.*(Conv2d|BatchNorm2d)"),
    ("ln_atlas", "training", RAN, None),
    ("ln_atlas", "tameness", RAN, None),
    ("ln_atlas", "convergence", RAN, None),
    ("ln_atlas", "regions", {"not_applicable"}, r"(?i)(piecewise|LayerNorm|GELU|layer_norm|gelu)"),
    ("ln_atlas", "curvature", RAN, None),
    ("ln_atlas", "landscape", RAN, None),
    ("ln_atlas", "connectivity", RAN, None),
    ("ln_atlas", "bounds", RAN, None),
    ("ln_atlas", "algebraic", {"not_applicable"}, r"fully-connected.*LayerNorm"),
]


@pytest.mark.parametrize("fixture, sid, expected, why", CASES)
def test_section_outcome(request, fixture, sid, expected, why):
    res = request.getfixturevalue(fixture)
    s = res.section(sid)
    detail = s.get("error") or s.get("reason") or ""
    assert s["status"] in expected, f"{fixture}/{sid}: {s['status']}: {detail}"
    assert s["verdict"], "every section says what it found in one sentence"
    if s["status"] == "not_applicable":
        assert why is not None and re.search(why, s["reason"]), s["reason"]
        assert s["verdict"].startswith("Not applicable: ")
    else:
        assert not s.get("error")


def test_every_section_is_exercised():
    from tamelab.atlas import all_sections

    covered = {c.values[1] if hasattr(c, "values") else c[1] for c in CASES}
    assert covered == {s.id for s in all_sections()}


def test_atlas_of_any_model_result_and_directory(mlp_atlas):
    from pathlib import Path

    r = mlp_atlas
    out = Path(r.out_dir)
    assert r.trained and r.model == "Sequential" and r.n_params == 8 * 6 + 6 + 6 * 3 + 3
    assert r.n_train == 72 and r.n_test == 24 and r.input_shape == [8] and r.n_classes == 3
    assert 0 <= r.train_accuracy <= 1 and 0 <= r.test_accuracy <= 1
    # the accuracies in the result are those of the saved model on the data
    from tamelab.models import load_weights

    X, y = _mlp_data()
    m = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    load_weights(m, out / "model.safetensors")
    with torch.no_grad():
        acc = float((m(torch.as_tensor(X[72:])).argmax(1).numpy() == y[72:]).mean())
    assert acc == pytest.approx(r.test_accuracy)
    names = sorted(p.name for p in out.iterdir())
    assert {"report.html", "result.json", "model.safetensors", "figures", "arrays.npz"} <= set(names)
    # result.json is the last file written
    assert (out / "result.json").stat().st_mtime_ns >= max(p.stat().st_mtime_ns for p in out.iterdir() if p.is_file())


def test_untrained_model_sections_say_why(tmp_path):
    torch.manual_seed(1)
    X, y = _mlp_data()
    model = nn.Sequential(nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))
    r = tamelab.atlas(
        model,
        (X, y),
        out=tmp_path / "a",
        sections=["training", "convergence", "connectivity", "regions", "bounds"],
        quick=True,
        progress=False,
    )
    st = r.statuses
    assert st["training"] == st["convergence"] == st["connectivity"] == "not_applicable"
    assert "train_first=True" in r.section("training")["reason"]
    assert st["regions"] == "ok" and r.section("regions")["data"]["counts"] == []  # no training: no counts along it
    # no initialisation known: the PAC-Bayes prior starts from weights re-initialised with the seed
    assert st["bounds"] in RAN and "re-initialised with seed 0" in " ".join(r.section("bounds")["paragraphs"])
    assert not r.trained and r.n_test == 0 and r.test_accuracy is None


def test_not_applicable_and_failure_do_not_stop_the_atlas(tmp_path, monkeypatch):
    from tamelab.atlas import SectionContent, _registry
    from tamelab.errors import NotApplicableError

    def na(run):
        raise NotApplicableError("widget", "needs a widget this model lacks")

    def boom(run):
        raise ZeroDivisionError("deliberately broken")

    def good(run):
        return SectionContent("Good", verdict="All good.", summary={"n": 1})

    specs = dict(_registry._SECTIONS)
    for sid, fn, order in (("zz-na", na, 997), ("zz-boom", boom, 998), ("zz-good", good, 999)):
        specs[sid] = _registry.SectionSpec(sid, sid, order, fn)
    monkeypatch.setattr(_registry, "_SECTIONS", specs)
    X, y = _mlp_data()
    r = tamelab.atlas(
        nn.Sequential(nn.Linear(8, 3)),
        (X, y),
        out=tmp_path / "a",
        sections=["zz-na", "zz-boom", "zz-good"],
        progress=False,
    )
    assert r.statuses == {"zz-na": "not_applicable", "zz-boom": "failed", "zz-good": "ok"}
    assert r.section("zz-na")["reason"] == "widget: needs a widget this model lacks"
    assert r.sections_failed == ["zz-boom"] and r.sections_not_applicable == ["zz-na"]
    html = (tmp_path / "a" / "report.html").read_text()
    assert "Not applicable: widget: needs a widget this model lacks." in html
    assert "ZeroDivisionError: deliberately broken" in html


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"loss": "nope"}, "loss"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "float16"}, "dtype"),
        ({"sections": ["nope"]}, "sections"),
        ({"skip": ["nope"]}, "skip"),
        ({"format": "gif"}, "format"),
        ({"train_first": {"epochs": 0}}, "train_first"),
        ({"train_first": {"colour": 1}}, "train_first"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_one_input_error_before_any_work(tmp_path, kw, field):
    from tamelab.errors import InputError

    X, y = _mlp_data()
    with pytest.raises(InputError) as e:
        tamelab.atlas(nn.Sequential(nn.Linear(8, 3)), (X, y), out=tmp_path / "a", progress=False, **kw)
    assert field in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "a").exists()


def test_model_that_does_not_take_the_data_is_refused(tmp_path):
    from tamelab.errors import InputError

    X, y = _mlp_data()
    with pytest.raises(InputError, match="model: does not accept"):
        tamelab.atlas(nn.Sequential(nn.Linear(5, 3)), (X, y), out=tmp_path / "a", progress=False)
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="out: .* is not a directory"):
        tamelab.atlas(nn.Sequential(nn.Linear(8, 3)), (X, y), out=tmp_path / "f", progress=False)


def test_tamelab_atlas_is_callable_and_lazy():
    import subprocess
    import sys

    code = (
        "import sys, tamelab; assert 'tamelab.atlas' not in sys.modules and 'torch' not in sys.modules; "
        "assert callable(tamelab.atlas) and tamelab.atlas.atlas is tamelab.atlas._atlas.atlas; "
        "assert callable(tamelab.tame.certify); print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_region_bounds_show_their_validity(mlp_atlas):
    s = mlp_atlas.section("regions")
    table = next(t for t in s["tables"] if t["columns"][:3] == ["bound", "value", "holds here"])
    rows = {r[0]: r for r in table["rows"]}
    # 8 inputs and 6 hidden units: Serra's lower bound needs every hidden width >= 3 x 8, so it is not valid here
    assert rows["serra lower"][2] == "no"
    assert rows["serra upper"][2] == "yes"
    assert any("serra lower" in p for p in s["paragraphs"])


def test_bound_rows_read_both_layouts():
    import dataclasses

    from tamelab.atlas.sections.regions import _bound_rows

    @dataclasses.dataclass
    class B:
        value: int
        valid: bool
        why: str

    rows = _bound_rows(
        {
            "serra_upper": B(10**80, True, "upper bound"),
            "serra_lower": B(3 * 10**38, False, "needs width"),
        }
    )
    assert rows == [
        ["serra upper", 10**80, "yes", "upper bound"],
        ["serra lower", 3 * 10**38, "no", "needs width"],
    ]
    rows = _bound_rows({"serra_upper": 7, "serra_lower": 9, "serra_lower_valid": False})
    assert rows == [["serra upper", 7, "yes", ""], ["serra lower", 9, "no", ""]]


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    X, y = _mlp_data()
    tamelab.atlas(
        nn.Sequential(nn.Linear(8, 3)),
        (X, y),
        out=tmp_path / "a",
        sections=["curvature", "algebraic"],
        train_first={"epochs": 1},
        quick=True,
        progress=True,
    )
    err = capsys.readouterr().err.splitlines()
    lines = [ln for ln in err if ln.startswith("atlas: ")]
    assert any("training Sequential" in ln for ln in lines) and any(
        ln.startswith("atlas: training done in") for ln in lines
    )
    assert any(re.match(r"atlas: \[1/2\] curvature: .*\(est\. \d+ s, about \d+ s left\) started$", ln) for ln in lines)
    assert any(re.match(r"atlas: \[1/2\] curvature (ok|uncertified) in \d+\.\d s$", ln) for ln in lines)
    assert any(re.match(r"atlas: \[2/2\] algebraic not_applicable in \d+\.\d s$", ln) for ln in lines)
    assert lines[-1].startswith("atlas: wrote ")


def test_cnn_tameness_and_convergence_sample_gradients_without_spurious_kinks(cnn_atlas):
    """The CNN's ReLU → MaxPool ties at 0 (all four ReLUs of a window off) are not kinks in the parameters: the
    Goldstein samples are kept (none resampled) and ∇F(θ) joins the hull; ρ_ε is measured at the snapshots."""
    t = cnn_atlas.section("tameness")
    assert t["status"] == "ok", t.get("verdict")
    for r in t["data"]["stationarity"].values():
        assert r["kinks_checked"] and r["center_used"] and r["resampled"] == 0 and r["rho"] >= 0
    c = cnn_atlas.section("convergence")
    rho = c["data"]["rho"]
    assert rho and all(any(v is not None and v >= 0 for v in vals) for vals in rho.values())
