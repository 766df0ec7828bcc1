"""Normalisation and sentence segmentation."""

from __future__ import annotations

import random
import re

import pytest

from dyadwatch.text import _BOUNDARY, normalise, sentences


def split(text: str) -> list[str]:
    return [text[s:e] for s, e in sentences(text)]


def test_normalise_unifies_quotes_and_removes_invisible_characters() -> None:
    raw = "Russia\u2019s envoy met Is\u00adrael\u200b\u2019s minister. \ufb01ne"
    assert normalise(raw) == "Russia's envoy met Israel's minister. fine"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. envoy met Gen. Smith in Kyiv. Russia objected.",
            ["The U.S. envoy met Gen. Smith in Kyiv.", "Russia objected."],
        ),
        (
            "Mr. Putin and Dr. Cohen spoke. Then they left!",
            ["Mr. Putin and Dr. Cohen spoke.", "Then they left!"],
        ),
        (
            "Sanctions came from the U.S. The Kremlin said nothing.",
            ["Sanctions came from the U.S.", "The Kremlin said nothing."],
        ),
        (
            "Headline without a stop\nFirst sentence. Second one.",
            ["Headline without a stop", "First sentence.", "Second one."],
        ),
        ('He said "no." Israel agreed.', ['He said "no."', "Israel agreed."]),
        ("Russia, e.g. the Kremlin, said so.", ["Russia, e.g. the Kremlin, said so."]),
        ("J. R. Smith wrote it. Fine.", ["J. R. Smith wrote it.", "Fine."]),
        (
            "Россия и Израиль провели консультации. Москва довольна.",
            ["Россия и Израиль провели консультации.", "Москва довольна."],
        ),
        ("- list item one\n- list item two", ["- list item one", "- list item two"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_offsets_point_into_the_text() -> None:
    text = "  Caption line  \n\nRussia met Israel. Iran watched."
    for start, end in sentences(text):
        assert text[start:end] == text[start:end].strip()
        assert text[start:end]


def test_boundary_pattern_matches_where_the_plain_form_does() -> None:
    """``_BOUNDARY`` is written to let the engine skip to the next mark; it must find the
    same boundaries as the plain form (a look-behind first)."""
    plain = re.compile(r"(?<![.!?…؟。])[.!?…؟。]++[\"')\]]*+\s+")
    alphabet = ".!?…؟。\"')] \t\u00a0aZ1é"
    rng = random.Random(7)
    texts = ["", ". ", "a.. b", "...  x", 'No. 10. "Yes." he said) ok', "a . . b"]
    texts += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(20000)
    ]
    for text in texts:
        assert [m.span() for m in _BOUNDARY.finditer(text)] == [
            m.span() for m in plain.finditer(text)
        ], text
