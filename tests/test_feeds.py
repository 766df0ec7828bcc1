"""Feed parsing and URL canonicalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from dyadwatch.feeds import FeedError, canonical_url, html_to_text, parse_feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def test_rss_relative_links_duplicates_and_dates() -> None:
    feed = parse_feed(
        (FEEDS / "rss_relative_links.xml").read_bytes(), "https://ledger.example/world/rss"
    )
    assert feed.title == "Harbour Ledger World"
    assert [e.guid for e in feed.entries] == ["ledger-0001", "ledger-0002", "ledger-0003"]
    first, second, third = feed.entries
    assert first.link == "https://ledger.example/world/envoys-meet?utm_source=rss&id=7#top"
    assert first.summary == "Russian and Israeli envoys met in Vienna."
    assert first.published == "2026-11-16T06:00:00+00:00"
    assert second.published is None
    assert third.link == "https://ledger.example/world/notes/undated"
    assert third.published is None


def test_atom() -> None:
    feed = parse_feed((FEEDS / "atom_basic.xml").read_bytes(), "https://wire.example/atom")
    assert [(e.guid, e.link, e.published) for e in feed.entries] == [
        ("tag:wire.example,2026:a1", "https://wire.example/a/1", "2026-11-20T09:00:00+00:00"),
        ("tag:wire.example,2026:a2", "https://wire.example/a/2", "2026-11-19T18:30:00+00:00"),
    ]
    assert feed.entries[1].summary == "Iran replied to Russia."


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<!doctype html><html><body><p>Hello</p></body></html>",
        bytes(range(256)) * 4,
    ],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, "https://x.example/feed")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example:443/a/b?utm_source=x&id=2#frag", "https://news.example/a/b?id=2"),
        ("http://news.example:80", "http://news.example/"),
        ("https://news.example/a?fbclid=1&gclid=2", "https://news.example/a"),
        ("https://news.example:8443/a", "https://news.example:8443/a"),
        # Redirect wrappers that carry their target are unwrapped, then normalised.
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://News.Example/a%3Futm_medium%3Dx&ct=ga",
            "https://news.example/a",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fnews.example%2Fb&h=AT0",
            "https://news.example/b",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?url=https%3A%2F%2Fnews.example%2Fc",
            "https://news.example/c",
        ),
        # A wrapper without a usable target stays as it is.
        (
            "https://www.google.com/url?q=javascript:alert(1)",
            "https://www.google.com/url?q=javascript%3Aalert%281%29",
        ),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_html_to_text_keeps_paragraphs() -> None:
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four</p>") == "One & two\nThree\nfour"
