"""Utility metrics: multi-class macro AUROC / macro-F1, and a binary F1 threshold chosen on validation only."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

from fusiondp.data.schema import Schema
from fusiondp.evaluate.metrics import best_f1_threshold, classification_metrics, evaluate_splits
from fusiondp.pipeline import run
from fusiondp.report.html import render_html
from fusiondp.train.config import TrainConfig


def _brute_best_f1(y, s):
    return max(skm.f1_score(y, (s >= t).astype(int), zero_division=0) for t in np.unique(s))


def test_best_f1_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    s = np.clip(0.05 + 0.2 * y + 0.1 * rng.standard_normal(300), 0, 1)
    thr, f1 = best_f1_threshold(y, s)
    assert f1 == pytest.approx(_brute_best_f1(y, s))
    assert skm.f1_score(y, (s >= thr).astype(int)) == pytest.approx(f1)
    assert np.isnan(best_f1_threshold(np.zeros(5, int), np.linspace(0, 1, 5))[0])


def test_imbalanced_binary_f1_is_not_the_fixed_half_cut():
    """All scores below 0.5 on a 10% positive target: F1 at 0.5 would read 0.0; the labelled F1s do not."""
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.1).astype(int)
    s = 0.1 + 0.2 * y * rng.random(500) + 0.05 * rng.random(500)  # informative but all < 0.5
    assert skm.f1_score(y, (s >= 0.5).astype(int), zero_division=0) == 0.0
    thr, _ = best_f1_threshold(y, s)
    m = classification_metrics(y, s, threshold=thr)
    assert m["f1_val_threshold"] > 0.5 and m["f1_best"] > 0.5
    assert m["val_threshold"] == thr < 0.5
    assert "f1" not in m  # no unlabelled F1 at a silent cut
    assert "f1_val_threshold" not in classification_metrics(y, s)  # only when a threshold is given


def test_multiclass_macro_auroc_and_macro_f1():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 400)
    logits = rng.standard_normal((400, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = classification_metrics(y, p)
    assert m["macro_auroc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, p.argmax(1), average="macro"))
    assert m["accuracy"] == pytest.approx((p.argmax(1) == y).mean())


def test_multiclass_majority_collapse_is_visible():
    """A model predicting the majority class for every row: accuracy looks fine, macro-F1 does not."""
    y = np.array([0] * 80 + [1] * 10 + [2] * 10)
    p = np.tile([0.8, 0.1, 0.1], (100, 1))
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((2 * 0.8 / 1.8) / 3)  # class 0 F1 = 0.889, others 0
    assert m["macro_auroc"] == pytest.approx(0.5)


def test_macro_auroc_skips_a_class_absent_from_the_split():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    m = classification_metrics(y, p)
    assert m["macro_auroc"] == pytest.approx(1.0)  # classes 0 and 1; class 2 has no positive here
    assert m["macro_f1"] == pytest.approx(2 / 3)  # class 2 counts, with F1 0 (macro over all K classes)


class _Identity(nn.Module):
    """Logit = the single feature: the score of a row is sigmoid(x)."""

    def forward(self, x):
        return x[:, :1]


def _split(scores, labels):
    s = torch.tensor(scores, dtype=torch.float32)
    return torch.logit(s).reshape(-1, 1), torch.tensor(labels)


def test_threshold_is_chosen_on_validation_and_applied_to_test():
    val = _split([0.1, 0.2, 0.3, 0.4, 0.6, 0.7], [0, 0, 0, 1, 1, 1])  # best cut on val: 0.4
    test = _split([0.1, 0.2, 0.3, 0.35, 0.45, 0.9], [0, 0, 1, 1, 0, 1])  # best cut on test: 0.3
    out = evaluate_splits(_Identity(), {"val": val, "test": test})
    thr = out["val"]["val_threshold"]
    assert thr == pytest.approx(0.4) and out["test"]["val_threshold"] == thr
    assert out["val"]["f1_val_threshold"] == pytest.approx(1.0)
    expected = skm.f1_score([0, 0, 1, 1, 0, 1], [0, 0, 0, 0, 1, 1])  # test scored at the val cut
    assert out["test"]["f1_val_threshold"] == pytest.approx(expected)
    assert out["test"]["f1_best"] == pytest.approx(_brute_best_f1(np.array([0, 0, 1, 1, 0, 1]),
                                                                  np.array([0.1, 0.2, 0.3, 0.35, 0.45, 0.9])))
    assert out["test"]["f1_best"] > out["test"]["f1_val_threshold"]  # the test split did not choose the cut
    only_test = evaluate_splits(_Identity(), {"test": test})["test"]
    assert "f1_val_threshold" not in only_test and "val_threshold" not in only_test


def test_multiclass_run_reports_macro_auroc_in_json_and_page():
    rng = np.random.default_rng(3)
    n = 240
    frame = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n), "s": rng.standard_normal(n)})
    frame["y"] = np.digitize(frame["a"] + 0.5 * frame["s"], [-0.5, 0.5])  # 3 classes
    hybrid = frame.assign(s=0.3 * frame["a"])  # a public guess of s
    cfg = TrainConfig(epochs=1, batch_size=32, public_batch_size=64, delta=1e-4, epsilon=None, noise_multiplier=1.0,
                      accountant="rdp", hidden=(8,))
    torch.set_num_threads(1)
    _, _, rep = run(frame.iloc[:160], hybrid.iloc[:160], Schema("y", ["s"]), method="fusiondp", config=cfg,
                    val_df=frame.iloc[160:200], test_df=frame.iloc[200:], progress=False)
    assert {"macro_auroc", "macro_f1", "accuracy"} <= set(rep["metrics"]["test"])
    page = render_html(rep)
    assert "macro AUROC (one-vs-rest)" in page and "macro-F1" in page
