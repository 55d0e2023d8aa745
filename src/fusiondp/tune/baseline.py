"""Does a run beat the free public baseline? (`sgd_hybrid`: public columns + imputed sensitive ones, ε = 0.)

`sgd_hybrid` never reads a sensitive value, so training it costs no feature-level budget; a private run that
scores below it on validation data has bought nothing with its ε, and the report says so.
"""

from __future__ import annotations

from dataclasses import replace

from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.models import ModelLike
from fusiondp.train.engine import TrainData, train

BASELINE = "sgd_hybrid"


def _metric(m: dict) -> tuple[str, float]:
    for key in ("auroc", "macro_f1", "accuracy"):
        if key in m:
            return key, float(m[key])
    raise KeyError("no metric")  # pragma: no cover


def public_baseline_check(data: TrainData, val, config: TrainConfig, run_val_metrics: dict, *,
                          tolerance: float = 0.0, model: ModelLike | None = None) -> dict:
    """Train `sgd_hybrid` with the run's (resolved) step settings and compare validation scores.

    Args:
        data: the run's training views (only the hybrid view and labels are read).
        val: (x, y) validation tensors.
        config: the run's resolved config (batch, epochs, lr, seed are reused; no budget is involved).
        run_val_metrics: the run's validation metrics.
        tolerance: the run counts as below the baseline when it scores more than this below it.
        model: the run's model factory (default: the built-in MLP), so both sides train the same architecture.

    Returns:
        ``{"method", "metric", "baseline", "run", "below_public_baseline", "seconds", "steps"}``: `seconds` is
        the baseline's own training time, which the run pays on top of its own (issue 26: made visible).
    """
    cfg = replace(config, epsilon=None, noise_multiplier=None)
    res = train(BASELINE, data, config=cfg, model=model, progress=False)
    key, base = _metric(classification_metrics(val[1].numpy(), predict_scores(res.model, val[0])))
    own = float(run_val_metrics[key])
    return {"method": BASELINE, "metric": key, "split": "validation", "baseline": base, "run": own,
            "below_public_baseline": own < base - tolerance, "seconds": round(res.seconds, 2), "steps": res.steps}
