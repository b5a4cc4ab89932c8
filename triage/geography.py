"""Coverage: which area a municipality lies in, which teams take a person, and which geographic team is
the home team for a municipality.

A team's coverage set that is empty takes everyone, including a person who did not say (None); a
non-empty set takes only the values in it, so None is never in it.
"""

from __future__ import annotations

from triage.region import Region, Team


def area_of(region: Region, municipality: str | None) -> str | None:
    """The area of the region the municipality lies in; None when not given or not in the region."""
    if municipality is None:
        return None
    found = region.municipality(municipality)
    return found.area if found is not None else None


def within(allowed: frozenset[str], value: str | None) -> bool:
    """Empty = anything (also "not given"); otherwise the value must be given and in the set."""
    return not allowed or (value is not None and value in allowed)


def takes(team: Team, *, role: str | None, topic: str | None, age_band: str | None) -> bool:
    """Whether the team takes this role, topic and age band (its coverage lists, not its municipalities)."""
    return within(team.roles, role) and within(team.topics, topic) and within(team.age_bands, age_band)


def home_team(
    region: Region, municipality: str | None, *, role: str | None, topic: str | None, age_band: str | None
) -> Team | None:
    """The first geographic team, in file order, that covers the municipality and takes the person; None
    when no geographic team does (the ``by = "municipality"`` rule then does not match)."""
    for team in region.teams:
        if (
            team.geographic
            and within(team.municipalities, municipality)
            and takes(team, role=role, topic=topic, age_band=age_band)
        ):
            return team
    return None


def covering(region: Region, municipality: str) -> tuple[Team, ...]:
    """Every geographic team whose area includes the municipality, whoever they take (for maps and docs)."""
    return tuple(t for t in region.teams if t.geographic and within(t.municipalities, municipality))
