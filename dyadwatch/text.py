"""Text normalisation and sentence segmentation.

Documents are normalised once, when they are stored, so every offset dyadwatch records
(mentions, evidence sentences) points into the stored ``documents.text`` as it is.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

# Characters that only affect rendering or line breaking; removed outright.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)
# Typographic quotes and apostrophes become their ASCII forms so aliases need one spelling.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
    }
)


# Lone surrogates (from a broken "\ud83d" escape in a feed, say) are not text: no encoder,
# SQLite or the matcher included, accepts them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalise(text: str) -> str:
    """NFKC-normalise, drop invisible characters, unify quotes and collapse line noise;
    lone surrogates become U+FFFD."""
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Trailing spaces and runs of blank lines carry no meaning; keep paragraph breaks.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# The last text seen by ``utf8`` and ``lower_copy``, and what they made of it.
_LAST_UTF8: tuple[str, bytes, str] = ("", b"", "")
_LAST_LOWERED: tuple[str, str] = ("", "")
_ASCII_BYTES = bytes(range(128))


def utf8(text: str) -> tuple[bytes, str]:
    """``text`` in UTF-8 (lone surrogates kept), and its characters outside ASCII in order.

    The last result is kept: detection and topic scoring of one document both need them.
    (Removing the ASCII bytes from the encoded text is much faster than looking at each
    character.)
    """
    global _LAST_UTF8
    last = _LAST_UTF8
    if last[0] is text:
        return last[1], last[2]
    data = text.encode("utf-8", "surrogatepass")
    rest = (
        ""
        if text.isascii()
        else data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    )
    _LAST_UTF8 = (text, data, rest)
    return data, rest


def lower_copy(text: str) -> str:
    """``text`` in lower case, offset for offset: "İ", the one character whose lower case
    is two characters long, becomes "i".

    The last result is kept: detection and topic scoring both need the copy of the same
    document, and making it twice would cost as much as a search of the text.
    """
    global _LAST_LOWERED
    last = _LAST_LOWERED
    if last[0] is text:
        return last[1]
    if text.isascii():
        lowered = text.lower()
    else:
        # Most texts are ASCII but for a few characters (dashes, accented names) that
        # lower-casing leaves alone: then only A-Z change, and lower-casing the UTF-8 bytes
        # (which touches A-Z only) is twice as fast as lower-casing the characters.
        data, rest = utf8(text)
        if rest.lower() == rest:
            lowered = data.lower().decode("utf-8", "surrogatepass")
        else:
            lowered = text.replace("İ", "I").lower()
    _LAST_LOWERED = (text, lowered)
    return lowered


def lower_utf8(text: str) -> tuple[bytes, bool]:
    """``lower_copy(text)`` in UTF-8 (lone surrogates kept), and whether each of its
    characters takes as many bytes as in the text's UTF-8. It is made from the text's
    UTF-8 where lower-casing only changes A-Z, as in most texts."""
    data, rest = utf8(text)
    if rest.lower() == rest:
        return data.lower(), True
    return lower_copy(text).encode("utf-8", "surrogatepass"), False


# Words after which a full stop does not end a sentence.
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cpt",
        "sgt",
        "adm",
        "cmdr",
        "gov",
        "sen",
        "rep",
        "rev",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "approx",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "pres",
        "amb",
        "hon",
        "gens",
        "messrs",
        "univ",
        "ave",
        "blvd",
    ]
)
# Dotted initialisms: "U.S." may end a sentence, but usually does not.
_INITIALISM = re.compile(r"(?:\b[A-Za-z]\.){2,}$")
SENTENCE_STARTERS = frozenset(
    [
        "The",
        "A",
        "An",
        "It",
        "Its",
        "This",
        "That",
        "These",
        "Those",
        "He",
        "She",
        "They",
        "We",
        "I",
        "In",
        "On",
        "At",
        "But",
        "And",
        "Yet",
        "So",
        "Meanwhile",
        "However",
        "Still",
    ]
)
# Possessive quantifiers and the look-behind (only the first mark of a run may start a
# match) keep this linear: "......" or "a. a. a. …" cannot make the engine backtrack. The
# pattern opens with the mark itself, not the look-behind, so the engine skips ahead to the
# next mark instead of trying every position ("(?<!M)M++" and "M(?<!MM)M*+" match alike).
_BOUNDARY = re.compile(r"[.!?…؟。](?<![.!?…؟。]{2})[.!?…؟。]*+[\"')\]]*+\s+")
# What the splitter searches for: the boundaries not followed by a lower-case ASCII letter.
# A boundary followed by a lower-case letter never ends a sentence, so leaving it to the
# engine changes nothing: the attempt fails as a whole (every quantifier is possessive, so
# "\s++" takes all the white space as "\s+" does and cannot give some back to please the
# look-ahead), and no boundary can start inside it (its marks after the first, closers and
# white space start none), so the engine goes on to the boundary a plain search finds next.
_BREAK = re.compile(r"[.!?…؟。](?<![.!?…؟。]{2})[.!?…؟。]*+[\"')\]]*+\s++(?![a-z])")
# The same for a line whose only marks are full stops, as are nearly all: there every
# boundary opens with a full stop, so both patterns find the same ones, and a pattern
# opening with one character is searched for many times faster than one opening with a
# set of characters.
_FULL_STOP_BREAK = re.compile(r"\.(?<![.!?…؟。]{2})[.!?…؟。]*+[\"')\]]*+\s++(?![a-z])")
# The marks that end sentences besides the full stop.
_OTHER_MARKS = "!?…؟。"
# An abbreviation, "no"/"nos" or an initial is never longer than this; nor is its lower
# case form (lower-casing never makes a string shorter).
_LONGEST_ABBREVIATION = max(map(len, ABBREVIATIONS | {"no", "nos"}))


def other_marks(text: str) -> list[int]:
    """Where ``text`` holds a mark ending sentences other than the full stop, in order:
    a line none of them is in can be split with the faster pattern (``full_stops``)."""
    found: list[int] = []
    for mark in _OTHER_MARKS:
        if mark in text:  # (much cheaper than a first ``find`` that finds nothing)
            at = text.find(mark)
            while at != -1:
                found.append(at)
                at = text.find(mark, at + 1)
    found.sort()
    return found


def only_full_stops(marks: list[int], lo: int, hi: int) -> bool:
    """Whether ``text[lo:hi]`` holds none of the marks ``marks = other_marks(text)``."""
    i = bisect.bisect_left(marks, lo)
    return i == len(marks) or marks[i] >= hi


def sentences(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; return ``(start, end)`` offsets of each, trimmed.

    Each line is a unit of its own (headlines, captions and list items have no full stop),
    and a line is split after ``.``, ``!``, ``?`` followed by white space, except after
    common abbreviations (Mr., Gen., Dr.) and single initials, and after dotted
    initialisms (U.S.) unless the next word is a typical sentence opener.
    """
    spans: list[tuple[int, int]] = []
    marks = other_marks(text)
    size = len(text)
    lo = 0
    while lo <= size:
        hi = text.find("\n", lo)
        if hi == -1:
            hi = size
        if lo < hi:
            full_stops = not marks or only_full_stops(marks, lo, hi)
            start = lo
            for end in sentence_ends(text, lo, hi, hi, full_stops):
                _add(spans, text, 0, start, end)
                start = end
        lo = hi + 1
    return spans


def line_sentences(line: str, offset: int = 0) -> list[tuple[int, int]]:
    """The sentences of one line (no newline inside), as offsets shifted by ``offset``."""
    if not line or line.isspace():
        return []
    return sentences_between(line, 0, len(line), offset)


def sentences_between(
    text: str, lo: int, hi: int, offset: int = 0, full_stops: bool = False
) -> list[tuple[int, int]]:
    """The sentences of ``text[lo:hi]``, a line holding something else than white space
    (no newline inside), as offsets into ``text`` shifted by ``offset``; the line is not
    copied. ``full_stops`` is as for ``sentence_ends``."""
    spans: list[tuple[int, int]] = []
    start = lo
    for end in sentence_ends(text, lo, hi, hi, full_stops):
        _add(spans, text, offset, start, end)
        start = end
    return spans


def sentence_ends(text: str, lo: int, hi: int, until: int, full_stops: bool = False) -> list[int]:
    """Where the sentences of ``text[lo:hi]``, a line (no newline inside), end, white space
    included: each runs from ``lo`` or the end of the one before to its end, the last one
    to ``hi``. The list stops at the first end beyond ``until``. ``full_stops`` tells that
    the line holds no mark but the full stop (``only_full_stops``), to search it faster.
    (The boundary pattern only looks at the line: what it examines before ``lo`` is a
    newline or nothing, and neither is a mark; ``hi`` ends the text for it.)"""
    ends: list[int] = []
    search = (_FULL_STOP_BREAK if full_stops else _BREAK).search
    start = pos = lo
    # (A loop of searches, each from where the last match ended, finds what ``finditer``
    # finds, with less work per match.)
    while (m := search(text, pos, hi)) is not None:
        end = pos = m.end()
        if end >= hi:
            break
        mark = m.start()
        if text[mark] == ".":
            # The word before the mark, found without copying the rest of the line (which
            # would make long lines quadratic); the mark is the first of its run, so the
            # word ends with no other full stop to strip.
            first = text.rfind(" ", start, mark) + 1
            if first < start:
                first = start
            word = text[first:mark].lstrip("\"'([")
            if len(word) <= _LONGEST_ABBREVIATION:  # (a longer word is none of these)
                bare = word.lower()
                if bare in ABBREVIATIONS or (len(bare) == 1 and bare.isalpha()):
                    continue
                if bare in ("no", "nos") and text[end].isdigit():  # "No. 10 Downing Street"
                    continue
            # (An initialism ends "X.Y.": the pattern is only tried on such words.)
            if (
                mark - first >= 3
                and text[mark - 2] == "."
                and _INITIALISM.search(text[first : mark + 1])
            ):
                space = text.find(" ", end, hi)
                nxt = text[end : space if space != -1 else hi]
                if nxt.strip("\"'(") not in SENTENCE_STARTERS:
                    continue
        # The first character of the next word (the boundary took all the white space):
        # the pattern has already ruled out a lower-case ASCII letter.
        following = text[end]
        if following > "\x7f" and following.islower():
            continue
        ends.append(end)
        if end > until:
            return ends
        start = end
    ends.append(hi)
    return ends


def _add(spans: list[tuple[int, int]], text: str, offset: int, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    s = offset + start + lead
    spans.append((s, s + len(stripped)))
