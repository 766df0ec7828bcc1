"""Alerts beyond Apprise: the Atom feed of alerts and the example Prefect automation."""

from __future__ import annotations

import feedparser
import yaml
from click.testing import CliRunner

from dyadwatch import pipeline
from dyadwatch.cli import main
from dyadwatch.config import load_config
from dyadwatch.demo import DemoSite
from storage.corpus import open_corpus
from tests.conftest import PROJECT, demo_settings


def test_alerts_feed_reads_back_cleanly(tmp_path, write_config) -> None:
    with DemoSite(port=0) as site:
        path = write_config(demo_settings(site, tmp_path / "corpus.db"))
        with open_corpus(load_config(path).database) as db:
            pipeline.ingest(db, load_config(path))
    output = tmp_path / "alerts.xml"
    result = CliRunner().invoke(
        main, ["alerts-feed", "--config", str(path), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(output.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    # The demo's alertable flags: tracked pairs in one sentence of its on-topic articles.
    assert len(parsed.entries) == 17
    assert len({e.id for e in parsed.entries}) == 17
    first = parsed.entries[0]
    assert first.link.startswith(site.base) and "–" in first.title
    assert first.summary and first.tags[0].term in first.id
    assert not any("football" in e.link for e in parsed.entries)  # off-topic: no alert
    # Rewriting the file keeps the ids, so a reader shows each alert once.
    CliRunner().invoke(main, ["alerts-feed", "--config", str(path), "--output", str(output)])
    assert {e.id for e in feedparser.parse(output.read_bytes()).entries} == {
        e.id for e in parsed.entries
    }


def test_example_automation_is_valid_and_listens_to_the_flow_event() -> None:
    from prefect.events.schemas.automations import AutomationCore

    from flows.monitor import FLAG_EVENT

    data = yaml.safe_load(
        (PROJECT / "automations" / "pair-flagged.yaml").read_text(encoding="utf-8")
    )
    automation = AutomationCore.model_validate(data)
    assert automation.trigger.expect == {FLAG_EVENT}
    related = {spec.root["prefect.resource.id"] for spec in automation.trigger.match_related}
    assert related == {"dyadwatch.actor.RUS", "dyadwatch.actor.ISR"}
