"""Optional foundation-model imputers: TabPFN and TabICL, run on LOCAL weights.

Neither package is a dependency of fusiondp and nothing here imports them at
module import: the import happens inside `fit`, and a missing package raises
`BackendUnavailableError` with the install hint (`pip install "fusiondp[tabpfn]"`).
Weights are never downloaded: pass `model_path` (CLI `--model-path`), either a
checkpoint file or a directory holding the checkpoints. In a directory, files
whose names contain "classifier" / "regressor" serve categorical / numeric
targets (e.g. TabPFN's `tabpfn-v2-classifier-*.ckpt` and
`tabpfn-v2-regressor-*.ckpt`); a single file serves the kind its name says, or
both when its name says neither. Get the files once, on a machine with
internet access, from the model's own distribution (e.g. the Prior-Labs
Hugging Face repositories for TabPFN, soda-inria for TabICL).

Both models condition on the support set in context (no gradient training),
which is the setting of the published FusionDP hybrid (docs/method.md §3).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from fusiondp.errors import BackendUnavailableError, UnsupportedError
from fusiondp.impute.base import Imputer
from fusiondp.impute.targets import Task

_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".bin")


def _find_weights(model_path: str | Path | None, backend: str, extra: str) -> dict[str, Path]:
    """Map "categorical"/"numeric" to a local checkpoint, or raise BackendUnavailableError."""
    if model_path is None:
        raise BackendUnavailableError(
            f"The {backend!r} imputer needs local weights: pass model_path=FILE_OR_DIR (CLI: --model-path). "
            f"fusiondp never downloads weights. Install the backend with: pip install \"fusiondp[{extra}]\".")
    path = Path(model_path).expanduser()
    if not path.exists():
        raise BackendUnavailableError(
            f"{backend} weights not found at {str(path)!r} (--model-path). Download the checkpoint once on a "
            "machine with internet access and pass its local path.")
    files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES) if path.is_dir() else [path]
    found: dict[str, Path] = {}
    for f in files:
        name = f.name.lower()
        if "classifier" in name:
            found.setdefault("categorical", f)
        elif "regressor" in name:
            found.setdefault("numeric", f)
        elif not path.is_dir():
            found = {"categorical": f, "numeric": f}
    if not found:
        raise BackendUnavailableError(f"No {backend} checkpoint ({', '.join(_SUFFIXES)}) in {str(path)!r}.")
    return found


def _import(module: str, backend: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(
            f"The {backend!r} imputer needs the `{module}` package, which is not installed here: "
            f"pip install \"fusiondp[{extra}]\" (then pass local weights with --model-path).") from e


class _FoundationImputer(Imputer):
    """Shared code of the in-context foundation-model imputers."""

    package = ""
    extra = ""

    def __init__(self, *, model_path: str | Path | None = None, device: str = "cpu",
                 model_kwargs: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights = _find_weights(model_path, self.name, self.extra)  # fail before any data is read
        if importlib.util.find_spec(self.package) is None:
            _import(self.package, self.name, self.extra)  # raises with the install hint
        self.model_path = Path(model_path)  # type: ignore[arg-type]
        self.device = device
        self.model_kwargs = dict(model_kwargs or {})

    def _weights_for(self, task: Task) -> Path:
        if task.kind not in self.weights:
            raise BackendUnavailableError(
                f"{self.name}: no {'classifier' if task.kind == 'categorical' else 'regressor'} checkpoint in "
                f"{str(self.model_path)!r} for the {task.kind} column {task.name!r}; put one there whose file name "
                "contains 'classifier' or 'regressor'.")
        return self.weights[task.kind]

    def _estimator(self, module: Any, task: Task, weights: Path) -> Any:
        raise NotImplementedError

    def _fit_task(self, task: Task, X: np.ndarray, y: np.ndarray, X_unlabeled: np.ndarray | None) -> Any:
        module = _import(self.package, self.name, self.extra)
        model = self._estimator(module, task, self._weights_for(task))
        return model.fit(X, y)

    def _predict_task(self, model: Any, task: Task, X: np.ndarray) -> np.ndarray:
        if task.kind == "numeric":
            return np.asarray(model.predict(X), dtype=float)
        k = len(self.classes_[task.name])
        p = np.zeros((len(X), k))
        p[:, np.asarray(model.classes_).astype(int)] = model.predict_proba(X)
        return p


class TabPFNImputer(_FoundationImputer):
    """TabPFN (Hollmann et al., Nature 2025) conditioned on the support set; local weights only.

    Args:
        model_path: a TabPFN checkpoint file, or a directory with classifier and regressor checkpoints.
        device: torch device ("cpu", "cuda").
        model_kwargs: extra arguments of `TabPFNClassifier`/`TabPFNRegressor` (e.g. n_estimators).
        **kwargs: see `Imputer`.

    >>> TabPFNImputer(model_path="/nonexistent/tabpfn.ckpt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusiondp.errors.BackendUnavailableError: tabpfn weights not found at '/nonexistent/tabpfn.ckpt' ...
    """

    name = "tabpfn"
    package = "tabpfn"
    extra = "tabpfn"

    def _estimator(self, module: Any, task: Task, weights: Path) -> Any:
        cls = module.TabPFNClassifier if task.kind == "categorical" else module.TabPFNRegressor
        kw = dict(model_path=str(weights), device=self.device, random_state=self.random_state)
        cat = np.flatnonzero(self.encoder_.categorical_mask).tolist()
        if cat:
            kw["categorical_features_indices"] = cat
        return cls(**{**kw, **self.model_kwargs})


class TabICLImputer(_FoundationImputer):
    """TabICL (Qu et al., ICML 2025) conditioned on the support set; local weights only.

    Older `tabicl` releases predict categories only; a numeric sensitive column
    then raises `UnsupportedError` (use `tabpfn` or the default `ensemble`).

    >>> TabICLImputer()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusiondp.errors.BackendUnavailableError: The 'tabicl' imputer needs local weights: ...
    """

    name = "tabicl"
    package = "tabicl"
    extra = "tabicl"

    def _estimator(self, module: Any, task: Task, weights: Path) -> Any:
        if task.kind == "categorical":
            cls = module.TabICLClassifier
        else:
            cls = getattr(module, "TabICLRegressor", None)
            if cls is None:
                raise UnsupportedError(f"This tabicl version has no regressor; the numeric column {task.name!r} "
                                       "needs --imputer tabpfn or the default ensemble.")
        kw = dict(model_path=str(weights), checkpoint_version=weights.name, allow_auto_download=False,
                  device=self.device, random_state=self.random_state)
        return cls(**{**kw, **self.model_kwargs})
