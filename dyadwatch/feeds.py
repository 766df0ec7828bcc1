"""Parse RSS and Atom feeds into entries, and normalise article URLs."""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlunparse

import feedparser

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|smid|ref_src)$", re.I
)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")


class FeedError(ValueError):
    """Bytes that are not a usable feed."""


@dataclass
class Entry:
    """One feed item, with what is needed to fetch and store its article."""

    guid: str
    link: str
    title: str
    summary: str
    published: str | None
    author: str | None = None


@dataclass
class ParsedFeed:
    """A parsed feed: its own title and link, and its entries in feed order."""

    title: str | None
    link: str | None
    entries: list[Entry]
    warning: str | None = None


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment, default ports and tracking parameters."""
    parts = urlparse(url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    if (scheme, netloc.rsplit(":", 1)[-1]) in (("http", "80"), ("https", "443")):
        netloc = netloc.rsplit(":", 1)[0]
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMS.match(k)
        ]
    )
    return urlunparse((scheme, netloc, parts.path or "/", parts.params, query, ""))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment such as a feed summary."""
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\s*/?>", "\n", fragment or "")
    text = html.unescape(_TAG.sub(" ", text))
    lines = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _date(entry: dict) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # the plain lookup: no deprecated key aliasing
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC).isoformat()
            except (OverflowError, ValueError):
                continue
    return None


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; relative links are resolved against ``url``.

    Raises :class:`FeedError` when the bytes hold no feed at all (an HTML page, an empty
    or binary body). A feed that parses with warnings (feedparser's "bozo") but yields
    entries is accepted, with the warning kept.
    """
    if not content.strip():
        raise FeedError("empty body")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    version = parsed.get("version") or ""
    if not parsed.entries and (parsed.bozo or not version):
        reason = parsed.get("bozo_exception") or "no RSS or Atom elements found"
        raise FeedError(f"not a feed ({reason})")
    seen: set[str] = set()
    entries: list[Entry] = []
    base = parsed.feed.get("link") or url
    for item in parsed.entries:
        link = item.get("link") or ""
        link = urljoin(url, link) if link else ""
        guid = (item.get("id") or link or item.get("title") or "").strip()
        if not guid or guid in seen:
            continue
        seen.add(guid)
        summary = html_to_text(item.get("summary") or item.get("description") or "")
        entries.append(
            Entry(
                guid=guid,
                link=link,
                title=html_to_text(item.get("title") or "").replace("\n", " "),
                summary=summary,
                published=_date(item),
                author=item.get("author"),
            )
        )
    warning = str(parsed.get("bozo_exception")) if parsed.bozo else None
    return ParsedFeed(title=parsed.feed.get("title"), link=base, entries=entries, warning=warning)
