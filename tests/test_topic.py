"""Topic scoring's fast paths give what the plain computations give."""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from dyadwatch.actors import load_gazetteer
from dyadwatch.pipeline import read_seed, seed_files
from dyadwatch.text import lower_copy, utf8
from dyadwatch.topic import (
    _LONG_WORD,
    TopicModel,
    _cosine,
    _word_count,
    _word_counts,
    content_words,
)
from tests.conftest import PROJECT


@pytest.fixture(scope="module")
def model() -> TopicModel:
    return TopicModel.build(
        load_gazetteer(), [read_seed(p)[0] for p in seed_files(PROJECT / "seeds")]
    )


def _texts() -> list[str]:
    devset = PROJECT / "tests" / "devset" / "devset.jsonl"
    texts = [json.loads(line)["text"] for line in devset.read_text().splitlines() if line.strip()]
    texts += [read_seed(p)[0] for p in seed_files(PROJECT / "seeds")]
    rng = random.Random(5)
    alphabet = list("abcdEFGH ӀіІ İıſΣσς\u00a0\u2003\u3000\x1c\x1f\t\n_1é—ß'’ Россия ישראל\u212a")
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(2000)]
    texts += ["", " ", "\u00a0", "a b", " a  b ", "summit summit talks", "Talks\x1cin\u2003Moscow"]
    texts += ["САММИТ И САНКЦИИ", "Переговоры о санкциях; РАКЕТЫ", "ΣΑΝΚΤΙΟΝΣ — sanctions"]
    return texts + [t.upper() for t in texts[:200]]


def test_word_count_is_split(model: TopicModel) -> None:
    for text in _texts():
        assert _word_count(text) == len(text.split()), text


def test_word_counts_and_similarity(model: TopicModel) -> None:
    for text in _texts():
        lowered = lower_copy(text)
        for mostly_ascii in (True, False):
            counts = _word_counts(lowered, mostly_ascii)
            assert counts == Counter(_LONG_WORD.findall(lowered)), text
            expected = _cosine(content_words(lowered, model.actor_words), model.seed_profile)
            assert model._similarity(counts) == expected, text


def test_term_hits_count_both_lexicons(model: TopicModel) -> None:
    hits = 0
    for text in _texts():
        lowered = lower_copy(text)
        expected = (model.relations.count(lowered), model.offtopic.count(lowered))
        assert model._term_hits(lowered) == expected, text
        # Terms in other scripts looked for only where the text has their characters.
        assert model._term_hits(lowered, utf8(text)[1]) == expected, text
        hits += sum(expected)
    assert hits > 50


def test_lower_case_copy_is_kept_for_the_same_text_only() -> None:
    text = "Russia's İstanbul talks"
    assert lower_copy(text) == "russia's istanbul talks"
    other = "".join(["Russia's İstanbul", " talks"])  # equal, not the same object
    assert lower_copy(other) == lower_copy(text)
    assert lower_copy("ABC") == "abc" and lower_copy(text) == "russia's istanbul talks"


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="narrow build")
def test_lower_case_is_idempotent() -> None:
    # Topic scoring reads words from the lower-cased copy, where content_words would
    # lower-case again: that must change nothing.
    assert all(chr(c).lower().lower() == chr(c).lower() for c in range(sys.maxunicode + 1))


def test_score_counts_words_like_split(model: TopicModel) -> None:
    gazetteer = load_gazetteer()
    text = (Path(__file__).parent / "cases" / "actors.txt").read_text(encoding="utf-8")
    result = model.score(text, gazetteer.detect(text))
    assert result["counts"]["words"] == len(text.split())
