"""The digest flow: one summary message per channel with the alerts waiting for a digest.

Digest channels (``mode: digest``) get all their alerts this way; immediate channels with
``max_per_hour`` get here the alerts folded when they were over their cap. Scheduled daily
by ``prefect.yaml`` and ``dyadwatch serve``; ``dyadwatch digest`` runs it by hand.
"""

from __future__ import annotations

from typing import Any

from dyadwatch.prefect_env import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402

from dyadwatch import alerts as alerting  # noqa: E402
from dyadwatch.config import load_config  # noqa: E402
from storage import corpus  # noqa: E402


@flow(name="dyadwatch-digest", flow_run_name="digest-{config_path}", log_prints=False)
def digest(config_path: str = "dyadwatch.yaml") -> dict[str, Any]:
    """Send the waiting digests; a channel that fails keeps its alerts for the next digest."""
    config = load_config(config_path)
    with corpus.open_corpus(config.database) as db:
        result = alerting.deliver_digests(db, config)
    get_run_logger().info(
        "%s digest(s) sent carrying %s alert(s); %s failed",
        result["digests"],
        result["alerts"],
        result["failed"],
    )
    create_markdown_artifact(
        key="digest-summary",
        markdown=(
            "# dyadwatch digest\n\n| digests sent | alerts carried | failed |\n|---|---|---|\n"
            f"| {result['digests']} | {result['alerts']} | {result['failed']} |"
        ),
        description="dyadwatch digest summary",
    )
    return result
