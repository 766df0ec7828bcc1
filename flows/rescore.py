"""The rescore flow: re-apply the current gazetteer and rules to the stored corpus.

Deployed without a schedule (run it from the Prefect UI or ``prefect deployment run
dyadwatch-rescore/rescore``) after the gazetteer changes; ``dyadwatch rescore`` is the same
from the command line.
"""

from __future__ import annotations

from typing import Any

from dyadwatch.prefect_env import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402

from dyadwatch import alerts as alerting  # noqa: E402
from dyadwatch.config import load_config  # noqa: E402
from dyadwatch.rescore import rescore as run_rescore  # noqa: E402
from storage import corpus  # noqa: E402


@flow(name="dyadwatch-rescore", flow_run_name="rescore-{config_path}", log_prints=False)
def rescore(
    config_path: str = "dyadwatch.yaml", dry_run: bool = False, alerts: bool = False
) -> dict[str, Any]:
    """Analyse every stored document again and report the flags that appear and disappear;
    with ``alerts``, flags that appear raise alerts (delivered at once)."""
    config = load_config(config_path)
    with corpus.open_corpus(config.database) as db:
        result = run_rescore(db, config, apply=not dry_run, alerts=alerts)
        sent = 0
        if alerts and not dry_run and result.alerts_created:
            sent = alerting.deliver_pending(db, config)["sent"]
    summary = {
        "rules_version": result.rules_version,
        "documents": result.documents,
        "changed_documents": result.changed_documents,
        "appeared": len(result.appeared),
        "disappeared": len(result.disappeared),
        "alerts_created": result.alerts_created,
        "alerts_sent": sent,
        "dry_run": dry_run,
    }
    get_run_logger().info("rescore: %s", summary)
    lines = ["# dyadwatch rescore", "", "| | |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in summary.items()]
    for mark, changes in (("+", result.appeared), ("-", result.disappeared)):
        lines += [
            f"- {mark} {c.pair} ({c.level}) in #{c.document_id} {c.title or ''}"
            for c in changes[:50]
        ]
    create_markdown_artifact(key="rescore-summary", markdown="\n".join(lines))
    return summary
