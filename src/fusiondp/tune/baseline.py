"""Does a run beat the free public baseline? (`sgd_hybrid`: public information only, no budget.)

Feature-level methods: `sgd_hybrid` on the hybrid training rows (public columns, labels and imputed
sensitive values: everything it reads is public under a feature-level claim), so training it costs no
budget; a private run that scores below it on validation data has bought nothing with its ε.

Record-level methods (`dpsgd`): the training rows' public columns, labels and membership are what the
run protects, so a noise-free baseline trained on them would be an exact membership oracle (removing one
record moves its score). The baseline is then trained on the **public reference rows** only (the table
`dpsgd` fits its preprocessing on), with the defaults rule's settings at *their* size, so every number it
prints is a function of public inputs (docs/privacy.md, "Every released artefact").
"""

from __future__ import annotations

from dataclasses import replace

import torch

from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.models import ModelLike
from fusiondp.train.engine import TrainData, train

BASELINE = "sgd_hybrid"
#: What each kind of run trains its baseline on (printed and written to the report).
TRAINED_ON = {"feature": "hybrid training rows (public under a feature-level claim)",
              "record": "public reference rows only (the training rows are protected by a record-level claim)"}


def _metric(m: dict) -> tuple[str, float]:
    for key in ("auroc", "macro_f1", "accuracy"):
        if key in m:
            return key, float(m[key])
    raise KeyError("no metric")  # pragma: no cover


def public_reference_data(prepared, public_df) -> TrainData:
    """The public reference table encoded with the run's (public) preprocessing, as training views.

    Every view is the reference rows themselves: their true values are public by assumption.
    """
    schema = prepared.pre.schema
    x = torch.from_numpy(prepared.pre.transform(public_df, what="public reference data").copy())
    y = torch.from_numpy(prepared.labels.transform(public_df[schema.target], "public reference data"))
    y = y.float() if prepared.data.n_classes == 2 else y
    return TrainData(x=x, x_hybrid=x.clone(), y=y, n_classes=prepared.data.n_classes)


def public_baseline_check(data: TrainData, val, config: TrainConfig, run_val_metrics: dict, *,
                          tolerance: float = 0.0, model: ModelLike | None = None,
                          level: str = "feature") -> dict:
    """Train `sgd_hybrid` on public rows and compare validation scores.

    Args:
        data: feature-level: the run's training views (only the hybrid view and labels are read);
            record-level: `public_reference_data` (the public reference rows), never the training rows.
        val: (x, y) validation tensors.
        config: the run's resolved config. Feature-level: batch, epochs, lr, seed are reused (no budget is
            involved). Record-level: only the model shape, dropout and seed are kept; the step settings come
            from the defaults rule at the reference table's size, so nothing depends on the training rows.
        run_val_metrics: the run's validation metrics.
        tolerance: the run counts as below the baseline when it scores more than this below it.
        model: the run's model factory (default: the built-in MLP), so both sides train the same architecture.
        level: "feature" or "record" (`MethodSpec.level`).

    Returns:
        ``{"method", "metric", "split", "trained_on", "baseline", "run", "below_public_baseline", "seconds",
        "steps"}``: `seconds` is the baseline's own training time, which the run pays on top of its own.
    """
    if level == "record":
        cfg = TrainConfig(seed=config.seed, hidden=config.hidden, dropout=config.dropout,
                          per_sample=config.per_sample, delta=config.delta)
    else:
        cfg = replace(config, epsilon=None, noise_multiplier=None)
    res = train(BASELINE, data, config=cfg, model=model, progress=False)
    key, base = _metric(classification_metrics(val[1].numpy(), predict_scores(res.model, val[0])))
    own = float(run_val_metrics[key])
    return {"method": BASELINE, "metric": key, "split": "validation", "trained_on": TRAINED_ON[level],
            "baseline": base, "run": own, "below_public_baseline": own < base - tolerance,
            "seconds": round(res.seconds, 2), "steps": res.steps}
