"""The built-in span rules: patterns, word lists and value normalisers.

Read top to bottom: numbers, ages, sex, ethnicity, names, dates, places, exclusions.
Every list here is plain data so it can be inspected or copied into a custom
:class:`~fusiondp.text.spans.Rule`. Conventions for span boundaries (also the
hand-labelling guide, docs/text.md):

- age: the number with its unit, without the cue word: "aged [54 years]",
  "a [54-year-old]", "[65 years old]", "[18 years of age]", "aged [20 to 50 years]"
  (value: years as float, or a (low, high) tuple for a range).
- sex: each sex or gender word or pronoun on its own: "[women]", "[she]",
  "[male]:[female] ratio".
- ethnicity: the ethnicity word only: "[black] and [white] patients", "[Japanese] women".
- name: the title with the name ("[Mrs. Jones]": a title tells the sex), or the name after a cue
  ("seen by [John Smith]").

Detection depends on the word by nature (a word list, a pattern): what these rules miss stays verbatim in
the hybrid text. To keep that from hinging on the value, ages have no magnitude limit and number words
run to the hundreds, ethnicity covers a broad list of groups and demonyms, and names are found from a
title or a cue word whatever the name. Measured recall: docs/results/span_detection.md.
"""

from __future__ import annotations

import re

from fusiondp.text.spans import Rule

# ---------------------------------------------------------------- numbers
_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SMALL = (rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(k for k in _UNITS if _UNITS[k] and _UNITS[k] < 10)}))?"
          rf"|{'|'.join(sorted(_UNITS, key=len, reverse=True))})")
# number words up to "nine hundred and ninety-nine": detection must not stop at a magnitude
_WORD = (rf"(?:(?:(?:{'|'.join(k for k in _UNITS if 0 < _UNITS[k] < 10)})[- ])?hundred(?:[- ](?:and[- ])?{_SMALL})?"
         rf"|{_SMALL})")
NUM = rf"(?:\d+(?:\.\d+)?|{_WORD})"
_UNIT_YEARS = {"year": 1.0, "yr": 1.0, "month": 1 / 12, "mo": 1 / 12, "week": 7 / 365.25, "wk": 7 / 365.25,
               "day": 1 / 365.25}
UNIT = r"(?:years?|yrs?|months?|mos?|weeks?|wks?|days?)"


def parse_number(token: str) -> float:
    """'54' -> 54.0, 'seventeen' -> 17.0, 'forty-two' -> 42.0, 'one hundred and five' -> 105.0."""
    token = token.lower().strip()
    try:
        return float(token)
    except ValueError:
        pass
    total = 0
    for part in re.split(r"[- ]+", token):
        if part == "hundred":
            total = max(total, 1) * 100
        else:
            total += _UNITS.get(part, 0) + _TENS.get(part, 0)
    return float(total)


def _unit_factor(unit: str | None) -> float:
    unit = (unit or "year").lower().rstrip("s")
    return _UNIT_YEARS.get(unit, 1.0)


def _age_value(m: re.Match[str]) -> float | tuple[float, float]:
    # No plausibility filter (e.g. "ages above 125 are not ages"): whether a span is detected must not
    # depend on its value, or the values the filter drops would stay verbatim in the hybrid text.
    f = _unit_factor(m.groupdict().get("unit"))
    lo = parse_number(m.group("n")) * f
    if m.groupdict().get("n2"):
        hi = parse_number(m.group("n2")) * f
        if hi != lo:
            return (round(min(lo, hi), 2), round(max(lo, hi), 2))
    return round(lo, 2)


_RANGE = rf"(?P<n>{NUM})(?:\s*(?:-|–|to|and)\s*(?P<n2>{NUM}))?"
_AGE_CUE = (r"\b(?:aged?|ages|age[- ]groups?)\b(?:\s+of\s+(?:the\s+|all\s+)?\w+(?=\s+(?:was|were|is)\b))?"
            r"(?:\s*(?:,|:|=|\(|of|was|were|is|at|between|from|range[sd]?|ranging|"
            r"greater than|less than|more than|older than|younger than|over|under|above|below|at least|"
            r"about|approximately|around|>|<|>=|<=|≥|≤))*\s*")


def age_rules() -> list[Rule]:
    """Ages: adjectives ('54-year-old'), cued numbers ('aged 54 years'), 'N years of age'."""
    return [
        Rule("age_adjective", "age",
             rf"\b(?P<span>{_RANGE}[- ](?P<unit>{UNIT})[- ]old)\b", _age_value, priority=2),
        Rule("age_of_age", "age", rf"\b(?P<span>{_RANGE}\s+(?P<unit>{UNIT})\s+of\s+age)\b", _age_value, priority=2),
        Rule("age_cued", "age",
             rf"{_AGE_CUE}(?P<span>{_RANGE}(?:\s+(?P<unit>{UNIT})(?:\s+old)?)?)(?![\w.,/-]*\d)"
             r"(?!\s*(?:%|percent|mg|kg|cm|mm|g\b))", _age_value, priority=1),
        Rule("age_comparative", "age",
             rf"\b(?:older|younger)\s+than\s+(?P<span>(?P<n>{NUM})\s+(?P<unit>{UNIT}))\b", _age_value),
        Rule("age_decade", "age",
             r"\b(?:in (?:his|her|their) )(?P<span>(?P<n>[2-9]0)'?s)\b",
             lambda m: (float(m.group("n")), float(m.group("n")) + 9)),
    ]


# ---------------------------------------------------------------- sex
# Not paired: the hybrid never maps a word to its "opposite" (that would carry the kinship and age the
# word holds); every detected word is re-rendered from the public context alone (fusiondp.text._render).
FEMALE_WORDS = ("woman", "women", "female", "females", "girl", "girls", "mother", "mothers", "daughter",
                "daughters", "sister", "sisters", "wife", "wives", "lady", "ladies", "housewife", "housewives",
                "grandmother", "grandmothers", "granddaughter", "granddaughters", "aunt", "aunts", "niece",
                "nieces", "widow", "widows", "mom", "moms", "mum", "mums", "stepmother", "stepmothers",
                "stepdaughter", "stepdaughters", "girlfriend", "girlfriends", "schoolgirl", "schoolgirls",
                "bride", "brides", "fiancee", "fiancée")
MALE_WORDS = ("man", "men", "male", "males", "boy", "boys", "father", "fathers", "son", "sons", "brother",
              "brothers", "husband", "husbands", "gentleman", "gentlemen", "grandfather", "grandfathers",
              "grandson", "grandsons", "uncle", "uncles", "nephew", "nephews", "widower", "widowers", "dad",
              "dads", "stepfather", "stepfathers", "stepson", "stepsons", "boyfriend", "boyfriends", "schoolboy",
              "schoolboys", "bridegroom", "bridegrooms", "fiance", "fiancé")
FEMALE_PRONOUNS = ("she", "her", "hers", "herself")
MALE_PRONOUNS = ("he", "his", "him", "himself")
_SEX = {w: "female" for w in FEMALE_WORDS + FEMALE_PRONOUNS} | {w: "male" for w in MALE_WORDS + MALE_PRONOUNS}


def _sex_value(m: re.Match[str]) -> str:
    return _SEX[m.group(0).lower()]


def _cased(words: tuple[str, ...]) -> str:
    # pronouns: lower case or capitalised only, so 'HER' (HER-2) and 'HE' (stain) are not pronouns
    return "|".join(f"[{w[0]}{w[0].upper()}]{w[1:]}" for w in sorted(words, key=len, reverse=True))


def sex_rules() -> list[Rule]:
    """Sex and gender nouns/adjectives and third-person pronouns.

    Lower case or capitalised only ('MEN' is multiple endocrine neoplasia, 'HER' a gene), and not
    hyphen-joined to a following word ('she-bear'), except 'male-to-female'.
    """
    return [
        Rule("sex_word", "sex", rf"\b(?:{_cased(FEMALE_WORDS + MALE_WORDS)})\b(?!-(?!to-)[a-z])", _sex_value,
             flags=0),
        Rule("sex_pronoun", "sex", rf"\b(?:{_cased(FEMALE_PRONOUNS + MALE_PRONOUNS)})\b(?!-)", _sex_value,
             flags=0),
    ]


# ---------------------------------------------------------------- ethnicity
ETHNICITY = {"caucasian": "white", "caucasians": "white", "whites": "white", "blacks": "black",
             "african american": "black", "african americans": "black", "african-american": "black",
             "african-americans": "black", "negro": "black", "negroes": "black", "hispanic": "hispanic",
             "hispanics": "hispanic", "latino": "hispanic", "latinos": "hispanic", "latina": "hispanic",
             "latinas": "hispanic", "mexican american": "hispanic", "mexican-american": "hispanic",
             "mexican americans": "hispanic", "mexican-americans": "hispanic", "asian": "asian",
             "asians": "asian", "native american": "native american", "native americans": "native american",
             "american indian": "native american", "american indians": "native american",
             "pacific islander": "pacific islander", "pacific islanders": "pacific islander"}
# adjectives that name an ethnicity or national origin only before a word for people (a broad list, so
# that detection does not hinge on a group being one of a few; what is not listed stays verbatim)
CONTEXTUAL = ("white", "black", "brown", "indigenous", "aboriginal", "native", "tribal", "european", "african",
              "american", "arab", "arabic", "jewish", "ashkenazi", "sephardic", "sephardi", "muslim", "hindu",
              "sikh", "amish", "bedouin", "roma", "romani", "gypsy", "sami", "inuit", "eskimo", "maori",
              "polynesian", "melanesian", "micronesian", "hawaiian", "samoan", "tongan", "fijian", "caribbean",
              "creole", "mestizo", "mulatto", "bantu", "zulu", "xhosa", "yoruba", "igbo", "hausa", "hmong", "han",
              "navajo", "cherokee", "hopi", "pima", "sioux", "apache", "chinese", "japanese", "korean",
              "taiwanese", "mongolian", "tibetan", "vietnamese", "cambodian", "khmer", "laotian", "thai",
              "burmese", "malay", "malaysian", "indonesian", "filipino", "singaporean", "indian", "pakistani",
              "bangladeshi", "nepali", "nepalese", "sri lankan", "sinhalese", "tamil", "afghan", "iranian",
              "persian", "iraqi", "kurdish", "turkish", "syrian", "lebanese", "palestinian", "israeli",
              "jordanian", "saudi", "yemeni", "egyptian", "moroccan", "algerian", "tunisian", "libyan",
              "sudanese", "ethiopian", "eritrean", "somali", "kenyan", "ugandan", "tanzanian", "rwandan",
              "nigerian", "ghanaian", "senegalese", "malian", "cameroonian", "congolese", "angolan",
              "zimbabwean", "zambian", "malawian", "mozambican", "south african", "mexican", "guatemalan",
              "salvadoran", "honduran", "nicaraguan", "cuban", "puerto rican", "dominican", "haitian",
              "jamaican", "colombian", "venezuelan", "ecuadorian", "peruvian", "bolivian", "chilean",
              "argentinian", "argentine", "brazilian", "uruguayan", "paraguayan", "canadian", "british",
              "english", "scottish", "welsh", "irish", "french", "german", "dutch", "belgian", "swiss",
              "austrian", "italian", "spanish", "portuguese", "greek", "cypriot", "maltese", "scandinavian",
              "nordic", "swedish", "norwegian", "danish", "finnish", "icelandic", "polish", "czech", "slovak",
              "hungarian", "romanian", "bulgarian", "serbian", "croatian", "bosnian", "slovenian", "albanian",
              "russian", "ukrainian", "belarusian", "lithuanian", "latvian", "estonian", "georgian",
              "armenian", "azerbaijani", "kazakh", "uzbek", "australian", "new zealand")
# demonyms whose plural names people ("Koreans", "Nigerians"): detected anywhere, like "whites"
_PLURAL_DEMONYMS = {w + "s": w for w in CONTEXTUAL
                    if w.endswith(("an", "i", "ab", "o")) and w not in ("roma", "han", "sami", "eskimo")}
ETHNICITY |= {k: v for k, v in _PLURAL_DEMONYMS.items() if k not in ETHNICITY} | {"jews": "jewish", "arabs": "arab"}
PEOPLE = (r"(?:patients?|subjects?|persons?|people|individuals?|population|populations|cohort|community|"
          r"communities|adults?|children|child|infants?|adolescents?|families|family|volunteers?|residents?|"
          r"descent|origin|ancestry|race|americans?|participants?|cases|controls|twins|workers|students|"
          r"youths?|elderly|newborns?|neonates?|"
          + "|".join(sorted(FEMALE_WORDS + MALE_WORDS, key=len, reverse=True)) + ")")


def _eth_value(m: re.Match[str]) -> str:
    word = re.sub(r"\s+", " ", m.group("span").lower())
    return ETHNICITY.get(word, word)


def ethnicity_rules() -> list[Rule]:
    """Ethnic group words; colour and nationality adjectives only before a word for people."""
    names = "|".join(sorted((re.escape(k).replace(r"\ ", r"[\s-]") for k in ETHNICITY), key=len, reverse=True))
    ctx = "|".join(CONTEXTUAL)
    listed = rf"(?:\s*(?:,|and|or|/|vs\.?|versus)?\s+(?:{ctx}|{names}))*"
    return [
        Rule("ethnicity_word", "ethnicity", rf"\b(?P<span>{names})\b", _eth_value, priority=1),
        Rule("ethnicity_adjective", "ethnicity",
             rf"\b(?P<span>{ctx})(?={listed}(?:\s+(?:non-?\w+|\w+-born|young|older|elderly|diabetic|healthy|adult|"
             rf"obese|pregnant|male|female))?\s+{PEOPLE}\b)", _eth_value),
    ]


# ---------------------------------------------------------------- names, dates, places
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_MONTH = "|".join(MONTHS) + r"|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
_YEAR = r"(?:1[89]\d\d|20[0-4]\d)"


def _date_value(m: re.Match[str]) -> str:
    return re.sub(r"\s+", " ", m.group("span"))


def date_rules() -> list[Rule]:
    """Month-day-year dates, numeric dates, and calendar years after a time preposition."""
    return [
        Rule("date_month", "date", rf"\b(?P<span>(?:{_MONTH})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?\s+(?:{_YEAR}|\d{{1,2}}\b))",
             _date_value, flags=0, priority=1),
        Rule("date_numeric", "date", r"(?<![\d.])(?P<span>\d{1,2}/\d{1,2}/(?:19|20)?\d\d)\b(?!/)", _date_value, flags=0),
        Rule("date_year", "date",
             rf"\b(?:[Ii]n|[Ff]rom|to|[Bb]etween|and|[Ss]ince|[Dd]uring|until|through|of|before|after|"
             rf"[Bb]y)\s+(?:(?:early|late|mid)[- ])?(?P<span>{_YEAR}(?:\s*(?:-|–|to|and|through)\s*(?:{_YEAR}|\d\d))?)\b"
             r"(?!\s*(?:patients|cases|subjects|mg|ml|g\b|%))", _date_value, flags=0),
        Rule("date_year_range", "date", rf"(?<![\w.,/-])(?P<span>{_YEAR}\s*[-–]\s*(?:{_YEAR}|\d\d))(?![\w.,/-]*\d)",
             _date_value, flags=0),
    ]


COUNTRIES = ("Afghanistan", "Argentina", "Australia", "Austria", "Bangladesh", "Belgium", "Brazil", "Canada",
             "Chile", "China", "Colombia", "Cuba", "Czechoslovakia", "Denmark", "Egypt", "England", "Ethiopia",
             "Finland", "France", "Germany", "Ghana", "Greece", "Hong Kong", "Hungary", "Iceland", "India",
             "Indonesia", "Iran", "Iraq", "Ireland", "Israel", "Italy", "Jamaica", "Japan", "Kenya", "Korea",
             "Kuwait", "Malaysia", "Mexico", "Netherlands", "New Zealand", "Nigeria", "Norway", "Pakistan", "Peru",
             "Philippines", "Poland", "Portugal", "Romania", "Russia", "Saudi Arabia", "Scotland", "Singapore",
             "South Africa", "Spain", "Sri Lanka", "Sweden", "Switzerland", "Taiwan", "Tanzania", "Thailand",
             "Turkey", "Uganda", "United Kingdom", "United States", "Venezuela", "Vietnam", "Wales", "Yugoslavia",
             "Zimbabwe", "USA", "U.S.A.", "UK", "U.K.", "Soviet Union", "USSR")
US_STATES = ("Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
             "Florida", "Hawaii", "Idaho", "Illinois", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
             "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
             "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota",
             "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota",
             "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "West Virginia", "Wisconsin", "Wyoming")
CITIES = ("Amsterdam", "Atlanta", "Baltimore", "Beijing", "Berlin", "Boston", "Chicago", "Copenhagen", "Dallas",
          "Detroit", "Edinburgh", "Glasgow", "Helsinki", "Houston", "London", "Los Angeles", "Madrid", "Melbourne",
          "Miami", "Milan", "Montreal", "Moscow", "Oslo", "Paris", "Philadelphia", "Pittsburgh", "Rochester",
          "Rome", "San Francisco", "Seattle", "Stockholm", "Sydney", "Tokyo", "Toronto", "Vancouver", "Vienna",
          "Zurich", "Framingham", "Olmsted County", "Minneapolis", "Cleveland", "St. Louis", "Denver", "Manchester")


# postal codes and common abbreviations of US states, as written after a city ("Columbus, OH");
# MD, PA, ME and IN are left out: in medical text they are mostly not states
STATE_ABBREVIATIONS = ("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IA", "KS",
                       "KY", "LA", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
                       "ND", "OH", "OK", "OR", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI",
                       "WY", "Ala", "Ariz", "Ark", "Calif", "Colo", "Conn", "Fla", "Ill", "Ind", "Kan", "Mass",
                       "Mich", "Minn", "Miss", "Neb", "Okla", "Ore", "Penn", "Tenn", "Tex", "Wash", "Wis")


# capitalised words that start sentences, never place or person names
_STOP = ("(?:However|Moreover|Thus|Therefore|Furthermore|In|The|This|These|That|Those|A|An|Of|On|At|For|By|"
         "With|Also|But|And|Or|Finally|Conversely|Similarly|Overall|Here|We)")


def place_rules() -> list[Rule]:
    """Places: a small gazetteer (countries, US states, large cities), 'X County', and 'City, ST'."""
    names = "|".join(re.escape(p) for p in sorted(COUNTRIES + US_STATES + CITIES, key=len, reverse=True))
    codes = "|".join(a for a in STATE_ABBREVIATIONS if len(a) == 2)
    longer = "|".join(a for a in STATE_ABBREVIATIONS if len(a) > 2)
    # two-letter codes only before punctuation, so 'NE concentrations' (norepinephrine) is not Nebraska
    states = rf"(?:(?:{codes})(?=\s*(?:[,.;)]|$))|(?:{longer})\b)"
    return [
        Rule("place_city_state", "place", rf"\b(?!{_STOP}\b)(?P<span>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?),\s{states}",
             lambda m: m.group("span"), flags=0),
        Rule("place_state_abbreviation", "place", rf"\b(?!{_STOP}\b)[A-Z][a-z]+,\s(?P<span>{states})",
             lambda m: m.group("span"), flags=0),
        Rule("place_gazetteer", "place", rf"(?<![\w.])(?P<span>{names})(?![\w-])", lambda m: m.group("span"),
             flags=0),
        Rule("place_county", "place", r"\b(?P<span>[A-Z][a-z]+ County)\b", lambda m: m.group("span"), flags=0),
    ]


TITLES = ("Dr", "Mr", "Mrs", "Ms", "Miss", "Mx", "Prof", "Professor", "Sir", "Dame", "Madam", "Mister")
# words after which a capitalised sequence is a person's name ("seen by John Smith", "Patient: Jane Doe")
NAME_CUES = (r"(?i:named|called|name\s+(?:is|was)|name\s*:|patient\s*:|pt\s*:|signed\s+by|"
             r"(?:seen|referred|attended|dictated|accompanied|visited)\s+by|dear)")
_NAME_WORD = r"[A-Z](?:[a-z]|['’][A-Z])[A-Za-z'’-]*"


def name_rules() -> list[Rule]:
    """Personal names: a title and the name after it as one span ('[Mrs. Jones]': the title carries the
    sex, so it is part of the value), or one to three capitalised words after a name cue ('seen by [John
    Smith]'). Names with neither a title nor a cue are not detected."""
    titles = "|".join(TITLES)
    titled = rf"(?:{titles})\.?\s+(?!{_STOP}\b){_NAME_WORD}(?:\s+(?!{_STOP}\b){_NAME_WORD}){{0,2}}"
    plain = rf"(?!(?:{titles}|{_STOP})\b){_NAME_WORD}(?:\s+(?!{_STOP}\b){_NAME_WORD}){{0,2}}"
    return [Rule("name_title", "name", rf"\b(?P<span>{titled})\b", lambda m: m.group("span"), flags=0, priority=1),
            Rule("name_cued", "name", rf"\b(?:{NAME_CUES})\s+(?P<span>{plain})\b", lambda m: m.group("span"),
                 flags=0)]


def default_rules() -> list[Rule]:
    """All built-in rules, in order."""
    return age_rules() + sex_rules() + ethnicity_rules() + name_rules() + date_rules() + place_rules()


_ANIMALS = (r"(?:rats?|mice|mouse|rabbits?|dogs?|pigs?|swine|piglets?|monkeys?|hamsters?|guinea[- ]pigs?|cats?|"
            r"sheep|ewes?|lambs?|baboons?|ferrets?|gerbils?|calves|cows?|horses?|chickens?|birds?|animals?|"
            r"Sprague|Wistar|Fischer|Lewis|C57BL\S*|BALB\S*|CD-?1|New Zealand|Long-Evans|Hartley|beagles?|"
            r"mongrel|albino|NZB\S*)")


def default_exclusions() -> list[re.Pattern[str]]:
    """Contexts that are never personal sensitive spans."""
    return [
        # the disease name "stiff-man syndrome"
        re.compile(r"\bstiff-man\b", re.IGNORECASE),
        # named organisations and studies: "Women's Health Initiative", "Men's Health Study"
        re.compile(r"\b(?:Women|Men|Woman|Man|Mother|Father|Girls?|Boys?)(?:'s|s')?(?:\s+[A-Z][\w'-]*)*\s+"
                   r"(?:Initiative|Study|Trial|Hospital|Health|Center|Centre|Society|Association|Clinic|Foundation)\b"),
        # sex and colour words about laboratory animals: "male Wistar rats", "white rabbits"
        re.compile(rf"\b(?:male|female|white|black)s?\s+(?:[\w-]+\s+){{0,2}}?{_ANIMALS}\b", re.IGNORECASE),
        re.compile(rf"\b[\w-]+-old\s+(?:[\w\"'-]+\s+){{0,3}}?{_ANIMALS}\b", re.IGNORECASE),
        # eponymous clinical scales named after places
        re.compile(r"\bGlasgow\s+(?:Coma|Outcome)\s+Scale\b"),
        # anatomy, cells and colours that are not ethnicity
        re.compile(r"\b(?:white|black)\s+(?:blood|matter|cells?|count|nipple|spots?|plaques?|lesions?|light|"
                   r"patches|pupil|thrombus|fat|reflex|coat)\b", re.IGNORECASE),
    ]
