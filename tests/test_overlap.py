"""Two runs that overlap (two machines, a manual run beside a scheduled one) store and alert
nothing twice, and corrupt nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from storage.corpus import open_corpus

from .conftest import PROJECT

ITEMS = 60
TEXT = (
    "Russian and Israeli diplomats met in Moscow on Tuesday to discuss the deconfliction "
    "mechanism over Syria; the Kremlin said talks on military coordination would continue "
    "after round {n}."
)


@pytest.mark.slow
def test_overlapping_runs_store_and_alert_once(loopback, write_config, tmp_path) -> None:
    items = "".join(
        f"<item><title>Russia and Israel hold deconfliction talks, round {n}</title>"
        f"<link>{{base}}/a/{n}</link><guid>o-{n}</guid>"
        f"<description>{TEXT.format(n=n)}</description></item>"
        for n in range(ITEMS)
    )
    loopback.routes["/feed"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        f'<rss version="2.0"><channel><title>Overlap</title>{items}</channel></rss>',
    )
    path = write_config(
        {
            "database": str(tmp_path / "o.db"),
            "seeds": str(PROJECT / "seeds"),
            "feeds": [f"{loopback.base}/feed"],
            "network": {"allow_private_addresses": True},
            "alerts": [{"apprise": f"json://127.0.0.1:{loopback.port}/hook"}],
        }
    )
    script = (
        "import sys; from dyadwatch import alerts, pipeline; "
        "from dyadwatch.config import load_config; from storage.corpus import open_corpus; "
        "c = load_config(sys.argv[1]); db = open_corpus(c.database); "
        "pipeline.ingest(db, c, alerts.routes(c)); alerts.deliver_pending(db, c)"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=PROJECT, env={**os.environ})
        for _ in range(3)
    ]
    assert [run.wait(timeout=300) for run in runs] == [0, 0, 0]
    with open_corpus(tmp_path / "o.db") as db:
        assert (
            db.execute("select count(*) from documents where origin = 'feed'").fetchone()[0]
            == ITEMS
        )
        rows = db.execute("select count(*), count(distinct document_id) from alerts").fetchone()
        assert rows == (ITEMS, ITEMS)
        assert {r["status"] for r in db.query("select status from alerts")} == {"sent"}
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    hooks = [body["title"] for p, body in loopback.posts if p == "/hook"]
    assert len(hooks) == len(set(hooks)) == ITEMS  # each alert delivered exactly once
