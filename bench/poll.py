"""Feed polling: how long dyadwatch takes to poll many feeds, first in full, then unchanged.

Serves --feeds RSS feeds (fictional items, --entries each) from --hosts loopback addresses
(127.0.0.1, 127.0.0.2, …), one threaded HTTP server per address, each feed with an ETag and
a Last-Modified that answer a conditional request with 304. Nothing leaves the machine.

Compares, in the same run, against a baseline: one bare sequential loop that GETs every
feed unconditionally with a plain ``httpx.Client`` and reads the body (no parsing, no
database). Then runs two polling cycles the way ``dyadwatch.pipeline.ingest`` does (load the
feeds' state, poll, select the new entries, record the polls; no article fetching):

* cycle 1, the first poll: every feed answers 200 and every entry is new;
* cycle 2, unchanged: every feed must answer 304. The goal is 5 s per 500 feeds on a 2-core
  machine; the figure is printed as MET or NOT MET.

The benchmark is also a check: it exits with status 1 when a feed fails in either cycle or
when cycle 2 gets anything but 304s (not when the time goal is missed).

    python bench/poll.py [--feeds 500] [--hosts 10] [--entries 20]
                         [--concurrency 16] [--per-host 4]
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from dyadwatch.config import Config, parse_config
from dyadwatch.pipeline import due_feeds, select_new
from dyadwatch.polling import FeedPoll, load_states, poll_many, record_polls
from storage.corpus import open_corpus

GOAL_SECONDS_PER_500 = 5.0

# Fictional headlines; {k} is the entry's number, {place} and {topic} vary by feed.
TITLES = [
    "Envoys meet in round {k} of talks in {place}",
    "Ministers trade proposals on {topic} for the {k}th time",
    "Delegations in {place} agree on a timetable for {topic}",
    "Observers report progress after session {k} on {topic}",
    "Mediators in {place} pause talks on {topic} until next week",
    "Joint statement {k} on {topic} issued from {place}",
]
PLACES = ["Harbourtown", "Lindenfeld", "Port Aveline", "Mossgrove", "Quellbridge", "Tarnwick"]
TOPICS = ["river shipping", "border crossings", "grain convoys", "power lines", "fishing rights"]


# -- the feeds -----------------------------------------------------------------------------
@dataclass
class Counter:
    """Requests the feed servers answered, counted under a lock (handlers run in threads)."""

    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            if status == 200:
                self.ok += 1
            elif status == 304:
                self.not_modified += 1

    def connect(self) -> None:
        with self.lock:
            self.connections += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        with self.lock:
            return self.requests, self.ok, self.not_modified, self.connections


@dataclass(frozen=True)
class Feed:
    """One served feed: its body and validators."""

    body: bytes
    etag: str
    last_modified: str


class FeedServer(ThreadingHTTPServer):
    """A threaded HTTP server on one loopback address that serves its feeds by path."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: str, counter: Counter) -> None:
        super().__init__((address, 0), FeedHandler)
        self.counter = counter
        self.feeds: dict[str, Feed] = {}

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that drops its connection is the client's business (it shows up in
        the polls); anything else is a bug here and is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FeedHandler(BaseHTTPRequestHandler):
    """Serves ``/feeds/{i}.xml`` with ETag and Last-Modified; a matching ETag gets a 304."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK stall some responses by 40 ms (real servers send them at once).
    disable_nagle_algorithm = True
    server: FeedServer

    def setup(self) -> None:
        super().setup()
        self.server.counter.connect()

    def do_GET(self) -> None:
        feed = self.server.feeds.get(self.path)
        if feed is None:
            self._answer(404, b"not found\n", "text/plain")
            return
        validators = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
        if self._unchanged(feed):
            self._answer(304, b"", None, validators)
        else:
            self._answer(200, feed.body, "application/rss+xml; charset=utf-8", validators)

    def _unchanged(self, feed: Feed) -> bool:
        """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
        tags = self.headers.get("If-None-Match")
        if tags is not None:
            return tags.strip() == "*" or feed.etag in (t.strip() for t in tags.split(","))
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            asked = email.utils.parsedate_to_datetime(since)
            return asked >= email.utils.parsedate_to_datetime(feed.last_modified)
        except (TypeError, ValueError):
            return False

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
        self.server.counter.add(status)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a benchmark does not log every request."""


def rss(i: int, base: str, entries: int, newest: datetime) -> bytes:
    """Feed ``i``'s RSS 2.0 document: ``entries`` fictional items an hour apart."""
    place, topic = PLACES[i % len(PLACES)], TOPICS[i % len(TOPICS)]
    items = []
    for k in range(1, entries + 1):
        title = TITLES[(i + k) % len(TITLES)].format(k=k, place=place, topic=topic)
        when = newest - timedelta(hours=entries - k)
        summary = (
            f"Session {k} of the talks on {topic} in {place} ended with both delegations "
            "promising to return with written proposals."
        )
        items.append(
            f"""    <item>
      <title>{escape(title)}</title>
      <link>{base}/articles/{i}-{k}</link>
      <guid isPermaLink="false">urn:bench-poll:feed-{i}:item-{k}</guid>
      <pubDate>{email.utils.format_datetime(when, usegmt=True)}</pubDate>
      <description>{escape(summary)}</description>
    </item>"""
        )
    return (
        f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Bench wire {i}: {place}</title>
    <link>{base}/</link>
    <description>Fictional dispatches on {topic}, generated by bench/poll.py.</description>
{chr(10).join(reversed(items))}
  </channel>
</rss>
"""
    ).encode()


def start_servers(feeds: int, hosts: int, entries: int, counter: Counter) -> list[str]:
    """Serve the feeds from ``hosts`` loopback addresses; return the feed URLs in order."""
    servers = [FeedServer(f"127.0.0.{h + 1}", counter) for h in range(hosts)]
    for server in servers:
        threading.Thread(target=server.serve_forever, name=server.base, daemon=True).start()
    newest = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    urls = []
    for i in range(feeds):
        server = servers[i % hosts]
        body = rss(i, server.base, entries, newest - timedelta(minutes=i % 60))
        path = f"/feeds/{i}.xml"
        server.feeds[path] = Feed(
            body=body,
            etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            last_modified=email.utils.format_datetime(newest, usegmt=True),
        )
        urls.append(server.base + path)
    return urls


# -- the runs ------------------------------------------------------------------------------
@dataclass
class Cycle:
    """One polling cycle's outcome, with what the servers saw during it."""

    seconds: float
    polls: list[FeedPoll]
    requests: int
    answered_ok: int
    answered_304: int
    connections: int

    @property
    def ok(self) -> int:
        return sum(p.ok for p in self.polls)

    @property
    def failed(self) -> list[FeedPoll]:
        return [p for p in self.polls if not p.ok]

    @property
    def not_modified(self) -> int:
        return sum(p.not_modified for p in self.polls)

    @property
    def new_entries(self) -> int:
        return sum(len(p.new_entries) for p in self.polls)


def baseline(urls: list[str], counter: Counter) -> tuple[float, int, int]:
    """GET every URL in turn with one plain client and read the body; seconds, requests and
    connections."""
    before = counter.snapshot()
    started = time.perf_counter()
    with httpx.Client(trust_env=False, timeout=20.0) as client:
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            _ = response.content
    seconds = time.perf_counter() - started
    after = counter.snapshot()
    return seconds, after[0] - before[0], after[3] - before[3]


def cycle(config: Config, counter: Counter) -> Cycle:
    """Poll every feed as a run does (forced, so all are due) and record the outcome; the
    time includes opening the corpus (creating it, in the first cycle)."""
    before = counter.snapshot()
    started = time.perf_counter()
    with open_corpus(config.database) as db:
        states = load_states(db, config.feeds)
        polls = poll_many(due_feeds(states, force=True), config)
        select_new(db, polls)
        record_polls(db, states, polls, config.polling)
    seconds = time.perf_counter() - started
    after = counter.snapshot()
    requests, ok, not_modified, connections = (a - b for a, b in zip(after, before, strict=True))
    return Cycle(seconds, polls, requests, ok, not_modified, connections)


def peak_memory_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report_failures(label: str, polls: list[FeedPoll], limit: int = 5) -> None:
    """Print the first few failed polls (to stderr) with their readable errors."""
    for poll in polls[:limit]:
        print(f"  {label}: {poll.url}: {poll.status} ({poll.error})", file=sys.stderr)
    if len(polls) > limit:
        print(f"  {label}: … and {len(polls) - limit} more", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=10, help="loopback addresses (max 254)")
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-host", type=int, default=4)
    args = parser.parse_args()
    if not 1 <= args.hosts <= 254 or args.feeds < 1 or args.entries < 1:
        parser.error("expected 1 to 254 hosts and at least one feed and one entry")
    # Every request goes to loopback: no proxy from the environment may take it elsewhere.
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        del os.environ[name]

    counter = Counter()
    urls = start_servers(args.feeds, args.hosts, args.entries, counter)
    with tempfile.TemporaryDirectory(prefix="dyadwatch-bench-poll-") as tmp:
        config = parse_config(
            {
                "database": str(Path(tmp) / "corpus.db"),
                "seeds": None,
                "feeds": [{"url": url} for url in urls],
                "network": {"allow_private_addresses": True},
                "polling": {"concurrency": args.concurrency, "per_host": args.per_host},
            },
            base=Path(tmp),
        )
        base_seconds, base_requests, base_connections = baseline(urls, counter)
        first = cycle(config, counter)
        second = cycle(config, counter)

    goal = GOAL_SECONDS_PER_500 * args.feeds / 500
    all_304 = second.not_modified == args.feeds and second.answered_304 == second.requests
    met = "MET" if second.seconds <= goal else "NOT MET"
    if not all_304:
        met = "not judged (not all 304)"
    print(
        f"feeds {args.feeds} on {args.hosts} hosts, {args.entries} entries each, "
        f"concurrency {args.concurrency}, per host {args.per_host}"
    )
    label = "baseline: bare sequential GETs"
    print(f"{label:<38} {base_seconds:6.2f} s  {base_requests:5} requests")
    failed = f", {len(first.failed)} failed" if first.failed else ""
    print(
        f"{'cycle 1: first poll':<38} {first.seconds:6.2f} s  {first.requests:5} requests "
        f"({first.ok} ok{failed}, {first.new_entries} new entries)"
    )
    failed = f", {len(second.failed)} failed" if second.failed else ""
    print(
        f"{'cycle 2: unchanged (all 304)':<38} {second.seconds:6.2f} s  {second.requests:5} "
        f"requests ({second.not_modified} not modified{failed})   goal ≤ {goal:g} s: {met}"
    )
    per_feed = [1000 * t / args.feeds for t in (base_seconds, first.seconds, second.seconds)]
    print(
        "per feed: baseline {:.1f} ms, cycle 1 {:.1f} ms, cycle 2 {:.1f} ms ({:.1f}x the "
        "baseline's time)".format(*per_feed, second.seconds / base_seconds)
    )
    print(
        f"TCP connections opened: baseline {base_connections}, cycle 1 {first.connections}, "
        f"cycle 2 {second.connections}"
    )
    print(f"peak memory {peak_memory_mb():.0f} MB")

    problems = []
    if first.failed:
        problems.append(f"cycle 1: {len(first.failed)} feeds failed")
        report_failures("cycle 1", first.failed)
    if second.failed:
        problems.append(f"cycle 2: {len(second.failed)} feeds failed")
        report_failures("cycle 2", second.failed)
    if not all_304:
        problems.append(
            f"cycle 2: expected {args.feeds} feeds not modified, got {second.not_modified} "
            f"(servers answered {second.answered_304} of {second.requests} requests with 304)"
        )
    if first.new_entries != args.feeds * args.entries:
        print(
            f"note: cycle 1 found {first.new_entries} new entries, "
            f"expected {args.feeds * args.entries}",
            file=sys.stderr,
        )
    if problems:
        print("FAILED: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
