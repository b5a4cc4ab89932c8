"""Risk signals: phrases in a young person's words that mean someone may be in danger now.

Owns the phrase file's format (``triage/data/risk_signals.toml``, described at its top), its compilation
and ``RiskMatcher.scan``, which the chat calls on every visitor message.

How a message is read. ``normalise`` folds it once, in C-speed string operations: Latin-1 bytes through
one translation table (lower case, å/ä/ö/é → a/a/o/e, punctuation → " " or "." for a clause end,
emoji → "."), apostrophes dropped, "ae"/"oe" → a/o, leetspeak inside words (t4 l1vet) and letters
typed one by one (t a livet) rejoined. Then one regular expression, every phrase of every category
merged into a trie, is searched once. Its first step is a separator and every root branch starts with
a letter (or a class of letters), which the engine rejects at a glance, so a word that starts no
phrase costs a few steps. Letters are ``xx*+`` (any repeat: "dööö", "plzzz"), words may be joined
by up to three separators or none. Quantifiers are possessive and the rest is bounded alternation, so
there is no backtracking to blow up on hostile input. Each phrase end is an empty group, so
``Match.lastindex`` says which categories matched. Only on a hit (rare in normal chat) does more run:
a negation cue right before the phrase (with only "bridge" words between: "aldrig tänkt på att ...",
unless the cue follows a blocker: "orkar inte vill dö") or right after it ("han slår mig inte")
cancels it, and so does an idiom that overlaps it ("skar mig i fingret", "dö av skratt"); idioms are
phrases in the same trie, found in the same pass.

Misspellings: words of eight letters or more also match with one letter left out or two neighbours
swapped ("sjävmord", "självmrod"), spelt out at compile time into the trie, so they cost nothing per
message. Shorter words are not forgiven automatically: an edit of a short word is often another real
word (skar/skär/sker, slår/sår, dö/då) and would flood staff with false alarms, so the phrase file
lists their common misspellings instead (``{inte}`` = inte/int/inge/nt, ``{mig}`` = mig/mej/mäj).
An edit-distance search per message would also cost far more than the 50 µs budget.

Measured. The example table (``tests/triage/risk_examples.py``, 243 messages written before the
matcher): precision 0.99, recall 0.99 overall; suicide 0.98/1.00, self_harm 1.00/1.00, violence
1.00/1.00, abuse 1.00/0.95, overdose 0.96/1.00. Fresh messages written after the phrases, and not
used to tune them, score lower, which is the better guide: precision 0.86, recall 0.69 on 64 of them
(0.93/0.75 after adding a few general phrases they showed were missing). ``python -m bench.risk_scan``:
about 6 µs for a short message, 27 µs for 200 characters (38 µs with two signals in it) and 250 µs for
2,000 characters, in CPU time, on the development machine; ``bundled()`` compiles in about 1.5 s.

Known weaknesses: a phrase list cannot read intent (a film about självmord, "hur mycket är en
överdos?", hyperbole like "i want to die this is so embarrassing" all raise a signal) nor context
beyond a few words (the one who acts: "min styvpappa ... tar på mig"); word lists must end at a word
end, so "ta livet avmig" is missed; characters outside Latin-1 (after NFKC) are read as clause ends.
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
HARMLESS = "harmless"  # the section of idioms, and their tag in the regex
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
        if not unicodedata.is_normalized("NFKC", text):  # "a" + combining ring → "å", ｖｉｌｌ → vill, … → ...
            text = unicodedata.normalize("NFKC", text)
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


def _holds_idiom(node: Trie) -> bool:
    return any(HARMLESS in below if step in (END, OPEN) else _holds_idiom(below) for step, below in node.items())


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
        """``key`` for the root of the trie: an optional leading word list becomes two keys, one with it (as a
        required list, "{name}!") and one without, so every root branch has a first step to reject."""
        first = key[0]
        if first not in self.optional:
            return [key]
        if first + "!" not in self.classes:
            self._register(first + "!", self.spellings[first])
        return [(first + "!", " ", *key[1:]), *self.root_forms(key[1:])]

    def _dispatch(self, step: str) -> str:
        """A word list as one root branch: a class of its first letters (rejected at a glance at most
        words), a plain branch on the second letter, and only then a look back for the first:
        [hdnp…](?:a(?:(?<=ha)a*+n…|(?<=pa)a*+p…)|o(?:…)…). Costs more per word than a split, but
        the rest of the phrase is written once."""
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
        bad = [p for p in pieces if not re.fullmatch(r"\([^(){}]*\)|\{[a-z_]+\}|[^(){}]+", p)]
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
            keys.update(self.root_forms((*steps, OPEN if spelt[-1].endswith(OPEN) else END)))
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
            # The engine rejects a root branch at a glance only if it starts with a letter (or a class of
            # letters): a leading word list or long word is split by first letter, h + "{agent}/h" + rest,
            # unless writing out the rest once per letter costs too much (then see _dispatch).
            for step in [t for t in trie if t[0] in "{(~"]:
                by_letter = self._by_first_letter(step)
                if (len(by_letter) - 1) * len(self._emit(trie[step], None)) <= SPLIT_BUDGET:
                    rest = trie.pop(step)
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
        # idioms first: where an idiom and a signal start at the same word, the idiom is the match found
        order = sorted((t for t in node if t not in (END, OPEN)), key=lambda t: (not _holds_idiom(node[t]), t))
        branches = [(self._dispatch(t) if root and t[0] in "{(~" else self._unit(t)) + self._emit(node[t], marks) for t in order]
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

    __slots__ = ("_any", "_blocked", "_marks", "_post", "_pre")

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Compile a parsed phrase file (see the bundled one for the format); raise ``PhraseError``."""
        problems: list[str] = []
        known = {c.value for c in RiskCategory} | {"words", HARMLESS, "negation"}
        problems += [f"{key}: not a section of the phrase file" for key in data if key not in known]
        words = data.get("words", {})
        compiler = _Compiler(words if isinstance(words, Mapping) else {}, problems)
        tagged = [(key, c.value) for c in RiskCategory for key in self._section_keys(compiler, data, c.value)]
        tagged += [(key, HARMLESS) for key in self._section_keys(compiler, data, HARMLESS)]
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
        # per phrase end: its categories, or None for an idiom (an idiom and a phrase with the same words: idiom)
        self._marks = tuple(None if HARMLESS in m else frozenset(RiskCategory(c) for c in m) for m in marks)
        self._pre = re.compile(rf"[ .]{cue}(?:{SEP}{bridge}){{0,4}}+{SEP}\Z")
        self._blocked = re.compile(rf"[ .]{blocker}{SEP}\Z")
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
        """The clinic's phrase file shipped in the package, compiled on the first call (about a second)
        and shared after that: a matcher never changes, so every caller may hold the same one."""
        return _bundled()

    def scan(self, text: str) -> frozenset[RiskCategory]:
        """The categories of danger this message signals; empty for almost every message."""
        folded = normalise(text)
        hit = self._any.search(folded)
        return NOTHING if hit is None else self._confirm(folded, hit)

    def _confirm(self, folded: str, hit: re.Match[str] | None) -> frozenset[RiskCategory]:
        """The categories of this hit and every later one, less those negated or inside an idiom.

        Idioms are phrases in the same regex, so they are found in the same pass; a signal is decided
        only at the end, as an idiom that cancels it may start after it ("vill dö av skratt")."""
        signals: list[tuple[int, int, frozenset[RiskCategory]]] = []
        idioms: list[tuple[int, int]] = []
        while hit is not None:
            categories = self._marks[(hit.lastindex or 1) - 1]
            start = hit.start() + 1  # after the separator
            rest = WORD_REST.match(folded, hit.end())  # an open-ended phrase: up to the end of the word
            end = rest.end() if rest else hit.end()
            if categories is None:
                idioms.append((start, end))
            elif not self._negated(folded, start, end):
                signals.append((start, end, categories))
            hit = self._any.search(folded, start)
        found: set[RiskCategory] = set()
        for start, end, categories in signals:
            if not any(s < end and start < e for s, e in idioms):
                found |= categories
        return frozenset(found)

    def _negated(self, folded: str, start: int, end: int) -> bool:
        if self._post.match(folded, end):
            return True
        lo = max(0, start - 80)
        cue = self._pre.search(folded, lo, start)
        return cue is not None and not self._blocked.search(folded, lo, cue.start() + 1)


@functools.cache
def _bundled() -> RiskMatcher:
    return RiskMatcher.from_toml(resources.files("triage").joinpath("data/risk_signals.toml").read_text(encoding="utf-8"))
