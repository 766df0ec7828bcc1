"""Actor detection: one case per line in cases/actors.txt, plus evidence and pairing rules."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from dyadwatch.actors import Gazetteer, GazetteerError, _Spellers, _spells, load_gazetteer
from dyadwatch.text import normalise

CASES = Path(__file__).parent / "cases" / "actors.txt"


def load_cases() -> list[tuple[set[str], date | None, str]]:
    cases = []
    for number, line in enumerate(CASES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        expected, when, text = (part.strip() for part in line.split("|", 2))
        actors = set() if expected == "-" else set(expected.split(","))
        # \uXXXX writes invisible characters (soft hyphens, zero-width spaces) visibly.
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        cases.append(
            pytest.param(
                actors, None if when == "-" else date.fromisoformat(when), text, id=f"line{number}"
            )
        )
    return cases


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.mark.parametrize(("expected", "when", "text"), load_cases())
def test_case(gazetteer: Gazetteer, expected: set[str], when: date | None, text: str) -> None:
    detection = gazetteer.detect(normalise(text), when=when)
    assert set(detection.actors) == expected, [(m.surface, m.actor) for m in detection.mentions]


def test_pairs_have_sentence_evidence_and_offsets(gazetteer: Gazetteer) -> None:
    text = (
        "Iran watched closely.\nRussia and Israel renewed their hotline. Ukraine was not mentioned."
    )
    detection = gazetteer.detect(text)
    assert detection.document_pairs == [
        ("IRN", "ISR"),
        ("IRN", "RUS"),
        ("IRN", "UKR"),
        ("ISR", "RUS"),
        ("ISR", "UKR"),
        ("RUS", "UKR"),
    ]
    assert list(detection.pairs) == [("ISR", "RUS")]
    [evidence] = detection.pairs[("ISR", "RUS")]
    assert evidence.text == "Russia and Israel renewed their hotline."
    assert text[evidence.start : evidence.end] == evidence.text
    assert {(m.surface, m.kind) for m in evidence.mentions} == {
        ("Russia", "name"),
        ("Israel", "name"),
    }
    for m in evidence.mentions:
        assert text[m.start : m.end] == m.surface


def test_window_pairs_neighbouring_sentences(gazetteer: Gazetteer) -> None:
    text = "Russia sent a note. Israel replied."
    assert gazetteer.detect(text).pairs == {}
    assert list(gazetteer.detect(text, window=2).pairs) == [("ISR", "RUS")]


def test_longest_alias_wins(gazetteer: Gazetteer) -> None:
    [mention] = gazetteer.detect("The Israel Defense Forces said so.").mentions
    assert mention.surface == "Israel Defense Forces"


def test_dropped_matches_are_explained(gazetteer: Gazetteer) -> None:
    detection = gazetteer.detect("The Washington Post quoted Obama.", when=date(2024, 1, 1))
    assert {d["reason"] for d in detection.dropped} == {"guard", "out of office"}


def test_bad_gazetteer_names_the_entry() -> None:
    with pytest.raises(GazetteerError, match="actors.XXX"):
        Gazetteer({"actors": {"XXX": {"aliases": {}}}}, source="g.yaml")
    with pytest.raises(GazetteerError, match=r"guards\[0\]"):
        Gazetteer({"actors": {}, "guards": [{"pattern": "("}]}, source="g.yaml")
    with pytest.raises(GazetteerError, match="only allowed at the end"):
        Gazetteer({"actors": {"A": {"name": "A", "aliases": {"name": ["Ab*c"]}}}})


def _reference_guard_index(g: Gazetteer) -> dict[str, list[tuple[str, frozenset[str] | None]]]:
    """The guard index computed the plain way: every word against every alias."""
    words = [set(re.findall(r"[^\W\d_]{2,}", re.sub(r"\\.", " ", p))) for p in g._guard_patterns]
    index: dict[str, list[tuple[str, frozenset[str] | None]]] = {}
    for alias in g.aliases:
        guards = []
        for p, w in zip(g._guard_patterns, words, strict=True):
            if not any(_spells(x, alias) for x in w):
                continue
            others = frozenset(x for x in w if not _spells(x, alias))
            always = (
                not others
                or "(?!" in p
                or "(?<!" in p
                or "(?i" in p
                or re.search(p, f" {alias.base} ") is not None
            )
            guards.append((p, None if always else others))
        index.setdefault(alias.text, guards)
    return index


def test_guard_index_matches_the_plain_computation() -> None:
    g = Gazetteer(
        {
            "actors": {
                "USA": {"name": "US", "aliases": {"name": ["Washington", "USA", "Americ*"]}},
                "JOR": {
                    "name": "Jordan",
                    "aliases": {"name": ["Jordan"], "demonym": ["Jordanian"]},
                },
                "XX": {"name": "X", "aliases": {"name": ["Ab*", "ox"]}},
            },
            "guards": [
                r"(?:The\s+)?Washington\s+(?:Post|Times)",
                r"Sipa\s+USA|USA\s+(?:Today|TODAY)",
                r"(?:Latin|South)[- ]Americ(?:a|an)\b",
                r"Michael\s+Jordan|Jorda\s+River",
                r"WASHINGTON\s+Wizards|Abbey\s+Road",
                r"U\.?S\.?\s+Open",
                r"Amer\s+Sports",
                r"(?<!Air )JORD\w+",
            ],
        }
    )
    got = {t: [(p.pattern, o) for p, o in guards] for t, guards in g._guards_for.items()}
    assert got == _reference_guard_index(g)
    assert any(got.values())
    # Neither names an alias ("JORD" is no alias's beginning in that case).
    assert g._guards_any is not None
    assert g._guards_any.pattern == r"(?:U\.?S\.?\s+Open)|(?:(?<!Air )JORD\w+)"


def test_spelling_index_agrees_with_spells(gazetteer: Gazetteer) -> None:
    words = {"Washingto", "WASHINGTON", "Amer", "Americans", "Rus", "Russ", "Jordanians"}
    for p in gazetteer._guard_patterns:
        words |= set(re.findall(r"[^\W\d_]{2,}", re.sub(r"\\.", " ", p)))
    spellers = _Spellers(a.text for a in gazetteer.aliases)
    for word in words:
        assert spellers.spelled_by(word) == {
            a.text for a in gazetteer.aliases if _spells(word, a)
        }, word
