"""Render a predicted value into a span's slot, reading only public information.

A renderer sees a :class:`Slot` (the span's type and its position in the
*masked* document) and the masked document itself, where every detected span is
a placeholder such as ``[sex]``. It never sees the original span text. So the
form a value is written in (pronoun case, singular or plural noun, adjective,
"54-year-old" vs "aged 54 years", single age or range, capitals) is chosen from
the surrounding public words, and a slot that held "grandmother", "boy", "him"
or "hers" is rendered exactly as one that held "woman" in the same context.
What a form rule gets wrong costs fluency, never privacy.

Forms are read from the nearest public tokens: the word before the slot (a
determiner, number or adjective makes a noun; a preposition or verb makes an
object or possessive pronoun; a clause start before a verb makes a subject
pronoun), the head after it (a word for people makes an adjective:
"[female] patients"), and verb agreement ("were" -> plural).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ------------------------------------------------------------------ slots and context
_TOKEN = re.compile(r"\[[A-Za-z_]+\]|['’]s\b|[A-Za-z0-9][A-Za-z0-9'’-]*|[^\w\s]")


@dataclass(frozen=True)
class Slot:
    """A span as a renderer may see it: its type, its place in the masked document, its index.

    Args:
        type: the span type ("age", "sex", ...).
        start, end: offsets of its placeholder in the masked document.
        index: its position among all spans of the document (0-based).
    """

    type: str
    start: int
    end: int
    index: int


def mask_with_slots(text: str, spans, token: str = "[{type}]") -> tuple[str, list[Slot]]:
    """The masked document and one :class:`Slot` per span (spans sorted, non-overlapping)."""
    parts, slots, last, pos = [], [], 0, 0
    for i, s in enumerate(sorted(spans)):
        parts.append(text[last:s.start])
        pos += s.start - last
        ph = token.format(type=s.type)
        slots.append(Slot(s.type, pos, pos + len(ph), i))
        parts.append(ph)
        pos += len(ph)
        last = s.end
    parts.append(text[last:])
    return "".join(parts), slots


def _before(masked: str, slot: Slot, k: int = 4) -> list[str]:
    """Up to ``k`` lower-cased tokens before the slot, nearest first; '^' marks the document start."""
    toks = [t.lower() for t in _TOKEN.findall(masked[:slot.start])]
    return (toks[::-1] + ["^"])[:k]


def _after(masked: str, slot: Slot, k: int = 4) -> list[str]:
    """Up to ``k`` lower-cased tokens after the slot; '$' marks the document end."""
    return ([t.lower() for t in _TOKEN.findall(masked[slot.end:])] + ["$"])[:k]


# word classes (closed lists: what is not in them counts as a content word)
ARTICLES_SG = {"a", "an", "one", "each", "every", "another", "this", "either", "neither", "single", "1"}
DET_PL = {"these", "those", "many", "several", "both", "all", "some", "most", "few", "other", "no", "two", "three",
          "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty", "thirty", "forty",
          "fifty", "hundred", "hundreds", "dozen", "thousands", "more", "fewer"}
DET = {"the", "their", "our", "its", "your", "my", "whose", "such", "same"}
PREPOSITIONS = {"in", "of", "among", "amongst", "for", "with", "by", "from", "to", "between", "versus", "vs", "than",
                "on", "at", "about", "including", "like", "against", "within", "without", "into", "toward",
                "towards", "per", "after", "before", "during", "unlike", "except", "through", "under", "over"}
CLAUSE = {"^", ".", ";", ":", "!", "?", "(", ",", "and", "but", "or", "when", "because", "that", "which", "where",
          "while", "if", "although", "though", "as", "since", "until", "then", "so", "whereas", "once", "unless",
          "-", "'", '"'}
AUX_SG = {"was", "is", "has", "does", "wasn't", "isn't", "hasn't", "doesn't"}
AUX_PL = {"were", "are", "have", "do", "weren't", "aren't", "haven't", "don't"}
VERBS = AUX_SG | AUX_PL | {
    "had", "did", "would", "could", "should", "will", "can", "may", "might", "must", "shall", "also", "then",
    "subsequently", "later", "never", "still", "became", "becomes", "began", "went", "felt", "took", "gave",
    "made", "came", "saw", "underwent", "undergoes", "presents", "complains", "remains", "remained", "died",
    "dies", "told", "asked", "let", "found", "sent", "brought", "kept", "got", "gets", "put", "taught",
    "knew", "thought", "say", "said", "says", "be", "been", "being", "become", "get", "give", "gives", "tell",
    "tells", "ask", "asks", "help", "helps", "allow", "allows", "advise", "advised", "encourage", "feels",
    "reports", "denies", "takes", "receives", "continues", "continued", "returns", "returned"}
FUNCTION = PREPOSITIONS | CLAUSE | DET | ARTICLES_SG | {"who", "whom", "not", "only", "also", "$", "'s", "’s",
                                                        "there", "it", "they", "we", "he", "she", "i", "you"}
PEOPLE = {"patient", "patients", "subject", "subjects", "person", "persons", "people", "individual", "individuals",
          "adult", "adults", "child", "children", "infant", "infants", "adolescent", "adolescents", "volunteer",
          "volunteers", "participant", "participants", "case", "cases", "control", "controls", "twin", "twins",
          "worker", "workers", "student", "students", "athlete", "athletes", "smoker", "smokers", "nurse", "nurses",
          "physician", "physicians", "doctor", "doctors", "resident", "residents", "partner", "partners",
          "offspring", "sibling", "siblings", "relative", "relatives", "population", "populations", "cohort",
          "infertility", "sex", "gender", "ratio", "predominance", "preponderance", "hormone", "hormones",
          "pattern", "counterparts", "veterans", "population-based", "newborn", "newborns", "neonate", "neonates",
          "youth", "youths", "teenagers", "elderly", "americans", "descent", "origin", "ancestry", "community",
          "communities", "families", "family", "[sex]", "[ethnicity]"}


# singular count nouns for people: without a determiner before the slot, "[sex] physician" is a possessive
PEOPLE_SINGULAR = {"patient", "subject", "person", "individual", "adult", "child", "infant", "adolescent",
                   "volunteer", "participant", "case", "control", "twin", "worker", "student", "athlete", "smoker",
                   "nurse", "physician", "doctor", "resident", "partner", "sibling", "relative", "newborn",
                   "neonate", "family", "youth"}


def _is_number(tok: str) -> bool:
    return tok.replace(",", "").replace(".", "", 1).isdigit() or tok in DET_PL - {"these", "those", "many",
                                                                                 "several", "both", "all", "some",
                                                                                 "most", "few", "other", "no",
                                                                                 "more", "fewer"}


def _is_verb(tok: str) -> bool:
    return tok in VERBS or (tok.endswith("ed") and tok not in {"aged", "red", "bed", "need", "seed", "speed"})


def _is_content(tok: str) -> bool:
    """A word that heads or modifies a noun phrase (not a function word, verb, participle, placeholder, sign)."""
    return (bool(re.match(r"[a-z]", tok)) and tok not in FUNCTION and not _is_verb(tok)
            and not (tok.endswith("ing") and len(tok) > 5))


def _head(after: list[str], same: str) -> list[str]:
    """Tokens after a coordination of slots of one type ("[sex] and [sex] patients" -> ["patients", ...])."""
    i = 0
    while i < len(after) and (after[i] in {"and", "or", ",", "/", "vs", "versus", same}
                              or (after[i].endswith("ly") and after[i] not in {"only", "early", "family"})):
        i += 1
    return after[i:] + ["$"]


# ------------------------------------------------------------------ case
def sentence_initial(masked: str, start: int) -> bool:
    """Whether a slot at ``start`` begins a sentence (read from the masked text before it)."""
    before = masked[:start].rstrip(" \"'(")
    return not before or before[-1] in ".!?:"


def apply_case(word: str, slot: Slot, masked: str) -> str:
    """Capitalise ``word`` at a sentence start; upper-case it when the words around the slot are capitals."""
    around = [t for t in _TOKEN.findall(masked[max(0, slot.start - 40):slot.start])[-1:]
              + _TOKEN.findall(masked[slot.end:slot.end + 40])[:1] if re.match(r"[A-Za-z]{2}", t)]
    if around and all(t.isupper() for t in around):
        return word.upper()
    if sentence_initial(masked, slot.start) and word:
        return word[0].upper() + word[1:]
    return word


# ------------------------------------------------------------------ sex
SEX_FORMS = ("subject", "object", "possessive", "noun_singular", "noun_plural", "adjective")
_SEX_WORDS = {"subject": ("she", "he"), "object": ("her", "him"), "possessive": ("her", "his"),
              "noun_singular": ("woman", "man"), "noun_plural": ("women", "men"), "adjective": ("female", "male")}


def _number(before: list[str], head: list[str]) -> str:
    """'singular' or 'plural' for a noun slot: from a determiner or number before it, else verb agreement."""
    for tok in before:
        if tok in ARTICLES_SG:
            return "singular"
        if tok in DET_PL or _is_number(tok):
            return "plural"
        if tok in PREPOSITIONS or tok in CLAUSE or tok in VERBS:
            break
    nxt = head[1] if head[0] == "who" else head[0]
    if nxt in AUX_SG:
        return "singular"
    return "plural"


_COORDINATORS = {"and", "or", ",", "/", "vs", "versus", "to", "nor"}


def _coordinated_previous(masked: str, slot: Slot) -> Slot | None:
    """The slot of the same type just before ``slot`` if only a coordinator separates them ("[men] and [women]")."""
    m = re.search(r"\[" + re.escape(slot.type) + r"\](\s*(?:,|and|or|/|vs\.?|versus|to|nor)\s*)$",
                  masked[:slot.start])
    if m is None or m.group(1).strip() == "":
        return None
    return Slot(slot.type, m.start(), m.start() + len(slot.type) + 2, slot.index - 1)


def sex_form(slot: Slot, masked: str) -> str:
    """The grammatical form of a sex slot (one of :data:`SEX_FORMS`), from the public context only."""
    previous = _coordinated_previous(masked, slot)
    if previous is not None:
        return sex_form(previous, masked)  # a coordinated slot takes the form of the first: "[girls] and [boys]"
    before, after = _before(masked, slot), _after(masked, slot)
    p, p2, n = before[0], before[1] if len(before) > 1 else "^", after[0]
    head = _head(after, "[sex]")
    noun = "noun_" + _number(before, head)
    if n in {"'s", "’s", "'"}:
        return noun
    if n == "[sex]" or (p == "in" and n == "[age]"):
        return "possessive"  # "[her] [sister]", "in [his] [50s]"
    determined = p in ARTICLES_SG or p in DET_PL or p in DET or _is_number(p) or p in {"[age]", "[ethnicity]"}
    if head[0] in PEOPLE_SINGULAR and not determined and not _is_content(p):
        return "possessive"  # "with [her] physician"
    if head[0] in PEOPLE or (n == "to" and len(after) > 1 and after[1] == "[sex]"):
        return "adjective"  # "[female] patients", "[male] and [female] subjects", "[male] to [female] ratio"
    if p == "[sex]":
        return "noun_plural" if head[0] in AUX_PL else "noun_singular"  # "[his] [wife]"
    nominal = (determined or (_is_content(p) and not p.endswith("ed")) or p.endswith("ing")
               or (p.endswith("ed") and p not in VERBS and p2 not in {"we", "[sex]", "it", "they", "was", "were",
                                                                     "had", "has", "have", "and", "then"}))
    if nominal:
        return noun
    if p in {"were", "are", "be", "been", "become", "became", "was", "is"}:
        return noun
    if p in CLAUSE:
        if _is_verb(head[0]):
            return noun if head[0] in AUX_PL else "subject"
        return "possessive" if _is_content(n) else noun
    if p in PREPOSITIONS:
        return "possessive" if _is_content(n) else noun
    return "possessive" if _is_content(n) else "object"  # after a verb: "told [her] to", "gave [his] insulin"


def render_sex(slot: Slot, masked: str, value: str) -> str:
    """The slot filled with ``value`` ('female' or 'male') in its context's form."""
    word = _SEX_WORDS[sex_form(slot, masked)][0 if value == "female" else 1]
    return apply_case(word, slot, masked)


# ------------------------------------------------------------------ age
@dataclass(frozen=True)
class AgeForm:
    """How an age slot is written: shape 'adjective', 'unit', 'of_age' or 'decade'; a range or not."""

    shape: str
    is_range: bool
    connector: str = "to"


_AGE_CUES = {"aged", "age", "ages", "than", "between", "from", "range", "ranging", "ranged", "ranges", "mean",
             "median", "average", "over", "under", "above", "below", "least", "about", "approximately", "around",
             "=", ":", ">", "<", "≥", "≤", "at", "to", "and", "(", "was", "were", "is"}
_RANGE_CUES = {"between", "from", "range", "ranging", "ranged", "ranges", "ages"}


def age_form(slot: Slot, masked: str) -> AgeForm:
    """The form of an age slot, from the public context only."""
    before, after = _before(masked, slot), _after(masked, slot)
    p, p2 = before[0], before[1] if len(before) > 1 else "^"
    is_range = any(t in _RANGE_CUES for t in before[:3])
    connector = "and" if "between" in before[:3] else "to"
    if p2 == "in" and p in {"[sex]", "their"}:
        return AgeForm("decade", False)  # "in [his] [50s]"
    if p in ARTICLES_SG or p in DET or after[0] in PEOPLE or after[0] == "[sex]":
        return AgeForm("adjective", is_range, connector)
    near = _AGE_CUES - {"at", "to", "and", "(", "was", "were", "is", "="}  # cues that count up to 3 words back
    if p in _AGE_CUES or any(t in near for t in before[:3]):
        return AgeForm("unit", is_range, connector)
    return AgeForm("of_age", is_range, connector)


def _number_and_unit(years: float) -> tuple[int, str]:
    if years < 2:
        return max(1, round(years * 12)), "month"
    return round(years), "year"


def render_age(slot: Slot, masked: str, years: float, half_width: float) -> str:
    """The slot filled with an age of ``years`` (a range ``years +/- half_width`` for range slots)."""
    form = age_form(slot, masked)
    if form.shape == "decade":
        return f"{int(max(years, 20) // 10 * 10)}s"
    if form.is_range:
        lo, hi = max(0.0, years - half_width), years + half_width
        if hi < 2:
            a, b, unit = max(1, round(lo * 12)), max(2, round(hi * 12)), "month"
        else:
            a, b, unit = round(lo), round(hi), "year"
        if form.shape == "adjective":
            out = f"{a} {form.connector} {b}-{unit}-old"
        else:
            out = f"{a} {form.connector} {b} {unit}s" + (" of age" if form.shape == "of_age" else "")
        return apply_case(out, slot, masked)
    n, unit = _number_and_unit(years)
    plural = unit + ("s" if n != 1 else "")
    out = {"adjective": f"{n}-{unit}-old", "of_age": f"{n} {plural} of age", "unit": f"{n} {plural}"}[form.shape]
    return apply_case(out, slot, masked)


# ------------------------------------------------------------------ ethnicity
_ETH_WORDS = {"white": ("white", "whites"), "black": ("black", "blacks"), "asian": ("Asian", "Asians"),
              "hispanic": ("Hispanic", "Hispanics"), "native american": ("Native American", "Native Americans"),
              "pacific islander": ("Pacific Islander", "Pacific Islanders")}


def ethnicity_form(slot: Slot, masked: str) -> str:
    """'adjective' or 'noun' (plural) for an ethnicity slot, from the public context only."""
    before, after = _before(masked, slot), _after(masked, slot)
    head = _head(after, "[ethnicity]")
    if head[0] in PEOPLE or _is_content(head[0]) or before[0] in {"was", "were", "is", "are", "be", "been", "as"}:
        return "adjective"
    return "noun"


def render_ethnicity(slot: Slot, masked: str, value: str) -> str:
    """The slot filled with ethnicity ``value`` as an adjective or a plural noun, as the context asks."""
    adj, noun = _ETH_WORDS.get(value, (value.title(), value.title() + ("" if value.endswith(("ese", "sh", "ch"))
                                                                      else "s")))
    return apply_case(adj if ethnicity_form(slot, masked) == "adjective" else noun, slot, masked)


# ------------------------------------------------------------------ dates
def date_form(slot: Slot, masked: str) -> str:
    """'day' (after "on"), 'range' (after "between"/"from" with no second date slot) or 'year'."""
    before, after = _before(masked, slot, 2), _after(masked, slot, 2)
    if before[0] == "on":
        return "day"
    if before[0] in {"between", "from"} and not (after[0] in {"to", "and", "-", "–", "through", "until"}
                                                  and after[1:2] == ["[date]"]):
        return "range"
    return "year"
