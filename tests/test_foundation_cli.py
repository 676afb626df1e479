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
