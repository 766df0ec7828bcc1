"""Score how much a document is about what the seed articles are about.

The seeds define the topic: political, diplomatic and military relations between the
tracked actors. The score is a weighted sum of four explainable signals, each in [0, 1]:

- ``pairs``: sentences in which two actors occur together (3 or more saturate);
- ``relations``: words of interstate relations (summit, sanctions, missile, envoy, …) per
  100 words, from the gazetteer's topic lexicon, in several languages;
- ``seeds``: cosine similarity of the document's content words to the seed articles';
- ``offtopic``: words of sport, markets and lifestyle per 100 words, subtracted.

Every component is returned with the score, so a decision can always be explained.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dyadwatch.actors import Detection, Gazetteer

WEIGHTS = {"pairs": 0.35, "relations": 0.35, "seeds": 0.30, "offtopic": -0.35}
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    [
        "that",
        "this",
        "with",
        "from",
        "have",
        "has",
        "had",
        "been",
        "were",
        "will",
        "would",
        "could",
        "should",
        "their",
        "there",
        "they",
        "them",
        "than",
        "then",
        "what",
        "when",
        "which",
        "while",
        "where",
        "whom",
        "about",
        "after",
        "before",
        "also",
        "into",
        "over",
        "under",
        "more",
        "most",
        "such",
        "only",
        "other",
        "some",
        "very",
        "said",
        "says",
        "just",
        "like",
        "many",
        "much",
        "even",
        "both",
        "each",
        "your",
        "yours",
        "ours",
        "because",
        "being",
        "between",
        "during",
        "through",
        "against",
        "among",
        "across",
        "since",
        "until",
        "upon",
        "within",
        "without",
        "those",
        "these",
        "here",
        "again",
        "ever",
        "every",
        "another",
        "whether",
        "however",
        "although",
        "though",
    ]
)


def content_words(text: str) -> Counter[str]:
    """Lower-cased words of four or more letters, stop words removed."""
    return Counter(
        w
        for w in _WORD.findall(text.lower())
        if len(w) >= 4 and not w.isdigit() and w not in _STOPWORDS
    )


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb)


def _lexicon_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    for term in terms:
        stem = term.endswith("*")
        base = re.escape(term[:-1] if stem else term).replace(r"\ ", r"\s+")
        parts.append(base + (r"\w*" if stem else ""))
    if not parts:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)", re.I
    )


@dataclass
class TopicModel:
    """The seed profile and lexicon a document is scored against."""

    seed_profile: Counter[str]
    relations: re.Pattern[str] | None
    offtopic: re.Pattern[str] | None
    threshold: float = 0.45

    @classmethod
    def build(
        cls, gazetteer: Gazetteer, seed_texts: Iterable[str], threshold: float = 0.45
    ) -> TopicModel:
        profile: Counter[str] = Counter()
        for text in seed_texts:
            profile.update(content_words(text))
        lex = gazetteer.topic
        return cls(
            seed_profile=profile,
            relations=_lexicon_pattern(lex.get("relation_terms") or []),
            offtopic=_lexicon_pattern(lex.get("offtopic_terms") or []),
            threshold=threshold,
        )

    def score(self, text: str, detection: Detection) -> dict[str, Any]:
        """Score ``text``; return the score, the decision and the signals behind them."""
        words = max(1, len(_WORD.findall(text)))
        pair_sentences = len({e.start for evs in detection.pairs.values() for e in evs})
        rel_hits = len(self.relations.findall(text)) if self.relations else 0
        off_hits = len(self.offtopic.findall(text)) if self.offtopic else 0
        similarity = _cosine(content_words(text), self.seed_profile)
        signals = {
            "pairs": min(1.0, pair_sentences / 3),
            "relations": min(1.0, rel_hits * 100 / words / 3.0),
            "seeds": min(1.0, similarity / 0.25),
            "offtopic": min(1.0, off_hits * 100 / words / 2.0),
        }
        if not detection.actors:
            signals["pairs"] = 0.0
        raw = sum(WEIGHTS[k] * v for k, v in signals.items())
        score = round(max(0.0, min(1.0, raw)), 4)
        # A document that names fewer than two actors cannot be about relations between them.
        on_topic = score >= self.threshold and len(detection.actors) >= 2
        return {
            "score": score,
            "on_topic": on_topic,
            "threshold": self.threshold,
            "signals": {k: round(v, 4) for k, v in signals.items()},
            "counts": {
                "words": words,
                "pair_sentences": pair_sentences,
                "relation_terms": rel_hits,
                "offtopic_terms": off_hits,
            },
        }
