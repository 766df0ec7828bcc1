"""The automata shared by the gazetteer and the topic lexicons: every occurrence of every
pattern, at character offsets, in texts of any script."""

from __future__ import annotations

import random

from dyadwatch.automata import ScriptAutomata

PATTERNS = [
    "Russia",
    "Israel",
    "Israeli",
    "ran",
    "Россия",
    "Росс",
    "ישראל",
    "é",
    "çé",
    "Kyiv 🇺🇦",
    "—",
]


def plain(text: str, patterns: list[str]) -> list[tuple[str, int, int]]:
    """Every occurrence of every pattern, found one pattern and one place at a time."""
    found = []
    for pattern in patterns:
        start = text.find(pattern)
        while start != -1:
            found.append((pattern, start, start + len(pattern)))
            start = text.find(pattern, start + 1)
    return sorted(found)


def searched(automata: ScriptAutomata[str], text: str) -> list[tuple[str, int, int]]:
    return sorted(
        (values[i], start, end)
        for found, values in automata.searches(text)
        for i, start, end in found
    )


def test_matches_are_at_character_offsets_in_any_script() -> None:
    automata = ScriptAutomata.build(PATTERNS, PATTERNS)
    pieces = [*PATTERNS, " ", "a", "ü", "€", "𝐀", "\ud800", "İ", "Σ", "ß", "\n", "Ukraine—Israel"]
    rng = random.Random(7)
    texts = ["", "Russia", "Россия — Israel", "ééé çé", "🇺🇦 Kyiv 🇺🇦 Kyiv 🇺🇦"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
    matched = 0
    for text in texts:
        expected = plain(text, PATTERNS)
        assert searched(automata, text) == expected, text
        matched += len(expected)
    assert matched > 5000
