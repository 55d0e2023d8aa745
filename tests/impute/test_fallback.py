"""The per-column fallback and the chained imputation (issue 16 items 5-6).

Skill is cross-fitted on the public support set only; a column no better than its marginal falls back to
draws from the support marginal; the hybrid (and its recorded skills) never depend on a training row's
sensitive values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.impute import MeanImputer, impute_hybrid
from fusiondp.impute.fallback import SKILL_THRESHOLD

FAST = dict(progress=False, n_trees=10, folds=3, n_jobs=1, boosting_rounds=20)
SCHEMA = Schema(target="y", sensitive=["age", "junk", "grp"], drop=["rowid"])


def table(n: int, seed: int) -> pd.DataFrame:
    """age follows hr closely; junk (numeric) and grp (categorical) are pure noise, independent of everything."""
    rng = np.random.default_rng(seed)
    hr = rng.normal(80, 10, n)
    lab = rng.normal(0, 1, n)
    return pd.DataFrame({"hr": hr, "lab": lab, "age": 40 + 1.5 * (hr - 80) + rng.normal(0, 3, n),
                         "junk": rng.normal(0, 1, n), "grp": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
                         "y": (hr + 5 * lab > 85).astype(int), "rowid": np.arange(n)})


def skills(hybrid) -> dict[str, dict]:
    return {t["task"]: t for t in hybrid.provenance["tasks"]}


@pytest.fixture(scope="module")
def support() -> pd.DataFrame:
    return table(240, 1)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return table(150, 2)


@pytest.fixture(scope="module")
def hybrid(train, support) -> pd.DataFrame:
    return impute_hybrid(train, support, SCHEMA, **FAST)


def test_noise_columns_fall_back_predictable_column_does_not(hybrid, support):
    s = skills(hybrid)
    assert s["age"]["skill"] > 0.8 and not s["age"]["fallback"]
    for noise in ("junk", "grp"):
        assert s[noise]["skill"] <= SKILL_THRESHOLD and s[noise]["fallback"]
    assert hybrid.provenance["fallback_columns"] == ["junk", "grp"]
    # marginal draws: support values, with the support's spread (an imputation would be collapsed)
    assert set(hybrid.frame["junk"]) <= set(support["junk"]) and hybrid.frame["junk"].std() > 0.7
    assert set(hybrid.frame["grp"]) == {"a", "b", "c"}
    assert hybrid.frame["age"].std() > 10  # the imputed column is kept


def test_off_keeps_every_imputation(train, support, hybrid):
    off = impute_hybrid(train, support, SCHEMA, fallback="off", **FAST)
    assert off.provenance["fallback"] == "off" and off.provenance["tasks"] == []
    pd.testing.assert_series_equal(off.frame["age"], hybrid.frame["age"])
    assert off.frame["junk"].std() < 0.3 * support["junk"].std()  # the collapsed imputation the fallback replaces
    assert not set(off.frame["junk"]) <= set(support["junk"])


def test_hybrid_and_skills_independent_of_training_sensitive_values(train, support, hybrid):
    poisoned = train.copy()
    poisoned["age"], poisoned["junk"], poisoned["grp"] = 1e9, -7.0, "poison"
    other = impute_hybrid(poisoned, support, SCHEMA, **FAST)
    pd.testing.assert_frame_equal(hybrid.frame, other.frame, check_exact=True)
    assert hybrid.provenance == other.provenance


def test_skill_is_measured_on_the_support_set_not_on_training_rows(support):
    """Training rows whose junk is a copy of hr: skill on them would be high; on the support set it is not.

    Fails if the skill (or the fallback decision) were computed from the training rows' true values.
    """
    train = table(300, 3)
    train["junk"] = (train["hr"] - 80) / 10  # perfectly predictable on the training rows only
    s = skills(impute_hybrid(train, support, SCHEMA, **FAST))
    assert s["junk"]["skill"] <= SKILL_THRESHOLD and s["junk"]["fallback"]
    assert s["junk"]["rows"] == len(support)
    # ... and the converse: junk predictable on the support set is kept, whatever the training rows hold
    sup = support.assign(junk=(support["hr"] - 80) / 10)
    s = skills(impute_hybrid(train.assign(junk=0.0), sup, SCHEMA, **FAST))
    assert s["junk"]["skill"] > 0.5 and not s["junk"]["fallback"]


def test_mean_imputer_is_not_scored(train, support):
    h = impute_hybrid(train, support, SCHEMA, imputer="mean", progress=False)
    assert h.frame["junk"].nunique() == 1 and h.provenance["tasks"] == []
    assert "not scored" in h.provenance["fallback"]


def test_bad_modes_are_config_errors(train, support):
    with pytest.raises(ConfigError, match="fallback"):
        impute_hybrid(train, support, SCHEMA, fallback="maybe", **FAST)
    with pytest.raises(ConfigError, match="joint"):
        impute_hybrid(train, support, SCHEMA, joint="yes", **FAST)
    with pytest.raises(ConfigError, match="skill_scoring"):
        impute_hybrid(train, support, SCHEMA, skill_scoring="quick", **FAST)


def test_light_skill_scoring_makes_the_same_decisions_and_the_same_imputations(train, support):
    """The light scoring copy (fewer blending folds) only measures skill: the decisions agree with the exact
    copy's, the skills are close, and the imputations (made by the full imputer) are the same."""
    from fusiondp.impute import get_imputer

    kw = {**FAST, "folds": 5, "n_trees": 20}
    light = impute_hybrid(train, support, SCHEMA, skill_scoring="light", **kw)
    full = impute_hybrid(train, support, SCHEMA, skill_scoring="full", **kw)
    a, b = skills(light), skills(full)
    assert {k: v["fallback"] for k, v in a.items()} == {k: v["fallback"] for k, v in b.items()}
    assert all(abs(a[k]["skill"] - b[k]["skill"]) < 0.05 for k in a)
    assert a["age"]["skill"] != b["age"]["skill"]  # the light copy really is another estimate
    assert np.allclose(light.frame["age"], full.frame["age"], atol=1e-9) and light.frame[["junk", "grp"]].equals(full.frame[["junk", "grp"]])
    assert (light.provenance["skill_scoring"], full.provenance["skill_scoring"]) == ("light", "full")
    imp = get_imputer("default", **kw)
    assert (imp.scoring_copy().folds, imp.scoring_copy(light=False).folds, imp.folds) == (3, 5, 5)


class Recorder(MeanImputer):
    """Records the frames its copies predict from (the chain deep-copies the template)."""

    frames: list = []

    def predict(self, X):
        Recorder.frames.append(X.copy())
        return super().predict(X)


def test_chain_reads_earlier_imputed_columns_never_training_values(train, support):
    Recorder.frames = []
    poisoned = train.assign(age=1e9, junk=1e9, grp="poison")
    h = impute_hybrid(poisoned, support, SCHEMA, imputer=Recorder(), progress=False)
    assert h.provenance["joint"].startswith("chained")
    last = [f for f in Recorder.frames if len(f) == len(train)][-1]  # grp's imputer on the training rows
    assert list(last.columns) == ["hr", "lab", "age", "junk"]
    pd.testing.assert_series_equal(last["age"], h.frame["age"])  # imputed values, not the poisoned 1e9
    assert (last["junk"] < 1e8).all()


def dependent(n: int, seed: int) -> pd.DataFrame:
    """role depends on sex ('husband' only with 'm', 'wife' only with 'f'); men marry less often.

    About 60 % are men, married 50 % of men and 90 % of women: the most probable sex is 'm' but the most
    probable role is 'wife' (0.36 vs 0.30 'husband'), so column-by-column argmax imputes ('m', 'wife').
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    sex = np.where(rng.random(n) < 1 / (1 + np.exp(-(0.4 + 0.3 * x))), "m", "f")
    married = rng.random(n) < np.where(sex == "m", 0.5, 0.9)
    role = np.where(married, np.where(sex == "m", "husband", "wife"), "single")
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "sex": sex, "role": role, "y": (x > 0).astype(int)})


def unseen_rate(h: pd.DataFrame, support: pd.DataFrame, cols: list[str]) -> float:
    seen = set(map(tuple, support[cols].to_numpy()))
    return float(np.mean([tuple(r) not in seen for r in h[cols].to_numpy()]))


def test_chain_keeps_imputed_combinations_possible():
    sch = Schema(target="y", sensitive=["sex", "role"])
    support, train = dependent(400, 1), dependent(400, 2)
    chained = impute_hybrid(train, support, sch, fallback="off", **FAST)
    independent = impute_hybrid(train, support, sch, fallback="off", joint="off", **FAST)
    assert unseen_rate(chained.frame, support, ["sex", "role"]) < 0.02
    assert unseen_rate(independent.frame, support, ["sex", "role"]) > 0.2


def test_fallback_draws_keep_combinations_possible():
    """Both columns unpredictable from the public ones: both fall back. Chained, the later one is drawn given
    the earlier one's hybrid value (support rows with that value), so no impossible pair appears; drawn
    independently from the marginals, ('m', 'wife') and ('f', 'husband') pairs do."""
    def unpredictable(n: int, seed: int) -> pd.DataFrame:
        d = dependent(n, seed)
        d["x"] = np.random.default_rng(seed + 100).normal(size=n)  # sex no longer depends on x
        return d

    sch = Schema(target="y", sensitive=["sex", "role"])
    support, train = unpredictable(400, 1), unpredictable(400, 2)
    chained = impute_hybrid(train, support, sch, **FAST)
    assert all(t["fallback"] for t in skills(chained).values())
    independent = impute_hybrid(train, support, sch, joint="off", **FAST)
    assert all(t["fallback"] for t in skills(independent).values())
    assert unseen_rate(chained.frame, support, ["sex", "role"]) == 0.0
    assert unseen_rate(independent.frame, support, ["sex", "role"]) > 0.1
    # the drawn pairs follow the support set's conditional law: no 'husband' among drawn women
    assert not ((chained.frame["sex"] == "f") & (chained.frame["role"] == "husband")).any()


def test_default_builds_are_bit_identical_with_threaded_forests():
    """Two builds with the same seed give the same hybrid to the last bit, also when the forests fit in
    threads (their predictions used to be summed in thread completion order)."""
    from fusiondp.data.synthetic import make_icu

    d = make_icu(n_train=1500, n_support=400, n_val=10, n_test=10, seed=0)
    f = d.frames
    kw = dict(imputer="default", random_state=0, progress=False, n_jobs=2, n_trees=60, folds=3, boosting_rounds=10)
    a = impute_hybrid(f["train"], f["support"], d.schema, **kw)
    b = impute_hybrid(f["train"], f["support"], d.schema, **kw)
    assert a.frame.equals(b.frame) and a.provenance == b.provenance
