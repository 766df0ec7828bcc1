"""Recognise international actors in text and find the pairs that occur together.

The gazetteer (``gazetteer.yaml``, a data file reviewed like code) lists each actor's
aliases by kind: names, demonyms, capitals and institutions used as metonyms, leaders with
their terms of office, and forms in other languages. Detection is:

1. match every alias with word boundaries (hyphens and apostrophes are boundaries, so
   "Israeli-Russian" and "Russia's" match), case-sensitively for aliases written with a
   capital letter and case-insensitively for all-lower-case ones;
2. drop matches inside a guard (outlet names such as "The Washington Post", people such
   as "Michael Jordan"), leaders out of office at the document's date, and ambiguous
   aliases ("Georgia") whose document shows only the other sense;
3. split the text into sentences and record, for every pair of actors found in one
   sentence (or within a configurable window of sentences), the evidence: the sentence,
   its offsets, and the aliases that fired.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

try:  # The regular-expression parser, to find the words a guard cannot match without.
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - guards are then tried wherever they may apply
    _sre = _sre_parse = None

from dyadwatch.automata import ScriptAutomata, marks
from dyadwatch.text import (
    ABBREVIATIONS,
    SENTENCE_STARTERS,
    lower_copy,
    lower_utf8,
    only_full_stops,
    other_marks,
    sentence_ends,
    sentences,
    utf8,
)

_FAST_YAML = hasattr(yaml, "CSafeLoader")

# What the compiled sentence splitter needs to know of words (see ``text.sentence_ends``).
_SENTENCE_WORDS = (ABBREVIATIONS, SENTENCE_STARTERS)

# How far on either side of a mention a guard ("University of Washington") may reach.
GUARD_REACH = 50


class GazetteerError(ValueError):
    """The gazetteer file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Alias:
    """One way of referring to an actor."""

    text: str
    actor: str
    kind: str
    lang: str = "en"
    terms: tuple[tuple[date, date | None], ...] | None = None

    @property
    def stem(self) -> bool:
        return self.text.endswith("*")

    @property
    def base(self) -> str:
        return self.text[:-1] if self.stem else self.text

    @property
    def case_sensitive(self) -> bool:
        return self.base != self.base.lower()

    def in_office(self, when: date | None) -> bool:
        """Leaders count only while in office; an undated document gets the benefit of doubt."""
        if self.terms is None or when is None:
            return True
        return any(start <= when and (end is None or when < end) for start, end in self.terms)


class Mention(NamedTuple):
    """An alias found in a text, with its offsets into that text.

    (A named tuple, immutable like the frozen dataclass it was: detection makes one per
    mention, and a tuple is made three times as fast, in a third of the memory.)
    """

    actor: str
    alias: str
    kind: str
    start: int
    end: int
    surface: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "alias": self.alias,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "text": self.surface,
        }


# ``Mention(actor, alias, kind, start, end, surface)`` without the call of the class's
# ``__new__`` (a Python function): ``_make_tuple(Mention, (actor, ...))``.
_make_tuple = tuple.__new__


@dataclass
class PairEvidence:
    """One sentence (or window of sentences) in which two actors occur together.

    (The compiled sentence pairing makes these without calling ``__init__``: it sets the
    four fields, which is all ``__init__`` does.)"""

    text: str
    start: int
    end: int
    mentions: list[Mention]

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "aliases": sorted({m.surface for m in self.mentions}),
            "mentions": [m.as_dict() for m in self.mentions],
        }


@dataclass
class Detection:
    """Everything detection found in one text."""

    mentions: list[Mention]
    actors: list[str]
    pairs: dict[tuple[str, str], list[PairEvidence]]
    document_pairs: list[tuple[str, str]]
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class AmbiguityRule:
    """An alias with another common sense: counted unless only the other sense shows."""

    alias: str
    actor: str
    against: Cues | None
    support: Cues | None


@dataclass(frozen=True)
class Cues:
    """Words whose presence in a document shows one sense of an ambiguous alias."""

    pattern: re.Pattern[str]
    cased: tuple[str, ...]
    folded: tuple[str, ...]
    # The characters of the case-insensitive cues, and whether, in a text of ASCII
    # characters only, the pattern matches exactly where a cue occurs (those cues in the
    # lower-cased copy) between word boundaries: true unless a cue is empty or holds a
    # character the pattern takes as another case of an ASCII letter (the dotless "ı"
    # matches "I" there).
    folded_chars: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    ascii_exact: bool = field(default=False, compare=False, repr=False)

    def found(self, text: str, lowered: str) -> bool:
        # Plain substring tests first (fast); the boundary-checking pattern only on a hit.
        if not any(c in text for c in self.cased) and not any(c in lowered for c in self.folded):
            return False
        return self.pattern.search(text) is not None


def _cues(cues: list[str]) -> Cues | None:
    if not cues:
        return None
    cased = [c for c in cues if c != c.lower()]
    lower = [c for c in cues if c == c.lower()]
    parts = []
    if cased:
        parts.append("(?:" + "|".join(sorted(map(re.escape, cased), key=len, reverse=True)) + ")")
    if lower:
        parts.append("(?i:" + "|".join(sorted(map(re.escape, lower), key=len, reverse=True)) + ")")
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")
    chars = frozenset("".join(lower))
    # (An ASCII cue character is another case of an ASCII letter only as lower-casing has
    # it: only the others need a look.)
    others = frozenset(c for c in chars if not c.isascii())
    ascii_exact = all(cues) and all(_folds_alike(chr(code), others) for code in range(128))
    return Cues(pattern, tuple(cased), tuple(lower), chars, ascii_exact)


@lru_cache(maxsize=65536)
def _folds_alike(ch: str, cue_chars: frozenset[str]) -> bool:
    """Whether a case-insensitive pattern of ``cue_chars`` matches ``ch`` where, and only
    where, the lower-cased text shows the cue character: ``ch`` lower-cased is that
    character. Not so for the dotless "ı" (the pattern takes it for "i"), nor for "Σ",
    lower-cased by its place in a word."""
    if ch == "Σ":
        return False
    low = "i" if ch == "İ" else ch.lower()
    return all(
        (re.fullmatch(f"(?i:{re.escape(c)})", ch) is not None) == (low == c) for c in cue_chars
    )


def _spells(word: str, alias: Alias) -> bool:
    """Whether a word taken from a guard's pattern names ``alias`` (or begins it: the
    pattern may go on with an alternation, as in ``Americ(?:a|an)``)."""
    base = alias.base
    return (
        word in (base, base.upper())
        or (len(word) >= 4 and base.startswith(word))
        or (alias.stem and word.startswith(base))
    )


# Characters that are not word characters (see ``_is_word``), the commonest next to words.
_BREAKS = frozenset(" \n\t.,;:!?'\"()[]{}-/–—…")


def _is_word(ch: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return ch.isalnum() or ch == "_"


@lru_cache(maxsize=256)
def _parsed(pattern: str) -> Any:
    """The parsed form of a regular expression (None if it cannot be had)."""
    if _sre_parse is None:
        return None
    try:
        return _sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - a parser of another Python version; stay safe
        return None


def _required_words(
    pattern: str, *, body_only: bool = False, avoid: Callable[[str], int] | None = None
) -> list[frozenset[str]]:
    """Sets of strings a text must contain, one string of each set at least, for
    ``pattern`` to match in it: every match holds them (or, unless ``body_only``, looks at
    them in a look-around). Empty when nothing is known to be required. Where there is a
    choice (in alternations), sets of strings ``avoid`` rates low (0 is best) are made.

    "(?:The\\s+)?Moscow\\s+Times|Russia\\s+Today" requires {Moscow, Russia} and {Times, Today}.
    """
    parsed = _parsed(pattern)
    if parsed is None or parsed.state.flags & re.IGNORECASE:
        return []

    def rank(words: frozenset[str]) -> tuple[int, int, int]:
        return max(map(avoid, words)) if avoid else 0, *_rank(words)

    return _required_in(list(parsed), body_only, rank)


def _rank(words: frozenset[str]) -> tuple[int, int]:
    """Sort key putting the sets least likely to be found in a text first: long strings
    and few of them."""
    return -min(map(len, words)), len(words)


def _required_in(
    items: list[tuple[Any, Any]], body_only: bool, rank: Callable[[frozenset[str]], Any]
) -> list[frozenset[str]]:
    """``_required_words`` of a parsed sequence: every element's requirements, and each
    run of literal characters (and small sets of them: "[Mm]ule") as strings of their own."""
    out: list[frozenset[str]] = []
    run = [""]
    for op, av in items:
        if op == _sre.LITERAL:
            run = [r + chr(av) for r in run]
            continue
        if op == _sre.IN and len(run) * len(av) <= 16 and all(o == _sre.LITERAL for o, _ in av):
            run = [r + chr(c) for r in run for _, c in av]
            continue
        if (
            op == _sre.BRANCH
            and len(run) * len(av[1]) <= 16
            and all(o == _sre.LITERAL for alt in av[1] for o, _ in alt)
        ):  # "(?:Duma|DUMA)", which the parser makes "D(?:uma|UMA)"
            run = [r + "".join(chr(c) for _, c in alt) for r in run for alt in av[1]]
            continue
        if all(run):  # (an empty string is in every text: no requirement)
            out.append(frozenset(run))
        run = [""]
        if op == _sre.SUBPATTERN:
            # A case-insensitive group requires no exact string.
            if not av[1] & re.IGNORECASE:
                out += _required_in(list(av[3]), body_only, rank)
        elif op == _sre.ATOMIC_GROUP:
            out += _required_in(list(av), body_only, rank)
        elif op == _sre.ASSERT:
            # What a positive look-ahead or look-behind examines is in the text too, though
            # not necessarily inside the match.
            if not body_only:
                out += _required_in(list(av[1]), body_only, rank)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                out += _required_in(list(av[2]), body_only, rank)
        elif op == _sre.BRANCH:
            # Whichever alternative matches, one of its sets holds: so does the union of one
            # set from each alternative (pairing the alternatives' best sets, then the next).
            alternatives = [
                sorted(_required_in(list(alt), body_only, rank), key=rank) for alt in av[1]
            ]
            if all(alternatives):
                for i in range(max(map(len, alternatives))):
                    out.append(
                        frozenset().union(*(alt[min(i, len(alt) - 1)] for alt in alternatives))
                    )
        # Anything else (other character sets, anchors, negative look-arounds,
        # back-references) requires nothing in particular.
    if all(run):
        out.append(frozenset(run))
    return list(dict.fromkeys(out))


def _reach_back(pattern: str) -> int:
    """How many characters before a match the pattern's look-behinds may examine, at most
    (the sum of their widths: nested ones add up)."""
    parsed = _parsed(pattern)
    if parsed is None:
        return 0  # (and nothing is required either)

    def walk(items: Any) -> int:
        total = 0
        for op, av in items:
            if op in (_sre.ASSERT, _sre.ASSERT_NOT):
                if av[0] < 0:  # look-behinds have a fixed width
                    total += av[1].getwidth()[1]
                total += walk(av[1])
            elif op == _sre.BRANCH:
                total += sum(walk(alt) for alt in av[1])
            elif op == _sre.SUBPATTERN:
                total += walk(av[3])
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
                total += walk(av[2])
            elif op == _sre.ATOMIC_GROUP:
                total += walk(av)
        return total

    return walk(parsed)


def _telling(words: frozenset[str]) -> bool:
    """Whether a set of strings is rare enough in text to be worth looking for: no short
    lower-case fragment ("of", "ath") among them."""
    return all(len(w) >= 4 or (len(w) >= 2 and w[0].isupper()) for w in words)


# A guard as tried around the mentions of one alias: its pattern; the other words of which
# one must be near the mention (None: no such condition); sets of strings (as numbers of
# the case-sensitive automaton's patterns) of which the window around the mention must
# hold one each for the pattern to match there; the numbers of the sets of strings of
# which the document must hold one each; how far before a match its look-behinds reach.
_GuardEntry = tuple[
    re.Pattern[str],
    frozenset[str] | None,
    tuple[frozenset[int], ...],
    tuple[int, ...],
    int,
]


def _inside(spots: list[tuple[int, int]], lo: int, hi: int) -> bool:
    """Whether one of ``spots`` (sorted (start, end) pairs) lies within ``lo``..``hi``."""
    for i in range(bisect.bisect_left(spots, (lo,)), len(spots)):
        start, end = spots[i]
        if start >= hi:
            return False
        if end <= hi:
            return True
    return False


def _places(
    places: dict[frozenset[int], list[tuple[int, int]]],
    needed: frozenset[int],
    words: dict[int, list[tuple[int, int]]],
) -> list[tuple[int, int]]:
    """Where a document holds one of the ``needed`` words (by their numbers; ``words``
    holds where each occurs), sorted; kept in ``places``."""
    spots = places[needed] = sorted(spot for i in needed if i in words for spot in words[i])
    return spots


def _always_tried(pattern: str, others: frozenset[str], base: str) -> bool:
    """Whether a guard must be tried around every mention of the alias ``base``. A guard is
    skipped when none of its other words is near the mention, unless it could match without
    them: no other words, a look-around or a case-insensitive part, or a match on the bare
    alias."""
    return (
        not others
        or "(?!" in pattern
        or "(?<!" in pattern
        or "(?i" in pattern
        or re.search(pattern, f" {base} ") is not None
    )


# The aliases a pattern stands for, as (order, alias number): ``order`` sorts the aliases
# matching one span (see ``Gazetteer._automaton``).
_Entries = tuple[tuple[int, int], ...]
# A text's alias matches, (start, -end, order, alias number), sorted; where the other words
# are (by number, the case-sensitive automaton's and the others'); its characters outside
# ASCII.
_Matches = tuple[
    Sequence[tuple[int, int, int, int]],
    dict[int, list[tuple[int, int]]],
    dict[int, list[tuple[int, int]]],
    str,
]


@dataclass(frozen=True)
class _Automaton:
    """The patterns of one automaton: aliases' literal parts and other words (``words``:
    what guards and ambiguity rules look for). ``meanings`` says what each pattern is: (its
    number in ``words``, or -1 if it is no such word; the literal aliases it stands for;
    the stem aliases it begins). ``search`` searches for them, where the package was built
    without its compiled part (else the gazetteer's ``TextSearch`` does, and it is None)."""

    words: list[str]
    patterns: list[str]
    meanings: list[tuple[int, _Entries, _Entries]]
    search: ScriptAutomata[tuple[int, _Entries, _Entries]] | None


class _Spellers:
    """For a word from a guard's pattern, the alias texts it spells (as ``_spells`` decides),
    found through indexes instead of a comparison with every alias."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.exact: dict[str, set[str]] = {}
        self.prefixes: dict[str, set[str]] = {}
        self.stems: dict[str, set[str]] = {}
        for text in set(texts):
            stem = text.endswith("*")
            base = text[:-1] if stem else text
            self.exact.setdefault(base, set()).add(text)
            self.exact.setdefault(base.upper(), set()).add(text)
            # A word of four letters or more that begins the alias.
            for end in range(4, len(base) + 1):
                self.prefixes.setdefault(base[:end], set()).add(text)
            if stem:
                self.stems.setdefault(base, set()).add(text)

    def spelled_by(self, word: str) -> set[str]:
        found = set(self.exact.get(word, ()))
        if len(word) >= 4:
            found |= self.prefixes.get(word, set())
        # A stem alias whose literal part begins the word.
        for end in range(len(word) + 1):
            found |= self.stems.get(word[:end], set())
        return found


def _scan(
    found: Iterable[tuple[int, int, int]],
    meanings: tuple[tuple[int, _Entries, _Entries], ...],
    text: str,
    out: list[tuple[int, int, int, int]],
    words: dict[int, list[tuple[int, int]]],
) -> None:
    """The matches ``found`` by one search, as (pattern number, start, end), sorted out:
    the aliases' with word boundaries on both sides (stems run to the word's end) go to
    ``out`` as (start, -end, order, alias number); where the other words are (what guards
    and ambiguity rules look for) to ``words``, as (start, end) by word number.
    ``meanings`` says what each pattern is (see ``_Automaton``)."""
    append = out.append
    spots_of = words.get
    n = len(text)
    breaks = _BREAKS
    # The word-character tests are ``_is_word`` written out: this loop runs for every
    # occurrence of every alias, and a function call costs as much as the test itself.
    # Most aliases are next to a space or a mark, which the set tells at once.
    for i, start, end in found:
        word, literal, stems = meanings[i]
        if word >= 0:
            spots = spots_of(word)
            if spots is None:
                words[word] = [(start, end)]
            else:
                spots.append((start, end))
            if not (literal or stems):
                continue
        if start:
            ch = text[start - 1]
            if ch not in breaks and (ch.isalnum() or ch == "_"):
                continue
        if literal and (end == n or (ch := text[end]) in breaks or not (ch.isalnum() or ch == "_")):
            for order, alias in literal:
                append((start, -end, order, alias))
        if stems:
            stop = end
            while stop < n and ((ch := text[stop]).isalnum() or ch == "_"):
                stop += 1
            for order, alias in stems:
                append((start, -stop, order, alias))


def _select(
    raw: Iterable[tuple[int, int, int, int]],
    states: dict[int, tuple[Any, ...]],
    make_state: Callable[[int], tuple[Any, ...]],
    text: str,
    mention: type[Mention],
    judge: Callable[[int, int, str, tuple[Any, ...]], Mention | None],
    plain: list[tuple[Any, ...] | None] | None = None,
    unsure: Container[int] = (),
) -> list[Mention]:
    """The mentions of the alias matches ``raw`` (sorted, from ``_scan``). Where matches
    overlap, the first, longest one wins ("Israel Defense Forces" over "Israel"); others
    on the same span are kept only for other actors. ``states[number]`` is what a match of
    that alias needs: (actor, alias text, kind, plain, …); the first time, it is
    ``plain[number]`` if that is not None and the number is not in ``unsure``, else
    ``make_state(number)``, which stores it there. The mention of a plain one is taken as
    it is, the others are left to ``judge(start, end, surface, state)``, which gives the
    mention or None."""
    mentions: list[Mention] = []
    append = mentions.append
    get = states.get
    last_start = last_end = -1
    chosen_actors: list[str] = []
    for start, end, _, number in raw:
        end = -end
        state = get(number)
        if state is None and (
            plain is None or (state := plain[number]) is None or number in unsure
        ):
            state = make_state(number)
        actor = state[0]
        if start >= last_end:
            last_start, last_end = start, end
        elif start != last_start or end != last_end or actor in chosen_actors[-3:]:
            continue  # (one form, two actors: both are kept)
        chosen_actors.append(actor)
        surface = text[start:end]
        if state[3]:
            append(_make_tuple(mention, (actor, state[1], state[2], start, end, surface)))
        elif (made := judge(start, end, surface, state)) is not None:
            append(made)
    return mentions


# The compiled forms of these functions, where the package was built with them (a C
# compiler was there when it was installed); ``_select`` is the reference. ``TextSearch``
# searches a text for all the aliases and words at once, as ``Gazetteer._byte_matches``
# does with automata of bytes and ``_scan``. (``sentence_pairs`` is
# ``Gazetteer._sentence_pairs``, in a form of its own.)
try:
    from dyadwatch._speedups import TextSearch, select, sentence_pairs
except ImportError:  # pragma: no cover - checked by tests/test_speedups.py
    TextSearch, select, sentence_pairs = None, _select, None


def _text_search(cased: _Automaton, folded: _Automaton) -> Any:
    """A compiled ``TextSearch`` of both automata's patterns, in four parts: those written
    in ASCII, searched as they are written (``cased``) and in lower case (``folded``),
    then the others likewise."""
    parts = []
    for latin in (True, False):
        for matcher in (cased, folded):
            chosen = [i for i, p in enumerate(matcher.patterns) if p.isascii() == latin]
            parts.append(
                (
                    tuple(matcher.patterns[i] for i in chosen),
                    tuple(matcher.meanings[i] for i in chosen),
                )
            )
    return TextSearch(*parts)


class Gazetteer:
    """Actors, aliases, guards and ambiguity rules loaded from a YAML file."""

    def __init__(self, data: dict[str, Any], source: str = "gazetteer.yaml") -> None:
        self.source = source
        self.version = hashlib.sha256(
            yaml.safe_dump(data, sort_keys=True, allow_unicode=True).encode()
        ).hexdigest()[:12]
        if not isinstance(data, dict) or not isinstance(data.get("actors"), dict):
            raise GazetteerError(f"{source}: expected a mapping with an 'actors' mapping")
        self.actors: dict[str, dict[str, Any]] = {}
        self.aliases: list[Alias] = []
        for actor_id, spec in data["actors"].items():
            self._load_actor(str(actor_id), spec)
        self._guard_patterns = self._load_guards(data.get("guards") or [])
        self.ambiguous = self._load_ambiguous(data.get("ambiguous") or {})
        self.topic: dict[str, list[str]] = data.get("topic") or {}
        self._compile()

    # -- loading -------------------------------------------------------------------------
    def _load_actor(self, actor_id: str, spec: Any) -> None:
        where = f"{self.source}: actors.{actor_id}"
        if not isinstance(spec, dict) or "name" not in spec:
            raise GazetteerError(f"{where}: expected a mapping with at least 'name'")
        self.actors[actor_id] = {"id": actor_id, "name": spec["name"], "type": spec.get("type")}
        aliases = spec.get("aliases") or {}
        if not isinstance(aliases, dict):
            raise GazetteerError(f"{where}.aliases: expected a mapping of kind to a list")
        for kind, values in aliases.items():
            if kind == "lang":
                if not isinstance(values, dict):
                    raise GazetteerError(f"{where}.aliases.lang: expected language -> list")
                for lang, forms in values.items():
                    for text in self._strings(forms, f"{where}.aliases.lang.{lang}"):
                        self.aliases.append(Alias(text, actor_id, "lang", lang=str(lang)))
                continue
            for text in self._strings(values, f"{where}.aliases.{kind}"):
                self.aliases.append(Alias(text, actor_id, str(kind)))
        for i, leader in enumerate(spec.get("leaders") or []):
            lw = f"{where}.leaders[{i}]"
            if not isinstance(leader, dict) or "names" not in leader:
                raise GazetteerError(f"{lw}: expected a mapping with 'names' and 'terms'")
            terms = []
            for term in leader.get("terms") or []:
                try:
                    start, end = term
                    start_d = start if isinstance(start, date) else date.fromisoformat(str(start))
                    end_d = (
                        None
                        if end is None
                        else (end if isinstance(end, date) else date.fromisoformat(str(end)))
                    )
                except (TypeError, ValueError) as exc:
                    raise GazetteerError(
                        f"{lw}.terms: expected [from, to] ISO dates ({exc})"
                    ) from None
                terms.append((start_d, end_d))
            for text in self._strings(leader["names"], f"{lw}.names"):
                self.aliases.append(Alias(text, actor_id, "leader", terms=tuple(terms) or None))

    @staticmethod
    def _strings(values: Any, where: str) -> list[str]:
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            raise GazetteerError(f"{where}: expected a list of non-empty strings")
        for v in values:
            if "*" in v[:-1]:
                raise GazetteerError(f"{where}: {v!r}: '*' is only allowed at the end")
        return [v.strip() for v in values]

    def _load_guards(self, guards: Any) -> list[str]:
        patterns = []
        for i, guard in enumerate(guards):
            pattern = guard.get("pattern") if isinstance(guard, dict) else guard
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise GazetteerError(f"{self.source}: guards[{i}]: bad pattern ({exc})") from None
            patterns.append(pattern)
        return patterns

    def _load_ambiguous(self, rules: Any) -> dict[str, AmbiguityRule]:
        out: dict[str, AmbiguityRule] = {}
        for alias, rule in rules.items():
            if not isinstance(rule, dict) or "actor" not in rule:
                raise GazetteerError(
                    f"{self.source}: ambiguous.{alias}: expected actor/against/support"
                )
            out[alias] = AmbiguityRule(
                alias=alias,
                actor=rule["actor"],
                against=_cues(rule.get("against") or []),
                support=_cues(rule.get("support") or []),
            )
        return out

    @staticmethod
    def _merge_terms(aliases: list[Alias]) -> list[Alias]:
        """One alias per text, actor and kind: a leader listed for several offices (Putin as
        prime minister and as president) counts during any of them."""
        merged: dict[tuple[str, str, str], Alias] = {}
        for alias in aliases:
            key = (alias.text, alias.actor, alias.kind)
            known = merged.get(key)
            if known is None:
                merged[key] = alias
            elif known.terms is not None:
                terms = None if alias.terms is None else tuple(sorted({*known.terms, *alias.terms}))
                merged[key] = Alias(alias.text, alias.actor, alias.kind, alias.lang, terms)
        return list(merged.values())

    def _compile(self) -> None:
        """Build the two Aho-Corasick automata and the guard index.

        Case-sensitive aliases (and the capitalised forms of the longer ones, for headlines
        in capitals) are searched in the text as it is; all-lower-case aliases in its lower
        case (``text.lower_copy``, as long as the text). Each automaton finds every
        occurrence of every alias in one pass; word boundaries, stems and overlaps are
        settled afterwards on the few hits, which is what makes detection fast. Where the
        package has its compiled part, ``_search`` searches for both automata's patterns in
        one pass over the text itself (see ``_text_search``).
        """
        self.aliases = self._merge_terms(self.aliases)
        cased: dict[str, list[Alias]] = {}
        folded: dict[str, list[Alias]] = {}
        for alias in self.aliases:
            if alias.case_sensitive:
                cased.setdefault(alias.text, []).append(alias)
                upper = alias.base.upper() + ("*" if alias.stem else "")
                # Headlines in capitals: "RUSSIA WARNS ISRAEL". Short forms (US, UN) are
                # left as written, since their capitalised forms are ordinary words.
                if len(alias.base) >= 4 and upper != alias.text:
                    cased.setdefault(upper, []).append(alias)
            else:
                folded.setdefault(alias.text.lower(), []).append(alias)
        self._guard_index()
        # The automata also find the words that guards and ambiguity rules look for, so a
        # document is not searched again for them.
        cues = [c for rule in self.ambiguous.values() for c in (rule.against, rule.support) if c]
        # (An empty cue, which every text contains, would not do as a pattern.)
        self._indexed_cues = frozenset(c for c in cues if all((*c.cased, *c.folded)))
        cue_cased = {w for c in self._indexed_cues for w in c.cased}
        cue_folded = {w for c in self._indexed_cues for w in c.folded}
        number = {id(alias): i for i, alias in enumerate(self.aliases)}
        self._cased = self._automaton(cased, self._guard_words | cue_cased, number, 0)
        self._folded = self._automaton(folded, cue_folded, number, 1)
        self._search = None
        if TextSearch is not None:
            self._search = _text_search(self._cased, self._folded)
        self._index_guards()
        # Per alias number, what a mention needs: the alias, its actor, text and kind.
        self._alias_info = [(a, a.actor, a.text, a.kind) for a in self.aliases]
        self._numbers_of: dict[str, list[int]] = {}
        for number, alias in enumerate(self.aliases):
            self._numbers_of.setdefault(alias.text, []).append(number)

    @staticmethod
    def _automaton(
        table: dict[str, list[Alias]],
        words: set[str] | frozenset[str],
        number: dict[int, int],
        rank: int,
    ) -> _Automaton:
        """An automaton over the aliases' literal parts and ``words`` (``number`` maps
        ``id(alias)`` to the alias's number).

        Each alias a pattern stands for gets an ``order``: where several aliases match one
        span, they come in that order (the first is kept, and others only for other
        actors). It is the case-sensitive automaton's aliases first (``rank`` 0, then 1),
        those written in ASCII first, by the length of the literal part, literal before
        stem, and in the gazetteer's order: as they always came, one search per script
        reporting matches in the order they end.
        """
        bases: dict[str, tuple[list[Alias], list[Alias]]] = {}
        for key, aliases in table.items():
            stem = key.endswith("*")
            literal, stems = bases.setdefault(key[:-1] if stem else key, ([], []))
            (stems if stem else literal).extend(aliases)

        def entries(base: str, aliases: list[Alias], stem: int) -> _Entries:
            part = 0 if base.isascii() else 1
            first = (((rank * 2 + part) * 4096 + min(len(base), 4095)) * 2 + stem) * 4096
            return tuple((first + k, number[id(a)]) for k, a in enumerate(aliases))

        ordered = sorted(words)
        index = {w: i for i, w in enumerate(ordered)}
        patterns = list(bases) + [w for w in ordered if w not in bases]
        meanings = [
            (index.get(p, -1), *(entries(p, bases[p][k], k) for k in (0, 1)))
            if p in bases
            else (index[p], (), ())
            for p in patterns
        ]
        search = ScriptAutomata.build(patterns, meanings) if TextSearch is None else None
        return _Automaton(ordered, patterns, meanings, search)

    def _guard_index(self) -> None:
        """Which guards can cover which alias: a guard is tried only around mentions whose
        alias its pattern spells out (a guard naming no alias is tried around every one)."""
        self._guards_for: dict[str, list[tuple[re.Pattern[str], frozenset[str] | None]]] = {}
        self._guards_any: re.Pattern[str] | None = None
        self._guard_plan: dict[str, tuple[_GuardEntry, ...]] = {}
        self._guard_general: tuple[_GuardEntry, ...] = ()
        self._guard_words: frozenset[str] = frozenset()
        if not self._guard_patterns:
            return
        # The words a pattern spells out, escapes (\b, \s) removed first.
        words = [
            set(re.findall(r"[^\W\d_]{2,}", re.sub(r"\\.", " ", p))) for p in self._guard_patterns
        ]
        # Which aliases each word spells, looked up in indexes of the aliases' texts rather
        # than by trying every word against every alias (thousands of aliases make that
        # take seconds). ``_spells`` depends on an alias's text only.
        spellers = _Spellers(alias.text for alias in self.aliases)
        spelled = [{x: spellers.spelled_by(x) for x in w} for w in words]
        general = [
            p for p, s in zip(self._guard_patterns, spelled, strict=True) if not any(s.values())
        ]
        self._guards_any = re.compile("|".join(f"(?:{p})" for p in general)) if general else None
        found: dict[str, list[tuple[re.Pattern[str], frozenset[str] | None]]] = {}
        for p, s in zip(self._guard_patterns, spelled, strict=True):
            covered = set().union(*s.values())
            if not covered:
                continue
            compiled = re.compile(p)
            for text in covered:
                others = frozenset(x for x, by in s.items() if text not in by)
                base = text[:-1] if text.endswith("*") else text
                always = _always_tried(p, others, base)
                found.setdefault(text, []).append((compiled, None if always else others))
        for alias in self.aliases:
            if alias.text not in self._guards_for:
                self._guards_for[alias.text] = found.get(alias.text, [])
        self._guard_prefilter(spellers)

    def _guard_prefilter(self, spellers: _Spellers) -> None:
        """What lets a mention skip a guard without running it. The strings a guard's
        pattern requires are known from the pattern: a document lacking them, or a window
        around a mention lacking them, cannot hold a match, and most do. The
        case-sensitive automaton finds where those strings are."""

        names: dict[str, bool] = {}

        def entry(
            pattern: re.Pattern[str], others: frozenset[str] | None, alias: str
        ) -> _GuardEntry:
            # The alias's own name is in every window around its mentions, and so are
            # short lower-case strings ("of", "ath"): useless there. Names of aliases are
            # in every document that matters: they tell little.
            base = alias.removesuffix("*")
            own = (base, base.upper()) if base else ()

            rates: dict[str, int] = {}

            def rate(word: str) -> int:
                if word not in rates:
                    if not _telling(frozenset((word,))) or any(word in f for f in own):
                        rates[word] = 2
                    else:
                        if word not in names:
                            names[word] = bool(spellers.spelled_by(word))
                        rates[word] = int(names[word])
                return rates[word]

            def rank(words: frozenset[str]) -> tuple[int, int, int]:
                return max(map(rate, words)), *_rank(words)

            # What a match needs, look-arounds included: the window is widened by how far
            # its look-behinds reach back.
            full = _required_words(pattern.pattern, avoid=rate)
            window = sorted((w for w in full if max(map(rate, w)) < 2), key=rank)[:2]
            # The document must hold them too, and a set naming no alias tells even more.
            candidates = [
                words
                for words in (*full, others or frozenset())
                if words and max(map(rate, words)) == 0
            ]
            document = [min(candidates, key=_rank)] if candidates else []
            return (
                pattern,
                others,
                tuple(window),
                tuple(dict.fromkeys([*document, *window])),
                _reach_back(pattern.pattern),
            )

        general = () if self._guards_any is None else (entry(self._guards_any, None, ""),)
        plans = {
            text: tuple(entry(p, o, text) for p, o in guards)
            for text, guards in self._guards_for.items()
        }
        self._guard_general = general
        self._guard_plan = plans
        # The strings to find: the case-sensitive automaton looks for them too.
        self._guard_words = frozenset(
            w for plan in (general, *plans.values()) for g in plan for words in g[3] for w in words
        )

    def _index_guards(self) -> None:
        """Guards' strings as numbers of the case-sensitive automaton's patterns, so that
        a document's matches answer what they need directly. A guard's document sets are
        numbered too: per document, the numbers of the sets it holds a string of are
        gathered once, and a guard is live when its numbers are among them."""
        index = {w: i for i, w in enumerate(self._cased.words)}
        numbers: dict[frozenset[str], int] = {}

        def numbered(guard: tuple) -> _GuardEntry:
            pattern, others, window, document, back = guard
            return (
                pattern,
                others,
                tuple(frozenset(index[w] for w in words) for words in window),
                tuple(numbers.setdefault(words, len(numbers)) for words in document),
                back,
            )

        self._guard_general = tuple(map(numbered, self._guard_general))
        self._guard_plan = {t: tuple(map(numbered, plan)) for t, plan in self._guard_plan.items()}
        sets_at: dict[int, list[int]] = {}
        for words, number in numbers.items():
            for w in words:
                sets_at.setdefault(index[w], []).append(number)
        self._sets_at: list[tuple[int, ...]] = [()] * len(self._cased.words)
        for i, ids in sets_at.items():
            self._sets_at[i] = tuple(ids)

    # -- matching ------------------------------------------------------------------------
    @staticmethod
    def _hits(
        matcher: _Automaton,
        text: str,
        haystack: bytes,
        chars: str | None = None,
        others: bool = True,
        data: bytes | None = None,
    ) -> tuple[list[tuple[int, int, int, int]], dict[int, list[tuple[int, int]]]]:
        """Alias occurrences with word boundaries on both sides (stems run to the word's
        end) as (start, -end, order, alias number): sorted, the longest match at each
        place comes first. And where the other words occur, as (start, end) per number in
        ``matcher.words``. ``haystack`` is the ``automata.marks`` of the text (or of its
        lower-cased copy, as long), ``chars`` that text (None if it is ASCII) and ``data``
        its UTF-8, needed only for the patterns outside ASCII; ``others`` false: those
        cannot match (the text holds none of their characters)."""
        out: list[tuple[int, int, int, int]] = []
        words: dict[int, list[tuple[int, int]]] = {}
        assert matcher.search is not None
        for found, meanings in matcher.search.text_searches(haystack, chars, data, others):
            _scan(found, meanings, text, out, words)
        return out, words

    @staticmethod
    def _covered(
        guards: list[_GuardEntry],
        start: int,
        end: int,
        text: str,
        words: dict[int, list[tuple[int, int]]],
        places: dict[frozenset[int], list[tuple[int, int]]],
    ) -> bool:
        """Whether one of ``guards`` (an outlet's or a person's name, …) covers this mention.
        ``words`` holds where the case-sensitive automaton found the other words than
        aliases; ``places`` caches, per set of them a guard needs, where they are."""
        lo, hi = max(0, start - GUARD_REACH), min(len(text), end + GUARD_REACH)
        window = None
        for pattern, others, required, _, back in guards:
            # A match lies inside the window (and what its look-behinds examine, at most
            # ``back`` characters before it), so it cannot do without what it requires.
            for needed in required:
                spots = places.get(needed)
                if spots is None:
                    spots = _places(places, needed, words)
                if not _inside(spots, lo - back, hi):
                    break
            else:
                if window is None:
                    window = text[lo:hi]
                if others is not None and not any(map(window.__contains__, others)):
                    continue
                for g in pattern.finditer(text, lo, hi):
                    if g.start() >= end:
                        break  # (matches come in order: none later can reach the mention)
                    if start < g.end():
                        return True
        return False

    @staticmethod
    def _zones(
        guards: list[_GuardEntry],
        words: dict[int, list[tuple[int, int]]],
        places: dict[frozenset[int], list[tuple[int, int]]],
    ) -> tuple[list[int], list[int]] | None:
        """Where in a document a mention must lie for one of ``guards`` to be worth trying
        (``_covered`` says whether one covers it), as the starts and ends of sorted,
        separate intervals: a mention from ``start`` to ``end`` is worth it only if it
        meets one, ``start <= zone end`` and ``end >= zone start``. None: everywhere.

        A guard with strings required near the mention needs one of the first set's
        places, (s, e), inside its window: s no further back than ``GUARD_REACH`` and its
        look-behinds' reach before the mention's start, e no further than
        ``GUARD_REACH`` after its end. So the mention meets [e - GUARD_REACH,
        s + GUARD_REACH + reach back]."""
        intervals: list[tuple[int, int]] = []
        for _, _, required, _, back in guards:
            if not required:
                return None
            needed = required[0]
            spots = places.get(needed)
            if spots is None:
                spots = _places(places, needed, words)
            reach = GUARD_REACH + back
            intervals += [(e - GUARD_REACH, s + reach) for s, e in spots]
        intervals.sort()
        starts: list[int] = []
        ends: list[int] = []
        for lo, hi in intervals:
            if ends and lo <= ends[-1]:
                if hi > ends[-1]:
                    ends[-1] = hi
            else:
                starts.append(lo)
                ends.append(hi)
        return starts, ends

    @staticmethod
    def _occurrences(
        matcher: _Automaton, words: dict[int, list[tuple[int, int]]]
    ) -> dict[str, list[tuple[int, int]]]:
        """Where the other words occur, by the words themselves."""
        names = matcher.words
        return {names[index]: spots for index, spots in words.items()}

    @staticmethod
    def _cues_found(
        cues: Cues,
        text: str,
        cased: dict[str, list[tuple[int, int]]],
        folded: dict[str, list[tuple[int, int]]],
        others: str,
    ) -> bool:
        """``cues.found(text, lower_copy(text))``, worked out from where the automata found the
        cues (``cased`` in the text, ``folded`` in the lower-cased copy). ``others``: the
        characters of the text outside ASCII, in any order."""
        if not any(map(cased.__contains__, cues.cased)) and not any(
            map(folded.__contains__, cues.folded)
        ):
            return False
        # Where the text holds characters the pattern reads otherwise than the lower-cased
        # copy shows them, only the pattern can tell.
        if not cues.ascii_exact or not (
            text.isascii() or all(_folds_alike(ch, cues.folded_chars) for ch in frozenset(others))
        ):
            return cues.pattern.search(text) is not None
        n = len(text)
        for table, words in ((cased, cues.cased), (folded, cues.folded)):
            for word in words:
                for start, end in table.get(word, ()):
                    if (start == 0 or not _is_word(text[start - 1])) and (
                        end == n or not _is_word(text[end])
                    ):
                        return True
        return False

    def _matches(self, text: str) -> _Matches:
        """The alias matches in ``text`` as ``_hits`` gives them, sorted (the compiled
        search keeps them as C values: ``Hits``); where the other words are, those of the
        case-sensitive automaton and the others'; and the characters of the text outside
        ASCII (in any order, some maybe more than once)."""
        if self._search is None:
            return self._byte_matches(text)
        cased_words: dict[int, list[tuple[int, int]]] = {}
        folded_words: dict[int, list[tuple[int, int]]] = {}
        hits, others = self._search.scan(text, cased_words, folded_words, lower_copy)
        return hits, cased_words, folded_words, others

    def _byte_matches(self, text: str) -> _Matches:
        """``_matches`` found with automata of bytes and ``_scan``, as the package does
        where it was built without its compiled part (which searches the text itself)."""
        # Patterns outside ASCII are searched only where their characters are: in the text
        # (or, lower-cased, in its lower-cased copy).
        data, rest = utf8(text)
        cased_others = self._cased.search.in_text(rest)
        folded_others = self._folded.search.in_lowered(rest)
        if not rest:
            raw, cased_words = self._hits(self._cased, text, data, None, cased_others, data)
            lowered = data.lower()
            folded_hits, folded_words = self._hits(
                self._folded, text, lowered, None, folded_others, lowered
            )
        else:
            marked = marks(text)
            raw, cased_words = self._hits(self._cased, text, marked, text, cased_others, data)
            # The lower-cased copy: its marks are the text's lower-cased where lower-casing
            # changes only A-Z (as in most texts; "İ", for one, becomes "i").
            if rest.lower() == rest:
                low_marked, low_text = marked.lower(), text
            else:
                low_text = lower_copy(text)
                low_marked = marks(low_text)
            folded_hits, folded_words = self._hits(
                self._folded,
                text,
                low_marked,
                low_text,
                folded_others,
                lower_utf8(text)[0] if folded_others else None,
            )
        raw += folded_hits
        raw.sort()
        return raw, cased_words, folded_words, rest

    def find_mentions(
        self, text: str, when: date | None = None
    ) -> tuple[list[Mention], list[dict]]:
        """All actor mentions in ``text``, with the matches that were dropped and why."""
        raw, cased_words, folded_words, others = self._matches(text)
        if not raw:
            return [], []
        info = self._alias_info
        dropped: list[dict] = []
        # Worked out once per alias in a document (``make_state``): its actor, text and
        # kind; whether its mentions are taken as they are; the guards that could cover
        # them (usually none, since strings they need are missing from the document) and
        # where; whether it is in office, and its ambiguity rule.
        states: dict[int, tuple[Any, ...]] = {}
        live: dict[str, tuple[list[_GuardEntry], tuple[list[int], list[int]] | None]] = {}
        ambiguous_ok: dict[str, bool] = {}
        places: dict[frozenset[int], list[tuple[int, int]]] = {}
        seen: tuple[dict, dict, str] | None = None
        # The guards' document sets the document holds a string of, the guards naming no
        # alias that it may need, and so the aliases whose guards may apply.
        held: set[int] = set()
        sets_at = self._sets_at
        for i in cased_words:
            held.update(sets_at[i])
        general = [g for g in self._guard_general if held.issuperset(g[3])]
        everywhere = (general, self._zones(general, cased_words, places)) if general else ([], None)
        plain_states, unsure = self._plain_states(when, held) if not general else (None, ())

        def make_state(number: int) -> tuple[Any, ...]:
            alias, actor, alias_text, kind = info[number]
            guarded = live.get(alias_text)
            if guarded is None:
                plan = self._guard_plan.get(alias_text)
                guards = [g for g in plan if held.issuperset(g[3])] if plan else None
                if not guards:
                    guarded = everywhere  # (most aliases: the guards of every alias)
                else:
                    guards += general
                    guarded = (guards, self._zones(guards, cased_words, places))
                live[alias_text] = guarded
            rule = self.ambiguous.get(alias_text)
            if rule is not None and rule.actor != actor:
                rule = None
            in_office = alias.in_office(when)
            plain = not guarded[0] and in_office and rule is None
            state = states[number] = (actor, alias_text, kind, plain, *guarded, in_office, rule)
            return state

        def judge(start: int, end: int, surface: str, state: tuple[Any, ...]) -> Mention | None:
            """The mention of a match whose alias has something to check, or None if it
            is dropped (and recorded in ``dropped``)."""
            nonlocal seen
            actor, alias_text, kind, _, guards, zones, in_office, rule = state
            if (
                guards
                and (
                    zones is None
                    or ((i := bisect.bisect_right(zones[0], end) - 1) >= 0 and zones[1][i] >= start)
                )
                and self._covered(guards, start, end, text, cased_words, places)
            ):
                dropped.append({"text": surface, "start": start, "reason": "guard"})
                return None
            if not in_office:
                dropped.append({"text": surface, "start": start, "reason": "out of office"})
                return None
            if rule is not None:
                if alias_text not in ambiguous_ok:
                    if seen is None:
                        seen = (
                            self._occurrences(self._cased, cased_words),
                            self._occurrences(self._folded, folded_words),
                            others,
                        )
                    other = bool(rule.against and self._found(rule.against, text, seen))
                    this = bool(rule.support and self._found(rule.support, text, seen))
                    ambiguous_ok[alias_text] = this or not other
                if not ambiguous_ok[alias_text]:
                    dropped.append({"text": surface, "start": start, "reason": "other sense"})
                    return None
            return _make_tuple(Mention, (actor, alias_text, kind, start, end, surface))

        mentions = select(raw, states, make_state, text, Mention, judge, plain_states, unsure)
        return mentions, dropped

    def _plain_states(
        self, when: date | None, held: set[int]
    ) -> tuple[list[tuple[Any, ...] | None], set[int]]:
        """What ``find_mentions`` works out for an alias (``make_state``) where no guard
        naming no alias applies in a document dated ``when``, for the aliases whose
        mentions are then taken as they are unless a guard or an ambiguity rule applies:
        those in office at ``when`` and with no guard that is always tried. (None for the
        others.) And the numbers of the aliases whose mentions may need checking in the
        document: those with a guard that may apply, given the guards' document sets the
        document holds a string of (``held``), and those with an ambiguity rule."""
        plan = self._guard_plan
        known = self.__dict__.get("_plain")
        if known is None or known[0] is not plan:
            # (Worked out again if the guards are not those they were made from: they are
            # replaced as a whole, never changed in place.)
            by_set: dict[int, set[int]] = {}
            always: set[int] = set()
            for number, (_, _, alias_text, _) in enumerate(self._alias_info):
                for guard in plan.get(alias_text) or ():
                    if not guard[3]:
                        always.add(number)
                    for n in guard[3]:
                        by_set.setdefault(n, set()).add(number)
            frozen = {n: frozenset(numbers) for n, numbers in by_set.items()}
            known = self.__dict__["_plain"] = (plan, frozen, always, {}, {}, frozenset())
        _, by_set, always, tables, rules, ruled = known
        table = tables.get(when)
        if table is None:
            if len(tables) >= 16:  # (documents of a run are of a few dates)
                tables.clear()
            table = tables[when] = [
                None
                if number in always or not alias.in_office(when)
                else (actor, alias_text, kind, True, (), None, True, None)
                for number, (alias, actor, alias_text, kind) in enumerate(self._alias_info)
            ]
        # The rules as they are now (a rule may be added, or changed, at any time).
        if rules != self.ambiguous:
            rules = dict(self.ambiguous)
            ruled = frozenset(
                number
                for alias_text, rule in rules.items()
                for number in self._numbers_of.get(alias_text, ())
                if self._alias_info[number][1] == rule.actor
            )
            known = self.__dict__["_plain"] = (*known[:4], rules, ruled)
        unsure = set(ruled)
        for n in held:
            numbers = by_set.get(n)
            if numbers is not None:
                unsure |= numbers
        return table, unsure

    def _found(self, cues: Cues, text: str, found: tuple[dict, dict, str]) -> bool:
        if cues not in self._indexed_cues:  # a rule added after the automata were built
            return cues.found(text, lower_copy(text))
        return self._cues_found(cues, text, *found)

    def detect(self, text: str, when: date | None = None, window: int = 1) -> Detection:
        """Mentions, actors, sentence-level pairs with evidence, and document-level pairs.

        Sentences are only split where they can hold a pair: in the lines (paragraphs,
        headlines, captions) that mention two actors or more.
        """
        mentions, dropped = self.find_mentions(text, when)
        names = [m.actor for m in mentions]
        actors = sorted(set(names))
        pairs: dict[tuple[str, str], list[PairEvidence]] = {}
        if len(actors) >= 2:
            if window == 1 and sentence_pairs is not None:
                sentence_pairs(text, mentions, names, pairs, PairEvidence, *_SENTENCE_WORDS)
            elif window == 1:
                self._sentence_pairs(text, mentions, pairs, names)
            else:
                spans = sentences(text)
                groups = self._assign(spans, mentions)
                for i in range(len(spans)):
                    if not groups[i]:
                        continue
                    group = [m for j in range(i, min(i + window, len(spans))) for m in groups[j]]
                    if len(group) >= 2:
                        start, end = spans[i][0], spans[min(i + window, len(spans)) - 1][1]
                        in_group = [m.actor for m in group]
                        if in_group.count(in_group[0]) < len(in_group):  # two actors or more
                            self._record(pairs, text[start:end], start, end, group, in_group)
            if len(pairs) > 1:  # (found in the order of their first sentences)
                pairs = dict(sorted(pairs.items()))
        return Detection(
            mentions=mentions,
            actors=actors,
            pairs=pairs,
            document_pairs=list(itertools.combinations(actors, 2)),
            dropped=dropped,
        )

    @staticmethod
    def _record(
        pairs: dict[tuple[str, str], list[PairEvidence]],
        evidence_text: str,
        start: int,
        end: int,
        group: list[Mention],
        names: list[str],
    ) -> None:
        """Evidence for every pair of actors among ``group`` (a list of its own; ``names``
        their actors), the mentions in ``evidence_text``, which is ``text[start:end]``."""
        present = set(names)
        if len(present) == 2:
            # (With two actors, the one pair's mentions are all of them.)
            a, b = present
            key = (a, b) if a < b else (b, a)
            evidence = pairs.get(key)
            if evidence is None:
                pairs[key] = [PairEvidence(evidence_text, start, end, group)]
            elif evidence[-1].start != start:
                evidence.append(PairEvidence(evidence_text, start, end, group))
            return
        if len(present) < 2:
            return
        # The pairs are taken in any order: each has its own list of evidence.
        size = len(group)
        if size == len(present):
            # Each actor once: a pair's mentions are its two, in the order of the group.
            for x in range(size - 1):
                a = names[x]
                for y in range(x + 1, size):
                    b = names[y]
                    key = (a, b) if a < b else (b, a)
                    evidence = pairs.get(key)
                    if evidence is None:
                        pairs[key] = [PairEvidence(evidence_text, start, end, [group[x], group[y]])]
                    elif evidence[-1].start != start:
                        evidence.append(
                            PairEvidence(evidence_text, start, end, [group[x], group[y]])
                        )
            return
        for pair in itertools.combinations(sorted(present), 2):
            evidence = pairs.setdefault(pair, [])
            if evidence and evidence[-1].start == start:
                continue
            fired = [m for m in group if m.actor in pair]
            evidence.append(PairEvidence(evidence_text, start, end, fired))

    @staticmethod
    def _assign(spans: list[tuple[int, int]], mentions: list[Mention]) -> list[list[Mention]]:
        """Mentions grouped by the sentence that holds them."""
        starts = [s for s, _ in spans]
        groups: list[list[Mention]] = [[] for _ in spans]
        for m in mentions:
            i = bisect.bisect_right(starts, m.start) - 1
            if i >= 0 and m.start < spans[i][1]:
                groups[i].append(m)
        return groups

    @classmethod
    def _sentence_pairs(
        cls,
        text: str,
        mentions: list[Mention],
        pairs: dict[tuple[str, str], list[PairEvidence]],
        names: list[str] | None = None,
    ) -> None:
        """Evidence for the pairs in each sentence, found in the lines holding two actors or
        more (``names``: the mentions' actors, if known). Mentions come in the order of the
        text: each line's ends are looked for once, and its sentences (up to the one holding
        its last mention) and mentions are walked together."""
        starts = [m.start for m in mentions]
        actors = [m.actor for m in mentions] if names is None else names
        find, bisect_left, bisect_right = text.find, bisect.bisect_left, bisect.bisect_right
        marks: list[int] | None = None  # (looked for when a line is first split)
        i, count = 0, len(mentions)
        while i < count:
            first = starts[i]
            line_end = find("\n", first)
            if line_end == -1:
                line_end = len(text)
            j = bisect_right(starts, line_end, i + 1)
            # Two actors or more in the line? (Its first and last mentions' tell, mostly.)
            if j - i >= 2 and (actors[i] != actors[j - 1] or actors[i:j].count(actors[i]) < j - i):
                line_start = text.rfind("\n", 0, first) + 1
                if marks is None:
                    marks = other_marks(text)
                full_stops = not marks or only_full_stops(marks, line_start, line_end)
                lo = line_start
                k = i
                for hi in sentence_ends(text, line_start, line_end, starts[j - 1], full_stops):
                    # The mentions in text[lo:hi], a sentence with the white space after it
                    # (and, first in its line, before it).
                    h = bisect_left(starts, hi, k, j)
                    if h - k >= 2 and (
                        actors[k] != actors[h - 1] or actors[k:h].count(actors[k]) < h - k
                    ):
                        # The sentence trimmed as ``sentences`` trims it; a mention in the
                        # white space around it is in none (and white space alone holds
                        # none: start and end are then both hi).
                        chunk = text[lo:hi]
                        sentence = chunk.strip()
                        start = lo if not chunk[0].isspace() else hi - len(chunk.lstrip())
                        end = start + len(sentence)
                        a, b = k, h
                        while a < b and starts[a] < start:
                            a += 1
                        while b > a and starts[b - 1] >= end:
                            b -= 1
                        cls._record(pairs, sentence, start, end, mentions[a:b], actors[a:b])
                    k = h
                    lo = hi
            i = j


@lru_cache(maxsize=4)
def load_gazetteer(path: str | None = None) -> Gazetteer:
    """Load the gazetteer from ``path`` or the one shipped with dyadwatch (cached)."""
    if path is None:
        source = resources.files("dyadwatch") / "gazetteer.yaml"
        name = "dyadwatch/gazetteer.yaml"
    else:
        source = Path(path)
        name = str(path)
    text = source.read_text(encoding="utf-8")
    try:
        try:
            # libyaml's loader reads the file eight times faster and builds the same data;
            # a file it rejects is read again by the Python loader for the usual message.
            data = yaml.load(text, Loader=yaml.CSafeLoader) if _FAST_YAML else yaml.safe_load(text)
        except yaml.YAMLError:
            data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise GazetteerError(f"{name}{f', line {mark.line + 1}' if mark else ''}: {exc}") from None
    return Gazetteer(data, source=name)
