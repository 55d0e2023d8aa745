"""Render a predicted value back into the grammatical form of a span.

The *form* of a span (adjective "54-year-old" vs "54 years of age", singular vs
plural noun, pronoun case, sentence-initial capital, single age vs range) is
read from the span and its public context; it is the same for every value the
span could hold (a "woman" slot and a "man" slot are both singular nouns), so
rendering depends on the predicted value and public structure only. Units are
chosen from the *predicted* age (months below 2 years), never kept from the
original span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fusiondp.text._rules import FEMALE_WORDS, MALE_WORDS
from fusiondp.text.spans import Span

# ------------------------------------------------------------------ case
def sentence_initial(text: str, start: int) -> bool:
    """Whether the span at ``start`` begins a sentence (public: depends on the text before it)."""
    before = text[:start].rstrip(" \"'(")
    return not before or before[-1] in ".!?:"


def apply_case(word: str, span: Span, text: str) -> str:
    """Upper-case ``word`` if the span is all capitals; capitalise it if the span starts a sentence."""
    if len(span.text) > 1 and span.text.isupper():
        return word.upper()
    if sentence_initial(text, span.start) and word:
        return word[0].upper() + word[1:]
    return word


# ------------------------------------------------------------------ sex
_PAIRS = dict(zip(FEMALE_WORDS, MALE_WORDS))  # woman -> man, women -> men, ...
_SEX_FORMS = {f: (f, m) for f, m in _PAIRS.items()} | {m: (f, m) for f, m in _PAIRS.items()}
# words after which "her"/"his"/"him" is an object pronoun rather than a determiner
_NOT_NOUN = set("the a an to in on at of for from by with and or but that which who was were is are had has have "
                "be been being as than then after before during into onto up down out off over under".split())


def pronoun_case(span: Span, text: str) -> str:
    """'subject', 'object', 'possessive' or 'reflexive' for a third-person pronoun slot."""
    w = span.text.lower()
    if w in ("she", "he"):
        return "subject"
    if w in ("herself", "himself"):
        return "reflexive"
    if w == "him":
        return "object"
    nxt = re.match(r"\s*([A-Za-z-]+)", text[span.end:])
    if nxt is None or nxt.group(1).lower() in _NOT_NOUN:
        return "object" if w in ("her", "him") else "possessive_independent"
    return "possessive"


_PRONOUNS = {"subject": ("she", "he"), "object": ("her", "him"), "possessive": ("her", "his"),
             "possessive_independent": ("hers", "his"), "reflexive": ("herself", "himself")}


def render_sex(span: Span, text: str, value: str) -> str:
    """The span's slot filled with ``value`` ('female' or 'male')."""
    k = 0 if value == "female" else 1
    w = span.text.lower()
    if w in _SEX_FORMS:
        word = _SEX_FORMS[w][k]
    else:
        word = _PRONOUNS[pronoun_case(span, text)][k]
    return apply_case(word, span, text)


# ------------------------------------------------------------------ age
@dataclass(frozen=True)
class AgeForm:
    """How an age span is written: 'adjective', 'old', 'of_age', 'unit', 'bare' or 'decade'; range or not."""

    shape: str
    is_range: bool


def age_form(span: Span) -> AgeForm:
    """The value-independent form of an age span."""
    t = span.text.lower()
    is_range = isinstance(span.value, tuple)
    if re.search(r"(?:year|month|week|day|yr|mo|wk)s\s+old$", t):
        shape = "old"  # "65 years old"
    elif t.endswith("old"):
        shape = "adjective"  # "54-year-old", "seventy-seven-year old"
    elif t.endswith("of age"):
        shape = "of_age"
    elif re.search(r"\d0'?s$", t):
        shape = "decade"
    elif re.search(r"[a-z]$", t):
        shape = "unit"
    else:
        shape = "bare"
    return AgeForm(shape, is_range)


def _number_and_unit(years: float) -> tuple[int, str]:
    if years < 2:
        return max(1, round(years * 12)), "month"
    return round(years), "year"


def render_age(span: Span, text: str, years: float, half_width: float) -> str:
    """The span's slot filled with an age of ``years`` (a range ``years +/- half_width`` for range slots)."""
    form = age_form(span)
    if form.shape == "decade":
        return f"{int(years // 10 * 10)}s"
    if form.is_range:
        lo, hi = max(0.0, years - half_width), years + half_width
        if hi < 2:
            a, b, unit = max(1, round(lo * 12)), max(2, round(hi * 12)), "month"
        else:
            a, b, unit = round(lo), round(hi), "year"
        if form.shape == "adjective":
            out = f"{a} to {b}-{unit}-old"
        elif form.shape == "bare":
            out = f"{a}-{b}"
        else:
            out = f"{a} to {b} {unit}s" + {"of_age": " of age", "old": " old"}.get(form.shape, "")
        return apply_case(out, span, text)
    n, unit = _number_and_unit(years)
    plural = unit + ("s" if n != 1 else "")
    out = {"adjective": f"{n}-{unit}-old", "of_age": f"{n} {plural} of age", "old": f"{n} {plural} old",
           "unit": f"{n} {plural}", "bare": f"{n}"}[form.shape]
    return apply_case(out, span, text)


# ------------------------------------------------------------------ ethnicity
_ETH_WORDS = {"white": ("white", "whites"), "black": ("black", "blacks"), "asian": ("Asian", "Asians"),
              "hispanic": ("Hispanic", "Hispanics"), "native american": ("Native American", "Native Americans"),
              "pacific islander": ("Pacific Islander", "Pacific Islanders")}


def render_ethnicity(span: Span, text: str, value: str) -> str:
    """The span's slot (adjective or plural noun) filled with ethnicity ``value``."""
    t = span.text.lower()
    plural = t.endswith("s") and not t.endswith("ese")
    adj, noun = _ETH_WORDS.get(value, (value.title(), value.title() + ("" if value.endswith(("ese", "sh", "ch"))
                                                                      else "s")))
    return apply_case(noun if plural else adj, span, text)
