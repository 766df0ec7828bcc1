"""Pipeline health: feeds that fail, disappear or go silent, and sites whose text collapses.

After each run, every configured feed is checked for four conditions:

* ``gone``: the feed answered ``410 Gone`` and was disabled;
* ``failing``: it failed :data:`FAILING_AFTER` polls in a row;
* ``silent``: it still answers but has published nothing new for far longer than usual
  (:data:`SILENT_FACTOR` times its typical gap between entries, and at least a day);
* ``extraction``: the text extracted from its recent articles collapsed (median length under
  :data:`COLLAPSE_RATIO` of what the site gave before, or no page text at all any more),
  which is how a site redesign that breaks extraction shows.

The current state of each (feed, condition) is kept in ``health``; an admin alert is queued
in ``health_alerts`` only when a state changes (a problem appears, or it clears), so an
admin channel hears once about a feed that stays broken for a month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import sqlite_utils

from dyadwatch.alerts import channels, send
from dyadwatch.config import Config
from storage import corpus
from storage.corpus import parse_time as _parse

log = logging.getLogger(__name__)

FAILING_AFTER = 5
SILENT_FACTOR = 5
SILENT_FLOOR_S = 86400
RECENT = 5  # recent articles compared with ...
BASELINE = 20  # ... the ones before them
COLLAPSE_RATIO = 0.3
MIN_BASELINE_CHARS = 400


@dataclass(frozen=True)
class Finding:
    """One condition of one feed, problem or not, with a readable detail."""

    subject: str
    condition: str
    problem: bool
    detail: str


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 86400 else f"{seconds / 3600:.0f} hours"


def extraction_collapsed(lengths: list[tuple[int, str]]) -> str | None:
    """Why a feed's recent articles (newest first: text length, text source) look broken
    compared with the ones before them, or ``None``."""
    recent, before = lengths[:RECENT], lengths[RECENT : RECENT + BASELINE]
    if len(recent) < RECENT or len(before) < RECENT:
        return None
    baseline_pages = [n for n, source in before if source == "page"]
    if len(baseline_pages) < len(before) / 2:
        return None  # the site never gave much page text: nothing collapsed
    baseline = median(baseline_pages)
    if baseline < MIN_BASELINE_CHARS:
        return None
    if not any(source == "page" for _, source in recent):
        return f"the last {RECENT} articles gave no page text (the feed summary was used)"
    now = median(n for n, _ in recent)
    if now < COLLAPSE_RATIO * baseline:
        return (
            f"extracted text fell to a median of {now:.0f} characters over the last {RECENT} "
            f"articles, from {baseline:.0f} before"
        )
    return None


def evaluate(
    db: sqlite_utils.Database, config: Config, now: datetime | None = None
) -> list[Finding]:
    """Every condition of every configured feed, as of ``now``."""
    now = now or datetime.now(UTC)
    configured = {f.url for f in config.feeds}
    findings: list[Finding] = []
    for feed in db.query("select * from feeds"):
        if feed["config_url"] not in configured:
            continue
        # Known by the URL it was configured with, which a move does not change.
        url, name = feed["config_url"], feed["name"] or feed["title"] or feed["url"]
        gone = feed["enabled"] == 0
        findings.append(
            Finding(url, "gone", gone, f"{name}: {feed['disabled_reason'] or 'disabled'}")
        )
        failures = feed["consecutive_failures"] or 0
        findings.append(
            Finding(
                url,
                "failing",
                not gone and failures >= FAILING_AFTER,
                f"{name}: {failures} failed polls in a row; last error: {feed['last_error']}",
            )
        )
        silent, detail = False, f"{name}: publishing"
        gap = feed["publish_gap_s"]
        last = _parse(feed["last_new_entry"]) or _parse(feed["added"])
        if not gone and failures == 0 and gap and last:
            quiet = (now - last).total_seconds()
            limit = max(SILENT_FACTOR * gap, SILENT_FLOOR_S)
            silent = quiet > limit
            detail = (
                f"{name}: no new entry for {_days(quiet)}; it usually publishes every {_days(gap)}"
            )
        findings.append(Finding(url, "silent", silent, detail))
        lengths = [
            (r["n"], r["text_source"])
            for r in db.query(
                "select length(text) as n, text_source from documents where feed_id = ? "
                "and duplicate_of is null order by id desc limit ?",
                [feed["id"], RECENT + BASELINE],
            )
        ]
        why = extraction_collapsed(lengths)
        findings.append(
            Finding(url, "extraction", why is not None, f"{name}: {why or 'text extracts'}")
        )
    return findings


def check(db: sqlite_utils.Database, config: Config, now: datetime | None = None) -> list[Finding]:
    """Update the health states; queue one admin alert per change of state on each admin
    channel. Returns the changes (a first check that finds a feed healthy is no change)."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    admin = channels(config.admin_alerts)
    changes = []
    with corpus.transaction(db):
        for finding in evaluate(db, config, now):
            state = "problem" if finding.problem else "ok"
            row = next(
                db.query(
                    "select id, state from health where subject = ? and condition = ?",
                    [finding.subject, finding.condition],
                ),
                None,
            )
            if row is None:
                db.table("health").insert(
                    {
                        "subject": finding.subject,
                        "condition": finding.condition,
                        "state": state,
                        "detail": finding.detail,
                        "since": stamp,
                        "checked": stamp,
                    }
                )
                changed = finding.problem
            else:
                changed = row["state"] != state
                update: dict[str, Any] = {"checked": stamp, "detail": finding.detail}
                if changed:
                    update.update(state=state, since=stamp)
                db.table("health").update(row["id"], update)
            if not changed:
                continue
            changes.append(finding)
            for channel in admin:
                db.table("health_alerts").insert(
                    {
                        "subject": finding.subject,
                        "condition": finding.condition,
                        "state": state,
                        "detail": finding.detail,
                        "channel": channel.id,
                        "channel_label": channel.label,
                        "status": "pending",
                        "attempts": 0,
                        "created": stamp,
                    }
                )
    return changes


TITLES = {
    ("gone", "problem"): "feed gone",
    ("gone", "ok"): "feed back",
    ("failing", "problem"): "feed failing",
    ("failing", "ok"): "feed recovered",
    ("silent", "problem"): "feed silent",
    ("silent", "ok"): "feed publishing again",
    ("extraction", "problem"): "article text collapsed",
    ("extraction", "ok"): "article text back to normal",
}


def deliver(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """Send the queued health alerts to the admin channels; failures stay pending."""
    by_id = {c.id: c for c in channels(config.admin_alerts)}
    sent = failed = 0
    down: set[str] = set()
    # A message claimed by a run that died before recording it goes out again.
    stale = (datetime.now(UTC) - timedelta(seconds=corpus.STALE_CLAIM_S)).isoformat(
        timespec="seconds"
    )
    db.execute(
        "update health_alerts set status = 'pending' where status = 'sending' and created <= ?",
        [stale],
    )
    rows = list(db.query("select * from health_alerts where status = 'pending' order by id"))
    for row in rows:
        channel = by_id.get(row["channel"])
        if channel is None or channel.id in down:
            continue
        claimed = db.execute(
            "update health_alerts set status = 'sending' where id = ? and status = 'pending'",
            [row["id"]],
        )
        if claimed.rowcount != 1:
            continue
        title = f"[dyadwatch health] {TITLES[(row['condition'], row['state'])]}: {row['subject']}"
        ok, error = send(channel.url, title, row["detail"])
        db.table("health_alerts").update(
            row["id"],
            {
                "status": "sent" if ok else "pending",
                "attempts": row["attempts"] + 1,
                "last_error": error,
                "sent_at": corpus.now() if ok else None,
            },
        )
        if ok:
            sent += 1
        else:
            failed += 1
            down.add(channel.id)
            log.warning("health alert to %s not delivered: %s", channel.label, error)
    return {"sent": sent, "failed": failed}
