"""Seeds: loaded as documents, skipped cheaply when unchanged, updated when edited."""

from __future__ import annotations

import shutil

from dyadwatch import pipeline
from dyadwatch.config import parse_config
from storage.corpus import open_corpus

from .conftest import PROJECT


def test_unchanged_seeds_cost_nothing_and_edits_update(tmp_path, monkeypatch) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(PROJECT / "seeds", seeds)
    config = parse_config({"database": str(tmp_path / "s.db"), "seeds": str(seeds)})
    with open_corpus(config.database) as db:
        assert pipeline.sync_seeds(db, config) == {"seeds": 2, "seeds_changed": 2}

        def no_analysis(config):
            raise AssertionError("an unchanged seed was analysed again")

        monkeypatch.setattr(pipeline, "analyser_for", no_analysis)
        assert pipeline.sync_seeds(db, config) == {"seeds": 2, "seeds_changed": 0}
        monkeypatch.undo()

        note = seeds / "note.txt"
        note.write_text("Moscow and Jerusalem agreed on a hotline.\n", encoding="utf-8")
        assert pipeline.sync_seeds(db, config) == {"seeds": 3, "seeds_changed": 1}
        note.write_text("Moscow and Kyiv agreed on a prisoner exchange.\n", encoding="utf-8")
        assert pipeline.sync_seeds(db, config)["seeds_changed"] == 1
        row = db.execute(
            "select pair from pair_flags join documents d on d.id = document_id "
            "where d.url = 'seed:note.txt'"
        ).fetchall()
        assert row == [("RUS-UKR",)]
