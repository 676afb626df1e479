"""The tame claims can fail: each is fed a deliberately wrong implementation or constant and must not hold."""

import dataclasses

import pytest

from tamelab.claims import get_claim
from tamelab.claims._registry import ClaimContext
from tamelab.claims.catalog import attouch2009lojasiewicz as loj
from tamelab.claims.catalog import bolte2021conservative as bp
from tamelab.claims.catalog import de2018convergence as dmu
from tamelab.tame import ad_vs_clarke_examples, check_theorem, estimate_lojasiewicz, lojasiewicz_problems, run_dmu_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CTX = ClaimContext(seed=0, quick=True)

MINE = [
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


@pytest.mark.parametrize("claim_id", MINE)
def test_every_tame_claim_states_its_provenance(claim_id):
    c = get_claim(claim_id)
    assert c.source and c.expected_from in ("paper", "theory", "regression")


def test_lojasiewicz_claim_holds_and_fails_on_a_wrong_estimator_or_constant():
    assert loj.lojasiewicz_check(CTX).holds is True

    def wrong_fstar(F, g, **kw):  # an estimator that mistakes the limit value by 1e-8
        return estimate_lojasiewicz(F, g, **{**kw, "f_star": kw["f_star"] - 1e-8})

    m = loj.lojasiewicz_check(CTX, estimator=wrong_fstar)
    assert m.holds is False and not all(v["agrees"] for v in m.values.values())

    def wrong_theta(seed):  # the quartic's exponent taken as 2/3 (as if it were a cubic)
        pbs = lojasiewicz_problems(seed)
        return [dataclasses.replace(pbs[0], theta=2 / 3)] + pbs[1:]

    m = loj.lojasiewicz_check(CTX, problems=wrong_theta)
    assert m.holds is False and m.values["quartic-2d"]["agrees"] is False


def test_rmsprop_claims_are_not_reproduced_and_fail_on_a_wrong_constant():
    m = dmu.rmsprop_det_check(CTX)
    assert m.holds is None and m.values["violations"] == [] and m.values["slack_min"] > 1  # cannot "hold"

    def wrong_T(*a, **kw):  # the recalled T(eps) 1e4 times too small
        c = check_theorem(*a, **kw)
        c.steps_to_eps = c.steps_to_eps / 1e4
        return c

    m = dmu.rmsprop_det_check(CTX, theorem=wrong_T)
    assert m.holds is False and len(m.values["violations"]) > 0


@pytest.mark.slow
def test_rmsprop_stochastic_claim_fails_on_a_wrong_constant():
    def wrong_bound(*a, **kw):
        c = check_theorem(*a, **kw)
        c.bound_min_grad_norm = c.bound_min_grad_norm * 1e-10
        return c

    assert dmu.rmsprop_stoch_check(CTX).holds is None
    assert dmu.rmsprop_stoch_check(CTX, theorem=wrong_bound).holds is False


def test_adam_claim_fails_on_a_wrong_implementation():
    def momentum_sign_flipped(pb, runs, **kw):  # ascent instead of descent
        return run_dmu_batch(pb, [{**r, "step_size": -r["step_size"], "T": 2000} for r in runs], **kw)

    m = dmu.adam_small_beta1_check(CTX, runner=momentum_sign_flipped)
    assert m.holds is False and m.values["loglog_slope_hit_vs_1_over_eps"] is None


def test_bolte_pauwels_claim_fails_when_the_hull_is_a_literal_or_contains_the_ad_output():
    assert bp.ad_vs_clarke_check(CTX).holds is True

    def literal(*a, **kw):  # the old claim: a hard-coded Clarke set / the AD output put into the hull
        tab = ad_vs_clarke_examples(*a, **kw)
        for r in tab.rows:
            r["sampled_hull_at_0"] = [min(r["ad_at_0"], 1.0), max(r["ad_at_0"], 1.0)]
            r["ad_in_sampled_hull"] = True
        return tab

    assert bp.ad_vs_clarke_check(CTX, examples=literal).holds is False


def test_ddkl_monitor_claim_needs_every_hypothesis_and_fails_on_a_broken_monitor():
    """The old setup (cross-entropy, no weight decay) violates (A1): no verdict (the theorem predicts nothing), where
    the old claim said 'holds'. A monitor that records the stationarity measure in reverse order must fail."""
    from tamelab.claims.catalog import davis2020stochastic as ddkl
    from tamelab.tame import monitored_sgd

    old = ddkl.ddkl_monitor_check(CTX, loss="cross_entropy", weight_decay=0.0, steps=600)
    assert old.holds is None and old.values["verdicts"]["A1"] == "violated"

    def reversed_record(*a, **kw):
        run = monitored_sgd(*a, **kw)
        run.full_grad_norm = run.full_grad_norm[::-1]
        return run

    bad = ddkl.ddkl_monitor_check(CTX, run_fn=reversed_record, steps=600)
    assert all(v == "holds" for v in bad.values["verdicts"].values())
    assert bad.holds is False and bad.values["trend"]["kendall_tau"] > 0


def _fake_study(best_nag_loss, adam_loss, edge=False, lam=(-0.5, -0.1, -0.05, -0.02, -0.01)):
    from tamelab.tame import AdamNagStudy

    def best(loss, g):
        return {
            "lr": 0.1,
            "grid": [0.01, 0.1, 1.0],
            "lr_at_grid_edge": edge,
            "final_train_loss": loss,
            "final_test_loss": loss,
            "final_grad_norm": g,
            "final_train_loss_per_seed": [loss],
            "final_grad_norm_per_seed": [g],
            "final_test_loss_per_seed": [loss],
            "curves": {},
        }

    from tamelab.tame.theorems.de2018autoencoder import _compare

    b = {"adam_b1_0.99": best(adam_loss, 0.05), "nag_0.9": best(best_nag_loss, 0.01)}
    c = _compare(b)
    me = {"epochs": list(range(0, 5 * len(lam), 5)), "lambda_min": list(lam), "converged": [True] * len(lam)}
    from scipy import stats

    kt = stats.kendalltau(me["epochs"], me["lambda_min"])
    me.update(
        kendall=float(kt.statistic),
        kendall_p=float(kt.pvalue),
        increasing_trend=bool(kt.statistic > 0 and kt.pvalue < 0.05),
    )
    return lambda cfg: AdamNagStudy(
        config={"data": "digits", "epochs": 1, "seeds": [0], "hidden": [256], "batch_size": 1},
        widths=[1],
        best=b,
        conclusion=c,
        min_eig={"nag_0.9": me},
    )


def test_adam_vs_nag_claims_verdicts_follow_the_measured_numbers():
    """The three study claims read the study's numbers (here a fixed study): each can hold, fail or abstain."""
    assert dmu.adam_vs_nag_train_check(CTX, study_fn=_fake_study(0.02, 0.01)).holds is True
    assert dmu.adam_vs_nag_train_check(CTX, study_fn=_fake_study(0.01, 0.02)).holds is False
    assert dmu.adam_vs_nag_train_check(CTX, study_fn=_fake_study(0.02, 0.01, edge=True)).holds is None
    assert dmu.nag_grad_norm_check(CTX, study_fn=_fake_study(0.02, 0.01)).holds is True
    assert dmu.nag_min_eig_check(CTX, study_fn=_fake_study(0.02, 0.01)).holds is True
    assert (
        dmu.nag_min_eig_check(CTX, study_fn=_fake_study(0.02, 0.01, lam=(-0.1, -0.3, -0.2, -0.5, -0.4))).holds is False
    )
    assert dmu.nag_min_eig_check(CTX, study_fn=_fake_study(0.02, 0.01, lam=(-0.5, -0.1, -0.01))).holds is None
