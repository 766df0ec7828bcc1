"""The compiled part of alias matching (dyadwatch/_speedups.c) against its Python reference:
the automaton against ahocorasick-rs, the search of texts against the automata of bytes,
and each function against the one it stands for in dyadwatch/actors.py, on random input and
on whole detections with the shipped gazetteer."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ahocorasick_rs
import pytest

import dyadwatch.actors as actors
import dyadwatch.automata as automata
import dyadwatch.text as text_module
from dyadwatch.actors import Gazetteer, Mention, load_gazetteer

try:
    from dyadwatch import _speedups as speedups
except ImportError:  # pragma: no cover - the first test fails then
    speedups = None

needs_speedups = pytest.mark.skipif(speedups is None, reason="the compiled part is missing")


def test_the_compiled_part_is_built_and_used() -> None:
    """Installing the package builds it (a C compiler is all it needs), and detection
    uses it: without it, detection is several times slower."""
    assert speedups is not None, "dyadwatch._speedups was not built at install time"
    assert automata.COMPILED
    assert actors.TextSearch is speedups.TextSearch
    assert actors.select is speedups.select
    assert actors.sentence_pairs is speedups.sentence_pairs
    gazetteer = load_gazetteer()
    assert isinstance(gazetteer._search, speedups.TextSearch)
    assert gazetteer._cased.search is None  # (no automata of bytes beside it)


@needs_speedups
def test_automaton_finds_what_ahocorasick_finds() -> None:
    rng = random.Random(7)
    dfa = ahocorasick_rs.Implementation.DFA
    for _ in range(400):
        alphabet = rng.choice([b"ab", b"abc", b"ab?x-", bytes(range(256))])
        patterns = [
            bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            for _ in range(rng.randint(1, 30))
        ]
        haystack = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        theirs = ahocorasick_rs.BytesAhoCorasick(patterns, implementation=dfa)
        ours = speedups.Automaton(patterns)
        found = ours.find_matches_as_indexes(haystack, overlapping=True)
        assert sorted(found) == sorted(
            theirs.find_matches_as_indexes(haystack, overlapping=True)
        ), (patterns, haystack)
        ends = [end for _, _, end in found]
        assert ends == sorted(ends)  # (in the order they end, as ``char_offsets`` needs)
        for i, start, end in found:
            assert haystack[start:end] == patterns[i]


EMPTY: tuple[tuple, tuple] = ((), ())


def _part(*patterns: str) -> tuple[tuple[str, ...], tuple]:
    """A part of a ``TextSearch`` whose patterns are words numbered in order."""
    return patterns, tuple((i, (), ()) for i in range(len(patterns)))


@needs_speedups
def test_automata_reject_what_they_cannot_search() -> None:
    with pytest.raises(ValueError, match="pattern 1 is empty"):
        speedups.Automaton([b"a", b""])
    with pytest.raises(TypeError, match="pattern 0 is not bytes"):
        speedups.Automaton(["a"])
    with pytest.raises(ValueError, match="overlapping"):
        speedups.Automaton([b"a"]).find_matches_as_indexes(b"a")
    with pytest.raises(TypeError, match="part 0 must be a tuple"):
        speedups.TextSearch(["a"], EMPTY, EMPTY, EMPTY)
    with pytest.raises(TypeError, match="part 0: pattern 0 is not a str"):
        speedups.TextSearch(((b"a",), ((0, (), ()),)), EMPTY, EMPTY, EMPTY)
    with pytest.raises(ValueError, match="part 1: pattern 1 is empty"):
        speedups.TextSearch(EMPTY, _part("a", ""), EMPTY, EMPTY)
    with pytest.raises(ValueError, match="part 2: 1 meanings for 2 patterns"):
        speedups.TextSearch(EMPTY, EMPTY, (("a", "b"), ((0, (), ()),)), EMPTY)
    with pytest.raises(TypeError, match="part 3: meaning 0 must be a tuple"):
        speedups.TextSearch(EMPTY, EMPTY, EMPTY, (("é",), (("0", (), ()),)))
    with pytest.raises(TypeError, match="part 0: meaning 0 must be a tuple"):
        speedups.TextSearch((("a",), ((2**70, (), ()),)), EMPTY, EMPTY, EMPTY)
    with pytest.raises(TypeError, match="entries being pairs of ints"):
        speedups.TextSearch((("a",), ((-1, ((1, 2, 3),), ()),)), EMPTY, EMPTY, EMPTY)
    search = speedups.TextSearch(EMPTY, EMPTY, EMPTY, _part("σ"))
    with pytest.raises(TypeError, match="4 arguments"):
        search.scan("σ")
    with pytest.raises(TypeError, match="a str, two dicts"):
        search.scan(b"a", {}, {}, text_module.lower_copy)
    # ``lower`` is asked for the lower-cased text only where a sigma needs it.
    hits, others = search.scan("a b", {}, {}, lambda text: 1 / 0)
    assert (list(hits), others) == ([], "")
    with pytest.raises(ValueError, match="as long as the text"):
        search.scan("Σ x", {}, {}, lambda text: "σ")
    with pytest.raises(ZeroDivisionError):
        search.scan("Σ x", {}, {}, lambda text: 1 / 0)
    found: dict = {}
    search.scan("ΟΔΟΣ Σ", {}, found, text_module.lower_copy)
    assert found == {0: [(5, 6)]}  # (not the final sigma of "οδος")
    with pytest.raises(TypeError, match="cannot create"):
        type(hits)()


def _gazetteer_texts() -> list[str]:
    here = Path(__file__).parent
    lines = (here / "devset" / "devset.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    cases = (here / "cases" / "actors.txt").read_text(encoding="utf-8").splitlines()
    texts += [line.split("|", 2)[2].strip() for line in cases if line.strip() and line[0] != "#"]
    return texts


def _variants(texts: list[str], rng: random.Random) -> list[str]:
    """The texts as they are, in other cases, and shuffled into new ones with other
    characters around the aliases (letters of other scripts, digits, marks, surrogates,
    characters lower-cased into ASCII)."""
    out = [*texts, *(t.upper() for t in texts), *(t.lower() for t in texts)]
    words = " ".join(texts).split()
    glue = [" ", "", "-", "'", "_", "é", "Ж", "İ", "Σ", "9", "\n", ". ", "\ud800", "😀", "—"]
    glue += ["\u212a", "ς", "ſ", "ẞ"]
    for _ in range(300):
        picked = rng.sample(words, k=min(len(words), rng.randint(2, 40)))
        out.append("".join(w + rng.choice(glue) for w in picked))
    return out


def _sorted_words(words: dict[int, list[tuple[int, int]]]) -> dict[int, list[tuple[int, int]]]:
    return {number: sorted(spots) for number, spots in words.items()}


@needs_speedups
def test_text_search_finds_what_the_automata_of_bytes_find(pure_gazetteer: Gazetteer) -> None:
    """The matches and the words' places, by both: the same but for their order (which
    nothing depends on: the matches are sorted, and so are the places where used)."""
    compiled = load_gazetteer()
    rng = random.Random(11)
    matches = words = 0
    for text in _variants(_gazetteer_texts(), rng):
        raw, cased, folded, others = compiled._matches(text)
        theirs = pure_gazetteer._matches(text)
        assert list(raw) == theirs[0], text
        assert _sorted_words(cased) == _sorted_words(theirs[1]), text
        assert _sorted_words(folded) == _sorted_words(theirs[2]), text
        assert others == "".join(sorted(set(theirs[3]))), text
        matches += len(raw)
        words += len(cased) + len(folded)
    assert matches > 2000 and words > 2000


@needs_speedups
def test_folded_parts_lower_every_character_as_lower_copy_does() -> None:
    """Every character there is, each a word of its own, against patterns of one
    character: all that lower-casing makes of another character, and others from every
    plane. The folded parts find them where ``lower_copy`` shows them, the cased parts
    where the text does."""
    text = " ".join(map(chr, range(0x110000)))
    lowered = text_module.lower_copy(text)
    assert len(lowered) == len(text)
    rng = random.Random(13)
    made = {lowered[i] for i in range(0, len(text), 2) if lowered[i] != text[i]}
    others = {chr(rng.randrange(0x110000)) for _ in range(3000)} | set("AZaz09σςΣİiıKk\u212a")
    targets = sorted((made | others) - {" "})

    def part(latin: bool) -> tuple[tuple[str, ...], tuple]:
        chosen = [i for i, c in enumerate(targets) if c.isascii() == latin]
        return tuple(targets[i] for i in chosen), tuple((i, (), ()) for i in chosen)

    search = speedups.TextSearch(part(True), part(True), part(False), part(False))
    cased: dict = {}
    folded: dict = {}
    hits, _ = search.scan(text, cased, folded, text_module.lower_copy)
    assert len(hits) == 0
    for words, shown in ((cased, text), (folded, lowered)):
        expected: dict[int, list[tuple[int, int]]] = {}
        number = {c: i for i, c in enumerate(targets)}
        for i in range(0, len(text), 2):
            if shown[i] in number:
                expected.setdefault(number[shown[i]], []).append((i, i + 1))
        assert _sorted_words(words) == expected
    assert len(made) > 1000 and sum(map(len, folded.values())) > 2000


GREEK = {
    "actors": {
        "RUS": {
            "name": "Russia",
            "aliases": {
                "name": ["Ρωσία", "Russia"],
                "lang": {"el": ["ρωσίας", "ρωσικ*", "σύνορα ρωσίας"]},
            },
        },
        "GRC": {"name": "Greece", "aliases": {"name": ["Ελλάδα", "ελλάς"]}},
    }
}


@needs_speedups
def test_sigmas_are_read_as_lower_copy_reads_them(
    build_pure: Callable[[dict[str, Any]], Gazetteer],
) -> None:
    """A capital sigma is lower-cased "ς" at the end of a word and "σ" elsewhere: folded
    aliases holding either match where ``lower_copy`` shows it."""
    compiled, pure = Gazetteer(GREEK), build_pure(GREEK)
    words = ["ΡΩΣΊΑΣ", "ρωσίας", "ρωσίασ", "ΡΩΣΊΑΣΑ", "Ρωσία", "ΡΩΣΙΚΌΣ", "ΕΛΛΆΣ", "ελλάσ"]
    words += ["ΣΎΝΟΡΑ ΡΩΣΊΑΣ", "Σύνορα Ρωσίας", "Ελλάδα", "ΕΛΛΆΔΑ", "Russia", "Σ", "ΣΣ"]
    rng = random.Random(17)
    texts = [" ".join(rng.choice(words) + rng.choice(["", ".", "'"]) for _ in range(6))]
    texts += [" ".join(rng.choices(words, k=rng.randint(1, 8))) for _ in range(400)]
    mentions = 0
    for text in texts:
        found = compiled.find_mentions(text)
        assert found == pure.find_mentions(text), text
        mentions += len(found[0])
    assert mentions > 500
    assert [m.surface for m in compiled.find_mentions("ΡΩΣΊΑΣ ρωσίασ ΕΛΛΆΣ ελλάσ")[0]] == [
        "ΡΩΣΊΑΣ",
        "ΕΛΛΆΣ",
    ]


@needs_speedups
def test_select_is_its_reference() -> None:
    gazetteer = load_gazetteer()
    rng = random.Random(11)
    for text in _variants(_gazetteer_texts(), rng):
        hits = gazetteer._matches(text)[0]
        raw = list(hits)
        assert raw == sorted(raw) and type(hits) is speedups.Hits
        raw = sorted(raw + raw[: len(raw) // 2])  # (duplicates too: the same span twice)

        def make_state(number: int, states: dict) -> tuple:
            alias, actor, alias_text, kind = gazetteer._alias_info[number]
            state = states[number] = (actor, alias_text, kind, number % 3 != 0)
            return state

        def judge(start: int, end: int, surface: str, state: tuple) -> Mention | None:
            if start % 2:
                return None
            return Mention(state[0], state[1], "judged", start, end, surface)

        got = [
            select(found, states, lambda n, s=states: make_state(n, s), text, Mention, judge)
            for select, states, found in (
                (speedups.select, {}, raw),
                (actors._select, {}, raw),
                (speedups.select, {}, hits),
                (actors._select, {}, list(hits)),
            )
        ]
        assert got[0] == got[1] and got[2] == got[3], text
        assert all(type(m) is Mention for m in got[0] + got[2])


@needs_speedups
def test_select_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="out of range"):
        speedups.select(
            [(0, -9, 0, 0)], {}, lambda n: ("a", "b", "c", True), "short", Mention, None
        )
    with pytest.raises(ZeroDivisionError):
        speedups.select([(0, -1, 0, 0)], {}, lambda n: 1 / 0, "short", Mention, None)
    with pytest.raises(TypeError, match="a state"):
        speedups.select([(0, -1, 0, 0)], {}, lambda n: None, "short", Mention, None)


@needs_speedups
def test_detection_is_the_same_without_the_compiled_part(
    pure_gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = load_gazetteer()
    rng = random.Random(5)
    texts = _variants(_gazetteer_texts(), rng)
    expected = [compiled.detect(text) for text in texts]
    monkeypatch.setattr(actors, "select", actors._select)
    monkeypatch.setattr(actors, "sentence_pairs", None)
    for text, detection in zip(texts, expected, strict=True):
        assert pure_gazetteer.detect(text) == detection, text
    assert sum(len(d.mentions) for d in expected) > 1000
    assert sum(len(d.dropped) for d in expected) > 50
    assert sum(len(e) for d in expected for e in d.pairs.values()) > 500


def test_pair_evidence_is_made_by_setting_its_fields() -> None:
    """What the compiled sentence pairing relies on to make evidence without a call of
    ``__init__``."""
    assert [f.name for f in dataclasses.fields(actors.PairEvidence)] == [
        "text",
        "start",
        "end",
        "mentions",
    ]
    assert not hasattr(actors.PairEvidence, "__post_init__")
    assert "__setattr__" not in vars(actors.PairEvidence)


@needs_speedups
def test_sentence_ends_are_their_reference() -> None:
    """Lines made of the pieces sentence splitting looks at: marks, closers, white space,
    abbreviations, initials and initialisms, sentence openers, digits, lower-case letters
    in and out of ASCII."""
    pieces = [
        "Russia", "said", " ", "  ", "\t", "\u00a0", "\u2003", ".", "!", "?", "…", "؟", "。",
        "...", "?!", '"', "'", ")", "]", "(", "[", "Mr", "mr", "Gen", "St", "U.S", "U.S.",
        "a.b.", "No", "nos", "10", "x", "é", "É", "ß", "İ", "The", "However", "\u212a",
        "A", "z", "_", "-", "mt", "Dr", "ltd", "Ж", "ж", "approx", "Messrs", "apprx",
    ]  # fmt: skip
    rng = random.Random(9)
    words = (text_module.ABBREVIATIONS, text_module.SENTENCE_STARTERS)
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(4000)]
    lines += [line for t in _gazetteer_texts() for line in t.split("\n")]
    lines += ["He met Messrs. Smith and Jones. It took approx. Two hours. See No. 10 Downing St."]
    for line in lines:
        padded = f"x\n{line}"
        for until in (len(padded), 2 + len(line) // 2, 0):
            expected = text_module.sentence_ends(padded, 2, len(padded), until)
            assert speedups.sentence_ends(padded, 2, len(padded), until, *words) == expected, line
