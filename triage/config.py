"""Region config: TOML → a validated, frozen Region. No I/O beyond reading the text it is given."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


class ConfigError(ValueError):
    """The region config is invalid; ``problems`` lists each one with the key it concerns."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    kind: str


@dataclass(frozen=True)
class CrisisResource:
    name: str
    number: str
    text: dict[str, str]


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    default_team: str
    languages: tuple[str, ...]
    municipalities: tuple[Municipality, ...]
    teams: tuple[Team, ...]
    crisis: tuple[CrisisResource, ...]

    def municipality(self, code: str) -> Municipality | None:
        return next((m for m in self.municipalities if m.code == code), None)

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)


def parse_region(text: str, source: str = "<config>") -> Region:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{source}: not valid TOML: {err}"]) from None
    problems: list[str] = []
    head = data.get("region", {})
    for key in ("id", "name", "default_team"):
        if not isinstance(head.get(key), str) or not head.get(key):
            problems.append(f"{source}: [region].{key} is required and must be text")
    munis: list[Municipality] = []
    seen: set[str] = set()
    for i, m in enumerate(data.get("municipalities", [])):
        code, name = m.get("code"), m.get("name")
        if not (isinstance(code, str) and code.isdigit() and len(code) == 4):
            problems.append(f"{source}: municipalities[{i}].code must be a four-digit code as text")
            continue
        if code in seen:
            problems.append(f"{source}: municipalities[{i}].code {code} appears twice")
        seen.add(code)
        munis.append(Municipality(code=code, name=str(name)))
    teams = tuple(
        Team(id=str(t.get("id")), name=str(t.get("name")), kind=str(t.get("kind", "counsellor")))
        for t in data.get("teams", [])
    )
    if head.get("default_team") and head.get("default_team") not in {t.id for t in teams}:
        problems.append(f"{source}: [region].default_team names a team that is not in [[teams]]")
    crisis = tuple(
        CrisisResource(
            name=str(c.get("name")),
            number=str(c.get("number")),
            text={k: str(v) for k, v in c.items() if k not in {"name", "number"}},
        )
        for c in data.get("crisis", [])
    )
    if problems:
        raise ConfigError(problems)
    return Region(
        id=head["id"],
        name=head["name"],
        default_team=head["default_team"],
        languages=tuple(head.get("languages", ["sv", "en"])),
        municipalities=tuple(munis),
        teams=teams,
        crisis=crisis,
    )


def bundled_region_text(name: str = "dalarna") -> str:
    return resources.files("triage").joinpath("regions", f"{name}.toml").read_text(encoding="utf-8")


def load_region(path: Path | None = None) -> Region:
    """The region at ``path``, or the bundled Dalarna example. Reading a small file once at start."""
    if path is None:
        return parse_region(bundled_region_text(), "dalarna.toml")
    return parse_region(path.read_text(encoding="utf-8"), str(path))
