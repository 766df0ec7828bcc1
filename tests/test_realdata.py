"""Real-world feeds from other projects' test suites, served on loopback: every entry is stored.

The feeds are not part of this project; they are read from ``../shared/realdata/feeds``
beside the checkout (or the folder named by ``DYADWATCH_REALDATA_FEEDS``) when it exists,
and the test is skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dyadwatch import pipeline
from dyadwatch.config import load_config
from dyadwatch.feeds import canonical_url, parse_feed
from dyadwatch.fetch import FetchError
from storage.corpus import open_corpus

from .conftest import PROJECT

FOLDER = Path(
    os.environ.get("DYADWATCH_REALDATA_FEEDS") or PROJECT.parent / "shared" / "realdata" / "feeds"
)
FILES = (
    sorted(p for p in FOLDER.glob("*") if p.is_file() and p.suffix != ".md")
    if FOLDER.is_dir()
    else []
)


@pytest.mark.skipif(not FILES, reason=f"no real-world feeds in {FOLDER}")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_entry_of_a_real_feed_is_stored(
    path, loopback, write_config, tmp_path, monkeypatch
) -> None:
    def offline(client, url, **kwargs):  # the articles' real hosts are never contacted
        raise FetchError(url, "not fetched in this test", kind="refused")

    monkeypatch.setattr(pipeline, "fetch", offline)
    body = path.read_bytes()
    loopback.routes["/feed"] = (200, {"Content-Type": "application/xml"}, body)
    url = f"{loopback.base}/feed"
    entries = parse_feed(body, url).entries
    assert entries, f"{path.name}: no entries parsed"
    # Entries whose links normalise to one URL are one article, stored once.
    expected = {canonical_url(e.link) for e in entries if e.link}
    config = load_config(
        write_config(
            {
                "database": str(tmp_path / "real.db"),
                "seeds": None,
                "feeds": [url],
                "network": {"allow_private_addresses": True},
                "fetch": {"timeout": 2},
            }
        )
    )
    with open_corpus(config.database) as db:
        result = pipeline.ingest(db, config)  # pages are not fetched: summaries are used
        assert [p.ok for p in result["polls"]] == [True], result["polls"][0].error
        stored = {r["url"] for r in db.query("select url from documents")}
    assert expected - stored == set()
