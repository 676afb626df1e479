"""The Python examples of docs/training.md run as written (the CNN one also shortened, for the fast suite)."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "training.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _run(code: str, ns: dict) -> dict:
    exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102 - our own documentation
    return ns


def test_the_docs_have_the_examples_this_test_runs():
    b = _blocks()
    assert len(b) == 4 and "input_key=\"signal\"" in b[0] and "class GradAlignment" in b[1] and "log=" in b[2]
    assert "robbins_monro" in b[3]


def test_docs_examples_run_fast_version(tmp_path, monkeypatch, capsys):
    import numpy as np
    import torch

    monkeypatch.chdir(tmp_path)
    b = _blocks()
    ns = _run(b[0].replace("epochs=15", "epochs=1"), {})
    assert ns["res"].ok and ns["res"].steps == 63 and 0.1 < ns["res"].final_test_acc <= 1
    assert "test accuracy" in capsys.readouterr().out
    ns = _run(b[1], ns)
    from tamelab.train import train

    X, y = torch.randn(32, 5), torch.randint(0, 2, (32,))
    r = train(torch.nn.Linear(5, 2), (X, y), recorders=["default", ns["GradAlignment"]()], batch_size=8, epochs=2)
    cos = r.history["grad_cos"]
    assert np.isnan(cos[0]) and np.all(np.abs(cos[1:]) <= 1 + 1e-6) and len(cos) == 8
    ns = _run(b[3], ns)  # the fit example, verbatim: the accuracy the page states
    assert ns["res"].final_test_acc == pytest.approx(0.95, abs=1e-9)


@pytest.mark.slow
def test_docs_cnn_example_verbatim_reaches_the_stated_accuracy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = _run(_blocks()[0], {})
    assert ns["res"].final_test_acc >= 0.88  # the page states 0.903 (one CPU thread)
