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

import ahocorasick_rs

from dyadwatch.actors import Detection, Gazetteer, _is_word

WEIGHTS = {"pairs": 0.35, "relations": 0.35, "seeds": 0.30, "offtopic": -0.35}
_LONG_WORD = re.compile(r"[^\W\d_]{4,}")
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


def content_words(text: str, exclude: frozenset[str] = frozenset()) -> Counter[str]:
    """Lower-cased words of four or more letters, stop words and ``exclude`` removed."""
    return Counter(
        w for w in _LONG_WORD.findall(text.lower()) if w not in _STOPWORDS and w not in exclude
    )


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb)


class Lexicon:
    """Counts occurrences of lower-case terms (a trailing ``*`` is a stem) in one pass."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.stems: list[bool] = []
        patterns: list[str] = []
        seen: dict[str, int] = {}
        for term in terms:
            stem = term.endswith("*")
            base = (term[:-1] if stem else term).lower()
            if base in seen:
                self.stems[seen[base]] |= stem
                continue
            seen[base] = len(patterns)
            patterns.append(base)
            self.stems.append(stem)
        self.automaton = ahocorasick_rs.AhoCorasick(patterns) if patterns else None

    def count(self, lowered: str) -> int:
        """Occurrences in an already lower-cased text, on word boundaries."""
        if self.automaton is None:
            return 0
        n = len(lowered)
        hits = 0
        for index, start, end in self.automaton.find_matches_as_indexes(lowered, overlapping=True):
            if start and _is_word(lowered[start - 1]):
                continue
            if self.stems[index] or end == n or not _is_word(lowered[end]):
                hits += 1
        return hits


@dataclass
class TopicModel:
    """The seed profile and lexicon a document is scored against."""

    seed_profile: Counter[str]
    relations: Lexicon
    offtopic: Lexicon
    threshold: float = 0.35
    # Actor names are left out of the similarity: the pairs signal already counts them, and
    # a football report naming Israel and Ukraine is not thereby like the seeds.
    actor_words: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, gazetteer: Gazetteer, seed_texts: Iterable[str], threshold: float = 0.35
    ) -> TopicModel:
        actor_words = frozenset(
            w for a in gazetteer.aliases for w in _LONG_WORD.findall(a.base.lower())
        )
        profile: Counter[str] = Counter()
        for text in seed_texts:
            profile.update(content_words(text, actor_words))
        lex = gazetteer.topic
        return cls(
            seed_profile=profile,
            relations=Lexicon(lex.get("relation_terms") or []),
            offtopic=Lexicon(lex.get("offtopic_terms") or []),
            threshold=threshold,
            actor_words=actor_words,
        )

    def score(self, text: str, detection: Detection) -> dict[str, Any]:
        """Score ``text``; return the score, the decision and the signals behind them."""
        words = max(1, len(text.split()))
        pair_sentences = len({e.start for evs in detection.pairs.values() for e in evs})
        lowered = text.replace("İ", "I").lower()
        rel_hits = self.relations.count(lowered)
        off_hits = self.offtopic.count(lowered)
        similarity = _cosine(content_words(lowered, self.actor_words), self.seed_profile)
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
