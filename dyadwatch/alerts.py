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

from dyadwatch.config import Config, redact_url
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


def routes(config: Config) -> list[tuple[str, str, set[str] | None, str]]:
    """Per pair-alert channel: its id, its label, the pairs it wants (``None``: every tracked
    pair) and the status its alerts start in (``digest`` for digest channels)."""
    return [
        (
            c.id,
            c.label,
            {f"{a}-{b}" for a, b in config.alert_pairs[c.url]}
            if c.url in config.alert_pairs
            else None,
            "digest" if c.url in config.digest_channels else "pending",
        )
        for c in channels(config.alerts)
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
    updated = "updated " if row.get("kind") == "updated" else ""
    title = f"[dyadwatch] {updated}{a}–{b}: {row.get('title') or row.get('url')}"
    evidence = json.loads(row["evidence"]) if row.get("evidence") else None
    outlet = row.get("sitename") or row.get("feed_title") or row.get("feed_name") or ""
    lines = [
        f"**{a}–{b}** in *{row.get('title') or 'untitled'}*"
        + (" (updated: the story changed since the first alert)" if updated else ""),
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


def deliver_pending(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """Deliver every due pending alert on the configured channels; return counts.

    A channel with ``max_per_hour`` that has sent that many alerts in the last hour gets
    the rest folded into its next digest (``folded``), not sent.
    """
    by_id = {c.id: c for c in channels(config.alerts)}
    caps = {c.id: config.alert_caps[c.url] for c in by_id.values() if c.url in config.alert_caps}
    sent = failed = folded = 0
    down: set[str] = set()
    for row in corpus.pending_alerts(db, by_id):
        channel = by_id[row["channel"]]
        if channel.id in down:
            continue  # one refused connection is enough to know the channel is down this run
        cap = caps.get(channel.id)
        if cap is not None and corpus.sent_within(db, channel.id, 3600) >= cap:
            folded += corpus.fold_alert(db, row["id"])
            continue
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
    return {
        "sent": sent,
        "failed": failed,
        "folded": folded,
        "pending": corpus.count_pending(db, by_id),
    }


DIGEST_ITEMS = 60  # items listed in one digest message; the rest are counted


def format_digest(rows: list[dict[str, Any]], label: str) -> tuple[str, str]:
    """Title and Markdown body of a digest: counts per pair, then one line per story."""
    per_pair: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        per_pair.setdefault(row["pair"], []).append(row)
    counts = ", ".join(f"{p.replace('-', '–')} {len(r)}" for p, r in per_pair.items())
    title = f"[dyadwatch] digest: {len(rows)} alert{'s' * (len(rows) != 1)} ({counts})"
    lines: list[str] = []
    listed = 0
    for pair, items in per_pair.items():
        lines.append(f"**{pair.replace('-', '–')}** ({len(items)})")
        for row in items:
            if listed >= DIGEST_ITEMS:
                break
            listed += 1
            outlet = row.get("sitename") or row.get("feed_title") or row.get("feed_name") or ""
            when = (row.get("published") or "")[:10]
            extra = " · ".join(x for x in (outlet, when) if x)
            updated = " (updated)" if row.get("kind") == "updated" else ""
            lines.append(
                f"- [{row.get('title') or row['url']}]({row['url']}){updated}"
                + (f" — {extra}" if extra else "")
            )
        lines.append("")
    if listed < len(rows):
        lines.append(f"…and {len(rows) - listed} more (see the corpus).")
    return title, "\n".join(lines).strip()


def deliver_digests(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """Send one digest per channel with alerts waiting for it: digest channels' alerts and
    alerts folded on capped channels. Returns ``{"digests", "alerts", "failed"}``."""
    by_id = {c.id: c for c in channels(config.alerts)}
    digests = carried = failed = 0
    for channel_id in corpus.digest_channels(db):
        channel = by_id.get(channel_id)
        if channel is None:
            continue  # a channel no longer configured keeps its queue
        digest_id = corpus.claim_digest(db, channel.id, channel.label)
        if digest_id is None:
            continue
        rows = corpus.digest_rows(db, digest_id)
        title, body = format_digest(rows, channel.label)
        ok, error = send(channel.url, title, body)
        corpus.record_digest(db, digest_id, ok, error)
        if ok:
            digests += 1
            carried += len(rows)
        else:
            failed += 1
            log.warning("digest to %s not delivered: %s", channel.label, error)
    return {"digests": digests, "alerts": carried, "failed": failed}
