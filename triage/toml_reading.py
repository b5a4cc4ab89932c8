"""Reading a region TOML: typed access to its tables with every problem reported as
``FILE:LINE: KEY: what is wrong``, and best-effort line numbers (tomllib gives none).

config.py builds the Region with it; nothing here knows what a team or a rule is.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Collection, Iterator
from datetime import date, datetime, time

from triage.region import WEEKDAYS, Hours, Span

Key = tuple[str | int, ...]  # a key path: ("teams", 1, "hours", "thu") is the second team's Thursday
Table = dict[str, object]

_SPAN = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_HEADER = re.compile(r"\s*(\[\[?)\s*([\w-]+(?:\s*\.\s*[\w-]+)*)\s*\]\]?\s*(?:#.*)?")


class _Lines:
    """Best-effort line numbers for key paths. A key's line is the first line of its table that assigns
    it (a table runs from its header to the next header); failing that, the table header's line."""

    def __init__(self, text: str) -> None:
        self.tables: dict[Key, int] = {}  # a table (and an array of tables: its first element) → header line
        self.body: dict[Key, list[tuple[int, str]]] = {}  # a table → its lines
        counts: dict[Key, int] = {}
        table: Key = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.fullmatch(line)
            if header is None:
                self.body.setdefault(table, []).append((number, line))
                continue
            names = [n.strip() for n in header.group(2).split(".")]
            key: list[str | int] = []
            for i, name in enumerate(names):
                key.append(name)
                if i == len(names) - 1 and header.group(1) == "[[":
                    self.tables.setdefault(tuple(key), number)
                    counts[tuple(key)] = counts.get(tuple(key), 0) + 1
                    key.append(counts[tuple(key)] - 1)
                elif tuple(key) in counts:
                    key.append(counts[tuple(key)] - 1)
            table = tuple(key)
            self.tables.setdefault(table, number)

    def line(self, path: Key) -> int | None:
        cut = next(n for n in range(len(path), -1, -1) if n == 0 or path[:n] in self.tables)
        table, rest = path[:cut], path[cut:]
        if rest and isinstance(rest[0], str):
            assigns = re.compile(rf'\s*"?{re.escape(rest[0])}"?\s*[=.]')
            for number, text in self.body.get(table, []):
                if assigns.match(text):
                    return number
        return self.tables.get(table)


def kind_of(value: object) -> str:
    kinds: list[tuple[type, str]] = [(bool, "true/false"), (int, "a whole number"), (float, "a decimal number"),
                                     (str, "text"), (datetime, "a date and time"), (date, "a date"),
                                     (time, "a time"), (list, "a list"), (dict, "a table")]
    return next(name for t, name in [*kinds, (object, type(value).__name__)] if isinstance(value, t))


def near(word: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.7)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"


def span_text(span: Span) -> str:
    return f"{_hhmm(span.start)}-{_hhmm(span.end)}"


class Reader:
    def __init__(self, text: str, source: str, data: Table) -> None:
        self.source, self.data, self.lines = source, data, _Lines(text)
        self.found: list[tuple[int, str]] = []
        self.gone: set[Key] = set()  # keys reported missing or of the wrong type: nothing more is said inside them

    # -- reporting -------------------------------------------------------------------------------------

    def add(self, path: Key, message: str) -> None:
        if any(path[:n] in self.gone for n in range(len(path) + 1)):
            return
        line = self.lines.line(path)
        where = f"{self.source}:{line}" if line else self.source
        label = self._label(path)
        problem = (line or 0, f"{where}: {label}: {message}" if label else f"{where}: {message}")
        if problem not in self.found:
            self.found.append(problem)

    def missing(self, path: Key, message: str = "required, but missing") -> None:
        self.add(path, message)
        self.gone.add(path)

    def _label(self, path: Key) -> str:
        out = ""
        node: object = self.data
        for depth, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part + 1}]"
                node = node[part] if isinstance(node, list) and part < len(node) else None
                name = node.get("id", node.get("name")) if isinstance(node, dict) else None
                if depth == 1 and isinstance(name, str):
                    out += f' "{name}"'
            else:
                out += f".{part}" if out else part
                node = node.get(part) if isinstance(node, dict) else None
        return out

    def count(self) -> int:
        return len(self.found)

    # -- typed reading: each records what is wrong and returns a stand-in --------------------------------

    def table(self, value: object, path: Key, keys: Collection[str] | None, required: Collection[str] = (),
              hint: str = "") -> Table:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.missing(path, f"must be a table, not {kind_of(value)}")
            return {}
        for key in value:
            if keys is not None and key not in keys:
                known = hint or f" (known keys: {', '.join(keys)})"
                self.add((*path, key), f'unknown key "{key}"{near(key, keys) or known}')
        for key in required:
            if key not in value:
                self.missing((*path, key))
        return value

    def tables_in(self, table: Table, key: str, path: Key) -> Iterator[tuple[int, Table]]:
        value = table.get(key, [])
        if not isinstance(value, list):
            self.missing((*path, key), f"must be a list of tables ([[{key}]]), not {kind_of(value)}")
            return
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item
            else:
                self.missing((*path, key, i), f"must be a table, not {kind_of(item)}")

    def _wrong(self, table: Table, key: str, path: Key, required: bool, ok: bool, what: str) -> bool:
        """True when the value is there and of the right type; otherwise says why (missing, or its type)."""
        if key not in table:
            if required:
                self.missing((*path, key))
            return False
        if not ok:
            self.missing((*path, key), f"must be {what}, not {kind_of(table[key])}")
        return ok

    def text(self, table: Table, key: str, path: Key, required: bool = True) -> str | None:
        value = table.get(key)
        if not self._wrong(table, key, path, required, isinstance(value, str), "text in quotes"):
            return None
        assert isinstance(value, str)
        if not value.strip():
            self.add((*path, key), "must not be empty")
            return None
        return value

    def integer(self, table: Table, key: str, path: Key, minimum: int, required: bool = False) -> int | None:
        value = table.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not self._wrong(table, key, path, required, ok, "a whole number"):
            return None
        assert isinstance(value, int)
        if value < minimum:
            self.add((*path, key), f"must be at least {minimum}, not {value}")
            return None
        return value

    def flag(self, table: Table, key: str, path: Key) -> bool:
        value = table.get(key)
        return self._wrong(table, key, path, False, isinstance(value, bool), "true or false") and value is True

    def items(self, table: Table, key: str, path: Key, required: bool = False) -> list[object]:
        value = table.get(key)
        ok = self._wrong(table, key, path, required, isinstance(value, list), "a list [...]")
        return list(value) if ok and isinstance(value, list) else []

    def texts(self, table: Table, key: str, path: Key, required: bool = False) -> list[str]:
        out = []
        for item in self.items(table, key, path, required):
            if isinstance(item, str):
                out.append(item)
            else:
                self.add((*path, key), f"must list text in quotes, not {kind_of(item)}")
        return out

    def dates(self, table: Table, key: str, path: Key) -> frozenset[date]:
        out = set()
        for item in self.items(table, key, path):
            if isinstance(item, date) and not isinstance(item, datetime):
                out.add(item)
            else:
                self.add((*path, key), f"must list dates like 2026-12-24, not {kind_of(item)}")
        return frozenset(out)

    def one_of(self, table: Table, key: str, path: Key, allowed: Collection[str], what: str,
               required: bool = False) -> str | None:
        value = self.text(table, key, path, required)
        if value is not None and value not in allowed:
            self.add((*path, key), f'unknown {what} "{value}"{near(value, allowed) or " (one of: " + ", ".join(allowed) + ")"}')
            return None
        return value

    def some_of(self, table: Table, key: str, path: Key, allowed: Collection[str], what: str,
                listing: str = "") -> frozenset[str]:
        out = set()
        for value in self.texts(table, key, path):
            if value in allowed:
                out.add(value)
            else:
                known = f" ({listing or 'one of: ' + ', '.join(allowed)})"
                self.add((*path, key), f'unknown {what} "{value}"{near(value, allowed) or known}')
        return frozenset(out)

    def spans(self, table: Table, key: str, path: Key) -> tuple[Span, ...]:
        spans: list[Span] = []
        for item in self.items(table, key, path):
            if not isinstance(item, str):
                self.add((*path, key), f'must list spans like "09:00-17:00", not {kind_of(item)}')
                continue
            match = _SPAN.fullmatch(item.strip())
            if match is None:
                self.add((*path, key), f'"{item}" is not a span like "09:00-17:00" (HH:MM-HH:MM, 24-hour clock)')
                continue
            sh, sm, eh, em = (int(g) for g in match.groups())
            bad = [f"{h:02}:{m:02}" for h, m, end in ((sh, sm, False), (eh, em, True))
                   if m > 59 or h > 24 or (h == 24 and (m > 0 or not end))]
            if bad:
                self.add((*path, key), f'"{item}": {bad[0]} is not a time of day (00:00 to 23:59; 24:00 only as an end)')
            elif sh * 60 + sm >= eh * 60 + em:
                self.add((*path, key), f'"{item}" is empty: a span must end after it starts (past midnight, '
                         'write two spans: "22:00-24:00" and the next day "00:00-02:00")')
            else:
                spans.append(Span(sh * 60 + sm, eh * 60 + em))
        spans.sort(key=lambda s: s.start)
        for a, b in itertools.pairwise(spans):
            if b.start < a.end:
                self.add((*path, key), f"{span_text(a)} and {span_text(b)} overlap")
        return tuple(spans)

    def hours(self, value: object, path: Key, never_open: str) -> Hours:
        before = self.count()
        table = self.table(value, path, (*WEEKDAYS, "holidays", "dates"))
        weekly = tuple(self.spans(table, day, path) for day in WEEKDAYS)
        overrides: dict[date, tuple[Span, ...]] = {}
        for i, entry in self.tables_in(table, "dates", path):
            at = (*path, "dates", i)
            self.table(entry, at, ("date", "hours"), ("date", "hours"))
            day, spans = entry.get("date"), self.spans(entry, "hours", at)
            if not self._wrong(entry, "date", at, False, isinstance(day, date) and not isinstance(day, datetime),
                               "a date like 2026-12-24"):
                continue
            assert isinstance(day, date)
            if day in overrides:
                self.add((*at, "date"), f"{day} is given its own hours twice")
            overrides[day] = spans
        if self.count() == before and not any(weekly):
            self.add(path, never_open)
        return Hours(weekly=weekly, holidays=self.spans(table, "holidays", path), overrides=tuple(overrides.items()))
