"""Normalisation and sentence segmentation."""

from __future__ import annotations

import random
import re

import pytest

from dyadwatch.text import (
    _BOUNDARY,
    _BREAK,
    _FULL_STOP_BREAK,
    _INITIALISM,
    ABBREVIATIONS,
    SENTENCE_STARTERS,
    line_sentences,
    lower_copy,
    normalise,
    only_full_stops,
    other_marks,
    sentence_ends,
    sentences,
    sentences_between,
)


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
        spans = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in _BOUNDARY.finditer(text)] == spans, text
        # The splitter's patterns leave out the boundaries followed by a lower-case ASCII
        # letter; the one for lines without marks but full stops finds the same there.
        kept = [(s, e) for s, e in spans if not "a" <= text[e : e + 1] <= "z"]
        assert [m.span() for m in _BREAK.finditer(text)] == kept, text
        if not any(mark in text for mark in _OTHER):
            assert [m.span() for m in _FULL_STOP_BREAK.finditer(text)] == kept, text


def _plain_line_sentences(line: str, offset: int = 0) -> list[tuple[int, int]]:
    """``line_sentences`` written plainly, every test made for every boundary."""
    spans: list[tuple[int, int]] = []
    if not line.strip():
        return spans
    start = 0
    for m in _BOUNDARY.finditer(line):
        end = m.end()
        if end >= len(line):
            break
        token = line[max(line.rfind(" ", start, m.start()) + 1, start) : m.start() + 1]
        bare = token.rstrip(".").lstrip("\"'([").lower()
        space = line.find(" ", end)
        nxt = line[end : space if space != -1 else len(line)]
        if line[m.start()] == ".":
            if bare in ABBREVIATIONS or (len(bare) == 1 and bare.isalpha()):
                continue
            if bare in ("no", "nos") and nxt[:1].isdigit():
                continue
            if _INITIALISM.search(token) and nxt.strip("\"'(") not in SENTENCE_STARTERS:
                continue
        if nxt[:1].islower():
            continue
        chunk = line[start:end]
        if chunk.strip():
            s = offset + start + len(chunk) - len(chunk.lstrip())
            spans.append((s, s + len(chunk.strip())))
        start = end
    chunk = line[start:]
    if chunk.strip():
        s = offset + start + len(chunk) - len(chunk.lstrip())
        spans.append((s, s + len(chunk.strip())))
    return spans


# Words the segmentation tests build lines from: abbreviations of every length (a longer
# word skips the abbreviation tests), initials and initialisms, each mark, closers, white
# space other than spaces, and words starting with a lower-case letter outside ASCII.
_WORDS = ["Mr.", "U.S.", "No.", "no.", "10", "J.", "the", "The", "It", "e.g.", "A.B.C."]
_WORDS += ["(U.S.)", '"Yes."', "ok!", "why?", "Gen.", "x.", "…", "؟", "。", "Россия."]
_WORDS += ['"The', "(The", "St.", "nos.", "5", "U.S.A.", "  ", "\t", "\u00a0", "."]
_WORDS += ["Prof.", "Sept.", "approx.", "Messrs.", "talks.", "officials.", "état", "Éric"]
_WORDS += ["said.)", "end.\t", '"(Dr.', "..", "?!", "a.b.", "x.\u00a0Mr."]
_OTHER = "!?…؟。"


def _random_line(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 12)))


def test_line_sentences_split_like_the_plain_form() -> None:
    rng = random.Random(11)
    for _ in range(20000):
        line = _random_line(rng)
        expected = _plain_line_sentences(line, 7)
        assert line_sentences(line, 7) == expected, line
        if line.strip():
            # The same line inside a text, not copied out of it.
            before = rng.choice(["", "Mr. X.\n", "U.S.\n", "...\n"])
            text = before + line + rng.choice(["", "\n", "\nThe end. It was."])
            lo, hi = len(before), len(before) + len(line)
            moved = [(s + lo, e + lo) for s, e in expected]
            assert sentences_between(text, lo, hi, 7) == moved, text
            if not any(mark in line for mark in _OTHER):
                # The faster pattern for lines whose only marks are full stops.
                assert sentences_between(text, lo, hi, 7, full_stops=True) == moved, text


def test_sentence_ends_stop_after_the_first_end_beyond_until() -> None:
    rng = random.Random(12)
    for _ in range(5000):
        line = _random_line(rng)
        text = "x\n" + line + "\ny"
        lo, hi = 2, 2 + len(line)
        full_stops = not any(mark in line for mark in _OTHER)
        ends = sentence_ends(text, lo, hi, hi, full_stops)
        assert ends[-1] == hi
        until = rng.randint(lo, hi)
        cut = next(n for n, end in enumerate(ends) if end > until or end == hi)
        assert sentence_ends(text, lo, hi, until, full_stops) == ends[: cut + 1], (line, until)


def test_sentences_of_a_text_are_those_of_its_lines() -> None:
    """``sentences`` picks the faster pattern line by line, from where the text holds marks
    other than full stops; it must split every line as the plain form does."""
    rng = random.Random(13)
    for _ in range(3000):
        lines = [_random_line(rng) for _ in range(rng.randint(1, 6))]
        text = "\n".join(lines)
        expected: list[tuple[int, int]] = []
        pos = 0
        for line in lines:
            expected += _plain_line_sentences(line, pos)
            pos += len(line) + 1
        assert sentences(text) == expected, text
        marks = other_marks(text)
        assert marks == [n for n, ch in enumerate(text) if ch in _OTHER]
        lo = rng.randint(0, len(text))
        hi = rng.randint(lo, len(text))
        holds = any(mark in text[lo:hi] for mark in _OTHER)
        assert only_full_stops(marks, lo, hi) is not holds, (text, lo, hi)


def test_lower_copy_is_the_lower_case_text() -> None:
    rng = random.Random(13)
    alphabet = "aZ İıΣσς—éÉ Россия ÄÖẞß K\u212a\u0130\u03a3x."
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert lower_copy(text) == text.replace("İ", "I").lower(), text
        assert len(lower_copy(text)) == len(text)


def test_lone_surrogates_become_replacement_characters() -> None:
    import sqlite3

    from dyadwatch.actors import load_gazetteer

    raw = "Putin met Netanyahu \ud83d in Moscow.\udc00"
    text = normalise(raw)
    assert text == "Putin met Netanyahu \ufffd in Moscow.\ufffd"
    text.encode("utf-8")  # no lone surrogate is left
    detection = load_gazetteer().detect(text)  # the matcher refuses lone surrogates
    assert {"ISR", "RUS"} <= set(detection.actors)
    sqlite3.connect(":memory:").execute("select ?", [text])  # and so does SQLite
