"""Alert volume and grouping against a real webhook receiver (Apprise ``json://``) on loopback:
hourly caps folding into the digest, digest channels, one alert per story, one "updated"
alert per materially updated story, and pipeline-health alerts to an admin channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dyadwatch import alerts, health, pipeline
from dyadwatch.config import load_config
from storage.corpus import open_corpus

from .conftest import PROJECT

TEXT = (
    "Russian and Israeli diplomats met in Moscow on Tuesday to discuss the deconfliction "
    "mechanism over Syria. The Kremlin said talks on military coordination, air strikes and "
    "sanctions would continue, while Israel's foreign ministry called round {n} with Russia "
    "useful."
)


def item(n: int, base: str = "{base}", title: str | None = None, text: str | None = None) -> str:
    when = (datetime.now(UTC) - timedelta(minutes=5 * n + 1)).strftime(
        "%a, %d %b %Y %H:%M:%S +0000"
    )
    return (
        f"<item><title>{title or f'Envoys of Russia and Israel meet over Syria, round {n}'}</title>"
        f"<link>{base}/a/{n}</link><guid>vol-{n}</guid><pubDate>{when}</pubDate>"
        f"<description>{text or TEXT.format(n=n)}</description></item>"
    )


def rss(*items: str) -> str:
    return f'<rss version="2.0"><channel><title>Volume Wire</title>{"".join(items)}</channel></rss>'


def settings(tmp_path: Path, loopback, alerts_config: list[dict], feeds: list[str] | None = None):
    return {
        "database": str(tmp_path / "v.db"),
        "seeds": str(PROJECT / "seeds"),
        "feeds": feeds or [f"{loopback.base}/feed"],
        "network": {"allow_private_addresses": True},
        "alerts": alerts_config,
    }


def run(db, config) -> dict:
    """One cycle as the flow does it: ingest, then deliver."""
    pipeline.ingest(db, config, alerts.routes(config))
    return alerts.deliver_pending(db, config)


def posts(loopback, path: str) -> list[dict]:
    return [body for p, body in loopback.posts if p == path]


def test_flood_above_the_cap_folds_into_one_digest(loopback, write_config, tmp_path) -> None:
    loopback.routes["/feed"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        rss(*map(item, range(10))),
    )
    hook = f"json://127.0.0.1:{loopback.port}/hook"
    config = load_config(
        write_config(settings(tmp_path, loopback, [{"apprise": hook, "max_per_hour": 3}]))
    )
    with open_corpus(config.database) as db:
        first = run(db, config)
        assert (first["sent"], first["folded"]) == (3, 7)
        assert len(posts(loopback, "/hook")) == 3
        again = run(db, config)  # still over the cap: nothing more goes out one by one
        assert (again["sent"], again["folded"]) == (0, 0)

        digest = alerts.deliver_digests(db, config)
        assert digest == {"digests": 1, "alerts": 7, "failed": 0}
        received = posts(loopback, "/hook")
        assert len(received) == 4
        assert received[-1]["title"].startswith("[dyadwatch] digest: 7 alerts (ISR–RUS 7)")
        assert received[-1]["message"].count("\n- [") == 7  # one line per story
        assert alerts.deliver_digests(db, config)["digests"] == 0  # nothing waits any more
        statuses = {r["status"] for r in db.query("select status from alerts")}
        assert statuses == {"sent"}


def test_digest_channel_gets_one_summary_and_immediate_one_per_story(
    loopback, write_config, tmp_path
) -> None:
    loopback.routes["/feed"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        rss(*map(item, range(4))),
    )
    now_hook = f"json://127.0.0.1:{loopback.port}/now"
    daily_hook = f"json://127.0.0.1:{loopback.port}/daily"
    config = load_config(
        write_config(
            settings(
                tmp_path,
                loopback,
                [{"apprise": now_hook}, {"apprise": daily_hook, "mode": "digest"}],
            )
        )
    )
    with open_corpus(config.database) as db:
        assert run(db, config)["sent"] == 4
        assert len(posts(loopback, "/now")) == 4 and posts(loopback, "/daily") == []
        assert alerts.deliver_digests(db, config)["alerts"] == 4
        [summary] = posts(loopback, "/daily")
        assert "digest: 4 alerts" in summary["title"]


def test_receiver_down_then_back(loopback, write_config, tmp_path) -> None:
    from .conftest import closed_port

    loopback.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, rss(item(1), item(2)))
    path = write_config(
        settings(tmp_path, loopback, [{"apprise": f"json://127.0.0.1:{closed_port()}/hook"}])
    )
    config = load_config(path)
    with open_corpus(config.database) as db:
        down = run(db, config)
        assert down["sent"] == 0 and down["pending"] == 2
    # The receiver comes back at the address the configuration names.
    hook = f"json://127.0.0.1:{loopback.port}/hook"
    config = load_config(write_config(settings(tmp_path, loopback, [{"apprise": hook}])))
    with open_corpus(config.database) as db:
        db.execute("update alerts set channel = ?", [alerts.channels([hook])[0].id])
        db.conn.commit()
        assert run(db, config)["sent"] == 2
        assert run(db, config)["sent"] == 0
    assert len(posts(loopback, "/hook")) == 2


def test_one_alert_per_story_and_one_update(loopback, write_config, tmp_path) -> None:
    hook = f"json://127.0.0.1:{loopback.port}/hook"
    headline = "Russia and Israel agree on new Syria deconfliction rules"
    same_text = TEXT.format(n=9)
    # The same story at two URLs (syndicated, identical text): one alert.
    loopback.routes["/feed"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        rss(item(1, title=headline, text=same_text), item(2, title=headline, text=same_text)),
    )
    config = load_config(write_config(settings(tmp_path, loopback, [{"apprise": hook}])))
    with open_corpus(config.database) as db:
        assert run(db, config)["sent"] == 1
        # The outlet republishes the story under the same headline with a materially new text.
        rewritten = (
            "Israel and Russia signed a written protocol in Sochi late on Wednesday, adding "
            "drone flights to the rules; Syrian officials objected and the IDF confirmed it "
            "would brief Moscow before any strike near the Latakia air base."
        )
        small_fix = rewritten.replace("Wednesday", "Wednesday night")
        loopback.routes["/feed"] = (
            200,
            {"Content-Type": "application/rss+xml"},
            rss(item(3, title=headline, text=rewritten)),
        )
        assert run(db, config)["sent"] == 1
        loopback.routes["/feed"] = (
            200,
            {"Content-Type": "application/rss+xml"},
            rss(item(4, title=headline, text=small_fix + " More rounds will follow in Sochi.")),
        )
        assert run(db, config)["sent"] == 0  # at most one "updated" alert per story
    titles = [p["title"] for p in posts(loopback, "/hook")]
    assert len(titles) == 2
    assert titles[0].startswith("[dyadwatch] ISR–RUS: ")
    assert titles[1].startswith("[dyadwatch] updated ISR–RUS: ")


def test_health_alerts_go_once_per_change_of_state(loopback, write_config, tmp_path) -> None:
    admin = f"json://127.0.0.1:{loopback.port}/admin"
    loopback.routes["/gone"] = (410, {}, b"")
    loopback.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, rss(item(1)))
    config = load_config(
        write_config(
            settings(
                tmp_path,
                loopback,
                [{"apprise": admin, "admin": True}],
                feeds=[f"{loopback.base}/gone", f"{loopback.base}/feed"],
            )
        )
    )
    assert config.alerts == []  # an admin channel gets no pair alerts unless it lists pairs
    with open_corpus(config.database) as db:
        run(db, config)
        assert health.deliver(db, config) == {"sent": 1, "failed": 0}
        run(db, config)
        assert health.deliver(db, config)["sent"] == 0  # still gone: no news
        [gone] = posts(loopback, "/admin")
        assert gone["title"] == f"[dyadwatch health] feed gone: {loopback.base}/gone"
        assert "410" in gone["message"]

        # A feed that usually publishes hourly and has said nothing for three days is silent.
        stale = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
        db.execute(
            "update feeds set publish_gap_s = 3600, last_new_entry = ? where url = ?",
            [stale, f"{loopback.base}/feed"],
        )
        db.conn.commit()
        assert [c.condition for c in health.check(db, config)] == ["silent"]
        assert health.check(db, config) == []
        health.deliver(db, config)
        assert posts(loopback, "/admin")[-1]["title"].startswith("[dyadwatch health] feed silent")


def test_extraction_collapse_is_detected() -> None:
    healthy = [(3000, "page")] * 20
    assert health.extraction_collapsed([(2900, "page")] * 5 + healthy) is None
    assert "fell to a median of 200" in health.extraction_collapsed([(200, "page")] * 5 + healthy)
    assert "no page text" in health.extraction_collapsed([(900, "summary")] * 5 + healthy)
    assert health.extraction_collapsed([(200, "page")] * 5 + [(300, "summary")] * 20) is None
