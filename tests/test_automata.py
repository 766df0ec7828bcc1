"""The automata shared by the gazetteer and the topic lexicons: every occurrence of every
pattern, at character offsets, in texts of any script."""

from __future__ import annotations

import random

from dyadwatch.automata import ScriptAutomata
from dyadwatch.text import lower_copy

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
    "why?",
    "a?",
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
    pieces = [
        *PATTERNS,
        " ",
        "a",
        "?",
        "ü",
        "€",
        "𝐀",
        "\ud800",
        "İ",
        "Σ",
        "ß",
        "\n",
        "Ukraine—Israel",
    ]
    rng = random.Random(7)
    texts = ["", "Russia", "Россия — Israel", "ééé çé", "🇺🇦 Kyiv 🇺🇦 Kyiv 🇺🇦"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
    matched = 0
    for text in texts:
        expected = plain(text, PATTERNS)
        assert searched(automata, text) == expected, text
        matched += len(expected)
    assert matched > 5000


def test_patterns_outside_ascii_are_skipped_only_where_they_cannot_match() -> None:
    for patterns in (["σοφία", "россия", "i̇stanbul", "ß"], ["ςx"], ["σx"]):
        check_skipping(ScriptAutomata.build(patterns, patterns))


def check_skipping(automata: ScriptAutomata[str]) -> None:
    pieces = ["Σ", "ΣΟΦΊΑ", "ς", "σ", "Р", "р", "İ", "i", "ẞ", "ß", "a", " ", "é", "Ω"]
    rng = random.Random(3)
    seen = {True: 0, False: 0}
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        rest = "".join(ch for ch in text if not ch.isascii())
        lowered = lower_copy(text)
        possible = any(ch in automata.other_chars for ch in lowered)
        # Never skipped where a pattern can match; skipped wherever none can, but for "İ"
        # (whose lower case is "i" in the copy, "i̇" by Python's rules) and "Σ" (taken for
        # both of its lower cases).
        tried = automata.in_lowered(rest)
        assert tried == possible or (tried and ("İ" in text or "Σ" in text)), text
        assert automata.in_text(rest) == any(ch in automata.other_chars for ch in text), text
        seen[possible] += 1
    assert min(seen.values()) > 50


def test_ascii_patterns_holding_a_question_mark_are_looked_for_in_every_text() -> None:
    # (Texts are searched with "?" for every character outside ASCII: such patterns are
    # searched in the text's UTF-8 instead, whatever characters it holds.)
    patterns = ["why?", "Russia"]
    automata = ScriptAutomata.build(patterns, patterns)
    for text in ("why? Russia", "é why? Russia", "whé Russia", "Россия why?"):
        rest = "".join(ch for ch in text if not ch.isascii())
        assert automata.in_text(rest) and automata.in_lowered(rest)
        found = automata.searches(text, automata.in_text(rest))
        assert sorted((values[i], s, e) for f, values in found for i, s, e in f) == plain(
            text, patterns
        ), text
