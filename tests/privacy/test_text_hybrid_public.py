"""The text hybrid is a function of public information only (issue 13, item 4).

For a template document with one slot, filling the slot with any value of a sensitive type (a sex or
gender word or pronoun, an age, an ethnicity, a name) must give a byte-identical hybrid document that
contains none of the values: the replacement depends on the span type and the public context, never on
the original word, and detection does not stop at a value (ages above 125, unlisted groups, names
without a title).
"""

from __future__ import annotations

import re

import pytest

from fusiondp.text.hybrid import HybridTextGenerator

SUPPORT = [
    "A 70-year-old man with angina and coronary stenosis; he underwent bypass surgery.",
    "A 68-year-old man with myocardial infarction; his troponin was high.",
    "A 30-year-old woman with eclampsia during pregnancy; she delivered at term.",
    "A 27-year-old woman with preeclampsia in pregnancy; her blood pressure rose.",
    "A 2-month-old boy with congenital heart disease; his mother noticed cyanosis.",
    "White and black patients with hypertension in Boston from 1980 to 1985.",
    "Japanese patients with gastric cancer in Japan, seen by Dr. Tanaka.",
] * 3

SEX_WORDS = ["man", "woman", "boy", "girl", "grandmother", "grandfather", "uncle", "aunt", "he", "she", "him",
             "her", "his", "hers", "mother", "father", "sister", "brother", "wife", "husband", "lady", "widower",
             "housewife", "niece", "nephew", "male", "female", "himself", "herself"]
SEX_PLURAL = ["men", "women", "boys", "girls", "mothers", "fathers", "sisters", "brothers", "wives", "husbands",
              "ladies", "gentlemen", "grandmothers", "grandfathers", "males", "females"]
ETHNICITIES = ["white", "black", "Asian", "Hispanic", "Caucasian", "African American", "Native American",
               "Japanese", "Chinese", "Korean", "Vietnamese", "Filipino", "Indian", "Pakistani", "Nigerian",
               "Somali", "Ethiopian", "Mexican", "Puerto Rican", "Cuban", "Arab", "Jewish", "Inuit", "Maori",
               "Samoan", "Navajo", "Italian", "Irish", "Polish", "Russian", "Latino", "Pacific Islander"]
ETHNIC_NOUNS = ["whites", "blacks", "Caucasians", "Hispanics", "Asians", "Latinos", "African Americans",
                "Koreans", "Nigerians", "Mexicans", "Italians", "Somalis", "Arabs", "Jews", "Filipinos"]
NAMES = ["Smith", "John Smith", "Dr. Smith", "Mrs. Jones", "Mr. Li", "Ms. Anna Kowalski", "Prof. O'Brien",
         "Miss Garcia", "Maria", "Mohammed Al-Farsi"]
#: the words the default renderers write for a predicted sex or ethnicity (docs/text.md)
CANONICAL = ["she", "he", "her", "him", "his", "woman", "man", "women", "men", "female", "male", "white", "whites",
             "black", "blacks", "Asian", "Asians", "Hispanic", "Hispanics"]


@pytest.fixture(scope="module")
def gen() -> HybridTextGenerator:
    return HybridTextGenerator(min_docs=2).fit(SUPPORT)


def _contains(text: str, value: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text, re.IGNORECASE) is not None


def _assert_public(gen: HybridTextGenerator, template: str, values: list[str]) -> None:
    """One hybrid for every value; no value appears in it unless it is public vocabulary (a word of the
    template, of the public support documents, or of the renderer's canonical words, which it may write as
    its prediction: "woman", "him", "whites", ...)."""
    hybrids = {v: gen.transform([template.format(v)])[0] for v in values}
    distinct = sorted(set(hybrids.values()))
    assert len(distinct) == 1, "hybrid depends on the value:\n" + "\n".join(f"{v!r} -> {h!r}"
                                                                          for v, h in hybrids.items())
    public = " ".join([template.format(""), *SUPPORT, *CANONICAL])
    leaked = [v for v in values if _contains(distinct[0], v) and not _contains(public, v)]
    assert not leaked, f"values in the hybrid {distinct[0]!r}: {leaked}"


@pytest.mark.parametrize("template", [
    "A 54-year-old {} with angina was admitted on the ward.",
    "The nurse gave {} insulin before dinner.",
    "We told {} to rest; the pain improved.",
    "Pain was noted. {} was discharged after two days.",
    "The biopsy of {} left breast was benign.",
    "Eclampsia in pregnancy: {} recovered fully.",
])
def test_sex_words_and_pronouns_give_one_hybrid(gen, template):
    _assert_public(gen, template, SEX_WORDS)


@pytest.mark.parametrize("template", [
    "Hypertension in 20 {} with angina.",
    "Among {} with diabetes, the rate was higher.",
])
def test_plural_sex_words_give_one_hybrid(gen, template):
    _assert_public(gen, template, SEX_PLURAL)


def test_pronoun_case_is_not_read_from_the_word(gen):
    # "her" is object or possessive, "him"/"his" are not: the case must come from the context
    for template in ("The nurse gave {} insulin.", "We saw {} today."):
        outs = {gen.transform([template.format(w)])[0] for w in ("her", "him", "his", "hers")}
        assert len(outs) == 1, outs


@pytest.mark.parametrize("template, values", [
    ("A {} woman with angina was admitted.",
     ["3-year-old", "45-year-old", "99-year-old", "130-year-old", "3-month-old", "forty-five-year-old",
      "one hundred and five-year-old", "200-year-old", "2-week-old"]),
    ("Patients aged {} were enrolled in the trial.",
     ["3 years", "45 years", "99 years", "130 years", "6 months", "20 to 50 years", "150", "45", "ninety-nine"]),
    ("The patient, {}, had angina.", ["3 years of age", "45 years of age", "130 years of age", "99 years of age"]),
])
def test_ages_give_one_hybrid_whatever_the_magnitude(gen, template, values):
    _assert_public(gen, template, values)


@pytest.mark.parametrize("template, values", [
    ("The {} patients were enrolled in the trial.", ETHNICITIES),
    ("Among {} with diabetes, the rate was higher.", ETHNIC_NOUNS),
    ("Hypertension is common in {} men.", ETHNICITIES),
])
def test_ethnicities_give_one_hybrid(gen, template, values):
    _assert_public(gen, template, values)


@pytest.mark.parametrize("template", [
    "The patient was seen by {} today.",
    "Name: {}. Admitted with angina.",
    "Referred by {} for chest pain.",
])
def test_names_with_and_without_titles_give_one_hybrid(gen, template):
    _assert_public(gen, template, NAMES)
    out = gen.transform([template.format("Mrs. Jones")])[0]
    assert not any(t in out for t in ("Mrs", "Mr.", "Ms.", "Miss")), out  # a title carries the sex


def test_no_value_in_any_hybrid(gen):
    doc = ("A 130-year-old grandmother from Kenya, Mrs. Halima Yusuf, was seen by Dr. Okafor; "
           "the Somali patient told him her grandson had angina.")
    out = gen.transform([doc])[0]
    for v in ("130", "Kenya", "grandmother", "Halima", "Yusuf", "Okafor", "Somali", "grandson", "Mrs"):
        assert v not in out, (v, out)


def test_renderers_receive_public_information_only():
    seen: list[tuple] = []

    def spy(slot, masked, ctx, avoid):
        seen.append((slot, masked, ctx.masked))
        return "X"

    gen = HybridTextGenerator(min_docs=2, renderers={t: spy for t in ("sex", "age", "ethnicity", "name")})
    gen.fit(SUPPORT)
    gen.transform(["A 131-year-old Somali grandmother, Mrs. Yusuf, told him her plan."])
    assert len(seen) == 6 and {s[0].type for s in seen} == {"age", "ethnicity", "sex", "name"}
    for slot, masked, ctx_masked in seen:
        assert not hasattr(slot, "text") and not hasattr(slot, "value")
        assert not any(v in masked + ctx_masked for v in ("131", "Somali", "grandmother", "Yusuf", "Mrs", "him"))
