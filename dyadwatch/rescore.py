"""Re-apply the current gazetteer and rules to every stored document.

Used after the gazetteer or the detection rules change: each document is analysed again
from its stored text and date, its mentions, flags and topic score are replaced, and every
flag records the rules' version (a hash of the gazetteer). The flags that appear and
disappear are reported; alerts for flags that appear are created only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from dyadwatch.alerts import routes as alert_routes
from dyadwatch.config import Config
from dyadwatch.pipeline import analysed_document, analyser_for
from storage import corpus

DOCUMENT_FIELDS = (
    "url",
    "guid",
    "feed_id",
    "origin",
    "title",
    "text",
    "summary",
    "author",
    "sitename",
    "language",
    "published",
    "fetched",
    "text_source",
    "fetch_error",
)


@dataclass
class Change:
    """A flag that appears or disappears."""

    document_id: int
    title: str | None
    pair: str
    level: str
    sentence: str | None = None


@dataclass
class RescoreResult:
    """What a rescore changed (or would change, in a dry run)."""

    documents: int = 0
    changed_documents: int = 0
    appeared: list[Change] = field(default_factory=list)
    disappeared: list[Change] = field(default_factory=list)
    alerts_created: int = 0
    rules_version: str = ""


def _flag_keys(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["pair"], r["level"]): r for r in rows}


def rescore(
    db: sqlite_utils.Database, config: Config, *, apply: bool = True, alerts: bool = False
) -> RescoreResult:
    """Analyse every document again; replace its flags unless ``apply`` is false."""
    analyser = analyser_for(config)
    result = RescoreResult(rules_version=analyser.gazetteer.version)
    channels = alert_routes(config) if alerts else []
    ids = [r["id"] for r in db.query("select id from documents order by id")]
    for doc_id in ids:
        row = db.table("documents").get(doc_id)
        result.documents += 1
        record = analysed_document(analyser, {k: row[k] for k in DOCUMENT_FIELDS})
        before = _flag_keys(
            list(
                db.query(
                    "select pair, level, sentence from pair_flags where document_id = ?", [doc_id]
                )
            )
        )
        after = _flag_keys(record["flags"])
        appeared = [k for k in after if k not in before]
        gone = [k for k in before if k not in after]
        for pair, level in appeared:
            result.appeared.append(
                Change(doc_id, row["title"], pair, level, after[(pair, level)].get("sentence"))
            )
        for pair, level in gone:
            result.disappeared.append(
                Change(doc_id, row["title"], pair, level, before[(pair, level)]["sentence"])
            )
        stale_version = next(
            db.query(
                "select count(*) as n from pair_flags where document_id = ? and "
                "(rules_version is null or rules_version != ?)",
                [doc_id, result.rules_version],
            )
        )["n"]
        rescored = record["document"]["topic_score"] != row["topic_score"]
        if (
            appeared
            or gone
            or stale_version
            or rescored
            or row["rules_version"] != result.rules_version
        ):
            result.changed_documents += 1
            if apply:
                stored = corpus.store_document(
                    db,
                    {**record["document"], "force": True},
                    record["mentions"],
                    record["flags"],
                    alert_channels=channels,
                    alert_pairs=[p for p in record["alert_pairs"] if (p, "sentence") in appeared]
                    if alerts
                    else [],
                )
                result.alerts_created += stored["alerts"]
    return result
