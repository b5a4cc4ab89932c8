"""AUDIT and DUDIT scoring: known answer vectors, the zone boundaries, every way an answer can be wrong,
the cut-off that applies to whom, and the plain-language sentence a young person reads."""

from __future__ import annotations

from typing import Any

import pytest

import triage
from triage.region import Instrument, Zone
from triage.screening import ITEM_VALUES, ITEMS, ZONE_LABELS, ScreeningError, ScreeningResult, explain, score
from triage.topics import self_test_fits

# The instruments as dalarna.toml sets them, written out so the scoring tests do not depend on the parser
# (the last test checks they are the same).
AUDIT = Instrument(
    id="audit",
    zones=(Zone("low", 0), Zone("hazardous", 8), Zone("harmful", 16), Zone("dependence", 20)),
    cutoff_young=5,
    cutoff_female=6,
    cutoff_male=8,
    cutoff_default=8,
    raise_priority_from="harmful",
)
DUDIT = Instrument(
    id="dudit",
    zones=(Zone("low", 0), Zone("problems", 6), Zone("dependence", 25)),
    cutoff_young=2,
    cutoff_female=2,
    cutoff_male=6,
    cutoff_default=2,
    raise_priority_from="dependence",
)
INSTRUMENTS = {"audit": AUDIT, "dudit": DUDIT}


def answers_for(instrument: str, total: int) -> list[int]:
    """A valid answer vector summing to ``total``: fill items greedily from item 1 with their largest value."""
    answers = []
    left = total
    for values in ITEM_VALUES[instrument]:
        pick = max(v for v in values if v <= left)
        answers.append(pick)
        left -= pick
    assert left == 0, f"{total} is not reachable for {instrument}"
    return answers


def test_item_counts_and_allowed_values_are_the_published_ones() -> None:
    """AUDIT has 10 items (9 and 10 scored 0/2/4), DUDIT 11 (10 and 11 scored 0/2/4)."""
    assert ITEMS == {"audit": 10, "dudit": 11}
    assert ITEM_VALUES["audit"][:8] == ((0, 1, 2, 3, 4),) * 8
    assert ITEM_VALUES["audit"][8:] == ((0, 2, 4),) * 2
    assert ITEM_VALUES["dudit"][:9] == ((0, 1, 2, 3, 4),) * 9
    assert ITEM_VALUES["dudit"][9:] == ((0, 2, 4),) * 2


@pytest.mark.parametrize(
    ("instrument", "answers", "expected_score", "expected_zone"),
    [
        ("audit", [0] * 10, 0, "low"),
        ("audit", [4] * 10, 40, "dependence"),
        ("audit", [1, 1, 1, 1, 1, 1, 1, 1, 0, 0], 8, "hazardous"),
        ("audit", [0, 0, 0, 0, 0, 0, 0, 0, 2, 2], 4, "low"),
        ("audit", [3, 2, 1, 0, 0, 0, 0, 0, 4, 2], 12, "hazardous"),
        ("audit", [4, 4, 4, 1, 1, 1, 1, 0, 2, 0], 18, "harmful"),
        ("dudit", [0] * 11, 0, "low"),
        ("dudit", [4] * 11, 44, "dependence"),
        ("dudit", [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], 6, "problems"),
        ("dudit", [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2], 4, "low"),
        ("dudit", [4, 4, 4, 4, 4, 1, 0, 0, 0, 2, 2], 25, "dependence"),
    ],
)
def test_known_answers_give_the_published_score_and_zone(
    instrument: str, answers: list[int], expected_score: int, expected_zone: str
) -> None:
    """Scores are the plain sum; the maximum is 40 for AUDIT and 44 for DUDIT."""
    result = score(INSTRUMENTS[instrument], answers)
    assert (result.score, result.zone) == (expected_score, expected_zone)
    assert result.max_score == {"audit": 40, "dudit": 44}[instrument]
    assert result.instrument == instrument


@pytest.mark.parametrize(
    ("instrument", "total", "zone"),
    [
        ("audit", 7, "low"),
        ("audit", 8, "hazardous"),
        ("audit", 15, "hazardous"),
        ("audit", 16, "harmful"),
        ("audit", 19, "harmful"),
        ("audit", 20, "dependence"),
        ("dudit", 5, "low"),
        ("dudit", 6, "problems"),
        ("dudit", 24, "problems"),
        ("dudit", 25, "dependence"),
    ],
)
def test_zone_boundaries_are_the_lowest_score_of_each_zone(instrument: str, total: int, zone: str) -> None:
    """A score equal to a zone's `from` lies in that zone; one below lies in the zone before."""
    result = score(INSTRUMENTS[instrument], answers_for(instrument, total))
    assert (result.score, result.zone) == (total, zone)


@pytest.mark.parametrize(
    ("instrument", "total", "raises"),
    [
        ("audit", 15, False),
        ("audit", 16, True),
        ("audit", 40, True),
        ("dudit", 24, False),
        ("dudit", 25, True),
        ("dudit", 6, False),
    ],
)
def test_raises_priority_from_the_configured_zone_up(instrument: str, total: int, raises: bool) -> None:
    """AUDIT raises priority from "harmful" (16), DUDIT from "dependence" (25), as dalarna.toml sets."""
    assert score(INSTRUMENTS[instrument], answers_for(instrument, total)).raises_priority is raises


@pytest.mark.parametrize(
    ("instrument", "answers", "item", "allowed"),
    [
        ("audit", [0] * 9, None, "exactly 10"),
        ("audit", [0] * 11, None, "exactly 10"),
        ("audit", [], None, "exactly 10"),
        ("dudit", [0] * 10, None, "exactly 11"),
        ("dudit", [0] * 12, None, "exactly 11"),
        ("audit", [0] * 8 + [3, 0], 9, "0, 2, 4"),
        ("audit", [0] * 9 + [1], 10, "0, 2, 4"),
        ("audit", [5] + [0] * 9, 1, "0, 1, 2, 3, 4"),
        ("audit", [0, 0, -1] + [0] * 7, 3, "0, 1, 2, 3, 4"),
        ("audit", [0, True] + [0] * 8, 2, "0, 1, 2, 3, 4"),
        ("audit", [0, 0, 0, False] + [0] * 6, 4, "0, 1, 2, 3, 4"),
        ("audit", [0] * 4 + ["2"] + [0] * 5, 5, "0, 1, 2, 3, 4"),
        ("audit", [0] * 5 + [2.0] + [0] * 4, 6, "0, 1, 2, 3, 4"),
        ("audit", [0] * 6 + [None] + [0] * 3, 7, "0, 1, 2, 3, 4"),
        ("dudit", [0] * 9 + [1, 0], 10, "0, 2, 4"),
        ("dudit", [0] * 10 + [3], 11, "0, 2, 4"),
        ("dudit", [0] * 8 + [7, 0, 0], 9, "0, 1, 2, 3, 4"),
    ],
)
def test_invalid_answers_name_the_item_and_the_allowed_values(
    instrument: str, answers: list[Any], item: int | None, allowed: str
) -> None:
    """The message names the 1-based item and what it allows, so the page can point at the question."""
    with pytest.raises(ScreeningError) as caught:
        score(INSTRUMENTS[instrument], answers)
    message = str(caught.value)
    assert allowed in message
    if item is not None:
        assert f"item {item}:" in message


@pytest.mark.parametrize("bad", [-1, 5, 3, 17, 123456789, 2.5])
def test_an_invalid_answer_is_never_echoed(bad: Any) -> None:
    """Messages never repeat input: only the item number and the allowed values appear."""
    answers: list[Any] = [0] * 10
    answers[9] = bad
    with pytest.raises(ScreeningError) as caught:
        score(AUDIT, answers)
    message = str(caught.value)
    assert "item 10:" in message
    assert str(bad) not in message.replace("0, 2, 4", "")


@pytest.mark.parametrize("answers", ["0000000000", b"0000000000", None, 7, {"1": 0}])
def test_answers_that_are_not_a_list_are_refused(answers: Any) -> None:
    with pytest.raises(ScreeningError, match="AUDIT"):
        score(AUDIT, answers)


def test_an_unknown_instrument_is_refused() -> None:
    other = Instrument("phq9", (Zone("low", 0),), 1, 1, 1, 1, "low")
    with pytest.raises(ScreeningError, match="unknown self-test"):
        score(other, [0] * 9)


@pytest.mark.parametrize(
    ("instrument", "age_band", "gender", "cutoff"),
    [
        ("audit", "6-12", "boy", 5),
        ("audit", "13-15", "girl", 5),
        ("audit", "16-17", None, 5),
        ("audit", "18-21", "girl", 6),
        ("audit", "22-25", "boy", 8),
        ("audit", "18-21", "other", 8),
        ("audit", "adult", "unsaid", 8),
        ("audit", None, None, 8),
        ("audit", None, "girl", 6),
        ("dudit", "16-17", "boy", 2),
        ("dudit", "18-21", "girl", 2),
        ("dudit", "18-21", "boy", 6),
        ("dudit", "22-25", None, 2),
    ],
)
def test_cutoff_is_young_under_18_else_by_gender_else_default(
    instrument: str, age_band: str | None, gender: str | None, cutoff: int
) -> None:
    """Under 18 the young cut-off applies whatever the gender; "other"/"unsaid"/None take the default."""
    result = score(INSTRUMENTS[instrument], [0] * ITEMS[instrument], age_band=age_band, gender=gender)
    assert result.cutoff == cutoff


@pytest.mark.parametrize(
    ("instrument", "total", "age_band", "gender", "flagged"),
    [
        ("audit", 4, "16-17", "boy", False),
        ("audit", 5, "16-17", "boy", True),
        ("audit", 5, "18-21", "girl", False),
        ("audit", 6, "18-21", "girl", True),
        ("audit", 7, "18-21", "boy", False),
        ("audit", 8, "18-21", "boy", True),
        ("audit", 7, "22-25", None, False),
        ("dudit", 1, "13-15", None, False),
        ("dudit", 2, "13-15", None, True),
        ("dudit", 5, "18-21", "boy", False),
        ("dudit", 6, "18-21", "boy", True),
    ],
)
def test_flagged_at_or_above_the_cutoff(instrument: str, total: int, age_band: str, gender: str | None, flagged: bool) -> None:
    result = score(INSTRUMENTS[instrument], answers_for(instrument, total), age_band=age_band, gender=gender)
    assert result.flagged is flagged


def test_zone_labels_cover_every_zone_of_the_bundled_instruments() -> None:
    for instrument in INSTRUMENTS.values():
        for zone in instrument.zones:
            assert ZONE_LABELS[zone.id]["sv"]
            assert ZONE_LABELS[zone.id]["en"]


def _results() -> list[ScreeningResult]:
    return [score(INSTRUMENTS[i], answers_for(i, z.min_score)) for i in ("audit", "dudit") for z in INSTRUMENTS[i].zones]


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_explain_gives_a_different_plain_sentence_for_each_zone(lang: str) -> None:
    """Each zone of each instrument has its own text; none of them says "addicted" or "beroende"."""
    texts = [explain(result, lang) for result in _results()]
    assert all(texts)
    assert len(set(texts)) == len(texts)
    for text in texts:
        assert "addict" not in text.lower()
        assert "beroende" not in text.lower()
        assert "diagnos" not in text.lower()


def test_explain_speaks_swedish_and_english() -> None:
    harmful = score(AUDIT, answers_for("audit", 18))
    assert explain(harmful, "sv") == (
        "Dina svar tyder på att alkoholen kan vara skadlig för dig. Det är bra att du pratar med oss om det."
    )
    assert explain(harmful, "en") == (
        "Your answers suggest that alcohol may be harmful to you. It is good that you talk to us about it."
    )
    for result in _results():
        assert explain(result, "sv") != explain(result, "en")


def test_explain_names_the_substance_of_the_instrument() -> None:
    """The DUDIT text is about drugs, the AUDIT text about alcohol."""
    assert "alcohol" in explain(score(AUDIT, answers_for("audit", 10)), "en")
    assert "drugs" in explain(score(DUDIT, answers_for("dudit", 10)), "en")
    assert "drogerna" in explain(score(DUDIT, answers_for("dudit", 10)), "sv")


def test_the_instruments_here_are_the_ones_dalarna_toml_sets() -> None:
    """The cut-offs these tests use are the bundled file's, so the boundaries above are Dalarna's own."""
    region = triage.load_region()
    assert region.instrument("audit") == AUDIT
    assert region.instrument("dudit") == DUDIT


@pytest.mark.parametrize(
    ("role", "age_band", "fits"),
    [
        ("young", "13-15", True),
        ("young", "22-25", True),
        ("young", None, True),  # an age not given does not rule it out
        ("young", "6-12", False),  # under 13: a conversation, not a score
        ("relative", "adult", False),  # about someone else's use
        ("relative", None, False),
        ("family", "6-12", False),
        ("family", "16-17", False),
    ],
)
def test_the_self_tests_fit_young_people_13_and_older_about_themselves(role: str, age_band: str | None, fits: bool) -> None:
    assert self_test_fits(role, age_band) is fits
