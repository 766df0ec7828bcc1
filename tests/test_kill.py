"""A run killed with SIGKILL while it stores articles loses nothing and stores nothing twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dyadwatch import pipeline
from dyadwatch.config import load_config
from storage.corpus import open_corpus

from .conftest import PROJECT

ENTRIES = 300


def _feed() -> str:
    items = "".join(
        f"<item><title>Envoys of Russia and Israel meet, round {i}</title>"
        f"<link>{{base}}/a/{i}?utm_source=rss</link><guid>kill-{i}</guid>"
        f"<description>Russian and Israeli envoys met in Vienna for round {i} of talks on "
        "the Syrian border; the Kremlin and Jerusalem both called the meeting useful."
        "</description></item>"
        for i in range(ENTRIES)
    )
    return f'<rss version="2.0"><channel><title>Kill Wire</title>{items}</channel></rss>'


def _count(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("select count(*) from documents where origin = 'feed'").fetchone()[
                0
            ]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_while_storing_then_rerun(loopback, write_config, tmp_path) -> None:
    loopback.routes["/feed"] = (
        200,
        {"Content-Type": "application/rss+xml", "ETag": '"k1"'},
        _feed(),
    )  # every page is missing: each article is stored from its summary
    database = tmp_path / "kill.db"
    path = write_config(
        {
            "database": str(database),
            "seeds": str(PROJECT / "seeds"),
            "feeds": [f"{loopback.base}/feed"],
            "network": {"allow_private_addresses": True},
        }
    )
    script = (
        "import sys; from dyadwatch import pipeline; from dyadwatch.config import load_config; "
        "from storage.corpus import open_corpus; c = load_config(sys.argv[1]); "
        "db = open_corpus(c.database); "
        "pipeline.ingest(db, c, [('chan', 'json://127.0.0.1/…', None)])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], cwd=PROJECT, env={**os.environ}
    )
    deadline = time.monotonic() + 120
    while _count(database) < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored_before = _count(database)
    assert 0 < stored_before < ENTRIES, "the kill should land while articles are being stored"

    config = load_config(path)
    with open_corpus(config.database) as db:
        feed = db.table("feeds").get(1)
        assert feed["etag"] is None  # the feed's state had not advanced
        loopback.hits.clear()
        result = pipeline.ingest(db, config, [("chan", "json://127.0.0.1/…", None)])
        # Only the articles not stored before the kill were fetched again.
        pages = [h for h in loopback.hits if h.startswith("/a/")]
        assert len(pages) == ENTRIES - stored_before
        assert result["documents_new"] == ENTRIES - stored_before

        docs = list(db.query("select id, guid, url from documents where origin = 'feed'"))
        assert len(docs) == ENTRIES
        assert len({d["guid"] for d in docs}) == ENTRIES
        assert all("utm_source" not in d["url"] for d in docs)
        # Each article came with its mentions, flags and one alert per pair and channel.
        orphans = db.execute(
            "select count(*) from documents d where origin = 'feed' and ("
            "not exists (select 1 from mentions m where m.document_id = d.id) or "
            "not exists (select 1 from pair_flags f where f.document_id = d.id "
            "and f.pair = 'ISR-RUS'))"
        ).fetchone()[0]
        assert orphans == 0
        alerts = db.execute(
            "select count(*), count(distinct document_id) from alerts where pair = 'ISR-RUS'"
        ).fetchone()
        assert alerts[0] == alerts[1] == ENTRIES
        assert db.table("feeds").get(1)["etag"] == '"k1"'
