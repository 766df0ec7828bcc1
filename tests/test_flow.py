"""The real monitor flow under Prefect's test harness, against loopback feeds and webhooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from dyadwatch.demo import DemoSite
from dyadwatch.text import normalise
from tests.conftest import PROJECT, Loopback, closed_port

pytestmark = pytest.mark.usefixtures("prefect_harness")

SEEDS = PROJECT / "seeds"

# Tracked pairs each demo article must be flagged for at sentence level (see demo_site/EXPECTED.md).
EXPECTED_TRACKED = {
    "russia-israel-deconfliction": {"ISR-RUS", "IRN-ISR"},
    "israel-ukraine-air-defence": {"ISR-UKR", "RUS-UKR", "IRN-ISR", "IRN-RUS", "ISR-RUS"},
    "russia-iran-drones": {"IRN-RUS", "RUS-UKR"},
    "israel-iran-shadow-war": {"IRN-ISR"},
    "russia-ukraine-prisoner-swap": {"RUS-UKR"},
    "georgia-peach-harvest": set(),
    "football-qualifier": {"ISR-UKR"},
    "markets-oil-prices": set(),
    "washington-post-report": set(),
    "turkey-recipe": set(),
    "israel-russia-ukraine-grain": {"RUS-UKR", "ISR-RUS", "ISR-UKR"},
    "rossiya-izrail-konsultatsii": {"ISR-RUS", "IRN-ISR"},
    "jordan-basketball-profile": set(),
    "missing-page": {"IRN-ISR"},
}
OFF_TOPIC = {
    "georgia-peach-harvest",
    "football-qualifier",
    "markets-oil-prices",
    "washington-post-report",
    "turkey-recipe",
    "jordan-basketball-profile",
}


def monitor(config: Path) -> dict:
    from flows.monitor import monitor as flow

    return flow(config_path=str(config))


def slug(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")


def config_for(write_config, tmp_path: Path, feeds: list[str], alerts: list[str]) -> Path:
    return write_config(
        {
            "database": str(tmp_path / "corpus.db"),
            "seeds": str(SEEDS),
            "feeds": [{"url": u} for u in feeds],
            "alerts": [{"apprise": a} for a in alerts],
            "network": {"allow_private_addresses": True},
        }
    )


def test_run_flags_pairs_sends_alerts_once_and_second_run_is_quiet(tmp_path, write_config) -> None:
    with DemoSite(port=0) as site:
        config = config_for(write_config, tmp_path, [site.feed_url], [site.alert_url])
        first = monitor(config)
        assert first["status"] == "completed"
        assert (first["seeds"], first["feeds_polled"], first["feeds_failed"]) == (2, 1, 0)
        assert first["documents_new"] == 14
        assert first["pages_failed"] == 1  # the item whose page is missing uses its summary

        db = sqlite_utils.Database(tmp_path / "corpus.db")
        seeds = list(
            db.query("select id, url, text from documents where origin = 'seed' order by url")
        )
        assert [s["url"] for s in seeds] == [
            "seed:000_1906041a94befd41.txt",
            "seed:004_013f13680b9e437e.txt",
        ]
        for seed in seeds:
            assert seed["text"] == normalise((SEEDS / seed["url"][5:]).read_text(encoding="utf-8"))
        seed_pairs = {
            r["pair"]
            for r in db.query(
                "select pair from pair_flags where level = 'sentence' and document_id = ?",
                [seeds[1]["id"]],
            )
        }
        assert {"ISR-RUS", "ISR-UKR", "RUS-UKR", "IRN-RUS"} <= seed_pairs

        found: dict[str, set[str]] = {}
        topic: dict[str, int] = {}
        for row in db.query(
            "select id, url, on_topic, text_source from documents where origin = 'feed'"
        ):
            found[slug(row["url"])] = {
                r["pair"]
                for r in db.query(
                    "select pair from pair_flags where document_id = ? and level = 'sentence' and tracked = 1",
                    [row["id"]],
                )
            }
            topic[slug(row["url"])] = row["on_topic"]
        assert found == EXPECTED_TRACKED
        assert {s for s, on in topic.items() if not on} == OFF_TOPIC

        # False friends never become actors.
        actors = {
            r["actor"]
            for r in db.query(
                "select distinct actor from mentions join documents d on d.id = mentions.document_id "
                "where d.origin = 'feed'"
            )
        }
        assert "GEO" not in actors and "JOR" not in actors
        # The seed's "defense ties with Ukraine and Georgia" is the country.
        assert next(db.query("select count(*) n from mentions where actor = 'GEO'"))["n"] == 1

        # Every flag carries its evidence: the sentence holds the aliases at the offsets.
        for flag in db.query(
            "select f.*, d.text from pair_flags f join documents d on d.id = f.document_id "
            "where f.level = 'sentence'"
        ):
            assert flag["text"][flag["sentence_start"] : flag["sentence_end"]] == flag["sentence"]
            for evidence in json.loads(flag["evidence"]):
                for m in evidence["mentions"]:
                    assert flag["text"][m["start"] : m["end"]] == m["text"]
                    assert evidence["start"] <= m["start"] < m["end"] <= evidence["end"]

        expected_alerts = sum(len(p) for s, p in EXPECTED_TRACKED.items() if s not in OFF_TOPIC)
        assert first["alerts_sent"] == expected_alerts == len(site.alerts)
        titles = sorted(a["title"] for a in site.alerts)
        assert any("ISR–RUS" in t for t in titles)
        assert all(a["message"].count("**") >= 4 for a in site.alerts)  # pair and aliases marked

        second = monitor(config)
        assert (second["documents_new"], second["flags_new"], second["alerts_sent"]) == (0, 0, 0)
        assert len(site.alerts) == expected_alerts
        runs = list(db.query("select status, documents_new from runs order by id"))
        assert runs == [
            {"status": "completed", "documents_new": 14},
            {"status": "completed", "documents_new": 0},
        ]


def test_broken_feeds_do_not_stop_the_others(tmp_path, write_config, loopback) -> None:
    loopback.routes["/html"] = (
        200,
        {"Content-Type": "text/html"},
        "<html><body>Not a feed</body></html>",
    )
    loopback.routes["/error"] = (500, {}, "boom")
    broken = [
        f"http://127.0.0.1:{closed_port()}/feed.xml",
        f"{loopback.base}/missing.xml",
        f"{loopback.base}/html",
        f"{loopback.base}/error",
        str(tmp_path / "no-such-file.xml"),
    ]
    with DemoSite(port=0) as site:
        config = config_for(write_config, tmp_path, [*broken, site.feed_url], [])
        summary = monitor(config)
    assert summary["status"] == "completed"
    assert (summary["feeds_polled"], summary["feeds_failed"], summary["documents_new"]) == (
        6,
        5,
        14,
    )
    db = sqlite_utils.Database(tmp_path / "corpus.db")
    health = {r["url"]: r for r in db.query("select * from feeds")}
    assert health[broken[0]]["last_status"] == "unreachable"
    assert health[broken[1]]["last_status"] == "http 404"
    assert health[broken[2]]["last_status"] == "parse error"
    assert health[broken[3]]["last_http_status"] == 500
    assert "file not found" in health[broken[4]]["last_error"]
    assert all(health[u]["consecutive_failures"] == 1 and health[u]["last_error"] for u in broken)
    assert health[site.feed_url]["last_status"] == "ok" and health[site.feed_url]["documents"] == 14


def test_alerts_wait_for_a_channel_that_is_down(tmp_path, write_config) -> None:
    port = closed_port()
    alert_url = f"json://watcher:s3cretpw@127.0.0.1:{port}/alerts"
    with DemoSite(port=0) as site:
        config = config_for(write_config, tmp_path, [site.feed_url], [alert_url])
        down = monitor(config)
        assert down["alerts_sent"] == 0 and down["alerts_created"] > 0
        db = sqlite_utils.Database(tmp_path / "corpus.db")
        statuses = {r["status"] for r in db.query("select status from alerts")}
        assert statuses == {"pending"}
        assert all(
            r["last_error"] for r in db.query("select last_error from alerts where attempts > 0")
        )
        # The password in the channel URL is nowhere in the corpus.
        for table in db.table_names():
            assert "s3cretpw" not in json.dumps(
                list(db.query(f"select * from [{table}]")), default=str
            )

        receiver = Loopback(port=port)  # the channel comes back on the same address
        try:
            up = monitor(config)
            assert up["alerts_sent"] == down["alerts_created"]
            assert len(receiver.posts) == down["alerts_created"]
            assert {r["status"] for r in db.query("select status from alerts")} == {"sent"}
            again = monitor(config)
            assert again["alerts_sent"] == 0 and len(receiver.posts) == down["alerts_created"]
        finally:
            receiver.close()


def test_invalid_config_fails_before_running(tmp_path, write_config) -> None:
    from dyadwatch.config import ConfigError

    config = write_config("pairs: [[RUS]]\n")
    with pytest.raises(ConfigError, match="pairs"):
        monitor(config)


def test_seeds_are_synced_idempotently_and_edits_update_the_row(tmp_path, write_config) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in SEEDS.iterdir():
        (seeds / path.name).write_bytes(path.read_bytes())
    config = write_config(
        {"database": str(tmp_path / "corpus.db"), "seeds": str(seeds), "feeds": []}
    )
    monitor(config)
    monitor(config)
    db = sqlite_utils.Database(tmp_path / "corpus.db")
    assert db.table("documents").count == 2
    edited = seeds / "004_013f13680b9e437e.txt"
    edited.write_text(
        "Kremlin and Tehran talk\n\nRussia and Iran signed a new treaty.\n", encoding="utf-8"
    )
    monitor(config)
    rows = list(
        db.query("select id, title, updated from documents where url = ?", [f"seed:{edited.name}"])
    )
    assert len(rows) == 1 and rows[0]["updated"] and rows[0]["title"] == "Kremlin and Tehran talk"
    pairs = {
        r["pair"]
        for r in db.query("select pair from pair_flags where document_id = ?", [rows[0]["id"]])
    }
    assert pairs == {"IRN-RUS"}
    assert db.table("alerts").count == 0  # seeds define the topic; they raise no alerts


def test_a_crash_is_recorded_in_runs(tmp_path, write_config, monkeypatch) -> None:
    from dyadwatch import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "sync_seeds", broken)
    config = write_config({"database": str(tmp_path / "corpus.db"), "feeds": []})
    with pytest.raises(RuntimeError):
        monitor(config)
    [run] = sqlite_utils.Database(tmp_path / "corpus.db").query("select status, error from runs")
    assert run == {"status": "failed", "error": "RuntimeError: disk on fire"}


def test_batches_and_window_scale_with_the_run() -> None:
    from flows.monitor import IN_FLIGHT_PAGES, batch_size, in_flight

    assert batch_size(10) == 8 and in_flight(8) == 8  # a small run: small batches
    assert batch_size(10_000) == 256  # 40 task runs, not 1,250
    for entries in (1, 50, 300, 2_000, 10_000, 100_000):
        size = batch_size(entries)
        assert 2 <= in_flight(size) <= 8
        assert size * in_flight(size) <= max(IN_FLIGHT_PAGES, 2 * size)


def test_artifact_lists_a_bounded_number_of_flags(monkeypatch) -> None:
    import flows.monitor as monitor

    tables: list[tuple[list, str]] = []
    monkeypatch.setattr(
        monitor,
        "create_table_artifact",
        lambda key, table, description: tables.append((table, description)),
    )
    monkeypatch.setattr(monitor, "create_markdown_artifact", lambda **kwargs: None)
    flags = [
        {
            "pair": "ISR-RUS",
            "title": f"t{i}",
            "sentence": "s",
            "url": f"u{i}",
            "tracked": 1,
            "level": "sentence",
        }
        for i in range(monitor.ARTIFACT_ROWS + 7)
    ]
    summary = {
        "feeds_polled": 1,
        "feeds_failed": 0,
        "documents_new": 1,
        "flags_new": len(flags),
        "alerts_sent": 0,
        "alerts_pending": 0,
        "feed_errors": [],
    }
    monitor._publish_artifacts(summary, flags)
    ((table, description),) = tables
    assert len(table) == monitor.ARTIFACT_ROWS and table[0]["link"] == "u0"
    assert f"of {len(flags)}" in description


def test_every_new_flag_has_its_event_and_the_summary_keeps_the_first(
    tmp_path, write_config, monkeypatch
) -> None:
    import flows.monitor as module

    events: list[dict] = []
    monkeypatch.setattr(module, "emit_event", lambda **kwargs: events.append(kwargs))
    monkeypatch.setattr(module, "ARTIFACT_ROWS", 2)
    with DemoSite(port=0) as site:
        summary = monitor(config_for(write_config, tmp_path, [site.feed_url], []))
    db = sqlite_utils.Database(tmp_path / "corpus.db")
    stored = db.execute(
        "select count(*) from pair_flags f join documents d on d.id = f.document_id "
        "where d.origin = 'feed' and f.tracked = 1 and f.level = 'sentence'"
    ).fetchone()[0]
    assert summary["flags_new"] == stored > 2
    assert len(events) == stored  # one event per new tracked flag, however many
    assert len({e["payload"]["url"] for e in events}) > 2
    assert len(summary["new_flags"]) == 2
