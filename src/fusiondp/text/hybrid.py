"""Hybrid text: every sensitive span replaced by a value predicted from the public rest.

This is Stage 1 of FusionDP for text (docs/method.md §3): x̃ = (x̂_priv, x_pub). For
each document the sensitive spans are found (:mod:`fusiondp.text.spans`) and
masked; a small predictor reads *only the masked document* and predicts the
document's age group, sex and ethnicity; each slot is then filled with the
predicted value in a form read from the masked text around it
(:mod:`fusiondp.text._render`).

What is treated as public: the text outside the detected spans, the span
positions and types. What is private and never read by the predictor or the
renderers: the span texts and values (numbers, units, sex and ethnicity words,
pronouns, titles, places, dates, names). Renderers receive a
:class:`~fusiondp.text._render.Slot` (type, position, index) and the masked
document, so the form of a replacement (pronoun case, number, adjective or noun,
age shape, single age or range) cannot depend on the word it replaces: a slot
that held "grandmother", "boy", "him" or "hers" is written exactly like one that
held "woman". The kinship or role a word carried is therefore not kept.

Limits: detection is rule based, and a sensitive span it misses stays verbatim
in the hybrid text. :func:`privacy_statement` says so with the measured recall
(``python benchmarks/span_detection.py``).

The predictor is TF-IDF over the masked text + one multinomial logistic
regression per attribute, fitted on a *public support split* (its spans are used
as targets: the support documents are public by assumption). Places, dates and
names are not predicted from the text: places and names are drawn from the
values seen in the support split, dates from its median year, chosen by a hash
of the masked document and the slot index (so deterministic and public).
Coordinated slots ("[men] and [women]", "[black] and [white] patients") receive
different values; all other slots of one type in a document share one value, so
pronouns and sex words agree.

>>> support = ["A 70-year-old man with angina; he was treated.", "A 30-year-old woman, pregnant; she was treated.",
...            "Elderly men with coronary disease.", "Pregnant women with eclampsia."] * 3
>>> gen = HybridTextGenerator(min_docs=2).fit(support)
>>> gen.transform(["A 41-year-old man with eclampsia in pregnancy; he recovered."])[0]  # doctest: +SKIP
'A 30-year-old woman with eclampsia in pregnancy; she recovered.'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusiondp._validate import positive
from fusiondp.errors import ConfigError
from fusiondp.text._render import Slot, date_form, mask_with_slots, render_age, render_ethnicity, render_sex
from fusiondp.text._rules import MONTHS, TITLES
from fusiondp.text.spans import Span, SpanDetector, mask_spans

__all__ = ["AGE_BINS", "DEFAULT_CUES", "HybridDoc", "RenderContext", "HybridTextGenerator", "detection_recall",
           "privacy_statement"]

#: Age groups (years, left-closed) predicted for a document; the rendered age is the
#: expected value of the support-median age of each group under the predicted probabilities.
AGE_BINS: tuple[float, ...] = (0, 2, 12, 18, 30, 45, 60, 75, 130)
_COORD = re.compile(r"^\s*(?:,|and|or|/|vs\.?|versus|than|to|:|-)\s*(?:and\s+)?(?:[\w-]+\s+){0,2}$", re.IGNORECASE)
_FALLBACK_POOLS = {"place": ["the United States"], "name": ["Smith"], "date": ["1985"]}
_TITLE = re.compile(rf"^(?:{'|'.join(TITLES)})\.?\s+")

#: Prior knowledge that stands in for a foundation model's: public context words that make an
#: attribute value more likely. Each entry is (regex, value, weight); a document's score for a
#: value is the weight times the number of *distinct* matching words, added to the classifier's
#: log-probability. Age values are age-group indices into AGE_BINS. Replace with ``cues=``.
DEFAULT_CUES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "sex": (
        (r"\b(?:pregnan\w*|gravid\w*|obstetric\w*|gyn\w*colog\w*|uter(?:us|ine)|ovar(?:y|ies|ian)|cervi(?:x|cal)|"
         r"vagin\w*|vulv\w*|endometri\w*|breast|mammo\w*|menopaus\w*|postmenopausal|premenopausal|menstru\w*|"
         r"placent\w*|eclampsia|preeclampsia|lactat\w*|postpartum|delivery|caesarean|cesarean|fallopian)\b",
         "female", 1.5),
        (r"\b(?:prostat\w*|testic\w*|testis|testes|scrot\w*|penile|penis|erectile|sperm\w*|semen|seminal|"
         r"vasectomy|circumcis\w*|orchi\w*|epididym\w*)\b", "male", 1.5),
        # weaker epidemiological associations of the literature (an LLM prior would carry them too)
        (r"\b(?:veteran\w*|military|soldier\w*|miners?|coronary|myocardial|AIDS|HIV|homosexual\w*|alcohol\w*|"
         r"haemophilia|hemophilia|smok\w*|gout)\b", "male", 0.5),
        (r"\b(?:thyroid\w*|lupus|osteoporo\w*|rheumatoid|migraine|anorexia|bulimia|gallstone\w*|"
         r"cholecyst\w*|mother\w*)\b", "female", 0.5),
    ),
    "age": (
        (r"\b(?:infant\w*|neonat\w*|newborn\w*|preterm|premature|perinatal)\b", "0", 1.5),
        (r"\b(?:child\w*|p(?:a)?ediatric\w*|juvenile|school\w*|toddler\w*|congenital)\b", "1", 1.0),
        (r"\b(?:adolescen\w*|teenage\w*|puberty|pubertal)\b", "2", 1.5),
        (r"\b(?:elderly|geriatric|older|aged|nursing home|elders)\b", "6", 1.0),
        (r"\b(?:pregnan\w*|obstetric\w*|student\w*)\b", "3", 1.0),
    ),
}


@dataclass
class RenderContext:
    """What a renderer may use: the document's predictions and public pools (never original values)."""

    masked: str
    age: float | None
    sex_proba: dict[str, float]
    ethnicity_proba: dict[str, float]
    age_half_width: float
    year: int
    pools: Mapping[str, Sequence[str]]
    chosen: dict[str, str] = field(default_factory=dict)

    def pick(self, key: str, pool: Sequence[str]) -> str:
        """A deterministic choice from ``pool`` for this document and ``key`` (public: hashes the masked text)."""
        if key not in self.chosen:
            h = int(hashlib.sha1(f"{key}|{self.masked}".encode()).hexdigest()[:8], 16)
            self.chosen[key] = pool[h % len(pool)] if pool else ""
        return self.chosen[key]


#: ``renderer(slot, masked_document, context, avoid) -> replacement``: ``avoid`` is the value given to a
#: coordinated slot of the same type just before ("[men] and [women]"), to be avoided when possible.
Renderer = Callable[[Slot, str, RenderContext, "str | None"], str]


@dataclass(frozen=True)
class HybridDoc:
    """One document's hybrid version and the replacements made (spans refer to the original)."""

    text: str
    spans: tuple[Span, ...]
    replacements: tuple[str, ...]
    predicted: dict[str, object]


def _doc_targets(spans: Sequence[Span]) -> dict[str, object]:
    """Document-level attribute labels of a *support* document (public by assumption)."""
    out: dict[str, object] = {}
    ages = [s.value for s in spans if s.type == "age"]
    if ages:
        a = ages[0]
        out["age"] = min(float(np.mean(a)) if isinstance(a, tuple) else float(a), AGE_BINS[-1])
    sexes = [s.value for s in spans if s.type == "sex"]
    if sexes:
        out["sex"] = Counter(sexes).most_common(1)[0][0]
    eth = [s.value for s in spans if s.type == "ethnicity"]
    if eth:
        out["ethnicity"] = Counter(eth).most_common(1)[0][0]
    return out


def _age_bin(years: float) -> int:
    return int(np.clip(np.searchsorted(AGE_BINS, years, side="right") - 1, 0, len(AGE_BINS) - 2))


class HybridTextGenerator:
    """Fit on public support documents; turn documents into hybrid documents.

    Args:
        detector: the span detector (default rules when None).
        min_docs: fewest support documents with an attribute needed to fit its
            classifier; below that the support prior (most frequent value) is used.
        max_features: TF-IDF vocabulary size (fitted on masked support text).
        C: inverse regularisation of the logistic regressions.
        range_half_width: half width of rendered age ranges, as a fraction of the age (at least 1 year).
        renderers: extra or replacement renderers by span type; a type without a
            renderer is replaced by the placeholder ``[type]``.
        cues: prior-knowledge context cues per attribute (default :data:`DEFAULT_CUES`;
            ``{}`` to use the fitted classifiers alone).
        seed: seed of the classifiers (deterministic liblinear/lbfgs anyway).
    """

    def __init__(self, detector: SpanDetector | None = None, *, min_docs: int = 5, max_features: int = 20000,
                 C: float = 1.0, range_half_width: float = 0.25, renderers: Mapping[str, Renderer] | None = None,
                 cues: Mapping[str, Sequence[tuple[str, str, float]]] | None = None, seed: int = 0) -> None:
        self.detector = detector
        self.min_docs = min_docs
        self.max_features = max_features
        self.C = C
        self.range_half_width = range_half_width
        self.renderers = dict(renderers or {})
        self.cues = cues
        self.seed = seed

    # ---------------------------------------------------------------- fitting
    def fit(self, support_texts: Sequence[str]) -> HybridTextGenerator:
        """Fit the vectoriser and attribute classifiers on public support documents."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        positive(min_docs=self.min_docs, max_features=self.max_features, C=self.C,
                 range_half_width=self.range_half_width)
        support_texts = list(support_texts)
        if not support_texts:
            raise ConfigError("fit() needs at least one public support document.")
        self.detector_ = self.detector or SpanDetector.default()
        cues = DEFAULT_CUES if self.cues is None else self.cues
        self.cues_ = {a: [(re.compile(p, re.IGNORECASE), v, float(w)) for p, v, w in c] for a, c in cues.items()}
        spans = [self.detector_.detect(t) for t in support_texts]
        masked = [mask_spans(t, s) for t, s in zip(support_texts, spans)]
        targets = [_doc_targets(s) for s in spans]
        self.vectorizer_ = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True, min_df=1,
                                           ngram_range=(1, 2))
        X = self.vectorizer_.fit_transform(masked)
        self.models_: dict[str, object] = {}
        self.priors_: dict[str, dict[str, float]] = {}
        ages = np.array([t["age"] for t in targets if "age" in t], dtype=float)
        bins = [str(_age_bin(a)) for a in ages]
        self.age_values_ = {str(b): float(np.median(ages[np.array(bins) == str(b)])) if str(b) in bins
                            else (AGE_BINS[b] + min(AGE_BINS[b + 1], 90)) / 2 for b in range(len(AGE_BINS) - 1)}
        for attr in ("age", "sex", "ethnicity"):
            rows = [i for i, t in enumerate(targets) if attr in t]
            y = [str(_age_bin(targets[i]["age"])) if attr == "age" else str(targets[i][attr]) for i in rows]
            counts = Counter(y) or Counter({"female": 1} if attr == "sex" else {})
            self.priors_[attr] = {k: v / sum(counts.values()) for k, v in counts.items()}
            if len(rows) >= self.min_docs and len(set(y)) >= 2:
                self.models_[attr] = self._classifier().fit(X[rows], y)
        pools: dict[str, list[str]] = defaultdict(list)
        for s_list in spans:
            for s in s_list:
                if s.type in ("place", "name"):
                    pools[s.type].append(_TITLE.sub("", s.text) if s.type == "name" else s.text)
        self.pools_ = {k: sorted(set(v)) for k, v in pools.items()}
        years = [int(y) for s_list in spans for s in s_list if s.type == "date"
                 for y in re.findall(r"\b(?:1[89]|20)\d\d\b", s.text)]
        self.year_ = int(np.median(years)) if years else 1985
        return self

    def _classifier(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=1000, random_state=self.seed)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vectorizer_"):
            raise ConfigError("This HybridTextGenerator is not fitted; call fit(support_texts) first.")

    # ---------------------------------------------------------------- prediction
    def _proba(self, attr: str, X, masked: Sequence[str]) -> list[dict[str, float]]:
        model = self.models_.get(attr)
        if model is None:
            base = [dict(self.priors_[attr]) for _ in range(X.shape[0])]
        else:
            base = [dict(zip(model.classes_, row)) for row in model.predict_proba(X)]
        cues = self.cues_.get(attr, [])
        if not cues:
            return base
        out = []
        for probs, doc in zip(base, masked):
            score: dict[str, float] = defaultdict(float)
            for pattern, value, weight in cues:
                score[value] += weight * len({m.group(0).lower() for m in pattern.finditer(doc)})
            keys = set(probs) | {k for k, v in score.items() if v}
            logit = {k: np.log(max(probs.get(k, 0.0), 1e-3)) + score[k] for k in keys}
            z = max(logit.values(), default=0.0)
            total = sum(np.exp(v - z) for v in logit.values())
            out.append({k: float(np.exp(v - z) / total) for k, v in logit.items()})
        return out

    def predict_attributes(self, texts: Sequence[str]) -> list[dict[str, object]]:
        """Predicted age (years), sex and ethnicity of each document, read from its masked text only."""
        self._check_fitted()
        masked = [mask_spans(t, self.detector_.detect(t)) for t in texts]
        return self._predict_masked(masked)

    def _predict_masked(self, masked: Sequence[str]) -> list[dict[str, object]]:
        X = self.vectorizer_.transform(masked)
        age_p, sex_p, eth_p = (self._proba(a, X, masked) for a in ("age", "sex", "ethnicity"))
        out = []
        for a, s, e in zip(age_p, sex_p, eth_p):
            # expected age under the predicted group probabilities (lower squared error than the mode)
            age = sum(p * self.age_values_[b] for b, p in a.items()) / sum(a.values()) if a else None
            out.append({"age": age,
                        "sex_proba": s, "ethnicity_proba": e})
        return out

    # ---------------------------------------------------------------- rendering
    def privacy_statement(self) -> str:
        """:func:`privacy_statement` for this generator's detector (for reports and run records)."""
        return privacy_statement(self.detector_ if hasattr(self, "detector_") else self.detector)

    def hybridize(self, text: str) -> HybridDoc:
        """The hybrid version of one document, with the replacements made."""
        return self._hybridize_many([text])[0]

    def transform(self, texts: Sequence[str]) -> list[str]:
        """Hybrid versions of ``texts`` (same order)."""
        return [d.text for d in self._hybridize_many(list(texts))]

    def masked_view(self, texts: Sequence[str]) -> list[str]:
        """Documents with every detected sensitive span deleted (replaced by a space): data-independent
        stand-ins for the spans, the text counterpart of the tabular noise view (`fdp`, `sgd_pub`)."""
        self._check_fitted()
        return [mask_spans(t, self.detector_.detect(t), token=" ") for t in texts]

    def reference_view(self, texts: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Hybrid documents whose slots are filled with the predictions of *another*, random document of
        `texts` (a permutation drawn from `rng`): public, and it sets C_h like the tabular reference view."""
        self._check_fitted()
        spans = [self.detector_.detect(t) for t in texts]
        masked = [mask_spans(t, s) for t, s in zip(texts, spans)]
        preds = self._predict_masked(masked)
        perm = rng.permutation(len(texts))
        return [self._render(t, s, m, preds[j]).text for t, s, m, j in zip(texts, spans, masked, perm)]

    def _hybridize_many(self, texts: list[str]) -> list[HybridDoc]:
        self._check_fitted()
        spans = [self.detector_.detect(t) for t in texts]
        masked = [mask_spans(t, s) for t, s in zip(texts, spans)]
        preds = self._predict_masked(masked)  # the only model input: masked text
        return [self._render(t, s, m, p) for t, s, m, p in zip(texts, spans, masked, preds)]

    def _render(self, text: str, spans: list[Span], masked: str, pred: dict) -> HybridDoc:
        """Fill every slot of the masked document; the original ``text`` is used only to check the spans.

        Renderers receive a :class:`Slot` (type, position in the masked document), the masked document and
        the document's predictions, never a span's text or value: the hybrid is a function of public
        information (the text outside the detected spans, their positions and types) and the predictions,
        which are themselves read from the masked text.
        """
        public, slots = mask_with_slots(text, spans)
        age = pred["age"]
        ctx = RenderContext(masked=masked, age=age, sex_proba=pred["sex_proba"],
                            ethnicity_proba=pred["ethnicity_proba"],
                            age_half_width=max(1.0, self.range_half_width * (age or 0.0)), year=self.year_,
                            pools={k: v for k, v in self.pools_.items()})
        parts, reps, last = [], [], 0
        prev: dict[str, tuple[Slot, str]] = {}
        for slot in slots:
            coordinated_with = None
            if slot.type in prev and _COORD.match(public[prev[slot.type][0].end:slot.start]):
                coordinated_with = prev[slot.type][1]
            renderer = self.renderers.get(slot.type) or _DEFAULT_RENDERERS.get(slot.type)
            rep = renderer(slot, public, ctx, coordinated_with) if renderer else f"[{slot.type}]"
            if slot.type in ("sex", "ethnicity"):
                prev[slot.type] = (slot, _value_of(slot.type, coordinated_with, ctx))
            parts += [public[last:slot.start], rep]
            reps.append(rep)
            last = slot.end
        parts.append(public[last:])
        return HybridDoc("".join(parts), tuple(spans), tuple(reps),
                         {"age": age, "sex": (_ranked(ctx.sex_proba) or [None])[0],
                          "ethnicity": (_ranked(ctx.ethnicity_proba) or [None])[0]})


_RECALL_FILE = Path(__file__).with_name("detection_recall.json")


def detection_recall() -> dict[str, tuple[int, int]]:
    """Measured detection recall per span type: ``{type: (found, gold)}`` on the hand-labelled abstracts.

    Written by ``python benchmarks/span_detection.py`` (lenient matching); empty when the file is absent.
    """
    if not _RECALL_FILE.is_file():
        return {}
    record = json.loads(_RECALL_FILE.read_text())
    return {t: (int(c["found"]), int(c["gold"])) for t, c in record.get("types", {}).items()}


def privacy_statement(detector: SpanDetector | None = None) -> str:
    """What the hybrid text protects and what it does not, with the measured detection recall.

    Meant for any report or record of a text run: the hybrid document is a function of public information
    (the text outside the detected spans, their positions and types, and predictions read from that masked
    text), so the values of *detected* spans never reach it. A sensitive span the detector misses stays
    verbatim in the hybrid text, in the public TF-IDF vocabulary and in everything fitted on them; the
    feature-level (ε, δ) guarantee does not cover it.
    """
    types = (detector or SpanDetector.default()).types
    recall = detection_recall()
    parts = [f"{t} {recall[t][0]}/{recall[t][1]} ({recall[t][0] / recall[t][1]:.0%})"
             for t in types if t in recall and recall[t][1]]
    unmeasured = [t for t in types if t not in recall or not recall[t][1]]
    text = ("Text hybrid: every detected sensitive span (" + ", ".join(types) + ") is re-written from public "
            "information only (its type, the masked document around it, and attributes predicted from that "
            "masked text); its value never reaches the hybrid text. Spans the rule-based detector misses stay "
            "verbatim in the hybrid text and in the public TF-IDF vocabulary, and no formal guarantee covers them.")
    if parts:
        text += (" Measured detection recall (lenient, 50 hand-labelled Medical Abstracts, "
                 "docs/results/span_detection.md): " + "; ".join(parts) + ".")
    if unmeasured:
        text += (" Not measured (no labelled examples): " + ", ".join(unmeasured) + "; names are found only after "
                 "a title or a cue word (\"seen by\", \"Name:\") when the default rules are used.")
    return text


def _ranked(proba: Mapping[str, float]) -> list[str]:
    return sorted(proba, key=lambda k: (-proba[k], k))


def _choose(proba: Mapping[str, float], avoid: str | None, universe: Sequence[str]) -> str:
    ranked = _ranked(proba) + [u for u in universe if u not in proba]
    if avoid is not None:
        ranked = [r for r in ranked if r != avoid] or ranked
    return ranked[0]


_SEXES = ("female", "male")
_ETHNICITIES = ("white", "black", "asian", "hispanic")


def _value_of(kind: str, coordinated_with: str | None, ctx: RenderContext) -> str:
    if kind == "sex":
        return _choose(ctx.sex_proba, coordinated_with, _SEXES)
    return _choose(ctx.ethnicity_proba, coordinated_with, _ETHNICITIES)


def _render_sex(slot: Slot, masked: str, ctx: RenderContext, avoid: str | None) -> str:
    return render_sex(slot, masked, _choose(ctx.sex_proba, avoid, _SEXES))


def _render_ethnicity(slot: Slot, masked: str, ctx: RenderContext, avoid: str | None) -> str:
    return render_ethnicity(slot, masked, _choose(ctx.ethnicity_proba, avoid, _ETHNICITIES))


def _render_age(slot: Slot, masked: str, ctx: RenderContext, avoid: str | None) -> str:
    return render_age(slot, masked, ctx.age if ctx.age is not None else 50.0, ctx.age_half_width)


def _render_pool(kind: str) -> Renderer:
    """Places and names: a support-split value per slot, chosen by a hash of the masked document and slot index."""
    def render(slot: Slot, masked: str, ctx: RenderContext, avoid: str | None) -> str:
        return ctx.pick(f"{kind}:{slot.index}", list(ctx.pools.get(kind) or _FALLBACK_POOLS[kind]))
    return render


def _render_date(slot: Slot, masked: str, ctx: RenderContext, avoid: str | None) -> str:
    h = int(hashlib.sha1(f"date|{slot.index}|{ctx.masked}".encode()).hexdigest()[:8], 16)
    month, day, year = MONTHS[h % 12], 1 + h % 28, ctx.year
    form = date_form(slot, masked)
    if form == "day":
        return f"{month} {day}, {year}"
    if form == "range":
        return f"{year} {'and' if _before_word(masked, slot) == 'between' else 'to'} {year + 5}"
    return f"{year}"


def _before_word(masked: str, slot: Slot) -> str:
    words = re.findall(r"[A-Za-z]+", masked[:slot.start])
    return words[-1].lower() if words else ""


_DEFAULT_RENDERERS: dict[str, Renderer] = {"sex": _render_sex, "age": _render_age, "ethnicity": _render_ethnicity,
                                           "place": _render_pool("place"), "name": _render_pool("name"),
                                           "date": _render_date}
