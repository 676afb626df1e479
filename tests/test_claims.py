"""The claims machinery: verdict enum, provenance, the library ``run_claims`` (serial and executor), grouping by
paper, the docs table, and a smoke test that runs every registered claim in quick mode."""

from __future__ import annotations

import json

import pytest

from tamelab.claims import ClaimContext, Measured, Verdict, _registry, all_claims, run_claims
from tamelab.verdicts import CLAIM_VERDICTS
from tamelab.verdicts import Verdict as CoreVerdict


@pytest.fixture
def fake_claims(monkeypatch):
    reg: dict = {}
    monkeypatch.setattr(_registry, "_REGISTRY", reg)
    monkeypatch.setattr(_registry, "_DISCOVERED", True)

    @_registry.claim(
        "t-holds",
        paper="arXiv:0000.00001",
        statement="1+1=2",
        expected={"sum": 2},
        source="arXiv:0000.00001 Eq. (1)",
        expected_from="theory",
    )
    def _a(ctx):
        return Measured({"sum": 1 + 1, "seed": ctx.seed, "quick": ctx.quick}, holds=(1 + 1 == 2))

    @_registry.claim(
        "t-fails",
        paper="arXiv:0000.00002",
        statement="pi is 3",
        expected={"pi": 3},
        tags=("x",),
        source="Bible, 1 Kings 7:23",
        expected_from="paper",
    )
    def _b(ctx):
        import math

        return Measured({"pi": math.pi}, holds=abs(math.pi - 3) < 1e-9)

    @_registry.claim(
        "t-none",
        paper="arXiv:0000.00003",
        statement="undecidable here",
        expected=None,
        slow=True,
        source="arXiv:0000.00003 Thm 1",
        expected_from="regression",
    )
    def _c(ctx):
        return Measured({"x": 1}, holds=None)

    @_registry.claim("t-crash", paper="arXiv:0000.00003", statement="crashes", expected=None)
    def _d(ctx):
        raise RuntimeError("boom")

    return reg


def test_one_verdict_enum_with_the_json_strings():
    assert Verdict is CoreVerdict
    assert [v.value for v in CLAIM_VERDICTS] == ["holds", "fails", "not reproduced"]
    assert Verdict.of_claim(True) is Verdict.HOLDS and Verdict.of_claim(False) is Verdict.FAILS
    assert Verdict.of_claim(None) is Verdict.NOT_REPRODUCED
    assert json.dumps(Verdict.FAILS) == '"fails"'  # str enum: JSON keeps the plain string


def test_expected_from_is_validated():
    with pytest.raises(ValueError, match="expected_from must be one of"):
        _registry.claim("t-bad", paper="x", statement="s", expected=1, source="x Thm 1", expected_from="folklore")
    with pytest.raises(ValueError, match="source must name"):
        _registry.claim("t-bad", paper="x", statement="s", expected=1, source="  ", expected_from="paper")


def test_holds_must_be_a_bool_or_none(fake_claims):
    @_registry.claim("t-weird", paper="x", statement="s", expected=1, source="x Thm 1", expected_from="paper")
    def _w(ctx):
        return Measured({"v": 1}, holds="yes")

    row = _registry.run_claim("t-weird")
    assert row["verdict"] == "not reproduced" and "holds must be" in row["measured"]["error"]


def test_run_claims_library_rows_summary_and_groups(fake_claims):
    res = run_claims(all_=True, seed=3, quick=True)
    d = res.to_dict()
    assert d["kind"] == "claims" and d["seed"] == 3 and d["quick"] is True
    by = {r["id"]: r for r in d["claims"]}
    assert [r["id"] for r in d["claims"]] == sorted(by)  # rows in id order whatever the queue order
    assert by["t-holds"]["measured"] == {"sum": 2, "seed": 3, "quick": True}
    assert by["t-holds"]["source"] == "arXiv:0000.00001 Eq. (1)" and by["t-holds"]["expected_from"] == "theory"
    assert {r["verdict"] for r in d["claims"]} == {"holds", "fails", "not reproduced"}
    assert d["summary"] == {"holds": 1, "fails": 1, "not reproduced": 2}
    assert d["errors"] == ["t-crash"] and d["status"] == "failed"  # a crashed claim is not a finding
    # every fake claim lives in this test module: one group holding all four, with its counts
    assert len(d["papers"]) == 1 and sorted(d["papers"][0]["claims"]) == sorted(by)
    assert d["papers"][0]["summary"] == d["summary"]
    assert run_claims(all_=True, include_slow=False).summary == {"holds": 1, "fails": 1, "not reproduced": 1}
    assert [r["id"] for r in run_claims(tags=["x"]).claims] == ["t-fails"]


def test_run_claims_through_an_executor_object_orders_slow_first(fake_claims):
    seen = []

    class Recorder:
        name = "recorder"

        def map(self, fn, items, desc=""):
            seen.extend(items)
            return [fn(x) for x in items]

        def close(self):
            raise AssertionError("an executor passed in is the caller's to close")

    res = run_claims(all_=True, executor=Recorder(), workers=2)
    assert seen[0][0] == ("t-none",)  # the slow claim is queued first
    assert all(single_thread for *_, single_thread in seen)  # parallel executors run claims on one thread
    assert res.executor == "recorder" and res.summary["holds"] == 1


def test_queue_is_longest_first_by_measured_cost(fake_claims, monkeypatch):
    from tamelab.claims import _run

    monkeypatch.setattr(_run, "COST_HINT", {"t-fails": 50.0, "t-holds": 100.0, "t-none": 10.0})
    order = [t[0].id for t in _run._order(list(fake_claims.values()), False)]
    assert order == ["t-holds", "t-fails", "t-none", "t-crash"]  # a measured slow claim is ordered by its cost


def test_claims_sharing_a_study_run_as_one_task_once(fake_claims):
    calls = []

    def _study():
        calls.append(1)
        return 42

    cache: dict = {}
    for cid in ("t-study-a", "t-study-b"):

        @_registry.claim(
            cid, paper="x", statement="s", expected=42, tags=("study",), source="x Thm 1", expected_from="paper"
        )
        def _s(ctx):
            if "v" not in cache:
                cache["v"] = _study()
            return Measured({"v": cache["v"]}, holds=cache["v"] == 42)

    seen = []

    class Recorder:
        name = "recorder"

        def map(self, fn, items, desc=""):
            seen.extend(items)
            return [fn(x) for x in items]

    res = run_claims(all_=True, executor=Recorder(), workers=2)
    tasks = [ids for ids, *_ in seen]
    assert ("t-study-a", "t-study-b") in tasks and len(tasks) == len(res.claims) - 1
    assert len(calls) == 1 and [r["id"] for r in res.claims] == sorted(r["id"] for r in res.claims)
    assert {r["id"]: r["verdict"] for r in res.claims}["t-study-b"] == "holds"


def test_run_claims_refuses_an_empty_selection(fake_claims):
    from tamelab.errors import InputError

    with pytest.raises(InputError, match="no claims selected"):
        run_claims()


@pytest.mark.slow
def test_run_claims_dask_equals_serial():
    pytest.importorskip("distributed")
    ids = ["regularised-linear-net-spurious-minimum", "alexander-hirschowitz-secant-defects"]  # real: workers import
    a = run_claims(ids, seed=1, quick=True).to_dict()
    b = run_claims(ids, seed=1, quick=True, executor="dask", workers=2).to_dict()
    assert b["executor"] == "dask" and b["workers"] == 2 and not b["errors"]
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "note")} for r in a["claims"]]
    assert strip == [{k: v for k, v in r.items() if k not in ("seconds", "note")} for r in b["claims"]]


def test_cli_list_shows_provenance(fake_claims, capsys):
    from tamelab.cli.main import main

    assert main(["claims", "list", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["claims"]}
    assert rows["t-fails"]["source"] == "Bible, 1 Kings 7:23" and rows["t-fails"]["expected_from"] == "paper"
    assert rows["t-crash"]["source"] is None


def test_cli_run_workers_json_carries_provenance_and_groups(fake_claims, capsys, tmp_path, monkeypatch):
    from tamelab.cli.main import main

    assert main(["claims", "run", "--all", "--json", "--out", str(tmp_path / "r")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"source", "expected_from", "verdict", "measured", "group"} <= set(doc["claims"][0])
    assert doc["papers"] and doc["summary"]["fails"] == 1


# --- provenance of every registered claim ---------------------------------------------------------------------


def test_every_registered_claim_has_provenance():
    missing = [c.id for c in all_claims() if not c.source or c.expected_from not in _registry.EXPECTED_FROM]
    assert not missing, f"claims without source/expected_from: {missing}"


def test_cli_list_shows_provenance_of_every_registered_claim(capsys):
    from tamelab.cli.main import main

    assert main(["claims", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["claims"]
    assert {r["id"] for r in rows} == {c.id for c in all_claims()}
    assert all(r["source"] and r["expected_from"] in _registry.EXPECTED_FROM for r in rows)
    assert main(["claims", "list"]) == 0
    text = capsys.readouterr().out
    assert "missing" not in text and f"{len(rows)} claims" in text


OWN_MODULES = (
    "karmakar2020gate",
    "rangamani2018sparse",
    "kileel2019neuromanifold",
    "mehta2018critical",
    "baldi1989linear",
)


def test_claims_of_this_area_have_provenance():
    mine = [c for c in all_claims() if c.module in OWN_MODULES]
    assert len(mine) >= 12
    assert not [c.id for c in mine if not c.source or c.expected_from not in _registry.EXPECTED_FROM]


# --- smoke: every registered claim, quick mode, fixed seed ---------------------------------------------------


SMOKE_IDS = [c.id for c in all_claims()]

#: claims added late (thesis ch. 2, implicit bias, width, pure/spurious points, Hessian rank, zoo; the tame claims):
#: the smoke test below must run each of them, whatever module registers it.
MUST_SMOKE = [
    "arora-pwl-to-relu-depth-bound",
    "arora-lemma-d5-piece-bound",
    "arora-depth-size-gap",
    "implicit-bias-least-squares-min-norm",
    "implicit-bias-logistic-max-margin",
    "bad-minima-vanish-with-width",
    "tkb-pure-spurious-critical-points",
    "hessian-rank-tracks-data-dimension",
    "tameness-certificate-zoo",
    "lojasiewicz-exponent-gd-known-exponents",
    "dmu-rmsprop-deterministic-within-T",
    "dmu-rmsprop-stochastic-sign-condition",
    "thesis-ch5-adam-small-beta1-large-xi-critical",
    "bolte-pauwels-ad-artificial-critical-point",
    "gradient-sampling-certificate-spec-numbers",
    "blo-gradient-sampling-minimises-nonsmooth",
    "ddkl-sgd-tame-toy-critical",
    "ddkl-noise-sum-cauchy-least-squares",
    "ddkl-monitor-digits-sgd-bounded",
    "dmu-adam-vs-nag-autoencoder-train-loss",
    "dmu-nag-smaller-gradient-norm-autoencoder",
    "dmu-nag-min-hessian-eigenvalue-increasing",
    "robbins-monro-sgd-gradient-to-zero",
    "bertoin2021-relu-prime-zero-precision",
]


def test_smoke_covers_every_registered_claim():
    assert len(SMOKE_IDS) == len(set(SMOKE_IDS)) >= 61
    assert not set(MUST_SMOKE) - set(SMOKE_IDS)
    # slow claims are smoke-tested too, in their quick variant (the test below is not marked slow)
    assert {c.id for c in all_claims() if c.slow} <= set(SMOKE_IDS)


@pytest.mark.parametrize("cid", SMOKE_IDS)
def test_smoke_every_claim_quick(cid, one_torch_thread):
    row = _registry.run_claim(cid, ClaimContext(seed=0, quick=True))
    assert row["verdict"] in {v.value for v in CLAIM_VERDICTS} and row["quick"] is True and row["seed"] == 0
    assert row["source"] and row["expected_from"] in _registry.EXPECTED_FROM
    assert row["measured"] and "error" not in row["measured"], row["note"]


# --- the docs table ----------------------------------------------------------------------------------------------


def test_docs_table_from_a_run(fake_claims, tmp_path, capsys):
    from tamelab.claims import docs

    d = run_claims(all_=True).to_dict()
    (tmp_path / "run.json").write_text(json.dumps(d), encoding="utf-8")
    assert docs.main([str(tmp_path / "run.json")]) == 0
    md = capsys.readouterr().out
    assert md.count("| `t-") == 4 and "## Negative findings" in md
    neg = md.split("## Negative findings")[1]
    assert "`t-fails` — **fails** (Bible, 1 Kings 7:23)" in neg and "boom" in neg and "t-holds" not in neg
    assert "(theory)" in md and "**holds**" in md
    (tmp_path / "rd").mkdir()
    (tmp_path / "rd" / "result.json").write_text(json.dumps({"result": d, "provenance": {}}), encoding="utf-8")
    assert docs.main([str(tmp_path / "rd"), "--html"]) == 0
    page = capsys.readouterr().out
    assert page.count("<tr>") == 1 + 4 and "t-crash" in page
    from tamelab.errors import InputError

    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError):
        docs.load_run(tmp_path / "bad.json")


def test_docs_page_states_run_times_and_hides_internal_references(fake_claims, tmp_path, capsys):
    from tamelab.claims import docs

    assert docs.public("values: spec geometry.md §3.4, checked") == "values: TameLab's design notes, checked"
    assert docs.public("on the cone (spec §1.7); rank") == "on the cone; rank"
    assert docs.public("optimum was 2.605 (issue 17: collinear)") == "optimum was 2.605"
    assert docs.public("spectrum of the specification") == "spectrum of the specification"  # words are kept
    full = run_claims(all_=True).to_dict()
    quick = run_claims(all_=True, quick=True).to_dict()
    for name, d in (("full.json", full), ("quick.json", quick)):
        (tmp_path / name).write_text(json.dumps(d), encoding="utf-8")
    assert (
        docs.main(
            [
                str(tmp_path / "full.json"),
                "--quick-run",
                str(tmp_path / "quick.json"),
                "--command",
                "FULL",
                "--quick-command",
                "QUICK",
                "--load",
                "2 cores, load 3.1",
                "--notes",
                "claims-notes.md",
                "--timing-note",
                "full run: 20 min (spec §9)",
            ]
        )
        == 0
    )
    md = capsys.readouterr().out
    assert "## Run time" in md and "**full run**" in md and "**quick run**" in md
    assert "`FULL`" in md and "`QUICK`" in md and "load 3.1" in md and "(claims-notes.md)" in md
    assert "- full run: 20 min\n" in md
    assert "Slowest claims" in md and md.index("## Run time") < md.index("## Negative findings")
