"""Risk signals: phrases in a young person's words that mean someone may be in danger now.

Owns the phrase file's format (``triage/data/risk_signals.toml``, described at its top), its compilation
and ``RiskMatcher.scan``, which the chat calls on every visitor message.

How a message is read. ``scan`` folds the text once (lower case, å/ä/ö/é → a/a/o/e, "ae"/"oe" → a/o,
apostrophes dropped, leetspeak digits inside words → letters) and runs one regular expression over it.
That expression is every phrase of every category merged into a trie, so at each word start the engine
branches on the next letter instead of trying hundreds of phrases one by one. Each letter is ``x++``
(any repeat: "dööö", "plzzz") and between any two letters, inside or between words, up to three
non-letters may stand ("t a livet", "ta-livet", "OD:at"). All quantifiers are possessive, so there is
no backtracking to blow up on hostile input; word classes (``{mig}``) are small bounded alternations.
Only when that expression finds something (rare in normal chat) does ``scan`` do more: it asks each
category's own expression whether it matches at that spot, then drops the hit if a negation cue
stands right before it (with only "bridge" words between: "aldrig tänkt på att ...") or right after it
("han slår mig inte"), or if a harmless idiom overlaps it ("skar mig i fingret", "dö av skratt").

Misspellings: words of eight letters or more get every one-typo variant that leaves a letter out or swaps
two neighbours ("sjävmord", "självmrod"), generated at compile time into the same trie, so they cost
nothing per message. Shorter words are not forgiven automatically: for them an edit is often another
real word (skar/skär/sker, slår/sår, dö/då), which would flood staff with false alarms, so the phrase
file lists their common misspellings instead (``{inte}`` = inte/int/inge/nt, ``{mig}`` = mig/mej/mäj).
An edit-distance search per message would also cost far more than the 50 µs budget.

Measured on the example table (``tests/triage/risk_examples.py``, 243 messages, written before the
matcher): overall precision 0.96 and recall 0.97; per category precision/recall — suicide 0.94/0.98,
self_harm 1.00/1.00, violence 1.00/1.00, abuse 1.00/0.95, overdose 0.92/1.00. ``python -m bench.risk_scan``
gives about 5 µs for a 200-character message and 30 µs for 2,000 characters on the development machine.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum
from importlib import resources
from typing import Any

__all__ = ["PhraseError", "RiskCategory", "RiskMatcher", "normalise"]


class RiskCategory(StrEnum):
    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    VIOLENCE = "violence"
    ABUSE = "abuse"
    OVERDOSE = "overdose"  # acute intoxication or overdose


class PhraseError(ValueError):
    """The phrase file is invalid; ``problems`` lists each one with the phrase or key it concerns."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


NOTHING: frozenset[RiskCategory] = frozenset()
TYPO_MIN_LETTERS = 8  # words this long forgive one left-out or swapped letter
# Folded text holds only a–z, digits, @, $, " " (a separator) and "." (a clause boundary), and starts with " ".
START = "[ .]"  # a phrase starts after a separator: a literal first step the engine can skip to quickly
GAP = "[ .]{0,3}+"  # between two words of a phrase: spaces, punctuation, emoji, or nothing ("talivet")
SEP = " {1,3}+"  # between a negation cue and a phrase: spaces only, never a clause boundary
SPLIT_BUDGET = 12_000  # regex characters a leading word list may cost to be written out per first letter
END, OPEN = "$", "*"  # last step of a key: the phrase ends at a word end / may run on ("självmord*")
CLAUSE = ".,!?;:\n\r"  # and "?" also stands for any character outside Latin-1 (emoji): a boundary
LEET_FROM, LEET_TO = b"013457@$", b"oieastas"
LEET_NEXT_TO_LETTER = re.compile(rb"[013457@$](?:(?<=[a-z].)|(?=[a-z]))")  # starts with the rare characters
LEET_WORD = re.compile(rb"[a-z0-9@$]++")
SPACED = re.compile(r"[ .][a-z](?:[ .]{1,2}+[a-z](?![a-z0-9]))++")  # "t a livet", "s.j.ä.l.v.m.o.r.d"
SPACED_PROBE = re.compile(r" [a-z][ .]{1,2}+[a-z](?![a-z0-9])")  # a literal first step: found quickly
WORD_REST = re.compile(r"[a-z]*+")


@functools.cache
def _byte_table() -> bytes:
    """Latin-1 byte → folded ASCII byte: lower case, å/ä/ö/é… → a/a/o/e…, punctuation → " " or "."."""
    table = bytearray()
    special = {"æ": "a", "ø": "o", "ß": "s", "ð": "d", "þ": "t"}
    for code in range(256):
        char = chr(code).lower()
        plain = [c for c in unicodedata.normalize("NFKD", char) if "a" <= c <= "z"]
        if "0" <= char <= "9" or char in "@$":
            table.append(code)
        else:
            table += (special.get(char) or (plain[0] if plain else "." if char in CLAUSE else " ")).encode()
    return bytes(table)


def _deleet(word: re.Match[bytes]) -> bytes:
    text = word.group()
    return text.translate(bytes.maketrans(LEET_FROM, LEET_TO)) if any(97 <= b <= 122 for b in text) else text


def _join(letters: re.Match[str]) -> str:
    text = letters.group()
    return text[0] + "".join(c for c in text[1:] if "a" <= c <= "z")


def normalise(text: str) -> str:
    """The form phrases are matched against: " " + lower-case a–z words, separators " " and ".".

    Letters outside Latin-1 and emoji become "." (Swedish, English and their accents are all Latin-1).
    """
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):  # "a" + combining ring → "å"
            text = unicodedata.normalize("NFC", text)
        if "’" in text or "‘" in text or "ʼ" in text:
            text = text.replace("’", "").replace("‘", "").replace("ʼ", "")
    raw = text.encode("latin-1", "replace").translate(_byte_table(), b"'`\xb4")  # don't → dont
    if len(raw.translate(None, LEET_FROM)) != len(raw) and LEET_NEXT_TO_LETTER.search(raw):
        raw = LEET_WORD.sub(_deleet, raw)  # t4 l1vet → ta livet; "10" stays a number
    if b"ae" in raw:  # Swedish without å/ä/ö on the keyboard: skaer, sjaelv
        raw = raw.replace(b"ae", b"a")
    if b"oe" in raw:
        raw = raw.replace(b"oe", b"o")
    folded = " " + raw.decode("ascii")
    return SPACED.sub(_join, folded) if SPACED_PROBE.search(folded) else folded


def _fold_word(word: str) -> str:
    """A phrase word as ``normalise`` would leave it, repeated letters once: "vill" → "vil"."""
    return re.sub(r"([a-z])\1+", r"\1", normalise(word).strip())


def _typos(word: str) -> set[str]:
    """Every spelling of ``word`` with one letter left out or two neighbours swapped."""
    out = {word[:i] + word[i + 1 :] for i in range(len(word))}
    out |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    return {_fold_word(w) for w in out} - {word}


def _spell_out_lead(pieces: list[str]) -> list[list[str]]:
    """A phrase's pieces with a leading (a|b) written out: (har|) svimmat → [har svimmat], [svimmat]."""
    if not pieces or not pieces[0].startswith("("):
        return [pieces]
    out: list[list[str]] = []
    for alternative in pieces[0][1:-1].split("|"):
        out += [[alternative, *pieces[1:]]] if alternative.strip() else _spell_out_lead(pieces[1:])
    return out


Key = tuple[str, ...]
Trie = dict[str, "Trie"]


class _Compiler:
    """Turns phrases into keys (step tuples) and keys into one trie-shaped regex.

    Steps: a letter; " " (the gap between two words); "#" (a number); "~word" (a long word and its
    typos); "{name}" or "(a|b)" (a word list, compiled once, written out wherever it appears); and a
    last step END or OPEN. Leading (a|b) groups are spelt out so the trie's root branches on letters.
    """

    def __init__(self, words: Mapping[str, object], problems: list[str]) -> None:
        self.problems = problems
        self.classes: dict[str, str] = {}  # "{name}" or "(a|b)" → its regex
        self.optional: set[str] = set()  # classes with an empty spelling
        self.spellings: dict[str, list[Key]] = {}  # word list or long word → its keys, all letters
        for name, spellings in words.items():
            if not re.fullmatch(r"[a-z_]+", name) or not isinstance(spellings, list):
                problems.append(f"words.{name}: a name of a–z and _ with a list of spellings")
                continue
            self._add_class("{" + name + "}", [str(s) for s in spellings], f"words.{name}")

    def _add_class(self, step: str, spellings: list[str], where: str) -> None:
        keys = [(*k, END) for s in spellings if (key := self._words(s, where, open_end=False)) for k in self._spell(key)]
        if "" in (s.strip() for s in spellings):
            self.optional.add(step)
        self._register(step, keys)

    def _register(self, step: str, keys: list[Key]) -> None:
        self.spellings[step] = keys
        self.classes[step] = "(?:" + self.pattern((k, None) for k in keys) + ")" if keys else "(?!)"

    def _spell(self, key: Key) -> list[Key]:
        """``key`` with each long word written out in letters, once per spelling (with its typos)."""
        out: list[Key] = [()]
        for step in key:
            variants = [k[:-1] for k in self.spellings[step]] if step.startswith("~") else [(step,)]
            out = [done + v for done in out for v in variants]
        return out

    def root_forms(self, key: Key) -> list[Key]:
        """``key`` fit for the root of the trie, where every branch must start with one plain step that the
        regex engine can reject at a glance: a leading long word is split by its first letter (s +
        "~sjalvmord/s", j + "~sjalvmord/j" for its typos); an optional leading word list becomes
        two keys, with it (as a required list) and without it. (Word lists at the root are written as
        ``[hdn…](?:(?<=h)…|(?<=d)…)``, see ``_dispatch``.)"""
        first = key[0]
        if first.startswith("~"):
            by_letter = self._by_first_letter(first)
            for letter, rests in by_letter.items():
                if f"{first}/{letter}" not in self.classes:
                    self._register(f"{first}/{letter}", rests)
            return [(letter, f"{first}/{letter}", *key[1:]) for letter in by_letter]
        if first in self.optional:
            if first + "!" not in self.classes:
                self._register(first + "!", self.spellings[first])
            return [(first + "!", " ", *key[1:]), *self.root_forms(key[1:])]
        return [key]

    def _dispatch(self, step: str) -> str:
        """A word list as a root branch: its first step is a character class of its first letters, so the
        engine rejects it at a glance at most words; then a plain branch on the second letter, and only
        then a one-character look back for the first: [hdn…](?:a(?:(?<=ha)n|(?<=pa)ppa…)|o(?:…)…)."""
        by_second: dict[str, dict[str, list[Key]]] = {}
        for spelling in self.spellings[step]:
            second = spelling[1] if len(spelling) > 2 and len(spelling[1]) == 1 and spelling[1].isalpha() else ""
            by_second.setdefault(second, {}).setdefault(spelling[0], []).append(spelling[2 if second else 1 :])
        branches = []
        for second, by_first in sorted(by_second.items(), key=lambda item: item[0] or "~"):
            inner = [
                f"(?<={first}{second}){second}*+" + self.pattern((r, None) for r in rests)
                if second
                else f"(?<={first})" + self.pattern((r, None) for r in rests)
                for first, rests in sorted(by_first.items())
            ]
            body = inner[0] if len(inner) == 1 else "(?:" + "|".join(inner) + ")"
            branches.append(second + body)
        firsts = sorted({s[0] for s in self.spellings[step]})
        return f"[{''.join(firsts)}](?:{'|'.join(branches)})"

    def _words(self, text: str, where: str, *, open_end: bool) -> Key | None:
        """Plain words as steps: "ta-livet av" → t a " " l i v e t " " a v; None if not plain."""
        steps: list[str] = []
        # normalise keeps digits, so "#" and "*" travel through it as 9 and 8
        pieces = [p for p in re.split(r"[^a-z0-9]+", normalise(text.replace("#", " 9 ").replace("*", "8"))) if p]
        for i, piece in enumerate(pieces):
            if piece != "9" and not re.fullmatch(r"[a-z]+" + ("8?" if open_end and i == len(pieces) - 1 else ""), piece):
                self.problems.append(f"{where}: {text!r}: only letters, {{word}}, (a|b), # and a final *")
                return None
            piece = "#" if piece == "9" else piece.removesuffix("8")
            word = _fold_word(piece) if piece != "#" else "#"
            steps += [" "] if steps else []
            if word == "#" or len(word) < TYPO_MIN_LETTERS:
                steps += [word] if word == "#" else list(word)
            else:  # one step, so its typos do not fork the trie
                steps.append("~" + word)
                if "~" + word not in self.classes:
                    self._register("~" + word, [(*w, OPEN) for w in sorted({word} | _typos(word))])
        return tuple(steps)

    def phrase_keys(self, phrase: str, where: str) -> set[Key]:
        """The keys of one phrase: one per alternative of a leading (a|b), else one."""
        pieces = re.findall(r"\([^()]*\)|\S+", phrase)
        bad = [p for p in pieces if not re.fullmatch(r"\([^()]*\)|\{[a-z_]+\}|[^(){}]+", p)]
        bad += [p for p in pieces if p.startswith("{") and p not in self.classes]
        if bad or not pieces:
            self.problems.append(f"{where}: {phrase!r}: bad or unknown {bad}; ( ) and {{ }} stand as whole words")
            return set()
        keys: set[Key] = set()
        for spelt in _spell_out_lead(pieces):
            steps: list[str] = []
            for i, piece in enumerate(spelt):
                key: Key | None = (piece,)
                if piece.startswith("(") and piece not in self.classes:
                    self._add_class(piece, piece[1:-1].split("|"), f"{where}: {phrase!r}")
                elif not piece.startswith(("(", "{")):
                    key = self._words(piece, f"{where}: {phrase!r}", open_end=i == len(spelt) - 1)
                if key is None:
                    return set()
                gap = steps and steps[-1] not in self.optional  # an optional word list holds its own gap
                steps += [" ", *key] if gap else list(key)
            letters = sum(len(t.lstrip("~")) for t in steps if t[0] not in "{( ")
            if letters < 2 and len(spelt) < 2:
                self.problems.append(f"{where}: {phrase!r}: too short to match safely")
                return set()
            keys.update(self.root_forms((*steps, OPEN if phrase.endswith(OPEN) else END)))
        return keys

    def pattern(
        self, keys: Iterable[tuple[Key, str | None]], marks: list[frozenset[str]] | None = None, *, root: bool = False
    ) -> str:
        """One regex for all keys. With ``marks``, each phrase end is an empty group whose number
        (``Match.lastindex``) indexes ``marks``, which holds the tags of the keys ending there. ``root``:
        the regex is searched for, so its first step must be cheap to reject (see ``_dispatch``)."""
        trie: Trie = {}
        for key, tag in keys:
            node = trie
            for step in key:
                node = node.setdefault(step, {})
            if tag is not None:
                node[tag] = {}
        if root:
            for step in [t for t in trie if t[0] in "{("]:
                by_letter = self._by_first_letter(step)
                if (len(by_letter) - 1) * len(self._emit(trie[step], None)) <= SPLIT_BUDGET:
                    rest = trie.pop(step)  # written out once per first letter: h + "{agent}/h" + rest, ...
                    for letter, rests in by_letter.items():
                        if f"{step}/{letter}" not in self.classes:
                            self._register(f"{step}/{letter}", rests)
                        trie.setdefault(letter, {})[f"{step}/{letter}"] = rest
        return self._emit(trie, marks, root=root)

    def _by_first_letter(self, step: str) -> dict[str, list[Key]]:
        by_letter: dict[str, list[Key]] = {}
        for spelling in self.spellings[step]:
            by_letter.setdefault(spelling[0], []).append(spelling[1:])
        return by_letter

    def _emit(self, node: Trie, marks: list[frozenset[str]] | None, *, root: bool = False) -> str:
        branches = [
            (self._dispatch(t) if root and t[0] in "{(" else self._unit(t)) + self._emit(node[t], marks)
            for t in sorted(node)
            if t not in (END, OPEN)
        ]
        alternatives = [branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"] if branches else []
        for step, tail in ((END, "(?![a-z])"), (OPEN, "")):
            if step in node:
                if marks is not None:
                    marks.append(frozenset(node[step]))
                    tail += "()"
                alternatives.append(tail)
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    def _unit(self, step: str) -> str:
        if step == " ":
            return GAP
        if step == "#":
            return r"[0-9]{2,3}+(?![0-9])"
        if step.startswith(("{", "(", "~")):
            return f"(?:{self.classes[step]}{GAP})?" if step in self.optional else self.classes[step]
        return f"{step}{step}*+"  # the letter, then any repeats of it: "dööö", "plzzz"

    def words_pattern(self, words: object, where: str) -> str:
        """A plain list of words or short phrases (negation cues) as one regex."""
        if not isinstance(words, list) or not words:
            self.problems.append(f"{where}: a non-empty list of words")
            return "(?!)"
        keys = [((*key, END), None) for w in words if (key := self._words(str(w), where, open_end=False))]
        return "(?:" + self.pattern(keys) + ")"


class RiskMatcher:
    """Compiled once from the phrase file; ``scan`` is pure and fast enough for every message."""

    __slots__ = ("_any", "_blocked", "_harmless", "_marks", "_post", "_pre")

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Compile a parsed phrase file (see the bundled one for the format); raise ``PhraseError``."""
        problems: list[str] = []
        known = {c.value for c in RiskCategory} | {"words", "harmless", "negation"}
        problems += [f"{key}: not a section of the phrase file" for key in data if key not in known]
        words = data.get("words", {})
        compiler = _Compiler(words if isinstance(words, Mapping) else {}, problems)
        tagged = [(key, c.value) for c in RiskCategory for key in self._section_keys(compiler, data, c.value)]
        harmless = [(key, None) for key in self._section_keys(compiler, data, "harmless")]
        negation = data.get("negation", {})
        if not isinstance(negation, Mapping):
            problems.append("negation: a table of word lists")
            negation = {}
        cue, bridge, blocker, after, unless = (
            compiler.words_pattern(negation.get(k), f"negation.{k}")
            for k in ("before", "bridges", "blockers", "after", "after_unless")
        )
        marks: list[frozenset[str]] = []
        every = compiler.pattern(tagged, marks, root=True) if tagged else "(?!)"
        if problems:
            raise PhraseError(problems)
        self._any = re.compile(f"{START}(?:{every})")
        assert self._any.groups == len(marks), "one group per phrase end, and no other groups"
        self._marks = tuple(frozenset(RiskCategory(c) for c in mark) for mark in marks)
        self._harmless = re.compile(f"{START}(?:{compiler.pattern(harmless, root=True)})" if harmless else "(?!)")
        self._pre = re.compile(rf"(?<![a-z]){cue}(?:{SEP}{bridge}){{0,4}}+{SEP}\Z")
        self._blocked = re.compile(rf"(?<![a-z]){blocker}{SEP}\Z")
        self._post = re.compile(rf"{SEP}{after}(?!{SEP}{unless})")

    @staticmethod
    def _section_keys(compiler: _Compiler, data: Mapping[str, Any], section: str) -> set[Key]:
        table = data.get(section, {"phrases": []})
        phrases = table.get("phrases") if isinstance(table, Mapping) else None
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            compiler.problems.append(f"{section}.phrases: a list of phrases")
            return set()
        return {key for p in phrases for key in compiler.phrase_keys(p, section)}

    @classmethod
    def from_toml(cls, text: str) -> RiskMatcher:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PhraseError([f"not TOML: {exc}"]) from exc
        return cls(data)

    @classmethod
    def bundled(cls) -> RiskMatcher:
        """The clinic's phrase file shipped in the package; compile it once at start."""
        return cls.from_toml(resources.files("triage").joinpath("data/risk_signals.toml").read_text(encoding="utf-8"))

    def scan(self, text: str) -> frozenset[RiskCategory]:
        """The categories of danger this message signals; empty for almost every message."""
        folded = normalise(text)
        hit = self._any.search(folded)
        return NOTHING if hit is None else self._confirm(folded, hit)

    def _confirm(self, folded: str, hit: re.Match[str] | None) -> frozenset[RiskCategory]:
        """The categories of this hit and every later one, less those negated or inside an idiom."""
        found: set[RiskCategory] = set()
        harmless: list[tuple[int, int]] | None = None
        while hit is not None and len(found) < len(RiskCategory):
            categories = self._marks[(hit.lastindex or 1) - 1]
            start = hit.start() + 1  # after the separator
            rest = WORD_REST.match(folded, hit.end())  # an open-ended phrase: up to the end of the word
            end = rest.end() if rest else hit.end()
            if not categories <= found and not self._negated(folded, start, end):
                if harmless is None:
                    harmless = [(m.start() + 1, m.end()) for m in self._harmless.finditer(folded)]
                if not any(s < end and start < e for s, e in harmless):
                    found |= categories
            hit = self._any.search(folded, start)
        return frozenset(found)

    def _negated(self, folded: str, start: int, end: int) -> bool:
        if self._post.match(folded, end):
            return True
        lo = max(0, start - 80)
        cue = self._pre.search(folded, lo, start)
        return cue is not None and not self._blocked.search(folded, lo, cue.start())
