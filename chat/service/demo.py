"""What ``minimaria serve --demo`` puts in besides the accounts: a few canned answers in Swedish and English
for the default team (reception) and a few other teams, so a first look at the console shows the feature.

Seeding is idempotent: an answer whose team, language and title are already there is left as it is (an
edited demo answer survives the next ``--demo``). The crisis numbers and opening hours are written from the
region config, so they say what the pages say.
"""

from __future__ import annotations

from itertools import groupby

from chat.service.context import Context
from chat.store import canned as store
from triage.region import WEEKDAYS, Region, Span

DEMO_TEAMS = 3  # besides the default team
_DAYS = {"sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
_CLOSED = {"sv": "stängt", "en": "closed"}


def _span(s: Span) -> str:
    return f"{s.start // 60:02d}:{s.start % 60:02d}–{s.end // 60:02d}:{s.end % 60:02d}"


def hours_text(region: Region, team_id: str, language: str) -> str:
    """A team's weekly hours in a line, days with the same hours together: "mån–fre 09:00–21:00, lör–sön stängt"."""
    team = region.team(team_id)
    if team is None:
        return ""
    days = _DAYS[language]
    parts = []
    for spans, group in groupby(range(len(WEEKDAYS)), key=lambda d: team.hours.weekly[d]):
        run = list(group)
        when = days[run[0]] if len(run) == 1 else f"{days[run[0]]}–{days[run[-1]]}"
        parts.append(f"{when} {', '.join(_span(s) for s in spans) if spans else _CLOSED[language]}")
    return ", ".join(parts)


def canned_answers(region: Region, team_id: str) -> list[tuple[str, str, str]]:
    """(language, title, body) of the demo answers for one team."""
    crisis_sv = "\n".join(f"{c.number} – {c.name}: {c.text.get('sv', '')}" for c in region.crisis)
    crisis_en = "\n".join(f"{c.number} – {c.name}: {c.text.get('en', c.text.get('sv', ''))}" for c in region.crisis)
    return [
        ("sv", "Hälsning", "Hej och välkommen till MiniMaria! Jag heter ___. Du är anonym här. Vad vill du prata om?"),
        ("sv", "Vänta en stund", "Jag kollar med en kollega, vänta en stund så återkommer jag."),
        ("sv", "Krisnummer", "Om det är akut eller du behöver prata med någon nu när vi inte har öppet kan du ringa:\n"
                             + crisis_sv),
        ("sv", "Öppettider", f"Chatten har öppet {hours_text(region, team_id, 'sv')}. Du kan lämna ett meddelande "
                             "när vi har stängt, så svarar vi när vi öppnar."),
        ("sv", "Avslutning", "Tack för att du hörde av dig! Spara din kod om du vill fortsätta samtalet en annan "
                             "gång. Du är alltid välkommen tillbaka."),
        ("en", "Greeting", "Hi and welcome to MiniMaria! My name is ___. You are anonymous here. What would you like "
                           "to talk about?"),
        ("en", "One moment", "I am checking with a colleague, please wait a moment and I will be back."),
        ("en", "Crisis numbers", "If it is urgent, or you need to talk to someone now while we are closed, you can "
                                 "call:\n" + crisis_en),
        ("en", "Opening hours", f"The chat is open {hours_text(region, team_id, 'en')}. You can leave a message "
                                "while we are closed and we will answer when we open."),
        ("en", "Ending", "Thank you for getting in touch! Keep your code if you want to continue the conversation "
                         "another time. You are always welcome back."),
    ]


def demo_teams(region: Region) -> list[str]:
    """The default team first, then the first few other teams of the region."""
    others = [t.id for t in region.teams if t.id != region.default_team]
    return [region.default_team, *others[:DEMO_TEAMS]]


async def seed_canned(ctx: Context, staff_id: int | None) -> int:
    """Adds the demo answers that are missing (by team, language and title); returns how many it added."""
    region = ctx.region
    teams = demo_teams(region)
    have = {(c.team, c.language, c.title) for c in await store.listed(ctx.engine, teams)}
    added = 0
    now = ctx.clock()
    for team in teams:
        for language, title, body in canned_answers(region, team):
            if language in region.languages and (team, language, title) not in have:
                await store.add(ctx.engine, team, language, title, body, staff_id, now)
                added += 1
    return added
