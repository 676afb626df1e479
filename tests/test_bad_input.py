"""The bad-input corpus: every case exits 2 with exactly one stderr line naming the field, and leaves
the output directory as it was. The CLI runs in-process (``tamelab.cli.main.main``); only Ctrl-C at
start-up needs a subprocess-free stand-in (a patched app builder).

Rows are (id, argv, field, setup); ``argv`` may contain ``{tmp}``, ``{model}``, ``{model2}`` (a small
trained MLP), ``{npz}`` (a small labelled data file) and ``{out}`` (the output directory).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shlex
from pathlib import Path

import numpy as np
import pytest

from tamelab.cli.main import main

# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("assets")
    from tamelab.models import mlp, save

    save(mlp([2, 5, 2], seed=0), d / "m.safetensors")
    save(mlp([2, 5, 2], seed=1), d / "m2.safetensors")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    np.savez(d / "d.npz", X=X, y=(X[:, 0] > 0).astype(np.int64))
    (d / "garbage.safetensors").write_bytes(b"\x00\x01not a safetensors file")
    (d / "binary.toml").write_bytes(bytes(range(256)))
    (d / "latin1.toml").write_bytes('data = "caf\xe9"\n'.encode("latin-1"))
    (d / "nul.toml").write_bytes(b'data = "x"\x00\n')
    return d


def _snapshot(root: Path) -> dict[str, bytes | str]:
    """Everything under ``root`` (file contents, link targets), to compare before and after."""
    out: dict[str, bytes | str] = {}
    if not (root.exists() or root.is_symlink()):
        return out
    if root.is_symlink():
        return {".": "link:" + os.readlink(root)}
    if root.is_file():
        return {".": root.read_bytes()}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes()
        else:
            out[rel] = "dir"
    return out


def _run(argv: list[str], capsys, *, stdout: list[str] | None = None) -> tuple[int, list[str]]:
    rc = main(argv)
    cap = capsys.readouterr()
    if stdout is not None:
        stdout.append(cap.out)
    err = [line for line in cap.err.splitlines() if line.strip()]
    return rc, err


def _expand(text: str, assets: Path, tmp: Path) -> str:
    return text.format(
        tmp=tmp,
        model=assets / "m.safetensors",
        model2=assets / "m2.safetensors",
        npz=assets / "d.npz",
        out=tmp / "out",
        assets=assets,
    )


# ------------------------------------------------------------------------------------------------ setups
def _out_is_file(tmp: Path) -> None:
    (tmp / "out").write_text("x")


def _out_dangling(tmp: Path) -> None:
    (tmp / "out").symlink_to(tmp / "nowhere")


def _out_figures_link(tmp: Path) -> None:
    (tmp / "out").mkdir()
    (tmp / "elsewhere").mkdir()
    (tmp / "out" / "figures").symlink_to(tmp / "elsewhere")


def _out_checkpoint_link(tmp: Path) -> None:
    (tmp / "out").mkdir()
    (tmp / "elsewhere").mkdir()
    (tmp / "out" / "checkpoint").symlink_to(tmp / "elsewhere")


def _corrupt_checkpoint(tmp: Path) -> None:
    (tmp / "out" / "checkpoint").mkdir(parents=True)
    (tmp / "out" / "checkpoint" / "state.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")


def _weights_of_dtype(dtype_name: str):
    def setup(tmp: Path) -> None:
        import torch
        from safetensors.torch import save_file

        dt = getattr(torch, dtype_name)
        t = {
            "0.weight": torch.ones(3, 2),
            "0.bias": torch.zeros(3),
            "2.weight": torch.ones(2, 3),
            "2.bias": torch.zeros(2),
        }
        save_file({k: v.to(dt) for k, v in t.items()}, str(tmp / "w.safetensors"))

    return setup


def _toml(name: str, text: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_text(text)

    return setup


LONG = "x" * 300

# (id, argv, the field the one line must name, setup)
CASES = [
    # ---- output paths, checked before any work
    ("out-is-a-file", "train --data moons --epochs 1 --out {out}", "--out", _out_is_file),
    ("out-name-too-long", "train --data moons --epochs 1 --out {tmp}/" + LONG, "--out", None),
    ("out-parent-is-a-file", "ridge --out {tmp}/f/run", "--out", lambda t: (t / "f").write_text("x")),
    ("out-dangling-link", "ridge --out {out}", "--out", _out_dangling),
    ("out-figures-is-a-link", "hessian {model} --data moons --density --out {out}", "--out", _out_figures_link),
    ("out-checkpoint-is-a-link", "train --data moons --epochs 1 --out {out}", "--out", _out_checkpoint_link),
    ("plot-dir-missing", "regions {model} --box -1,1 --plot /nonexistent/dir/p.png --out {out}", "--plot", None),
    ("plot-is-a-dir", "regions {model} --box -1,1 --plot {tmp} --out {out}", "--plot", None),
    # ---- config files
    ("train-binary-toml", "train --config {assets}/binary.toml --out {out}", "--config", None),
    ("train-latin1-toml", "train --config {assets}/latin1.toml --out {out}", "--config", None),
    ("train-nul-toml", "train --config {assets}/nul.toml --out {out}", "--config", None),
    ("atlas-binary-toml", "atlas --config {assets}/binary.toml --out {out}", "--config", None),
    ("sweep-binary-toml", "sweep {assets}/binary.toml --out {out}", "SWEEP_FILE", None),
    ("sweep-latin1-toml", "sweep {assets}/latin1.toml --out {out}", "SWEEP_FILE", None),
    ("config-missing", "hessian {model} --config {tmp}/none.toml --out {out}", "--config", None),
    (
        "config-unknown-field",
        "ridge --config {tmp}/c.toml --out {out}",
        "c.toml field 'topk'",
        _toml("c.toml", "topk = 3\n"),
    ),
    (
        "config-bad-value",
        "ridge --config {tmp}/c.toml --out {out}",
        "c.toml field 'lam'",
        _toml("c.toml", "lam = -1\n"),
    ),
    # ---- values accepted with exit 0 before
    ("widths-empty", "train --config {tmp}/c.toml --out {out}", "widths", _toml("c.toml", "widths = []\n")),
    ("widths-zero", "train --data moons --widths 2,0,2 --out {out}", "--widths", None),
    ("widths-huge", "train --data moons --widths 2,2000000000,2 --out {out}", "max_memory_gb", None),
    ("lr-inf-toml", "train --config {tmp}/c.toml --out {out}", "c.toml field 'lr'", _toml("c.toml", "lr = inf\n")),
    ("lr-inf-flag", "train --lr inf --out {out}", "--lr", None),
    ("lr-nan-flag", "train --lr nan --out {out}", "--lr", None),
    ("input-dim-zero", "certify {model} --input-dim 0 --out {out}", "--input-dim", None),
    ("erm-max-qps-negative", "erm {npz} --width 1 --max-qps -1 --out {out}", "--max-qps", None),
    ("bound-epochs-negative", "bound {model} --data moons --epochs -5 --out {out}", "--epochs", None),
    ("bound-mc-samples-huge", "bound {model} --data moons --mc-samples 1000000000 --out {out}", "mc_samples", None),
    ("plane-nan", 'regions {model} --plane "nan,0;1,0;0,1" --out {out}', "--plane", None),
    ("plane-inf", 'regions {model} --plane "inf,0;1,0;0,1" --out {out}', "--plane", None),
    ("plane-collinear", 'regions {model} --plane "0,0;1,1;2,2" --out {out}', "--plane", None),
    ("plane-degenerate", 'regions {model} --plane "0,0;0,0;0,0" --out {out}', "--plane", None),
    ("plane-wrong-dim", 'regions {model} --plane "0,0,0;1,0,0;0,1,0" --out {out}', "--plane", None),
    ("box-overflow", "regions {model} --box -1e308,1e308 --out {out}", "--box", None),
    ("box-reversed", "regions {model} --box 1,-1 --out {out}", "--box", None),
    ("critical-reg-inf", "critical --reg inf --out {out}", "--reg", None),
    ("critical-reg-nan", "critical --reg nan --out {out}", "--reg", None),
    ("landscape-grid-huge", "landscape {model} --data moons --grid 1000000 --out {out}", "--grid", None),
    ("resume-corrupt-checkpoint", "train --data moons --epochs 1 --resume --out {out}", "resume", _corrupt_checkpoint),
    # ---- validated choices, listed in the message
    ("hessian-dtype-float16", "hessian {model} --data moons --dtype float16 --out {out}", "--dtype", None),
    ("hessian-dtype-bogus", "hessian {model} --data moons --dtype bogus --out {out}", "--dtype", None),
    ("device-bogus", "hessian {model} --data moons --device tpu9 --out {out}", "--device", None),
    ("data-bogus", "hessian {model} --data nosuchdata --out {out}", "--data", None),
    ("data-npz-missing", "hessian {model} --data {tmp}/none.npz --out {out}", "--data", None),
    ("loss-bogus", "hessian {model} --data moons --loss bogus --out {out}", "--loss", None),
    ("input-key-not-npz", "hessian {model} --data moons --input-key image --out {out}", "--input-key", None),
    ("input-key-missing", "hessian {model} --data {npz} --input-key image --out {out}", "--input-key", None),
    ("split-bogus", "hessian {model} --data moons --split dev --out {out}", "--split", None),
    # ---- models
    ("model-missing", "hessian {tmp}/none.safetensors --data moons --out {out}", "MODEL", None),
    ("model-garbage", "hessian {assets}/garbage.safetensors --data moons --out {out}", "MODEL", None),
    ("model-factory-bad", "hessian --model no_such_pkg.mod:f --data moons --out {out}", "--model", None),
    ("weights-without-factory", "hessian {model} --weights {model2} --data moons --out {out}", "--weights", None),
    (
        "model-int-weights",
        "regions {tmp}/w.safetensors --box -1,1 --out {out}",
        "key '0.weight'",
        _weights_of_dtype("int64"),
    ),
    (
        "model-bool-weights",
        "regions {tmp}/w.safetensors --box -1,1 --out {out}",
        "key '0.weight'",
        _weights_of_dtype("bool"),
    ),
    ("model-wrong-width", "hessian {model} --data digits --out {out}", "--data", None),
    ("connect-missing-b", "connect {model} {tmp}/none.safetensors --data moons --out {out}", "B", None),
    ("through-one", "landscape {model} --data moons --through {model2} --grid 3 --out {out}", "--through", None),
    # ---- option parsing: one line with the --help hint
    ("unknown-option", "train --bogus 1 --out {out}", "--bogus", None),
    ("missing-value", "train --out", "--out", None),
    ("not-an-integer", "ridge --n abc --out {out}", "--n", None),
    ("unknown-command", "no-such-command", "no-such-command", None),
    (
        "sweep-scheduler-unreachable",
        "sweep {tmp}/s.toml --scheduler tcp://127.0.0.1:9 --out {out}",
        "--scheduler",
        _toml("s.toml", 'command = "ridge"\n[grid]\nlam = [0.1]\n'),
    ),
    ("erm-scheduler-unreachable", "erm {npz} --width 1 --scheduler tcp://127.0.0.1:9 --out {out}", "--scheduler", None),
    ("report-missing", "report {tmp}/nothing", "RUN_DIR", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(case, assets, tmp_path, capsys):
    _, argv, field, setup = case
    if setup is not None:
        setup(tmp_path)
    before = {p.name: _snapshot(p) for p in tmp_path.iterdir()}
    args = [_expand(a, assets, tmp_path) for a in shlex.split(argv)]
    rc, err = _run(args, capsys)
    assert rc == 2, (rc, err)
    assert len(err) == 1, err
    assert field in err[0], err
    assert "Traceback" not in err[0]
    after = {p.name: _snapshot(p) for p in tmp_path.iterdir()}
    assert after == before, f"{sorted(set(after) ^ set(before))} changed"


# ------------------------------------------------------------------------------------------------ every command
def _commands() -> list[str]:
    import typer

    from tamelab.cli.main import build_app

    group = typer.main.get_command(build_app())
    out = []
    for name, cmd in sorted(group.commands.items()):
        sub = getattr(cmd, "commands", None)
        if sub:
            out += [f"{name} {s}" for s in sorted(sub)]
        else:
            out.append(name)
    return out


COMMANDS = _commands()
TASK_COMMANDS = [c for c in COMMANDS if c.split()[0] not in ("atlas", "report", "claims", "sweep")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_an_unknown_option_in_one_line(command, capsys):
    rc, err = _run([*command.split(), "--no-such-option"], capsys)
    assert rc == 2 and len(err) == 1 and "--no-such-option" in err[0] and "--help" in err[0], err


@pytest.mark.parametrize("command", TASK_COMMANDS)
def test_every_task_command_checks_out_and_config_before_any_work(command, assets, tmp_path, capsys):
    """The same classes of bad input for every task command: an --out that is a file, a binary --config,
    an unknown config field, and a model/data path that does not exist."""
    (tmp_path / "o").write_text("keep")
    rc, err = _run([*command.split(), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) == 1, err  # a required field, or --out: both before any work
    assert (tmp_path / "o").read_text() == "keep"
    rc, err = _run([*command.split(), "--config", str(assets / "binary.toml"), "--out", str(tmp_path / "p")], capsys)
    assert rc == 2 and len(err) == 1 and "--config" in err[0] and "UTF-8" in err[0], err
    (tmp_path / "u.toml").write_text("no_such_field_anywhere = 1\n")
    rc, err = _run([*command.split(), "--config", str(tmp_path / "u.toml"), "--out", str(tmp_path / "p")], capsys)
    assert rc == 2 and len(err) == 1 and "no_such_field_anywhere" in err[0], err
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------------------------------------------ report
MALFORMED = [
    {"schema_version": "1", "result": {}},
    {"schema_version": True, "result": {}},
    {"schema_version": 0, "result": {}},
    {"schema_version": 999, "result": {}},
    {"schema_version": 1, "result": []},
    {"schema_version": 1, "result": "x"},
    {"schema_version": 1},
    {"schema_version": 1, "result": {}, "config": []},
    {"schema_version": 1, "result": {}, "command": 5},
    {"schema_version": 1, "result": {}, "provenance": "x"},
    [],
    "just a string",
]


@pytest.mark.parametrize("doc", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_report_refuses_malformed_result_json(doc, tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    (run / "result.json").write_text(json.dumps(doc))
    before = _snapshot(run)
    rc, err = _run(["report", str(run)], capsys)
    assert rc == 2 and len(err) == 1 and "RUN_DIR" in err[0], err
    assert _snapshot(run) == before


# ------------------------------------------------------------------------------------------------ the rest
def test_disk_full_is_one_line(tmp_path, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    rc, err = _run(["ridge", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) == 1 and "no space left" in err[0], err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("result.json"))


def test_second_run_on_a_locked_run_directory_refuses(tmp_path, capsys):
    from tamelab.runstore import RunLock

    out = tmp_path / "o"
    with RunLock(out):
        rc, err = _run(["ridge", "--out", str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "in use by another tamelab run" in err[0], err
    assert list(out.iterdir()) == []
    assert _run(["ridge", "--out", str(out), "--quiet"], capsys)[0] == 0  # released


def test_read_only_parent(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real(p, mode))
    rc, err = _run(["ridge", "--out", str(ro / "run")], capsys)
    assert rc == 2 and len(err) == 1 and "--out" in err[0] and "not writable" in err[0], err
    assert list(ro.iterdir()) == []


def test_usage_errors_are_one_line_with_the_help_hint(capsys):
    rc, err = _run(["train", "--epochs"], capsys)
    assert rc == 2 and len(err) == 1 and "'tamelab train --help'" in err[0], err


def test_version(capsys):
    from tamelab import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tamelab {__version__}"


def test_ctrl_c_mid_run_prints_interrupted_and_exits_130(tmp_path, capsys, monkeypatch):
    from tamelab.tasks import _registry

    def interrupt(cfg, *, out_dir=None):
        raise KeyboardInterrupt

    task = _registry.get_task("ridge")
    monkeypatch.setitem(_registry._TASKS, "ridge", type(task)(task.name, task.config, interrupt, task.help))
    rc, err = _run(["ridge", "--out", str(tmp_path / "o")], capsys)
    assert rc == 130 and err == ["interrupted"]


def test_ctrl_c_at_start_up_prints_interrupted_and_exits_130(capsys, monkeypatch):
    import tamelab.cli.main as cli_main

    def interrupt():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "build_app", interrupt)
    rc, err = _run(["train"], capsys)
    assert rc == 130 and err == ["interrupted"]


def test_ctrl_c_mid_training_leaves_the_run_resumable(tmp_path, capsys, monkeypatch):
    """An interrupt after the first epoch's checkpoint: exit 130, the checkpoint stays, --resume finishes."""
    import tamelab.train._loop as loop

    real = loop.fit

    def fit_then_interrupt(cfg, **kw):
        real(cfg, stop_after_epochs=1, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "fit", fit_then_interrupt)
    import tamelab.train as tr

    monkeypatch.setattr(tr, "fit", fit_then_interrupt)
    out = tmp_path / "o"
    args = ["train", "--data", "moons", "--widths", "2,4,2", "--epochs", "3", "--out", str(out), "--quiet"]
    rc, err = _run(args, capsys)
    assert rc == 130 and err == ["interrupted"]
    assert (out / "checkpoint" / "state.safetensors").is_file() and not (out / "result.json").exists()
    monkeypatch.setattr(tr, "fit", real)
    monkeypatch.setattr(loop, "fit", real)
    assert _run([*args, "--resume", "--json"], capsys)[0] == 0
    doc = json.loads((out / "result.json").read_text())
    assert doc["result"]["resumed_from_epoch"] == 0 and doc["result"]["epochs_run"] == 3


# ------------------------------------------------------------------------------------------------ precedence
#: alternative values of text and list fields (numbers, booleans and choices are derived from the type).
ALTERNATIVES = {
    "data": "circles",
    "device": "auto",
    "loss": "mse",
    "model": "{model2}",
    "model_b": "{model}",
    "init_model": "{model2}",
    "log_dir": "{tmp}/tb",
    "widths": [64, 8, 10],
    "box": [-2.0, 2.0],
    "split": "test",
    "seeds": [4, 5],
    "s_values": [0.5],
    "dtypes": ["float32"],
    "hidden": [16, 8, 16],
}
#: fields whose alternative needs other fields changed too (tested elsewhere or not on this machine).
COUPLED = {
    "input_key",
    "target_key",
    "weights",
    "weights_b",
    "plane",
    "segment",
    "scheduler",
    "through",
    "log",
    "executor",
    "workers",
    "init_seed",
    "prior",
}


def _alternative(cfg_cls, name, req, assets, tmp):
    """A valid value of field ``name`` that differs from its default (``None`` if none is found)."""
    import typing

    from tamelab.config import validate
    from tamelab.errors import InputError

    f = cfg_cls.model_fields[name]
    default = None if f.is_required() else f.default
    ann = f.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    base = (
        args[0]
        if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1
        else ann
    )
    cands: list = []
    if name in ALTERNATIVES:
        alt = ALTERNATIVES[name]
        cands = [_expand(alt, assets, tmp) if isinstance(alt, str) else alt]
    if typing.get_origin(base) is typing.Literal:
        cands += [c for c in typing.get_args(base) if c != default]
    elif base is bool:
        cands += [not default]
    elif base is int:
        cands += [(default or 0) + 1, (default or 0) + 2, 1, 2]
    elif base is float:
        d = default if isinstance(default, float) and math.isfinite(default) else 0.5
        cands += [d / 2 if d else 0.25, d * 1.5 if d else 0.75, 0.3]
    for c in cands:
        if c == default:
            continue
        try:
            validate(cfg_cls, {**req, name: c})
            return c
        except InputError:
            continue
    return None


def _required(cfg_cls, assets):
    req = {}
    for n, f in cfg_cls.model_fields.items():
        if f.is_required():
            req[n] = {
                "model": str(assets / "m.safetensors"),
                "model_b": str(assets / "m2.safetensors"),
                "data": str(assets / "d.npz"),
                "width": 1,
                "widths": [2, 3, 1],
                "power": 2,
            }.get(n, 1)
    if cfg_cls.__name__ == "RegionsConfig":
        req["box"] = [-1.0, 1.0]
    return req


PRECEDENCE = [
    (t, n)
    for t in (
        "train",
        "hessian",
        "landscape",
        "connect",
        "regions",
        "bound",
        "certify",
        "stationarity",
        "erm",
        "neuromanifold",
        "critical",
        "ridge",
        "tropical",
        "construct-chen-ewald",
        "study-relu-prime-zero",
        "study-adam-vs-nag",
    )
    for n in __import__("tamelab.tasks", fromlist=["get_task"]).get_task(t).config.model_fields
    if n not in COUPLED
]


@pytest.mark.parametrize("task,field", PRECEDENCE, ids=[f"{t}.{n}" for t, n in PRECEDENCE])
def test_flag_beats_config_file_beats_default_for_every_field(task, field, assets, tmp_path, capsys):
    import tomli_w

    from tamelab.tasks import get_task

    cls = get_task(task).config
    req = _required(cls, assets)
    command = task.replace("construct-", "construct ").replace("study-", "study ").split()
    alt = _alternative(cls, field, req, assets, tmp_path)
    assert alt is not None, f"no valid alternative value for {task}.{field}"
    base = {k: v for k, v in req.items() if k != field}

    def resolved(file_fields, flags):
        path = tmp_path / "c.toml"
        path.write_bytes(tomli_w.dumps({**base, **file_fields}).encode())
        outs: list[str] = []
        rc, err = _run(
            [*command, "--config", str(path), "--check", "--out", str(tmp_path / "o"), *flags], capsys, stdout=outs
        )
        assert rc == 0, err
        return json.loads(outs[0])["config"][field]

    f = cls.model_fields[field]
    # the config file beats the default (or supplies a required field)
    assert resolved({field: alt}, []) == json.loads(json.dumps(alt))
    if not f.is_required() and (task, field) != ("regions", "box"):  # the default when neither is given
        assert resolved({}, []) == json.loads(json.dumps(f.default, default=str))
    # an explicit flag beats the config file
    flag = cls.flag(field) if cls.flag(field).startswith("--") else "--" + field.replace("_", "-")
    other = f.default if not f.is_required() else req[field]
    if isinstance(other, bool) or (other is None and f.annotation in (bool, bool | None)):
        flag_args = [flag if not alt else f"--no-{flag[2:]}"]
        other = not alt
    elif other is None:
        return  # no second value to give on the command line: the file/default checks above suffice
    else:
        text = ",".join(str(x) for x in other) if isinstance(other, list) else str(other)
        flag_args = [flag, text]
    assert resolved({field: alt}, flag_args) == json.loads(json.dumps(other))


def test_train_config_file_data_is_used(tmp_path, capsys):
    """The bug that started it: `train --config c.toml` ignored `data` because the CLI default overrode it."""
    (tmp_path / "c.toml").write_text('data = "moons"\nwidths = [2, 4, 2]\nepochs = 1\n')
    assert main(["train", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    doc = json.loads((tmp_path / "o" / "result.json").read_text())
    assert doc["config"]["data"] == "moons" and doc["result"]["widths"] == [2, 4, 2]


# ------------------------------------------------------------------------------------------------ fuzzing
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_toml_bytes_parse_or_one_input_error(raw):
    from tamelab.config import parse_toml
    from tamelab.errors import InputError

    try:
        out = parse_toml(raw)
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(out, dict)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["schema_version", "result", "config", "command", "provenance", "x"]), _json, max_size=6
    )
    | _json
)
def test_fuzz_result_json_read_or_one_input_error(doc):
    import tempfile

    from tamelab.errors import InputError
    from tamelab.runstore import read_result

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "result.json").write_text(json.dumps(doc))
        try:
            out = read_result(d)
        except InputError as e:
            assert "\n" not in str(e)
        else:
            assert isinstance(out["result"], dict) and isinstance(out["schema_version"], int)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_npz_bytes_load_or_one_input_error(raw):
    import tempfile

    from tamelab.errors import InputError
    from tamelab.tasks._load import load_task_data

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.npz"
        p.write_bytes(raw)
        for keys in ({}, {"input_key": "X"}):
            try:
                load_task_data(str(p), split="all", **keys)
            except InputError as e:
                assert "\n" not in str(e)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["X", "y", "Y", "X_test", "y_test", "image"]),
        st.sampled_from(["empty", "nan", "int", "float", "3d", "str", "bool", "big-label"]),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_npz_arrays_load_or_one_input_error(spec):
    import tempfile

    from tamelab.errors import InputError
    from tamelab.tasks._load import load_task_data

    make = {
        "empty": np.zeros((0, 2)),
        "nan": np.full((4, 2), np.nan),
        "int": np.arange(4),
        "float": np.linspace(0, 1, 8).reshape(4, 2),
        "3d": np.zeros((4, 2, 2)),
        "str": np.array(["a", "b"]),
        "bool": np.array([True, False, True, False]),
        "big-label": np.array([0, 1, 10**9, 2]),
    }
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.npz"
        np.savez(p, **{k: make[v] for k, v in spec.items()})
        for keys in ({}, {"input_key": "image"}):
            try:
                load_task_data(str(p), split="train", **keys)
            except InputError as e:
                assert "\n" not in str(e)


# ------------------------------------------------------------------------------------------------ tamelab.data.load_npz
def _npz_file(name: str, **arrays):
    def make(d: Path) -> Path:
        p = d / name
        if arrays:
            np.savez(p, **arrays)
        else:
            p.write_bytes(b"")
        return p

    return make


# (id, how to make the file, a word the one line must contain)
NPZ_CASES = [
    ("zero-byte-file", _npz_file("z.npz"), "not a readable .npz"),
    ("empty-X", _npz_file("e.npz", X=np.zeros((0, 2)), y=np.zeros(0, np.int64)), "empty"),
    ("no-features", _npz_file("f.npz", X=np.zeros((3, 0)), y=np.zeros(3, np.int64)), "empty"),
    ("string-X", _npz_file("s.npz", X=np.array([["a", "b"]]), y=np.array([0])), "floats"),
    ("bytes-X", _npz_file("b.npz", X=np.array([[b"a", b"b"]]), y=np.array([0])), "floats"),
    ("string-y", _npz_file("sy.npz", X=np.zeros((2, 2)), y=np.array(["a", "b"])), "integers"),
    ("string-Y", _npz_file("sY.npz", X=np.zeros((2, 2)), Y=np.array(["a", "b"])), "floats"),
    ("complex-X", _npz_file("c.npz", X=np.ones((2, 2), complex), y=np.array([0, 1])), "complex"),
    ("complex-Y", _npz_file("cY.npz", X=np.ones((2, 2)), Y=np.ones(2, complex)), "complex"),
    ("object-X", _npz_file("o.npz", X=np.array([[1, None]], dtype=object), y=np.array([0])), "not a readable"),
    (
        "empty-X-test",
        _npz_file("et.npz", X=np.zeros((2, 2)), y=np.array([0, 1]), X_test=np.zeros((0, 2)), y_test=np.zeros(0, int)),
        "empty",
    ),
]


@pytest.mark.parametrize("split", ["all", "train"])
@pytest.mark.parametrize("case", NPZ_CASES, ids=[c[0] for c in NPZ_CASES])
def test_load_npz_bad_files_are_one_input_error_line(case, split, tmp_path):
    from tamelab.data import load_npz
    from tamelab.errors import InputError

    _, make, word = case
    p = make(tmp_path)
    with pytest.raises(InputError) as e:
        load_npz(p, split)
    assert "\n" not in str(e.value) and word in str(e.value), str(e.value)


def test_load_npz_bad_file_through_the_cli_is_one_line(tmp_path, capsys):
    (tmp_path / "z.npz").write_bytes(b"")
    rc, err = _run(["train", "--data", str(tmp_path / "z.npz"), "--epochs", "1", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) == 1 and "z.npz" in err[0], err
    assert not (tmp_path / "o").exists()
