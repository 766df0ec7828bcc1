"""Deliver alerts from the corpus outbox through Apprise URLs.

An alert row exists once per document, tracked pair and channel (a unique index), so a
story can alert at most once on each channel. A run claims a row (``sending``) before
sending it, so two overlapping runs never send the same alert, and marks it sent only
after the channel accepted it. A failed attempt puts the row back to pending with its
error; the next run tries again (at once for the first few attempts, then backing off up
to an hour). A run killed between sending and recording leaves the row claimed; after ten
minutes another run takes it over, so an alert is never lost (and is sent twice only in
that one case). Channels are identified in the database by a hash of their URL and shown
redacted: tokens inside URLs never reach the corpus, the logs or Datasette.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import apprise
import sqlite_utils

from dyadwatch.config import redact_url
from storage import corpus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    """A configured notification target."""

    id: str
    label: str
    url: str


def channels(urls: list[str]) -> list[Channel]:
    """Channels for Apprise URLs: a stable id (hash of the URL) and a redacted label."""
    return [
        Channel(hashlib.sha256(url.encode()).hexdigest()[:16], redact_url(url), url) for url in urls
    ]


def routes(
    urls: list[str], alert_pairs: dict[str, tuple[tuple[str, str], ...]] | None = None
) -> list[tuple[str, str, set[str] | None]]:
    """Per channel: its id, its label and the pairs it wants (``None``: every tracked pair)."""
    alert_pairs = alert_pairs or {}
    return [
        (
            c.id,
            c.label,
            {f"{a}-{b}" for a, b in alert_pairs[c.url]} if c.url in alert_pairs else None,
        )
        for c in channels(urls)
    ]


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt: none for the first three, then doubling to an hour."""
    return 0.0 if attempts < 3 else min(3600.0, 30.0 * 2 ** (attempts - 3))


def _marked(sentence: str, evidence: list[dict[str, Any]] | None) -> str:
    """The evidence sentence with the aliases that fired in bold."""
    if not sentence or not evidence:
        return sentence or ""
    first = evidence[0]
    base = first["start"]
    out, pos = [], 0
    for m in sorted(first.get("mentions", []), key=lambda m: m["start"]):
        s, e = m["start"] - base, m["end"] - base
        if s < pos or e > len(sentence):
            continue
        out.append(sentence[pos:s])
        out.append(f"**{sentence[s:e]}**")
        pos = e
    out.append(sentence[pos:])
    return "".join(out)


def format_alert(row: dict[str, Any]) -> tuple[str, str]:
    """Title and Markdown body of an alert: pair, headline, outlet, date, evidence, link."""
    a, b = row["pair"].split("-")
    title = f"[dyadwatch] {a}–{b}: {row.get('title') or row.get('url')}"
    evidence = json.loads(row["evidence"]) if row.get("evidence") else None
    outlet = row.get("sitename") or row.get("feed_title") or row.get("feed_name") or ""
    lines = [
        f"**{a}–{b}** in *{row.get('title') or 'untitled'}*",
        " · ".join(x for x in (outlet, (row.get("published") or "")[:10]) if x),
        "",
        f"> {_marked(row.get('sentence') or '', evidence)}",
        "",
        row.get("url") or "",
    ]
    return title, "\n".join(lines).strip()


def send(url: str, title: str, body: str) -> tuple[bool, str | None]:
    """Send one notification; return success and a readable, secret-free error."""
    notifier = apprise.Apprise()
    # Apprise logs the URL it was given, token and all: everything it says is captured.
    with apprise.LogCapture(level=logging.WARNING) as captured:
        if not notifier.add(url):
            return False, f"{redact_url(url)}: not a valid Apprise URL"
        ok = notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN)
    if ok:
        return True, None
    text = captured.getvalue().strip().splitlines()
    error = text[-1] if text else "delivery failed"
    return False, error.replace(url, redact_url(url))[:500]


def deliver_pending(db: sqlite_utils.Database, urls: list[str]) -> dict[str, int]:
    """Deliver every due pending alert on the configured channels; return counts."""
    by_id = {c.id: c for c in channels(urls)}
    sent = failed = 0
    down: set[str] = set()
    for row in corpus.pending_alerts(db, by_id):
        channel = by_id[row["channel"]]
        if channel.id in down:
            continue  # one refused connection is enough to know the channel is down this run
        if not corpus.claim_alert(db, row["id"]):
            continue  # another run (a manual one beside a scheduled one) is sending it
        title, body = format_alert(row)
        ok, error = send(channel.url, title, body)
        corpus.record_delivery(db, row["id"], ok, error, retry_delay(row["attempts"] + 1))
        if ok:
            sent += 1
        else:
            failed += 1
            down.add(channel.id)
            log.warning("alert %s to %s not delivered: %s", row["id"], channel.label, error)
    return {"sent": sent, "failed": failed, "pending": corpus.count_pending(db, by_id)}
