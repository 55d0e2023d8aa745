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
* ``sha256``: one digest over this whole JSON document and every tensor (`fusiondp._sealed`),
  so a corrupted or edited file (a changed ε as much as a changed weight) is refused.

On load the document is also checked against its schema (`check_metadata`): every field
present with the right type, the architecture consistent with the preprocessing and the
label classes, scales finite and positive. A file that fails is refused with the field named.

>>> import fusiondp.io as fio
>>> fio.FORMAT_VERSION
2
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fusiondp import __version__
from fusiondp._files import write_file
from fusiondp._sealed import SealError, pack, read_meta, unpack
from fusiondp.data.preprocess import ple_width
from fusiondp.errors import DataError, ModelFileError, UnsupportedError

FORMAT = "fusiondp-model"
FORMAT_VERSION = 2
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
    from fusiondp.privacy.randomness import randomness_text

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
            epsilon_by_relation(acct, spec.other_relations(acct.relation), private_view=spec.private_view,
                                level=spec.level) if acct else {}),
        "randomness": randomness_text(getattr(result, "secure_randomness", True),
                                      csprng=bool(getattr(cfg, "secure_rng", False))) if spec.is_private else None,
        "rng": report.get("rng"),
        "training_rows_text": report.get("training_rows_text"),
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


def _plain(value):
    """JSON-friendly copy (numpy scalars → Python numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def to_bytes(result, prepared, report: dict | None = None) -> bytes:
    """The bytes of the model file `save` writes (so a caller can write it together with other outputs)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in result.model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fusiondp_version": __version__,
        "architecture": _architecture(result, prepared),
        "preprocessor": _plain(prepared.pre.to_dict()),
        "label_classes": _plain(list(prepared.labels.classes)),
        "schema": prepared.pre.schema.to_dict(),
        "privacy": _plain(privacy_record(result, report)),
        "config": _plain(result.config.to_dict()),
        "metrics": _plain((report or {}).get("metrics", {})),
    }
    check_metadata(meta)
    return pack(tensors, meta, key=_META_KEY)


def save(path: str | Path, result, prepared, report: dict | None = None) -> Path:
    """Write a trained run to `path` (a single ``.safetensors`` file, atomically); returns the path.

    Args:
        path: destination file; parent folders are created.
        result: the `TrainResult` of `fusiondp.pipeline.run`.
        prepared: the `Prepared` of the same run (preprocessing and labels).
        report: the run's report dict; its ``metrics``, ``accountant``, ``imputer`` and
            ``support_fingerprint`` entries are kept when present.

    Raises:
        OutputError: the file could not be written (nothing is left behind).
    """
    return write_file(Path(path), to_bytes(result, prepared, report))


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


def _need(cond: bool, field_name: str, what: str) -> None:
    if not cond:
        raise ValueError(f"metadata field {field_name!r} {what}")


def _is_str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(c, str) for c in v)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_metadata(meta: dict) -> None:
    """Check a model's JSON document against its schema; raise ValueError naming the first bad field.

    Checked: the architecture (MLP, positive sizes, dropout in [0, 1)); the preprocessor (column lists,
    a finite mean and a finite scale > 0 for every numeric column, a non-empty category list for every
    categorical one, numeric + categorical = columns, strictly increasing bin edges for every numeric column
    of a 'ple' encoding and none otherwise); the feature count implied by the preprocessor (one feature per
    'ple' bin) equals
    the architecture's input size; two or more distinct label classes matching the output size; a privacy
    record with a method and a finite ε >= 0 (or none), δ in [0, 1) (or none).
    """
    arch = meta.get("architecture")
    _need(isinstance(arch, dict) and arch.get("type") == "MLP", "architecture", "is not a known architecture")
    for k in ("n_features", "n_outputs"):
        _need(isinstance(arch.get(k), int) and arch[k] >= 1, f"architecture.{k}", "is not a positive integer")
    _need(isinstance(arch.get("hidden"), list) and all(isinstance(h, int) and h >= 1 for h in arch["hidden"]),
          "architecture.hidden", "is not a list of positive integers")
    _need(_finite(arch.get("dropout")) and 0 <= arch["dropout"] < 1, "architecture.dropout", "is not in [0, 1)")
    pre = meta.get("preprocessor")
    _need(isinstance(pre, dict), "preprocessor", "is missing")
    cols, numeric, cats = pre.get("columns"), pre.get("numeric"), pre.get("categories")
    _need(_is_str_list(cols) and len(cols) > 0 and len(set(cols)) == len(cols), "preprocessor.columns",
          "is not a non-empty list of distinct names")
    _need(_is_str_list(numeric), "preprocessor.numeric", "is not a list of names")
    _need(isinstance(cats, dict) and all(_is_str_list(v) and v for v in cats.values()),
          "preprocessor.categories", "is not a map of non-empty category lists")
    _need(set(numeric) | set(cats) == set(cols) and len(numeric) + len(cats) == len(cols), "preprocessor.columns", "do not match its numeric and categorical lists")
    for k in ("mean", "scale"):
        _need(isinstance(pre.get(k), dict) and set(pre[k]) == set(numeric) and all(map(_finite, pre[k].values())),
              f"preprocessor.{k}", "does not hold a finite number for every numeric column")
    _need(all(v > 0 for v in pre["scale"].values()), "preprocessor.scale", "holds a scale <= 0")
    sch = pre.get("schema")
    _need(isinstance(sch, dict) and isinstance(sch.get("target"), str) and _is_str_list(sch.get("sensitive"))
          and set(sch["sensitive"]) <= set(cols), "preprocessor.schema", "is not a schema of these columns")
    indicators = pre.get("indicators") or []  # one missingness feature per listed numeric column
    _need(_is_str_list(indicators) and set(indicators) <= set(numeric), "preprocessor.indicators",
          "is not a list of numeric columns")
    edges = pre.get("edges") or {}  # 'ple': one feature per bin between strictly increasing edges
    _need(isinstance(edges, dict) and set(edges) <= set(numeric)
          and all(isinstance(e, list) and e and all(map(_finite, e)) and all(a < b for a, b in zip(e, e[1:]))
                  for e in edges.values()),
          "preprocessor.edges", "is not a map of numeric columns to strictly increasing finite bin edges")
    rep = pre.get("representation") or {}
    _need(isinstance(rep, dict) and set(edges) == (set(numeric) if rep.get("numeric") == "ple" else set()),
          "preprocessor.edges", "do not match the representation's numeric encoding (one list per numeric "
          "column for 'ple', none otherwise)")
    width = sum(len(cats[c]) if c in cats else ple_width(edges[c]) if c in edges else 1 for c in cols) \
        + len(indicators)
    _need(width == arch["n_features"], "architecture.n_features",
          f"is {arch['n_features']} but the preprocessor produces {width} features")
    classes = meta.get("label_classes")
    _need(isinstance(classes, list) and len(classes) >= 2 and len({json.dumps(c) for c in classes}) == len(classes),
          "label_classes", "is not a list of two or more distinct classes")
    _need(arch["n_outputs"] == (1 if len(classes) == 2 else len(classes)), "architecture.n_outputs",
          f"does not fit {len(classes)} label classes")
    priv = meta.get("privacy")
    _need(isinstance(priv, dict) and isinstance(priv.get("method"), str), "privacy", "lacks the method")
    for k in ("epsilon", "delta", "relation", "steps"):
        _need(k in priv, f"privacy.{k}", "is missing")
    _need(priv["epsilon"] is None or (_finite(priv["epsilon"]) and priv["epsilon"] >= 0), "privacy.epsilon",
          "is not a finite number >= 0")
    _need(priv["delta"] is None or (_finite(priv["delta"]) and 0 <= priv["delta"] < 1), "privacy.delta",
          "is not in [0, 1)")


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"Model path {path} is a folder, not a model file.")
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelFileError(f"Cannot read model file {path}: {e.strerror}.") from None


def _check_format(path: Path, meta: dict) -> None:
    if meta.get("format") != FORMAT:
        raise _fail(path, f"unexpected format marker {meta.get('format')!r}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(path, f"format version {version!r}; this fusiondp {__version__} reads version {FORMAT_VERSION}"
                    + (" (saved by a newer fusiondp: upgrade)" if isinstance(version, int) and
                       version > FORMAT_VERSION else " (saved by an older fusiondp: save it again)"))


def read_metadata(path: str | Path) -> dict:
    """The JSON document of a saved model, checked for format and version (weights and digest not read)."""
    path = Path(path)
    try:
        meta = read_meta(_read_bytes(path), key=_META_KEY)
    except SealError as e:
        raise _fail(path, str(e)) from None
    _check_format(path, meta)
    return meta


def load(path: str | Path) -> SavedModel:
    """Read a model written by `save`, checking its digest (metadata and tensors) and its metadata schema.

    Raises:
        ModelFileError: the file is missing, not a fusiondp model, corrupted or edited, inconsistent, or of
            another format version.
    """
    from fusiondp.data.preprocess import Preprocessor
    from fusiondp.train.models import MLP

    path = Path(path)
    data = _read_bytes(path)
    try:
        _check_format(path, read_meta(data, key=_META_KEY))
        meta, tensors = unpack(data, key=_META_KEY)
    except SealError as e:
        raise _fail(path, str(e)) from None
    try:
        check_metadata(meta)
    except ValueError as e:
        raise _fail(path, str(e)) from None
    arch = meta["architecture"]
    try:
        model = MLP(int(arch["n_features"]), tuple(arch["hidden"]), int(arch["n_outputs"]), float(arch["dropout"]))
        model.load_state_dict(tensors)
        pre = Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise _fail(path, f"its architecture or preprocessing does not fit its weights ({type(e).__name__})") \
            from None
    model.eval()
    return SavedModel(model=model, pre=pre, classes=list(meta["label_classes"]), privacy=meta["privacy"],
                      metadata=meta)
