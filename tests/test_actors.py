"""Actor detection: one case per line in cases/actors.txt, plus evidence and pairing rules."""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import date
from pathlib import Path

import pytest

from dyadwatch.actors import (
    AmbiguityRule,
    Gazetteer,
    GazetteerError,
    Mention,
    PairEvidence,
    _always_tried,
    _cues,
    _make_tuple,
    _reach_back,
    _required_words,
    _Spellers,
    _spells,
    load_gazetteer,
)
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


class _Given(Gazetteer):
    """A gazetteer whose ``find_mentions`` returns the mentions it was given."""

    def __init__(self, mentions: list[Mention]) -> None:  # (no gazetteer data needed)
        self.given = mentions

    def find_mentions(self, text: str, when: date | None = None) -> tuple[list[Mention], list]:
        return list(self.given), []


def _plain_pairs(text: str, mentions: list[Mention], window: int) -> dict:
    """Sentence pairs written plainly: every line split by the plain splitter, every mention
    put in the sentence its start is in, every group of ``window`` sentences recorded."""
    from tests.test_text import _plain_line_sentences

    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        spans += _plain_line_sentences(line, pos)
        pos += len(line) + 1
    groups = [[m for m in mentions if s <= m.start < e] for s, e in spans]
    pairs: dict[tuple[str, str], list[PairEvidence]] = {}
    for i in range(len(spans)):
        last = min(i + window, len(spans)) - 1
        group = [m for g in groups[i : last + 1] for m in g]
        present = sorted({m.actor for m in group})
        if not groups[i] or len(present) < 2:
            continue
        start, end = spans[i][0], spans[last][1]
        for a, b in itertools.combinations(present, 2):
            evidence = pairs.setdefault((a, b), [])
            if not evidence or evidence[-1].start != start:
                fired = [m for m in group if m.actor in (a, b)]
                evidence.append(PairEvidence(text[start:end], start, end, fired))
    return dict(sorted(pairs.items()))


def test_pairs_are_those_of_the_plain_form() -> None:
    """Sentence pairing takes short cuts (lines with one actor are not split, a line is split
    only up to its last mention, sentences are trimmed only when they hold a pair, the
    commonest groups are recorded without the general loop): random lines with random
    mentions, some in white space or sharing a start, must pair as the plain form does."""
    from tests.test_text import _random_line

    rng = random.Random(17)
    names = ["AAA", "BBB", "CCC", "DDD"]
    for _ in range(3000):
        lines = [_random_line(rng) for _ in range(rng.randint(1, 5))]
        lines = [rng.choice(["", " ", "\t"]) + line for line in lines]
        text = "\n".join(lines)
        places = [n for n in range(len(text)) if text[n] != "\n"]
        mentions = []
        for start in sorted(rng.sample(places, min(len(places), rng.randint(0, 9)))):
            for actor in rng.sample(names, rng.choice([1, 1, 1, 1, 2])):
                mentions.append(Mention(actor, "x", "name", start, start + 1, text[start]))
        for window in (1, 2, 3):
            expected = _plain_pairs(text, mentions, window)
            pairs = _Given(mentions).detect(text, window=window).pairs
            assert list(pairs) == list(expected), (text, mentions, window)
            assert pairs == expected, (text, mentions, window)


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
            always = _always_tried(p, others, alias.base)
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
                r"(?:The |)Ab(?:|x)bey",
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


# Sentences in which a guard must fire, one or more per kind of guard (literal names,
# alternations, look-behinds, look-aheads, the guards that name no alias).
GUARDED = [
    "The Washington Post reported the story first, citing Washington officials.",
    "Photo: Sipa USA via a news agency; USA Today ran it too.",
    "Michael Jordan scored forty points as Jordan watched.",
    "Jordan Peterson spoke in Amman.",
    "Voters in Seattle, Washington queued while Washington debated sanctions.",
    "In Moscow's White House the Russian cabinet met; the White House said nothing.",
    "The U.S. Open final was played as US officials met Russian envoys.",
    "Riad Salameh left Lebanon; Israel and Syria were not mentioned.",
    "A charlotte russe was served in Russe, in Bulgaria, to Bulgarian and Russian guests.",
    "Duma, near Damascus, was attacked; Syria denied it and the Duma in Moscow met.",
    "The Times of Israel and the Jerusalem Post covered Israel's cabinet.",
    "Turkish delight and Russian roulette are not Turkey and Russia.",
    "Latin America and South American states met the American envoy.",
    "Roast Turkey with gravy for Thanksgiving; Turkey hosted talks.",
    "Melania Trump and Donald Trump Jr. met Trump.",
    "RUSI analysts and the Royal United Services Institute briefed Britain.",
    "The Republic of China and China Airlines; Chinese Taipei competed.",
    "King Abdullah University of Science and Technology hosted King Abdullah.",
    "Georgia Tech beat Georgia's 5th District team in Atlanta, Georgia.",
    "Israel Adesanya fought as Israel's cabinet met.",
    "Hunter Biden testified while Biden spoke about Ukraine.",
    "BAE Systems and the BAE signed a deal with the UAE.",
]


def _without_prefilter(g: Gazetteer) -> Gazetteer:
    """The same gazetteer trying every guard around every mention of an alias it names (and
    the guards naming none around every mention), as detection did before guards could be
    skipped for the strings they lack."""
    bare = object.__new__(Gazetteer)
    bare.__dict__.update(g.__dict__)
    bare._guard_plan = {
        text: tuple((p, o, (), (), 0) for p, o, *_ in plan) for text, plan in g._guard_plan.items()
    }
    bare._guard_general = tuple((p, o, (), (), 0) for p, o, *_ in g._guard_general)
    return bare


def _texts() -> list[str]:
    devset = Path(__file__).parent / "devset" / "devset.jsonl"
    texts = [json.loads(line)["text"] for line in devset.read_text().splitlines() if line.strip()]
    texts += [str(case.values[2]) for case in load_cases()]
    return [*GUARDED, *texts, "\n".join(GUARDED), " ".join(texts)]


def test_guards_changed_after_detection_apply(gazetteer: Gazetteer) -> None:
    """What a document needs to know of each alias is worked out once for the gazetteer's
    guards and rules, and again if they are replaced."""
    text = "Russia and Israel"
    assert [m.alias for m in gazetteer.find_mentions(text)[0]] == ["Russia", "Israel"]
    changed = object.__new__(Gazetteer)
    changed.__dict__.update(gazetteer.__dict__)
    guard = (re.compile("Russia and"), None, (), (), 0)
    changed._guard_plan = {**gazetteer._guard_plan, "Russia": (guard,)}
    mentions, dropped = changed.find_mentions(text)
    assert [m.alias for m in mentions] == ["Israel"]
    assert dropped == [{"text": "Russia", "start": 0, "reason": "guard"}]
    # A rule added in place (to a dict of the copy's own) applies from the next document.
    changed.ambiguous = dict(gazetteer.ambiguous)
    changed.find_mentions(text)
    changed.ambiguous["Israel"] = AmbiguityRule("Israel", "ISR", _cues(["Russia"]), None)
    mentions, dropped = changed.find_mentions(text)
    assert mentions == [] and [d["reason"] for d in dropped] == ["guard", "other sense"]
    assert [m.alias for m in gazetteer.find_mentions(text)[0]] == ["Russia", "Israel"]


def test_skipping_guards_changes_nothing(gazetteer: Gazetteer) -> None:
    bare = _without_prefilter(gazetteer)
    for text in _texts():
        for variant in (text, text.upper(), text.lower()):
            assert gazetteer.find_mentions(variant) == bare.find_mentions(variant), variant
    for text in GUARDED:
        assert any(d["reason"] == "guard" for d in gazetteer.find_mentions(text)[1]), text


def test_guards_are_skipped_where_they_cannot_match(
    gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []
    covered = Gazetteer._covered

    def spy(guards, start, end, text, *found):  # noqa: ANN001, ANN002, ANN202
        tried.append(text[start:end])
        return covered(guards, start, end, text, *found)

    monkeypatch.setattr(Gazetteer, "_covered", staticmethod(spy))
    mentions, dropped = gazetteer.find_mentions("Russia and Israel renewed their hotline.")
    assert len(mentions) == 2 and not dropped
    # Every guard naming Russia or Israel needs a string this document lacks.
    assert tried == []
    gazetteer.find_mentions("The Washington Post quoted Russia Today on Israel.")
    assert "Washington" in tried


@pytest.mark.parametrize(
    ("pattern", "body", "full"),
    [
        (
            r"(?:The\s+)?Moscow\s+Times|Russia\s+Today",
            [{"Moscow", "Russia"}, {"Times", "Today"}],
            None,
        ),
        (r"(?<=Seattle, )Washington", [{"Washington"}], [{"Seattle, "}, {"Washington"}]),
        (r"Russe(?=,?\s+Bulgaria)", [{"Russe"}], [{"Russe"}, {"Bulgaria"}]),
        (r"(?i:abc)def", [{"def"}], None),
        (r"(?i)abc", [], []),
        (r"a|b?", [], []),
        (r"x(?:ab)*y", [{"x"}, {"y"}], None),
        (r"(?:ab)+c", [{"ab"}, {"c"}], None),
        (r"(?!Foo)Bar", [{"Bar"}], None),
        (r"x(?:a|)y", [{"xay", "xy"}], None),
        (r"(?:a|)", [], []),
        (r"[Mm]ule|D(?:uma|UMA)", [{"Mule", "mule", "Duma", "DUMA"}], None),
    ],
)
def test_required_words(pattern: str, body: list[set[str]], full: list[set[str]] | None) -> None:
    assert sorted(map(sorted, _required_words(pattern, body_only=True))) == sorted(
        map(sorted, body)
    )
    expected = body if full is None else full
    assert sorted(map(sorted, _required_words(pattern))) == sorted(map(sorted, expected))


def test_required_words_are_in_every_match(gazetteer: Gazetteer) -> None:
    patterns = [*gazetteer._guard_patterns, gazetteer._guards_any.pattern]
    matched = 0
    for text in _texts():
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                matched += 1
                inside = text[m.start() : m.end()]
                for words in _required_words(pattern, body_only=True):
                    assert any(w in inside for w in words), (pattern, inside, words)
                for words in _required_words(pattern):
                    assert any(w in text for w in words), (pattern, text, words)
    assert matched >= len(GUARDED)


@pytest.mark.parametrize("searched", ["compiled", "pure"])
def test_cues_found_from_the_automata(
    gazetteer: Gazetteer, pure_gazetteer: Gazetteer, searched: str
) -> None:
    if searched == "pure":
        gazetteer = pure_gazetteer
    texts = [
        *_texts(),
        "Voters in ATLANTA, Georgia queued in the COUNTY.",
        "Atlantans queued in the COUNTıES of Georgia.",  # "ı" matches "i" in the pattern
        "Georgia's governor spoke in Tbilisi.",
        "Jordan's basketball team; Amman.",
        "Lebanon, Pennsylvania and the Lebanon township.",
        "Washington state's governor Inslee, in Seattle.",
        "Poutine with cheese curds and gravy; Poutine au Kremlin.",
        "Turkey roasting in the oven; Ankara.",
        "_Atlanta_ county_ governor",
    ]
    rules = [c for r in gazetteer.ambiguous.values() for c in (r.against, r.support) if c]
    hits = 0
    for text in texts:
        lowered = text.replace("İ", "I").lower()
        _, cased, folded, others = gazetteer._matches(text)
        assert frozenset(others) == frozenset(c for c in text if not c.isascii())
        found = (
            gazetteer._occurrences(gazetteer._cased, cased),
            gazetteer._occurrences(gazetteer._folded, folded),
            others,
        )
        for cues in rules:
            expected = cues.found(text, lowered)
            hits += expected
            assert gazetteer._found(cues, text, found) == expected, (text, cues.cased)
    assert hits >= 10


def test_cues_that_match_other_cases_of_ascii_letters_use_the_pattern() -> None:
    assert _cues(["peach", "Atlanta", "fromage en grains"]).ascii_exact
    # The dotless "ı" matches "I" and "i": an ASCII text may match without the cue in it.
    assert not _cues(["kırmızı"]).ascii_exact
    assert re.search(_cues(["kırmızı"]).pattern, "KIRMIZI")


def test_fast_mentions_are_mentions() -> None:
    made = _make_tuple(Mention, ("RUS", "Russia", "name", 3, 9, "Russia"))
    plain = Mention("RUS", "Russia", "name", 3, 9, "Russia")
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert type(made) is Mention and made.as_dict() == plain.as_dict()
    assert (made.actor, made.start, made.end, made.surface) == ("RUS", 3, 9, "Russia")
    with pytest.raises(AttributeError):
        made.start = 4  # type: ignore[misc]


def test_gazetteer_without_guards_or_rules() -> None:
    g = Gazetteer(
        {
            "actors": {
                "RUS": {"name": "Russia", "aliases": {"name": ["Russia", "kremlin", "Russ*"]}},
                "ISR": {"name": "Israel", "aliases": {"name": ["Israel"]}},
            }
        }
    )
    detection = g.detect("Russians and Israel met. The KREMLIN agreed with Israel.")
    assert [(m.surface, m.actor) for m in detection.mentions] == [
        ("Russians", "RUS"),
        ("Israel", "ISR"),
        ("KREMLIN", "RUS"),
        ("Israel", "ISR"),
    ]
    assert [e.text for e in detection.pairs[("ISR", "RUS")]] == [
        "Russians and Israel met.",
        "The KREMLIN agreed with Israel.",
    ]


def test_guard_whose_look_behind_reaches_before_the_window() -> None:
    g = Gazetteer(
        {
            "actors": {"XLD": {"name": "Land", "aliases": {"name": ["Landia"]}}},
            "guards": [r"(?<=Prefix: )K+ Landia(?: Prefix)?"],
        }
    )
    # The guard's match starts 45 characters before the mention, so the text its
    # look-behind needs lies partly before the 50 characters guards may reach back.
    text = "Intro. Prefix: " + "K" * 44 + " Landia Prefix sat. Landia too."
    mentions, dropped = g.find_mentions(text)
    assert dropped == [{"text": "Landia", "start": text.index("Landia"), "reason": "guard"}]
    assert mentions == _without_prefilter(g).find_mentions(text)[0]
    assert _reach_back(r"(?<=Prefix: )K+ Landia(?: Prefix)?") == 8
    assert _reach_back(r"(?:(?<=ab)|(?<=abc))x(?<!yy)") == 7


def test_fast_yaml_loader_reads_the_shipped_gazetteer_alike(tmp_path: Path) -> None:
    import yaml

    text = (Path(__file__).parent.parent / "dyadwatch" / "gazetteer.yaml").read_text(
        encoding="utf-8"
    )
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)
    # A file libyaml rejects is reported with the Python loader's message, as before.
    bad = tmp_path / "bad.yaml"
    bad.write_text("actors:\n  A: {name: x\n  B: 1\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"(?s)line 3.*expected ',' or '\}', but got ':'"):
        load_gazetteer(str(bad))


def test_automata_outside_ascii_are_skipped_only_where_they_cannot_match(
    gazetteer: Gazetteer, pure_gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both searches (the compiled one and the automata of bytes) skip the patterns
    outside ASCII where the text holds none of their characters: they find what a search
    of every text for them finds."""
    texts = [
        "РОССИЯ И ИЗРАИЛЬ",
        "россияне и израильтяне; Кремлёвский пул",
        "ישראל ורוסיה",
        "ΣΟΦΙΑ — Rusia y Israel; EJÉRCITO RUSO",
        "Russia — Israel",
        *[t for t in _texts() if not t.isascii()],
    ]
    texts += [t.upper() for t in texts] + [t.lower() for t in texts]
    skipping = [gazetteer.find_mentions(t) for t in texts]
    hits = Gazetteer._hits

    def every_automaton(matcher, text, haystack, chars=None, others=True, data=None):  # noqa: ANN001, ANN202
        # (The UTF-8 the patterns outside ASCII are searched in, made here if not given.)
        data = haystack if chars is None else chars.encode("utf-8", "surrogatepass")
        return hits(matcher, text, haystack, chars, True, data)

    assert [pure_gazetteer.find_mentions(t) for t in texts] == skipping
    monkeypatch.setattr(Gazetteer, "_hits", staticmethod(every_automaton))
    assert [pure_gazetteer.find_mentions(t) for t in texts] == skipping
    assert sum(len(m) for m, _ in skipping) > 100


def test_the_common_breaks_are_no_word_characters() -> None:
    from dyadwatch.actors import _BREAKS, _is_word

    assert _BREAKS and not any(_is_word(ch) for ch in _BREAKS)
