"""Parse RSS and Atom feeds into entries, and normalise article URLs.

Feeds in the wild lie about their encoding, put blank lines before the XML declaration,
serve HTML, repeat GUIDs and wrap links in redirectors. :func:`parse_feed` decodes the
bytes itself first (BOM, then the HTTP charset, then the XML declaration, each only if the
bytes really decode that way, then a guess from the bytes), hands feedparser clean UTF-8,
and returns entries with absolute links, unique GUIDs and sane dates (or none).
"""

from __future__ import annotations

import calendar
import codecs
import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlunparse

import feedparser

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|smid|ref_src)$", re.I
)
# Redirect wrappers that carry their target in a query parameter: host -> parameters.
WRAPPERS: dict[str, tuple[str, ...]] = {
    "www.google.com": ("url", "q"),
    "google.com": ("url", "q"),
    "news.google.com": ("url",),
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "www.bing.com": ("url",),
    "t.umblr.com": ("z",),
    "out.reddit.com": ("url",),
    "away.vk.com": ("to",),
}
FUTURE_SLACK_S = 86400  # a date further ahead than this is a typo or a time-zone bug
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
    """A parsed feed: its own title and link, and its entries in feed order.

    ``ttl_s`` is how often the feed says it may be polled at most (RSS ``ttl`` or
    ``sy:updatePeriod``/``sy:updateFrequency``), in seconds; ``encoding`` is how its bytes
    were decoded.
    """

    title: str | None
    link: str | None
    entries: list[Entry]
    warning: str | None = None
    ttl_s: int | None = None
    encoding: str | None = None


def unwrap(url: str) -> str:
    """The target of a known redirect wrapper (Google, Facebook, Bing, …), else ``url``."""
    for _ in range(3):  # wrappers wrapping wrappers, but not forever
        try:
            parts = urlparse(url.strip())
        except ValueError:
            return url
        params = WRAPPERS.get(parts.netloc.lower())
        if not params:
            return url
        query = dict(parse_qsl(parts.query))
        target = next(
            (query[p] for p in params if query.get(p, "").startswith(("http://", "https://"))),
            None,
        )
        if target is None:
            return url
        url = target
    return url


def canonical_url(url: str) -> str:
    """The URL an article is known by: redirect wrappers removed, scheme and host in lower
    case, no fragment, default port or tracking parameters."""
    parts = urlparse(unwrap(url).strip())
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
    """The entry's date as ISO 8601 UTC; none when missing, unparseable or in the future."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # the plain lookup: no deprecated key aliasing
        if value:
            try:
                stamp = calendar.timegm(value)
            except (OverflowError, ValueError, TypeError):
                continue
            if stamp > time.time() + FUTURE_SLACK_S or stamp < 0:
                continue
            return datetime.fromtimestamp(stamp, UTC).isoformat()
    return None


SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def _ttl(feed: dict) -> int | None:
    """The feed's own minimum refresh interval in seconds, from ``ttl`` or ``sy:``."""
    found = []
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        found.append(int(ttl) * 60)
    period = SY_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period:
        frequency = str(feed.get("sy_updatefrequency") or "1").strip()
        found.append(period // max(1, int(frequency) if frequency.isdigit() else 1))
    return max(found) if found else None


_XML_DECL = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<\?xml[^>]*\?>", re.S)
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_BOMS = [
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_feed(content: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode feed bytes to text; returns ``(text, encoding)``.

    A byte-order mark wins, then UTF-8 if the bytes are valid UTF-8; otherwise the first of
    the HTTP charset and the XML declaration's encoding that decodes the bytes; failing
    those, the encoding is guessed from the bytes (cp1251 declared as UTF-8, undeclared
    KOI8-R or windows-1255).
    The XML declaration is dropped (the text is no longer in the declared encoding).
    """
    for bom, name in _BOMS:
        if content.startswith(bom):
            try:
                text = content.decode(name)
            except UnicodeDecodeError:
                break
            return _drop_declaration(text), name
    if not content.isascii():
        # Valid UTF-8 with non-ASCII letters is almost never anything else, while single-byte
        # charsets (cp1251, latin-1) decode any bytes: a header or declaration naming one
        # for UTF-8 bytes must not turn the text into mojibake.
        try:
            return _drop_declaration(content.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            pass
    declared: list[str] = []
    match = _CHARSET.search(content_type or "")
    for name in (match.group(1) if match else None, _declaration_encoding(content), "utf-8"):
        codec = _codec(name)
        if codec and codec not in declared:
            declared.append(codec)
    for codec in declared:
        try:
            return _drop_declaration(content.decode(codec)), codec
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(content[:200_000]).best()
    codec = _codec(best.encoding) if best else None
    codec = codec or "cp1252"
    return _drop_declaration(content.decode(codec, errors="replace")), codec


def _declaration_encoding(content: bytes) -> bytes | None:
    decl = _XML_DECL.match(content[:1024])
    if not decl:
        return None
    found = _DECL_ENCODING.search(decl.group(0))
    return found.group(1) if found else None


def _drop_declaration(text: str) -> str:
    text = text.lstrip("\ufeff \t\r\n")
    match = re.match(r"(?:<!--.*?-->\s*)*<\?xml[^>]*\?>", text, re.S)
    return text[match.end() :].lstrip() if match else text


_ALTERNATE = re.compile(r"<link\b[^>]*>", re.I)
_ATTR = re.compile(r"""([\w-]+)\s*=\s*(["'])(.*?)\2""")


def discover_feed(page: str, url: str) -> str | None:
    """The feed an HTML page advertises with ``<link rel="alternate" type=…rss/atom…>``."""
    for tag in _ALTERNATE.findall(page[:200_000]):
        attrs = {k.lower(): v for k, _, v in _ATTR.findall(tag)}
        if "alternate" in attrs.get("rel", "").lower().split() and re.search(
            r"(rss|atom)\+xml", attrs.get("type", ""), re.I
        ):
            href = html.unescape(attrs.get("href", "")).strip()
            if href:
                return urljoin(url, href)
    return None


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; relative links are resolved against ``url``.

    Raises :class:`FeedError` when the bytes hold no feed at all (an HTML page, an empty
    or binary body). A feed that parses with warnings (feedparser's "bozo") but yields
    entries is accepted, with the warning kept.
    """
    if not content.strip():
        raise FeedError("empty body")
    head = content[:4096]
    if b"\x00" in head and not any(content.startswith(bom) for bom, _ in _BOMS):
        raise FeedError("binary body (not a feed)")
    text, encoding = decode_feed(content, content_type)
    headers = {"content-location": url, "content-type": "application/xml; charset=utf-8"}
    parsed = feedparser.parse(
        '<?xml version="1.0" encoding="utf-8"?>\n' + text,
        response_headers=headers,
        sanitize_html=False,
    )
    version = parsed.get("version") or ""
    if not parsed.entries and (parsed.bozo or not version):
        advertised = discover_feed(text, url) if re.search(r"(?i)<html", text[:5000]) else None
        if advertised:
            raise FeedError(f"not a feed but an HTML page; it advertises a feed at {advertised}")
        reason = parsed.get("bozo_exception") or "no RSS or Atom elements found"
        raise FeedError(f"not a feed ({reason})")
    seen: set[str] = set()
    entries: list[Entry] = []
    base = parsed.feed.get("link") or url
    for item in parsed.entries:
        link = item.get("feedburner_origlink") or item.get("link") or ""
        link = urljoin(url, link.strip()) if link.strip() else ""
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
    return ParsedFeed(
        title=parsed.feed.get("title"),
        link=base,
        entries=entries,
        warning=warning,
        ttl_s=_ttl(parsed.feed),
        encoding=encoding,
    )
