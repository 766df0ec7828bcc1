"""The monitoring steps as plain functions: no Prefect here, so each is tested directly.

``flows/monitor.py`` composes them into a Prefect flow. Functions that only read the
network or compute (polling, fetching, extraction, detection) return plain data; the
functions that write take an open corpus and are called from one place, the flow, so
SQLite has a single writer.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

from dyadwatch import health, parallel, progress
from dyadwatch.actors import Detection, Gazetteer, load_gazetteer
from dyadwatch.config import Config
from dyadwatch.extract import extract_article
from dyadwatch.feeds import Entry, canonical_url
from dyadwatch.fetch import FetchError, fetch, make_client
from dyadwatch.polling import (
    FeedPoll,
    FeedState,
    host_slot,
    is_due,
    load_states,
    poll_many,
    record_polls,
)
from dyadwatch.text import normalise
from dyadwatch.topic import TopicModel
from storage import corpus

log = logging.getLogger(__name__)

SEED_SUFFIXES = {".txt", ".md", ".html", ".htm"}
HTML_TYPES = {"text/html", "application/xhtml+xml", ""}
MAX_ANALYSED_CHARS = 1_000_000


# -- analysis ------------------------------------------------------------------------------
@dataclass
class Analyser:
    """Detection and topic scoring configured for one corpus."""

    gazetteer: Gazetteer
    topic: TopicModel
    tracked: set[tuple[str, str]]
    window: int = 1

    def analyse(self, text: str, when: date | None) -> tuple[Detection, dict[str, Any]]:
        detection = self.gazetteer.detect(text, when=when, window=self.window)
        return detection, self.topic.score(text, detection)


def seed_files(seeds_dir: Path | None) -> list[Path]:
    """The seed articles: every text or HTML file in the seeds folder, in name order."""
    if not seeds_dir or not seeds_dir.is_dir():
        return []
    return sorted(
        p for p in seeds_dir.iterdir() if p.is_file() and p.suffix.lower() in SEED_SUFFIXES
    )


def read_seed(path: Path) -> tuple[str, str | None]:
    """Text and title of a seed file (HTML is extracted; plain text is read as is)."""
    raw = path.read_bytes()
    if path.suffix.lower() in (".html", ".htm"):
        extracted = extract_article(raw, url=path.as_uri())
        text = extracted.text if extracted else ""
        return normalise(text), extracted.title if extracted else None
    text = normalise(raw.decode("utf-8", errors="replace"))
    return text, guess_title(text)


def guess_title(text: str) -> str | None:
    """The first line that reads like a headline: three or more words, mostly words.

    Saved pages often open with a dateline ("13:21 GMT 05 March 2021") or a menu item
    ("Listen Live"); those are skipped.
    """
    for line in text.split("\n")[:20]:
        words = line.split()
        wordy = sum(1 for w in words if w.strip(":,;.!?\"'()").replace("-", "").isalpha())
        if len(words) >= 3 and wordy / len(words) >= 0.75:
            return line.strip()
    return None


@lru_cache(maxsize=8)
def _analyser(seeds: str | None, threshold: float, pairs: tuple[tuple[str, str], ...]) -> Analyser:
    gazetteer = load_gazetteer()
    texts = [read_seed(p)[0] for p in seed_files(Path(seeds) if seeds else None)]
    return Analyser(gazetteer, TopicModel.build(gazetteer, texts, threshold), set(pairs))


_ANALYSER_LOCK = threading.Lock()


def analyser_for(config: Config) -> Analyser:
    """The analyser for a configuration (built once per process and cached; the lock keeps
    concurrent tasks from each building their own on first use)."""
    with _ANALYSER_LOCK:
        return _analyser(
            str(config.seeds) if config.seeds else None, config.topic_threshold, tuple(config.pairs)
        )


def forget_analysers() -> None:
    """Drop this process's analysers and gazetteers (about 40 MB with the automata): for a run
    whose analysis goes to the process pool, after the seeds were analysed here."""
    with _ANALYSER_LOCK:
        _analyser.cache_clear()
        load_gazetteer.cache_clear()


def parse_date(value: str | None) -> date | None:
    """The calendar date of an ISO-like date string, or ``None``."""
    parsed = corpus.parse_time(value)
    if parsed is not None:
        return parsed.date()
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def analysed_document(analyser: Analyser, doc: dict[str, Any]) -> dict[str, Any]:
    """Run detection on a document record; return it with its mentions, flags and alert pairs.

    A leader counts for an actor only while in office at the document's date; a feed
    document with no date of its own is dated by when it was fetched (it is news now).
    """
    when = parse_date(doc.get("published")) or (
        parse_date(doc.get("fetched")) if doc.get("origin") == "feed" else None
    )
    # A pathological page must not hold a run: analysis reads at most the first million
    # characters (offsets stay valid: they point into the stored text's prefix).
    detection, topic = analyser.analyse(doc["text"][:MAX_ANALYSED_CHARS], when)
    version = analyser.gazetteer.version
    flags = corpus.flag_rows(detection, analyser.tracked, version)
    doc = {
        **doc,
        "actors": json.dumps(detection.actors),
        "topic_score": topic["score"],
        "on_topic": int(topic["on_topic"]),
        "topic_signals": json.dumps(topic["signals"]),
        "rules_version": version,
        "content_hash": corpus.content_hash(doc["text"]),
    }
    alert_pairs = (
        [f["pair"] for f in flags if f["tracked"] and f["level"] == "sentence"]
        if doc.get("origin") == "feed" and topic["on_topic"]
        else []
    )
    return {
        "document": doc,
        "mentions": corpus.mention_rows(detection),
        "flags": flags,
        "alert_pairs": alert_pairs,
    }


# -- seeds ---------------------------------------------------------------------------------
def sync_seeds(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """Make every seed file a document with ``origin = 'seed'``; an edited seed updates its row.

    Seeds define the topic; they are flagged like every document but raise no alerts. A seed
    file whose bytes have not changed since it was stored is skipped without being read
    further (``source_hash``), so a run with nothing new does no extraction or analysis;
    after a gazetteer change, ``dyadwatch rescore`` re-applies the rules to the stored seeds.
    """
    known = {
        r["url"]: r["source_hash"]
        for r in db.query("select url, source_hash from documents where origin = 'seed'")
    }
    stored = changed = 0
    for path in seed_files(config.seeds):
        url = f"seed:{path.name}"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if known.get(url) == digest:
            stored += 1
            continue
        text, title = read_seed(path)
        if not text:
            log.warning("%s: seed file has no text; skipped", path)
            continue
        record = analysed_document(
            analyser_for(config),
            {
                "url": url,
                "guid": path.name,
                "origin": "seed",
                "title": title,
                "text": text,
                "text_source": "file",
                "source_hash": digest,
            },
        )
        result = corpus.store_document(db, record["document"], record["mentions"], record["flags"])
        if not result["changed"]:  # the same text as stored: remember these bytes
            db.execute("update documents set source_hash = ? where url = ?", [digest, url])
        stored += 1
        changed += int(result["changed"])
    return {"seeds": stored, "seeds_changed": changed}


# -- feeds ---------------------------------------------------------------------------------
def due_feeds(states: list[FeedState], force: bool = False) -> list[FeedState]:
    """The feeds to poll now: those due, or with ``force`` every enabled feed."""
    now = now_utc()
    return [s for s in states if s.enabled and (force or is_due(s, now))]


def select_new(db: sqlite_utils.Database, polls: list[FeedPoll]) -> int:
    """Fill each poll's ``new_entries``: entries with a link that the corpus has not stored
    (by GUID within the feed or canonical URL). Returns how many there are."""
    count = 0
    for poll in polls:
        poll.new_entries = [
            e
            for e in poll.entries
            if e.link and not corpus.known_entry(db, poll.feed_id, e.guid, canonical_url(e.link))
        ]
        count += len(poll.new_entries)
    return count


@dataclass
class PageJob:
    """A fetched page (or why there is none) waiting for extraction and analysis."""

    entry: Entry
    feed_id: int | None
    fetched: str
    content: bytes | None = None
    page_url: str | None = None
    error: str | None = None


PAGE_RETRY_DELAY_S = 1.0


def fetch_page(entry: Entry, feed_id: int | None, config: Config, client: httpx.Client) -> PageJob:
    """Fetch an entry's page (HTML only); a transient failure (time-out, 5xx, 429, refused
    connection) is tried once more. Never raises: the error is kept in the job."""
    job = PageJob(entry, feed_id, corpus.now())
    for attempt in (1, 2):
        try:
            with host_slot(entry.link, config.polling.per_host):
                page = fetch(
                    client,
                    entry.link,
                    max_bytes=config.fetch.max_page_bytes,
                    total_timeout=config.fetch.timeout * 3,
                    allow_private=config.allow_private_addresses,
                    accept=HTML_TYPES,  # a PDF, image or video is not downloaded at all
                )
            job.content, job.page_url, job.error = page.content, page.url, None
            return job
        except FetchError as exc:
            job.error = str(exc)
            if attempt == 2 or not exc.transient or (exc.retry_after or 0) > 10:
                return job
            time.sleep(PAGE_RETRY_DELAY_S)
        except Exception as exc:  # a broken page must not stop the run
            job.error = f"{entry.link}: {type(exc).__name__}: {exc}"
            return job
    return job


def page_document(job: PageJob) -> dict[str, Any]:
    """The ``documents`` record of a fetched page: its extracted text and metadata, or the
    feed's title and summary when the page failed. ``text_source`` says which (``page`` or
    ``summary``); ``fetch_error`` keeps why the page was not used."""
    entry = job.entry
    doc: dict[str, Any] = {
        "url": canonical_url(entry.link),
        "guid": entry.guid,
        "origin": "feed",
        "title": entry.title or None,
        "summary": entry.summary or None,
        "author": entry.author,
        "published": entry.published,
        "fetched": job.fetched,
    }
    error, extracted = job.error, None
    if job.content is not None:
        try:
            extracted = extract_article(job.content, url=job.page_url)
            if extracted is None:
                error = f"{entry.link}: no article text found in the page"
        except Exception as exc:  # a page that breaks the extractor must not stop the run
            error = f"{entry.link}: extraction failed ({type(exc).__name__}: {exc})"
    if extracted is not None:
        doc.update(
            title=entry.title or extracted.title,
            text=normalise(extracted.text),
            author=entry.author or extracted.author,
            sitename=extracted.sitename,
            language=extracted.language,
            published=entry.published or extracted.date,
            text_source="page",
        )
    else:
        body = "\n\n".join(x for x in (entry.title, entry.summary) if x)
        doc.update(text=normalise(body), text_source="summary", fetch_error=error)
    return doc


def fetch_article(entry: Entry, config: Config, client: httpx.Client) -> dict[str, Any]:
    """Fetch an entry's page and extract its text (see :func:`page_document`)."""
    return page_document(fetch_page(entry, None, config, client))


def analyse_page(job: PageJob, config: Config) -> dict[str, Any] | None:
    """Extract and analyse one fetched page: the CPU-bound half, run in worker processes."""
    doc = page_document(job)
    if not doc["text"]:
        return None
    doc["feed_id"] = job.feed_id
    try:
        return analysed_document(analyser_for(config), doc)
    except Exception as exc:  # one pathological text must not cost the batch (or the feed)
        log.exception("analysis failed for %s", doc["url"])
        return unanalysed_document(doc, f"analysis failed ({type(exc).__name__}: {exc})")


def unanalysed_document(doc: dict[str, Any], error: str) -> dict[str, Any]:
    """A record that stores the document without mentions or flags, with why: it counts as
    seen (no endless re-fetching) and ``dyadwatch rescore`` can analyse it later."""
    doc = {
        **doc,
        "actors": "[]",
        "on_topic": 0,
        "content_hash": corpus.content_hash(doc["text"]),
        "fetch_error": "; ".join(x for x in (doc.get("fetch_error"), error) if x),
    }
    return {"document": doc, "mentions": [], "flags": [], "alert_pairs": []}


@dataclass
class _Fetcher:
    """The page fetching resources a process shares across the batches of a run."""

    client: httpx.Client
    threads: ThreadPoolExecutor


_fetchers: dict[tuple[float, str, int], _Fetcher] = {}
_fetchers_lock = threading.Lock()


def page_fetcher(config: Config) -> _Fetcher:
    """This process's HTTP client and fetching threads for article pages, shared by every
    batch of a run: one connection pool (connections to a publisher are reused from batch
    to batch), one TLS set-up (~35 ms each) and ``polling.concurrency`` threads in all,
    however many batches are in flight (a thread pool per batch meant up to 128 threads,
    and the memory each thread's allocations pin)."""
    key = (config.fetch.timeout, config.fetch.user_agent, config.polling.concurrency)
    with _fetchers_lock:
        fetcher = _fetchers.get(key)
        if fetcher is None or fetcher.client.is_closed:
            fetcher = _Fetcher(
                make_client(
                    config.fetch.timeout,
                    config.fetch.user_agent,
                    max_connections=max(32, config.polling.concurrency),
                ),
                ThreadPoolExecutor(
                    max_workers=config.polling.concurrency, thread_name_prefix="dyadwatch-fetch"
                ),
            )
            _fetchers[key] = fetcher
        return fetcher


def close_fetchers() -> None:
    """Close the shared clients and stop their threads (at the end of a run, and at exit)."""
    with _fetchers_lock:
        for fetcher in _fetchers.values():
            fetcher.threads.shutdown(wait=True, cancel_futures=True)
            fetcher.client.close()
        _fetchers.clear()


atexit.register(close_fetchers)


def fetch_and_analyse(
    entries: list[Entry],
    feed_ids: list[int | None],
    config: Config,
    *,
    processes: bool = True,
) -> list[dict[str, Any]]:
    """Fetch, extract and analyse a batch of entries; one record per entry with text, in order.

    Pages are fetched concurrently (threads, within the per-host limit); each page goes to
    extraction and analysis as soon as it arrives: in the shared process pool with
    ``processes`` (so every core works; worth it for runs of :data:`parallel.MIN_PAGES`
    pages or more), otherwise in the fetching thread.
    """
    if not entries:
        return []
    pool = parallel.shared_pool() if processes else None
    backlog = parallel.backlog() if processes else None
    report = progress.current()

    def work(item: tuple[Entry, int | None]) -> Any:
        if pool is None or backlog is None:
            job = fetch_page(item[0], item[1], config, client)
            report.advance("pages")
            return analyse_page(job, config)
        backlog.acquire()
        try:
            job = fetch_page(item[0], item[1], config, client)
            report.advance("pages")
            future = pool.submit(analyse_page, job, config)
        except BaseException:
            backlog.release()
            raise
        future.add_done_callback(lambda _: backlog.release())
        return future

    fetcher = page_fetcher(config)
    client = fetcher.client
    results = list(fetcher.threads.map(work, zip(entries, feed_ids, strict=True)))
    if pool:
        results = [future.result() for future in results]
    return [r for r in results if r is not None]


def store_records(
    db: sqlite_utils.Database, records: list[dict[str, Any]], channels: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """Store analysed records (one transaction each); return counts, the new flags and the
    records that could not be stored (``errors``: the URL and why; the rest are stored)."""
    documents = 0
    new_flags: list[dict[str, Any]] = []
    alerts = 0
    errors: list[str] = []
    for record in records:
        try:
            result = corpus.store_document(
                db,
                record["document"],
                record["mentions"],
                record["flags"],
                alert_channels=channels,
                alert_pairs=record["alert_pairs"],
            )
        except (ValueError, TypeError, sqlite3.IntegrityError, sqlite3.InterfaceError) as exc:
            # One record SQLite refuses (text it cannot encode, say) must not cost the run;
            # its transaction rolled back, so nothing of it is half stored.
            errors.append(
                f"{record['document'].get('url')}: not stored ({type(exc).__name__}: {exc})"
            )
            log.error("%s", errors[-1])
            continue
        documents += int(result["created"])
        alerts += result["alerts"]
        for flag in result["new_flags"]:
            new_flags.append(
                {
                    **flag,
                    "url": record["document"]["url"],
                    "title": record["document"].get("title"),
                    "document_id": result["id"],
                }
            )
    return {
        "documents_new": documents,
        "flags": new_flags,
        "alerts_created": alerts,
        "errors": errors,
    }


def ingest(
    db: sqlite_utils.Database,
    config: Config,
    channels: list[tuple[Any, ...]] | None = None,
    *,
    force: bool = True,
) -> dict[str, Any]:
    """One cycle in plain Python, without Prefect (scripts and tests): seeds, due feeds
    (every feed with ``force``), articles, storage, then the feeds' new state. Alerts are
    queued for ``channels``, not delivered."""
    sync_seeds(db, config)
    states = load_states(db, config.feeds)
    polls = poll_many(due_feeds(states, force), config)
    select_new(db, polls)
    entries = unique_entries(polls)
    records = fetch_and_analyse(
        [e for e, _ in entries],
        [f for _, f in entries],
        config,
        processes=len(entries) >= parallel.MIN_PAGES,
    )
    close_fetchers()
    stored = store_records(db, records, channels or [])
    # Last: a feed's validators and schedule advance only once its entries are stored, so a
    # run killed before this point polls the feed again in full and loses no entry.
    record_polls(db, states, polls, config.polling)
    corpus.refresh_feed_counts(db)
    changes = health.check(db, config)
    return {**stored, "polls": polls, "health_changes": changes}


def unique_entries(polls: list[FeedPoll]) -> list[tuple[Entry, int | None]]:
    """New entries across all feeds, each canonical URL once, in feed order."""
    seen: set[str] = set()
    out = []
    for poll in polls:
        for entry in poll.new_entries:
            key = canonical_url(entry.link)
            if key in seen:
                continue
            seen.add(key)
            out.append((entry, poll.feed_id))
    return out


def now_utc() -> datetime:
    return datetime.now(UTC)
