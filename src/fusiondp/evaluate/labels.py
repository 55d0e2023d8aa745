"""Display names and order of the metric keys of `fusiondp.evaluate.metrics` (no torch import, so
reports and pages can use them cheaply)."""

#: Display name of every metric key, for reports, pages and console tables.
METRIC_LABELS = {
    "auroc": "AUROC", "aupr": "AUPR", "f1_val_threshold": "F1 @ val threshold", "f1_best": "best F1 (curve point)",
    "val_threshold": "val threshold", "accuracy": "accuracy", "macro_auroc": "macro AUROC (one-vs-rest)",
    "macro_f1": "macro-F1",
}
#: Order in which metrics are shown.
METRIC_ORDER = ["auroc", "macro_auroc", "aupr", "f1_val_threshold", "f1_best", "macro_f1", "accuracy",
                "val_threshold"]
