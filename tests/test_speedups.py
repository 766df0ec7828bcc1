"""The compiled part of alias matching (dyadwatch/_speedups.c) against its Python reference:
the automaton against ahocorasick-rs, and each function against the one it stands for in
dyadwatch/actors.py, on random input and on whole detections with the shipped gazetteer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import ahocorasick_rs
import pytest
import yaml

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
    assert actors.scan is speedups.scan
    assert actors.select is speedups.select
    assert actors.prepare is speedups.prepare
    assert actors.sentence_pairs is speedups.sentence_pairs
    assert isinstance(load_gazetteer()._cased.search.latin, speedups.Automaton)


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


@needs_speedups
def test_automaton_rejects_what_it_cannot_search() -> None:
    with pytest.raises(ValueError, match="pattern 1 is empty"):
        speedups.Automaton([b"a", b""])
    with pytest.raises(TypeError, match="pattern 0 is not bytes"):
        speedups.Automaton(["a"])
    with pytest.raises(ValueError, match="overlapping"):
        speedups.Automaton([b"a"]).find_matches_as_indexes(b"a")
    with pytest.raises(ValueError, match="a byte per character"):
        speedups.Automaton([b"a"]).scan(b"ab", ((-1, (), ()),), "a", [], {})


def _gazetteer_texts() -> list[str]:
    here = Path(__file__).parent
    lines = (here / "devset" / "devset.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    cases = (here / "cases" / "actors.txt").read_text(encoding="utf-8").splitlines()
    texts += [line.split("|", 2)[2].strip() for line in cases if line.strip() and line[0] != "#"]
    return texts


def _variants(texts: list[str], rng: random.Random) -> list[str]:
    """The texts as they are, in other cases, and shuffled into new ones with other
    characters around the aliases (letters of other scripts, digits, marks, surrogates)."""
    out = [*texts, *(t.upper() for t in texts), *(t.lower() for t in texts)]
    words = " ".join(texts).split()
    glue = [" ", "", "-", "'", "_", "é", "Ж", "İ", "Σ", "9", "\n", ". ", "\ud800", "😀", "—"]
    for _ in range(300):
        picked = rng.sample(words, k=min(len(words), rng.randint(2, 40)))
        out.append("".join(w + rng.choice(glue) for w in picked))
    return out


@needs_speedups
def test_prepare_is_its_reference() -> None:
    rng = random.Random(3)
    alphabet = "aZ?09 -é\x7f\x80ÿĀЖ İıΣσς\ud800😀\U0010ffff"
    texts = ["", "plain ASCII", *_gazetteer_texts()[:50]]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    for text in texts:
        assert speedups.prepare(text) == actors._prepare(text), text


@needs_speedups
def test_scan_and_select_are_their_references() -> None:
    gazetteer = load_gazetteer()
    rng = random.Random(11)
    for text in _variants(_gazetteer_texts(), rng):
        marked, lowered, _ = actors._prepare(text)
        for matcher, haystack in ((gazetteer._cased, marked), (gazetteer._folded, lowered)):
            search = matcher.search
            found = search.latin.find_matches_as_indexes(haystack, overlapping=True)
            ours: tuple[list, dict] = ([], {})
            theirs: tuple[list, dict] = ([], {})
            speedups.scan(found, search.latin_values, text, *ours)
            actors._scan(found, search.latin_values, text, *theirs)
            assert ours == theirs, text
            searched: tuple[list, dict] = ([], {})
            search.latin.scan(haystack, search.latin_values, text, *searched)
            assert sorted(searched[0]) == sorted(ours[0]) and searched[1] == ours[1], text
        raw = sorted(ours[0] + theirs[0])  # (duplicates too: the same span twice)

        def make_state(number: int, states: dict) -> tuple:
            alias, actor, alias_text, kind = gazetteer._alias_info[number]
            state = states[number] = (actor, alias_text, kind, number % 3 != 0)
            return state

        def judge(start: int, end: int, surface: str, state: tuple) -> Mention | None:
            if start % 2:
                return None
            return Mention(state[0], state[1], "judged", start, end, surface)

        got = [
            select(raw, states, lambda n, s=states: make_state(n, s), text, Mention, judge)
            for select, states in ((speedups.select, {}), (actors._select, {}))
        ]
        assert got[0] == got[1], text
        assert all(type(m) is Mention for m in got[0])


@needs_speedups
def test_scan_and_select_reject_bad_input() -> None:
    meanings = ((-1, ((0, 0),), ()),)
    with pytest.raises(ValueError, match="out of range"):
        speedups.scan([(0, 0, 9)], meanings, "short", [], {})
    with pytest.raises(ValueError, match="out of range"):
        speedups.scan([(1, 0, 1)], meanings, "short", [], {})
    with pytest.raises(TypeError):
        speedups.scan([(0, 0)], meanings, "short", [], {})
    with pytest.raises(TypeError):
        speedups.scan([], meanings, b"bytes", [], {})
    with pytest.raises(ValueError, match="out of range"):
        speedups.select(
            [(0, -9, 0, 0)], {}, lambda n: ("a", "b", "c", True), "short", Mention, None
        )
    with pytest.raises(ZeroDivisionError):
        speedups.select([(0, -1, 0, 0)], {}, lambda n: 1 / 0, "short", Mention, None)
    with pytest.raises(TypeError, match="a state"):
        speedups.select([(0, -1, 0, 0)], {}, lambda n: None, "short", Mention, None)


def _pure_gazetteer(monkeypatch: pytest.MonkeyPatch) -> Gazetteer:
    """The shipped gazetteer built and searched with the Python reference alone."""
    source = Path(actors.__file__).with_name("gazetteer.yaml")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    with monkeypatch.context() as patch:
        patch.setattr(automata, "_Compiled", None)
        pure = Gazetteer(data)
    assert not isinstance(pure._cased.search.latin, speedups.Automaton)
    return pure


@needs_speedups
def test_detection_is_the_same_without_the_compiled_part(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = load_gazetteer()
    pure = _pure_gazetteer(monkeypatch)
    rng = random.Random(5)
    texts = _variants(_gazetteer_texts(), rng)
    expected = [compiled.detect(text) for text in texts]
    monkeypatch.setattr(actors, "COMPILED", False)
    monkeypatch.setattr(actors, "prepare", actors._prepare)
    monkeypatch.setattr(actors, "scan", actors._scan)
    monkeypatch.setattr(actors, "select", actors._select)
    monkeypatch.setattr(actors, "sentence_pairs", None)
    for text, detection in zip(texts, expected, strict=True):
        assert pure.detect(text) == detection, text
    assert sum(len(d.mentions) for d in expected) > 1000
    assert sum(len(d.dropped) for d in expected) > 50
    assert sum(len(e) for d in expected for e in d.pairs.values()) > 500


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
