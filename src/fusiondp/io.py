"""Saved models: weights, preprocessing, schema and the full privacy record in one file.

The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
model's tensors, plus one JSON document in the header metadata under the key
``fusiondp``. Nothing is pickled, so loading a file never runs code from it.

The JSON document holds:

* ``format`` (always ``"fusiondp-model"``) and ``format_version`` (checked on load);
* ``architecture``: what `load` needs to rebuild the network (the tabular MLP);
* ``preprocessor``: the fitted (public) scaling, fills and category lists;
* ``label_classes`` and ``schema``;
* ``privacy``: the privacy record: method, ε spent, δ, neighbouring relation and
  its plain-words meaning, accountant, σ, q, steps, clipping norm C, C_h, α, β,
  what happens to labels, the dp-accounting event, the imputer's name and a
  fingerprint of the support set when known;
* ``weights_sha256``: a digest of the tensors, so a corrupted file is refused.

>>> import fusiondp.io as fio
>>> fio.FORMAT_VERSION
1
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fusiondp import __version__
from fusiondp.errors import DataError, ModelFileError, UnsupportedError

FORMAT = "fusiondp-model"
FORMAT_VERSION = 1
_META_KEY = "fusiondp"


def support_fingerprint(support: pd.DataFrame) -> str:
    """A stable SHA-256 of a support set's content (column names and values, not the index).

    >>> support_fingerprint(pd.DataFrame({"a": [1, 2]})) == support_fingerprint(pd.DataFrame({"a": [1, 2]}))
    True
    """
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, support.columns)).encode())
    h.update(pd.util.hash_pandas_object(support, index=False).to_numpy().tobytes())
    return "sha256:" + h.hexdigest()


def privacy_record(result, report: dict | None = None) -> dict:
    """The privacy record of a trained run (`TrainResult`), completed from its report when given.

    ε is ``None`` for `sgd_ori` (no guarantee at all, not "ε = 0"); the ε = 0 methods
    (`sgd_hybrid`, `sgd_pub`) read no sensitive value and record 0.
    """
    from fusiondp.privacy.accounting import epsilon_by_relation, relation_text
    from fusiondp.privacy.randomness import INSECURE_TEXT, SECURE_TEXT

    spec, acct, cfg = result.method, result.plan, result.config
    report = report or {}
    if spec.is_private:
        eps = float(result.epsilon)
    else:
        eps = None if "original" in spec.views else 0.0
    record = {
        "method": spec.name,
        "method_summary": spec.summary,
        "level": spec.level,
        "epsilon": eps,
        "target_epsilon": acct.target_epsilon if acct else None,
        "delta": acct.delta if acct else None,
        "relation": acct.relation if acct else None,
        "relation_text": relation_text(acct.relation, private_view=spec.private_view, level=spec.level) if acct else (
            "no formal privacy guarantee" if eps is None else
            "sensitive features are never read: feature-level epsilon = 0"),
        "accountant": report.get("accountant") or (acct.accountant if acct else None),
        "noise_multiplier": acct.noise_multiplier if acct else None,
        "sample_rate": acct.sample_rate if acct else None,
        "steps": int(result.steps),
        "clip": cfg.clip if spec.is_private else None,
        "ch": result.ch,
        "alpha": cfg.alpha if spec.is_private else None,
        "beta": cfg.beta if spec.consistency or spec.mix == "convex" else None,
        "labels": report.get("labels") or (
            "labels are protected (record-level DP)" if spec.level == "record" and not spec.public_rows
            else "labels are read in the clear and get no protection"),
        "epsilon_by_relation": report.get("epsilon_by_relation") or (
            {r: {**v, "text": relation_text(r, private_view=spec.private_view, level=spec.level)}
             for r, v in epsilon_by_relation(acct, spec.other_relations(acct.relation)).items()} if acct else {}),
        "randomness": ((SECURE_TEXT if getattr(result, "secure_randomness", True) else INSECURE_TEXT)
                       if spec.is_private else None),
        "preprocessing_fitted_on": report.get("preprocessing_fitted_on"),
        "unprotected_rows": report.get("unprotected_rows"),
        "dp_event": acct.event_json() if acct else None,
        "imputer": report.get("imputer"),
        "support_fingerprint": report.get("support_fingerprint"),
    }
    return record


def _architecture(result, prepared) -> dict:
    from fusiondp.train.models import MLP

    if type(result.model) is not MLP:
        raise UnsupportedError(f"Saving supports the built-in MLP only, not {type(result.model).__name__}: a custom "
                               "model cannot be stored in a fusiondp model file; save its state_dict yourself "
                               "together with `fusiondp.io.privacy_record(result)` (docs/custom_models.md).")
    n_classes = len(prepared.labels.classes)
    return {"type": "MLP", "n_features": int(prepared.pre.n_features), "hidden": list(result.model.hidden),
            "n_outputs": 1 if n_classes == 2 else n_classes, "dropout": float(result.model.dropout_p)}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _plain(value):
    """JSON-friendly copy (numpy scalars → Python numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def save(path: str | Path, result, prepared, report: dict | None = None) -> Path:
    """Write a trained run to `path` (a single ``.safetensors`` file); returns the path.

    Args:
        path: destination file; parent folders are created.
        result: the `TrainResult` of `fusiondp.pipeline.run`.
        prepared: the `Prepared` of the same run (preprocessing and labels).
        report: the run's report dict; its ``metrics``, ``accountant``, ``imputer`` and
            ``support_fingerprint`` entries are kept when present.
    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in result.model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fusiondp_version": __version__,
        "architecture": _architecture(result, prepared),
        "preprocessor": prepared.pre.to_dict(),
        "label_classes": _plain(list(prepared.labels.classes)),
        "schema": prepared.pre.schema.to_dict(),
        "privacy": _plain(privacy_record(result, report)),
        "config": _plain(result.config.to_dict()),
        "metrics": _plain((report or {}).get("metrics", {})),
        "weights_sha256": _digest(tensors),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta, allow_nan=True)})
    tmp.replace(path)
    return path


@dataclass
class SavedModel:
    """A loaded model: network, preprocessing, label classes, schema and privacy record.

    >>> # m = fusiondp.io.load("model.safetensors"); m.predict_proba(frame); m.privacy["epsilon"]
    """

    model: torch.nn.Module
    pre: object
    classes: list
    privacy: dict
    metadata: dict = field(repr=False)

    @property
    def schema(self):
        return self.pre.schema

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (rows, classes), columns in the order of `classes`."""
        from fusiondp.evaluate.metrics import predict_scores

        missing = [c for c in self.pre.columns if c not in frame.columns]
        if missing:
            raise DataError(f"Column(s) {', '.join(map(repr, missing))} needed by the model are not in the data; "
                            f"it expects {', '.join(self.pre.columns)}.")
        x = torch.from_numpy(self.pre.transform(frame, what="prediction data"))
        scores = predict_scores(self.model, x)
        return np.stack([1 - scores, scores], axis=1) if scores.ndim == 1 else scores

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The most probable class of each row (original label values)."""
        proba = self.predict_proba(frame)
        return np.asarray(self.classes, dtype=object)[proba.argmax(1)]


def _fail(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a usable fusiondp model file: {why}")


def read_metadata(path: str | Path) -> dict:
    """The JSON document of a saved model, checked for format and version (weights not read)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(_META_KEY)
    except Exception as e:  # safetensors raises its own error types for foreign or truncated files
        raise _fail(path, f"not a safetensors file or truncated ({type(e).__name__}: {e})") from None
    if raw is None:
        raise _fail(path, "a safetensors file without fusiondp metadata (saved by another program?)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise _fail(path, f"its fusiondp metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"unexpected format marker {meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(path, f"format version {version!r}; this fusiondp {__version__} reads version {FORMAT_VERSION}"
                    + (" (saved by a newer fusiondp: upgrade)" if isinstance(version, int) and
                       version > FORMAT_VERSION else ""))
    for key in ("architecture", "preprocessor", "label_classes", "privacy", "weights_sha256"):
        if key not in meta:
            raise _fail(path, f"its metadata lacks {key!r}")
    return meta


def load(path: str | Path) -> SavedModel:
    """Read a model written by `save`.

    Raises:
        ModelFileError: the file is missing, not a fusiondp model, corrupted, or of another format version.
    """
    from safetensors.torch import load_file

    from fusiondp.data.preprocess import Preprocessor
    from fusiondp.train.models import MLP

    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except Exception as e:
        raise _fail(path, f"its tensors cannot be read ({type(e).__name__}: {e})") from None
    if _digest(tensors) != meta["weights_sha256"]:
        raise _fail(path, "its weights do not match the recorded digest (corrupted or modified)")
    arch = meta["architecture"]
    if arch.get("type") != "MLP":
        raise _fail(path, f"unknown architecture {arch.get('type')!r}")
    try:
        model = MLP(int(arch["n_features"]), tuple(arch["hidden"]), int(arch["n_outputs"]), float(arch["dropout"]))
        model.load_state_dict(tensors)
        pre = Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise _fail(path, f"its architecture or preprocessing does not fit its weights ({e})") from None
    model.eval()
    return SavedModel(model=model, pre=pre, classes=list(meta["label_classes"]), privacy=meta["privacy"],
                      metadata=meta)
