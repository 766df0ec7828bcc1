"""Serve the corpus with Datasette, read-only, with dyadwatch's metadata and canned queries."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SETTINGS = {"sql_time_limit_ms": 3000, "max_returned_rows": 1000, "allow_download": False}


def metadata_for(database: Path) -> dict[str, Any]:
    """The bundled metadata with its database key named as Datasette names ``database``."""
    text = (resources.files("dyadwatch") / "metadata.yml").read_text(encoding="utf-8")
    metadata = yaml.safe_load(text)
    name = database.stem
    metadata["databases"] = {name: metadata["databases"]["corpus"]}
    for dashboard in metadata.get("plugins", {}).get("datasette-dashboards", {}).values():
        for item in [*dashboard.get("charts", {}).values(), *dashboard.get("filters", {}).values()]:
            if item.get("db") == "corpus":
                item["db"] = name
    return metadata


def checkpoint(database: Path) -> None:
    """Fold the write-ahead log into the database file, so an immutable reader sees it all."""
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def datasette_app(database: Path, live: bool = False):  # -> datasette.app.Datasette
    """A Datasette instance on ``database`` with dyadwatch's metadata and a SQL time limit.

    By default the file is opened immutable: a snapshot, served without locking and with
    exact counts. ``live`` opens it read-only instead, to follow a monitor that is writing.
    Either way there is no write path: no writable canned queries, no write plugins.
    """
    from datasette.app import Datasette

    files = [str(database)] if live else []
    immutables = [] if live else [str(database)]
    return Datasette(
        files, immutables=immutables, metadata=metadata_for(database), settings=SETTINGS
    )


def serve_datasette(database: Path, port: int, live: bool = False) -> None:
    """Run Datasette's own ``serve`` command on 127.0.0.1:``port`` until interrupted."""
    import json
    import tempfile

    from datasette.cli import cli

    if not live:
        checkpoint(database)
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "metadata.json"
        meta.write_text(json.dumps(metadata_for(database)), encoding="utf-8")
        args = ["serve", *([] if live else ["-i"]), str(database), "--metadata", str(meta)]
        args += ["--host", "127.0.0.1", "--port", str(port)]
        for key, value in SETTINGS.items():
            args += [
                "--setting",
                key,
                str(value).lower() if isinstance(value, bool) else str(value),
            ]
        mode = "live, read-only" if live else "immutable snapshot"
        print(
            f"Datasette on http://127.0.0.1:{port}/{database.stem} ({mode}; Ctrl-C stops)",
            flush=True,
        )
        print(f"Pair timelines: http://127.0.0.1:{port}/-/dashboards/pairs", flush=True)
        cli.main(args=args, prog_name="dyadwatch browse", standalone_mode=True)
