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

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dyadwatch.text import sentences


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
    sentence_count: int = 0
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class AmbiguityRule:
    """An alias with another common sense: counted unless only the other sense shows."""

    alias: str
    actor: str
    against: re.Pattern[str] | None
    support: re.Pattern[str] | None


def _cue_pattern(cues: list[str]) -> re.Pattern[str] | None:
    if not cues:
        return None
    cased = [re.escape(c) for c in cues if c != c.lower()]
    lower = [re.escape(c) for c in cues if c == c.lower()]
    parts = []
    if cased:
        parts.append("(?:" + "|".join(sorted(cased, key=len, reverse=True)) + ")")
    if lower:
        parts.append("(?i:" + "|".join(sorted(lower, key=len, reverse=True)) + ")")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def _trie_regex(words: list[str]) -> str:
    """A regex alternation factored by common prefixes, which Python's engine matches fast.

    Each word is literal text; a trailing ``*`` becomes ``\\w*`` (a stem).
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict[str, Any]) -> str:
        end = node.get("", False)
        stem = "*" in node
        branches = []
        for ch in sorted(k for k in node if k not in ("", "*")):
            branches.append(re.escape(ch) + build(node[ch]))
        if stem:
            # A stem swallows the rest of the word; nothing longer is needed.
            return r"\w*"
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return build(trie)


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
        self.guards = self._load_guards(data.get("guards") or [])
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

    def _load_guards(self, guards: Any) -> re.Pattern[str] | None:
        patterns = []
        for i, guard in enumerate(guards):
            pattern = guard.get("pattern") if isinstance(guard, dict) else guard
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise GazetteerError(f"{self.source}: guards[{i}]: bad pattern ({exc})") from None
            patterns.append(f"(?:{pattern})")
        return re.compile("|".join(patterns)) if patterns else None

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
                against=_cue_pattern(rule.get("against") or []),
                support=_cue_pattern(rule.get("support") or []),
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
        self._cased = cased
        self._folded = folded
        self._cased_stems = sorted(
            (k[:-1] for k in cased if k.endswith("*")), key=len, reverse=True
        )
        self._folded_stems = sorted(
            (k[:-1] for k in folded if k.endswith("*")), key=len, reverse=True
        )
        boundary_l, boundary_r = r"(?<!\w)", r"(?!\w)"
        self._cased_re = re.compile(
            boundary_l + "(?:" + _trie_regex(list(cased)) + ")" + boundary_r
        )
        self._folded_re = (
            re.compile(boundary_l + "(?:" + _trie_regex(list(folded)) + ")" + boundary_r, re.I)
            if folded
            else None
        )

    # -- matching ------------------------------------------------------------------------
    def _lookup(self, surface: str, cased: bool) -> list[Alias]:
        table, stems = (
            (self._cased, self._cased_stems) if cased else (self._folded, self._folded_stems)
        )
        key = surface if cased else surface.lower()
        if key in table:
            return table[key]
        for stem in stems:
            if key.startswith(stem):
                return table[stem + "*"]
        return []

    def find_mentions(
        self, text: str, when: date | None = None
    ) -> tuple[list[Mention], list[dict]]:
        """All actor mentions in ``text``, with the matches that were dropped and why."""
        raw: list[tuple[int, int, Alias]] = []
        passes = [(self._cased_re, True)]
        if self._folded_re is not None:
            passes.append((self._folded_re, False))
        for pattern, cased in passes:
            for m in pattern.finditer(text):
                for alias in self._lookup(m.group(), cased):
                    raw.append((m.start(), m.end(), alias))
        # Where matches overlap, the longest wins ("Israel Defense Forces" over "Israel").
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        chosen: list[tuple[int, int, Alias]] = []
        last_end = -1
        last_span: tuple[int, int] | None = None
        for start, end, alias in raw:
            if start >= last_end:
                chosen.append((start, end, alias))
                last_end, last_span = end, (start, end)
            elif (start, end) == last_span and alias.actor != chosen[-1][2].actor:
                chosen.append((start, end, alias))  # one form, two actors: keep both

        dropped: list[dict] = []
        guard_spans = [g.span() for g in self.guards.finditer(text)] if self.guards else []
        ambiguous_ok: dict[str, bool] = {}
        mentions: list[Mention] = []
        for start, end, alias in chosen:
            surface = text[start:end]
            if any(gs < end and start < ge for gs, ge in guard_spans):
                dropped.append({"text": surface, "start": start, "reason": "guard"})
                continue
            if not alias.in_office(when):
                dropped.append({"text": surface, "start": start, "reason": "out of office"})
                continue
            rule = self.ambiguous.get(alias.text)
            if rule is not None and rule.actor == alias.actor:
                if alias.text not in ambiguous_ok:
                    other = bool(rule.against and rule.against.search(text))
                    this = bool(rule.support and rule.support.search(text))
                    ambiguous_ok[alias.text] = this or not other
                if not ambiguous_ok[alias.text]:
                    dropped.append({"text": surface, "start": start, "reason": "other sense"})
                    continue
            mentions.append(Mention(alias.actor, alias.text, alias.kind, start, end, surface))
        return mentions, dropped

    def detect(self, text: str, when: date | None = None, window: int = 1) -> Detection:
        """Mentions, actors, sentence-level pairs with evidence, and document-level pairs."""
        mentions, dropped = self.find_mentions(text, when)
        spans = sentences(text)
        by_sentence: list[list[Mention]] = [[] for _ in spans]
        starts = [s for s, _ in spans]
        import bisect

        for m in mentions:
            i = bisect.bisect_right(starts, m.start) - 1
            if i >= 0 and m.start < spans[i][1]:
                by_sentence[i].append(m)
        pairs: dict[tuple[str, str], list[PairEvidence]] = {}
        for i in range(len(spans)):
            group = [m for j in range(i, min(i + window, len(spans))) for m in by_sentence[j]]
            if window > 1 and not by_sentence[i]:
                continue
            actors = sorted({m.actor for m in group})
            if len(actors) < 2:
                continue
            start, end = spans[i][0], spans[min(i + window, len(spans)) - 1][1]
            for a, b in itertools.combinations(actors, 2):
                evidence = pairs.setdefault((a, b), [])
                if evidence and evidence[-1].start == start:
                    continue
                fired = [m for m in group if m.actor in (a, b)]
                evidence.append(PairEvidence(text[start:end], start, end, fired))
        actors = sorted({m.actor for m in mentions})
        return Detection(
            mentions=mentions,
            actors=actors,
            pairs=dict(sorted(pairs.items())),
            document_pairs=list(itertools.combinations(actors, 2)),
            sentence_count=len(spans),
            dropped=dropped,
        )


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
