import json

import pytest

from tamelab.atlas import Figure, SectionContent, Table, _registry
from tamelab.cli.main import main
from tamelab.report import render_report
from tamelab.runstore import read_result, write_run

TINY = ["--epochs", "2", "--quick", "--sections", "training"]


@pytest.fixture(scope="module")
def atlas_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas") / "run"
    assert main(["atlas", "--out", str(out), "--quiet", *TINY]) == 0
    return out


def test_atlas_run_directory_contract(atlas_dir):
    doc = read_result(atlas_dir)
    res = doc["result"]
    assert doc["command"] == "atlas" and res["kind"] == "atlas"
    assert [s["id"] for s in res["sections"]] == ["training"]
    s = res["sections"][0]
    assert s["status"] == "ok" and s["figures"] and s["seconds"] >= 0
    for f in s["figures"]:
        assert (atlas_dir / "figures" / f["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (atlas_dir / "model.safetensors").is_file() and (atlas_dir / "report.html").is_file()
    assert doc["config"]["train"]["widths"] == [64, 64, 64, 10]
    html = (atlas_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(s["figures"])
    assert "http://" not in html and "https://" not in html  # self-contained


def test_atlas_json_flag(tmp_path, capsys):
    assert main(["atlas", "--out", str(tmp_path / "a"), "--json", *TINY]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"report", "sections", "seconds"} <= set(payload)


def test_report_is_rendered_only_from_saved_dir_and_escapes_text(tmp_path):
    evil = "<script>alert('x')</script>"
    write_run(tmp_path / "r", {"sections": [{"id": "s", "title": evil, "status": "ok", "summary": {evil: evil},
              "paragraphs": [evil], "tables": [{"columns": [evil], "rows": [[evil]], "caption": evil}],
              "figures": [{"file": "../../etc/passwd.png", "caption": evil}], "seconds": 0.1}], "seed": 1},
              command="atlas")
    html = render_report(tmp_path / "r")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "missing figure" in html  # path traversal is not followed


def test_failed_section_is_reported_not_fatal(tmp_path, monkeypatch):
    def broken(run):
        raise RuntimeError("deliberately broken")

    def good(run):
        return SectionContent("Good", summary={"n": 1}, tables=[Table(["a"], [[1]])],
                              figures=[Figure("f", "cap", b"\x89PNG\r\n\x1a\nfake")])

    specs = dict(_registry._SECTIONS)
    specs["zz-broken"] = _registry.SectionSpec("zz-broken", "Broken", 999, broken)
    specs["zz-good"] = _registry.SectionSpec("zz-good", "Good", 998, good)
    monkeypatch.setattr(_registry, "_SECTIONS", specs)
    assert main(["atlas", "--out", str(tmp_path / "a"), "--quiet", "--epochs", "1", "--quick", "--sections", "zz-broken,zz-good"]) == 0
    res = read_result(tmp_path / "a")["result"]
    st = {s["id"]: s for s in res["sections"]}
    assert st["zz-broken"]["status"] == "failed" and "deliberately broken" in st["zz-broken"]["error"]
    assert st["zz-good"]["status"] == "ok" and res["sections_failed"] == ["zz-broken"]
    assert "deliberately broken" in (tmp_path / "a" / "report.html").read_text()


@pytest.mark.parametrize(
    "toml, match",
    [
        ("[train]\nlr = 0\n", "field 'train.lr'"),
        ("colour = 'red'\n", "field 'colour'.*unknown field"),
        ("sections = ['nope']\n", "unknown section"),
    ],
)
def test_bad_atlas_config(tmp_path, capsys, toml, match):
    import re

    f = tmp_path / "c.toml"
    f.write_text(toml)
    assert main(["atlas", "--config", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err
    assert not (tmp_path / "o").exists()


def test_report_command_rerenders(atlas_dir, tmp_path, capsys):
    assert main(["report", str(atlas_dir), "--out", str(tmp_path / "x.html")]) == 0
    assert (tmp_path / "x.html").read_text() == (atlas_dir / "report.html").read_text()
    assert main(["report", str(tmp_path / "nothing")]) == 2


def test_atlas_connectivity_section_trains_a_twin_and_aligns_it(tmp_path):
    out = tmp_path / "c"
    assert main(["atlas", "--out", str(out), "--quiet", "--epochs", "2", "--quick", "--sections", "connectivity"]) == 0
    s = read_result(out)["result"]["sections"][0]
    assert s["id"] == "connectivity" and s["status"] == "ok", s
    assert s["summary"]["twin seed"] == 1 and s["summary"]["alignment function change"] < 1e-5
    rows = {r[0]: r[1:] for r in s["tables"][0]["rows"]}
    assert set(rows) == {"loss barrier (train)", "loss barrier (test)", "accuracy barrier (train)", "accuracy barrier (test)"}
    assert all(isinstance(v, float) for v in rows["loss barrier (test)"])
