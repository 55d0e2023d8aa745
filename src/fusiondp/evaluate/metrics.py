"""Utility metrics: AUROC, AUPR, F1 and accuracy (binary); macro-F1 and accuracy (multi-class)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics as skm
from torch import nn


@torch.no_grad()
def predict_scores(model: nn.Module, x: torch.Tensor, *, batch_size: int = 8192) -> np.ndarray:
    """Class probabilities: shape (N,) of P(y=1) for one-logit models, (N, K) otherwise."""
    was_training = model.training
    model.eval()
    outs = [model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    model.train(was_training)
    logits = torch.cat(outs) if outs else torch.zeros(0, 1)
    if logits.ndim == 1 or logits.shape[1] == 1:
        return torch.sigmoid(logits.reshape(-1)).numpy()
    return torch.softmax(logits, dim=1).numpy()


def classification_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Metrics from true labels and `predict_scores` output."""
    y_true = np.asarray(y_true)
    if scores.ndim == 1:
        pred = (scores >= 0.5).astype(int)
        out = {"accuracy": float(skm.accuracy_score(y_true, pred)),
               "f1": float(skm.f1_score(y_true, pred, zero_division=0))}
        if len(np.unique(y_true)) == 2:
            out["auroc"] = float(skm.roc_auc_score(y_true, scores))
            out["aupr"] = float(skm.average_precision_score(y_true, scores))
        return out
    pred = scores.argmax(1)
    return {"accuracy": float(skm.accuracy_score(y_true, pred)),
            "macro_f1": float(skm.f1_score(y_true, pred, average="macro", zero_division=0))}
