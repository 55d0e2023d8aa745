"""Hybrid text: privacy invariance, fluency of the rendering, consistency within a document."""

from __future__ import annotations

import pytest

from fusiondp.errors import ConfigError
from fusiondp.text.hybrid import HybridTextGenerator
from fusiondp.text.spans import Rule, SpanDetector

SUPPORT = [
    "A 70-year-old man with angina and coronary stenosis; he underwent bypass surgery.",
    "A 68-year-old man with myocardial infarction; his troponin was high.",
    "A 30-year-old woman with eclampsia during pregnancy; she delivered at term.",
    "A 27-year-old woman with preeclampsia in pregnancy; her blood pressure rose.",
    "A 2-month-old boy with congenital heart disease; his mother noticed cyanosis.",
    "A 3-month-old girl with bronchiolitis and feeding problems; her mother was worried.",
    "White and black patients with hypertension in Boston from 1980 to 1985.",
    "Japanese patients with gastric cancer in Japan, 1975-1980.",
] * 3


@pytest.fixture(scope="module")
def gen() -> HybridTextGenerator:
    return HybridTextGenerator(min_docs=2).fit(SUPPORT)


def test_hybrid_does_not_depend_on_sensitive_values(gen):
    a = "A 54-year-old woman with preeclampsia in pregnancy; she was treated with her physician in London."
    b = "A 21-year-old man with preeclampsia in pregnancy; he was treated with his physician in Paris."
    assert gen.transform([a]) == gen.transform([b])
    h = gen.hybridize(a)
    assert "54" not in h.text and "London" not in h.text


def test_predictor_reads_masked_text_only(gen, monkeypatch):
    seen: list[str] = []
    real = gen.vectorizer_.transform
    monkeypatch.setattr(gen.vectorizer_, "transform", lambda docs: seen.extend(docs) or real(docs))
    gen.transform(["A 97-year-old Hispanic woman from Texas; she had angina in March 1989."])
    assert seen and all(w not in d for d in seen for w in ("97", "Hispanic", "woman", "she", "Texas", "1989"))


def test_context_drives_the_prediction(gen):
    preg = gen.hybridize("A 40-year-old man with eclampsia during pregnancy; he delivered at term.")
    heart = gen.hybridize("A 40-year-old woman with angina and coronary stenosis; she underwent bypass surgery.")
    assert preg.predicted["sex"] == "female" and "woman" in preg.text and " she " in preg.text
    assert heart.predicted["sex"] == "male" and "man" in heart.text and " he " in heart.text


def test_pronoun_case_and_capitalisation(gen):
    out = gen.transform(["Eclampsia in pregnancy. She was seen; her blood pressure fell and we told her to rest. "
                         "Her husband came."])[0]
    # the form comes from the context; the kinship the word held ("husband") is not kept
    assert out == ("Eclampsia in pregnancy. She was seen; her blood pressure fell and we told her to rest. "
                   "Her woman came.")
    out = gen.transform(["Angina and coronary stenosis. She was seen; her pain fell and we told her to rest."])[0]
    assert out == "Angina and coronary stenosis. He was seen; his pain fell and we told him to rest."


def test_coordinated_spans_get_different_values(gen):
    out = gen.transform(["Angina in 20 men and 10 women; seven male and one female."])[0]
    assert "men and 10 women" in out or "women and 10 men" in out
    assert "men and one woman" in out or "women and one man" in out
    eth = gen.transform(["Hypertension in black and white patients."])[0]
    a, b = eth.split(" patients")[0].split("in ")[1].split(" and ")
    assert a != b


def test_age_forms(gen):
    h = gen.hybridize("A 3-month-old boy with congenital heart disease, 18 years of age or aged between 20 and 50 "
                      "years.")
    ages = [r for s, r in zip(h.spans, h.replacements) if s.type == "age"]
    assert ages[0].endswith("-old") and ages[1].endswith("of age") and " and " in ages[2]
    infant = gen.hybridize("A 50-year-old boy with congenital heart disease and bronchiolitis; feeding problems.")
    assert infant.predicted["age"] < 50 and "50" not in infant.text


@pytest.mark.parametrize("text, years, expected", [
    ("a 54-year-old man", 0.25, "3-month-old"),
    ("a 3-month-old boy", 61.2, "61-year-old"),
    ("aged 65 years", 1.0, "12 months"),
    ("aged 20 to 50 years", 40.0, "40 years"),  # a range only where the context asks for one
    ("aged between 20 and 50 years", 40.0, "30 and 50 years"),
    ("ages from 20 to 50 years", 40.0, "30 to 50 years"),
    ("18 years of age", 30.0, "30 years of age"),
    ("Seventeen-year-old girls", 8.0, "8-year-old"),
])
def test_render_age(text, years, expected):
    from fusiondp.text._render import mask_with_slots, render_age
    from fusiondp.text.spans import detect_spans

    masked, slots = mask_with_slots(text, detect_spans(text))
    slot = next(s for s in slots if s.type == "age")
    assert render_age(slot, masked, years, half_width=10.0) == expected


def test_dates_and_places_come_from_public_pools(gen):
    h = gen.hybridize("Patients in Chicago from 1960 to 1962 and in Japan.")
    reps = dict(zip((s.text for s in h.spans), h.replacements))
    assert reps["Chicago"] in {"Boston", "Japan"} and reps["Japan"] in {"Boston", "Japan"}
    assert reps["1960 to 1962"].endswith(tuple("0123456789"))
    assert "1960" not in h.text


def test_user_types_render_as_placeholder_or_custom():
    det = SpanDetector.default().with_rules(Rule("mrn", "id", r"\bMRN (?P<span>\d+)"))
    plain = HybridTextGenerator(det, min_docs=2).fit(SUPPORT)
    assert plain.transform(["MRN 123456, a woman"])[0].startswith("MRN [id],")
    custom = HybridTextGenerator(det, min_docs=2, renderers={"id": lambda s, t, c, a: "000000"}).fit(SUPPORT)
    assert custom.transform(["MRN 123456, a woman"])[0].startswith("MRN 000000,")


def test_errors():
    with pytest.raises(ConfigError, match="not fitted"):
        HybridTextGenerator().transform(["x"])
    with pytest.raises(ConfigError):
        HybridTextGenerator().fit([])
    with pytest.raises(ConfigError):
        HybridTextGenerator(min_docs=0).fit(SUPPORT)


def test_privacy_statement_quotes_the_measured_recall(gen):
    import json
    from pathlib import Path

    from fusiondp.text import hybrid, privacy_statement

    record = json.loads(Path(hybrid.__file__).with_name("detection_recall.json").read_text())
    text = gen.privacy_statement()
    assert text == privacy_statement()
    assert "stay verbatim" in text and "no formal guarantee covers them" in text
    for t, c in record["types"].items():
        assert f"{t} {c['found']}/{c['gold']}" in text
    assert "Not measured" in text and "name" in text.split("Not measured")[1]


def test_public_views_of_the_text_bench(gen):
    """Issue 24: the bench's text views are public API of fusiondp.text, and neither reads a span's value."""
    import numpy as np

    a = "A 54-year-old woman with preeclampsia in pregnancy; she was treated in London in March 1989."
    b = "A 21-year-old man with preeclampsia in pregnancy; he was treated in Paris in May 1975."
    masked = gen.masked_view([a, b])
    assert "54" not in masked[0] and "London" not in masked[0] and "preeclampsia" in masked[0]
    ref = gen.reference_view([a, b, a], np.random.default_rng(0))
    again = gen.reference_view([a, b, a], np.random.default_rng(0))
    assert ref == again and len(ref) == 3 and all("54" not in t and "London" not in t for t in ref)
    # swapping the documents' sensitive values changes neither view of the other document
    c = "A 80-year-old man with preeclampsia in pregnancy; he was treated in Rome in June 2001."
    assert gen.masked_view([c])[0].split() == gen.masked_view([b])[0].split()
