"""Detection quality cannot silently regress: the dev set's scores stay above the pinned
minimums in bench/quality_minimums.json, and the dev set itself stays well formed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dyadwatch.actors import load_gazetteer
from dyadwatch.evaluate import evaluate, load_devset
from dyadwatch.pipeline import read_seed, seed_files
from dyadwatch.topic import TopicModel
from tests.conftest import PROJECT

DEVSET = PROJECT / "tests" / "devset" / "devset.jsonl"
MINIMUMS = PROJECT / "bench" / "quality_minimums.json"


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return load_devset(DEVSET)


def test_devset_is_well_formed(items) -> None:
    gazetteer = load_gazetteer()
    assert len(items) >= 200
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert item["actors"] == sorted(set(item["actors"])), item["id"]
        assert set(item["actors"]) <= set(gazetteer.actors), item["id"]
        for pair in item["pairs"]:
            assert pair == sorted(pair) and set(pair) <= set(item["actors"]), item["id"]
    languages = Counter(i["lang"] for i in items)
    assert all(
        languages[lang] >= 12 for lang in ("ru", "uk", "he", "ar", "tr", "de", "fr", "es", "sh")
    )
    assert sum(1 for i in items if "on_topic" in i) >= 40


def test_scores_stay_above_the_pinned_minimums(items) -> None:
    gazetteer = load_gazetteer()
    topic = TopicModel.build(gazetteer, [read_seed(p)[0] for p in seed_files(PROJECT / "seeds")])
    summary = evaluate(items, gazetteer, topic).summary()
    minimums = json.loads(MINIMUMS.read_text())
    below = {k: (summary[k], v) for k, v in minimums.items() if summary[k] < v}
    assert not below, f"quality regressed (score, pinned minimum): {below}"


def test_a_wrong_gazetteer_fails_the_check(items) -> None:
    """The check can fail: without Israel's aliases recall drops below the minimums."""
    import yaml

    data = yaml.safe_load((PROJECT / "dyadwatch" / "gazetteer.yaml").read_text(encoding="utf-8"))
    data["actors"]["ISR"]["aliases"] = {"name": ["Israel"]}
    data["actors"]["ISR"]["leaders"] = []
    from dyadwatch.actors import Gazetteer

    broken = Gazetteer(data)
    summary = evaluate(items, broken, TopicModel.build(broken, [])).summary()
    minimums = json.loads(MINIMUMS.read_text())
    assert summary["actors_recall"] < minimums["actors_recall"]


def test_devset_path_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "dev.jsonl"
    bad.write_text('{"id": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_devset(bad)
