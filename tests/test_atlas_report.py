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
    write_run(
        tmp_path / "r",
        {
            "sections": [
                {
                    "id": "s",
                    "title": evil,
                    "status": "ok",
                    "summary": {evil: evil},
                    "paragraphs": [evil],
                    "tables": [{"columns": [evil], "rows": [[evil]], "caption": evil}],
                    "figures": [{"file": "../../etc/passwd.png", "caption": evil}],
                    "seconds": 0.1,
                }
            ],
            "seed": 1,
        },
        command="atlas",
    )
    html = render_report(tmp_path / "r")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "missing figure" in html  # path traversal is not followed


def test_failed_section_is_reported_not_fatal(tmp_path, monkeypatch):
    def broken(run):
        raise RuntimeError("deliberately broken")

    def good(run):
        return SectionContent(
            "Good",
            summary={"n": 1},
            tables=[Table(["a"], [[1]])],
            figures=[Figure("f", "cap", b"\x89PNG\r\n\x1a\nfake")],
        )

    specs = dict(_registry._SECTIONS)
    specs["zz-broken"] = _registry.SectionSpec("zz-broken", "Broken", 999, broken)
    specs["zz-good"] = _registry.SectionSpec("zz-good", "Good", 998, good)
    monkeypatch.setattr(_registry, "_SECTIONS", specs)
    assert (
        main(
            [
                "atlas",
                "--out",
                str(tmp_path / "a"),
                "--quiet",
                "--epochs",
                "1",
                "--quick",
                "--sections",
                "zz-broken,zz-good",
            ]
        )
        == 0
    )
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
    assert (
        main(
            [
                "atlas",
                "--out",
                str(out),
                "--quiet",
                "--epochs",
                "2",
                "--quick",
                "--sections",
                "connectivity",
            ]
        )
        == 0
    )
    s = read_result(out)["result"]["sections"][0]
    assert s["id"] == "connectivity" and s["status"] == "ok", s
    assert s["summary"]["twin seed"] == 1 and s["summary"]["alignment function change"] < 1e-5
    rows = {r[0]: r[1:] for r in s["tables"][0]["rows"]}
    assert set(rows) == {
        "loss barrier (train)",
        "loss barrier (test)",
        "accuracy barrier (train)",
        "accuracy barrier (test)",
    }
    assert all(isinstance(v, float) for v in rows["loss barrier (test)"])


# --------------------------------------------------------------------------------------------------
# the report: embedding only what belongs to the run, malformed documents, formatting
# --------------------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _run_with_figure(tmp_path, name="secret.png"):
    write_run(
        tmp_path / "r",
        {
            "sections": [
                {
                    "id": "s",
                    "title": "S",
                    "status": "ok",
                    "figures": [{"file": name, "caption": "c"}],
                    "seconds": 0.1,
                }
            ]
        },
        command="atlas",
        figures={"fine.png": PNG},
    )
    return tmp_path / "r"


def test_report_never_follows_symlinks_out_of_the_run(tmp_path, capsys):
    import base64
    import os

    secret = tmp_path / "secret.txt"
    secret.write_bytes(PNG + b"TOP-SECRET")  # even a PNG-looking file outside the run is not embedded
    r = _run_with_figure(tmp_path)
    os.symlink(secret, r / "figures" / "secret.png")
    os.symlink("/etc/passwd", r / "figures" / "passwd.png")
    assert main(["report", str(r)]) == 0
    html = (r / "report.html").read_text()
    assert base64.b64encode(PNG + b"TOP-SECRET").decode() not in html
    assert "missing figure secret.png" in html
    root = base64.b64encode(open("/etc/passwd", "rb").read()[:30]).decode()[:20]
    assert root not in html


def test_report_refuses_a_symlinked_figures_directory_and_non_png_files(tmp_path):
    import os
    import shutil

    r = _run_with_figure(tmp_path, name="fine.png")
    outside = tmp_path / "outside"
    shutil.move(str(r / "figures"), outside)
    os.symlink(outside, r / "figures")
    assert "missing figure fine.png" in render_report(r)
    os.unlink(r / "figures")
    (r / "figures").mkdir()
    (r / "figures" / "fine.png").write_bytes(b"not a png at all")
    assert "missing figure fine.png" in render_report(r)
    (r / "figures" / "fine.png").write_bytes(PNG)
    assert "missing figure" not in render_report(r)


@pytest.mark.parametrize(
    "doc, field",
    [
        ('{"schema_version": "1"}', "schema_version"),
        ('{"schema_version": true}', "schema_version"),
        ('{"schema_version": 0}', "schema_version"),
        ('{"schema_version": 99}', "newer"),
        ("[]", "schema_version"),
        ('{"schema_version": 1, "result": []}', "'result'"),
        ('{"schema_version": 1, "result": {}, "config": "x"}', "'config'"),
        ('{"schema_version": 1, "result": {}, "command": 3}', "'command'"),
        ('{"schema_version": 1, "result": {"sections": {}}}', "result.sections"),
        ('{"schema_version": 1, "result": {"sections": [1]}}', "result.sections[0]"),
        (
            '{"schema_version": 1, "result": {"sections": [{"id": "a", "title": "t", "status": "ok", '
            '"tables": [{"rows": 1}]}]}}',
            "tables[0].rows",
        ),
        (
            '{"schema_version": 1, "result": {"sections": [{"id": "a", "title": "t", "status": "ok", '
            '"figures": [{"file": 1}]}]}}',
            "figures[0].file",
        ),
        (
            '{"schema_version": 1, "result": {"sections": [{"id": 5, "title": "t", "status": "ok"}]}}',
            "sections[0].id",
        ),
        (
            '{"schema_version": 1, "result": {"sections": [{"id": "a", "title": "t", "status": "ok", "summary": []}]}}',
            "summary",
        ),
        ("{not json", "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "RUN_DIR"),
    ],
)
def test_malformed_result_json_is_one_input_error_line(tmp_path, capsys, doc, field):
    r = tmp_path / "r"
    r.mkdir()
    (r / "result.json").write_text(doc)
    assert main(["report", str(r)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert not (r / "report.html").exists()


def test_non_utf8_result_json(tmp_path, capsys):
    r = tmp_path / "r"
    r.mkdir()
    (r / "result.json").write_bytes(b'{"schema_version": 1, "x": "\xff\xfe"}')
    assert main(["report", str(r)]) == 2
    assert "UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(
    "v, unit, want",
    [
        (3**170, None, "× 10⁸¹"),
        (12345, None, "12,345"),
        (0.000123456, None, "1.23 × 10⁻⁴"),
        (0.5, "%", "50.0 %"),
        (3.25, "s", "3.2 s"),
        (125.0, "s", "2 min 05 s"),
        (float("nan"), None, "NaN"),
        ("inf", None, "∞"),
        (None, None, "—"),
        (True, None, "yes"),
        (-2.5e-7, None, "−2.50 × 10⁻⁷"),
        (1.0, None, "1"),
        (123456.7, None, "123,457"),
    ],
)
def test_numbers_are_formatted_for_people(v, unit, want):
    from tamelab.report import fmt_value

    assert want in fmt_value(v, unit)


def test_huge_integer_mantissa_rounds_exactly():
    from tamelab.report import fmt_value

    assert fmt_value(10**80 - 1) == "1.00 × 10⁸⁰"
    assert fmt_value(1_234_567_890) == "1.23 × 10⁹"
    assert fmt_value(-(10**40) * 35) == "−3.50 × 10⁴¹"


def test_report_has_a_human_overview_and_no_internal_references(atlas_dir):
    import re

    html = (atlas_dir / "report.html").read_text()
    for label in ("Model", "Parameters", "Data", "Accuracy", "Time", "Training"):
        assert f"<dt>{label}</dt>" in html
    assert "resumed_from_epoch" not in html.split('<details class="raw">')[0]
    assert '<details class="raw"><summary>Raw result.json' in html
    assert not re.search(r"§|\bspec\b|\.md\b|[Ii]ssue \d", html)
    assert html.count('<p class="verdict">') == 1  # one section in this run
    assert "@media (prefers-color-scheme: dark)" in html and "@media print" in html


def test_atlas_figures_in_svg_and_pdf(tmp_path):
    out = tmp_path / "a"
    assert main(["atlas", "--out", str(out), "--quiet", *TINY, "--format", "svg"]) == 0
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert "training-curves.svg" in figs and "training-curves.png" in figs
    assert (out / "figures" / "training-curves.svg").read_text().lstrip().startswith("<?xml")
    from tamelab.report import fig_to_bytes, save_figure
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    a = fig_to_bytes(fig, "pdf", close=False)
    b = fig_to_bytes(fig, "pdf", close=False)
    assert a.startswith(b"%PDF") and a == b  # reproducible bytes (no timestamps)
    p = save_figure(fig, tmp_path / "x.png", "svg")
    assert p.name == "x.svg" and p.is_file()
    assert main(["atlas", "--out", str(tmp_path / "b"), *TINY, "--format", "gif"]) == 2


def test_cli_model_flags_need_model(tmp_path, capsys):
    for flags in (
        ["--no-train"],
        ["--weights", "w.safetensors"],
        ["--init-weights", "w.safetensors"],
    ):
        assert main(["atlas", "--out", str(tmp_path / "o"), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and flags[0] in err and "--model" in err
    assert not (tmp_path / "o").exists()


def test_result_repr_is_short_and_html_is_escaped():
    import dataclasses

    import numpy as np

    from tamelab.result import Plottable, Result

    @dataclasses.dataclass
    class Big(Result):
        kind = "big"
        grid: list = dataclasses.field(default_factory=lambda: [[0.0] * 41 for _ in range(41)])
        arr: object = dataclasses.field(default_factory=lambda: np.zeros((3, 4)))
        name: str = "<b>x</b>"
        huge: int = 10**80
        small: list = dataclasses.field(default_factory=lambda: [1, 2.5])

    r = Big()
    s = repr(r)
    assert len(s) < 300 and "grid=<list 41×41>" in s and "arr=<array 3×4 float64>" in s and "small=[1, 2.5]" in s
    assert "status='ok'" in s and "1.00 × 10⁸⁰" in s
    h = r._repr_html_()
    assert "<b>x</b>" not in h and "&lt;b&gt;x&lt;/b&gt;" in h and "every certificate the result states holds" in h
    assert not isinstance(r, Plottable)


def test_landscape_results_repr_and_plot():
    import torch
    from torch import nn

    from tamelab.bounds import path_geometry
    from tamelab.landscape import connect_models, loss_surface
    from tamelab.result import Plottable

    torch.manual_seed(0)
    X, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    a = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    b = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    r = loss_surface(a, X, y, grid=21)
    assert len(repr(r)) < 400 and "losses=<list 21×21>" in repr(r)
    c = connect_models(a, b, X, y, points=5, curve_steps=0)
    assert isinstance(c, Plottable)
    fig = c.plot()
    assert fig.axes[0].get_xlabel()
    c3 = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    pg = path_geometry([dict(m.named_parameters()) for m in (a, b, c3)])
    assert isinstance(pg, Plottable) and pg.plot().axes[0].get_ylabel()
    import matplotlib.pyplot as plt

    plt.close("all")
