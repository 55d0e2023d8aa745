"""Saved models: weights, preprocessing, schema and the full privacy record in one file.

The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
model's tensors, plus one JSON document in the header metadata under the key
``fusiondp``. Nothing is pickled, so loading a file never runs code from it.

The JSON document holds:

* ``format`` (always ``"fusiondp-model"``) and ``format_version`` (checked on load);
* ``architecture``: what `load` needs to rebuild the released module: the tabular MLP (``MLP``), the
  tree learner's ensemble (``TreeEnsemble``: public bin edges, split features and thresholds, leaf values,
  base margin; ``n_outputs`` 1 for a binary target, K for K ≥ 3 classes, the trees then in rounds of K)
  or a blend (``Blend``: both parts, an MLP or a tree ensemble each, their tensors under
  ``trees.`` and ``network.``, and the weight w as the tensor ``weight``);
* ``preprocessor``: the fitted (public) scaling, fills and category lists;
* ``label_classes`` and ``schema``;
* ``privacy``: the privacy record: method, ε spent, δ, neighbouring relation and
  its plain-words meaning, accountant, σ, q, steps, clipping norm C, C_h, α, β,
  what happens to labels, the dp-accounting event, the imputer's name and a
  fingerprint of the support set when known; for a blend, the composed event's ε under both
  relations and a ``blend`` entry with σ_t, σ_m, their calibration and the weight w; when the release
  guard ran, a ``release`` entry naming what the file holds (the private model, a free model, or the
  private network blended with the free tree public stage and that blend's weight);
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
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fusiondp import __version__
from fusiondp._files import check_input, write_file
from fusiondp._sealed import _MAX_HEADER, SealError, pack, read_meta, unpack
from fusiondp.data.preprocess import ple_width
from fusiondp.errors import ConfigError, DataError, ModelFileError, UnsupportedError

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


def run_record(result, prepared=None, report=None):
    """The run record (`fusiondp.report.record.RunRecord`) of a trained run.

    `report` is the record `fusiondp.pipeline.run` returned (used as is), or, for callers of older versions,
    a report dict whose ``imputer``, ``imputation``, ``support_fingerprint``, ``unprotected_rows`` and
    ``metrics`` entries are kept; the privacy statement is always computed from `result`.
    """
    from fusiondp.report.record import Provenance, RunRecord

    if isinstance(report, RunRecord):
        return report
    report = report or {}
    provenance = Provenance(imputer=report.get("imputer"), imputation=report.get("imputation"),
                            support_fingerprint=report.get("support_fingerprint"),
                            unprotected_rows=report.get("unprotected_rows"))
    return RunRecord.build(result, prepared, provenance=provenance, metrics=report.get("metrics"))


def privacy_record(result, report=None) -> dict:
    """The privacy record of a trained run (`TrainResult`): `RunRecord.privacy_record` of its run record.

    ε is ``None`` for `sgd_ori` (no guarantee at all, not "ε = 0"); the ε = 0 methods
    (`sgd_hybrid`, `sgd_pub`) read no sensitive value and record 0.
    """
    return run_record(result, None, report).privacy_record()


def _part_architecture(model, n_features: int, n_outputs: int) -> dict:
    """The architecture entry of one released module: the built-in MLP or the tree ensemble."""
    from fusiondp.train.models import MLP
    from fusiondp.trees.model import TreeEnsembleModel

    if type(model) is MLP:
        return {"type": "MLP", "n_features": n_features, "hidden": list(model.hidden), "n_outputs": n_outputs,
                "dropout": float(model.dropout_p)}
    if type(model) is TreeEnsembleModel:
        return {"type": "TreeEnsemble", "n_features": n_features, "n_outputs": model.n_outputs,
                "n_trees": int(model.feature.shape[0]), "depth": int(model.depth),
                "n_edges": int(model.edges.shape[1])}
    raise UnsupportedError(f"Saving supports the built-in MLP, the tree ensemble and their blend only, not "
                           f"{type(model).__name__}: a custom model cannot be stored in a fusiondp model file; save "
                           "its state_dict yourself together with `fusiondp.io.privacy_record(result)` "
                           "(docs/custom_models.md).")


def _architecture(result, prepared) -> dict:
    """What `load` needs to rebuild the released module: an MLP, a tree ensemble (``--learner trees``) or a
    blend of two such parts (``--learner blend``; its tensors are the parts' under ``trees.`` and
    ``network.``, and the weight w)."""
    from fusiondp.blend import BlendModel

    n_classes = len(prepared.labels.classes)
    n_features, n_outputs = int(prepared.pre.n_features), 1 if n_classes == 2 else n_classes
    model = result.model
    if type(model) is BlendModel:
        return {"type": "Blend", "n_features": n_features, "n_outputs": 1,
                "parts": {name: _part_architecture(getattr(model, name), n_features, 1)
                          for name in ("trees", "network")}}
    return _part_architecture(model, n_features, n_outputs)


def _plain(value):
    """JSON-friendly copy (numpy scalars → Python numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def to_bytes(result, prepared, report: dict | None = None) -> bytes:
    """The bytes of the model file `save` writes (so a caller can write it together with other outputs)."""
    record = run_record(result, prepared, report)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in result.model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fusiondp_version": __version__,
        "architecture": _architecture(result, prepared),
        "preprocessor": _plain(prepared.pre.to_dict()),
        "label_classes": _plain(list(prepared.labels.classes)),
        "schema": prepared.pre.schema.to_dict(),
        "privacy": _plain(record.privacy_record()),
        "config": _plain(dict(record.settings)),
        "metrics": _plain(dict(record.metrics)),
    }
    check_metadata(meta)
    return pack(tensors, meta, key=_META_KEY)


def check_model_destination(path: str | Path) -> Path:
    """Refuse (ConfigError) a model destination that exists and is not a fusiondp model file.

    The rule: a model may be written to a new path, or over an earlier fusiondp model (its header names the
    ``fusiondp-model`` format), nothing else: not over a table, a report, another program's ``.safetensors``
    file, a folder or a special file. Only the file's header is read.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return path
    if path.is_dir():
        raise ConfigError(f"The model path {path} is a folder; give a file name.")
    why = None
    if not path.is_file():
        why = "it is not a regular file"
    else:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
                n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
                body = f.read(n) if 0 <= n <= _MAX_HEADER else b""
            if read_meta(head + body, key=_META_KEY).get("format") != FORMAT:
                why = "it is not a fusiondp model"
        except SealError:
            why = "it is not a fusiondp model"
        except OSError as e:
            why = f"it cannot be read ({e.strerror})"
    if why is not None:
        raise ConfigError(f"{path} exists and {why}: a model is only written to a new path or over an earlier "
                          "fusiondp model file, never over another file.",
                          hint="choose another path, e.g. one ending with .safetensors")
    return path


def save(path: str | Path, result, prepared, report: dict | None = None) -> Path:
    """Write a trained run to `path` (a single ``.safetensors`` file, atomically); returns the path.

    `path` may be new or hold an earlier fusiondp model; any other existing file is refused
    (`check_model_destination`), so a model can never replace a table or a report.

    Args:
        path: destination file; parent folders are created.
        result: the `TrainResult` of `fusiondp.pipeline.run`.
        prepared: the `Prepared` of the same run (preprocessing and labels).
        report: the run's record (the third value `fusiondp.pipeline.run` returns); its privacy record and
            metrics are stored. Without it the privacy record is built from `result` alone.

    Raises:
        ConfigError: `path` exists and is not a fusiondp model file, or is an input of the current run.
        OutputError: the file could not be written (nothing is left behind).
    """
    check_model_destination(path)
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
        x = torch.from_numpy(self.pre.transform(frame, what="prediction data", public_rows=True))
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


_PART_TYPES = ("MLP", "TreeEnsemble")


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _check_architecture(arch, name: str, types: tuple[str, ...] = (*_PART_TYPES, "Blend")) -> None:
    """Check one architecture entry (and a blend's parts: an MLP or a tree ensemble each, one logit)."""
    _need(isinstance(arch, dict) and arch.get("type") in types, name,
          f"is not a known architecture (one of {', '.join(types)}; a file of a newer fusiondp?)")
    for k in ("n_features", "n_outputs"):
        _need(_positive_int(arch.get(k)), f"{name}.{k}", "is not a positive integer")
    if arch["type"] == "MLP":
        _need(isinstance(arch.get("hidden"), list) and all(_positive_int(h) for h in arch["hidden"]),
              f"{name}.hidden", "is not a list of positive integers")
        _need(_finite(arch.get("dropout")) and 0 <= arch["dropout"] < 1, f"{name}.dropout", "is not in [0, 1)")
        return
    if arch["type"] == "TreeEnsemble":  # one logit (binary) or K >= 3 (multiclass: rounds of K trees)
        _need(arch["n_outputs"] != 2, f"{name}.n_outputs", "is 2: a tree ensemble has one logit or K >= 3")
        _need(isinstance(arch.get("n_trees"), int) and not isinstance(arch["n_trees"], bool)
              and arch["n_trees"] >= 0, f"{name}.n_trees", "is not an integer >= 0")
        _need(arch["n_trees"] % arch["n_outputs"] == 0, f"{name}.n_trees",
              f"is not a whole number of rounds of {arch['n_outputs']} class trees")
        for k in ("depth", "n_edges"):
            _need(_positive_int(arch.get(k)), f"{name}.{k}", "is not a positive integer")
        _need(arch["depth"] <= 10, f"{name}.depth", "is above 10, the tree learner's limit")
        return
    _need(arch["n_outputs"] == 1, f"{name}.n_outputs", f"is {arch['n_outputs']}: a {arch['type']} has one logit")
    parts = arch.get("parts")
    _need(isinstance(parts, dict) and set(parts) == {"trees", "network"}, f"{name}.parts",
          "is not a map of the two parts 'trees' and 'network'")
    for part, entry in parts.items():
        _check_architecture(entry, f"{name}.parts.{part}", _PART_TYPES)
        _need(entry["n_features"] == arch["n_features"] and entry["n_outputs"] == 1,
              f"{name}.parts.{part}", "does not take the blend's features or give one logit")


def check_metadata(meta: dict) -> None:
    """Check a model's JSON document against its schema; raise ValueError naming the first bad field.

    Checked: the architecture (an MLP: positive sizes, dropout in [0, 1); a tree ensemble: one logit or
    K >= 3 (then a tree count that is whole rounds of K), its tree count, depth and edge count; a blend: one
    logit and two parts, 'trees' and 'network', each an MLP or a tree ensemble on the same features); the
    preprocessor (column lists,
    a finite mean and a finite scale > 0 for every numeric column, a non-empty category list for every
    categorical one, numeric + categorical = columns, strictly increasing bin edges for every numeric column
    of a 'ple' encoding and none otherwise); the feature count implied by the preprocessor (one feature per
    'ple' bin) equals
    the architecture's input size; two or more distinct label classes matching the output size; a privacy
    record with a method and a finite ε >= 0 (or none), δ in [0, 1) (or none); for a blend, its ``blend``
    entry with σ_t, σ_m > 0 and the weight in [0, 1], or (the network's release guard blending the private
    network with the free tree public stage) ``release.blend_weight`` in [0, 1].
    """
    arch = meta.get("architecture")
    _check_architecture(arch, "architecture")
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
    from fusiondp.tune.baseline import FREE_BLEND

    if arch["type"] == "Blend" and (priv.get("release") or {}).get("released") == FREE_BLEND:
        # The network's release guard blended the private network with the free tree public stage.
        w = priv["release"].get("blend_weight")
        _need(_finite(w) and 0 <= w <= 1, "privacy.release.blend_weight", "is not in [0, 1]")
    elif arch["type"] == "Blend":  # the composed statement's two noise levels and the weight travel with it
        b = priv.get("blend")
        _need(isinstance(b, dict), "privacy.blend", "is missing (a blend's σ_t, σ_m and weight)")
        for k in ("tree_sigma", "network_sigma"):
            _need(_finite(b.get(k)) and b[k] > 0, f"privacy.blend.{k}", "is not a finite number > 0")
        _need(_finite(b.get("weight")) and 0 <= b["weight"] <= 1, "privacy.blend.weight", "is not in [0, 1]")


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"Model path {path} is a folder, not a model file.")
    check_input(path, what="Model", error=ModelFileError)  # a FIFO or device is refused before it is opened
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


def _build(arch: dict) -> torch.nn.Module:
    """An untrained module of a checked architecture entry, to receive the file's tensors."""
    from fusiondp.train.models import MLP

    if arch["type"] == "MLP":
        return MLP(int(arch["n_features"]), tuple(arch["hidden"]), int(arch["n_outputs"]), float(arch["dropout"]))
    if arch["type"] == "TreeEnsemble":
        from fusiondp.trees.model import TreeEnsembleModel

        return TreeEnsembleModel.empty(n_features=arch["n_features"], n_edges=arch["n_edges"],
                                       n_trees=arch["n_trees"], depth=arch["depth"], n_outputs=arch["n_outputs"])
    from fusiondp.blend import BlendModel

    return BlendModel(_build(arch["parts"]["trees"]), _build(arch["parts"]["network"]), 0.0)


def _check_loaded(model: torch.nn.Module, meta: dict) -> None:
    """Values the shapes alone do not pin: a tree's split features and thresholds index its edges; a blend's
    weight tensor is the recorded one."""
    from fusiondp.blend import BlendModel
    from fusiondp.trees.model import TreeEnsembleModel

    for name, m in model.named_modules():
        if isinstance(m, TreeEnsembleModel):
            n_features, n_edges = m.edges.shape
            if not bool(((m.feature >= 0) & (m.feature < n_features)).all()):
                raise ValueError(f"tensor {name + '.' if name else ''}feature holds a feature index out of range")
            if not bool(((m.threshold >= 0) & (m.threshold <= n_edges)).all()):
                raise ValueError(f"tensor {name + '.' if name else ''}threshold holds a bin threshold out of range")
    if isinstance(model, BlendModel):
        priv = meta["privacy"]
        key, recorded = (("blend.weight", priv["blend"]["weight"]) if "blend" in priv else
                         ("release.blend_weight", priv["release"]["blend_weight"]))
        if float(model.weight) != float(np.float32(recorded)):  # a float32 buffer
            raise ValueError(f"its weight tensor differs from the recorded privacy.{key}")


def load(path: str | Path) -> SavedModel:
    """Read a model written by `save`, checking its digest (metadata and tensors) and its metadata schema.

    Raises:
        ModelFileError: the file is missing, not a fusiondp model, corrupted or edited, inconsistent, or of
            another format version.
    """
    from fusiondp.data.preprocess import Preprocessor

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
    try:
        model = _build(meta["architecture"])
        model.load_state_dict(tensors)
        pre = Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise _fail(path, f"its architecture or preprocessing does not fit its weights ({type(e).__name__})") \
            from None
    try:
        _check_loaded(model, meta)
    except ValueError as e:
        raise _fail(path, str(e)) from None
    model.eval()
    return SavedModel(model=model, pre=pre, classes=list(meta["label_classes"]), privacy=meta["privacy"],
                      metadata=meta)
