"""The command line: detect, run with a bad config, demo end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dyadwatch.cli import main
from tests.conftest import PROJECT

ARTICLES = PROJECT / "dyadwatch" / "demo_site" / "articles"


def test_detect_json_shape(tmp_path) -> None:
    text = tmp_path / "note.txt"
    text.write_text(
        "Russia and Israel renewed their hotline.\nThe weather was fine.\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        main, ["detect", "--json", str(text), str(ARTICLES / "turkey-recipe.html")]
    )
    assert result.exit_code == 0, result.output
    first, second = [json.loads(line) for line in result.output.splitlines()]
    assert first["file"] == str(text)
    assert first["actors"] == ["ISR", "RUS"]
    assert first["document_pairs"] == [["ISR", "RUS"]]
    [pair] = first["pairs"]
    assert pair["actors"] == ["ISR", "RUS"]
    [sentence] = pair["sentences"]
    assert sentence["text"] == "Russia and Israel renewed their hotline."
    assert (sentence["start"], sentence["end"]) == (0, 40)
    assert sorted(sentence["aliases"]) == ["Israel", "Russia"]
    assert isinstance(first["topic"]["score"], float) and isinstance(
        first["topic"]["on_topic"], bool
    )
    assert second["actors"] == [] and second["topic"]["on_topic"] is False


def test_detect_reads_stdin_and_reports_missing_files(tmp_path) -> None:
    result = CliRunner().invoke(main, ["detect", "--json", "-"], input="Kyiv thanked Jerusalem.")
    assert json.loads(result.output)["actors"] == ["ISR", "UKR"]
    missing = tmp_path / "absent.txt"
    result = CliRunner().invoke(main, ["detect", str(missing)])
    assert result.exit_code == 1
    assert str(missing) in result.output


def test_run_with_invalid_config_names_the_key(tmp_path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("feeds:\n  - url: gopher://old.example/\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "dyadwatch.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{config}: feeds[0].url: unsupported scheme 'gopher'" in result.stderr
    assert not (tmp_path / "data").exists()


def test_run_with_unusable_database(tmp_path) -> None:
    (tmp_path / "corpus.db").write_text("this is not a database", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text("database: corpus.db\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "corpus.db: cannot open the corpus database" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_demo_end_to_end(tmp_path) -> None:
    database = tmp_path / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--database", str(database)])
    assert result.exit_code == 0, result.output
    assert "new documents: 14" in result.output
    assert "ISR–RUS:" in result.output and "“" in result.output
    assert f"Database: {database}" in result.output
    assert "dyadwatch browse --database" in result.output
    again = CliRunner().invoke(main, ["demo", "--database", str(database)])
    assert again.exit_code == 0 and "new documents: 0" in again.output


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"dyadwatch {name}" in readme, name


def test_feeds_shows_health_and_reenables(loopback, write_config, tmp_path) -> None:
    from dyadwatch import pipeline
    from dyadwatch.config import load_config
    from storage.corpus import open_corpus

    loopback.routes["/gone"] = (410, {}, b"")
    loopback.routes["/down"] = (500, {}, b"")
    path = write_config(
        {
            "database": str(tmp_path / "f.db"),
            "seeds": None,
            "feeds": [
                {"url": f"{loopback.base}/gone", "name": "Gone Gazette"},
                f"{loopback.base}/down",
            ],
            "network": {"allow_private_addresses": True},
        }
    )
    with open_corpus(tmp_path / "f.db") as db:
        pipeline.ingest(db, load_config(path))
    shown = CliRunner().invoke(main, ["feeds", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "DISABLED  Gone Gazette" in shown.output and "HTTP 410 Gone" in shown.output
    assert "http 500" in shown.output and "1 failure in a row" in shown.output
    enabled = CliRunner().invoke(
        main, ["feeds", "--config", str(path), "--enable", f"{loopback.base}/gone"]
    )
    assert enabled.exit_code == 0 and "Enabled" in enabled.output
    assert "DISABLED" not in CliRunner().invoke(main, ["feeds", "--config", str(path)]).output
    unknown = CliRunner().invoke(main, ["feeds", "--config", str(path), "--enable", "http://x/"])
    assert unknown.exit_code == 2 and "no feed with the URL http://x/" in unknown.output
