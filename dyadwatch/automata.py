"""Aho-Corasick automata split by script, shared by the gazetteer and the topic lexicons.

The patterns written in ASCII and the others have automata of their own: the others' can
only match in a text holding one of ``other_chars``, and most texts hold none. (One
automaton over all patterns takes three times the memory of the ASCII patterns' alone, and
a search is slowed down by its reads from memory more than by anything.) An ASCII text is
searched as bytes, 40% faster than as a string. The DFA form takes longer to build and
more memory, and searches several times faster than the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ahocorasick_rs

V = TypeVar("V")

# A search's matches as (pattern number within its automaton, start, end), with the values
# of that automaton's patterns in the same order.
Search = tuple[Iterable[tuple[int, int, int]], tuple[Any, ...]]


@dataclass(frozen=True)
class ScriptAutomata(Generic[V]):
    """Automata over ``patterns``, each pattern carrying a value (its number, its role…):
    ``latin`` searches text, ``latin_bytes`` ASCII text as bytes, ``other`` the patterns
    outside ASCII, whose characters are ``other_chars``."""

    latin: Any
    latin_bytes: Any
    latin_values: tuple[V, ...]
    other: Any
    other_values: tuple[V, ...]
    other_chars: frozenset[str]

    @classmethod
    def build(cls, patterns: Sequence[str], values: Sequence[V]) -> ScriptAutomata[V]:
        dfa = ahocorasick_rs.Implementation.DFA
        latin = [i for i, p in enumerate(patterns) if p.isascii()]
        other = [i for i, p in enumerate(patterns) if not p.isascii()]
        return cls(
            latin=ahocorasick_rs.AhoCorasick([patterns[i] for i in latin], implementation=dfa)
            if latin
            else None,
            latin_bytes=ahocorasick_rs.BytesAhoCorasick(
                [patterns[i].encode() for i in latin], implementation=dfa
            )
            if latin
            else None,
            latin_values=tuple(values[i] for i in latin),
            other=ahocorasick_rs.AhoCorasick([patterns[i] for i in other], implementation=dfa)
            if other
            else None,
            other_values=tuple(values[i] for i in other),
            other_chars=frozenset(c for i in other for c in patterns[i] if not c.isascii()),
        )

    def in_text(self, rest: str) -> bool:
        """Whether the patterns outside ASCII can match in a text whose characters outside
        ASCII are ``rest``."""
        return not self.other_chars.isdisjoint(rest)

    def in_lowered(self, rest: str) -> bool:
        """Whether they can match in the lower-cased copy of such a text: it holds the lower
        case of the text's characters, and "ς" for "Σ" at the end of a word. (The test stops
        at the first such character, at once in most texts in those scripts.)"""
        chars = self.other_chars
        return any(not chars.isdisjoint(ch.lower()) for ch in rest) or (
            "Σ" in rest and "ς" in chars
        )

    def searches(self, haystack: str, others: bool = True) -> list[Search]:
        """Every (overlapping) occurrence of every pattern in ``haystack``, one search per
        automaton that can match; ``others`` false leaves the patterns outside ASCII out
        (the caller knows the haystack holds none of their characters)."""
        found: list[Search] = []
        if haystack.isascii():
            if self.latin_bytes is not None:
                matches = self.latin_bytes.find_matches_as_indexes(
                    haystack.encode(), overlapping=True
                )
                found.append((matches, self.latin_values))
            return found
        if self.latin is not None:
            found.append(
                (self.latin.find_matches_as_indexes(haystack, overlapping=True), self.latin_values)
            )
        if others and self.other is not None:
            found.append(
                (self.other.find_matches_as_indexes(haystack, overlapping=True), self.other_values)
            )
        return found
