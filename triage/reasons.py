"""The words of a decision: each step the router takes as one plain sentence in Swedish and English, as a
counsellor would say it ("Till Närståendestödet, eftersom det är en närstående som skriver").

Staff read these in the console and the overview, so they name teams by their display names and say
what the person told us in everyday words; never a team id, a rule's name from the config or an arrow.
A rule's sentence is built from the conditions that matched it (read on the intake), so it stays true
when a clinic edits its rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from triage.region import Condition, Priority, Region, Team

__all__ = ["Reason"]


@dataclass(frozen=True)
class Reason:
    """One human-readable step of a decision, in every language the staff console offers."""

    code: str  # e.g. "municipality", "rule", "closed", "overflow", "risk", "screening", "returning"
    sv: str
    en: str


Words = tuple[str, str]  # (sv, en)

_LEVEL: dict[Priority, Words] = {
    Priority.NORMAL: ("Normal", "Normal"),
    Priority.HIGH: ("Hög", "High"),
    Priority.URGENT: ("Akut", "Urgent"),
}

_RISK_SV: dict[str, str] = {
    "suicide": "självmordstankar",
    "self_harm": "självskada",
    "violence": "våld",
    "abuse": "övergrepp",
    "overdose": "överdos eller akut berusning",
}

_TOPIC: dict[str, Words] = {
    "alcohol": ("alkohol", "alcohol"),
    "drugs": ("narkotika", "drugs"),
    "medicines": ("läkemedel", "medicines"),
    "doping": ("doping", "doping"),
    "gambling": ("spel om pengar", "gambling"),
    "mental_health": ("att må dåligt", "mental health"),
    "other": ("annat", "other"),
}

_ROLE: dict[str, Words] = {
    "young": ("det är en ung person som skriver", "a young person is writing"),
    "relative": ("det är en närstående som skriver", "a relative is writing"),
    "family": ("någon är orolig för en person i sin familj", "someone is worried about a person in their family"),
}


def topic(value: str) -> Reason:
    sv, en = _TOPIC.get(value, (value, value))
    return Reason("topic", f"Ämne: {sv}", f"Topic: {en}")


def age(band: str) -> Reason:
    if band == "adult":
        return Reason("age", "Ålder: vuxen", "Age: adult")
    shown = band.replace("-", "–")
    return Reason("age", f"Ålder: {shown} år", f"Age: {shown}")


def municipality(region: Region, code: str | None) -> Words:
    """Where the person lives, as a place name ("Borlänge"); plain words when not given or not in the region."""
    if code is None:
        return "okänd kommun", "an unknown municipality"
    found = region.municipality(code)
    if found is None:
        return "en kommun utanför regionen", "a municipality outside the region"
    return found.name, found.name


def _because(region: Region, when: Condition, role: str | None, municipality_code: str | None,
             topic_id: str | None, age_band: str | None) -> Words | None:
    """Why a rule matched, from the conditions it has (read on the person's answers); None for a rule
    without conditions."""
    parts: list[Words] = []
    if when.roles and role is not None:
        parts.append(_ROLE.get(role, (role, role)))
    if (when.municipalities or when.areas) and municipality_code is not None:
        place = municipality(region, municipality_code)
        parts.append((f"personen bor i {place[0]}", f"the person lives in {place[1]}"))
    if when.topics and topic_id is not None:
        sv, en = _TOPIC.get(topic_id, (topic_id, topic_id))
        parts.append((f"ämnet är {sv}", f"the topic is {en}"))
    if when.age_bands and age_band is not None:
        if age_band == "adult":
            parts.append(("personen är vuxen", "the person is an adult"))
        else:
            shown = age_band.replace("-", "–")
            parts.append((f"åldern är {shown} år", f"the age is {shown}"))
    if not parts:
        return None
    return " och ".join(p[0] for p in parts), " and ".join(p[1] for p in parts)


def rule(region: Region, when: Condition, team: Team, role: str | None, municipality_code: str | None,
         topic_id: str | None, age_band: str | None) -> Reason:
    why = _because(region, when, role, municipality_code, topic_id, age_band)
    if why is None:
        return Reason("rule", f"Till {team.name} enligt regionens regler", f"To {team.name} by the region's rules")
    return Reason("rule", f"Till {team.name}, eftersom {why[0]}", f"To {team.name}, because {why[1]}")


def home(region: Region, team: Team, role: str | None, municipality_code: str | None) -> Reason:
    """A ``by = "municipality"`` rule found the person's home team."""
    place = municipality(region, municipality_code)
    who = _ROLE.get(role or "", ("det är personen som skriver", "it is the person writing"))
    return Reason(
        "municipality",
        f"Till {team.name}, som är teamet för {place[0]}, eftersom {who[0]}",
        f"To {team.name}, the team for {place[1]}, because {who[1]}",
    )


def no_home(region: Region, municipality_code: str | None) -> Reason:
    if municipality_code is None:
        return Reason("rule_skipped", "Kommunen är inte angiven, så inget team för kommunen kunde väljas",
                      "No municipality was given, so no local team could be chosen")
    place = municipality(region, municipality_code)
    return Reason("rule_skipped", f"Inget team för {place[0]} tar emot personen (ålder, ämne eller roll)",
                  f"No team for {place[1]} takes this person (age, topic or role)")


def default(team: Team) -> Reason:
    return Reason("default", f"Ingen särskild regel passade, så samtalet går till {team.name}",
                  f"No particular rule matched, so the conversation goes to {team.name}")


def priority_by_rule(region: Region, when: Condition, level: Priority, role: str | None,
                     municipality_code: str | None, topic_id: str | None, age_band: str | None) -> Reason:
    sv, en = _LEVEL[level]
    why = _because(region, when, role, municipality_code, topic_id, age_band)
    if why is None:
        return Reason("priority", f"{sv} prioritet enligt regionens regler", f"{en} priority by the region's rules")
    return Reason("priority", f"{sv} prioritet, eftersom {why[0]}", f"{en} priority, because {why[1]}")


def screening(name: str, score: int, zone: Words) -> Reason:
    return Reason("screening", f"{name} {score} poäng ({zone[0]}): hög prioritet",
                  f"{name} {score} points ({zone[1]}): high priority")


def risk(categories: list[str]) -> Reason:
    sv = ", ".join(_RISK_SV.get(r, r.replace("_", " ")) for r in categories)
    en = ", ".join(r.replace("_", " ") for r in categories)
    return Reason("risk", f"Risksignal i det som skrevs ({sv}): akut", f"Risk signal in what was written ({en}): urgent")


def closed_on(here: Team, onward: Team) -> Reason:
    return Reason("closed", f"{here.name} har stängt nu, så samtalet går vidare till {onward.name}",
                  f"{here.name} is closed now, so the conversation goes on to {onward.name}")


def all_closed(kept: Team, opens_local: datetime | None) -> Reason:
    if opens_local is None:
        return Reason(
            "closed",
            f"Alla team som kan ta samtalet har stängt och inget öppnar inom två veckor; det väntar hos {kept.name}",
            f"Every team that could take it is closed and none opens within two weeks; it waits with {kept.name}",
        )
    at = opens_local.strftime("%Y-%m-%d %H:%M")
    return Reason(
        "closed",
        f"Alla team som kan ta samtalet har stängt nu; {kept.name} öppnar först ({at}) och samtalet väntar där",
        f"Every team that could take it is closed now; {kept.name} opens first ({at}) and it waits there",
    )


def returning_back(team: Team) -> Reason:
    return Reason("returning", f"Återkommande: tillbaka till den tidigare samtalskontakten i {team.name}",
                  f"Returning: back to the earlier counsellor in {team.name}")


def returning_first() -> Reason:
    return Reason("returning", "Återkommande: den tidigare samtalskontakten är ledig och får samtalet först",
                  "Returning: the earlier counsellor is available and is offered it first")


def returning_anyone(team: Team, why: Words) -> Reason:
    return Reason(
        "returning",
        f"Återkommande: den tidigare samtalskontakten {why[0]}, så vem som helst i {team.name} kan ta det",
        f"Returning: the earlier counsellor {why[1]}, so anyone in {team.name} can take it",
    )


def overflow_closed(team: Team, fallback: Team) -> Reason:
    return Reason(
        "overflow",
        f"{team.name} har stängt nu och {fallback.name} är öppet med någon inloggad, så samtalet flyttas dit",
        f"{team.name} is closed now and {fallback.name} is open with someone online, so it moves there",
    )


def overflow_nobody(team: Team, fallback: Team) -> Reason:
    return Reason("overflow", f"Ingen i {team.name} är inloggad och ledig, så samtalet flyttas till {fallback.name}",
                  f"Nobody in {team.name} is online and available, so it moves to {fallback.name}")


def overflow_waited(team: Team, fallback: Team, seconds: int) -> Reason:
    wait = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    return Reason(
        "overflow",
        f"Den som väntat längst hos {team.name} har väntat mer än {wait}, så samtalet flyttas till {fallback.name}",
        f"The longest waiting with {team.name} has waited more than {wait}, so it moves to {fallback.name}",
    )
