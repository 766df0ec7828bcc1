"""Ingestion end to end: how long the Prefect flow takes to bring in a few hundred pages.

Serves --feeds RSS feeds (default 10) listing --pages article pages (default 300) between
them from a threaded HTTP server on 127.0.0.1, in a process of its own (so that serving does
not compete with the measured code for the GIL). Nothing leaves the machine. The pages are
built from the bundled demo articles (``dyadwatch/demo_site/articles``): each gets its own
headline and an added paragraph that makes its text unique, and the boilerplate of a real
news site (inline CSS and scripts, a large menu, related links, story cards, footer), about
30–60 KB of HTML each. The feeds answer a matching ``If-None-Match`` with 304.

In the same run it measures, as wall time:

* the baseline: a bare loop in one process, one ``httpx.Client``, that GETs every page and
  calls ``trafilatura.extract`` on it (no feeds, no detection, no database);
* the first run: ``flows.monitor.run_once(config, force=True)`` in a fresh subprocess, in
  Prefect's ephemeral mode (``PREFECT_API_URL`` unset, ``PREFECT_HOME`` in a temporary
  folder), end to end: seeds, poll, fetch, extract, detect, store and full-text index, from
  the interpreter's start to its exit (as a user of ``dyadwatch run`` waits for it);
* the empty run: the same command again; every feed must answer 304 and nothing is fetched;
* Prefect's own fixed cost: a subprocess that runs an empty ``@flow`` once with the same
  settings. The first such run, on the fresh ``PREFECT_HOME``, creates Prefect's database:
  it comes before everything else, is shown as the cold start and is not otherwise counted.

Peak memory is each process's VmHWM, read from /proc by the flow's subprocess before it
exits: the subprocess itself ("main") and the largest of its process pool's workers. (Not
``getrusage``: on Linux a process started by fork and exec inherits, in ``ru_maxrss``, the
size of the process that started it.)

Goals (issue): (first run - empty run) at least 1.7x faster than the bare loop on a 2-core
machine; the empty run costs Prefect's start-up plus one conditional GET per feed; peak
memory (the flow's process plus its largest worker) at most 400 MB for a batch of 10,000
articles (``--pages 10000``). The speed and memory goals are printed as MET or NOT MET; for
the empty run, the details show how much it costs beyond Prefect alone.

Prefect's start-up varies by a few seconds from run to run, and first - empty inherits it:
``--repeat 3`` runs three rounds (each on a new corpus) and prints medians.

The pages of this benchmark all come from one host, 127.0.0.1, so the configuration raises
``polling.per_host`` from its default of 2 to 8 (``--per-host``): a real run spreads its
pages over many publishers, and the politeness limit of one host is not what is measured.

The benchmark is also a check: it exits with status 1 when a page is not stored with its
page text, or when the empty run makes any request other than one 304 per feed (not when
a goal is missed).

    python bench/ingest.py [--pages 300] [--feeds 10] [--repeat 1] [--per-host 8]
                           [--concurrency 16]
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import hashlib
import html
import json
import multiprocessing
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from statistics import median
from typing import Any
from xml.sax.saxutils import escape

import httpx
import trafilatura
import yaml
from cpu import busy_seconds, own_seconds  # bench/cpu.py

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "dyadwatch" / "demo_site" / "articles"
SEEDS = ROOT / "seeds"

SPEEDUP_GOAL = 1.7
MEMORY_GOAL_MB = 400
MEMORY_GOAL_PAGES = 10_000
RESULT_MARK = "BENCH-RESULT "
CHILD_TIMEOUT_S = 3600
UNRELIABLE_SHARE = 0.02  # of the cores' time taken by other processes during the benchmark

SITE = "The Demo Gazette"
# Fictional places (those of bench/poll.py), desks and sections; the headline variants and
# sentences below were written for this benchmark.
PLACES = ["Harbourtown", "Lindenfeld", "Port Aveline", "Mossgrove", "Quellbridge", "Tarnwick"]
PLACES_RU = ["Харбортаун", "Линденфельд", "Порт-Авелин", "Моссгроув", "Квеллбридж", "Тарнвик"]
DESKS = ["world", "diplomacy", "security", "business", "regional", "overnight"]
DESKS_RU = ["Мир", "Политика", "Безопасность", "Экономика", "Регионы", "Ночная смена"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HEADLINES_EN = [
    "{t}",
    "{t}, officials say",
    "Analysis: {t}",
    "{t}: what we know so far",
    "Update: {t}",
]
HEADLINES_RU = ["{t}", "{t}: подробности", "Обновлено: {t}"]
OPENERS_EN = [
    "This is dispatch {n} in the Gazette's running coverage, filed by the {desk} desk.",
    "Dispatch {n} of our continuing coverage was put together by the {desk} desk from "
    "reports that arrived overnight.",
    "The {desk} desk prepared this update, dispatch {n}, from notes sent by our "
    "correspondents in {place}.",
]
MIDDLES_EN = [
    "Editors in {place} said further details were expected later in the day.",
    "A spokesperson reached by telephone in {place} declined to add to earlier statements.",
    "Local broadcasters in {place} led their {hour} o'clock bulletin with the news.",
    "Readers in {place} wrote in with questions, and several of them are answered below.",
    "Our correspondent in {place} described the mood there as calm but watchful.",
]
CLOSERS_EN = [
    "This article will be updated as more information becomes available.",
    "An earlier version of this article gave the wrong time for one of the meetings; it has "
    "been corrected.",
    "Our reporters will follow the story through {weekday}'s edition.",
    "Background on the wider story is collected on the {desk} desk's topic page.",
]
OPENERS_RU = [
    "Это сообщение № {n} в нашей хронике событий; его подготовил отдел «{desk}».",
    "Материал № {n} подготовлен отделом «{desk}» по сообщениям наших корреспондентов.",
]
MIDDLES_RU = [
    "Корреспондент в городе {place} сообщает, что обстановка остаётся спокойной.",
    "Редакция в городе {place} ожидает новых подробностей к вечеру.",
    "Местное радио в городе {place} начало с этой новости выпуск в {hour} часов.",
]
CLOSERS_RU = [
    "Материал будет дополняться по мере поступления новых сведений.",
    "В первой версии материала было неверно указано время одной из встреч; ошибка исправлена.",
]
SECTIONS = {
    "World": ["Europe", "Middle East", "Africa", "Americas", "Asia", "Oceania", "Analysis"],
    "Politics": ["Parliament", "Elections", "Policy", "Diplomacy", "Opinion polls"],
    "Business": ["Markets", "Energy", "Companies", "Economy", "Personal finance", "Trade"],
    "Sport": ["Football", "Basketball", "Tennis", "Athletics", "Cycling", "Results"],
    "Culture": ["Books", "Film", "Music", "Museums", "Theatre", "Television"],
    "Food": ["Recipes", "Restaurants", "Markets", "Seasonal", "Drinks"],
    "Science": ["Climate", "Space", "Health", "Technology", "Nature"],
    "Opinion": ["Editorials", "Columnists", "Letters", "Cartoons"],
}


# -- the pages -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Story:
    """One demo article, taken apart: its page is rebuilt around these parts."""

    slug: str
    lang: str
    title: str  # HTML text (entities kept)
    author: str
    description: str
    section: str
    paragraphs: tuple[str, ...]  # inner HTML of the article's <p> elements


def _first(pattern: str, text: str, default: str = "") -> str:
    match = re.search(pattern, text, re.S)
    return match.group(1).strip() if match else default


def load_stories() -> list[Story]:
    """The bundled demo articles, in name order."""
    stories = []
    for path in sorted(ARTICLES.glob("*.html")):
        page = path.read_text(encoding="utf-8")
        article = _first(r"<article[^>]*>(.*?)</article>", page)
        stories.append(
            Story(
                slug=path.stem,
                lang=_first(r'<html lang="([a-z]+)"', page, "en"),
                title=_first(r"<h1>(.*?)</h1>", article),
                author=_first(r'<meta name="author" content="([^"]*)"', page),
                description=_first(r'<meta name="description" content="([^"]*)"', page),
                section=_first(r'<meta property="article:section" content="([^"]*)"', page),
                paragraphs=tuple(re.findall(r"<p>(.*?)</p>", article, re.S)),
            )
        )
    if not stories:
        raise SystemExit(f"no demo articles in {ARTICLES}")
    return stories


def _css() -> str:
    """Inline "critical" CSS, as news sites put in every page (generated, about 8 KB)."""
    rules = [
        "*,*::before,*::after{box-sizing:border-box}",
        "body{margin:0;font:16px/1.6 Georgia,'Times New Roman',serif;color:#1a1a1a}",
    ]
    parts = ["header", "nav", "story", "byline", "card", "related", "most-read", "footer"]
    for part in parts:
        for element, style in [
            ("", "display:block;margin:0 auto;max-width:72rem;padding:0 1rem"),
            ("__title", "font:700 1.25rem/1.25 'Helvetica Neue',Arial,sans-serif;margin:0 0 .5rem"),
            ("__link", "color:inherit;text-decoration:none;border-bottom:1px solid transparent"),
            ("__link:hover", "border-bottom-color:currentColor"),
            ("__meta", "font:400 .8125rem/1.4 'Helvetica Neue',Arial,sans-serif;color:#666"),
            ("__image", "display:block;width:100%;height:auto;aspect-ratio:16/9;background:#eee"),
            ("--dark", "background:#121212;color:#f5f5f5"),
            ("--compact", "padding:.25rem .5rem;gap:.25rem"),
        ]:
            rules.append(f".{part}{element}{{{style}}}")
    for width in (480, 640, 768, 1024, 1280):
        columns = max(1, width // 320)
        rules.append(
            f"@media (min-width:{width}px){{.grid{{grid-template-columns:repeat({columns},1fr)}}"
            f".story{{font-size:{16 + width // 640}px}}.mega-nav__panel{{columns:{columns}}}}}"
        )
    return "".join(rules)


def _site_config() -> str:
    """The site's inline configuration script: ad slots and feature switches (about 4 KB)."""
    config = {
        "site": "demo-gazette",
        "env": "production",
        "ads": {
            "slots": [
                {"id": f"slot-{i}", "sizes": [[300, 250], [728, 90]], "lazy": i > 1}
                for i in range(24)
            ]
        },
        "features": {f"experiment_{i:02d}": i % 3 == 0 for i in range(40)},
        "consent": {"vendors": list(range(1, 60)), "version": 7},
    }
    return f"window.__GAZETTE__ = {json.dumps(config, separators=(',', ':'))};"


def _mega_nav() -> str:
    """The site menu: every section with its sub-sections (about 6 KB)."""
    panels = []
    for section, subs in SECTIONS.items():
        slug = section.lower()
        links = "".join(
            f'<li><a class="nav__link" href="/{slug}/{s.lower().replace(" ", "-")}.html">{s}</a>'
            "</li>"
            for s in subs
        )
        panels.append(
            f'<li class="mega-nav__item"><a class="nav__link" href="/{slug}.html">{section}</a>'
            f'<div class="mega-nav__panel"><ul>{links}</ul></div></li>'
        )
    return f'<nav class="site-nav mega-nav" aria-label="Sections"><ul>{"".join(panels)}</ul></nav>'


def _footer() -> str:
    """The site footer: link columns and the legal notice (about 4 KB)."""
    columns = []
    for heading, links in [
        ("The Gazette", ["About us", "Contact", "Careers", "Corrections", "Ombudsman"]),
        ("Sections", list(SECTIONS)),
        ("Services", ["Newsletters", "Podcasts", "Apps", "Archive", "Crossword", "Events"]),
        ("Advertising", ["Advertise with us", "Media kit", "Partner content"]),
        ("Legal", ["Privacy policy", "Cookie settings", "Terms of use", "Accessibility"]),
    ]:
        items = "".join(
            f'<li><a class="footer__link" href="/{x.lower().replace(" ", "-")}.html">{x}</a></li>'
            for x in links
        )
        columns.append(
            f'<div class="footer__column"><h3 class="footer__title">{heading}</h3><ul>{items}'
            "</ul></div>"
        )
    return (
        f'<footer class="site-footer">{"".join(columns)}<p class="footer__meta">&copy; 2026 '
        f"{SITE}. All rights reserved. {SITE} is a fictional publication; its stories exist "
        "for demonstration purposes only.</p></footer>"
    )


CSS = _css()
SITE_CONFIG = _site_config()
MEGA_NAV = _mega_nav()
FOOTER = _footer()


class Site:
    """The benchmark's news site: feeds and pages, generated from the demo articles.

    Pages are built on request (about half a millisecond each) rather than held in
    memory: a run of 10,000 pages would otherwise keep 450 MB in the server process.
    """

    def __init__(self, pages: int, feeds: int, stories: list[Story], newest: datetime) -> None:
        self.pages, self.feeds, self.stories = pages, feeds, stories
        self.newest = newest
        # The pages' dates are spread over the last three days, the newest ten minutes ago.
        self.step = timedelta(days=3) / pages
        self.base = ""  # set once the server has its port

    def story(self, n: int) -> Story:
        return self.stories[n % len(self.stories)]

    def published(self, n: int) -> datetime:
        return self.newest - self.step * (self.pages - 1 - n)

    def path(self, n: int) -> str:
        story = self.story(n)
        section = re.sub(r"[^a-z]+", "-", story.section.lower()).strip("-") or "news"
        return f"/news/{section}/{n:05d}-{story.slug}.html"

    def headline(self, n: int) -> str:
        """Page ``n``'s headline (HTML text): the demo headline, varied, with its number."""
        story = self.story(n)
        variants = HEADLINES_RU if story.lang == "ru" else HEADLINES_EN
        headline = variants[(n // len(self.stories)) % len(variants)].format(t=story.title)
        return f"{headline} — {'сообщение' if story.lang == 'ru' else 'dispatch'} {n}"

    def extra_paragraph(self, n: int) -> str:
        """A paragraph written for page ``n``: its number and a few varying sentences."""
        if self.story(n).lang == "ru":
            openers, middles, closers = OPENERS_RU, MIDDLES_RU, CLOSERS_RU
            place, desk = PLACES_RU[(n // 7) % len(PLACES_RU)], DESKS_RU[n % len(DESKS_RU)]
        else:
            openers, middles, closers = OPENERS_EN, MIDDLES_EN, CLOSERS_EN
            place, desk = PLACES[(n // 7) % len(PLACES)], DESKS[n % len(DESKS)]
        values = {
            "n": n,
            "desk": desk,
            "place": place,
            "hour": 6 + n % 17,
            "weekday": WEEKDAYS[n % 7],
        }
        sentences = [
            openers[n % len(openers)],
            middles[(n // 3) % len(middles)],
            closers[(n // 11) % len(closers)],
        ]
        return " ".join(s.format(**values) for s in sentences)

    def _card(self, m: int) -> str:
        m %= self.pages
        story = self.story(m)
        image = f"/img/{m:05d}-{story.slug}"
        return (
            f'<article class="card"><a class="card__link" href="{self.path(m)}">'
            f'<img class="card__image" src="{image}-640.jpg" srcset="{image}-320.jpg 320w, '
            f'{image}-640.jpg 640w, {image}-1280.jpg 1280w" sizes="(min-width: 768px) 33vw, '
            f'100vw" width="640" height="360" loading="lazy" alt=""></a>'
            f'<h3 class="card__title"><a class="card__link" href="{self.path(m)}">'
            f'{self.headline(m)}</a></h3><p class="card__meta">{story.description}</p>'
            f'<span class="card__meta">{story.section} &middot; '
            f"{self.published(m):%d %b, %H:%M}</span></article>"
        )

    def page(self, n: int) -> bytes:
        """Page ``n``: a full news page, about 30–60 KB of HTML."""
        story, headline = self.story(n), self.headline(n)
        when = self.published(n)
        iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        url = self.base + self.path(n)
        plain_headline = html.unescape(headline)
        json_ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": plain_headline,
                "datePublished": iso,
                "author": {"@type": "Person", "name": html.unescape(story.author)},
                "publisher": {"@type": "Organization", "name": SITE},
                "mainEntityOfPage": url,
            },
            ensure_ascii=False,
        )
        paragraphs = [f"<p>{p}</p>" for p in story.paragraphs]
        paragraphs.insert(min(2, len(paragraphs)), f"<p>{self.extra_paragraph(n)}</p>")
        related = "".join(
            f'<li><a class="related__link" href="{self.path((n + k) % self.pages)}">'
            f"{self.headline((n + k) % self.pages)}</a></li>"
            for k in range(1, 9)
        )
        most_read = "".join(
            f'<li><a class="most-read__link" href="{self.path((n * 7 + k) % self.pages)}">'
            f"{self.headline((n * 7 + k) % self.pages)}</a></li>"
            for k in range(10)
        )
        cards = "".join(self._card(n + 100 + k) for k in range(16 + n % 25))
        byline = "Автор:" if story.lang == "ru" else "By"
        return f"""<!DOCTYPE html>
<html lang="{story.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{headline} | {SITE}</title>
<meta name="author" content="{story.author}">
<meta name="description" content="{story.description}">
<link rel="canonical" href="{url}">
<meta property="og:site_name" content="{SITE}">
<meta property="og:type" content="article">
<meta property="og:title" content="{headline}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{iso}">
<meta property="article:section" content="{story.section}">
<link rel="alternate" type="application/rss+xml" title="{SITE}" href="/feeds/0.xml">
<style>{CSS}</style>
<script type="application/ld+json">{json_ld}</script>
<script>{SITE_CONFIG}</script>
</head>
<body class="article-page">
<div class="cookie-banner" role="dialog"><p>We use cookies to remember your settings and to
count visits. <a href="/cookie-settings.html">Choose which ones</a>.</p>
<button type="button">Accept all</button><button type="button">Reject all</button></div>
<div class="topbar header--compact"><span class="header__meta">{when:%A %d %B %Y}</span>
<a href="/subscribe.html">Subscribe</a><a href="/sign-in.html">Sign in</a></div>
<header class="site-header"><a class="site-logo" href="/">{SITE}</a>{MEGA_NAV}</header>
<main>
<nav class="breadcrumb" aria-label="Breadcrumb"><a href="/">Home</a> &rsaquo;
<a href="/{story.section.lower()}.html">{story.section}</a></nav>
<article class="story">
<h1>{headline}</h1>
<div class="byline">{byline} <span class="author">{story.author}</span> &middot;
<time datetime="{iso}">{when:%d %B %Y, %H:%M} GMT</time></div>
<figure class="story__figure"><img class="story__image" src="/img/{n:05d}-{story.slug}-1280.jpg"
width="1280" height="720" alt=""></figure>
{chr(10).join(paragraphs)}
<ul class="story__meta share"><li><a href="/share/email?u={n}">Email</a></li>
<li><a href="/share/print?u={n}">Print</a></li><li><a href="/share/copy?u={n}">Copy link</a></li></ul>
</article>
<aside class="related"><h2 class="related__title">Related coverage</h2><ul>{related}</ul></aside>
<section class="most-read"><h2 class="most-read__title">Most read</h2><ol>{most_read}</ol></section>
<section class="more grid"><h2 class="card__title">More from {SITE}</h2>{cards}</section>
<form class="newsletter" action="/newsletters/subscribe" method="post">
<label for="email">The morning briefing, in your inbox before seven</label>
<input id="email" name="email" type="email" autocomplete="email"><button>Sign up</button></form>
</main>
{FOOTER}
<script src="/static/app.3f9c2e.js" defer></script>
<script>window.__GAZETTE__.page = {{"id": {n}, "section": "{story.section}"}};</script>
</body>
</html>
""".encode()

    def feed(self, i: int) -> bytes:
        """Feed ``i``'s RSS 2.0 document: every page whose number is ``i`` modulo the number of
        feeds, newest first."""
        items = []
        for n in reversed(range(i, self.pages, self.feeds)):
            story = self.story(n)
            items.append(
                f"""<item>
<title>{escape(html.unescape(self.headline(n)))}</title>
<link>{self.base}{self.path(n)}</link>
<guid isPermaLink="false">tag:bench.dyadwatch.invalid,2026:page-{n}</guid>
<pubDate>{email.utils.format_datetime(self.published(n), usegmt=True)}</pubDate>
<description>{escape(html.unescape(story.description))}</description>
<category>{escape(html.unescape(story.section))}</category>
</item>"""
            )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>{SITE}: wire {i}</title>
<link>{self.base}/</link>
<description>Fictional news from {SITE}, served by bench/ingest.py.</description>
<language>en</language>
<ttl>60</ttl>
<lastBuildDate>{email.utils.format_datetime(self.newest, usegmt=True)}</lastBuildDate>
{chr(10).join(items)}
</channel>
</rss>
""".encode()


# -- the server ----------------------------------------------------------------------------
FEED_OK, FEED_NOT_MODIFIED, PAGE, OTHER = range(4)
KINDS = ("feed 200", "feed 304", "page", "other")
PAGE_PATH = re.compile(r"^/news/[a-z-]+/(\d{5})-[a-z0-9-]+\.html$")
FEED_PATH = re.compile(r"^/feeds/(\d+)\.xml$")


class SiteServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 for the site, counting requests by kind in memory
    shared with the benchmark's process."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, site: Site, counts: SynchronizedArray) -> None:
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.site, self.counts = site, counts
        host, port = self.server_address[:2]
        site.base = f"http://{host}:{port}"
        self.feeds: dict[int, tuple[bytes, str]] = {}
        for i in range(site.feeds):
            body = site.feed(i)
            self.feeds[i] = (body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def count(self, kind: int) -> None:
        with self.counts.get_lock():
            self.counts[kind] += 1

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that drops its connection is its own business; anything else is a bug
        here and is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SiteHandler(BaseHTTPRequestHandler):
    """Serves ``/feeds/{i}.xml`` (with an ETag: a matching If-None-Match gets a 304) and
    ``/news/{section}/{n}-{slug}.html``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK stall some responses by 40 ms (real servers send them at once).
    disable_nagle_algorithm = True
    server: SiteServer

    def do_GET(self) -> None:
        site = self.server.site
        if match := FEED_PATH.match(self.path):
            feed = self.server.feeds.get(int(match.group(1)))
            if feed is not None:
                body, etag = feed
                tags = self.headers.get("If-None-Match")
                if tags is not None and etag in (t.strip() for t in tags.split(",")):
                    self._answer(304, b"", None, {"ETag": etag})
                    self.server.count(FEED_NOT_MODIFIED)
                else:
                    self._answer(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
                    self.server.count(FEED_OK)
                return
        elif (match := PAGE_PATH.match(self.path)) and int(match.group(1)) < site.pages:
            n = int(match.group(1))
            if self.path == site.path(n):
                self._answer(200, site.page(n), "text/html; charset=utf-8")
                self.server.count(PAGE)
                return
        self._answer(404, b"not found\n", "text/plain")
        self.server.count(OTHER)

    def _answer(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a benchmark does not log every request."""


class Counts:
    """The server's request counts, read from the benchmark's process."""

    def __init__(self, shared: SynchronizedArray) -> None:
        self.shared = shared

    def snapshot(self) -> tuple[int, ...]:
        with self.shared.get_lock():
            return tuple(self.shared)

    def since(self, before: tuple[int, ...]) -> dict[str, int]:
        return {k: a - b for k, a, b in zip(KINDS, self.snapshot(), before, strict=True)}


def start_site(pages: int, feeds: int) -> tuple[Site, Counts, multiprocessing.Process, list[str]]:
    """Start the site's server in a process of its own (forked before any thread exists);
    the site, its request counts, the process and the feeds' ETags."""
    newest = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    site = Site(pages, feeds, load_stories(), newest)
    context = multiprocessing.get_context("fork")
    shared = context.Array("q", len(KINDS))
    server = SiteServer(site, shared)
    process = context.Process(target=server.serve_forever, name="bench-site", daemon=True)
    process.start()
    server.socket.close()  # the child serves; this process only reads the counts
    return site, Counts(shared), process, [server.feeds[i][1] for i in range(feeds)]


# -- the runs ------------------------------------------------------------------------------
def bare_loop(site: Site) -> tuple[float, int]:
    """GET every page in turn with one plain client and extract it with trafilatura; seconds
    and how many pages gave text. One page is fetched and extracted first, untimed, so that
    the loop does not pay trafilatura's first-call set-up."""
    urls = [site.base + site.path(n) for n in range(site.pages)]
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        trafilatura.extract(client.get(urls[0]).text)
        started = time.perf_counter()
        extracted = 0
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            extracted += trafilatura.extract(response.text) is not None
        return time.perf_counter() - started, extracted


# The flow's subprocess: it prints its summary counts and the peak memory of each of its
# processes, read from /proc (VmHWM) while they still run, before it exits. getrusage() is no
# use here: on Linux a process started by fork (or vfork) and exec keeps, in ru_maxrss, the
# resident size of the process it was forked from, so RUSAGE_SELF in this subprocess reports
# at least the benchmark's own size, and RUSAGE_CHILDREN (after stopping the pool and its
# fork server) reports this process's size when it started the fork server, not a worker's.
FLOW_CHILD = """
import json, os, sys, time
started = time.perf_counter()
from dyadwatch.prefect_env import apply_defaults
apply_defaults(quiet=True)
from flows.monitor import run_once
imported = time.perf_counter()
summary = run_once(sys.argv[1], force=True)
flowed = time.perf_counter()

def peak_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0

def descendants(root):
    parents, commands = {}, {}
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                commands[int(name)] = f.read().replace(b"\\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            pass
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = (parent, commands.get(child, ""))
                todo.append(child)
    return found

memory = {"main_kb": peak_kb("self"), "worker_kb": 0, "workers": 0, "fork_server_kb": 0,
          "prefect_server_kb": 0}
tree = descendants(os.getpid())
fork_servers = {p for p, (_, cmd) in tree.items() if "multiprocessing.forkserver" in cmd}
for pid, (parent, cmd) in tree.items():
    if parent in fork_servers:
        memory["workers"] += 1
        memory["worker_kb"] = max(memory["worker_kb"], peak_kb(pid))
    elif pid in fork_servers:
        memory["fork_server_kb"] = max(memory["fork_server_kb"], peak_kb(pid))
    elif "uvicorn" in cmd:
        memory["prefect_server_kb"] = max(memory["prefect_server_kb"], peak_kb(pid))
keys = ["documents_new", "pages_failed", "entries_new", "feeds_polled", "feeds_not_modified",
        "feeds_failed", "flags_new"]
result = {k: summary[k] for k in keys}
result.update(memory, import_s=imported - started, flow_s=flowed - imported)
print("BENCH-RESULT " + json.dumps(result), flush=True)
# Stop the pool and wait for its fork server (as exit would, without waiting), so that their
# CPU time is counted as the benchmark's own.
from dyadwatch import parallel
parallel.shutdown()
try:
    import multiprocessing.forkserver
    multiprocessing.forkserver._forkserver._stop()
except Exception:
    pass
"""

# Prefect alone: an empty flow, run once the way ``run_once`` runs the monitor.
PREFECT_CHILD = """
import json, time
started = time.perf_counter()
from dyadwatch.prefect_env import apply_defaults
apply_defaults(quiet=True)
from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
imported = time.perf_counter()

@flow(name="bench-empty-flow")
def nothing() -> int:
    return 0

with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
    nothing()
flowed = time.perf_counter()
print("BENCH-RESULT " + json.dumps({"import_s": imported - started, "flow_s": flowed - imported}),
      flush=True)
"""


@dataclass
class Child:
    """A subprocess's wall time, what it reported, and the requests the site saw meanwhile."""

    seconds: float
    result: dict[str, Any]
    requests: dict[str, int]


def run_child(code: str, args: list[str], env: dict[str, str], counts: Counts) -> Child:
    """Run ``python -c code args`` from the project folder; its wall time and result.

    The subprocess gets a session of its own: if the benchmark is interrupted, the whole
    group (Prefect's temporary server and the process pool included) is killed with it.
    """
    before = counts.snapshot()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT_S)
    except BaseException:  # a time-out, Ctrl-C, SIGTERM: leave no process behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    seconds = time.perf_counter() - started
    requests = counts.since(before)
    lines = [x for x in stdout.splitlines() if x.startswith(RESULT_MARK)]
    if process.returncode != 0 or not lines:
        sys.stderr.write(stdout[-4000:] + stderr[-4000:])
        raise SystemExit(f"FAILED: the subprocess exited with status {process.returncode}")
    return Child(seconds, json.loads(lines[-1][len(RESULT_MARK) :]), requests)


def stored_pages(database: Path) -> tuple[int, int]:
    """Feed documents in the corpus: in all, and those stored with their page's text."""
    with sqlite3.connect(database) as db:
        total, with_page = db.execute(
            "select count(*), coalesce(sum(text_source = 'page'), 0) from documents "
            "where origin = 'feed'"
        ).fetchone()
    return total, with_page


def write_config(folder: Path, site: Site, per_host: int, concurrency: int) -> Path:
    """The run's configuration: corpus in ``folder``, the project's seeds, the site's feeds,
    private addresses allowed (the site is on loopback), no alert channels."""
    path = folder / "dyadwatch.yaml"
    config = {
        "database": str(folder / "corpus.db"),
        "seeds": str(SEEDS),
        "feeds": [
            {"url": f"{site.base}/feeds/{i}.xml", "name": f"wire {i}"} for i in range(site.feeds)
        ],
        "network": {"allow_private_addresses": True},
        "polling": {"per_host": per_host, "concurrency": concurrency},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def child_env(prefect_home: Path) -> dict[str, str]:
    """The subprocesses' environment: Prefect's ephemeral mode with its own home."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(prefect_home)
    return env


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def mb(kilobytes: float) -> float:
    return kilobytes / 1024  # Linux reports ru_maxrss and VmHWM in kilobytes


def conditional_gets(site: Site, etags: list[str]) -> float:
    """Seconds for one conditional GET per feed with a plain client (each must get a 304):
    what the empty run's own work should cost."""
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        started = time.perf_counter()
        for i, etag in enumerate(etags):
            url = f"{site.base}/feeds/{i}.xml"
            response = client.get(url, headers={"If-None-Match": etag})
            if response.status_code != 304:
                raise SystemExit(f"FAILED: {url} answered {response.status_code}, not 304")
        return time.perf_counter() - started


@dataclass
class Round:
    """One round of measurements: baseline, first run, empty run, Prefect alone."""

    bare: float
    bare_extracted: int
    first: Child
    stored: tuple[int, int]  # feed documents in the corpus after the first run; with page text
    empty: Child
    prefect: Child

    @property
    def gained(self) -> float:
        return self.first.seconds - self.empty.seconds


def one_round(
    folder: Path, site: Site, args: argparse.Namespace, env: dict[str, str], counts: Counts
) -> Round:
    """Baseline, then the flow on a new corpus twice, then Prefect alone."""
    folder.mkdir()
    config = write_config(folder, site, args.per_host, args.concurrency)
    bare, extracted = bare_loop(site)
    first = run_child(FLOW_CHILD, [str(config)], env, counts)
    stored = stored_pages(folder / "corpus.db")
    empty = run_child(FLOW_CHILD, [str(config)], env, counts)
    prefect = run_child(PREFECT_CHILD, [], env, counts)
    return Round(bare, extracted, first, stored, empty, prefect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument(
        "--per-host",
        type=int,
        default=8,
        help="polling.per_host (every page is on one loopback host; the default config has 2)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="polling.concurrency")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (each on a new corpus); the table shows medians: Prefect's start-up "
        "alone varies by a few seconds from run to run",
    )
    args = parser.parse_args()
    if args.feeds < 1 or args.pages < args.feeds or args.pages > 99_999 or args.repeat < 1:
        parser.error(
            "expected at least one feed, one page per feed, fewer than 100,000 pages and "
            "at least one round"
        )
    # Every request goes to loopback: no proxy from the environment may take it elsewhere.
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        del os.environ[name]
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so that no subprocess is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    busy, own, started = busy_seconds(), own_seconds(), time.perf_counter()
    site, counts, server, etags = start_site(args.pages, args.feeds)
    try:
        sample = random.Random(0).sample(range(args.pages), min(args.pages, 200))
        sizes = [len(site.page(n)) for n in sample]
        with tempfile.TemporaryDirectory(prefix="dyadwatch-bench-ingest-") as tmp:
            env = child_env(Path(tmp) / "prefect-home")
            # Prefect's first start on a fresh home creates and migrates its database: done
            # once, first, so that no measured run pays it.
            cold = run_child(PREFECT_CHILD, [], env, counts)
            rounds = [
                one_round(Path(tmp) / f"round-{r}", site, args, env, counts)
                for r in range(args.repeat)
            ]
            gets = conditional_gets(site, etags)
    finally:
        server.terminate()
        server.join(5)
    # CPU time that other processes took from the benchmark's cores, as a share of them all.
    others = busy_seconds() - busy - (own_seconds() - own)
    share = others / (cores() * (time.perf_counter() - started))
    report(args, sizes, rounds, cold, gets, others, share)
    check(args, rounds)


def report(
    args: argparse.Namespace,
    sizes: list[int],
    rounds: list[Round],
    cold: Child,
    gets: float,
    others: float,
    share: float,
) -> None:
    """Print the table (medians over the rounds), then the details behind it."""
    bare = median(r.bare for r in rounds)
    first = median(r.first.seconds for r in rounds)
    empty = median(r.empty.seconds for r in rounds)
    prefect = median(r.prefect.seconds for r in rounds)
    gained = median(r.gained for r in rounds)
    speedup = bare / gained if gained > 0 else float("inf")
    met = "MET" if speedup >= SPEEDUP_GOAL else "NOT MET"
    main_mb = max(mb(r.first.result["main_kb"]) for r in rounds)
    worker_mb = max(mb(r.first.result["worker_kb"]) for r in rounds)
    peak = main_mb + worker_mb
    if args.pages >= MEMORY_GOAL_PAGES:
        verdict = "MET" if peak <= MEMORY_GOAL_MB else "NOT MET"
        memory_goal = f"goal ≤ {MEMORY_GOAL_MB} MB: {verdict}"
    else:
        memory_goal = (
            f"goal ≤ {MEMORY_GOAL_MB} MB at {MEMORY_GOAL_PAGES:,} pages "
            f"(run with --pages {MEMORY_GOAL_PAGES})"
        )
    w = 55
    medians = f", medians of {len(rounds)} rounds" if len(rounds) > 1 else ""
    print(f"{args.pages:,} pages in {args.feeds} feeds on loopback, {cores()} cores{medians}")
    print(f"{'bare loop (fetch + trafilatura.extract, one process)':<{w}} {bare:6.1f} s")
    print(f"{'first run (poll, fetch, extract, detect, store, index)':<{w}} {first:6.1f} s")
    label = f"empty run (nothing new: {args.feeds} conditional GETs, all 304)"
    print(f"{label:<{w}} {empty:6.1f} s   (Prefect start-up alone: {prefect:.1f} s)")
    print(
        f"first − empty = {gained:.1f} s  → {speedup:.1f}× faster than the bare loop   "
        f"goal ≥ {SPEEDUP_GOAL}×: {met}"
    )
    label = f"peak memory: main {main_mb:.0f} MB + workers {worker_mb:.0f} MB"
    print(f"{label:<{w}} {memory_goal}")

    print("details:")
    print(
        f"  pages: {sum(sizes) / len(sizes) / 1024:.0f} KB of HTML on average "
        f"({min(sizes) / 1024:.0f}–{max(sizes) / 1024:.0f} KB); bare loop "
        f"{1000 * bare / args.pages:.1f} ms a page; first − empty "
        f"{1000 * gained / args.pages:.1f} ms a page"
    )
    if len(rounds) > 1:
        for label, values in [
            ("bare loop", [r.bare for r in rounds]),
            ("first run", [r.first.seconds for r in rounds]),
            ("empty run", [r.empty.seconds for r in rounds]),
            ("Prefect alone", [r.prefect.seconds for r in rounds]),
            ("first − empty", [r.gained for r in rounds]),
        ]:
            print(f"  {label} in each round: " + ", ".join(f"{v:.1f}" for v in values) + " s")
    last = rounds[-1]
    for label, child in [("first run", last.first), ("empty run", last.empty)]:
        c = child.result
        requests = ", ".join(f"{n} {k}" for k, n in child.requests.items() if n)
        print(
            f"  {label}: imports {c['import_s']:.1f} s, flow {c['flow_s']:.1f} s, exit "
            f"{child.seconds - c['import_s'] - c['flow_s']:.1f} s; {c['documents_new']} new "
            f"documents ({c['pages_failed']} from the feed summary only), {c['flags_new']} "
            f"new flags; requests: {requests or 'none'}"
        )
    for label, child in [("Prefect alone", last.prefect), ("Prefect alone, cold", cold)]:
        c = child.result
        print(
            f"  {label}: {child.seconds:.1f} s (import {c['import_s']:.1f} s, empty flow "
            f"{c['flow_s']:.1f} s, exit {child.seconds - c['import_s'] - c['flow_s']:.1f} s)"
            + ("; creates Prefect's database, not counted" if "cold" in label else "")
        )
    print(
        f"  empty run − Prefect alone = {empty - prefect:.1f} s; {args.feeds} conditional "
        f"GETs alone take {1000 * gets:.0f} ms"
    )
    r = last.first.result
    print(
        f"  first run's other processes at their peaks: fork server "
        f"{mb(r['fork_server_kb']):.0f} MB, {r['workers']} workers (the largest is counted "
        f"above), Prefect's temporary server {mb(r['prefect_server_kb']):.0f} MB"
    )
    print(f"  polling.per_host {args.per_host}, polling.concurrency {args.concurrency}")
    if others > 0:
        print(
            f"  other processes on this machine used {others:.0f} CPU-seconds during the "
            f"benchmark ({share:.0%} of its cores' time)"
            + (": the figures above are not reliable" if share > UNRELIABLE_SHARE else "")
        )


def check(args: argparse.Namespace, rounds: list[Round]) -> None:
    """Exit with status 1 when a run did not do what it must."""
    problems = []
    for number, r in enumerate(rounds, 1):
        where = f"round {number}: " if len(rounds) > 1 else ""
        total, with_page = r.stored
        failed = r.first.result["pages_failed"]
        if total != args.pages or with_page != args.pages or failed:
            problems.append(
                f"{where}first run: {with_page} of {args.pages} pages stored with their page "
                f"text ({total} feed documents, {failed} from the feed summary only)"
            )
        if r.first.result["feeds_failed"]:
            problems.append(f"{where}first run: {r.first.result['feeds_failed']} feeds failed")
        if r.bare_extracted != args.pages:
            problems.append(f"{where}bare loop: {r.bare_extracted} of {args.pages} pages gave text")
        seen = r.empty.requests
        if (
            seen["feed 304"] != args.feeds
            or sum(seen.values()) != args.feeds
            or r.empty.result["documents_new"]
        ):
            problems.append(
                f"{where}empty run: expected {args.feeds} requests, all 304; the site saw "
                + ", ".join(f"{n} {k}" for k, n in seen.items())
            )
    if problems:
        print("FAILED: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
