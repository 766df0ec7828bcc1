"""Aho-Corasick automata split by script, shared by the gazetteer and the topic lexicons.

The patterns written in ASCII and the others have automata of their own: the others' can
only match in a text holding one of ``other_chars``, and most texts hold none. (One
automaton over all patterns takes three times the memory of the ASCII patterns' alone, and
a search is slowed down by its reads from memory more than by anything.) The DFA form
takes longer to build and more memory, and searches several times faster than the default.

Texts are searched as bytes. The ASCII patterns are looked for in the text with every
other character written "?" (``marks``): one byte per character, so the offsets of the
matches are the characters' (no such pattern holds a "?"). The others are looked for in the
text's UTF-8, and the offsets of their few matches turned into characters' here
(``char_offsets``). (The library's search of a string maps every byte of the text to its
character, eight bytes of memory each, for a hundred times fewer matches.)

Where the package was built with its compiled part, the gazetteer's aliases are searched
otherwise, by ``_speedups.TextSearch``: in the text itself, one character at a time, with
no copy of it in bytes or in lower case (see ``actors._text_search``). These automata then
serve the topic lexicons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ahocorasick_rs

try:  # The package's own automaton, where it was built with its compiled part.
    from dyadwatch._speedups import Automaton as _Compiled
except ImportError:  # pragma: no cover - checked by tests/test_speedups.py
    _Compiled = None

V = TypeVar("V")

# A search's matches as (pattern number within its automaton, start, end), with the values
# of that automaton's patterns in the same order.
Search = tuple[Iterable[tuple[int, int, int]], tuple[Any, ...]]


def marks(text: str) -> bytes:
    """``text`` with one byte per character: ASCII characters as they are, every other
    character (lone surrogates too) "?"."""
    return text.encode("ascii", "replace")


def automaton(patterns: list[bytes]) -> Any:
    """An automaton finding every occurrence of every one of ``patterns``:
    ``find_matches_as_indexes(haystack, overlapping=True)`` lists them as (pattern number,
    start, end) in the order they end. It is the package's own (``COMPILED``) where the
    package was built with its compiled part, else ahocorasick-rs's DFA."""
    if _Compiled is not None:
        return _Compiled(patterns)
    return ahocorasick_rs.BytesAhoCorasick(
        patterns, implementation=ahocorasick_rs.Implementation.DFA
    )


# Whether ``automaton`` makes the compiled automata.
COMPILED = _Compiled is not None


def char_offsets(
    matches: list[tuple[int, int, int]],
    text: str,
    data: bytes,
    lengths: Sequence[int] | None = None,
) -> list[tuple[int, int, int]]:
    """``matches`` of patterns in ``data``, the UTF-8 of ``text``, in the order they end (as
    an overlapping search gives them), with character offsets instead of byte offsets.
    ``lengths``: the patterns' lengths in characters; None if they are ASCII (as long in
    characters as in bytes).

    From one end to the next, as many characters as bytes if the characters there are
    ASCII, as in most of most texts; else the bytes are decoded to count them."""
    if not matches:
        return matches
    out = []
    append = out.append
    byte = char = 0
    for i, start, end in matches:
        if end != byte:
            step = end - byte
            if text[char : char + step].isascii():
                char += step
            else:
                char += len(data[byte:end].decode("utf-8", "surrogatepass"))
            byte = end
        append((i, char - (end - start if lengths is None else lengths[i]), char))
    return out


@dataclass(frozen=True)
class ScriptAutomata(Generic[V]):
    """Automata over ``patterns``, each pattern carrying a value (its number, its role…):
    ``latin`` searches the ``marks`` of texts for the ASCII patterns; ``other`` their UTF-8
    for the others, whose characters outside ASCII are ``other_chars`` and whose lengths in
    characters are ``other_lengths``. (An ASCII pattern holding "?" is one of the others:
    then ``other_anywhere``, they are searched in every text.)"""

    latin: Any
    latin_values: tuple[V, ...]
    other: Any
    other_values: tuple[V, ...]
    other_lengths: tuple[int, ...]
    other_chars: frozenset[str]
    other_anywhere: bool = False

    @classmethod
    def build(cls, patterns: Sequence[str], values: Sequence[V]) -> ScriptAutomata[V]:
        latin = [i for i, p in enumerate(patterns) if p.isascii() and "?" not in p]
        other = [i for i, p in enumerate(patterns) if not p.isascii() or "?" in p]
        return cls(
            latin=automaton([patterns[i].encode() for i in latin]) if latin else None,
            latin_values=tuple(values[i] for i in latin),
            other=automaton([patterns[i].encode("utf-8", "surrogatepass") for i in other])
            if other
            else None,
            other_values=tuple(values[i] for i in other),
            other_lengths=tuple(len(patterns[i]) for i in other),
            other_chars=frozenset(c for i in other for c in patterns[i] if not c.isascii()),
            other_anywhere=any(patterns[i].isascii() for i in other),
        )

    def in_text(self, rest: str) -> bool:
        """Whether the patterns outside ASCII can match in a text whose characters outside
        ASCII are ``rest``."""
        return self.other_anywhere or not self.other_chars.isdisjoint(rest)

    def in_lowered(self, rest: str) -> bool:
        """Whether they can match in the lower-cased copy of such a text: it holds the lower
        case of the text's characters, "σ" or "ς" for "Σ" (by its place in a word).
        (``rest.lower()`` holds the lower case of each character of ``rest``, but for "Σ",
        whose lower case it gives by its place in ``rest``.)"""
        chars = self.other_chars
        return (
            self.other_anywhere
            or not chars.isdisjoint(rest.lower())
            or ("Σ" in rest and not chars.isdisjoint("σς"))
        )

    def searches(self, haystack: str, others: bool = True) -> list[Search]:
        """Every (overlapping) occurrence of every pattern in ``haystack``, one search per
        automaton that can match; ``others`` false leaves the patterns outside ASCII out
        (the caller knows the haystack holds none of their characters)."""
        if haystack.isascii():
            data = haystack.encode()
            return self.text_searches(data, None, data, others)
        data = haystack.encode("utf-8", "surrogatepass") if others else None
        return self.text_searches(marks(haystack), haystack, data, others)

    def text_searches(
        self, marked: bytes, text: str | None, data: bytes | None, others: bool = True
    ) -> list[Search]:
        """``searches`` of a text given as its ``marks`` and its UTF-8 ``data`` (needed
        only if ``others``): ``text`` is the text (or one whose characters take as many
        bytes each in UTF-8), None if it is ASCII."""
        found: list[Search] = []
        if self.latin is not None:
            found.append(
                (self.latin.find_matches_as_indexes(marked, overlapping=True), self.latin_values)
            )
        searched = text is not None or self.other_anywhere
        if others and searched and self.other is not None and data is not None:
            matches = self.other.find_matches_as_indexes(data, overlapping=True)
            if text is not None:
                matches = char_offsets(matches, text, data, self.other_lengths)
            found.append((matches, self.other_values))
        return found
