"""Datasette on a real corpus: canned queries, search, read-only."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import yaml

from dyadwatch import pipeline
from dyadwatch.browse import datasette_app, metadata_for
from dyadwatch.config import parse_config
from dyadwatch.demo import DemoSite
from storage.corpus import open_corpus
from tests.conftest import PROJECT, closed_port

ARTIFACTS = PROJECT / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A corpus built by the plain pipeline functions (no Prefect) from the demo site."""
    path = tmp_path_factory.mktemp("ds") / "corpus.db"
    with DemoSite(port=0) as site:
        config = parse_config(
            {
                "database": str(path),
                "seeds": str(PROJECT / "seeds"),
                "feeds": [{"url": site.feed_url}],
                "network": {"allow_private_addresses": True},
            }
        )
        db = open_corpus(path)
        # One channel that nothing delivers to, so the outbox has rows to show.
        pipeline.ingest(db, config, [("c0ffee", "json://127.0.0.1/…")])
        db.close()
    return path


def get(corpus: Path, url: str):
    async def go():
        ds = datasette_app(corpus)
        await ds.invoke_startup()
        return await ds.client.get(url)

    return asyncio.run(go())


def rows(corpus: Path, query: str, **params) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    response = get(corpus, f"/corpus/{query}.json?_shape=array{'&' + qs if qs else ''}")
    assert response.status_code == 200, response.text
    return response.json()


def test_every_canned_query_is_covered() -> None:
    queries = yaml.safe_load((PROJECT / "dyadwatch" / "metadata.yml").read_text())["databases"][
        "corpus"
    ]["queries"]
    assert set(queries) == {
        "latest_flags",
        "pair_timeline",
        "pair_matrix",
        "pair_documents",
        "search",
        "feed_health",
        "alert_outbox",
    }


def test_latest_flags_and_timeline(corpus) -> None:
    flags = rows(corpus, "latest_flags")
    assert {"ISR-RUS", "ISR-UKR", "RUS-UKR", "IRN-RUS", "IRN-ISR"} <= {f["pair"] for f in flags}
    assert all(f["sentence"] and f["aliases"] and f["url"] for f in flags)
    timeline = rows(corpus, "pair_timeline")
    assert {"day", "pair", "flags"} <= set(timeline[0])
    assert any(t["day"] == "2026-11-20" and t["pair"] == "ISR-RUS" for t in timeline)


def test_matrix_and_pair_documents(corpus) -> None:
    matrix = rows(corpus, "pair_matrix")
    isr_rus = next(m for m in matrix if (m["actor_a"], m["actor_b"]) == ("ISR", "RUS"))
    assert isr_rus["sentence_docs"] >= 5 and isr_rus["tracked"] == 1
    docs = rows(corpus, "pair_documents", pair="ISR-RUS", start="2026-11-01", end="2026-12-31")
    feed_docs = [d for d in docs if d["origin"] == "feed"]
    assert len(feed_docs) == 4 and all(d["sentence"] for d in feed_docs)
    assert (
        rows(corpus, "pair_documents", pair="ISR-RUS", start="2020-01-01", end="2020-12-31") == []
    )


def test_search_covers_seeds_and_feed_documents(corpus) -> None:
    hits = rows(corpus, "search", q="Kremlin")
    assert {"seed", "feed"} <= {h["origin"] for h in hits}
    table = get(corpus, "/corpus/documents.json?_search=Mossad&_shape=array")
    assert table.status_code == 200 and table.json()


def test_feed_health_and_outbox(corpus) -> None:
    [feed] = rows(corpus, "feed_health")
    assert feed["last_status"] == "ok" and feed["documents"] == 14
    outbox = rows(corpus, "alert_outbox")
    assert outbox and {o["status"] for o in outbox} == {"pending"}
    assert {o["channel_label"] for o in outbox} == {"json://127.0.0.1/…"}
    assert {o["pair"] for o in outbox} <= {"ISR-RUS", "ISR-UKR", "RUS-UKR", "IRN-RUS", "IRN-ISR"}


def test_served_read_only(corpus) -> None:
    [database] = get(corpus, "/-/databases.json").json()
    assert database["is_mutable"] is False  # immutable: no write connection at all
    queries = yaml.safe_load((PROJECT / "dyadwatch" / "metadata.yml").read_text())["databases"][
        "corpus"
    ]["queries"]
    assert not any(q.get("write") for q in queries.values())
    assert get(corpus, "/corpus.json?sql=delete+from+documents").status_code == 400
    live = asyncio.run(_databases(datasette_app(corpus, live=True)))
    assert live[0]["is_mutable"] is True  # --live follows writes, through read-only connections


async def _databases(ds) -> list[dict]:
    await ds.invoke_startup()
    return (await ds.client.get("/-/databases.json")).json()


def test_metadata_follows_the_file_name(tmp_path) -> None:
    meta = metadata_for(tmp_path / "demo.db")
    assert list(meta["databases"]) == ["demo"]


def dashboard() -> dict:
    meta = yaml.safe_load((PROJECT / "dyadwatch" / "metadata.yml").read_text())
    return meta["plugins"]["datasette-dashboards"]["pairs"]


def test_dashboard_pages_and_chart_queries(corpus) -> None:
    assert get(corpus, "/-/dashboards/pairs").status_code == 200
    for name, chart in dashboard()["charts"].items():
        assert get(corpus, f"/-/dashboards/pairs/{name}").status_code == 200
        for options, expect_rows in ((False, True), (True, False)):
            # Filters are optional [[ ... ]] blocks: run without them, then with a date
            # range that holds no flag at all.
            sql = chart["query"]
            sql = re.sub(r"\[\[(.*?)\]\]", (lambda m: m.group(1)) if options else "", sql)
            params = {
                "sql": sql,
                "_shape": "array",
                "date_start": "1990-01-01",
                "date_end": "1990-12-31",
            }
            if options:
                params["pair"] = "ISR-RUS"
            response = get(corpus, "/corpus.json?" + urlencode(params))
            assert response.status_code == 200, (name, response.text)
            assert bool(response.json()) is expect_rows, name


def test_flags_view_dates_feed_documents_only(corpus) -> None:
    rows_ = rows(corpus, "latest_flags")
    assert all(r["day"] for r in rows_ if r["origin"] == "feed")
    assert all(r["day"] is None for r in rows_ if r["origin"] == "seed")


@pytest.mark.slow
def test_timeline_chart_renders_in_chromium(corpus, tmp_path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    port = closed_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dyadwatch.cli",
            "browse",
            "--database",
            str(corpus),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/-/dashboards/pairs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,1000",
            "--virtual-time-budget=15000",
        ]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "dashboard-pairs.png"
        subprocess.run(
            [chromium, *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=120
        )
        dom = subprocess.run(
            [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    # vega-embed draws each chart as an <svg class="marks"> once its data has loaded.
    charts = re.findall(r'<svg[^>]*class="marks"[^>]*width="(\d+)"', dom.stdout)
    assert len(charts) >= 2 and all(int(w) > 100 for w in charts), dom.stdout[-2000:]
    assert "ISR-RUS" in dom.stdout
    assert screenshot.stat().st_size > 20_000
