"""Sensitive-span detection: inspectable regex rules, extensible by the user.

A *span* is a piece of a document that carries a sensitive attribute (docs/method.md
§3, text): an age, a sex or gender word or pronoun, an ethnicity, a name, a
date or a place. Every span has a type and a normalised value, so the hybrid
step can predict a replacement and the evaluation can score the value.

Detection is rule based. A :class:`Rule` is a named regular expression with a
span type and a value normaliser; a :class:`SpanDetector` holds rules plus
*exclusions* (patterns whose matches veto any span they overlap, e.g. "Women's
Health Initiative" or "male rats"). The default rules live in
:mod:`fusiondp.text._rules`; print ``SpanDetector.default().describe()`` to read
them. Users add their own rules or span types without subclassing:

>>> det = SpanDetector.default().with_rules(
...     Rule("mrn", "id", r"\\bMRN[: ]*(?P<span>\\d{6,})", value=lambda m: m.group("span")))
>>> [(s.type, s.value) for s in det.detect("MRN 1234567: a 54-year-old woman.")]
[('id', '1234567'), ('age', 54.0), ('sex', 'female')]

Overlaps are resolved greedily: earlier start first, then the longer span,
then the rule with the higher ``priority``. An optional NER backend (any
callable ``text -> list[Span]``, e.g. :func:`spacy_backend`) contributes spans
that are merged the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fusiondp.errors import BackendUnavailableError, ConfigError

__all__ = ["Span", "Rule", "SpanDetector", "detect_spans", "mask_spans", "spacy_backend"]

SpanValue = Any  # float (age in years), (low, high) tuple (age range) or str (everything else)


@dataclass(frozen=True, order=True)
class Span:
    """One sensitive span of a document.

    Args:
        start: character offset of the first character.
        end: offset one past the last character (``text[start:end]``).
        type: the attribute type ("age", "sex", "ethnicity", "name", "date", "place", or a user type).
        value: the normalised value: age in years (float) or a ``(low, high)`` range,
            "female"/"male" for sex, a canonical lower-case label otherwise.
        text: the surface text ``document[start:end]``.
        rule: the name of the rule (or backend) that found it.

    >>> Span(2, 13, "age", 54.0, "54-year-old", "age_adjective").text
    '54-year-old'
    """

    start: int
    end: int
    type: str
    value: SpanValue = field(compare=False)
    text: str = field(compare=False)
    rule: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ranges become lists)."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"start": self.start, "end": self.end, "type": self.type, "value": value, "text": self.text}


@dataclass(frozen=True)
class Rule:
    """A named regular expression that yields spans of one type.

    Args:
        name: unique rule name (shown in :meth:`SpanDetector.describe` and on each span).
        type: the span type it produces.
        pattern: a regex (string or compiled). If it has a group named ``span``,
            only that group is the span; the rest of the match is context.
        value: normaliser ``match -> value``; the default is the lower-cased span text.
            Returning ``None`` drops the match.
        flags: regex flags used when ``pattern`` is a string (default: case-insensitive).
        priority: breaks ties between overlapping spans of equal extent (higher wins).

    >>> r = Rule("title_name", "name", r"\\bDr\\.? (?P<span>[A-Z][a-z]+)", flags=0)
    >>> r.find("seen by Dr. Smith")[0].text
    'Smith'
    """

    name: str
    type: str
    pattern: re.Pattern[str] | str
    value: Callable[[re.Match[str]], SpanValue] | None = None
    flags: int = re.IGNORECASE
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.name or not self.type:
            raise ConfigError(f"A rule needs a name and a type, got name={self.name!r}, type={self.type!r}.")
        if isinstance(self.pattern, str):
            try:
                object.__setattr__(self, "pattern", re.compile(self.pattern, self.flags))
            except re.error as exc:
                raise ConfigError(f"Rule {self.name!r} has an invalid pattern: {exc}.") from None

    def find(self, text: str) -> list[Span]:
        """All spans this rule finds in ``text`` (overlaps not yet resolved)."""
        assert isinstance(self.pattern, re.Pattern)
        group = "span" if "span" in self.pattern.groupindex else 0
        out = []
        for m in self.pattern.finditer(text):
            start, end = m.span(group)
            if start < 0 or start == end:
                continue
            value = self.value(m) if self.value is not None else m.group(group).lower()
            if value is None:
                continue
            out.append(Span(start, end, self.type, value, text[start:end], self.name))
        return out


Backend = Callable[[str], Sequence[Span]]


class SpanDetector:
    """Rules + exclusions (+ optional backends) -> non-overlapping spans.

    Detectors are immutable: ``with_rules``/``without``/``with_exclusions``
    return new detectors, so a shared default is never modified.

    Args:
        rules: the rules, applied in order.
        exclusions: regexes (case-sensitive when given as strings) whose matches
            veto every span overlapping them.
        backends: optional callables ``text -> spans`` (e.g. an NER model).

    >>> det = SpanDetector.default()
    >>> [s.text for s in det.detect("She was seen for a 45-year follow-up; the she-bear was not.")]
    ['She']
    """

    def __init__(self, rules: Iterable[Rule] = (), exclusions: Iterable[re.Pattern[str] | str] = (),
                 backends: Iterable[Backend] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"Duplicate rule name(s): {', '.join(dup)}; use without(names=...) first.")
        self.exclusions: tuple[re.Pattern[str], ...] = tuple(
            re.compile(p) if isinstance(p, str) else p for p in exclusions)
        self.backends: tuple[Backend, ...] = tuple(backends)

    @classmethod
    def default(cls) -> SpanDetector:
        """The built-in rules for ages, sex, ethnicity, names, dates and places."""
        from fusiondp.text import _rules

        return cls(_rules.default_rules(), _rules.default_exclusions())

    @property
    def types(self) -> tuple[str, ...]:
        """Span types this detector's rules can produce (backends not included)."""
        return tuple(dict.fromkeys(r.type for r in self.rules))

    def with_rules(self, *rules: Rule) -> SpanDetector:
        """A new detector with ``rules`` appended (a new name may introduce a new span type)."""
        return SpanDetector(self.rules + rules, self.exclusions, self.backends)

    def with_exclusions(self, *patterns: re.Pattern[str] | str) -> SpanDetector:
        """A new detector with extra veto patterns."""
        return SpanDetector(self.rules, self.exclusions + tuple(patterns), self.backends)

    def with_backends(self, *backends: Backend) -> SpanDetector:
        """A new detector that also merges spans from ``backends``."""
        return SpanDetector(self.rules, self.exclusions, self.backends + backends)

    def without(self, *, types: Iterable[str] = (), names: Iterable[str] = ()) -> SpanDetector:
        """A new detector without the rules of the given types or names."""
        types, names = set(types), set(names)
        unknown = sorted(names - {r.name for r in self.rules})
        if unknown:
            raise ConfigError(f"Unknown rule name(s) {', '.join(unknown)}; see describe().")
        keep = [r for r in self.rules if r.type not in types and r.name not in names]
        return SpanDetector(keep, self.exclusions, self.backends)

    def describe(self) -> str:
        """A readable listing of every rule and exclusion (for inspection)."""
        lines = [f"{r.name:<24} {r.type:<10} {r.pattern.pattern}" for r in self.rules]  # type: ignore[union-attr]
        lines += [f"{'(exclusion)':<24} {'-':<10} {p.pattern}" for p in self.exclusions]
        return "\n".join(lines)

    def detect(self, text: str) -> list[Span]:
        """Non-overlapping spans of ``text``, sorted by offset."""
        if not isinstance(text, str):
            raise ConfigError(f"Expected a str document, got {type(text).__name__}.")
        vetoes = [m.span() for p in self.exclusions for m in p.finditer(text)]
        candidates: list[tuple[Span, int]] = []
        for rule in self.rules:
            candidates += [(s, rule.priority) for s in rule.find(text)]
        for backend in self.backends:
            candidates += [(s, -1) for s in backend(text)]
        candidates = [(s, p) for s, p in candidates
                      if not any(s.start < ve and vs < s.end for vs, ve in vetoes)]
        candidates.sort(key=lambda sp: (sp[0].start, -(sp[0].end - sp[0].start), -sp[1]))
        out: list[Span] = []
        for span, _ in candidates:
            if out and span.start < out[-1].end:
                continue
            out.append(span)
        return out


def detect_spans(text: str, detector: SpanDetector | None = None) -> list[Span]:
    """Spans of ``text`` found by ``detector`` (default rules when None).

    >>> [(s.text, s.type, s.value) for s in detect_spans("A 3-month-old boy and his mother.")]
    [('3-month-old', 'age', 0.25), ('boy', 'sex', 'male'), ('his', 'sex', 'male'), ('mother', 'sex', 'female')]
    """
    return (detector or _default()).detect(text)


_DEFAULT: SpanDetector | None = None


def _default() -> SpanDetector:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SpanDetector.default()
    return _DEFAULT


def mask_spans(text: str, spans: Sequence[Span], token: str = "[{type}]") -> str:
    """Replace every span by ``token`` (formatted with the span's ``type``).

    The result carries no sensitive value and is what predictors may read.

    >>> t = "A 54-year-old woman."
    >>> mask_spans(t, detect_spans(t))
    'A [age] [sex].'
    """
    parts, last = [], 0
    for s in sorted(spans):
        if s.start < last:
            raise ConfigError(f"Overlapping spans at offset {s.start}; resolve them before masking.")
        parts += [text[last:s.start], token.format(type=s.type)]
        last = s.end
    parts.append(text[last:])
    return "".join(parts)


def spacy_backend(model: str = "en_core_web_sm", *, labels: dict[str, str] | None = None) -> Backend:
    """An optional NER backend from a locally installed spaCy model (lazy import).

    Args:
        model: a spaCy pipeline name or path available offline.
        labels: spaCy entity label -> span type (default: PERSON->name, DATE->date, GPE/LOC->place, NORP->ethnicity).

    Raises:
        BackendUnavailableError: spaCy or the model is not installed.
    """
    try:
        import spacy  # type: ignore[import-not-found]
    except ImportError:
        raise BackendUnavailableError("The spaCy backend needs `pip install spacy` and a local model "
                                      f"(python -m spacy download {model}).") from None
    try:
        nlp = spacy.load(model)
    except OSError:
        raise BackendUnavailableError(f"spaCy model {model!r} is not installed locally.") from None
    mapping = labels or {"PERSON": "name", "DATE": "date", "GPE": "place", "LOC": "place", "NORP": "ethnicity"}

    def backend(text: str) -> list[Span]:
        return [Span(e.start_char, e.end_char, mapping[e.label_], e.text.lower(), e.text, f"spacy:{e.label_}")
                for e in nlp(text).ents if e.label_ in mapping]

    return backend


def shift(span: Span, offset: int) -> Span:
    """The same span moved by ``offset`` characters (for documents cut into pieces)."""
    return replace(span, start=span.start + offset, end=span.end + offset)
