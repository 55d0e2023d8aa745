"""Span detection over hand-written sentences, including the tricky ones from issue 6."""

from __future__ import annotations

import re

import pytest

from fusiondp.errors import BackendUnavailableError, ConfigError
from fusiondp.text.spans import Rule, Span, SpanDetector, detect_spans, mask_spans, spacy_backend


def found(text: str, detector: SpanDetector | None = None) -> list[tuple[str, str, object]]:
    return [(s.text, s.type, s.value) for s in detect_spans(text, detector)]


@pytest.mark.parametrize("text, expected", [
    ("A 54-year-old woman presented.", [("54-year-old", "age", 54.0), ("woman", "sex", "female")]),
    ("a 3-month-old boy", [("3-month-old", "age", 0.25), ("boy", "sex", "male")]),
    ("A seventeen-year-old girl", [("seventeen-year-old", "age", 17.0), ("girl", "sex", "female")]),
    ("a two-year-old", [("two-year-old", "age", 2.0)]),
    ("The patient was 65 years old.", [("65 years old", "age", 65.0)]),
    ("patients 18 years of age or older", [("18 years of age", "age", 18.0)]),
    ("patients aged 20 to 50 years", [("20 to 50 years", "age", (20.0, 50.0))]),
    ("children aged 3-16", [("3-16", "age", (3.0, 16.0))]),
    ("(mean age 54.3 years)", [("54.3 years", "age", 54.3)]),
    ("the age of 50 was", [("50", "age", 50.0)]),
    ("a 28-day-old infant", [("28-day-old", "age", round(28 / 365.25, 2))]),
])
def test_ages(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "A 45-year follow-up of the cohort.",
    "the 5-year survival was 40%",
    "aged 2 mg doses",          # not an age: a unit follows
    "mean age was 51%",
])
def test_not_ages(text):
    assert [s for s in detect_spans(text) if s.type == "age"] == []


def test_pronouns_and_she_bear():
    assert found("She said her son saw him; the she-bear did not.") == [
        ("She", "sex", "female"), ("her", "sex", "female"), ("son", "sex", "male"), ("him", "sex", "male")]


def test_uppercase_abbreviations_are_not_pronouns():
    assert found("HER-2 amplification and HE staining") == []


def test_counts_of_each_sex():
    assert found("seven male and one female") == [("male", "sex", "male"), ("female", "sex", "female")]
    assert found("the male-to-female ratio") == [("male", "sex", "male"), ("female", "sex", "female")]


def test_womens_health_initiative_is_not_a_sex_span():
    assert found("The Women's Health Initiative enrolled 1000 women.") == [("women", "sex", "female")]


def test_laboratory_animals_and_anatomy_are_excluded():
    assert found("Male Wistar rats and white New Zealand rabbits") == []
    assert found("white blood cells in the white matter") == []


def test_ethnicity_needs_people_context():
    assert found("black and white patients") == [("black", "ethnicity", "black"), ("white", "ethnicity", "white")]
    assert found("Caucasians and African-Americans") == [("Caucasians", "ethnicity", "white"),
                                                          ("African-Americans", "ethnicity", "black")]
    assert found("Japanese women; the Japanese literature") == [("Japanese", "ethnicity", "japanese"),
                                                                 ("women", "sex", "female")]


def test_dates_places_names():
    got = found("From January 1985 to 1989 in Boston, Dr. Smith treated 1990 patients.")
    assert got == [("January 1985", "date", "January 1985"), ("1989", "date", "1989"),
                   ("Boston", "place", "Boston"), ("Dr. Smith", "name", "Dr. Smith")]


def test_names_take_their_title_and_follow_cues():
    # the title is part of the name span: "Mrs." would otherwise tell the sex in the hybrid text
    assert found("Mrs. Mary Jones was admitted.") == [("Mrs. Mary Jones", "name", "Mrs. Mary Jones")]
    assert found("Seen by John Smith today.") == [("John Smith", "name", "John Smith")]
    assert found("Name: O'Brien.") == [("O'Brien", "name", "O'Brien")]
    assert found("Seen by MRI and by The Lancet.") == []


def test_age_detection_has_no_magnitude_limit():
    assert found("A 130-year-old man.")[0] == ("130-year-old", "age", 130.0)
    assert found("aged one hundred and five years")[0][2] == 105.0
    assert found("aged 50 to 20 years")[0][2] == (20.0, 50.0)


def test_broad_ethnicity_list():
    assert [g[2] for g in found("Somali and Han Chinese patients; among Koreans and Jews.")] == [
        "somali", "han", "chinese", "korean", "jewish"]


def test_user_rule_adds_a_new_type_and_wins_ties_by_priority():
    det = SpanDetector.default().with_rules(
        Rule("mrn", "id", r"\bMRN[: ]*(?P<span>\d{6,})", value=lambda m: m.group("span")))
    assert found("MRN 1234567 for a 54-year-old man", det) == [
        ("1234567", "id", "1234567"), ("54-year-old", "age", 54.0), ("man", "sex", "male")]
    assert "id" in det.types


def test_without_and_exclusions_are_immutable():
    base = SpanDetector.default()
    no_sex = base.without(types=["sex"])
    assert found("a 54-year-old woman", no_sex) == [("54-year-old", "age", 54.0)]
    veto = base.with_exclusions(re.compile(r"old woman"))
    assert found("a 54-year-old woman", veto) == []
    assert len(found("a 54-year-old woman", base)) == 2
    with pytest.raises(ConfigError):
        base.without(names=["no_such_rule"])
    with pytest.raises(ConfigError):
        base.with_rules(base.rules[0])
    assert "age_adjective" in base.describe()


def test_bad_rules_raise_config_error():
    with pytest.raises(ConfigError, match="invalid pattern"):
        Rule("bad", "x", "(")
    with pytest.raises(ConfigError):
        Rule("", "x", "a")


def test_backend_spans_are_merged():
    def backend(text: str) -> list[Span]:
        i = text.find("Acme")
        return [Span(i, i + 4, "org", "acme", "Acme", "test")] if i >= 0 else []
    det = SpanDetector.default().with_backends(backend)
    assert found("Acme treated a woman", det) == [("Acme", "org", "acme"), ("woman", "sex", "female")]


def test_mask_spans():
    t = "A 54-year-old woman; she was fine."
    assert mask_spans(t, detect_spans(t)) == "A [age] [sex]; [sex] was fine."


def test_spacy_backend_missing_is_clear():
    try:
        import spacy  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailableError, match="spacy"):
            spacy_backend()
    else:
        pytest.skip("spaCy installed")


def test_abbreviations_and_addresses():
    assert found("multiple endocrine neoplasia (MEN) in 3 men") == [("men", "sex", "male")]
    assert found("(Adria Laboratory, Columbus, OH) and NE concentrations") == [
        ("Columbus", "place", "Columbus"), ("OH", "place", "OH")]
    assert found("However, NE rose; Mr. In contrast") == []


def test_animal_ages_and_comparatives():
    assert found('Six-week-old Harlan-Sprague-Dawley "Fuzzy" rats') == []
    assert found("women older than 50 years") == [("women", "sex", "female"), ("50 years", "age", 50.0)]
    assert found("The mean age of the patients was 62 years.") == [("62 years", "age", 62.0)]
