"""The run record: one frozen, typed description of a training run, built once.

Everything fusiondp writes about a run is a serialisation of one `RunRecord`:

* the JSON report (`RunRecord.to_report`, written by ``fusiondp train --report``, the demo and
  ``FusionDPClassifier.report_``);
* the model file's privacy record (`RunRecord.privacy_record`, stored by `fusiondp.io.save` and exposed as
  ``FusionDPClassifier.privacy_record_``);
* the HTML page (`fusiondp.report.html.render_html` of the JSON report; it embeds
  `RunRecord.privacy_summary` as a machine-readable block);
* a benchmark row (`RunRecord.bench_row`, `fusiondp.bench.runner`).

So the method, the relation, ε, δ and the accountant are computed in one place (`RunRecord.build`) and
cannot disagree between them. The record is frozen: what used to be patched into a report dict after the
run (imputer, support fingerprint, settings file, rows used in the clear) is given to `build` as
`Provenance` and `SettingsOrigin`; results of *other* computations shown next to the run (the public
baseline, a comparison table, imputation quality, audits) are attached with `RunRecord.with_sections`,
which never touches the privacy fields.

Key names. The JSON report keeps its historical names (``neighbouring``, ``neighbouring_text``,
``privacy_level``) so reports written by older versions stay readable by ``fusiondp report``; the model
file's privacy record keeps its own (``relation``, ``relation_text``, ``level``), checked by
`fusiondp.io.check_metadata`. `REPORT_NAMES` is the one table between the two.

The DP event is serialised with dp-accounting's own ``DpEvent.to_named_tuple`` (`event_to_json`) and read
back with ``DpEvent.from_named_tuple`` (`event_from_json`), restricted to dp-accounting's event classes.

>>> import dp_accounting as dpa
>>> ev = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(1.1)), 100)
>>> event_from_json(event_to_json(ev)) == ev
True
>>> event_to_json(ev)["class_name"]
'SelfComposedDpEvent'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import dp_accounting as dpa

from fusiondp.privacy.relations import Relation

if TYPE_CHECKING:
    from fusiondp.privacy.accounting import AccountingPlan

#: JSON-report name -> model-file privacy-record name, for the entries whose names differ.
REPORT_NAMES = {"neighbouring": "relation", "neighbouring_text": "relation_text", "privacy_level": "level"}

_EVENT_MODULE = "dp_accounting.dp_event"

#: The entries of a blend run's ``blend`` section that its privacy record (model file, estimator) carries: the
#: two noise levels of the composed event, how they were calibrated, and the weight (chosen on public rows).
BLEND_PRIVACY_KEYS = ("tree_sigma", "network_sigma", "scale", "tree_share", "tree_alone_sigma",
                      "network_alone_sigma", "tree_releases", "network_steps", "network_sample_rate", "tree_clip",
                      "tree_noise_std", "network_clip", "composition", "epsilon_parts_alone", "weight",
                      "weight_chosen_on")


class SettingSource(str, Enum):
    """Where one training setting came from (the report's ``config_source``)."""

    DEFAULT_RULE = "auto"  # the defaults rule (public quantities only; docs/training.md)
    USER = "user"  # given by the caller (option, argument)
    SETTINGS_FILE = "settings file"  # read from a `fusiondp tune` settings file

    def __str__(self) -> str:
        return self.value


def event_to_json(event: dpa.DpEvent) -> dict:
    """A DpEvent as JSON-ready nested dicts, via dp-accounting's ``to_named_tuple``."""

    def plain(value):
        if isinstance(value, tuple) and hasattr(value, "_asdict"):
            return {k: plain(v) for k, v in value._asdict().items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(event.to_named_tuple())


def event_from_json(data: Mapping) -> dpa.DpEvent:
    """The DpEvent of `event_to_json`'s output (``DpEvent.from_named_tuple``).

    Only dp-accounting's own event classes are accepted (``from_named_tuple`` imports the module a tuple
    names, so a report from elsewhere must not choose it). Raises ValueError on anything else.
    """
    from collections import namedtuple

    def tup(value):
        if isinstance(value, Mapping) and "class_name" in value:
            if value.get("module_name") != _EVENT_MODULE or not str(value["class_name"]).endswith("DpEvent"):
                raise ValueError(f"not a dp-accounting event: {value.get('module_name')}.{value.get('class_name')}")
            names = list(value)
            return namedtuple("_Event", names)(**{k: tup(v) for k, v in value.items()})
        if isinstance(value, list):
            return [tup(v) for v in value]
        return value

    return dpa.DpEvent.from_named_tuple(tup(data))


@dataclass(frozen=True)
class Provenance:
    """Where the run's public inputs came from (public facts only).

    Attributes:
        imputer: the imputer named by the user, ``"given hybrid table"`` for a hybrid read from a file, or
            None when unknown.
        imputation: the hybrid's provenance as `fusiondp.impute.impute_hybrid` recorded it (chaining,
            skill cross-fitted on the support set, fallback columns); None for a hybrid given as a file.
        support_fingerprint: SHA-256 of the support set's content (`fusiondp.io.support_fingerprint`).
        unprotected_rows: rows used in the clear that no guarantee covers (e.g. the estimator's
            ``support_fraction`` rows), with why.
        data: a one-line description of the data (the demo's synthetic table), or None.
    """

    imputer: str | None = None
    imputation: Mapping | None = None
    support_fingerprint: str | None = None
    unprotected_rows: Mapping | None = None
    data: str | None = None


@dataclass(frozen=True)
class SettingsOrigin:
    """A `fusiondp tune` settings file the run read: its path, its selection note and the keys it set."""

    path: str
    selection: Any = None
    keys: frozenset[str] = frozenset()


def _labels_text(level: str, public_rows: str | None) -> str:
    if level == "record" and not public_rows:
        return "labels are protected (record-level DP)"
    return "labels are read in the clear by the noise-free gradient and get no protection"


@dataclass(frozen=True)
class RunRecord(Mapping):
    """One run, fixed once it has trained. Read it as attributes, or as the JSON report (a read-only Mapping).

    ``record["epsilon"]`` reads the JSON report's entry (`to_report`); the record cannot be changed.
    """

    method: str
    method_summary: str
    level: str  # 'none', 'feature' or 'record'
    relation: Relation | None
    relation_text: str
    epsilon: float | None  # None: no guarantee at all (sgd_ori); 0.0: never read a sensitive value
    target_epsilon: float | None
    delta: float | None
    accountant: str | None  # e.g. "dp-accounting 0.6.0 PLD"
    accountant_name: str | None  # 'pld' or 'rdp'
    plan: AccountingPlan | None  # the accounting plan fixed before training (σ, q, steps, δ, relation, accountant)
    noise_multiplier: float | None
    sample_rate: float | None
    steps: int
    event: dpa.DpEvent | None
    epsilon_by_relation: Mapping[str, Mapping]
    secure_randomness: bool | None
    randomness: str | None
    rng: str | None  # which source drew the noise and the Poisson mask (None: a non-private method)
    training_rows: int | None  # N, released exactly and treated as public (docs/privacy.md)
    training_rows_text: str | None
    clip: float | None
    ch: float | None
    alpha: float | None
    beta: float | None
    labels: str
    provenance: Provenance
    preprocessing_fitted_on: str | None
    support_identity: str | None  # how the support set was found to hold no training record (None: no support)
    schema: Mapping | None
    preprocessing: tuple[str, ...]
    representation: Mapping | None
    settings: Mapping
    setting_sources: Mapping[str, SettingSource]
    settings_file: SettingsOrigin | None
    metrics: Mapping
    history: tuple
    seconds: float
    fusiondp_version: str
    sections: Mapping[str, Any] = field(default_factory=dict)  # results of other computations, shown alongside

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, result, prepared=None, *, provenance: Provenance | None = None,
              settings_file: SettingsOrigin | None = None, metrics: Mapping | None = None) -> "RunRecord":
        """The record of a trained run (`fusiondp.train.engine.TrainResult`).

        Args:
            prepared: the run's `fusiondp.pipeline.Prepared` (schema, preprocessing, where it was fitted);
                None for a run trained on tensors (the benchmark runner).
            provenance: imputer, hybrid provenance, support fingerprint, rows used in the clear.
            settings_file: the `fusiondp tune` file whose keys set some of the settings.
            metrics: the run's metrics per split (default: none).
        """
        from fusiondp import __version__
        from fusiondp.privacy.accounting import epsilon_by_relation, relation_text, training_rows_text
        from fusiondp.privacy.randomness import randomness_text

        spec, acct, cfg = result.method, result.plan, result.config
        relation = Relation(acct.relation) if acct else None
        if acct:
            eps: float | None = float(result.epsilon)
            rel_text = relation_text(relation.value, private_view=spec.private_view, level=spec.level)
        else:
            eps = None if "original" in spec.views else 0.0
            rel_text = ("no formal privacy guarantee" if eps is None
                        else "sensitive features are never read: feature-level epsilon = 0")
        by_relation = (epsilon_by_relation(acct, spec.other_relations(acct.relation), private_view=spec.private_view,
                                           level=spec.level) if acct else {})
        file_keys = settings_file.keys if settings_file else frozenset()
        sources = {k: SettingSource.SETTINGS_FILE if k in file_keys else SettingSource(v)
                   for k, v in (cfg.config_source or {}).items()}
        secure = bool(getattr(result, "secure_randomness", True))
        csprng = bool(getattr(cfg, "secure_rng", False))
        n_rows = prepared.data.n if prepared is not None else None
        pre = prepared.pre if prepared is not None else None
        return cls(
            method=spec.name, method_summary=spec.summary, level=spec.level, relation=relation,
            relation_text=rel_text, epsilon=eps, target_epsilon=acct.target_epsilon if acct else None,
            delta=acct.delta if acct else None,
            accountant=f"dp-accounting {version('dp-accounting')} {acct.accountant.upper()}" if acct else None,
            accountant_name=acct.accountant if acct else None, plan=acct,
            noise_multiplier=acct.noise_multiplier if acct else None, sample_rate=acct.sample_rate if acct else None,
            steps=int(result.steps), event=_event(acct), epsilon_by_relation=by_relation,
            secure_randomness=secure if spec.is_private else None,
            randomness=randomness_text(secure, csprng=csprng) if spec.is_private else None,
            rng=(None if not spec.is_private else "insecure test seed" if not secure
                 else "os.urandom CSPRNG" if csprng else "OS-seeded torch generators"),
            training_rows=n_rows,
            training_rows_text=training_rows_text(n_rows, spec.level) if acct and n_rows is not None else None,
            clip=cfg.clip if spec.is_private else None, ch=result.ch,
            alpha=cfg.alpha if spec.is_private else None,
            beta=cfg.beta if spec.consistency or spec.mix == "convex" else None,
            labels=_labels_text(spec.level, spec.public_rows), provenance=provenance or Provenance(),
            preprocessing_fitted_on=prepared.fitted_on if prepared is not None else None,
            support_identity=getattr(prepared, "support_identity", None),
            schema=pre.schema.to_dict() if pre is not None else None,
            preprocessing=tuple(pre.notes) if pre is not None else (),
            representation=pre.describe() if pre is not None else None,
            settings=cfg.to_dict(), setting_sources=sources, settings_file=settings_file,
            metrics=dict(metrics or {}), history=tuple(result.history), seconds=float(result.seconds),
            fusiondp_version=__version__)

    def with_sections(self, **sections: Any) -> "RunRecord":
        """A copy with results of other computations attached (public baseline, comparison, imputation
        quality, audit); the run's own fields, its privacy statement included, stay as built."""
        clash = set(sections) & set(self._core_report())
        if clash:
            raise ValueError(f"{sorted(clash)} are fields of the run itself, not sections")
        return dataclasses.replace(self, sections={**self.sections, **sections})

    # ------------------------------------------------------------------ serialisations
    def privacy_summary(self) -> dict:
        """Method, relation, ε, δ and accountant: the statement every serialisation must agree on."""
        return {"method": self.method, "relation": self.relation.value if self.relation else None,
                "epsilon": self.epsilon, "delta": self.delta, "accountant": self.accountant}

    def _core_report(self) -> dict:
        p = self.provenance
        return {
            "fusiondp_version": self.fusiondp_version,
            "method": self.method,
            "method_summary": self.method_summary,
            "privacy_level": self.level,
            "epsilon": self.epsilon,
            "target_epsilon": self.target_epsilon,
            "delta": self.delta,
            "neighbouring": self.relation.value if self.relation else None,
            "neighbouring_text": self.relation_text,
            # The same run's ε under every relation that applies to the method (same σ, q, steps, δ).
            "epsilon_by_relation": {k: dict(v) for k, v in self.epsilon_by_relation.items()},
            "randomness": self.randomness,
            # Which source drew the noise and the Poisson mask: the OS CSPRNG (secure mode), OS-seeded
            # generators, or the test-only replayable seed.
            "rng": self.rng,
            "secure_randomness": self.secure_randomness,
            "preprocessing_fitted_on": self.preprocessing_fitted_on,
            # How the public support set was found to hold no training record (None: no support set given).
            "support_identity": self.support_identity,
            # Stage 1 as `impute_hybrid` recorded it (None: a hybrid given as a file).
            "imputation": p.imputation,
            "imputer": p.imputer,
            "support_fingerprint": p.support_fingerprint,
            "unprotected_rows": p.unprotected_rows,
            **({"data": p.data} if p.data else {}),
            "accountant": self.accountant,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "training_rows": self.training_rows,
            "training_rows_text": self.training_rows_text,
            "steps": self.steps,
            "clip": self.clip,
            "ch": self.ch,
            "labels": self.labels,
            "dp_event": event_to_json(self.event) if self.event is not None else None,
            "schema": self.schema,
            "preprocessing": list(self.preprocessing),
            "representation": self.representation,
            "config": dict(self.settings),
            "config_source": {k: v.value for k, v in self.setting_sources.items()},
            **({"settings_file": {"path": self.settings_file.path, "selection": self.settings_file.selection}}
               if self.settings_file else {}),
            "metrics": self.metrics,
            "history": list(self.history),
            "seconds": self.seconds,
        }

    def to_report(self) -> dict:
        """The JSON report (a new dict each call; attached sections last)."""
        return {**self._core_report(), **self.sections}

    def privacy_record(self) -> dict:
        """The privacy record stored in a model file (`fusiondp.io`) and in ``FusionDPClassifier.privacy_record_``."""
        r, p = self._core_report(), self.provenance
        out = {REPORT_NAMES.get(k, k): r[k] for k in (
            "method", "method_summary", "privacy_level", "epsilon", "target_epsilon", "delta", "neighbouring",
            "neighbouring_text", "accountant", "noise_multiplier", "sample_rate", "steps", "clip", "ch")}
        out.update(alpha=self.alpha, beta=self.beta, labels=self.labels,
                   epsilon_by_relation=r["epsilon_by_relation"], randomness=self.randomness, rng=self.rng,
                   training_rows_text=self.training_rows_text,
                   preprocessing_fitted_on=self.preprocessing_fitted_on,
                   unprotected_rows=p.unprotected_rows, dp_event=r["dp_event"], imputer=p.imputer,
                   support_fingerprint=p.support_fingerprint)
        if (learner := self.sections.get("learner")) is not None:
            out["learner"] = learner
        if (blend := self.sections.get("blend")) is not None:  # the composed statement's two σ and the weight
            out["blend"] = {k: blend[k] for k in BLEND_PRIVACY_KEYS if k in blend}
        if (guard := self.sections.get("release_guard")) is not None and "skipped" not in guard:
            # Which candidate the file holds (a free model or a blend with one is still this run's release).
            out["release"] = {"released": guard["released"], "chosen_on": guard["chosen_on"],
                              **({"blend_weight": guard["blend_weight"]} if "blend_weight" in guard else {})}
        return out

    def bench_row(self) -> dict:
        """The privacy and training part of one benchmark row (`fusiondp.bench.runner`; historic names)."""
        return {"spent_epsilon": self.epsilon if self.relation else None, "delta": self.delta,
                "sigma": self.noise_multiplier, "relation": self.relation.value if self.relation else None,
                "accountant": self.accountant_name, "steps": self.steps, "ch": self.ch,
                "seconds": round(self.seconds, 2), "config": dict(self.settings)}

    # ------------------------------------------------------------------ read-only Mapping of the JSON report
    @functools.cached_property
    def _report(self) -> dict:
        return json.loads(json.dumps(self.to_report(), default=_plain))

    def __getitem__(self, key: str):
        return self._report[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._report)

    def __len__(self) -> int:
        return len(self._report)

    __hash__ = None  # a record holds dicts; it is compared, never hashed


def _plain(v):
    if isinstance(v, float) or hasattr(v, "item"):
        return v.item() if hasattr(v, "item") else v
    return str(v)


def _event(acct) -> dpa.DpEvent | None:
    if acct is None:
        return None
    from fusiondp.privacy.accounting import training_event

    return training_event(acct.noise_multiplier, acct.sample_rate, acct.steps)


def summary_of(serialised: Mapping) -> dict:
    """`RunRecord.privacy_summary` read back from a JSON report or a model file's privacy record.

    >>> summary_of({"method": "dpsgd", "neighbouring": "add_remove", "epsilon": 1.0, "delta": 1e-5,
    ...             "accountant": "dp-accounting 0.6.0 PLD"})["relation"]
    'add_remove'
    """
    relation = serialised.get("neighbouring", serialised.get("relation"))
    return {"method": serialised.get("method"), "relation": relation, "epsilon": serialised.get("epsilon"),
            "delta": serialised.get("delta"), "accountant": serialised.get("accountant")}


def privacy_to_report(privacy: Mapping, meta: Mapping | None = None) -> dict:
    """A run-report-shaped dict from a model file's privacy record (for pages about a saved model)."""
    back = {v: k for k, v in REPORT_NAMES.items()}
    meta = meta or {}
    out = {back.get(k, k): v for k, v in privacy.items()}
    out.update(fusiondp_version=meta.get("fusiondp_version"), schema=meta.get("schema"), config=meta.get("config"),
               metrics=meta.get("metrics") or {}, history=[])
    return out
