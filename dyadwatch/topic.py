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
from itertools import repeat
from operator import mul
from typing import Any

import ahocorasick_rs

from dyadwatch.actors import Detection, Gazetteer, _is_word
from dyadwatch.automata import ScriptAutomata
from dyadwatch.text import lower_copy, utf8

WEIGHTS = {"pairs": 0.35, "relations": 0.35, "seeds": 0.30, "offtopic": -0.35}
_LONG_WORD = re.compile(r"[^\W\d_]{4,}")
# In lower-cased text of ASCII characters only, the words of ``_LONG_WORD`` are the runs of
# a-z four letters long or more: with every other character made a space, ``split`` finds
# the runs much faster than the pattern.
_NOT_A_TO_Z = str.maketrans({c: " " for c in range(128) if not 97 <= c <= 122})
# Runs of a-z and of characters outside ASCII: in lower-cased text, every word of
# ``_LONG_WORD`` lies within one, and a run of a-z only is one. The engine tests these
# characters much faster than letters in general.
_COARSE_WORD = re.compile(r"[a-z\x80-\U0010ffff]{4,}")
# What ``str.split()`` splits at: the white space of ASCII and the rest of Unicode's.
_ASCII_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_OTHER_SPACE = frozenset("\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    map(chr, range(0x2000, 0x200B))
)
# Maps white-space bytes to " " and every other byte to "x".
_SPACE_MARKS = bytes(32 if b in _ASCII_SPACE else 120 for b in range(256))
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


def _word_count(text: str) -> int:
    """``len(text.split())``, without making the words: in UTF-8, a word is a run of bytes
    that are not white space (as long as no white space outside ASCII is in the text)."""
    data, rest = utf8(text)
    if not _OTHER_SPACE.isdisjoint(rest):
        return len(text.split())
    marks = data.translate(_SPACE_MARKS)
    return marks.count(b" x") + marks.startswith(b"x")


def _word_counts(lowered: str, mostly_ascii: bool) -> Counter[str]:
    """``Counter(_LONG_WORD.findall(lowered))`` for a lower-cased text, found faster: the
    engine tests ASCII letters in a range much faster than letters in general."""
    if lowered.isascii():
        counts = Counter(lowered.translate(_NOT_A_TO_Z).split())
        for run in [r for r in counts if len(r) < 4]:
            counts.pop(run)
        return counts
    if not mostly_ascii:
        return Counter(_LONG_WORD.findall(lowered))
    counts = Counter(_COARSE_WORD.findall(lowered))
    # Runs holding other characters than a-z may be several words, or none.
    for run in [r for r in counts if not r.isascii()]:
        times = counts.pop(run)
        for word in _LONG_WORD.findall(run):
            counts[word] += times
    return counts


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
        self.patterns = patterns
        self.automaton = (
            ahocorasick_rs.AhoCorasick(patterns, implementation=ahocorasick_rs.Implementation.DFA)
            if patterns
            else None
        )

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


@dataclass(frozen=True)
class _Terms:
    """Both lexicons' terms in automata split by script, each pattern carrying whether it
    is a stem in each lexicon (None: not one of its terms)."""

    relations: Lexicon
    offtopic: Lexicon
    search: ScriptAutomata[tuple[bool | None, bool | None]]


def _term_automata(relations: Lexicon, offtopic: Lexicon) -> _Terms | None:
    """``_Terms`` of two lexicons (None if a lexicon does not tell its patterns)."""
    if not all(hasattr(lexicon, "patterns") for lexicon in (relations, offtopic)):
        return None  # (counted one lexicon at a time)
    roles: dict[str, list[bool | None]] = {}
    for which, lexicon in enumerate((relations, offtopic)):
        for pattern, stem in zip(lexicon.patterns, lexicon.stems, strict=True):
            roles.setdefault(pattern, [None, None])[which] = stem
    patterns = list(roles)
    return _Terms(
        relations, offtopic, ScriptAutomata.build(patterns, [tuple(roles[p]) for p in patterns])
    )


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

    def _similarity(self, counts: Counter[str]) -> float:
        """``_cosine`` of the document's content words (``counts``: all its words) and the
        seed profile. The sums are of whole numbers, so their order does not matter and
        they can be taken in C."""
        # (A set's intersection with the counts looks up each counted word, not each word
        # of the set.)
        for word in _STOPWORDS.intersection(counts):
            counts.pop(word)
        exclude = self.actor_words
        if isinstance(exclude, (set, frozenset)):
            gone = exclude.intersection(counts)
        else:  # (any container of words will do, as for ``content_words``)
            gone = [w for w in counts if w in exclude]
        for word in gone:
            counts.pop(word)
        profile = self.seed_profile
        if not counts or not profile:
            return 0.0
        values = list(counts.values())
        if len(counts) <= len(profile):
            dot = sum(map(mul, values, map(profile.get, counts, repeat(0))))
        else:
            dot = sum(map(mul, profile.values(), map(counts.get, profile, repeat(0))))
        na = math.sqrt(sum(map(mul, values, values)))
        seeds = list(profile.values())
        nb = math.sqrt(sum(map(mul, seeds, seeds)))
        return dot / (na * nb)

    def _term_hits(self, lowered: str, rest: str | None = None) -> tuple[int, int]:
        """``(self.relations.count(lowered), self.offtopic.count(lowered))`` in one search.
        ``rest``: the characters outside ASCII of the text ``lowered`` was made from, if
        known (terms in other scripts are looked for only where their characters are)."""
        terms = self.__dict__.get("_terms")
        if (
            terms is None
            or terms.relations is not self.relations
            or terms.offtopic is not (self.offtopic)
        ):
            terms = _term_automata(self.relations, self.offtopic)
            if terms is None:
                return self.relations.count(lowered), self.offtopic.count(lowered)
            self.__dict__["_terms"] = terms
        search = terms.search
        searches = search.searches(lowered, rest is None or search.in_lowered(rest))
        n = len(lowered)
        relations = offtopic = 0
        for found, roles in searches:
            for index, start, end in found:
                if start:
                    ch = lowered[start - 1]
                    if ch.isalnum() or ch == "_":
                        continue
                free = end == n or not ((ch := lowered[end]).isalnum() or ch == "_")
                relation, other = roles[index]
                if relation is not None and (relation or free):
                    relations += 1
                if other is not None and (other or free):
                    offtopic += 1
        return relations, offtopic

    def score(self, text: str, detection: Detection) -> dict[str, Any]:
        """Score ``text``; return the score, the decision and the signals behind them."""
        words = max(1, _word_count(text))
        pair_sentences = len({e.start for evs in detection.pairs.values() for e in evs})
        lowered = lower_copy(text)
        rel_hits, off_hits = self._term_hits(lowered, utf8(text)[1])
        # (Lower-casing a lower-cased text changes nothing, so ``content_words`` would
        # find these words in it.)
        mostly_ascii = len(utf8(text)[1]) < 0.05 * len(text)
        similarity = self._similarity(_word_counts(lowered, mostly_ascii))
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
