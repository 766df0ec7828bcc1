"""The corpus: one SQLite file, read and written through sqlite-utils.

The schema is declared as data (``TABLES``, ``INDEXES``, ``FTS``) and applied by
:func:`ensure_schema` on every open: tables and columns that are missing are added, nothing
that exists is dropped, so an older corpus opens under a newer dyadwatch without losing a
row. Each article is written in one transaction with its mentions, flags and alerts.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from sqlite_utils.db import Table, jsonify_if_needed

SCHEMA_VERSION = 1

# table -> (columns, primary key, foreign keys as (column, other table, other column))
TABLES: dict[str, dict[str, Any]] = {
    "feeds": {
        "columns": {
            "id": int,
            "url": str,
            "name": str,
            "title": str,
            "site_url": str,
            "added": str,
            "last_polled": str,
            "last_status": str,
            "last_http_status": int,
            "last_error": str,
            "consecutive_failures": int,
            "entries_seen": int,
            "last_new_entry": str,
            "documents": int,
            "etag": str,
            "last_modified": str,
            "config_url": str,
            "enabled": int,
            "disabled_reason": str,
            "next_poll": str,
            "interval_s": int,
            "ttl_s": int,
            "last_success": str,
            "newest_entry_at": str,
            "publish_gap_s": int,
        },
        "pk": "id",
        "not_null": {"url"},
        "defaults": {"consecutive_failures": 0, "entries_seen": 0, "documents": 0, "enabled": 1},
        "foreign_keys": [],
    },
    "documents": {
        "columns": {
            "id": int,
            "url": str,
            "guid": str,
            "feed_id": int,
            "origin": str,
            "title": str,
            "text": str,
            "summary": str,
            "author": str,
            "sitename": str,
            "language": str,
            "published": str,
            "fetched": str,
            "updated": str,
            "content_hash": str,
            "text_source": str,
            "duplicate_of": int,
            "actors": str,
            "topic_score": float,
            "on_topic": int,
            "topic_signals": str,
            "title_key": str,
            "rules_version": str,
            "fetch_error": str,
            "source_hash": str,  # a seed file's bytes, to skip unchanged seeds cheaply
        },
        "pk": "id",
        "not_null": {"url", "origin", "text", "content_hash"},
        "defaults": {},
        "foreign_keys": [("feed_id", "feeds", "id"), ("duplicate_of", "documents", "id")],
    },
    "mentions": {
        "columns": {
            "id": int,
            "document_id": int,
            "actor": str,
            "alias": str,
            "kind": str,
            "surface": str,
            "start": int,
            "end": int,
        },
        "pk": "id",
        "not_null": {"document_id", "actor"},
        "defaults": {},
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "pair_flags": {
        "columns": {
            "id": int,
            "document_id": int,
            "actor_a": str,
            "actor_b": str,
            "pair": str,
            "level": str,
            "tracked": int,
            "sentence": str,
            "sentence_start": int,
            "sentence_end": int,
            "aliases": str,
            "evidence": str,
            "sentence_count": int,
            "created": str,
            "rules_version": str,
        },
        "pk": "id",
        "not_null": {"document_id", "actor_a", "actor_b", "pair", "level"},
        "defaults": {"tracked": 0, "sentence_count": 0},
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "alerts": {
        "columns": {
            "id": int,
            "document_id": int,
            "flag_id": int,
            "pair": str,
            "channel": str,
            "channel_label": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "created": str,
            "next_attempt": str,
            "sent_at": str,
            "claimed_at": str,
            "kind": str,  # new, or updated (a material update of a story already alerted)
            "story_id": int,  # the story's first document: one alert per story, pair, channel
            "digest_id": int,  # the digest that carried it, for digest and folded alerts
        },
        "pk": "id",
        "not_null": {"document_id", "pair", "channel", "status"},
        "defaults": {"attempts": 0, "status": "pending", "kind": "new"},
        "foreign_keys": [("document_id", "documents", "id"), ("flag_id", "pair_flags", "id")],
    },
    "digests": {
        "columns": {
            "id": int,
            "channel": str,
            "channel_label": str,
            "created": str,
            "sent_at": str,
            "status": str,  # sending, sent, failed
            "alerts": int,
            "last_error": str,
        },
        "pk": "id",
        "not_null": {"channel", "status"},
        "defaults": {"alerts": 0},
        "foreign_keys": [],
    },
    # Pipeline health: the current state of each (subject, condition), so that an admin
    # alert goes out once per change of state, not once per run.
    "health": {
        "columns": {
            "id": int,
            "subject": str,
            "condition": str,
            "state": str,  # problem or ok
            "detail": str,
            "since": str,
            "checked": str,
        },
        "pk": "id",
        "not_null": {"subject", "condition", "state"},
        "defaults": {},
        "foreign_keys": [],
    },
    "health_alerts": {
        "columns": {
            "id": int,
            "subject": str,
            "condition": str,
            "state": str,
            "detail": str,
            "channel": str,
            "channel_label": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "created": str,
            "sent_at": str,
        },
        "pk": "id",
        "not_null": {"subject", "condition", "state", "channel", "status"},
        "defaults": {"attempts": 0},
        "foreign_keys": [],
    },
    "runs": {
        "columns": {
            "id": int,
            "started": str,
            "finished": str,
            "status": str,
            "config": str,
            "flow_run_id": str,
            "seeds": int,
            "feeds_configured": int,
            "feeds_disabled": int,
            "feeds_polled": int,
            "feeds_not_modified": int,
            "feeds_failed": int,
            "entries_new": int,
            "documents_new": int,
            "pages_failed": int,
            "flags_new": int,
            "alerts_created": int,
            "alerts_sent": int,
            "alerts_failed": int,
            "alerts_pending": int,
            "alerts_folded": int,
            "duration_s": float,
            "error": str,
        },
        "pk": "id",
        "not_null": set(),
        "defaults": {},
        "foreign_keys": [],
    },
}

INDEXES: list[tuple[str, list[str], bool]] = [
    ("feeds", ["url"], True),
    ("feeds", ["config_url"], True),
    ("documents", ["url"], True),
    ("documents", ["feed_id", "guid"], False),
    ("documents", ["guid"], False),
    ("documents", ["content_hash"], False),
    ("documents", ["published"], False),
    ("documents", ["title_key"], False),
    ("mentions", ["document_id"], False),
    ("mentions", ["actor"], False),
    ("pair_flags", ["document_id", "actor_a", "actor_b"], True),
    ("pair_flags", ["pair", "level"], False),
    ("alerts", ["document_id", "pair", "channel"], True),
    ("alerts", ["status"], False),
    ("alerts", ["story_id", "pair", "channel"], False),
    ("alerts", ["channel", "sent_at"], False),
    ("health", ["subject", "condition"], True),
    ("health_alerts", ["status"], False),
]

FTS: dict[str, list[str]] = {"documents": ["title", "text"]}

# Views for reading: every flag with its document's title, link and day. A feed document
# without a date of its own is dated by when it was fetched; a seed without one has no day.
VIEWS: dict[str, str] = {
    "flags": """
select f.id, f.pair, f.actor_a, f.actor_b, f.level, f.tracked, f.sentence, f.aliases,
       f.sentence_count, f.document_id, d.title, d.url, d.origin, d.feed_id, d.language,
       d.on_topic, d.topic_score,
       substr(coalesce(d.published, case when d.origin = 'feed' then d.fetched end), 1, 10) as day
from pair_flags f join documents d on d.id = f.document_id
""".strip(),
}


def now() -> str:
    """The current UTC time as ISO 8601 text, as every timestamp in the corpus is stored."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_time(value: str | None) -> datetime | None:
    """A stored ISO 8601 timestamp as an aware datetime (UTC when it has no zone), or
    ``None`` when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def content_hash(text: str) -> str:
    """Hash of the text with white space and case folded, so re-wrapped copies match."""
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


class CorpusError(RuntimeError):
    """The database cannot be opened or is not a dyadwatch corpus."""


def open_corpus(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the corpus at ``path`` and make sure its schema is current."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: a statement outside :func:`transaction` never leaves a write lock held
        # (two runs that overlap, a monitor beside a rescore, must not block each other).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA busy_timeout = 30000")
        ensure_schema(db)
        # In WAL mode, NORMAL never corrupts the database and survives a killed process; a
        # power cut may lose the last transactions (the next run fetches those articles
        # again). It saves an fsync per stored article: storing is about twice as fast.
        db.execute("PRAGMA synchronous = NORMAL")
    except (sqlite3.DatabaseError, OSError) as exc:
        raise CorpusError(f"{path}: cannot open the corpus database ({exc})") from None
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction that takes the write lock at its start (``BEGIN IMMEDIATE``).

    A deferred transaction that reads and then writes fails at once ("database is locked")
    when another process wrote in between; an immediate one waits its turn (up to the busy
    timeout) and then sees the other's rows. Nested use becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():  # a savepoint inside the running transaction
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes and the full-text index; idempotent."""
    if db.journal_mode != "wal":
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    # One transaction that holds the write lock: two processes opening (or upgrading) the
    # same corpus at once take turns, and the second finds the schema already current.
    with transaction(db):
        _apply_schema(db)


def _apply_schema(db: sqlite_utils.Database) -> None:
    for name, spec in TABLES.items():
        table: Table = db.table(name)
        if not table.exists():
            table.create(
                spec["columns"],
                pk=spec["pk"],
                not_null=spec["not_null"],
                defaults=spec["defaults"],
                foreign_keys=spec["foreign_keys"],
            )
        else:
            existing = set(table.columns_dict)
            for column, col_type in spec["columns"].items():
                if column not in existing:
                    table.add_column(column, col_type)
    # Feeds stored before feeds could move were polled at the URL they were configured with.
    db.execute("update feeds set config_url = url where config_url is null")
    db.execute("update alerts set story_id = document_id where story_id is null")
    db.execute("update alerts set kind = 'new' where kind is null")
    for name, columns, unique in INDEXES:
        db.table(name).create_index(columns, unique=unique, if_not_exists=True)
    for name, columns in FTS.items():
        if not db.table(f"{name}_fts").exists():
            db.table(name).enable_fts(
                columns, create_triggers=True, tokenize="unicode61 remove_diacritics 2"
            )
    for name, sql in VIEWS.items():
        current = next(
            db.query("select sql from sqlite_master where type = 'view' and name = ?", [name]), None
        )
        if current is None or not current["sql"].endswith(sql):
            db.create_view(name, sql, replace=True)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# -- feeds ---------------------------------------------------------------------------------
def ensure_feeds(db: sqlite_utils.Database, feeds: list[tuple[str, str | None]]) -> None:
    """Add the configured feeds (``(url, name)``) that the corpus does not know yet, and
    keep their names current; a feed is known by the URL it was configured with. Safe when
    two runs add the same feed at once (the second finds it)."""
    stamp = now()
    with transaction(db):
        known = {r["config_url"]: r["name"] for r in db.query("select config_url, name from feeds")}
        for url, name in feeds:
            if url not in known:
                # A feed that moved to this URL gives it back: it is configured in its own right.
                db.execute("update feeds set url = config_url where url = ?", [url])
                db.execute(
                    "insert into feeds (url, config_url, name, added, enabled) "
                    "values (?, ?, ?, ?, 1) on conflict do nothing",
                    [url, url, name, stamp],
                )
                known[url] = name
            elif name and known[url] != name:
                db.execute("update feeds set name = ? where config_url = ?", [name, url])


def refresh_feed_counts(db: sqlite_utils.Database) -> None:
    """Update each feed's document count and the time of its newest stored entry."""
    db.execute(
        """
        update feeds set
          documents = (select count(*) from documents where documents.feed_id = feeds.id),
          last_new_entry = (select max(fetched) from documents where documents.feed_id = feeds.id)
        """
    )


def known_entry(db: sqlite_utils.Database, feed_id: int | None, guid: str, url: str) -> bool:
    """Whether an entry is already stored, by its GUID or its canonical URL.

    GUIDs that look globally unique (URLs, tag: and urn: ids) are matched across feeds;
    short ones ("1234") only within their own feed, where they are unique.
    """
    if url and next(db.query("select 1 from documents where url = ?", [url]), None):
        return True
    if not guid:
        return False
    if ":" in guid or "/" in guid:
        return next(db.query("select 1 from documents where guid = ?", [guid]), None) is not None
    return (
        next(
            db.query("select 1 from documents where guid = ? and feed_id = ?", [guid, feed_id]),
            None,
        )
        is not None
    )


# -- documents -----------------------------------------------------------------------------
def store_document(
    db: sqlite_utils.Database,
    document: dict[str, Any],
    mentions: Iterable[dict[str, Any]],
    flags: Iterable[dict[str, Any]],
    *,
    alert_channels: Iterable[tuple[str, ...]] = (),
    alert_pairs: Iterable[str] = (),
) -> dict[str, Any]:
    """Insert or update one document with its mentions and flags, atomically.

    ``document['url']`` is the natural key: a document stored again (an edited seed) has its
    mentions and flags replaced. A document whose text is already stored under another URL
    is kept and linked to the first copy (``duplicate_of``) and raises no alerts; so is a
    feed story under the same headline within 48 hours, unless its text changed materially,
    which gives one "updated" alert per story, pair and channel. Alert rows are created for
    each pair in ``alert_pairs`` and each ``(channel id, label, pairs or None, status)``
    route: the outbox that delivery works from. ``status`` is ``digest`` for channels that
    get digests.

    Returns ``{"id", "created", "changed", "new_flags", "alerts"}``.
    """
    document = dict(document)
    document["content_hash"] = document.get("content_hash") or content_hash(document["text"])
    stamp = now()
    with transaction(db):
        existing = next(
            db.query("select id, content_hash from documents where url = ?", [document["url"]]),
            None,
        )
        if (
            existing
            and existing["content_hash"] == document["content_hash"]
            and not document.get("force")
        ):
            return {
                "id": existing["id"],
                "created": False,
                "changed": False,
                "new_flags": [],
                "alerts": 0,
            }
        document.pop("force", None)
        document["title_key"] = title_key(document.get("title"))
        duplicate = next(
            db.query(
                "select id from documents where content_hash = ? and url != ? and duplicate_of is null "
                "order by id limit 1",
                [document["content_hash"], document["url"]],
            ),
            None,
        )
        if duplicate is None and document.get("origin") == "feed":
            duplicate = same_story(db, document)
        document["duplicate_of"] = duplicate["id"] if duplicate else None
        if existing:
            doc_id = existing["id"]
            document["updated"] = stamp
            db.table("documents").update(doc_id, document)
            old_flags = {
                r["pair"]: r["id"]
                for r in db.query("select id, pair from pair_flags where document_id = ?", [doc_id])
            }
            db.execute("delete from mentions where document_id = ?", [doc_id])
        else:
            document["fetched"] = document.get("fetched") or stamp
            doc_id = insert_row(db, "documents", document)
            old_flags = {}
        flags = list(flags)
        if existing:
            # Flags of pairs the new text no longer has go; alerts already made keep their row.
            keep = [f["pair"] for f in flags]
            marks = ",".join("?" for _ in keep) or "''"
            db.execute(
                f"update alerts set flag_id = null where document_id = ? and pair not in ({marks})",
                [doc_id, *keep],
            )
            db.execute(
                f"delete from pair_flags where document_id = ? and pair not in ({marks})",
                [doc_id, *keep],
            )
        insert_rows(db, "mentions", ({**m, "document_id": doc_id} for m in mentions))
        new_flags = []
        flag_ids: dict[str, int] = {}
        for flag in flags:
            row = {**flag, "document_id": doc_id, "created": stamp}
            current = old_flags.get(row["pair"])
            if current is not None:
                db.table("pair_flags").update(current, row)
                flag_ids[row["pair"]] = current
            else:
                flag_ids[row["pair"]] = insert_row(db, "pair_flags", row)
                new_flags.append({**row, "id": flag_ids[row["pair"]]})
        alerts = 0
        story = document["duplicate_of"]
        if story is None or material_update(db, story, document):
            for pair in alert_pairs:
                if pair not in flag_ids:
                    continue
                for channel, label, *route in alert_channels:
                    if route and route[0] is not None and pair not in route[0]:
                        continue  # this channel only wants some pairs
                    kind = "new"
                    if story is not None:
                        told = {
                            r["kind"]
                            for r in db.query(
                                "select kind from alerts where story_id = ? and pair = ? "
                                "and channel = ?",
                                [story, pair, channel],
                            )
                        }
                        if "updated" in told:
                            continue  # a story gives at most one "updated" alert
                        kind = "updated" if told else "new"
                    status = route[1] if len(route) > 1 else "pending"
                    cursor = db.execute(
                        "insert or ignore into alerts (document_id, flag_id, pair, channel, "
                        "channel_label, status, attempts, created, next_attempt, kind, story_id) "
                        "values (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                        [
                            doc_id,
                            flag_ids[pair],
                            pair,
                            channel,
                            label,
                            status,
                            stamp,
                            stamp,
                            kind,
                            story if story is not None else doc_id,
                        ],
                    )
                    alerts += cursor.rowcount
    return {
        "id": doc_id,
        "created": existing is None,
        "changed": True,
        "new_flags": new_flags,
        "alerts": alerts,
    }


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f"[{c}]" for c in columns)
    return f"insert into [{table}] ({names}) values ({', '.join('?' for _ in columns)})"


def insert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row into a table of the declared schema; its id.

    The hot path of storing articles: a prepared statement instead of ``Table.insert``,
    which inspects the table on every call (about 60 us against 7). Values are converted as
    ``Table.insert`` converts them (lists and dicts to JSON, dates to ISO strings). Columns
    must exist (``ensure_schema`` created them); an unknown column is an error."""
    columns = tuple(row)
    cursor = db.conn.execute(
        _insert_sql(table, columns), [jsonify_if_needed(row[c]) for c in columns]
    )
    return cursor.lastrowid


def insert_rows(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows that all have the same columns (see :func:`insert_row`)."""
    rows = list(rows)
    if not rows:
        return
    columns = tuple(rows[0])
    db.conn.executemany(
        _insert_sql(table, columns), ([jsonify_if_needed(r[c]) for c in columns] for r in rows)
    )


STORY_WINDOW_S = 48 * 3600
MATERIAL_OVERLAP = 0.8  # a later version sharing less of its vocabulary is a material update


def material_update(db: sqlite_utils.Database, story: int, document: dict[str, Any]) -> bool:
    """Whether a document is a material update of an earlier story: the same outlet (feed or
    host) republished it under the same headline with a text that shares less than 80% of
    its words (Jaccard) with the first version. Copies from other outlets are syndication,
    and identical texts or small corrections are not material."""
    first = db.execute(
        "select text, content_hash, feed_id, url from documents where id = ?", [story]
    ).fetchone()
    if first is None or first[1] == document["content_hash"]:
        return False
    same_feed = first[2] is not None and first[2] == document.get("feed_id")
    if not same_feed and _host(first[3]) != _host(document["url"]):
        return False
    before = set(re.findall(r"\w+", first[0].lower()))
    after = set(re.findall(r"\w+", document["text"].lower()))
    if not before or not after:
        return False
    return len(before & after) / len(before | after) < MATERIAL_OVERLAP


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def title_key(title: str | None) -> str | None:
    """A headline folded for comparison; short or missing headlines give none."""
    if not title:
        return None
    key = " ".join(re.findall(r"\w+", title.lower()))
    return key if len(key) >= 24 else None


def same_story(db: sqlite_utils.Database, document: dict[str, Any]) -> dict[str, Any] | None:
    """An earlier feed document with the same headline within 48 hours: one story syndicated
    or republished under another URL (its text may differ a little)."""
    key = document.get("title_key")
    if key is None:
        return None
    when = _timestamp(document.get("published") or document.get("fetched") or now())
    for row in db.query(
        "select id, coalesce(published, fetched) as at from documents where title_key = ? "
        "and url != ? and duplicate_of is null and origin = 'feed' order by id",
        [key, document["url"]],
    ):
        at = _timestamp(row["at"])
        if when is None or at is None or abs(when - at) <= STORY_WINDOW_S:
            return row
    return None


def _timestamp(value: str | None) -> float | None:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed else None


def flag_rows(
    detection: Any, tracked: set[tuple[str, str]], rules_version: str
) -> list[dict[str, Any]]:
    """``pair_flags`` rows for a detection: sentence-level pairs with their first evidence
    sentence, and pairs that only co-occur somewhere in the document."""
    rows = []
    for pair in detection.document_pairs:
        a, b = pair
        evidence = detection.pairs.get(pair, [])
        row: dict[str, Any] = {
            "actor_a": a,
            "actor_b": b,
            "pair": f"{a}-{b}",
            "level": "sentence" if evidence else "document",
            "tracked": int(pair in tracked),
            "sentence_count": len(evidence),
            "rules_version": rules_version,
            # Every column is written, so an edited document keeps no stale evidence.
            "sentence": None,
            "sentence_start": None,
            "sentence_end": None,
            "aliases": None,
            "evidence": None,
        }
        if evidence:
            first = evidence[0]
            row.update(
                sentence=first.text,
                sentence_start=first.start,
                sentence_end=first.end,
                aliases=json.dumps(sorted({m.surface for m in first.mentions}), ensure_ascii=False),
                evidence=json.dumps([e.as_dict() for e in evidence[:20]], ensure_ascii=False),
            )
        rows.append(row)
    return rows


def mention_rows(detection: Any) -> list[dict[str, Any]]:
    """``mentions`` rows for a detection."""
    return [
        {
            "actor": m.actor,
            "alias": m.alias,
            "kind": m.kind,
            "surface": m.surface,
            "start": m.start,
            "end": m.end,
        }
        for m in detection.mentions
    ]


# -- alerts --------------------------------------------------------------------------------
def pending_alerts(db: sqlite_utils.Database, channels: Iterable[str]) -> list[dict[str, Any]]:
    """Alerts still to deliver on the configured channels whose next attempt is due."""
    channels = list(channels)
    if not channels:
        return []
    marks = ",".join("?" for _ in channels)
    return list(
        db.query(
            f"""
            select alerts.id, alerts.pair, alerts.channel, alerts.attempts, alerts.document_id,
                   alerts.kind,
                   documents.title, documents.url, documents.sitename, documents.published,
                   feeds.name as feed_name, feeds.title as feed_title,
                   pair_flags.sentence, pair_flags.aliases, pair_flags.evidence
            from alerts
            join documents on documents.id = alerts.document_id
            left join feeds on feeds.id = documents.feed_id
            left join pair_flags on pair_flags.id = alerts.flag_id
            where alerts.channel in ({marks})
              and ((alerts.status = 'pending'
                    and (alerts.next_attempt is null or alerts.next_attempt <= ?))
                   -- a delivery claimed by a run that died before recording it
                   or (alerts.status = 'sending' and alerts.claimed_at <= ?))
            order by alerts.id
            """,
            [*channels, now(), _ago(STALE_CLAIM_S)],
        )
    )


STALE_CLAIM_S = 600


def _ago(seconds: float) -> str:
    then = datetime.now(UTC).timestamp() - seconds
    return datetime.fromtimestamp(then, UTC).isoformat(timespec="seconds")


def claim_alert(db: sqlite_utils.Database, alert_id: int) -> bool:
    """Mark an alert as being sent, unless another run got to it first."""
    cursor = db.execute(
        "update alerts set status = 'sending', claimed_at = ? where id = ? and "
        "(status = 'pending' or (status = 'sending' and claimed_at <= ?))",
        [now(), alert_id, _ago(STALE_CLAIM_S)],
    )
    return cursor.rowcount == 1


def count_pending(db: sqlite_utils.Database, channels: Iterable[str]) -> int:
    """Alerts not yet delivered on the configured channels."""
    channels = list(channels)
    if not channels:
        return 0
    marks = ",".join("?" for _ in channels)
    sql = (
        "select count(*) as n from alerts where status in ('pending', 'sending') "
        f"and channel in ({marks})"
    )
    return int(next(db.query(sql, channels))["n"])


def record_delivery(
    db: sqlite_utils.Database, alert_id: int, ok: bool, error: str | None, retry_after_s: float = 0
) -> None:
    """Mark an alert sent, or keep it pending with its error and the time of the next attempt."""
    alert = db.table("alerts").get(alert_id)
    attempts = (alert["attempts"] or 0) + 1
    if ok:
        db.table("alerts").update(
            alert_id,
            {
                "status": "sent",
                "attempts": attempts,
                "sent_at": now(),
                "last_error": None,
                "next_attempt": None,
            },
        )
    else:
        later = datetime.now(UTC).timestamp() + retry_after_s
        db.table("alerts").update(
            alert_id,
            {
                "status": "pending",
                "attempts": attempts,
                "last_error": error,
                "next_attempt": datetime.fromtimestamp(later, UTC).isoformat(timespec="seconds"),
            },
        )


def sent_within(db: sqlite_utils.Database, channel: str, seconds: float) -> int:
    """Alerts sent one by one on a channel in the last ``seconds`` (digests not counted)."""
    return int(
        db.execute(
            "select count(*) from alerts where channel = ? and status = 'sent' "
            "and digest_id is null and sent_at >= ?",
            [channel, _ago(seconds)],
        ).fetchone()[0]
    )


def fold_alert(db: sqlite_utils.Database, alert_id: int) -> bool:
    """Move a pending alert into its channel's next digest (the channel is over its cap)."""
    cursor = db.execute(
        "update alerts set status = 'digest' where id = ? and status = 'pending'", [alert_id]
    )
    return cursor.rowcount == 1


def digest_channels(db: sqlite_utils.Database) -> list[str]:
    """Channels with alerts waiting for a digest."""
    return [r[0] for r in db.execute("select distinct channel from alerts where status = 'digest'")]


def claim_digest(db: sqlite_utils.Database, channel: str, label: str) -> int | None:
    """Take every alert waiting for a digest on ``channel`` into a new digest, atomically;
    ``None`` when there is nothing (or another run took it). A digest claimed by a run that
    died more than ten minutes ago is given back first."""
    with transaction(db):
        stale = [
            r[0]
            for r in db.execute(
                "select id from digests where channel = ? and status = 'sending' and created <= ?",
                [channel, _ago(STALE_CLAIM_S)],
            )
        ]
        for digest_id in stale:
            db.execute(
                "update alerts set status = 'digest', digest_id = null where digest_id = ? "
                "and status = 'digesting'",
                [digest_id],
            )
            db.execute(
                "update digests set status = 'failed', last_error = 'abandoned' where id = ?",
                [digest_id],
            )
        digest_id = int(
            db.table("digests")
            .insert(
                {"channel": channel, "channel_label": label, "created": now(), "status": "sending"}
            )
            .last_pk
        )
        cursor = db.execute(
            "update alerts set status = 'digesting', digest_id = ? where channel = ? "
            "and status = 'digest'",
            [digest_id, channel],
        )
        if cursor.rowcount == 0:
            db.execute("delete from digests where id = ?", [digest_id])
            return None
        db.execute("update digests set alerts = ? where id = ?", [cursor.rowcount, digest_id])
    return digest_id


def digest_rows(db: sqlite_utils.Database, digest_id: int) -> list[dict[str, Any]]:
    """The alerts of a digest with their documents, by pair then date."""
    return list(
        db.query(
            """
            select alerts.id, alerts.pair, alerts.kind, documents.title, documents.url,
                   documents.sitename, documents.published, feeds.title as feed_title,
                   feeds.name as feed_name, pair_flags.sentence
            from alerts
            join documents on documents.id = alerts.document_id
            left join feeds on feeds.id = documents.feed_id
            left join pair_flags on pair_flags.id = alerts.flag_id
            where alerts.digest_id = ?
            order by alerts.pair, coalesce(documents.published, documents.fetched) desc
            """,
            [digest_id],
        )
    )


def record_digest(db: sqlite_utils.Database, digest_id: int, ok: bool, error: str | None) -> None:
    """Mark a digest and its alerts sent, or give its alerts back for the next digest."""
    stamp = now()
    with transaction(db):
        if ok:
            db.execute(
                "update alerts set status = 'sent', sent_at = ?, attempts = attempts + 1 "
                "where digest_id = ?",
                [stamp, digest_id],
            )
            db.execute(
                "update digests set status = 'sent', sent_at = ? where id = ?", [stamp, digest_id]
            )
        else:
            db.execute(
                "update alerts set status = 'digest', digest_id = null, attempts = attempts + 1, "
                "last_error = ? where digest_id = ?",
                [error, digest_id],
            )
            db.execute(
                "update digests set status = 'failed', last_error = ? where id = ?",
                [error, digest_id],
            )


# -- runs ----------------------------------------------------------------------------------
def start_run(db: sqlite_utils.Database, config: str | None, flow_run_id: str | None) -> int:
    """Record the start of a monitoring run."""
    return int(
        db.table("runs")
        .insert(
            {"started": now(), "status": "running", "config": config, "flow_run_id": flow_run_id}
        )
        .last_pk
    )


def finish_run(db: sqlite_utils.Database, run_id: int, summary: dict[str, Any]) -> None:
    """Record a run's outcome and counts."""
    columns = set(TABLES["runs"]["columns"])
    db.table("runs").update(
        run_id, {"finished": now(), **{k: v for k, v in summary.items() if k in columns}}
    )
