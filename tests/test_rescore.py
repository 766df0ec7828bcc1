"""`dyadwatch rescore`: flags follow the current rules; changes are reported; alerts only on request."""

from __future__ import annotations

import sqlite_utils
from click.testing import CliRunner

from dyadwatch import pipeline
from dyadwatch.cli import main
from dyadwatch.config import load_config
from dyadwatch.demo import DemoSite
from storage.corpus import open_corpus
from tests.conftest import closed_port, demo_settings


def build(tmp_path, write_config):
    with DemoSite(port=0) as site:
        path = write_config(
            demo_settings(
                site,
                tmp_path / "corpus.db",
                alerts=[{"apprise": f"json://127.0.0.1:{closed_port()}/a"}],
            )
        )
        config = load_config(path)
        with open_corpus(config.database) as db:
            pipeline.ingest(db, config)  # no alert channels yet
    return path


def test_rescore_restores_flags_reports_changes_and_alerts_only_when_asked(
    tmp_path, write_config
) -> None:
    path = build(tmp_path, write_config)
    db = sqlite_utils.Database(tmp_path / "corpus.db")
    [victim] = db.query(
        "select id, document_id from pair_flags where pair = 'ISR-RUS' and level = 'sentence' "
        "and document_id = (select min(id) from documents where origin = 'feed' and on_topic = 1 "
        "and id in (select document_id from pair_flags where pair = 'ISR-RUS'))"
    )
    db.execute("delete from pair_flags where id = ?", [victim["id"]])
    db.execute(
        "insert into pair_flags (document_id, actor_a, actor_b, pair, level, tracked) "
        "values (?, 'CHN', 'RUS', 'CHN-RUS', 'document', 0)",
        [victim["document_id"]],
    )
    db.execute("update pair_flags set rules_version = 'old'")

    dry = CliRunner().invoke(main, ["rescore", "--config", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "flags that would appear: 1" in dry.output and "+ ISR-RUS (sentence)" in dry.output
    assert "flags that would disappear: 1" in dry.output and "- CHN-RUS (document)" in dry.output
    assert next(db.query("select count(*) n from pair_flags where rules_version = 'old'"))["n"] > 0

    applied = CliRunner().invoke(main, ["rescore", "--config", str(path)])
    assert applied.exit_code == 0 and "flags that appear: 1" in applied.output
    assert next(db.query("select count(*) n from pair_flags where pair = 'CHN-RUS'"))["n"] == 0
    versions = {r["rules_version"] for r in db.query("select rules_version from pair_flags")}
    assert len(versions) == 1 and "old" not in versions
    assert db.table("alerts").count == 0  # not asked for

    again = CliRunner().invoke(main, ["rescore", "--config", str(path)])
    assert "0 changed" in again.output and "flags that appear: 0" in again.output

    db.execute(
        "delete from pair_flags where id in (select id from pair_flags where pair = 'ISR-RUS' "
        "and level = 'sentence' and document_id = ?)",
        [victim["document_id"]],
    )
    asked = CliRunner().invoke(main, ["rescore", "--config", str(path), "--alerts"])
    assert "alerts created: 1, sent: 0" in asked.output  # the channel is down: kept pending
    assert [r["status"] for r in db.query("select status from alerts")] == ["pending"]
