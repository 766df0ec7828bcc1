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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from dyadwatch.text import line_sentences, sentences

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


@dataclass(frozen=True)
class Mention:
    """An alias found in a text, with its offsets into that text."""

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


@dataclass
class PairEvidence:
    """One sentence (or window of sentences) in which two actors occur together."""

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
    return Cues(pattern, tuple(cased), tuple(lower))


def _spells(word: str, alias: Alias) -> bool:
    """Whether a word taken from a guard's pattern names ``alias`` (or begins it: the
    pattern may go on with an alternation, as in ``Americ(?:a|an)``)."""
    base = alias.base
    return (
        word in (base, base.upper())
        or (len(word) >= 4 and base.startswith(word))
        or (alias.stem and word.startswith(base))
    )


def _is_word(ch: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return ch.isalnum() or ch == "_"


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
        in capitals) are searched in the text as it is; all-lower-case aliases in a
        lower-cased copy of the same length. Each automaton finds every occurrence of every
        alias in one pass; word boundaries, stems and overlaps are settled afterwards on
        the few hits, which is what makes detection fast.
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
        self._cased = self._automaton(cased)
        self._folded = self._automaton(folded)
        self._guard_index()

    @staticmethod
    def _automaton(
        table: dict[str, list[Alias]],
    ) -> tuple[Any, list[tuple[list[Alias], list[Alias]]]]:
        """An automaton over the aliases' literal parts; per pattern, (literal, stem) aliases."""
        bases: dict[str, tuple[list[Alias], list[Alias]]] = {}
        for key, aliases in table.items():
            stem = key.endswith("*")
            literal, stems = bases.setdefault(key[:-1] if stem else key, ([], []))
            (stems if stem else literal).extend(aliases)
        patterns = list(bases)
        if not patterns:
            return None, []
        return ahocorasick_rs.AhoCorasick(patterns), [bases[p] for p in patterns]

    def _guard_index(self) -> None:
        """Which guards can cover which alias: a guard is tried only around mentions whose
        alias its pattern spells out (a guard naming no alias is tried around every one)."""
        self._guards_for: dict[str, list[tuple[re.Pattern[str], frozenset[str] | None]]] = {}
        self._guards_any: re.Pattern[str] | None = None
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
                # A guard is skipped when none of its other words is near the mention,
                # unless it could match without them: no other words, a look-around or a
                # case-insensitive part, or a match on the bare alias.
                always = (
                    not others
                    or "(?!" in p
                    or "(?<!" in p
                    or "(?i" in p
                    or re.search(p, f" {base} ") is not None
                )
                found.setdefault(text, []).append((compiled, None if always else others))
        for alias in self.aliases:
            if alias.text not in self._guards_for:
                self._guards_for[alias.text] = found.get(alias.text, [])

    # -- matching ------------------------------------------------------------------------
    @staticmethod
    def _hits(
        automaton: Any, groups: list, text: str, haystack: str
    ) -> list[tuple[int, int, Alias]]:
        """Alias occurrences with word boundaries on both sides; stems run to the word's end."""
        if automaton is None:
            return []
        out: list[tuple[int, int, Alias]] = []
        n = len(text)
        for index, start, end in automaton.find_matches_as_indexes(haystack, overlapping=True):
            if start and _is_word(text[start - 1]):
                continue
            literal, stems = groups[index]
            if literal and (end == n or not _is_word(text[end])):
                out.extend((start, end, alias) for alias in literal)
            if stems:
                stop = end
                while stop < n and _is_word(text[stop]):
                    stop += 1
                out.extend((start, stop, alias) for alias in stems)
        return out

    def _guarded(self, alias: Alias, start: int, end: int, text: str) -> bool:
        """Whether a guard (an outlet's or a person's name, …) covers this mention."""
        lo, hi = max(0, start - GUARD_REACH), min(len(text), end + GUARD_REACH)
        window = text[lo:hi]
        guards = self._guards_for.get(alias.text, [])
        if self._guards_any is not None:
            guards = [*guards, (self._guards_any, None)]
        for pattern, others in guards:
            if others is not None and not any(w in window for w in others):
                continue
            for g in pattern.finditer(text, lo, hi):
                if g.start() < end and start < g.end():
                    return True
        return False

    def find_mentions(
        self, text: str, when: date | None = None
    ) -> tuple[list[Mention], list[dict]]:
        """All actor mentions in ``text``, with the matches that were dropped and why."""
        raw = self._hits(*self._cased, text, text)
        # "İ" is the one character whose lower case is two characters long; as "I" it
        # keeps the lower-cased copy aligned with the text, offset for offset.
        lowered = text.replace("İ", "I").lower()
        if self._folded[0] is not None:
            raw += self._hits(*self._folded, text, lowered)
        # Where matches overlap, the longest wins ("Israel Defense Forces" over "Israel").
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        chosen: list[tuple[int, int, Alias]] = []
        last_end = -1
        last_span: tuple[int, int] | None = None
        for start, end, alias in raw:
            if start >= last_end:
                chosen.append((start, end, alias))
                last_end, last_span = end, (start, end)
            elif (start, end) == last_span and alias.actor not in {c[2].actor for c in chosen[-3:]}:
                chosen.append((start, end, alias))  # one form, two actors: keep both

        dropped: list[dict] = []
        ambiguous_ok: dict[str, bool] = {}
        mentions: list[Mention] = []
        for start, end, alias in chosen:
            surface = text[start:end]
            if self._guarded(alias, start, end, text):
                dropped.append({"text": surface, "start": start, "reason": "guard"})
                continue
            if not alias.in_office(when):
                dropped.append({"text": surface, "start": start, "reason": "out of office"})
                continue
            rule = self.ambiguous.get(alias.text)
            if rule is not None and rule.actor == alias.actor:
                if alias.text not in ambiguous_ok:
                    other = bool(rule.against and rule.against.found(text, lowered))
                    this = bool(rule.support and rule.support.found(text, lowered))
                    ambiguous_ok[alias.text] = this or not other
                if not ambiguous_ok[alias.text]:
                    dropped.append({"text": surface, "start": start, "reason": "other sense"})
                    continue
            mentions.append(Mention(alias.actor, alias.text, alias.kind, start, end, surface))
        return mentions, dropped

    def detect(self, text: str, when: date | None = None, window: int = 1) -> Detection:
        """Mentions, actors, sentence-level pairs with evidence, and document-level pairs.

        Sentences are only split where they can hold a pair: in the lines (paragraphs,
        headlines, captions) that mention two actors or more.
        """
        mentions, dropped = self.find_mentions(text, when)
        actors = sorted({m.actor for m in mentions})
        pairs: dict[tuple[str, str], list[PairEvidence]] = {}
        if len(actors) >= 2:
            if window == 1:
                spans, groups = self._sentence_groups(text, mentions)
            else:
                spans = sentences(text)
                groups = self._assign(spans, mentions)
            for i in range(len(spans)):
                group = [m for j in range(i, min(i + window, len(spans))) for m in groups[j]]
                if window > 1 and not groups[i]:
                    continue
                present = sorted({m.actor for m in group})
                if len(present) < 2:
                    continue
                start, end = spans[i][0], spans[min(i + window, len(spans)) - 1][1]
                for a, b in itertools.combinations(present, 2):
                    evidence = pairs.setdefault((a, b), [])
                    if evidence and evidence[-1].start == start:
                        continue
                    fired = [m for m in group if m.actor in (a, b)]
                    evidence.append(PairEvidence(text[start:end], start, end, fired))
        return Detection(
            mentions=mentions,
            actors=actors,
            pairs=dict(sorted(pairs.items())),
            document_pairs=list(itertools.combinations(actors, 2)),
            dropped=dropped,
        )

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
    def _sentence_groups(
        cls, text: str, mentions: list[Mention]
    ) -> tuple[list[tuple[int, int]], list[list[Mention]]]:
        """Sentences of the lines holding two actors or more, with their mentions."""
        by_line: dict[int, list[Mention]] = {}
        for m in mentions:
            by_line.setdefault(text.rfind("\n", 0, m.start) + 1, []).append(m)
        spans: list[tuple[int, int]] = []
        groups: list[list[Mention]] = []
        for line_start, found in by_line.items():
            if len({m.actor for m in found}) < 2:
                continue
            line_end = text.find("\n", line_start)
            line_spans = line_sentences(
                text[line_start : line_end if line_end != -1 else len(text)], line_start
            )
            spans.extend(line_spans)
            groups.extend(cls._assign(line_spans, found))
        return spans, groups


@lru_cache(maxsize=4)
def load_gazetteer(path: str | None = None) -> Gazetteer:
    """Load the gazetteer from ``path`` or the one shipped with dyadwatch (cached)."""
    if path is None:
        source = resources.files("dyadwatch") / "gazetteer.yaml"
        name = "dyadwatch/gazetteer.yaml"
    else:
        source = Path(path)
        name = str(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise GazetteerError(f"{name}{f', line {mark.line + 1}' if mark else ''}: {exc}") from None
    return Gazetteer(data, source=name)
