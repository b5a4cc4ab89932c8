"""triage/risk.py: which messages raise a risk signal, measured over the example table and checked case by case.

``test_example_table_precision_and_recall`` scores ``RiskMatcher.bundled()`` against
``tests/triage/risk_examples.py`` (243 messages, written before the matcher) and prints precision and
recall per category and overall (``pytest -s`` shows the table; a failure carries it in its message).
Reached when this was written: overall precision 0.99, recall 0.99 (2 false positives and 1 false
negative over 135 expected signals); per category precision/recall: suicide 0.98/1.00, self_harm
1.00/1.00, violence 1.00/1.00, abuse 1.00/0.95, overdose 0.96/1.00. The floor asserted is 0.9 for both.
The table and the phrases were written by the same hand, so expect less on messages neither has seen
(see the ``triage/risk.py`` docstring).

Timing is not asserted here (``python -m bench.risk_scan`` measures it); hostile inputs are checked to
finish under a pytest timeout, so a regex that backtracks catastrophically fails the run.
"""

from __future__ import annotations

import unicodedata

import pytest

from tests.triage.risk_examples import EXAMPLES
from tests.triage.risk_holdout import HOLDOUT
from triage.risk import PhraseError, RiskCategory, RiskMatcher

S = RiskCategory.SUICIDE
SH = RiskCategory.SELF_HARM
V = RiskCategory.VIOLENCE
A = RiskCategory.ABUSE
O = RiskCategory.OVERDOSE  # noqa: E741 - one letter like its siblings


@pytest.fixture(scope="module")
def matcher() -> RiskMatcher:
    return RiskMatcher.bundled()


# --- the example table ----------------------------------------------------------------------------


def _names(categories: frozenset[RiskCategory]) -> str:
    return ", ".join(sorted(categories)) or "nothing"


def _score_table(
    matcher: RiskMatcher, examples: list[tuple[str, set[RiskCategory]]] | None = None
) -> tuple[str, float, float]:
    """Precision and recall over (message, category) pairs, per category and in total, as a printable table."""
    examples = EXAMPLES if examples is None else examples
    counts = {c: [0, 0, 0] for c in RiskCategory}  # true positives, false positives, false negatives
    wrong: list[str] = []
    for text, expected in examples:
        got = matcher.scan(text)
        for category in RiskCategory:
            counts[category][0] += category in got and category in expected
            counts[category][1] += category in got and category not in expected
            counts[category][2] += category not in got and category in expected
        if got != expected:
            wrong.append(f"  {text!r}: expected {_names(expected)}, got {_names(got)}")

    def ratio(hits: int, misses: int) -> float:
        return hits / (hits + misses) if hits + misses else 1.0

    lines = [f"{'category':10} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}"]
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    for name, (tp, fp, fn) in [*((c.value, n) for c, n in counts.items()), ("overall", total)]:
        lines.append(f"{name:10} {ratio(tp, fp):9.2f} {ratio(tp, fn):7.2f} {tp:4} {fp:4} {fn:4}")
    lines += [f"{len(examples)} messages, {len(wrong)} scanned differently from the table:", *wrong]
    return "\n".join(lines), ratio(total[0], total[1]), ratio(total[0], total[2])


def test_example_table_precision_and_recall(matcher: RiskMatcher) -> None:
    """Over the whole table, at least 9 in 10 signals raised are right and 9 in 10 expected are raised."""
    table, precision, recall = _score_table(matcher)
    print("\n" + table)
    assert precision >= 0.9, table
    assert recall >= 0.9, table


def test_holdout_table_written_after_the_matcher(matcher: RiskMatcher) -> None:
    """The honest figure: phrasings the phrase file was not written against (risk_holdout.py). Printed for
    whoever extends the phrase file; the floor only catches a matcher that has broken."""
    table, precision, recall = _score_table(matcher, HOLDOUT)
    print("\nheld-out table\n" + table)
    assert precision >= 0.8, table
    assert recall >= 0.6, table


def test_example_table_is_big_and_about_half_harmless() -> None:
    """The table stays a fair test: 150+ messages, unique, and 40–60 % of them with no signal."""
    texts = [text for text, _ in EXAMPLES]
    harmless = sum(1 for _, expected in EXAMPLES if not expected)
    assert len(texts) >= 150
    assert len(set(texts)) == len(texts)
    assert 0.4 <= harmless / len(texts) <= 0.6


# --- spelling: case, diacritics, repeats, spacing, leetspeak, typos ----------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ta livet av mig",
        "TA LIVET AV MIG",
        "Ta Livet Av Mej",
        "taa liiivet av miiig",
        "t a livet av mig",
        "ta-livet-av-mig",
        "ta.livet.av.mig",
        "ta   livet av mig!!!",
        "t4 l1v3t 4v m1g",
        "ta livet a mig",
        "ta live av mig",
        "tar livet av mej ikväll",
    ],
)
def test_spellings_of_ta_livet_av_mig_all_match(matcher: RiskMatcher, text: str) -> None:
    """However a teenager types it on a phone, "ta livet av mig" is a suicide signal."""
    assert matcher.scan(text) == {S}


@pytest.mark.parametrize(
    "text",
    [
        "vill dö",
        "VILL DÖ",
        "vill do",
        "vill doe",
        "vill dööööö",
        "vil dö",
        "viiiiill dö",
        "vill d ö",
        "vill dø",
        unicodedata.normalize("NFD", "vill dö"),  # ö as o + combining diaeresis
        "vill dö😭",
        "😭vill dö",
        "vill…dö",
        "ＶＩＬＬ ＤÖ",  # full-width letters
    ],
)
def test_spellings_of_vill_do_all_match(matcher: RiskMatcher, text: str) -> None:
    """Diacritics written or not, as "oe" or decomposed, letters repeated, emoji around: still a signal."""
    assert matcher.scan(text) == {S}


@pytest.mark.parametrize(
    "text",
    ["självmord", "sjalvmord", "sjaelvmord", "SJÄLVMORD", "självmordstankar", "s j ä l v m o r d", "självmordddd", "sj4lvm0rd"],
)
def test_spellings_of_sjalvmord_all_match(matcher: RiskMatcher, text: str) -> None:
    """The word and its compounds (självmordstankar), with any spelling of å/ä/ö, spaced or leet."""
    assert matcher.scan(text) == {S}


@pytest.mark.parametrize("text", ["sjävmord", "självmrod", "självmord", "våldtgen", "överdsoerat", "tableter"])
def test_one_typo_in_a_long_word_is_forgiven(matcher: RiskMatcher, text: str) -> None:
    """Eight letters or more: a left-out letter or two swapped neighbours still match."""
    if text == "tableter":  # a long word inside a word list: {tabletter}
        text = "har tagit massa tableter"
    assert matcher.scan(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kill myself", {S}),
        ("KILL MYSELF", {S}),
        ("killl myselff", {S}),
        ("I’m going to kill myself", {S}),  # curly apostrophe
        ("kms", {S}),
        ("unalive myself", {S}),
        ("un-alive", {S}),
        ("i wanna dieeee", {S}),
        ("PAPPA SLÅR MIG", {V}),
        ("pappa slaar mig", {V}),
        ("p4pp4 sl4r m1g", {V}),
        ("hann slåår mej", {V}),
        ("min kompis har OD:at", {O}),
        ("tog 20 alvedon", {O}),
        ("kan int andas", {O}),
        ("jag blev v a l d t a g e n", {A}),
    ],
)
def test_other_phrases_in_young_peoples_spelling(matcher: RiskMatcher, text: str, expected: set[RiskCategory]) -> None:
    """English and slang, caps, repeats, leet and spacing across the categories."""
    assert matcher.scan(text) == expected


# --- negation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "jag har aldrig tänkt på att ta livet av mig",
        "I would never kill myself",
        "nej jag skadar inte mig själv",
        "jag kommer inte ta livet av mig, lovar",
        "jag kommer aldrig ta livet av mig",
        "i'm not going to kill myself",
        "don't worry i'm not going to hurt myself",
        "i don't want to die",
        "jag vill inte dö",
        "I'm not suicidal, just stressed",
        "jag har inte självmordstankar",
        "jag tänker inte på självmord längre",
        "han slår mig inte, han är bara sur",
        "jag skär mig inte längre",
        "jag har aldrig skurit mig",
        "he never hits me",
        "jag har inte tagit några tabletter",
        "jag har slutat skära mig",
    ],
)
def test_negated_phrase_does_not_fire(matcher: RiskMatcher, text: str) -> None:
    """A negation cue right before the phrase (or with only "tänkt på att"-like words between) or right after."""
    assert matcher.scan(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jag vill inte leva", {S}),  # the negation is the phrase
        ("orkar inte leva mer", {S}),
        ("jag orkar inte vill dö", {S}),  # "orkar inte" is its own clause
        ("jag vet inte vill bara dö", {S}),
        ("jag vet inte, jag vill dö", {S}),  # a comma ends the negation's reach
        ("jag vet inte varför men jag vill dö", {S}),
        ("varför inte bara ta livet av mig", {S}),
        ("han slår mig inte bara när han är full", {V}),
        ("hon andas inte!!", {O}),
        ("kompisen går inte att väcka", {O}),
        ("she's not breathing", {O}),
    ],
)
def test_negation_that_is_part_of_the_signal_still_fires(matcher: RiskMatcher, text: str, expected: set[RiskCategory]) -> None:
    """Only a cue before a phrase that does not itself hold it, in the same clause, cancels it."""
    assert matcher.scan(text) == expected


# --- everyday language that shares the words ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "jag dör av skratt",
        "jag vill dö av skratt",
        "dödsskönt",
        "dödstrött idag",
        "the exam killed me",
        "I'm dying to see it",
        "skär löken i små bitar",
        "han slog rekord",
        "vi slår vad om 100 kr",
        "ta en tablett mot huvudvärk",
        "jag skar mig i fingret när jag lagade mat",
        "han slog mig i fifa igen",
        "she hit me up yesterday",
        "he beat me at fifa",
        "kan inte andas av skratt",
        "det här tar livet av mig haha",
        "kan du hänga med mig",
        "jag tar på mig jackan",
        "jag vill skära ner på drickandet",
        "I want to cut down on drinking",
        "that's odd",
        "färgerna skär sig",
        "jag vill leva",
        "jag vill sluta spela",
    ],
)
def test_harmless_use_of_the_same_words_does_not_fire(matcher: RiskMatcher, text: str) -> None:
    """Idioms, cooking, sport and betting: the words are there, the danger is not."""
    assert matcher.scan(text) == frozenset()


# --- categories ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("pappa slår mig", "jag vill inte leva längre"),
        ("jag har tagit en massa tabletter", "jag skär mig"),
        ("han tvingade mig att ha sex", "nu vill jag dö"),
        ("min styvpappa hotar att döda mamma", "jag blev våldtagen"),
    ],
)
def test_categories_are_found_independently(matcher: RiskMatcher, first: str, second: str) -> None:
    """Two signals in one message give both categories, the same as each half on its own."""
    assert len(matcher.scan(first)) == len(matcher.scan(second)) == 1
    assert matcher.scan(f"{first} och {second}") == matcher.scan(first) | matcher.scan(second)


def test_all_five_categories_in_one_message(matcher: RiskMatcher) -> None:
    """Nothing stops at the first category found."""
    text = "han slår mig, han våldtog mig, jag skär mig, jag har tagit en massa tabletter och vill dö"
    assert matcher.scan(text) == set(RiskCategory)


def test_a_negated_phrase_does_not_hide_a_later_one(matcher: RiskMatcher) -> None:
    """The first "ta livet av mig" is negated, the second is not."""
    assert matcher.scan("jag kommer inte ta livet av mig idag. imorgon ska jag ta livet av mig") == {S}


# --- inputs that could hurt -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n", "😭😭😭", "...", "12345", "\x00", "ǅ ŉ ǰ ΐ ﬀ"])
def test_empty_and_odd_text_gives_no_signal(matcher: RiskMatcher, text: str) -> None:
    """No error and no signal for text without words."""
    assert matcher.scan(text) == frozenset()


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "a " * 50_000,
        "l" * 50_000 + " " + "l" * 50_000,
        "vill " * 20_000,
        "ta livet av " * 8_000,
        "skär mig inte " * 7_000,
        "inte " * 20_000 + "jag vill dö",
        "t4 " * 33_000,
        "1" * 100_000,
        "ö" * 100_000,
        "😭" * 50_000,
        "." * 100_000,
        "vill dö " * 12_500,
    ],
    ids=lambda text: f"{text[:12]!r}x{len(text)}",
)
def test_100_kb_of_hostile_text_finishes(matcher: RiskMatcher, text: str) -> None:
    """Long runs of one letter, near-misses and repeated hits: linear work, no catastrophic backtracking."""
    found = matcher.scan(text)
    assert found == ({S} if "vill dö" in text else frozenset())


@pytest.mark.timeout(20)
def test_100_kb_message_with_a_signal_at_the_end(matcher: RiskMatcher) -> None:
    """A signal after 100 KB of ordinary text is still found."""
    text = "jag mår typ dåligt och vet inte vad jag ska göra. " * 2_000 + "jag vill ta livet av mig"
    assert matcher.scan(text) == {S}


def test_bundled_is_compiled_once_and_shared() -> None:
    """The chat builds its context more than once (tests, workers); compiling costs about a second."""
    assert RiskMatcher.bundled() is RiskMatcher.bundled()


# --- the phrase file ---------------------------------------------------------------------------------


def test_a_clinic_can_add_phrases_and_word_lists() -> None:
    """The format as documented in the bundled file: word lists, ( | ) groups, a final * and #."""
    matcher = RiskMatcher.from_toml(
        """
        [words]
        bro = ["bron", "västerbron", "tranebergsbron"]
        [suicide]
        phrases = ["(ska|vill) hoppa från {bro}", "tänker på att hoppa*"]
        [overdose]
        phrases = ["tog # (sobril|stesolid)"]
        [negation]
        before = ["inte"]
        bridges = ["ska"]
        blockers = ["orkar"]
        after = ["inte"]
        after_unless = ["bara"]
        """
    )
    assert matcher.scan("jag ska hoppa från Västerbron ikväll") == {S}
    assert matcher.scan("tänker på att hoppa ut") == {S}
    assert matcher.scan("tog 30 sobril") == {O}
    assert matcher.scan("tog 3 sobril") == frozenset()  # # is 2–3 digits: a normal dose is not an overdose
    assert matcher.scan("jag ska inte hoppa från bron") == frozenset()  # no phrase: "inte" is in the way


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[suicide]\nphrases = ["hoppa från {bro}"]', "{bro}"),
        ('[suicide]\nphrases = ["(ska (vill) hoppa"]', "ska"),
        ('[suicide]\nphrases = ["hoppa(från|av) bron"]', "hoppa(från|av)"),
        ('[suicide]\nphrases = ["112 ringer"]', "112"),
        ('[suicide]\nphrases = ["själv* mord"]', "själv*"),
        ('[suicide]\nphrases = ["a"]', "too short"),
        ('[suicides]\nphrases = ["vill dö"]', "suicides"),
        ('[suicide]\nphrases = "vill dö"', "suicide.phrases"),
        ("[suicide\n", "not TOML"),
    ],
)
def test_a_broken_phrase_file_is_refused_naming_the_problem(toml: str, problem: str) -> None:
    """Mistakes in the file stop the service at start with a message that points at them."""
    with pytest.raises(PhraseError, match=r".*") as raised:
        RiskMatcher.from_toml(toml)
    assert any(problem in p for p in raised.value.problems), raised.value.problems
