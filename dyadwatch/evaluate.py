"""Score detection and topic relevance against a labelled dev set.

The dev set (``tests/devset/devset.jsonl``) has one item per line: a sentence or a short
article, its date, the actors a careful analyst finds in it, the pairs that share a
sentence and, for articles, whether it is on topic. Scores are precision, recall and F1
per actor and per pair (sentence level and document level), micro-averaged totals, and
the on-topic decision.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dyadwatch.actors import Gazetteer
from dyadwatch.text import normalise
from dyadwatch.topic import TopicModel


@dataclass
class Tally:
    """True positives, false positives and false negatives of one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set, expected: set, label: Any) -> None:
        self.tp += int(label in predicted and label in expected)
        self.fp += int(label in predicted and label not in expected)
        self.fn += int(label in expected and label not in predicted)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "support": self.tp + self.fn,
        }


@dataclass
class Report:
    """Scores of one evaluation, with the items that were wrong."""

    actors: dict[str, Tally] = field(default_factory=dict)
    sentence_pairs: dict[str, Tally] = field(default_factory=dict)
    document_pairs: dict[str, Tally] = field(default_factory=dict)
    on_topic: Tally = field(default_factory=Tally)
    topic_scores: list[tuple[float, bool]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    items: int = 0

    @staticmethod
    def micro(tallies: dict[str, Tally]) -> Tally:
        total = Tally()
        for t in tallies.values():
            total.tp, total.fp, total.fn = total.tp + t.tp, total.fp + t.fp, total.fn + t.fn
        return total

    def summary(self) -> dict[str, float]:
        """The headline figures, as pinned in the minimum-scores file."""
        out = {}
        for name, tallies in (
            ("actors", self.actors),
            ("sentence_pairs", self.sentence_pairs),
            ("document_pairs", self.document_pairs),
        ):
            micro = self.micro(tallies)
            out[f"{name}_precision"] = round(micro.precision, 4)
            out[f"{name}_recall"] = round(micro.recall, 4)
            out[f"{name}_f1"] = round(micro.f1, 4)
        out["on_topic_precision"] = round(self.on_topic.precision, 4)
        out["on_topic_recall"] = round(self.on_topic.recall, 4)
        out["on_topic_f1"] = round(self.on_topic.f1, 4)
        return out

    def best_threshold(self) -> tuple[float, float]:
        """The on-topic threshold with the best F1 on this dev set, and that F1."""
        best = (0.0, -1.0)
        for step in range(5, 95):
            threshold = step / 100
            tally = Tally()
            for score, expected in self.topic_scores:
                tally.add(
                    {True} if score >= threshold else set(), {True} if expected else set(), True
                )
            if tally.f1 > best[1]:
                best = (threshold, tally.f1)
        return best


def load_devset(path: Path) -> list[dict[str, Any]]:
    """Items of a JSON-lines dev set; a malformed line is reported with its number."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
    return items


def _pairs(pairs: Iterable[Iterable[str]]) -> set[str]:
    return {"-".join(sorted(p)) for p in pairs}


def evaluate(items: list[dict[str, Any]], gazetteer: Gazetteer, topic: TopicModel) -> Report:
    """Run detection (and topic scoring on articles) over the items and tally the results."""
    report = Report(items=len(items))
    for item in items:
        text = normalise(item["text"])
        when = date.fromisoformat(item["date"]) if item.get("date") else None
        detection = gazetteer.detect(text, when=when)
        predicted = {
            "actors": set(detection.actors),
            "sentence_pairs": _pairs(detection.pairs),
            "document_pairs": _pairs(detection.document_pairs),
        }
        expected = {
            "actors": set(item["actors"]),
            "sentence_pairs": _pairs(item["pairs"]),
            "document_pairs": _pairs(itertools.combinations(sorted(item["actors"]), 2)),
        }
        for name in predicted:
            tallies = getattr(report, name)
            for label in predicted[name] | expected[name]:
                tallies.setdefault(label, Tally()).add(predicted[name], expected[name], label)
        wrong = {
            k: sorted(predicted[k] ^ expected[k])
            for k in ("actors", "sentence_pairs")
            if predicted[k] != expected[k]
        }
        if "on_topic" in item:
            score = topic.score(text, detection)
            report.topic_scores.append((score["score"], bool(item["on_topic"])))
            report.on_topic.add(
                {True} if score["on_topic"] else set(), {True} if item["on_topic"] else set(), True
            )
            if score["on_topic"] != item["on_topic"]:
                wrong["on_topic"] = [f"expected {item['on_topic']}, score {score['score']}"]
        if wrong:
            report.errors.append(
                {
                    "id": item["id"],
                    "text": item["text"][:160],
                    **wrong,
                    "found": [(m.surface, m.actor) for m in detection.mentions][:12],
                }
            )
    return report


def counts(items: list[dict[str, Any]]) -> Counter[str]:
    """How many items exercise each tag and language."""
    c: Counter[str] = Counter()
    for item in items:
        c.update(f"tag:{t}" for t in item.get("tags", []))
        c[f"lang:{item['lang']}"] += 1
    return c
