"""Polling many feeds politely: which feeds are due, conditional GETs, and the schedule.

Each feed keeps its own state in the corpus (``feeds`` table): the URL it is polled at
(updated when the feed moves permanently), its ETag and Last-Modified, its polling interval
and the time of its next poll. A run polls only the feeds that are due:

* the interval adapts to how often the feed publishes (the mean gap between its recent
  entries), between ``polling.min_interval`` and ``polling.max_interval``, and never below
  the feed's own ``ttl`` / ``sy:updatePeriod``; a feed whose newest entry is old slows down;
* a failing feed backs off exponentially (capped at ``polling.max_backoff``), a ``429`` or
  ``503`` waits at least its ``Retry-After``, and ``410 Gone`` disables the feed;
* requests run concurrently up to ``polling.concurrency`` in all and ``polling.per_host``
  per host, interleaved by host so that no worker waits on a busy host while others idle.

Everything here except :func:`load_states` and :func:`record_polls` is free of the corpus,
so it is tested with plain values.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from dyadwatch import progress
from dyadwatch.config import Config, FeedConfig, PollingConfig
from dyadwatch.feeds import Entry, FeedError, parse_feed
from dyadwatch.fetch import FetchError, fetch, make_client
from storage import corpus
from storage.corpus import parse_time

log = logging.getLogger(__name__)


@dataclass
class FeedState:
    """What the corpus knows about a configured feed before polling it."""

    feed_id: int
    config_url: str
    url: str  # where it is polled now: the configured URL, or where it moved permanently
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    enabled: bool = True
    next_poll: str | None = None
    interval_s: int | None = None
    consecutive_failures: int = 0
    newest_entry_at: str | None = None


@dataclass
class FeedPoll:
    """The outcome of polling one feed: its entries, a 304, or a readable failure."""

    url: str
    name: str | None
    ok: bool
    status: str  # ok, not modified, timeout, unreachable, http 404, parse error, …
    http_status: int | None = None
    error: str | None = None
    title: str | None = None
    site_url: str | None = None
    entries_seen: int = 0
    entries: list[Entry] = field(default_factory=list)
    new_entries: list[Entry] = field(default_factory=list)
    feed_id: int | None = None
    config_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    retry_after: float | None = None
    ttl_s: int | None = None
    requests: int = 1
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == "not modified"


# -- the schedule --------------------------------------------------------------------------
def is_due(state: FeedState, now: datetime) -> bool:
    """Whether a feed should be polled now (never when disabled)."""
    if not state.enabled:
        return False
    when = parse_time(state.next_poll)
    return when is None or when <= now


def publishing_interval(dates: Iterable[str | None], now: datetime | None) -> float | None:
    """The feed's typical gap between entries, from its recent entries' dates, in seconds.

    The median gap of the 20 newest distinct dates, or ``None`` with fewer than 3. Given
    ``now``, a feed whose newest entry is older than that has gone quieter: half the time
    since its newest entry is used instead, so a feed that stopped publishing is polled less
    and less.
    """
    stamps = sorted({d for d in (parse_time(x) for x in dates) if d is not None}, reverse=True)[:20]
    if len(stamps) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    typical = median(gaps)
    if now is None:
        return typical
    quiet = (now - stamps[0]).total_seconds()
    return max(typical, quiet / 2)


def next_interval(
    previous: int | None,
    polling: PollingConfig,
    *,
    published_every: float | None,
    found_new: bool,
    ttl_s: int | None,
) -> int:
    """The interval until the next poll after a successful poll, in seconds.

    With dates, the feed is polled about twice per typical gap between its entries. Without
    them (or on a 304), the interval halves when the poll found new entries and grows by half
    when it did not. It stays between the configured floor and ceiling and never goes below
    the feed's own ``ttl``.
    """
    current = previous or polling.default_interval
    if published_every is not None:
        interval = published_every / 2
    elif found_new:
        interval = current / 2
    else:
        interval = current * 1.5
    interval = max(polling.min_interval, min(polling.max_interval, interval))
    if ttl_s:
        interval = max(interval, min(ttl_s, polling.max_interval))
    return int(interval)


def backoff_delay(failures: int, interval: int | None, polling: PollingConfig) -> int:
    """How long a feed that failed ``failures`` times in a row waits: the interval doubled
    per failure, capped at ``polling.max_backoff``."""
    base = max(polling.min_interval, interval or polling.default_interval)
    return int(min(polling.max_backoff, base * 2 ** min(max(failures - 1, 0), 20)))


def schedule(
    state: FeedState, poll: FeedPoll, polling: PollingConfig, now: datetime
) -> dict[str, Any]:
    """The ``feeds`` columns that a poll's outcome sets: health, validators, next poll."""
    row: dict[str, Any] = {
        "last_polled": now.isoformat(timespec="seconds"),
        "last_status": poll.status,
        "last_http_status": poll.http_status,
        "last_error": poll.error,
    }
    if poll.ok:
        found_new = bool(poll.new_entries)
        dates = [e.published for e in poll.entries]
        newest = max((d for d in dates if parse_time(d)), default=None, key=lambda d: parse_time(d))
        if poll.not_modified:
            published_every = None
            stale = parse_time(state.newest_entry_at)
            if stale and state.interval_s:
                published_every = max(2 * state.interval_s, (now - stale).total_seconds() / 2)
        else:
            published_every = publishing_interval(dates, now)
            gap = publishing_interval(dates, None)
            if gap is not None:
                row["publish_gap_s"] = int(gap)
        interval = next_interval(
            state.interval_s,
            polling,
            published_every=published_every,
            found_new=found_new,
            ttl_s=poll.ttl_s,
        )
        row.update(
            consecutive_failures=0,
            interval_s=interval,
            next_poll=(now + timedelta(seconds=interval)).isoformat(timespec="seconds"),
            last_success=now.isoformat(timespec="seconds"),
        )
        if not poll.not_modified:
            row.update(entries_seen=poll.entries_seen, ttl_s=poll.ttl_s)
            if newest:
                row["newest_entry_at"] = newest
            if poll.title:
                row["title"] = poll.title
            if poll.site_url:
                row["site_url"] = poll.site_url
        # Validators change only with a body; a 304 may omit them.
        if poll.etag or not poll.not_modified:
            row["etag"] = poll.etag
        if poll.last_modified or not poll.not_modified:
            row["last_modified"] = poll.last_modified
        if found_new:
            row["last_new_entry"] = now.isoformat(timespec="seconds")
        return row
    failures = state.consecutive_failures + 1
    delay = backoff_delay(failures, state.interval_s, polling)
    if poll.retry_after:
        delay = max(delay, int(min(poll.retry_after, 7 * 86400)))
    row.update(
        consecutive_failures=failures,
        next_poll=(now + timedelta(seconds=delay)).isoformat(timespec="seconds"),
    )
    if poll.http_status == 410:
        row.update(
            enabled=0,
            disabled_reason=f"HTTP 410 Gone on {now.date().isoformat()}: the publisher "
            "removed the feed (re-enable with `dyadwatch feeds --enable URL`)",
        )
    return row


# -- polling -------------------------------------------------------------------------------
def poll_one(state: FeedState, config: Config, client: Any) -> FeedPoll:
    """Fetch and parse one feed conditionally. Never raises: failures are data."""
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    poll = FeedPoll(
        url=state.url,
        name=state.name,
        ok=False,
        status="error",
        feed_id=state.feed_id,
        config_url=state.config_url,
    )
    try:
        fetched = fetch(
            client,
            state.url,
            max_bytes=config.fetch.max_feed_bytes,
            total_timeout=config.fetch.timeout * 3,
            allow_private=config.allow_private_addresses,
            allow_files=True,  # a configured feed may be a local file; its links may not
            headers=headers,
        )
        poll.http_status, poll.moved_to = fetched.status, fetched.moved_to
        poll.requests, poll.elapsed = fetched.requests, fetched.elapsed
        poll.etag = fetched.headers.get("etag")
        poll.last_modified = fetched.headers.get("last-modified")
        if fetched.not_modified:
            poll.ok, poll.status = True, "not modified"
            return poll
        parsed = parse_feed(fetched.content, fetched.url, fetched.headers.get("content-type"))
    except FetchError as exc:
        poll.status = {"http": f"http {exc.status}", "file": "file error"}.get(exc.kind, exc.kind)
        poll.http_status, poll.error, poll.retry_after = exc.status, str(exc), exc.retry_after
        return poll
    except FeedError as exc:
        poll.status, poll.error = "parse error", f"{state.url}: {exc}"
        return poll
    except Exception as exc:  # one broken feed must never stop a run
        log.exception("unexpected error polling %s", state.url)
        poll.error = f"{state.url}: {type(exc).__name__}: {exc}"
        return poll
    poll.ok, poll.status = True, "ok"
    poll.error = f"{state.url}: parsed with a warning: {parsed.warning}" if parsed.warning else None
    poll.title, poll.site_url = parsed.title, parsed.link
    poll.entries, poll.entries_seen, poll.ttl_s = parsed.entries, len(parsed.entries), parsed.ttl_s
    return poll


def host_of(url: str) -> str:
    """The host a URL's requests go to (local files share one pseudo-host)."""
    try:
        return (urlsplit(url).hostname or "(file)").lower()
    except ValueError:
        return "(invalid)"


def interleave(states: list[FeedState]) -> list[FeedState]:
    """Feeds reordered round-robin by host, so concurrent workers spread across hosts."""
    by_host: dict[str, list[FeedState]] = defaultdict(list)
    for state in states:
        by_host[host_of(state.url)].append(state)
    queues = list(by_host.values())
    out: list[FeedState] = []
    while queues:
        out.extend(q.pop(0) for q in queues)
        queues = [q for q in queues if q]
    return out


_SLOTS: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def host_slot(url: str, per_host: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore that keeps requests to one host at ``per_host`` at a time
    (feeds and pages alike, whichever task makes them)."""
    key = (host_of(url), per_host)
    with _SLOTS_LOCK:
        slot = _SLOTS.get(key)
        if slot is None:
            slot = _SLOTS[key] = threading.BoundedSemaphore(per_host)
        return slot


def poll_many(
    states: list[FeedState],
    config: Config,
    *,
    on_done: Callable[[FeedPoll], None] | None = None,
) -> list[FeedPoll]:
    """Poll feeds concurrently: at most ``polling.concurrency`` requests in all and
    ``polling.per_host`` per host. Results come back in the order of ``states``."""
    if not states:
        return []
    polling = config.polling
    order = interleave(states)
    report = progress.current()
    report.total("feeds", len(states))
    with make_client(
        config.fetch.timeout, config.fetch.user_agent, max_connections=polling.concurrency
    ) as client:

        def work(state: FeedState) -> FeedPoll:
            with host_slot(state.url, polling.per_host):
                result = poll_one(state, config, client)
            report.advance("feeds")
            if on_done:
                on_done(result)
            return result

        with ThreadPoolExecutor(max_workers=min(polling.concurrency, len(order))) as pool:
            results = dict(zip((id(s) for s in order), pool.map(work, order), strict=True))
    return [results[id(s)] for s in states]


# -- the corpus side -----------------------------------------------------------------------
def load_states(db: sqlite_utils.Database, feeds: list[FeedConfig]) -> list[FeedState]:
    """The state of every configured feed, adding feeds that are new to the corpus."""
    corpus.ensure_feeds(db, [(f.url, f.name) for f in feeds])
    rows = {
        r["config_url"]: r
        for r in db.query(
            "select id, config_url, url, name, etag, last_modified, enabled, next_poll, "
            "interval_s, consecutive_failures, newest_entry_at from feeds"
        )
    }
    states = []
    for feed in feeds:
        row = rows[feed.url]
        states.append(
            FeedState(
                feed_id=row["id"],
                config_url=feed.url,
                url=row["url"],
                name=feed.name,
                etag=row["etag"],
                last_modified=row["last_modified"],
                enabled=row["enabled"] != 0,
                next_poll=row["next_poll"],
                interval_s=row["interval_s"],
                consecutive_failures=row["consecutive_failures"] or 0,
                newest_entry_at=row["newest_entry_at"],
            )
        )
    return states


def record_polls(
    db: sqlite_utils.Database,
    states: list[FeedState],
    polls: list[FeedPoll],
    polling: PollingConfig,
    now: datetime | None = None,
) -> list[str]:
    """Write each poll's outcome into its feed's row, in one transaction.

    A feed that moved permanently (301/308) is polled at its new URL from now on. Returns
    readable notes about moves (for the run's log).
    """
    now = now or datetime.now(UTC)
    notes = []
    by_id = {s.feed_id: s for s in states}
    with corpus.transaction(db):
        for poll in polls:
            state = by_id[poll.feed_id]
            row = schedule(state, poll, polling, now)
            # A feed moves only when its new address gave a feed: a redirect to a home page
            # or an error page must not repoint it for good.
            if poll.ok and poll.moved_to and poll.moved_to != state.url:
                taken = next(
                    db.query(
                        "select id from feeds where url = ? and id != ?",
                        [poll.moved_to, state.feed_id],
                    ),
                    None,
                )
                if taken:
                    notes.append(
                        f"{state.url} moved permanently to {poll.moved_to}, which is already "
                        "configured as another feed; kept polling the old URL"
                    )
                else:
                    row["url"] = poll.moved_to
                    notes.append(f"{state.url} moved permanently to {poll.moved_to}")
            columns = ", ".join(f"[{k}] = ?" for k in row)
            db.execute(f"update feeds set {columns} where id = ?", [*row.values(), state.feed_id])
    return notes
