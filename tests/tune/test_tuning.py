"""The tuning accountant agrees with dp-accounting; the total never exceeds the budget; settings round-trip."""

import math

import numpy as np
import pytest
import torch
from dp_accounting import dp_event, rdp

from fusiondp.errors import ConfigError
from fusiondp.privacy.accounting import epsilon as run_epsilon
from fusiondp.privacy.accounting import training_event
from fusiondp.train.engine import TrainData
from fusiondp.tune.accounting import compose_epsilon, draw_repetitions, plan_tuning, repeat_select_epsilon
from fusiondp.tune.search import tune
from fusiondp.tune.settings import read_settings, write_settings

Q, T, DELTA = 0.05, 200, 1e-5


def test_repeat_select_matches_dp_accounting():
    for mean, shape in ((4.0, 1.0), (3.0, math.inf), (5.0, 2.0)):
        acc = rdp.RdpAccountant()
        acc.compose(dp_event.RepeatAndSelectDpEvent(training_event(2.0, Q, T), mean, shape))
        assert repeat_select_epsilon(noise_multiplier=2.0, sample_rate=Q, steps=T, delta=DELTA, mean=mean,
                                     shape=shape) == pytest.approx(acc.get_epsilon(DELTA), rel=1e-12)


def test_composition_matches_plain_composition():
    one = run_epsilon(noise_multiplier=2.0, sample_rate=Q, steps=T, delta=DELTA, accountant="rdp")
    k4 = compose_epsilon(noise_multiplier=2.0, sample_rate=Q, steps=T, delta=DELTA, count=4, accountant="rdp")
    # four candidates of T steps are one run of 4T steps
    assert k4 == pytest.approx(run_epsilon(noise_multiplier=2.0, sample_rate=Q, steps=4 * T, delta=DELTA,
                                           accountant="rdp"), rel=1e-9)
    assert one < k4 <= 4 * one


@pytest.mark.parametrize("mode,candidates,shape", [("compose", 6, None), ("repeat", 4.0, 1.0),
                                                   ("repeat", 3.0, math.inf)])
def test_total_never_exceeds_the_budget(mode, candidates, shape):
    p = plan_tuning(target_epsilon=2.0, sample_rate=Q, steps=T, delta=DELTA, mode=mode, candidates=candidates,
                    shape=shape if shape is not None else math.inf, accountant="rdp")
    assert p.total_epsilon <= 2.0 and p.total_epsilon > 1.9  # calibrated close to, never above, the budget
    recomputed = (compose_epsilon(noise_multiplier=p.noise_multiplier, sample_rate=Q, steps=T, delta=DELTA,
                                  count=candidates, accountant="rdp") if mode == "compose" else
                  repeat_select_epsilon(noise_multiplier=p.noise_multiplier, sample_rate=Q, steps=T, delta=DELTA,
                                        mean=candidates, shape=shape))
    assert recomputed == pytest.approx(p.total_epsilon) and recomputed <= 2.0
    assert p.per_candidate_epsilon < p.total_epsilon


def test_repetition_counts_have_the_requested_mean():
    rng = np.random.default_rng(0)
    for shape in (1.0, 2.0, 0.0):
        ks = [draw_repetitions(4.0, shape, rng) for _ in range(4000)]
        assert min(ks) >= 1 and np.mean(ks) == pytest.approx(4.0, rel=0.08)


def test_settings_round_trip(tmp_path):
    p = write_settings(tmp_path / "s.json", "dpsgd", {"clip": 4.0, "lr": 0.3, "hidden": (8, 4)},
                       selection={"total_epsilon": 2.0})
    back = read_settings(p)
    assert back == {"method": "dpsgd", "settings": {"clip": 4.0, "lr": 0.3, "hidden": (8, 4)},
                    "selection": {"total_epsilon": 2.0}}
    with pytest.raises(ConfigError, match="epsilon"):
        write_settings(tmp_path / "bad.json", "dpsgd", {"epsilon": 8.0})
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a fusiondp settings file"):
        read_settings(tmp_path / "x.json")


def _toy(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 3] > 0).float()
    xh = x.clone()
    xh[:, 3] = 0.0
    return TrainData(x=x, x_hybrid=xh, y=y, x_reference=xh[torch.randperm(n, generator=g)]), (x[:100], y[:100].long())


def test_tune_end_to_end_respects_the_total(tmp_path):
    data, val = _toy()
    res = tune("fusiondp", data, val, epsilon=2.0, delta=1e-4, mode="compose", accountant="rdp",
               grid=[dict(alpha=0.25), dict(alpha=1.0)])
    assert res.plan.total_epsilon <= 2.0 and len(res.scores) == 2
    assert res.result.epsilon == pytest.approx(res.plan.per_candidate_epsilon, rel=1e-6)
    assert res.settings["alpha"] in (0.25, 1.0)
    p = write_settings(tmp_path / "t.json", res.method, res.settings, selection=res.selection())
    assert read_settings(p)["selection"]["total_epsilon"] <= 2.0
    with pytest.raises(ConfigError, match="accounted event"):
        tune("fusiondp", data, val, epsilon=2.0, delta=1e-4, mode="compose", accountant="rdp",
             grid=[dict(batch_size=16)])


def test_repeat_mode_releases_no_count():
    data, val = _toy()
    res = tune("dpsgd", data, val, epsilon=2.0, delta=1e-4, mode="repeat", candidates=2.0, shape=1.0,
               grid=[dict(clip=1.0), dict(clip=4.0)], rng=np.random.default_rng(1))
    rec = res.selection()
    assert res.scores == [] and "candidates" not in rec and rec["total_epsilon"] <= 2.0
