"""Data-driven feed-parsing cases, in the style of feedparser's own test suite.

Every file in ``fixtures/feeds/cases/`` is one odd feed (or non-feed) and holds exactly one
comment ``<!-- expect: {...} -->`` whose JSON object (ASCII only, ``\\u`` escapes for other
characters) states what :func:`dyadwatch.feeds.parse_feed` must make of it. The comment is cut
out before parsing, so the bytes parsed are the rest of the file (which lets a case have an
empty body). Keys, all optional:

``url``, ``content_type``
    Passed to ``parse_feed`` (default URL ``https://cases.example/feed.xml``, no content type).
``error``
    ``parse_feed`` must raise :class:`FeedError` with this substring in its message.
``error_allowed``
    A :class:`FeedError` is an acceptable outcome (hostile input that may be rejected);
    the other keys apply only when the feed parses.
``entries``
    Number of entries.
``titles``, ``links``, ``guids``, ``published``
    Exact per-entry lists of those :class:`Entry` fields (``published`` may hold nulls).
``title_contains``, ``summary_contains``
    Entry *i*'s title (summary) contains the *i*-th string.
``feed_title``, ``ttl_s``
    Exact :class:`ParsedFeed` fields.
``warning``
    Whether ``ParsedFeed.warning`` is set.
``max_title_len``
    Feed and entry titles are shorter than this.
``not_contains``
    None of these strings appears in the feed title or any entry title or summary.
``description``
    Free text saying what the case is about; not checked.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from dyadwatch.feeds import Entry, FeedError, ParsedFeed, parse_feed

CASES = Path(__file__).parent / "fixtures" / "feeds" / "cases"
EXPECT = re.compile(rb"<!--\s*expect:\s*(\{.*?\})\s*-->", re.DOTALL)
DEFAULT_URL = "https://cases.example/feed.xml"
MAX_SECONDS = 10.0
KNOWN_KEYS = {
    "url",
    "content_type",
    "error",
    "error_allowed",
    "entries",
    "titles",
    "links",
    "guids",
    "published",
    "title_contains",
    "summary_contains",
    "feed_title",
    "ttl_s",
    "warning",
    "max_title_len",
    "not_contains",
    "description",
}
EXACT_LISTS = {"titles": "title", "links": "link", "guids": "guid", "published": "published"}
CONTAINS_LISTS = {"title_contains": "title", "summary_contains": "summary"}


def load_case(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The body to parse (the file without its expect comment) and the expectation."""
    raw = path.read_bytes()
    matches = list(EXPECT.finditer(raw))
    assert len(matches) == 1, f"{path.name}: needs exactly one <!-- expect: {{...}} --> comment"
    match = matches[0]
    expect = json.loads(match.group(1).decode("ascii"))
    assert isinstance(expect, dict), f"{path.name}: the expectation must be a JSON object"
    unknown = set(expect) - KNOWN_KEYS
    assert not unknown, f"{path.name}: unknown expectation keys {sorted(unknown)}"
    return raw[: match.start()] + raw[match.end() :], expect


def check_feed(feed: ParsedFeed, expect: dict[str, Any]) -> None:
    """Assert every expectation key that concerns a parsed feed."""
    entries: list[Entry] = feed.entries
    if "entries" in expect:
        assert len(entries) == expect["entries"], [e.title for e in entries]
    for key, field in EXACT_LISTS.items():
        if key in expect:
            assert [getattr(e, field) for e in entries] == expect[key], key
    for key, field in CONTAINS_LISTS.items():
        if key in expect:
            values = [getattr(e, field) for e in entries]
            assert len(values) >= len(expect[key]), f"{key}: only {len(values)} entries"
            for needle, value in zip(expect[key], values, strict=False):
                assert needle in value, f"{key}: {needle!r} not in {value!r}"
    if "feed_title" in expect:
        assert feed.title == expect["feed_title"]
    if "ttl_s" in expect:
        assert feed.ttl_s == expect["ttl_s"]
    if "warning" in expect:
        assert bool(feed.warning) is expect["warning"], f"warning: {feed.warning!r}"
    titles = [feed.title or ""] + [e.title for e in entries]
    if "max_title_len" in expect:
        assert all(len(title) < expect["max_title_len"] for title in titles)
    if "not_contains" in expect:
        texts = titles + [e.summary for e in entries]
        for needle in expect["not_contains"]:
            assert not any(needle in text for text in texts), f"{needle!r} leaked"


@pytest.mark.parametrize("path", sorted(CASES.glob("*")), ids=lambda path: path.name)
def test_feed_case(path: Path) -> None:
    """Parse one case file and check what its expect comment says."""
    body, expect = load_case(path)
    url = expect.get("url", DEFAULT_URL)
    content_type = expect.get("content_type")
    started = time.monotonic()
    if "error" in expect:
        with pytest.raises(FeedError, match=re.escape(expect["error"])):
            parse_feed(body, url, content_type)
    else:
        try:
            feed = parse_feed(body, url, content_type)
        except FeedError:
            if not expect.get("error_allowed"):
                raise
        else:
            check_feed(feed, expect)
    assert time.monotonic() - started < MAX_SECONDS, "parsing took too long"
