"""Utility metrics of a trained classifier.

Binary targets: AUROC, AUPR, accuracy (at score 0.5), and F1 in two labelled
forms, never as an unlabelled F1 at a fixed 0.5 cut (which reads 0.0 on an
imbalanced target whose scores all stay below 0.5):

- ``f1_best``: the best F1 over every threshold of *this* split's scores (the
  best point of its precision-recall curve). An optimistic, oracle-threshold
  figure, useful to compare methods; it is not what a deployed model gets.
- ``f1_val_threshold``: F1 at ``val_threshold``, the threshold that maximises
  F1 on the *validation* split, applied unchanged to every split. This is the
  deployable figure. The threshold is chosen on validation rows only (they are
  not training rows, so choosing on them spends no privacy budget) and never on
  the test split.

Multi-class targets: accuracy, ``macro_f1`` (arg-max prediction) and
``macro_auroc`` (one-vs-rest AUROC averaged over the classes that occur in the
split with both positives and negatives).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics as skm
from torch import nn

from fusiondp.evaluate.labels import METRIC_LABELS, METRIC_ORDER

__all__ = ["METRIC_LABELS", "METRIC_ORDER", "best_f1_threshold", "classification_metrics", "evaluate_splits",
           "predict_scores"]

@torch.no_grad()
def predict_scores(model: nn.Module, x: torch.Tensor, *, batch_size: int = 8192) -> np.ndarray:
    """Class probabilities: shape (N,) of P(y=1) for one-logit models, (N, K) otherwise."""
    was_training = model.training
    model.eval()
    outs = [model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    model.train(was_training)
    logits = torch.cat(outs).cpu() if outs else torch.zeros(0, 1)  # a model on a GPU: metrics on the CPU
    if logits.ndim == 1 or logits.shape[1] == 1:
        return torch.sigmoid(logits.reshape(-1)).numpy()
    return torch.softmax(logits, dim=1).numpy()


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of the best F1 over all cut points of `scores` (predict positive when score >= threshold).

    Returns (nan, nan) when `y_true` has no positive (F1 is undefined there).

    >>> best_f1_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    (0.3, 1.0)
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    if y_true.sum() == 0:
        return float("nan"), float("nan")
    precision, recall, thresholds = skm.precision_recall_curve(y_true, scores)
    # precision/recall have one more entry than thresholds (the last point, recall 0, has no threshold).
    p, r = precision[:-1], recall[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    i = int(np.argmax(f1))
    return float(thresholds[i]), float(f1[i])


def _macro_auroc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """One-vs-rest AUROC averaged over classes present with both positives and negatives (None if none is)."""
    values = [skm.roc_auc_score(y_true == k, scores[:, k]) for k in range(scores.shape[1])
              if 0 < int((y_true == k).sum()) < len(y_true)]
    return float(np.mean(values)) if values else None


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, *,
                           threshold: float | None = None) -> dict[str, float]:
    """Metrics from true labels and `predict_scores` output.

    `threshold` (binary only): a decision threshold chosen elsewhere, normally
    on the validation split (`best_f1_threshold`); when given, the result holds
    ``f1_val_threshold`` and ``val_threshold``. Without it, F1 appears only as
    the labelled ``f1_best`` curve point.

    >>> m = classification_metrics(np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4]), threshold=0.35)
    >>> m["f1_best"], m["f1_val_threshold"], m["auroc"]
    (1.0, 1.0, 1.0)
    >>> m = classification_metrics(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 2, 1]])
    >>> m["accuracy"], m["macro_auroc"]
    (0.75, 0.8611111111111112)
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        out = {"accuracy": float(skm.accuracy_score(y_true, (scores >= 0.5).astype(int)))}
        if len(np.unique(y_true)) == 2:
            out["auroc"] = float(skm.roc_auc_score(y_true, scores))
            out["aupr"] = float(skm.average_precision_score(y_true, scores))
        out["f1_best"] = best_f1_threshold(y_true, scores)[1]
        if threshold is not None and np.isfinite(threshold):
            out["f1_val_threshold"] = float(skm.f1_score(y_true, (scores >= threshold).astype(int), zero_division=0))
            out["val_threshold"] = float(threshold)
        return out
    pred = scores.argmax(1)
    out = {"accuracy": float(skm.accuracy_score(y_true, pred)),
           "macro_f1": float(skm.f1_score(y_true, pred, average="macro", labels=np.arange(scores.shape[1]),
                                          zero_division=0))}
    auroc = _macro_auroc(y_true, scores)
    if auroc is not None:
        out["macro_auroc"] = auroc
    return out


def evaluate_splits(model: nn.Module, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], *,
                    threshold_split: str = "val") -> dict[str, dict[str, float]]:
    """Metrics of `model` on each split; a binary decision threshold is chosen on `threshold_split` only.

    `splits` maps a name to (features, labels). When `threshold_split` is among
    them and the target is binary, the F1-maximising threshold on that split is
    applied to every split (``f1_val_threshold``); the test split never chooses it.
    """
    scores = {name: predict_scores(model, x) for name, (x, _) in splits.items()}
    threshold = None
    if threshold_split in splits and scores[threshold_split].ndim == 1:
        threshold = best_f1_threshold(splits[threshold_split][1].numpy(), scores[threshold_split])[0]
    return {name: classification_metrics(y.numpy(), scores[name], threshold=threshold)
            for name, (_, y) in splits.items()}
