"""Extraction and detection in worker processes give the same records as in one thread."""

from __future__ import annotations

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
