"""Extraction and detection in worker processes give the same records as in one thread."""

from __future__ import annotations

import time

from dyadwatch import parallel, pipeline
from dyadwatch.config import parse_config
from dyadwatch.feeds import Entry

from .conftest import PROJECT

ARTICLES = sorted((PROJECT / "dyadwatch" / "demo_site" / "articles").glob("*.html"))


def test_process_pool_matches_threads(loopback, tmp_path) -> None:
    entries = []
    for i in range(48):
        page = ARTICLES[i % len(ARTICLES)].read_bytes()
        loopback.routes[f"/p/{i}"] = (200, {"Content-Type": "text/html; charset=utf-8"}, page)
        entries.append(
            Entry(f"g{i}", f"{loopback.base}/p/{i}", "", "", "2026-11-20T08:00:00+00:00")
        )
    config = parse_config(
        {
            "database": str(tmp_path / "p.db"),
            "seeds": str(PROJECT / "seeds"),
            "network": {"allow_private_addresses": True},
        }
    )
    ids = [7] * len(entries)
    in_processes = pipeline.fetch_and_analyse(entries, ids, config, processes=True)
    assert parallel._pool is not None  # the workers did the extraction
    in_threads = pipeline.fetch_and_analyse(entries, ids, config, processes=False)

    def comparable(records):
        return [
            (r["document"]["url"], r["document"]["text"], r["document"]["topic_score"], r["flags"])
            for r in records
        ]

    assert len(in_processes) == len(entries)
    assert all(r["document"]["text_source"] == "page" for r in in_processes)
    assert comparable(in_processes) == comparable(in_threads)
    parallel.shutdown()


class CountingSemaphore:
    """A bounded semaphore that remembers how many holders it had at most."""

    def __init__(self, value: int) -> None:
        import threading

        self._sem = threading.BoundedSemaphore(value)
        self._lock = threading.Lock()
        self.held = 0
        self.most = 0

    def acquire(self, blocking: bool = True) -> bool:
        got = self._sem.acquire(blocking)
        if got:
            with self._lock:
                self.held += 1
                self.most = max(self.most, self.held)
        return got

    def release(self) -> None:
        with self._lock:
            self.held -= 1
        self._sem.release()


def test_fetching_waits_for_the_pool(loopback, tmp_path, monkeypatch) -> None:
    """Fetching is much faster than extraction: pages waiting for the pool are bounded, so a
    run of thousands of articles does not hold thousands of pages' HTML in memory."""
    entries = []
    for i in range(30):
        page = ARTICLES[i % len(ARTICLES)].read_bytes()
        loopback.routes[f"/q/{i}"] = (200, {"Content-Type": "text/html; charset=utf-8"}, page)
        entries.append(Entry(f"q{i}", f"{loopback.base}/q/{i}", "", "", None))
    config = parse_config(
        {
            "database": str(tmp_path / "q.db"),
            "seeds": str(PROJECT / "seeds"),
            "network": {"allow_private_addresses": True},
            "polling": {"concurrency": 16, "per_host": 16},
        }
    )
    counting = CountingSemaphore(3)
    monkeypatch.setattr(parallel, "_backlog", counting)
    records = pipeline.fetch_and_analyse(entries, [1] * len(entries), config, processes=True)
    assert len(records) == len(entries)
    assert all(r["document"]["text_source"] == "page" for r in records)
    assert counting.most == 3  # the 16 fetching threads had to wait their turn
    deadline = time.monotonic() + 5  # the last release runs just after the last result
    while counting.held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counting.held == 0  # every page released its place
    parallel.shutdown()
    pipeline.close_fetchers()
