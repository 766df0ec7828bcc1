"""The monitoring flow: one cycle from feeds to flagged documents and alerts.

Steps:
1. load and validate the configuration;
2. sync the seed articles into the corpus (``origin = 'seed'``);
3. poll the feeds that are due, concurrently and politely (conditional GETs, per-host
   limits; ``dyadwatch.polling``);
4. fetch, extract and analyse the new articles concurrently (one task per batch);
5. store each article with its mentions, flags and alerts in one transaction, in the
   flow's own thread (the one writer; a plain call, not a task: Prefect would walk every
   record it is given, which costs more than storing it); each new flag of a tracked pair
   emits its Prefect event as soon as it is stored;
6. record each feed's health and next poll (only now, so a killed run loses no entry);
7. deliver pending alerts and publish the artifacts.

Tasks are coarse on purpose: a Prefect task run costs about 10 ms, so per-article work
happens in plain functions (``dyadwatch.pipeline``) inside the tasks. Failures of a feed or
page are returned as data and recorded, never raised, so one bad source cannot stop a run.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from dyadwatch.prefect_env import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.context import get_run_context  # noqa: E402
from prefect.events import emit_event  # noqa: E402
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from dyadwatch import alerts as alerting  # noqa: E402
from dyadwatch import health, memory, parallel, pipeline, progress  # noqa: E402
from dyadwatch.config import Config, load_config  # noqa: E402
from dyadwatch.feeds import Entry  # noqa: E402
from dyadwatch.polling import FeedPoll, FeedState, load_states, poll_many, record_polls  # noqa: E402
from storage import corpus  # noqa: E402

FLAG_FIELDS = (
    "pair",
    "actor_a",
    "actor_b",
    "level",
    "tracked",
    "title",
    "url",
    "sentence",
    "aliases",
    "document_id",
)
IN_FLIGHT = 8  # batches of articles being fetched and analysed at once, at most
IN_FLIGHT_PAGES = 512  # ... and at most this many articles: their records wait in memory


def batch_size(entries: int) -> int:
    """Articles per fetch task: at least 8, at most 256, about two rounds of the in-flight
    window. Each task run costs Prefect ~10 ms here and its temporary server more (states,
    events), so a run of 10,000 articles is 40 tasks, not thousands."""
    return max(8, min(256, -(-entries // (2 * IN_FLIGHT))))


def in_flight(size: int) -> int:
    """Batches in flight for batches of ``size``: 8 small ones, 2 of 256. Pages are fetched
    in order, so two batches keep every worker busy while the flow stores the older one."""
    return max(2, min(IN_FLIGHT, IN_FLIGHT_PAGES // size))


ARTIFACT_ROWS = 500  # new flags listed in a run's table artifact; the corpus has them all


FLAG_EVENT = "dyadwatch.pair.flagged"  # the Prefect event each new tracked-pair flag emits


@task(name="sync_seeds", cache_policy=NO_CACHE)
def sync_seeds(config: Config) -> dict[str, int]:
    """Load every file in the seeds folder as a document marked ``origin = 'seed'``."""
    with corpus.open_corpus(config.database) as db:
        return pipeline.sync_seeds(db, config)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when it failed for a reason that may pass (network, a locked
    database, a crashed worker process), never for a bug that would fail again."""
    import concurrent.futures.process
    import sqlite3

    import httpx

    error = state.result(raise_on_failure=False)
    return isinstance(
        error,
        OSError
        | TimeoutError
        | httpx.TransportError
        | sqlite3.OperationalError
        | concurrent.futures.process.BrokenProcessPool,
    )


RETRIES = {"retries": 2, "retry_delay_seconds": [2, 10], "retry_condition_fn": transient_only}


@task(name="poll_feeds", cache_policy=NO_CACHE, **RETRIES)
def poll_feeds(states: list[FeedState], config: Config) -> list[FeedPoll]:
    """Poll the due feeds concurrently (conditional GETs, per-host limits); failures are data."""
    return poll_many(states, config)


@task(name="fetch_articles", cache_policy=NO_CACHE, **RETRIES)
def fetch_articles(
    entries: list[Entry], feed_ids: list[int | None], config: Config, processes: bool = False
) -> list[dict[str, Any]]:
    """Fetch, extract and analyse a batch of articles (summary fallback on failure); with
    ``processes``, extraction and detection run in this machine's process pool."""
    return pipeline.fetch_and_analyse(entries, feed_ids, config, processes=processes)


@task(name="deliver_alerts", cache_policy=NO_CACHE)
def deliver_alerts(config: Config) -> dict[str, int]:
    """Deliver every pending alert through its Apprise channel (failures stay pending,
    alerts over a channel's hourly cap fold into its next digest), then the pipeline-health
    alerts to the admin channels."""
    with corpus.open_corpus(config.database) as db:
        delivered = alerting.deliver_pending(db, config)
        health_sent = health.deliver(db, config)
    return {**delivered, "health_sent": health_sent["sent"]}


def _emit_flag_events(flags: list[dict[str, Any]]) -> None:
    for flag in flags:
        if not flag["tracked"] or flag["level"] != "sentence":
            continue
        emit_event(
            event=FLAG_EVENT,
            resource={
                "prefect.resource.id": f"dyadwatch.document.{flag['document_id']}",
                "prefect.resource.name": (flag.get("title") or flag["url"])[:200],
            },
            related=[
                {
                    "prefect.resource.id": f"dyadwatch.actor.{flag['actor_a']}",
                    "prefect.resource.role": "actor",
                },
                {
                    "prefect.resource.id": f"dyadwatch.actor.{flag['actor_b']}",
                    "prefect.resource.role": "actor",
                },
            ],
            payload={
                "pair": flag["pair"],
                "url": flag["url"],
                "title": flag.get("title"),
                "sentence": flag.get("sentence"),
            },
        )


def _publish_artifacts(summary: dict[str, Any], flags: list[dict[str, Any]]) -> None:
    """The run's summary, and a table of ``flags`` (the new tracked flags the run kept)."""
    rows = [
        {
            "pair": f["pair"],
            "headline": f.get("title") or "",
            "evidence": (f.get("sentence") or "")[:300],
            "link": f["url"],
        }
        for f in flags
    ]
    if rows:
        description = "New tracked-pair flags"
        total = summary["flags_new"]
        if total > ARTIFACT_ROWS:
            # A table of thousands of rows helps nobody in the UI (and costs the server).
            description += (
                f": the first {ARTIFACT_ROWS} of {total}; all are in the corpus "
                "(pair_flags, or the flags view in Datasette)"
            )
        create_table_artifact(key="new-flags", table=rows[:ARTIFACT_ROWS], description=description)
    lines = [
        "# dyadwatch monitoring run",
        "",
        "| feeds polled | failed | documents stored | new flags | alerts sent | alerts pending |",
        "|---|---|---|---|---|---|",
        f"| {summary['feeds_polled']} | {summary['feeds_failed']} | {summary['documents_new']} | "
        f"{summary['flags_new']} | {summary['alerts_sent']} | {summary['alerts_pending']} |",
    ]
    for failure in summary["feed_errors"][:20]:
        lines.append(f"- feed failed: {failure}")
    create_markdown_artifact(
        key="run-summary", markdown="\n".join(lines), description="dyadwatch run summary"
    )


def _cycle(
    config: Config, logger: Any, force: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The steps of one run; returns the summary and every new flag."""
    seeds = sync_seeds(config)
    with corpus.open_corpus(config.database) as db:
        states = load_states(db, config.feeds)
    due = pipeline.due_feeds(states, force)
    polls = poll_feeds.submit(due, config).result() if due else []
    with corpus.open_corpus(config.database) as db:
        pipeline.select_new(db, polls)
    failed = [p for p in polls if not p.ok]
    for poll in failed:
        logger.warning("feed %s: %s", poll.url, poll.error)

    entries = pipeline.unique_entries(polls)
    progress.current().total("pages", len(entries))
    progress.current().total("documents", len(entries))
    size = batch_size(len(entries))
    # On Dask the cluster's workers are the parallelism; locally, a process pool for big runs.
    processes = config.dask_address is None and len(entries) >= parallel.MIN_PAGES
    if processes:
        pipeline.forget_analysers()  # the workers analyse; the seeds were analysed already
    batches = iter([entries[i : i + size] for i in range(0, len(entries), size)])
    stored: dict[str, Any] = {"documents_new": 0, "flags": [], "flags_new": 0, "alerts_created": 0}
    pages_failed = 0
    # A sliding window of batches in flight: memory stays bounded however many entries are
    # new, and each batch is stored as soon as it is ready, by the flow (the one writer).
    window: deque[Any] = deque()

    failed_feeds: set[int | None] = set()
    batch_errors: list[str] = []
    store_errors: list[str] = []
    channels = alerting.routes(config)
    writer = corpus.open_corpus(config.database)

    def submit_next() -> None:
        batch = next(batches, None)
        if batch is not None:
            future = fetch_articles.submit(
                [e for e, _ in batch], [fid for _, fid in batch], config, processes
            )
            window.append((future, {fid for _, fid in batch}))

    try:
        for _ in range(in_flight(size)):
            submit_next()
        while window:
            future, feed_ids = window.popleft()
            submit_next()
            try:
                records = future.result()
            except Exception as exc:
                # The batch failed even after its retries: its feeds keep their old state (they
                # are polled in full next time, so no entry is lost) and the run goes on.
                failed_feeds |= feed_ids
                batch_errors.append(f"{type(exc).__name__}: {exc}")
                logger.error("a batch of articles failed: %s", batch_errors[-1])
                continue
            pages_failed += sum(1 for r in records if r["document"].get("text_source") == "summary")
            result = pipeline.store_records(writer, records, channels)
            progress.current().advance("documents", len(records))
            stored["documents_new"] += result["documents_new"]
            stored["alerts_created"] += result["alerts_created"]
            store_errors.extend(result["errors"])
            # Only new flags of tracked pairs are reported: each one's event goes out now, and
            # the first ARTIFACT_ROWS are kept (without their evidence JSON) for the artifact
            # and the summary, so a run of thousands of articles holds no list of them all.
            reported = [
                {k: flag.get(k) for k in FLAG_FIELDS}
                for flag in result["flags"]
                if flag["tracked"] and flag["level"] == "sentence"
            ]
            _emit_flag_events(reported)
            stored["flags_new"] += len(reported)
            stored["flags"].extend(reported[: max(0, ARTIFACT_ROWS - len(stored["flags"]))])
            del records, result, reported
            memory.release()  # what this batch used goes back, not into a growing heap
    finally:
        writer.close()
        pipeline.close_fetchers()
    # Only now do the feeds' validators and schedules advance: a run that dies before this
    # line polls the same feeds in full next time, and no entry is lost.
    with corpus.open_corpus(config.database) as db:
        recorded = [p for p in polls if p.feed_id not in failed_feeds]
        for note in record_polls(db, states, recorded, config.polling):
            logger.info("feed %s", note)
        corpus.refresh_feed_counts(db)  # once per run, not per batch
        changes = health.check(db, config)
    for change in changes:
        logger.warning(
            "health: %s %s: %s",
            change.condition,
            "problem" if change.problem else "cleared",
            change.detail,
        )
    delivered = deliver_alerts(config)

    summary: dict[str, Any] = {
        "status": "completed",
        "database": str(config.database),
        "seeds": seeds["seeds"],
        "feeds_configured": len(states),
        "feeds_disabled": sum(1 for s in states if not s.enabled),
        "feeds_polled": len(polls),
        "feeds_not_modified": sum(1 for p in polls if p.not_modified),
        "feeds_failed": len(failed),
        "feed_errors": [p.error or p.status for p in failed],
        "entries_new": len(entries),
        "documents_new": stored["documents_new"],
        "pages_failed": pages_failed,
        "batch_errors": batch_errors,
        "store_errors": store_errors,
        "flags_new": stored["flags_new"],
        "alerts_created": stored["alerts_created"],
        "alerts_sent": delivered["sent"],
        "alerts_failed": delivered["failed"],
        "alerts_pending": delivered["pending"],
        "alerts_folded": delivered["folded"],
        "health_changes": [
            f"{c.condition} {'problem' if c.problem else 'cleared'}: {c.detail}" for c in changes
        ],
        # The first ARTIFACT_ROWS; all of them are in the corpus.
        "new_flags": [
            {k: f.get(k) for k in ("pair", "title", "url", "sentence", "aliases")}
            for f in stored["flags"]
        ],
    }
    return summary, stored["flags"]


@flow(
    name="dyadwatch-monitor",
    flow_run_name="monitor-{config_path}",
    task_runner=ThreadPoolTaskRunner(max_workers=8),
    log_prints=False,
)
def monitor(config_path: str = "dyadwatch.yaml", force: bool = False) -> dict[str, Any]:
    """One monitoring cycle: seeds, the feeds that are due, articles, detection, storage,
    alerts. With ``force``, every enabled feed is polled whether due or not.

    Returns a summary: counts, the feeds that failed and why, and the new flags of
    tracked pairs (the first 500) with their evidence sentences.
    """
    logger = get_run_logger()
    started = time.monotonic()
    config = load_config(config_path)
    flow_run = get_run_context().flow_run
    with corpus.open_corpus(config.database) as db:
        run_id = corpus.start_run(db, str(config.path), str(flow_run.id) if flow_run else None)

    try:
        if config.dask_address:
            runner = dask_cycle.with_options(task_runner=dask_runner(config.dask_address))
            summary, flags = runner(config, force)
        else:
            summary, flags = _cycle(config, logger, force)
    except Exception as exc:
        # A crash still leaves a trace in the corpus: the run row says it failed and why.
        with corpus.open_corpus(config.database) as db:
            corpus.finish_run(
                db,
                run_id,
                {
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "duration_s": round(time.monotonic() - started, 2),
                },
            )
        raise
    summary["duration_s"] = round(time.monotonic() - started, 2)
    with corpus.open_corpus(config.database) as db:
        corpus.finish_run(db, run_id, summary)
    _publish_artifacts(summary, flags)
    logger.info(
        "run %s: %s feeds (%s failed), %s new documents, %s new flags, %s alerts sent",
        run_id,
        summary["feeds_polled"],
        summary["feeds_failed"],
        summary["documents_new"],
        summary["flags_new"],
        summary["alerts_sent"],
    )
    return summary


def dask_runner(address: str) -> Any:
    """prefect-dask's task runner on the existing Dask cluster at ``address``."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise RuntimeError(
            f"runner: {address} needs prefect-dask: pip install 'dyadwatch[dask]'"
        ) from None
    return DaskTaskRunner(address=address)


@flow(
    name="dyadwatch-cycle",
    flow_run_name="cycle-on-dask",
    log_prints=False,
    validate_parameters=False,
)
def dask_cycle(config: Config, force: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The monitoring steps with polling and article tasks on a Dask cluster; this flow
    (in the monitor's process) stays the only writer of the corpus."""
    return _cycle(config, get_run_logger(), force)


def run_once(config_path: str | Path, force: bool = False) -> dict[str, Any]:
    """Run :func:`monitor` once in the foreground, without the heartbeat thread.

    Heartbeats let a server notice crashed runs of deployments; a one-off run started by
    hand does not need them, and stopping their thread costs about a second.
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return monitor(config_path=str(config_path), force=force)
