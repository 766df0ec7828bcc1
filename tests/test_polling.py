"""Polling: the per-feed schedule, conditional GETs, moved feeds and politeness limits."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from dyadwatch import pipeline
from dyadwatch.config import PollingConfig, load_config, parse_config
from dyadwatch.polling import (
    FeedPoll,
    FeedState,
    backoff_delay,
    interleave,
    load_states,
    next_interval,
    poll_many,
    publishing_interval,
    schedule,
)
from storage.corpus import open_corpus

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLLING = PollingConfig()


def feed_xml(items: int, every: timedelta = timedelta(hours=1), ttl: int | None = None) -> str:
    """An RSS feed with one entry per ``every``, the newest published a minute ago."""
    newest = datetime.now(UTC) - timedelta(minutes=1)
    entries = "".join(
        f"<item><title>Envoys meet, round {i}</title><link>{{base}}/a/{i}</link>"
        f"<guid>g-{i}</guid><pubDate>{(newest - every * i).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        "</pubDate><description>Russian and Israeli envoys met again.</description></item>"
        for i in range(items)
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f'<rss version="2.0"><channel><title>Polled</title>{ttl_tag}{entries}</channel></rss>'


# -- the schedule, with plain values --------------------------------------------------------
def _stamps(every: timedelta, n: int = 10, newest_age: timedelta = timedelta(0)) -> list[str]:
    return [(NOW - newest_age - every * i).isoformat() for i in range(n)]


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        (timedelta(hours=1), 1800),  # twice per gap
        (timedelta(minutes=5), 600),  # never under the floor
        (timedelta(days=7), 86400),  # nor over the ceiling
    ],
)
def test_interval_follows_the_publishing_rhythm(every, expected) -> None:
    gap = publishing_interval(_stamps(every), NOW)
    assert next_interval(None, POLLING, published_every=gap, found_new=True, ttl_s=None) == (
        expected
    )


def test_a_quiet_feed_slows_down_and_ttl_is_honoured() -> None:
    hourly_but_silent = publishing_interval(
        _stamps(timedelta(hours=1), newest_age=timedelta(days=1)), NOW
    )
    assert hourly_but_silent == pytest.approx(43200)
    assert next_interval(None, POLLING, published_every=3600, found_new=False, ttl_s=7200) == 7200
    assert publishing_interval(_stamps(timedelta(hours=1), n=2), NOW) is None  # too few dates
    # Without dates: halve when something new came, grow by half when nothing did.
    assert next_interval(2400, POLLING, published_every=None, found_new=True, ttl_s=None) == 1200
    assert next_interval(2400, POLLING, published_every=None, found_new=False, ttl_s=None) == 3600


def test_backoff_doubles_up_to_a_day() -> None:
    delays = [backoff_delay(n, 1800, POLLING) for n in range(1, 8)]
    assert delays == [1800, 3600, 7200, 14400, 28800, 57600, 86400]


def test_a_failed_poll_keeps_the_validators() -> None:
    state = FeedState(1, "u", "u", etag='"v1"', consecutive_failures=2, interval_s=1800)
    row = schedule(state, FeedPoll("u", None, False, "timeout", error="u: timed out"), POLLING, NOW)
    assert "etag" not in row and row["consecutive_failures"] == 3
    assert row["next_poll"] == (NOW + timedelta(seconds=7200)).isoformat(timespec="seconds")


def test_interleave_spreads_hosts() -> None:
    states = [FeedState(i, u, u) for i, u in enumerate(["http://a/1", "http://a/2", "http://b/1"])]
    assert [s.url for s in interleave(states)] == ["http://a/1", "http://b/1", "http://a/2"]


# -- against a loopback server --------------------------------------------------------------
def _config(write_config, tmp_path, feeds, **extra):
    return load_config(
        write_config(
            {
                "database": str(tmp_path / "c.db"),
                "seeds": None,
                "feeds": feeds,
                "network": {"allow_private_addresses": True},
                "fetch": {"user_agent": "dyadwatch-test (+mailto:ops@dyadwatch.example)"},
                **extra,
            }
        )
    )


def test_conditional_get_and_schedule(loopback, write_config, tmp_path) -> None:
    seen: list[dict[str, str | None]] = []

    def feed(handler):
        seen.append(
            {
                "ua": handler.headers.get("User-Agent"),
                "inm": handler.headers.get("If-None-Match"),
                "ims": handler.headers.get("If-Modified-Since"),
            }
        )
        validators = {"ETag": '"v1"', "Last-Modified": "Fri, 20 Nov 2026 11:00:00 GMT"}
        if handler.headers.get("If-None-Match") == '"v1"':
            return 304, validators, b""
        return 200, {"Content-Type": "application/rss+xml", **validators}, feed_xml(5)

    loopback.routes["/feed"] = feed
    for i in range(5):
        loopback.routes[f"/a/{i}"] = (404, {}, b"")  # pages fail: summaries are used
    config = _config(write_config, tmp_path, [f"{loopback.base}/feed"])
    with open_corpus(config.database) as db:
        first = pipeline.ingest(db, config)
        assert first["documents_new"] == 5
        row = db.table("feeds").get(1)
        assert (row["etag"], row["last_status"], row["entries_seen"]) == ('"v1"', "ok", 5)
        assert row["interval_s"] == 1800 and row["last_new_entry"]

        second = pipeline.ingest(db, config)  # forced: polled although not due
        assert second["documents_new"] == 0
        assert [p.status for p in second["polls"]] == ["not modified"]
        assert seen[-1] == {
            "ua": "dyadwatch-test (+mailto:ops@dyadwatch.example)",
            "inm": '"v1"',
            "ims": "Fri, 20 Nov 2026 11:00:00 GMT",
        }
        assert db.table("feeds").get(1)["last_status"] == "not modified"

        third = pipeline.ingest(db, config, force=False)  # the feed is not due yet
        assert third["polls"] == [] and len(seen) == 2
        assert db.execute("select count(*) from documents").fetchone()[0] == 5


def test_moved_feed_is_polled_at_its_new_url(loopback, write_config, tmp_path) -> None:
    loopback.routes["/old"] = (301, {"Location": "/new"}, b"")
    loopback.routes["/new"] = (200, {"Content-Type": "application/rss+xml"}, feed_xml(3))
    config = _config(write_config, tmp_path, [f"{loopback.base}/old"])
    with open_corpus(config.database) as db:
        pipeline.ingest(db, config)
        row = db.table("feeds").get(1)
        assert (row["config_url"], row["url"]) == (f"{loopback.base}/old", f"{loopback.base}/new")
        loopback.hits.clear()
        pipeline.ingest(db, config)
        assert loopback.hits == ["/new"]
        assert db.execute("select count(*) from documents").fetchone()[0] == 3


def test_gone_feed_is_disabled_and_skipped(loopback, write_config, tmp_path) -> None:
    loopback.routes["/gone"] = (410, {}, b"")
    config = _config(write_config, tmp_path, [f"{loopback.base}/gone"])
    with open_corpus(config.database) as db:
        pipeline.ingest(db, config)
        row = db.table("feeds").get(1)
        assert row["enabled"] == 0 and "410" in row["disabled_reason"]
        assert not load_states(db, config.feeds)[0].enabled
        loopback.hits.clear()
        assert pipeline.ingest(db, config)["polls"] == []  # even when forced
        assert loopback.hits == []


def test_concurrency_limits(loopback, write_config, tmp_path) -> None:
    lock = threading.Lock()
    active = {"now": 0, "max": 0}

    def slow(handler):
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.15)
        with lock:
            active["now"] -= 1
        return 200, {"Content-Type": "application/rss+xml"}, feed_xml(1)

    for i in range(8):
        loopback.routes[f"/f{i}"] = slow
    feeds = [f"{loopback.base}/f{i}" for i in range(8)]
    for per_host, concurrency, expected in ((2, 16, 2), (8, 3, 3)):
        active["max"] = 0
        config = parse_config(
            {
                "database": str(tmp_path / "x.db"),
                "seeds": None,
                "feeds": feeds,
                "network": {"allow_private_addresses": True},
                "polling": {"per_host": per_host, "concurrency": concurrency},
            }
        )
        states = [FeedState(i, u, u) for i, u in enumerate(feeds)]
        polls = poll_many(states, config)
        assert [p.ok for p in polls] == [True] * 8
        assert [p.url for p in polls] == feeds  # results in the order asked
        assert active["max"] == expected


def test_a_redirect_to_a_page_that_is_no_feed_does_not_move_the_feed(
    loopback, write_config, tmp_path
) -> None:
    loopback.routes["/feed"] = (301, {"Location": "/"}, b"")
    loopback.routes["/"] = (200, {"Content-Type": "text/html"}, b"<html><body>Home</body></html>")
    config = _config(write_config, tmp_path, [f"{loopback.base}/feed"])
    with open_corpus(config.database) as db:
        [poll] = pipeline.ingest(db, config)["polls"]
        assert poll.status == "parse error"
        assert db.table("feeds").get(1)["url"] == f"{loopback.base}/feed"


def test_one_article_that_breaks_analysis_costs_only_itself(
    loopback, write_config, tmp_path, monkeypatch
) -> None:
    loopback.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, feed_xml(4))
    config = _config(write_config, tmp_path, [f"{loopback.base}/feed"])
    real = pipeline.analysed_document

    def fragile(analyser, doc):
        if doc["url"].endswith("/a/2"):
            raise RecursionError("pathological text")
        return real(analyser, doc)

    monkeypatch.setattr(pipeline, "analysed_document", fragile)
    with open_corpus(config.database) as db:
        assert pipeline.ingest(db, config)["documents_new"] == 4
        broken = db.execute(
            "select fetch_error, actors from documents where url like '%/a/2'"
        ).fetchone()
        assert "analysis failed (RecursionError: pathological text)" in broken[0]
        assert broken[1] == "[]"
        assert db.table("feeds").get(1)["last_status"] == "ok"  # the feed's state advanced
        assert db.execute("select count(*) from pair_flags").fetchone()[0] == 3
