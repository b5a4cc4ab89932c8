"""Topics, roles and age bands: the closed sets of the start form."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    YOUNG = "young"  # about oneself
    RELATIVE = "relative"  # a parent, sibling, partner or friend of someone
    FAMILY = "family"  # a child (or young person) worried about someone in their own family


class Topic(StrEnum):
    ALCOHOL = "alcohol"
    DRUGS = "drugs"
    MEDICINES = "medicines"
    DOPING = "doping"
    GAMBLING = "gambling"
    MENTAL_HEALTH = "mental_health"
    OTHER = "other"


class AgeBand(StrEnum):
    CHILD = "6-12"
    EARLY_TEEN = "13-15"
    LATE_TEEN = "16-17"
    YOUNG_ADULT = "18-21"
    ADULT_YOUNG = "22-25"
    ADULT = "adult"


TOPIC_LABELS: dict[Topic, dict[str, str]] = {
    Topic.ALCOHOL: {"sv": "Alkohol", "en": "Alcohol"},
    Topic.DRUGS: {"sv": "Narkotika (cannabis och andra droger)", "en": "Drugs (cannabis and other drugs)"},
    Topic.MEDICINES: {"sv": "Läkemedel", "en": "Medicines"},
    Topic.DOPING: {"sv": "Doping", "en": "Doping"},
    Topic.GAMBLING: {"sv": "Spel om pengar", "en": "Gambling"},
    Topic.MENTAL_HEALTH: {"sv": "Mår dåligt / psykisk ohälsa", "en": "Feeling bad / mental health"},
    Topic.OTHER: {"sv": "Annat / vet inte", "en": "Other / don't know"},
}

ROLE_LABELS: dict[Role, dict[str, str]] = {
    Role.YOUNG: {"sv": "Jag är ung och vill prata om mig själv", "en": "I am young and want to talk about myself"},
    Role.RELATIVE: {"sv": "Jag är närstående (förälder, syskon, vän)", "en": "I am a relative (parent, sibling, friend)"},
    Role.FAMILY: {"sv": "Jag är orolig för någon i min familj", "en": "I am worried about someone in my family"},
}


def self_test_fits(role: str, age_band: str | None) -> bool:
    """Whether the self-tests (AUDIT, DUDIT) fit this person. They ask about one's own drinking and drug
    use: not for a relative or a child worried about their family, and not for a child under 13 (AUDIT is
    studied from about 12, DUDIT validated from about 16). An age not given does not rule it out."""
    return role == Role.YOUNG and age_band != AgeBand.CHILD

AGE_LABELS: dict[AgeBand, dict[str, str]] = {
    AgeBand.CHILD: {"sv": "6–12 år", "en": "6–12 years"},
    AgeBand.EARLY_TEEN: {"sv": "13–15 år", "en": "13–15 years"},
    AgeBand.LATE_TEEN: {"sv": "16–17 år", "en": "16–17 years"},
    AgeBand.YOUNG_ADULT: {"sv": "18–21 år", "en": "18–21 years"},
    AgeBand.ADULT_YOUNG: {"sv": "22–25 år", "en": "22–25 years"},
    AgeBand.ADULT: {"sv": "Vuxen (närstående)", "en": "Adult (relative)"},
}
