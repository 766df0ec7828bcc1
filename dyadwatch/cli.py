"""The ``dyadwatch`` command line: demo, run, detect, browse, serve.

Prefect is imported only by the commands that run flows, so ``detect`` and ``browse``
start fast and configuration errors are reported before Prefect's start-up cost.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from dyadwatch.config import Config, ConfigError, load_config

DEFAULT_CONFIG = "dyadwatch.yaml"

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_CONFIG),
    show_default=True,
    help="YAML configuration file.",
)


def project_seeds() -> Path | None:
    """The seeds folder: ``$DYADWATCH_SEEDS``, ``./seeds``, or the one beside the package."""
    candidates = [
        os.environ.get("DYADWATCH_SEEDS"),
        "seeds",
        Path(__file__).resolve().parent.parent / "seeds",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _fail(message: str, code: int = 2) -> None:
    click.secho(f"dyadwatch: {message}", fg="red", err=True)
    sys.exit(code)


def _open(config_path: Path) -> tuple[Config, Any]:
    """The configuration and its corpus, or exit 2 with the message naming what is wrong."""
    from storage.corpus import CorpusError, open_corpus

    try:
        config = load_config(config_path)
        return config, open_corpus(config.database)
    except (ConfigError, CorpusError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def run_flow(config_path: Path, *, quiet: bool = True, force: bool = False) -> dict[str, Any]:
    """Run the monitor flow once in this process (Prefect's ephemeral mode if no server)."""
    from dyadwatch.prefect_env import apply_defaults

    # Set before Prefect is first imported (by flows.monitor): it reads them then.
    apply_defaults(quiet=quiet)
    from flows.monitor import run_once

    return run_once(config_path, force=force)


def corpus_overview(database: Path, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Totals and, per tracked pair, the flag count and the latest evidence sentence."""
    import sqlite_utils

    db = sqlite_utils.Database(database)
    try:
        totals = next(
            db.query(
                "select count(*) as documents, sum(origin = 'seed') as seeds, sum(origin = 'feed') as feed "
                "from documents"
            )
        )
        per_pair = []
        for a, b in pairs:
            pair = f"{a}-{b}"
            rows = list(
                db.query(
                    """select pair_flags.sentence, documents.title, documents.url, documents.origin,
                          (select count(*) from pair_flags p where p.pair = :pair and p.level = 'sentence')
                          as n
                   from pair_flags join documents on documents.id = pair_flags.document_id
                   where pair_flags.pair = :pair and pair_flags.level = 'sentence'
                   order by documents.origin = 'feed' desc, coalesce(documents.published, documents.fetched) desc
                   limit 1""",
                    {"pair": pair},
                )
            )
            per_pair.append(
                {
                    "pair": pair,
                    "flags": rows[0]["n"] if rows else 0,
                    "example": rows[0] if rows else None,
                }
            )
        return {"totals": totals, "pairs": per_pair}
    finally:
        db.close()


def print_summary(summary: dict[str, Any], pairs: list[tuple[str, str]], elapsed: float) -> None:
    """Print what a run did and what the corpus now holds."""
    database = Path(summary["database"])
    overview = corpus_overview(database, pairs)
    t = overview["totals"]
    click.echo("")
    click.secho(f"dyadwatch run finished in {elapsed:.1f} s", bold=True)
    waiting = summary["feeds_configured"] - summary["feeds_polled"] - summary["feeds_disabled"]
    click.echo(
        f"  feeds polled: {summary['feeds_polled']} of {summary['feeds_configured']} "
        f"({summary['feeds_not_modified']} not modified, {summary['feeds_failed']} failed, "
        f"{waiting} not due yet, {summary['feeds_disabled']} disabled) · "
        f"new documents: {summary['documents_new']} · pages that fell back to the feed summary: "
        f"{summary['pages_failed']}"
    )
    click.echo(
        f"  new flags of tracked pairs: {summary['flags_new']} · alerts sent: {summary['alerts_sent']}"
        f" · alerts pending: {summary['alerts_pending']}"
    )
    for error in summary["feed_errors"]:
        click.secho(f"  feed failed: {error}", fg="yellow")
    for error in summary.get("batch_errors", []):
        click.secho(f"  articles failed (their feeds are polled again): {error}", fg="red")
    for error in summary.get("store_errors", []):
        click.secho(f"  article not stored: {error}", fg="red")
    for change in summary.get("health_changes", []):
        click.secho(f"  feed health: {change}", fg="yellow")
    click.echo(
        f"  corpus: {t['documents'] or 0} documents ({t['seeds'] or 0} seeds, {t['feed'] or 0} from feeds)"
    )
    click.echo("")
    click.secho(
        "Flags per tracked pair (sentence level), with one evidence sentence each:", bold=True
    )
    for item in overview["pairs"]:
        a, b = item["pair"].split("-")
        click.echo(f"  {a}–{b}: {item['flags']} document(s)")
        if item["example"]:
            sentence = " ".join(item["example"]["sentence"].split())
            if len(sentence) > 220:
                sentence = sentence[:217] + "…"
            click.echo(f"      “{sentence}”")
            click.echo(f"      — {item['example']['title'] or item['example']['url']}")
    click.echo("")
    click.echo(f"Database: {database}")
    click.echo(f"Browse it: dyadwatch browse --database {database}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dyadwatch")
def main() -> None:
    """dyadwatch: watch how pairs of international actors appear in the news."""


@main.command("alerts-feed")
@config_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Atom file to write (default: alerts.xml beside the database).",
)
@click.option("--limit", default=100, show_default=True, help="Most recent alerts to include.")
@click.option("--self-url", default=None, help="Public URL the file will be served at.")
def alerts_feed(config_path: Path, output: Path | None, limit: int, self_url: str | None) -> None:
    """Write an Atom feed of recent alerts, for any feed reader."""
    from dyadwatch.atom import write_alerts_feed

    config, db = _open(config_path)
    output = output or config.database.parent / "alerts.xml"
    with db:
        entries = write_alerts_feed(db, output, limit=limit, self_url=self_url)
    click.echo(f"Wrote {entries} alert(s) to {output}")


@main.command()
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("data/demo.db"),
    show_default=True,
    help="SQLite file for the demo corpus.",
)
def demo(database: Path) -> None:
    """Run the monitor once against the bundled offline demo news site."""
    import yaml

    from dyadwatch.demo import DemoSite, demo_config
    from storage.corpus import CorpusError, open_corpus

    started = time.monotonic()
    try:
        open_corpus(database).close()
    except CorpusError as exc:
        _fail(str(exc))
    seeds = project_seeds()
    if seeds is None:
        click.secho(
            "dyadwatch: no seeds folder found; running without seeds", fg="yellow", err=True
        )
    with DemoSite() as site, tempfile.TemporaryDirectory() as tmp:
        click.echo(f"Serving the demo news site at {site.base}/ and running the monitor flow…")
        config_path = Path(tmp) / "demo.yaml"
        config_path.write_text(yaml.safe_dump(demo_config(site, database, seeds)), encoding="utf-8")
        config = load_config(config_path)
        summary = run_flow(config_path, force=True)
        click.echo(f"The demo's alert receiver got {len(site.alerts)} alert(s).")
    print_summary(summary, config.pairs, time.monotonic() - started)


@main.command()
@config_option
@click.option(
    "--all",
    "force",
    is_flag=True,
    help="Poll every enabled feed now, not only the feeds that are due.",
)
def run(config_path: Path, force: bool) -> None:
    """Run one monitoring cycle of the Prefect flow with this configuration.

    Only the feeds that are due are polled: each feed has its own interval, adapted to how
    often it publishes, and failing feeds back off. Use --all to poll every feed now.
    """
    from storage.corpus import CorpusError, open_corpus

    started = time.monotonic()
    try:
        config = load_config(config_path)
        open_corpus(config.database).close()
    except (ConfigError, CorpusError) as exc:
        _fail(str(exc))
    if sys.stdout.isatty():
        from dyadwatch import progress

        with progress.bars():
            summary = run_flow(config_path, force=force)
    else:
        summary = run_flow(config_path, force=force)
    print_summary(summary, config.pairs, time.monotonic() - started)


@main.command()
@config_option
def digest(config_path: Path) -> None:
    """Send the waiting digests now (digest channels, and alerts folded by hourly caps)."""
    from dyadwatch.alerts import deliver_digests

    config, db = _open(config_path)
    with db:
        result = deliver_digests(db, config)
    click.echo(
        f"{result['digests']} digest(s) sent carrying {result['alerts']} alert(s); "
        f"{result['failed']} failed (their alerts wait for the next digest)"
    )
    if result["failed"]:
        sys.exit(1)


@main.command()
@config_option
@click.option("--enable", "enable", metavar="URL", default=None, help="Re-enable a feed.")
def feeds(config_path: Path, enable: str | None) -> None:
    """Show each configured feed's health and schedule (or re-enable a disabled feed)."""
    config, db = _open(config_path)
    with db:
        if enable:
            cursor = db.execute(
                "update feeds set enabled = 1, disabled_reason = null, next_poll = null, "
                "consecutive_failures = 0, url = config_url where url = ? or config_url = ?",
                [enable, enable],
            )
            if not cursor.rowcount:
                _fail(f"no feed with the URL {enable} in {config.database}")
            click.echo(f"Enabled {enable}; it is polled at its configured URL on the next run.")
            return
        configured = {f.url for f in config.feeds}
        rows = [
            r
            for r in db.query(
                "select * from feeds order by enabled, consecutive_failures desc, url"
            )
            if r["config_url"] in configured
        ]
    if not rows:
        click.echo("No feed has been polled yet.")
        return
    for r in rows:
        state = "DISABLED" if r["enabled"] == 0 else (r["last_status"] or "never polled")
        colour = "red" if r["enabled"] == 0 or r["consecutive_failures"] else None
        click.secho(f"{state:>14}  {r['name'] or r['title'] or ''}  {r['url']}", fg=colour)
        details = [
            f"documents {r['documents'] or 0}",
            f"last new entry {r['last_new_entry'] or 'never'}",
            f"every {_duration(r['interval_s'])}" if r["interval_s"] else None,
            f"next poll {r['next_poll']}" if r["next_poll"] and r["enabled"] != 0 else None,
            (
                f"{r['consecutive_failures']} failure{'s' * (r['consecutive_failures'] > 1)} in a row"
                if r["consecutive_failures"]
                else None
            ),
        ]
        click.echo("                " + " · ".join(d for d in details if d))
        if r["config_url"] != r["url"]:
            click.echo(f"                moved from {r['config_url']}")
        problem = r["disabled_reason"] or (r["last_error"] if r["consecutive_failures"] else None)
        if problem:
            click.secho(f"                {problem}", fg="yellow")


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min"


def _read_input(name: str) -> tuple[str, str | None]:
    """Text of a file (HTML is extracted) or of standard input for ``-``."""
    from dyadwatch.extract import extract_article
    from dyadwatch.text import normalise

    if name == "-":
        raw = sys.stdin.buffer.read()
        is_html = raw.lstrip()[:1] == b"<"
    else:
        raw = Path(name).read_bytes()
        is_html = Path(name).suffix.lower() in (".html", ".htm")
    if is_html:
        extracted = extract_article(raw)
        if extracted is None:
            raise ValueError("no article text found in the HTML")
        return normalise(extracted.text), extracted.date
    return normalise(raw.decode("utf-8", errors="replace")), None


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input, one per line.")
@click.option("--window", default=1, show_default=True, help="Sentences a pair may span.")
@click.option(
    "--date", "when", default=None, help="Date of the texts (YYYY-MM-DD), for leaders' terms."
)
def detect(files: tuple[str, ...], as_json: bool, window: int, when: str | None) -> None:
    """Detect actors and pairs in local files (.html/.htm are extracted first); '-' reads stdin."""
    from datetime import date

    from dyadwatch.actors import load_gazetteer
    from dyadwatch.pipeline import parse_date, read_seed, seed_files
    from dyadwatch.topic import TopicModel

    gazetteer = load_gazetteer()
    topic = TopicModel.build(gazetteer, [read_seed(p)[0] for p in seed_files(project_seeds())])
    fixed = date.fromisoformat(when) if when else None
    failures = 0
    for name in files:
        try:
            text, page_date = _read_input(name)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            click.secho(f"dyadwatch: {name}: {reason}", fg="red", err=True)
            failures += 1
            continue
        detection = gazetteer.detect(text, when=fixed or parse_date(page_date), window=window)
        score = topic.score(text, detection)
        result = {
            "file": name,
            "actors": detection.actors,
            "pairs": [
                {"actors": list(pair), "sentences": [e.as_dict() for e in evidence]}
                for pair, evidence in detection.pairs.items()
            ],
            "document_pairs": [list(p) for p in detection.document_pairs],
            "topic": {
                "score": score["score"],
                "on_topic": score["on_topic"],
                "signals": score["signals"],
            },
        }
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
            continue
        click.secho(name, bold=True)
        click.echo(f"  actors: {', '.join(detection.actors) or '-'}")
        verdict = "on topic" if score["on_topic"] else "off topic"
        click.echo(f"  topic: {score['score']:.2f} ({verdict})")
        for pair, evidence in detection.pairs.items():
            click.echo(f"  {pair[0]}–{pair[1]}: {len(evidence)} sentence(s)")
            first = evidence[0]
            click.echo(f"    [{first.start}:{first.end}] {' '.join(first.text.split())[:200]}")
    if failures:
        sys.exit(1)


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
@click.option(
    "--alerts", "with_alerts", is_flag=True, help="Create and send alerts for flags that appear."
)
def rescore(config_path: Path, dry_run: bool, with_alerts: bool) -> None:
    """Re-apply the current gazetteer and rules to the stored corpus; report flags that change."""
    from dyadwatch.rescore import rescore as run_rescore

    config, db = _open(config_path)
    with db:
        result = run_rescore(db, config, apply=not dry_run, alerts=with_alerts)
        sent = 0
        if with_alerts and not dry_run and result.alerts_created:
            from dyadwatch.alerts import deliver_pending

            sent = deliver_pending(db, config)["sent"]
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"rules version {result.rules_version}: {result.documents} documents, "
        f"{result.changed_documents} {verb}"
    )
    for title, changes, mark in (
        ("appear", result.appeared, "+"),
        ("disappear", result.disappeared, "-"),
    ):
        click.echo(f"flags that {'would ' if dry_run else ''}{title}: {len(changes)}")
        for change in changes[:50]:
            sentence = " ".join((change.sentence or "").split())[:140]
            click.echo(
                f"  {mark} {change.pair} ({change.level}) in #{change.document_id} "
                f"{change.title or ''}" + (f"\n      “{sentence}”" if sentence else "")
            )
        if len(changes) > 50:
            click.echo(f"  … and {len(changes) - 50} more")
    if with_alerts:
        click.echo(f"alerts created: {result.alerts_created}, sent: {sent}")


@main.command()
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Corpus to browse (default: the database of ./dyadwatch.yaml, else data/demo.db).",
)
@click.option("--port", default=8001, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--live", is_flag=True, help="Follow a monitor that is writing (read-only, not immutable)."
)
def browse(database: Path | None, port: int, live: bool) -> None:
    """Explore the corpus in Datasette, read-only, with dyadwatch's canned queries and charts."""
    from dyadwatch.browse import serve_datasette

    if database is None:
        database = Path("data/demo.db")
        if Path(DEFAULT_CONFIG).exists():
            try:
                database = load_config(DEFAULT_CONFIG).database
            except ConfigError as exc:
                _fail(str(exc))
    if not database.exists():
        _fail(f"{database}: no such database (run `dyadwatch demo` or `dyadwatch run` first)")
    serve_datasette(database, port, live=live)


@main.command()
@config_option
@click.option("--cron", default="*/15 * * * *", show_default=True, help="Schedule of the monitor.")
@click.option(
    "--digest-cron", default="0 7 * * *", show_default=True, help="Schedule of the digest (UTC)."
)
def serve(config_path: Path, cron: str, digest_cron: str) -> None:
    """Run the monitor and the daily digest on their schedules, on this machine, until
    stopped (Ctrl-C); the rescore deployment is served too, to run by hand."""
    from flows.serve import serve_schedule

    try:
        load_config(config_path)
    except ConfigError as exc:
        _fail(str(exc))
    serve_schedule(config_path.resolve(), cron, digest_cron)


if __name__ == "__main__":
    main()
