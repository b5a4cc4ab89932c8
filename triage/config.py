"""Region config: TOML text → a validated, frozen ``Region`` (its shape is triage/region.py).

``parse_region`` reports every problem at once, each as ``FILE:LINE: KEY: what is wrong``. tomllib
gives no line numbers, so ``toml_reading`` finds them best-effort in the text. Reading a file in
``load_region`` is the only I/O here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triage.region import (
    Condition,
    CrisisResource,
    Hours,
    Instrument,
    Municipality,
    Pickup,
    Priority,
    Region,
    Rule,
    Team,
    TeamKind,
    Zone,
)
from triage.toml_reading import Key, Reader, Table, kind_of, near
from triage.topics import AgeBand, Role, Topic

Scope = dict[str, frozenset[str] | None]  # per dimension the values taken or matched; None = any

MAX_SCORE = {"audit": 40, "dudit": 44}
PRIORITIES = {"high": Priority.HIGH, "urgent": Priority.URGENT}
ROOT_KEYS = ("region", "municipalities", "teams", "rules", "crisis", "screening")
REGION_KEYS = ("id", "name", "timezone", "default_team", "languages", "alert_teams", "holidays")
TEAM_KEYS = ("id", "name", "kind", "municipalities", "areas", "topics", "roles", "age_bands", "geographic",
             "capacity", "pickup", "offer_timeout_s", "max_wait_s", "target_wait_min", "fallback",
             "hours")
WHEN_KEYS = ("roles", "municipalities", "areas", "topics", "age_bands")
CUTOFF_KEYS = ("young", "female", "male", "default")


class ConfigError(ValueError):
    """The region config is invalid; ``problems`` lists each one with the key it concerns."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_region(text: str, source: str = "<config>") -> Region:
    """The region the TOML ``text`` describes; ConfigError listing every problem otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"at line (\d+)", str(err))
        raise ConfigError([f"{source}{':' + at.group(1) if at else ''}: not valid TOML: {err}"]) from None
    return _Parser(text, source, data).region()


def bundled_region_text(name: str = "dalarna") -> str:
    return resources.files("triage").joinpath("regions", f"{name}.toml").read_text(encoding="utf-8")


def load_region(path: Path | None = None) -> Region:
    """The region at ``path``, or the bundled Dalarna example. Reading a small file once at start."""
    if path is None:
        return parse_region(bundled_region_text(), "dalarna.toml")
    return parse_region(path.read_text(encoding="utf-8"), str(path))


class _Parser(Reader):
    # -- the sections ----------------------------------------------------------------------------------

    def region(self) -> Region:
        root = self.table(self.data, (), ROOT_KEYS, ("region",))
        at: Key = ("region",)
        head = self.table(root.get("region"), at, REGION_KEYS, ("id", "name", "timezone", "default_team", "languages"))
        region_id, name = self.text(head, "id", at) or "", self.text(head, "name", at) or ""
        holidays = self.dates(head, "holidays", at)
        tz = self.text(head, "timezone", at)
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                self.add((*at, "timezone"), f'unknown time zone "{tz}" (an IANA name such as "Europe/Stockholm")')
        default_team = self.text(head, "default_team", at) or ""
        languages = tuple(self.texts(head, "languages", at, required=True))
        if "languages" in head and not languages:
            self.add((*at, "languages"), 'must list at least one language, e.g. ["sv", "en"]')

        municipalities = self.municipalities(root)
        areas: dict[str, frozenset[str]] = {}
        for m in municipalities:
            areas[m.area] = areas.get(m.area, frozenset()) | {m.code}
        teams, clean = self.teams(root, municipalities, areas, default_team)
        by_id = {t.id: t for t in teams}
        if default_team and teams and default_team not in by_id:
            self.add((*at, "default_team"), f'no team has the id "{default_team}"{near(default_team, by_id)}')
        alert_teams = tuple(self.texts(head, "alert_teams", at))
        for team_id in alert_teams:
            if team_id not in by_id:
                self.add((*at, "alert_teams"), f'no team has the id "{team_id}"{near(team_id, by_id)}')
        self.fallbacks(teams, default_team)
        self.coverage(municipalities, teams)
        rules = self.rules(root, municipalities, areas, by_id, clean)
        crisis = self.crisis(root, languages, {m.code for m in municipalities}, areas)
        screening = self.screening(root)
        if self.found:
            raise ConfigError([message for _, message in sorted(self.found, key=lambda f: f[0])])
        return Region(
            id=region_id, name=name, timezone=tz or "", default_team=default_team, languages=languages,
            municipalities=municipalities, teams=teams, rules=rules, crisis=crisis, holidays=holidays,
            screening=screening, alert_teams=alert_teams,
        )

    def municipalities(self, root: Table) -> tuple[Municipality, ...]:
        out: list[Municipality] = []
        seen: dict[str, int] = {}
        for i, entry in self.tables_in(root, "municipalities", ()):
            at: Key = ("municipalities", i)
            self.table(entry, at, ("code", "name", "area"), ("code", "name", "area"))
            code, name, area = self.text(entry, "code", at), self.text(entry, "name", at), self.text(entry, "area", at)
            if code is not None and not re.fullmatch(r"\d{4}", code):
                self.add((*at, "code"), f'"{code}" is not a municipality code: four digits in quotes, e.g. "2080"')
            elif code is not None and code in seen:
                self.add((*at, "code"), f"{code} appears twice (also municipalities[{seen[code] + 1}])")
            elif code is not None:
                seen[code] = i
                out.append(Municipality(code=code, name=name or "", area=area or ""))
        if not out and "municipalities" in root:
            self.add(("municipalities",), "the region needs at least one [[municipalities]] entry")
        elif "municipalities" not in root:
            self.add(("municipalities",), "no [[municipalities]]: list the region's municipalities")
        return tuple(out)

    def teams(self, root: Table, municipalities: tuple[Municipality, ...], areas: dict[str, frozenset[str]],
              default_team: str) -> tuple[tuple[Team, ...], set[str]]:
        """The teams, and the ids of those whose coverage read without a problem (safe to reason about)."""
        teams: list[Team] = []
        clean: set[str] = set()
        seen: dict[str, int] = {}
        codes = {m.code for m in municipalities}
        for i, entry in self.tables_in(root, "teams", ()):
            at: Key = ("teams", i)
            self.table(entry, at, TEAM_KEYS, ("id", "name", "kind"))
            team_id = self.text(entry, "id", at) or ""
            if team_id in seen:
                self.add((*at, "id"), f'"{team_id}" is also the id of teams[{seen[team_id] + 1}]')
            seen.setdefault(team_id, i)
            before = self.count()
            covered = self.some_of(entry, "municipalities", at, codes, "municipality code", "not in [[municipalities]]")
            for area in self.some_of(entry, "areas", at, areas, "area"):
                covered |= areas[area]
            topics = self.some_of(entry, "topics", at, list(Topic), "topic")
            roles = self.some_of(entry, "roles", at, list(Role), "role")
            age_bands = self.some_of(entry, "age_bands", at, list(AgeBand), "age band")
            if self.count() == before and team_id:
                clean.add(team_id)
            kind = self.one_of(entry, "kind", at, list(TeamKind), "team kind")
            pickup = self.one_of(entry, "pickup", at, list(Pickup), "pickup")
            fallback = self.text(entry, "fallback", at, required=False)
            if team_id == default_team and fallback is not None:
                self.add((*at, "fallback"), "the default team is where everything ends: it has no fallback")
            hours = Hours(weekly=((),) * 7)
            if "hours" in entry:
                never = 'the team is never open: no weekday has a span (e.g. mon = ["09:00-17:00"])'
                hours = self.hours(entry["hours"], (*at, "hours"), never)
            else:
                self.add((*at, "hours"), "missing: give the team's opening hours in a [teams.hours] table")
            teams.append(Team(
                id=team_id, name=self.text(entry, "name", at) or "", kind=TeamKind(kind or TeamKind.COUNSELLOR), hours=hours,
                municipalities=covered, topics=topics, roles=roles, age_bands=age_bands,
                geographic=self.flag(entry, "geographic", at), capacity=self.integer(entry, "capacity", at, 1) or 3,
                pickup=Pickup(pickup or Pickup.MANUAL), offer_timeout_s=self.integer(entry, "offer_timeout_s", at, 5) or 60,
                max_wait_s=self.integer(entry, "max_wait_s", at, 1),
                target_wait_min=self.target_wait(entry, at),
                fallback=None if team_id == default_team else fallback or default_team,
            ))
        if not teams:
            self.add(("teams",), "no [[teams]]: the region needs at least its default team")
        return tuple(teams), clean

    def target_wait(self, entry: Table, at: Key) -> int:
        """Minutes a visitor may wait before the overview flags the team: 1 to a day, default 10."""
        minutes = self.integer(entry, "target_wait_min", at, 1)
        if minutes is not None and minutes > 24 * 60:
            self.add((*at, "target_wait_min"), f"must be at most 1440 (a day), not {minutes}")
            return 10
        return minutes or 10

    def fallbacks(self, teams: tuple[Team, ...], default_team: str) -> None:
        """Every fallback names a team, and every chain ends at the default team (one problem per circle)."""
        by_id = {t.id: t for t in teams}
        circles: set[frozenset[str]] = set()
        for i, team in enumerate(teams):
            if team.fallback is not None and team.fallback not in by_id and team.fallback != default_team:
                self.add(("teams", i, "fallback"), f'no team has the id "{team.fallback}"{near(team.fallback, by_id)}')
        for i, team in enumerate(teams):
            chain = [team.id]
            step = team.fallback
            while step is not None and step != default_team and step in by_id and step not in chain:
                chain.append(step)
                step = by_id[step].fallback
            if step is not None and step in chain and step == team.id and frozenset(chain) not in circles:
                circles.add(frozenset(chain))
                self.add(("teams", i, "fallback"), f"the fallback chain {' → '.join([*chain, step])} goes round in a "
                         f'circle and never reaches the default team "{default_team}"')

    def coverage(self, municipalities: tuple[Municipality, ...], teams: tuple[Team, ...]) -> None:
        if not teams or any(not t.municipalities for t in teams):
            return  # a team without municipalities and areas covers the whole region
        covered = frozenset().union(*(t.municipalities for t in teams))
        for i, m in enumerate(municipalities):
            if m.code not in covered:
                self.add(("municipalities", i), f'no team covers {m.code} {m.name}: add it (or its area "{m.area}") '
                         "to a team, or leave one team without municipalities and areas")

    def rules(self, root: Table, municipalities: tuple[Municipality, ...], areas: dict[str, frozenset[str]],
              teams: dict[str, Team], clean: set[str]) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        scopes: list[Scope | None] = []  # None: not reasoned about (its own problems are reported)
        codes = {m.code for m in municipalities}
        for i, entry in self.tables_in(root, "rules", ()):
            at: Key = ("rules", i)
            self.table(entry, at, ("name", "when", "team", "by", "priority"), ("name",))
            before = self.count()
            when = self.table(entry.get("when"), (*at, "when"), WHEN_KEYS)
            w = (*at, "when")
            cond = Condition(
                roles=self.some_of(when, "roles", w, list(Role), "role"),
                municipalities=self.some_of(when, "municipalities", w, codes, "municipality code", "not in [[municipalities]]"),
                areas=self.some_of(when, "areas", w, areas, "area"),
                topics=self.some_of(when, "topics", w, list(Topic), "topic"),
                age_bands=self.some_of(when, "age_bands", w, list(AgeBand), "age band"),
            )
            scope = _rule_scope(cond, areas) if self.count() == before else None
            if self.count() == before and scope is None:
                self.add(w, "never matches: none of its municipalities lies in its areas")
            team = self.text(entry, "team", at, required=False)
            by = self.one_of(entry, "by", at, ("municipality",), "value")
            if "team" in entry and "by" in entry:
                self.add((*at, "by"), 'give either team = "..." or by = "municipality", not both')
            elif "team" not in entry and "by" not in entry:
                self.add(at, 'says neither where to go: give team = "..." or by = "municipality"')
            if team is not None and team not in teams:
                self.add((*at, "team"), f'no team has the id "{team}"{near(team, teams)}')
            priority = self.one_of(entry, "priority", at, PRIORITIES, "priority")
            rule = Rule(name=self.text(entry, "name", at) or "", when=cond, team=team, by_municipality=by is not None,
                        priority=PRIORITIES[priority] if priority else None)
            if scope is not None:
                self.deliverable(at, rule, scope, rules, scopes, teams, clean)
            rules.append(rule)
            scopes.append(scope)
        return tuple(rules)

    def deliverable(self, at: Key, rule: Rule, scope: Scope, earlier: list[Rule], scopes: list[Scope | None],
                    teams: dict[str, Team], clean: set[str]) -> None:
        """A rule must be reachable (no earlier rule matches all it does) and lead to a team taking its people."""
        for j, before in enumerate(scopes):
            if before is not None and _covers(before, scope):
                catch_all = all(v is None for v in before.values())
                how = "has an empty `when`, so it matches everyone" if catch_all else "matches everyone this rule does"
                self.add(at, f'never matches: rules[{j + 1}] "{earlier[j].name}" comes first and {how}')
                break
        if rule.team in clean:
            mismatch = _mismatch(scope, _team_scope(teams[rule.team]))
            if mismatch:
                self.add((*at, "team"), f'team "{rule.team}" takes nobody this rule matches ({mismatch})')
        if rule.by_municipality:
            home = [t for t in teams.values() if t.geographic]
            if not home:
                self.add((*at, "by"), "no team has geographic = true, so no municipality has a home team")
            elif all(t.id in clean for t in home) and all(_mismatch(scope, _team_scope(t)) for t in home):
                self.add((*at, "by"), "no geographic team takes anyone this rule matches (check their roles, topics, "
                         "age_bands and municipalities)")

    def crisis(self, root: Table, languages: tuple[str, ...], codes: set[str],
               areas: dict[str, frozenset[str]]) -> tuple[CrisisResource, ...]:
        out: list[CrisisResource] = []
        for i, entry in self.tables_in(root, "crisis", ()):
            at: Key = ("crisis", i)
            hint = (" (a crisis entry has name, number, ages, hours, municipalities, areas and one text per region "
                    f"language: {', '.join(languages)})")
            # Without a valid [region].languages (reported there) the language keys cannot be told from typos.
            keys = ("name", "number", "ages", "hours", "municipalities", "areas", *languages) if languages else None
            self.table(entry, at, keys, ("name", "number"), hint)
            number = self.text(entry, "number", at)
            if number is not None and not re.fullmatch(r"\+?[0-9][0-9 -]*", number):
                self.add((*at, "number"), f'"{number}" is not a phone number (digits, spaces and dashes)')
            text = {}
            for language in languages:
                if language not in entry:
                    self.add((*at, language), f"missing: every crisis entry needs a text in each region language "
                             f"({', '.join(languages)})")
                text[language] = self.text(entry, language, at, required=False) or ""
            hours = None
            if "hours" in entry:
                never = "the line is never open: no weekday has a span (leave out [crisis.hours] if it is always open)"
                hours = self.hours(entry["hours"], (*at, "hours"), never)
            served = self.some_of(entry, "municipalities", at, codes, "municipality code", "not in [[municipalities]]")
            for area in self.some_of(entry, "areas", at, areas, "area"):
                served |= areas[area]
            out.append(CrisisResource(name=self.text(entry, "name", at) or "", number=number or "", text=text,
                                      hours=hours, ages=self.text(entry, "ages", at, required=False),
                                      municipalities=frozenset(served)))
        if not out:
            self.add(("crisis",), "no [[crisis]] entry: list at least 112 and the helplines young people can call")
        return tuple(out)

    def screening(self, root: Table) -> tuple[Instrument, ...]:
        section = self.table(root.get("screening"), ("screening",), tuple(MAX_SCORE))
        return tuple(self.instrument(name, section[name]) for name in MAX_SCORE if name in section)

    def instrument(self, name: str, value: object) -> Instrument:
        at: Key = ("screening", name)
        top = MAX_SCORE[name]
        entry = self.table(value, at, ("zones", "cutoff", "raise_priority_from"), ("zones", "cutoff", "raise_priority_from"))
        zones: list[Zone] = []
        for zone_id, start in self.table(entry.get("zones"), (*at, "zones"), None).items():
            where = (*at, "zones", zone_id)
            if not isinstance(start, int) or isinstance(start, bool):
                self.add(where, f"must be a whole number (the zone's lowest score), not {kind_of(start)}")
                continue
            if not zones and start != 0:
                self.add(where, f"the first zone must start at 0, not {start}")
            elif zones and start <= zones[-1].min_score:
                self.add(where, f'starts at {start}, not above the zone before it ("{zones[-1].id}" from '
                         f"{zones[-1].min_score}): list the zones in ascending order")
            if start > top:
                self.add(where, f"starts at {start}, above {name.upper()}'s maximum score {top}")
            zones.append(Zone(zone_id, start))
        if "zones" in entry and not zones:
            self.add((*at, "zones"), "must list at least one zone, the first from 0, e.g. { low = 0, high = 8 }")
        cutoff = self.table(entry.get("cutoff"), (*at, "cutoff"), CUTOFF_KEYS, CUTOFF_KEYS if "cutoff" in entry else ())
        cut: dict[str, int] = {}
        for key in CUTOFF_KEYS:
            score = self.integer(cutoff, key, (*at, "cutoff"), 0)
            if score is not None and score > top:
                self.add((*at, "cutoff", key), f"{score} is above {name.upper()}'s maximum score {top}")
            cut[key] = score or 0
        raise_from = self.text(entry, "raise_priority_from", at)
        if raise_from is not None and zones and raise_from not in {z.id for z in zones}:
            ids = [z.id for z in zones]
            listing = f" ({', '.join(ids)})"
            self.add((*at, "raise_priority_from"), f'"{raise_from}" is not one of the zones{near(raise_from, ids) or listing}')
        return Instrument(id=name, zones=tuple(zones), cutoff_young=cut["young"], cutoff_female=cut["female"],
                          cutoff_male=cut["male"], cutoff_default=cut["default"], raise_priority_from=raise_from or "")


def _rule_scope(cond: Condition, areas: dict[str, frozenset[str]]) -> Scope | None:
    """What a rule matches per dimension (municipalities and areas both have to match); None: nothing."""
    geo: frozenset[str] | None = cond.municipalities or None
    if cond.areas:
        in_areas = frozenset().union(*(areas[a] for a in cond.areas))
        geo = in_areas if geo is None else geo & in_areas
    if geo is not None and not geo:
        return None
    return {"roles": cond.roles or None, "topics": cond.topics or None, "age_bands": cond.age_bands or None,
            "municipalities": geo}


def _team_scope(team: Team) -> Scope:
    return {"roles": team.roles or None, "topics": team.topics or None, "age_bands": team.age_bands or None,
            "municipalities": team.municipalities or None}


def _covers(outer: Scope, inner: Scope) -> bool:
    """Whether everything ``inner`` matches is matched by ``outer``."""
    for dim, matched in outer.items():
        within = inner[dim]
        if matched is not None and (within is None or not within <= matched):
            return False
    return True


def _mismatch(rule: Scope, team: Scope) -> str:
    """The dimensions where the rule and the team have nothing in common, in words; "" when they meet."""
    parts = []
    for dim, wanted in rule.items():
        taken = team[dim]
        if wanted is not None and taken is not None and not wanted & taken:
            parts.append(f"{dim}: the rule matches {', '.join(sorted(wanted))}, the team takes {', '.join(sorted(taken))}")
    return "; ".join(parts)
