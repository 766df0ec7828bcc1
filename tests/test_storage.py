"""The corpus schema and atomic document writes."""

from __future__ import annotations

import json
import sqlite3

import pytest

from storage.corpus import (
    TABLES,
    claim_alert,
    content_hash,
    ensure_schema,
    open_corpus,
    pending_alerts,
    record_delivery,
    store_document,
)


@pytest.fixture
def db(tmp_path):
    database = open_corpus(tmp_path / "corpus.db")
    yield database
    database.close()


def flag(pair: str, sentence: str = "Russia and Israel met.") -> dict:
    a, b = pair.split("-")
    return {
        "actor_a": a,
        "actor_b": b,
        "pair": pair,
        "level": "sentence",
        "tracked": 1,
        "sentence": sentence,
        "sentence_start": 0,
        "sentence_end": len(sentence),
        "aliases": json.dumps(["Russia", "Israel"]),
        "sentence_count": 1,
    }


def doc(url: str, text: str = "Russia and Israel met.") -> dict:
    return {"url": url, "origin": "feed", "title": "T", "text": text}


def test_schema_is_complete_and_idempotent(db) -> None:
    assert set(TABLES) <= set(db.table_names())
    assert "documents_fts" in db.table_names()
    before = {t: db.table(t).schema for t in db.table_names()}
    ensure_schema(db)
    ensure_schema(db)
    assert {t: db.table(t).schema for t in db.table_names()} == before


def test_missing_columns_are_added_without_losing_rows(tmp_path) -> None:
    import sqlite_utils

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    old.table("feeds").insert({"id": 1, "url": "https://x.example/rss"}, pk="id")
    old.close()
    db = open_corpus(path)
    assert db.table("feeds").count == 1
    assert "consecutive_failures" in db.table("feeds").columns_dict


def test_store_document_with_flags_and_alerts(db) -> None:
    result = store_document(
        db,
        doc("https://a.example/1"),
        [
            {
                "actor": "RUS",
                "alias": "Russia",
                "kind": "name",
                "surface": "Russia",
                "start": 0,
                "end": 6,
            }
        ],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "json://h/…")],
        alert_pairs=["ISR-RUS"],
    )
    assert result["created"] and result["alerts"] == 1 and len(result["new_flags"]) == 1
    # Stored again unchanged: nothing new.
    again = store_document(
        db,
        doc("https://a.example/1"),
        [],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "json://h/…")],
        alert_pairs=["ISR-RUS"],
    )
    assert not again["changed"] and db.table("alerts").count == 1
    # Full-text search is kept current by triggers.
    hits = list(db.query("select rowid from documents_fts where documents_fts match 'israel'"))
    assert [h["rowid"] for h in hits] == [result["id"]]


def test_same_text_at_another_url_is_a_duplicate_without_alerts(db) -> None:
    first = store_document(
        db,
        doc("https://a.example/1"),
        [],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "l")],
        alert_pairs=["ISR-RUS"],
    )
    copy = store_document(
        db,
        doc("https://b.example/copy", "RUSSIA and  Israel met."),
        [],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "l")],
        alert_pairs=["ISR-RUS"],
    )
    assert db.table("documents").get(copy["id"])["duplicate_of"] == first["id"]
    assert copy["alerts"] == 0 and db.table("alerts").count == 1


def test_failed_write_leaves_nothing_behind(db) -> None:
    # The flag violates a NOT NULL constraint after the document and mentions were written.
    bad_flag = {"actor_a": "ISR", "actor_b": "RUS", "pair": "ISR-RUS", "level": None}
    with pytest.raises(sqlite3.IntegrityError):
        store_document(
            db,
            doc("https://a.example/broken"),
            [
                {
                    "actor": "RUS",
                    "alias": "Russia",
                    "kind": "name",
                    "surface": "Russia",
                    "start": 0,
                    "end": 6,
                }
            ],
            [bad_flag],
        )
    assert db.table("documents").count == 0
    assert db.table("mentions").count == 0


def test_edited_document_replaces_its_flags(db) -> None:
    store_document(db, doc("seed:a.txt"), [], [flag("ISR-RUS")])
    result = store_document(db, doc("seed:a.txt", "Iran and Russia met."), [], [flag("IRN-RUS")])
    assert result["changed"] and not result["created"]
    assert [r["pair"] for r in db.query("select pair from pair_flags")] == ["IRN-RUS"]


def test_a_pair_that_leaves_the_sentence_keeps_no_stale_evidence(db) -> None:
    from dyadwatch.actors import load_gazetteer
    from storage.corpus import flag_rows

    gazetteer = load_gazetteer()

    def flags_for(text: str) -> list[dict]:
        return flag_rows(gazetteer.detect(text), {("ISR", "RUS")}, "v")

    store_document(
        db, doc("seed:x.txt", "Russia and Israel met."), [], flags_for("Russia and Israel met.")
    )
    edited = "Russia met nobody.\nIsrael waited."
    store_document(db, doc("seed:x.txt", edited), [], flags_for(edited))
    [row] = db.query("select * from pair_flags")
    assert row["level"] == "document"
    assert (row["sentence"], row["sentence_start"], row["aliases"], row["evidence"]) == (
        None,
        None,
        None,
        None,
    )


def test_delivery_bookkeeping(db) -> None:
    store_document(
        db,
        doc("https://a.example/1"),
        [],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "l")],
        alert_pairs=["ISR-RUS"],
    )
    [pending] = pending_alerts(db, ["c1"])
    assert pending["sentence"] == "Russia and Israel met."
    assert claim_alert(db, pending["id"]) and not claim_alert(db, pending["id"])  # one sender only
    assert pending_alerts(db, ["c1"]) == []
    record_delivery(db, pending["id"], False, "connection refused")
    row = db.table("alerts").get(pending["id"])
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "pending",
        1,
        "connection refused",
    )
    record_delivery(db, pending["id"], True, None)
    assert db.table("alerts").get(pending["id"])["status"] == "sent"
    assert pending_alerts(db, ["c1"]) == []


def test_content_hash_folds_case_and_space() -> None:
    assert content_hash("A  b\nC") == content_hash("a b c")


def test_same_headline_within_48_hours_is_one_story(db) -> None:
    title = "Russia and Israel renew their deconfliction hotline"
    first = store_document(
        db,
        {**doc("https://a.example/1"), "title": title, "published": "2026-11-20T08:00:00+00:00"},
        [],
        [flag("ISR-RUS")],
        alert_channels=[("c1", "l")],
        alert_pairs=["ISR-RUS"],
    )
    reworded = {
        **doc("https://b.example/x", "Israel and Russia met, sources said."),
        "title": title + "!",
        "published": "2026-11-21T20:00:00+00:00",
    }
    copy = store_document(
        db, reworded, [], [flag("ISR-RUS")], alert_channels=[("c1", "l")], alert_pairs=["ISR-RUS"]
    )
    assert db.table("documents").get(copy["id"])["duplicate_of"] == first["id"]
    assert copy["alerts"] == 0
    later = {
        **doc("https://c.example/y", "Russia and Israel met again."),
        "title": title,
        "published": "2026-11-25T08:00:00+00:00",
    }
    again = store_document(
        db, later, [], [flag("ISR-RUS")], alert_channels=[("c1", "l")], alert_pairs=["ISR-RUS"]
    )
    assert db.table("documents").get(again["id"])["duplicate_of"] is None and again["alerts"] == 1


def test_channels_receive_only_their_pairs(db) -> None:
    result = store_document(
        db,
        doc("https://a.example/1"),
        [],
        [flag("ISR-RUS"), flag("IRN-RUS")],
        alert_channels=[("only-isr-rus", "l1", {"ISR-RUS"}), ("everything", "l2", None)],
        alert_pairs=["ISR-RUS", "IRN-RUS"],
    )
    assert result["alerts"] == 3
    routed = sorted((r["channel"], r["pair"]) for r in db.query("select channel, pair from alerts"))
    assert routed == [
        ("everything", "IRN-RUS"),
        ("everything", "ISR-RUS"),
        ("only-isr-rus", "ISR-RUS"),
    ]


def test_nested_transactions_are_savepoints(db) -> None:
    from storage.corpus import transaction

    with transaction(db):
        db.execute("insert into feeds (url, config_url) values ('u1', 'u1')")
        with pytest.raises(ValueError), transaction(db):
            db.execute("insert into feeds (url, config_url) values ('u2', 'u2')")
            raise ValueError("inner block fails")
    assert [r["url"] for r in db.query("select url from feeds")] == ["u1"]


def test_schema_can_be_opened_by_many_processes_at_once(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "race.db"
    script = "import sys; from storage.corpus import open_corpus; open_corpus(sys.argv[1]).close()"
    runs = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(6)]
    assert [r.wait(timeout=120) for r in runs] == [0] * 6


def test_a_record_sqlite_refuses_is_reported_and_the_others_are_stored(db) -> None:
    from dyadwatch import pipeline

    def record(url: str, title: str) -> dict:
        doc = {"url": url, "origin": "feed", "title": title, "text": f"Text of {url}."}
        return {"document": doc, "mentions": [], "flags": [], "alert_pairs": []}

    records = [
        record("https://a.example/1", "Fine"),
        record("https://a.example/2", "Broken \ud83d title"),  # a lone surrogate
        record("https://a.example/3", "Also fine"),
    ]
    result = pipeline.store_records(db, records, [])
    assert result["documents_new"] == 2
    (error,) = result["errors"]
    assert error.startswith("https://a.example/2: not stored (UnicodeEncodeError")
    urls = [r["url"] for r in db.query("select url from documents order by id")]
    assert urls == ["https://a.example/1", "https://a.example/3"]


def test_insert_row_converts_values_as_sqlite_utils_does(db) -> None:
    from datetime import UTC, datetime

    from storage.corpus import insert_row

    when = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    row = {
        "url": "https://a.example/x",
        "origin": "feed",
        "text": "T",
        "content_hash": "h",
        "published": when,
    }
    doc_id = insert_row(db, "documents", row)
    db.table("documents").insert({**row, "url": "https://a.example/y"})
    stored = [r["published"] for r in db.query("select published from documents order by id")]
    assert stored == [when.isoformat(), when.isoformat()] and doc_id == 1
    flag_id = insert_row(
        db,
        "pair_flags",
        {
            "document_id": doc_id,
            "pair": "ISR-RUS",
            "actor_a": "ISR",
            "actor_b": "RUS",
            "level": "sentence",
            "tracked": 1,
            "aliases": ["Moscow", "Israel"],
        },
    )
    (aliases,) = db.execute("select aliases from pair_flags where id = ?", [flag_id]).fetchone()
    assert json.loads(aliases) == ["Moscow", "Israel"]
