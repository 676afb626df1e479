import json

import pytest

from tamelab.cli.main import main


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    for s in (1, 2):
        assert (
            main(
                [
                    "train",
                    "--widths",
                    "64,16,10",
                    "--epochs",
                    "3",
                    "--seed",
                    str(s),
                    "--out",
                    str(d / f"m{s}"),
                    "--quiet",
                ]
            )
            == 0
        )
    assert main(["train", "--widths", "64,8,10", "--epochs", "1", "--out", str(d / "other"), "--quiet"]) == 0
    return d


def test_hessian_cli_contract(two_models, tmp_path, capsys):
    assert (
        main(
            [
                "hessian",
                str(two_models / "m1" / "model.safetensors"),
                "--top-k",
                "3",
                "--trace",
                "--density",
                "--json",
                "--out",
                str(tmp_path / "h"),
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert {"eigenvalues", "residuals", "trace", "trace_stderr", "hvps", "seconds"} <= set(d)
    assert d["eigenvalues"] == sorted(d["eigenvalues"], reverse=True) and len(d["eigenvalues"]) == 3
    assert abs(d["trace_estimate"] - d["trace"]) < 5 * d["trace_estimate_stderr"]
    assert d["hvp_path"] == "mlp-rop" and all(c for c in d["converged"])
    assert all(0 <= e <= r for e, r in zip(d["error_bounds"], d["residuals"]))
    assert (tmp_path / "h" / "figures" / "density.png").is_file()


def test_landscape_cli_contract(two_models, tmp_path, capsys):
    assert (
        main(
            [
                "landscape",
                str(two_models / "m1" / "model.safetensors"),
                "--grid",
                "5",
                "--span",
                "0.5",
                "--json",
                "--out",
                str(tmp_path / "l"),
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert len(d["losses"]) == 5 and len(d["losses"][0]) == 5 and d["losses"][2][2] == pytest.approx(d["center_loss"])


def test_connect_cli_and_errors(two_models, tmp_path, capsys):
    a, b = str(two_models / "m1" / "model.safetensors"), str(two_models / "m2" / "model.safetensors")
    assert (
        main(
            [
                "connect",
                a,
                b,
                "--curve-steps",
                "50",
                "--json",
                "--plot",
                str(tmp_path / "c.png"),
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["barrier_aligned"] <= d["barrier_raw"] + 1e-6 and d["alignment_function_change"] < 1e-5
    tl = d["test_losses_raw"]
    assert len(tl) == len(d["alphas"]) == 25
    assert d["test_barrier_raw"] >= max(tl) - 0.5 * (tl[0] + tl[-1]) - 1e-9  # definition (golden-section refined)
    assert d["losses_curve"][0] == pytest.approx(d["losses_raw"][0], rel=1e-5) and (tmp_path / "c.png").is_file()
    assert main(["connect", a, str(two_models / "other" / "model.safetensors"), "--out", str(tmp_path / "x")]) == 2
    assert "architectures differ" in capsys.readouterr().err
    assert main(["hessian", a, "--data", "moons", "--out", str(tmp_path / "y")]) == 2


def test_landscape_cli_plane_through_three_models(two_models, tmp_path, capsys):
    third = tmp_path / "m3"
    assert main(["train", "--widths", "64,16,10", "--epochs", "1", "--seed", "3", "--out", str(third), "--quiet"]) == 0
    a, b = str(two_models / "m1" / "model.safetensors"), str(two_models / "m2" / "model.safetensors")
    capsys.readouterr()
    assert (
        main(
            [
                "landscape",
                a,
                "--through",
                b,
                "--through",
                str(third / "model.safetensors"),
                "--grid",
                "5",
                "--json",
                "--plot",
                str(tmp_path / "plane.png"),
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert len(d["losses"]) == 5 and len(d["model_coords"]) == 3 and d["max_model_mismatch"] < 1e-5
    assert (tmp_path / "plane.png").is_file()
    assert main(["landscape", a, "--through", b, "--through", b, "--grid", "5", "--out", str(tmp_path / "x")]) == 2
    assert "collinear" in capsys.readouterr().err
    assert main(["landscape", a, "--through", b, "--grid", "5", "--out", str(tmp_path / "y")]) == 2
    assert "exactly two" in capsys.readouterr().err
