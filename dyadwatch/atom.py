"""An Atom feed of recent alerts, so any feed reader can follow them.

The feed holds the flags that raise alerts (tracked pairs in one sentence of an on-topic
feed document that is not a copy of another), newest first, whether or not any Apprise
channel is configured: the feed is a channel of its own. Entry ids are stable per document
and pair, so a reader shows each alert once however often the file is rewritten.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import sqlite_utils

from dyadwatch.alerts import format_alert
from storage import corpus

ATOM = "http://www.w3.org/2005/Atom"

QUERY = """
select f.id, f.pair, f.sentence, f.evidence, f.created, d.id as document_id, d.title, d.url,
       d.sitename, d.published, feeds.name as feed_name, feeds.title as feed_title
from pair_flags f
join documents d on d.id = f.document_id
left join feeds on feeds.id = d.feed_id
where f.tracked = 1 and f.level = 'sentence' and d.origin = 'feed' and d.on_topic = 1
  and d.duplicate_of is null
order by f.created desc, f.id desc
limit ?
"""


def _iso(value: str | None) -> str:
    parsed = corpus.parse_time(value) or datetime.now(UTC)
    return parsed.isoformat(timespec="seconds")


def alerts_feed(
    db: sqlite_utils.Database,
    *,
    limit: int = 100,
    title: str = "dyadwatch alerts",
    self_url: str | None = None,
) -> bytes:
    """The Atom document (UTF-8 bytes) of the ``limit`` most recent alerts."""
    ET.register_namespace("", ATOM)
    rows = list(db.query(QUERY, [limit]))
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = "tag:dyadwatch,2026:alerts"
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(rows[0]["created"] if rows else None)
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "dyadwatch"
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "dyadwatch"
    if self_url:
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    for row in rows:
        a, b = row["pair"].split("-")
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(
            entry, f"{{{ATOM}}}id"
        ).text = f"tag:dyadwatch,2026:alert:{row['document_id']}:{row['pair']}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = f"{a}–{b}: {row['title'] or row['url']}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(row["created"])
        if row["published"]:
            ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(row["published"])
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=row["url"])
        outlet = row["sitename"] or row["feed_title"] or row["feed_name"]
        if outlet:
            ET.SubElement(
                ET.SubElement(entry, f"{{{ATOM}}}author"), f"{{{ATOM}}}name"
            ).text = outlet
        ET.SubElement(entry, f"{{{ATOM}}}category", term=row["pair"])
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = row["sentence"] or ""
        _, body = format_alert({**row, "evidence": row["evidence"] or json.dumps([])})
        ET.SubElement(entry, f"{{{ATOM}}}content", type="text").text = body
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def write_alerts_feed(db: sqlite_utils.Database, path: Path, **kwargs: object) -> int:
    """Write the feed to ``path`` atomically (readers never see half a file); return entries."""
    data = alerts_feed(db, **kwargs)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data.count(b"<entry>")
