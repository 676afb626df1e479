import json

import pytest

from tamelab.claims import Measured, _registry
from tamelab.cli.main import main


@pytest.fixture
def fake_claims(monkeypatch):
    reg = {}
    monkeypatch.setattr(_registry, "_REGISTRY", reg)
    monkeypatch.setattr(_registry, "_DISCOVERED", True)

    @_registry.claim("t-holds", paper="arXiv:0000.00001", statement="1+1=2", expected={"sum": 2})
    def _a(ctx):
        return Measured({"sum": 1 + 1}, holds=(1 + 1 == 2))

    @_registry.claim("t-fails", paper="arXiv:0000.00002", statement="pi is 3", expected={"pi": 3}, tags=("x",))
    def _b(ctx):
        import math

        return Measured({"pi": math.pi}, holds=abs(math.pi - 3) < 1e-9)

    @_registry.claim("t-crash", paper="arXiv:0000.00003", statement="crashes", expected=None)
    def _c(ctx):
        raise RuntimeError("boom")

    return reg


def test_claims_run_all_json_contract(fake_claims, capsys, tmp_path):
    rc = main(["claims", "run", "--all", "--json", "--out", str(tmp_path / "c")])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    by = {c["id"]: c for c in doc["claims"]}
    for c in doc["claims"]:
        assert {"id", "paper", "statement", "expected", "measured", "verdict"} <= set(c)
    assert by["t-holds"]["verdict"] == "holds" and by["t-holds"]["measured"] == {"sum": 2}
    assert by["t-fails"]["verdict"] == "fails"
    assert by["t-crash"]["verdict"] == "not reproduced" and "boom" in by["t-crash"]["measured"]["error"]
    assert doc["summary"] == {"holds": 1, "fails": 1, "not reproduced": 1}
    assert (tmp_path / "c" / "result.json").is_file()


def test_claims_select_by_tag_and_id(fake_claims, capsys, tmp_path):
    assert main(["claims", "run", "--tag", "x", "--json", "--out", str(tmp_path / "a")]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["claims"]] == ["t-fails"]
    assert main(["claims", "run", "nope", "--json", "--out", str(tmp_path / "b")]) == 2
    assert "unknown claim 'nope'" in capsys.readouterr().err
    assert main(["claims", "run", "--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_claims_list(fake_claims, capsys):
    assert main(["claims", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["claims"]) == 3


def test_usage_errors_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    assert main(["claims", "run", "--seed", "-3"]) == 2


def test_every_command_has_help(capsys):
    from tamelab.cli.main import app
    import typer

    cmd = typer.main.get_command(app)
    names = sorted(cmd.commands)
    assert "claims" in names
    for name in names:
        assert main([name, "--help"]) == 0, name
    out = capsys.readouterr().out
    assert "Usage" in out


def test_figures_in_svg_and_pdf(tmp_path, capsys):
    from tamelab.models import mlp, save

    save(mlp([2, 4, 2], seed=0), tmp_path / "m.safetensors")
    for fmt, magic in (("svg", b"<?xml"), ("pdf", b"%PDF")):
        out = tmp_path / fmt
        assert (
            main(
                [
                    "regions",
                    str(tmp_path / "m.safetensors"),
                    "--box",
                    "-1,1",
                    "--format",
                    fmt,
                    "--plot",
                    str(tmp_path / f"p.{fmt}"),
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        assert (out / "figures" / f"partition.{fmt}").read_bytes().startswith(magic)
        assert (tmp_path / f"p.{fmt}").read_bytes().startswith(magic)
    assert (
        main(
            [
                "regions",
                str(tmp_path / "m.safetensors"),
                "--box",
                "-1,1",
                "--format",
                "gif",
                "--out",
                str(tmp_path / "g"),
            ]
        )
        == 2
    )
    assert "--format" in capsys.readouterr().err and not (tmp_path / "g").exists()


# ---------------------------------------------------------------------------------------------- flags wired in round 3
def _json_run(argv, capsys):
    rc = main([*argv, "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return json.loads(cap.out)


def test_erm_max_enumeration_refuses_before_any_work(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=X[:, :1] ** 2)
    out = tmp_path / "o"
    assert main(["erm", str(tmp_path / "d.npz"), "--width", "1", "--max-enumeration", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "max_enumeration" in err[0] and "above the limit 1" in err[0], err
    assert not out.exists()
    # the default limit runs, and the flag is not part of what the run computed (record=False)
    doc = _json_run(["erm", str(tmp_path / "d.npz"), "--width", "1", "--out", str(tmp_path / "ok")], capsys)
    from tamelab.exact import exact_erm

    ref = exact_erm(X, X[:, 0] ** 2, 1)
    assert doc["optimum"] == pytest.approx(ref.optimum, rel=1e-9, abs=1e-12)
    saved = json.loads((tmp_path / "ok" / "result.json").read_text())
    assert "max_enumeration" not in saved["config"]


def test_construct_chen_ewald_paper_is_the_papers_construction(tmp_path, capsys):
    from tamelab.exact.chen2023ewald import clustered_data
    from tamelab.exact.chen2023ewald_paper import paper_theorems

    doc = _json_run(["construct", "chen-ewald", "--paper", "--per-class", "8", "--out", str(tmp_path / "p")], capsys)
    X, labels, Y = clustered_data(3, 8, 0.04, seed=0)
    ref = paper_theorems(X, labels, Y=Y, seed=0).to_dict()
    assert doc["kind"] == "chen_ewald_paper" and doc["n_parameters"] == 48 == ref["n_parameters"]
    assert [c["s"] for c in doc["configurations"]] == [c["s"] for c in ref["configurations"]]
    assert [c["reduced_cost"] for c in doc["configurations"]] == [c["reduced_cost"] for c in ref["configurations"]]
    # L = Q is the paper's setting; limits refuse before work
    for argv, field in (
        (["--paper", "--q", "4"], "--layers"),
        (["--paper", "--q", "7", "--layers", "7"], "--q"),
        (["--max-parameters", "10"], "--max-parameters"),
        (["--max-memory", "10"], "--max-memory"),
    ):
        assert main(["construct", "chen-ewald", *argv, "--out", str(tmp_path / "x")]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {field}"), err
    assert not (tmp_path / "x").exists()
    # --jacobian-points reaches chen_ewald (0 skips the rank)
    doc = _json_run(
        ["construct", "chen-ewald", "--jacobian-points", "0", "--gd-runs", "0", "--out", str(tmp_path / "j")], capsys
    )
    assert doc["jacobian_points"] == 0 and doc["jacobian_rank"] is None
    doc = _json_run(
        ["construct", "chen-ewald", "--jacobian-points", "2", "--gd-runs", "0", "--out", str(tmp_path / "k")], capsys
    )
    assert doc["jacobian_points"] == 3 * 2 and doc["jacobian_rank"] == doc["expected_rank"] == 9


def test_regions_box_in_3d_is_the_exact_nd_enumeration(tmp_path, capsys):
    from tamelab.models import mlp, save
    from tamelab.relu import Box, regions, regions_nd

    m = mlp([3, 5, 4, 1], seed=0)
    save(m, tmp_path / "m.safetensors")
    doc = _json_run(
        ["regions", str(tmp_path / "m.safetensors"), "--box", "-1,1", "--linear", "--out", str(tmp_path / "r")], capsys
    )
    ref = regions_nd(m, (-1.0, 1.0), linear=True)
    assert doc["kind"] == "regions_nd" and doc["status"] == "ok"
    assert doc["activation_regions"] == ref.activation_regions and doc["linear_regions"] == ref.linear_regions
    # independent: the LP traversal of relu.regions counts the same activation regions
    assert doc["activation_regions"] == regions(m, Box(-1.0, 1.0, 3), mode="float").activation_regions
    # --max-vertices reaches regions_nd; --linear/--witness are refused on a 2-D box
    assert (
        main(
            [
                "regions",
                str(tmp_path / "m.safetensors"),
                "--box",
                "-1,1",
                "--max-vertices",
                "3",
                "--out",
                str(tmp_path / "v"),
            ]
        )
        == 2
    )
    assert "--max-vertices" in capsys.readouterr().err
    save(mlp([2, 4, 1], seed=0), tmp_path / "m2.safetensors")
    assert (
        main(["regions", str(tmp_path / "m2.safetensors"), "--box", "-1,1", "--witness", "--out", str(tmp_path / "w")])
        == 2
    )
    assert "--witness" in capsys.readouterr().err
    assert not (tmp_path / "v").exists() and not (tmp_path / "w").exists()


def test_bound_prior_starts_only_from_data_independent_weights(tmp_path, capsys):
    import numpy as np

    from tamelab.models import mlp, save

    save(mlp([2, 6, 2], seed=0), tmp_path / "m.safetensors")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(np.int64))
    fast = ["--mc-samples", "5", "--epochs", "1", "--prior-epochs", "1", "--data", str(tmp_path / "d.npz")]
    doc = _json_run(
        ["bound", str(tmp_path / "m.safetensors"), *fast, "--seed", "3", "--out", str(tmp_path / "b")], capsys
    )
    assert doc["prior_start"] == "reinitialised(seed=3)"  # never MODEL's trained weights
    # MODEL itself as the "initialisation" is refused in one line, nothing written
    rc = main(
        [
            "bound",
            str(tmp_path / "m.safetensors"),
            *fast,
            "--init-model",
            str(tmp_path / "m.safetensors"),
            "--out",
            str(tmp_path / "c"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--init-model" in err[0] and "MODEL" in err[0], err
    assert not (tmp_path / "c").exists()


def test_claims_and_atlas_are_tasks_a_sweep_can_run(fake_claims, tmp_path, capsys):
    from pathlib import Path

    from tamelab.tasks import all_tasks, get_task, run_sweep

    assert {"atlas", "claims"} <= set(all_tasks())
    res = run_sweep({"command": "claims", "base": {"all": True}, "grid": {"seed": [0, 1]}}, tmp_path / "s")
    assert res.computed == 2 and res.rows == 2
    import pandas as pd

    df = pd.read_parquet(res.table)
    assert sorted(df["param.seed"]) == [0, 1]
    assert list(df["result.summary.holds"]) == [1, 1] and list(df["result.summary.fails"]) == [1, 1]
    # the atlas writes its own run directory (report.html, result.json last); the runner only reads it back
    res = run_sweep(
        {"command": "atlas", "base": {"epochs": 2, "quick": True, "sections": ["training"]}, "grid": {"seed": [0, 1]}},
        tmp_path / "a",
    )
    assert res.computed == 2
    df = pd.read_parquet(res.table)
    for d in map(Path, df["run_dir"]):
        doc = json.loads((d / "result.json").read_text())
        assert doc["command"] == "atlas" and (d / "report.html").is_file()
        assert [s["id"] for s in doc["result"]["sections"]] == ["training"]
    assert sorted(df["result.seed"]) == [0, 1]
    # a bad field is one line before any work, named as in a sweep file
    from tamelab.errors import InputError

    with pytest.raises(InputError, match="no_train"):
        get_task("atlas").validate({"no_train": True})
