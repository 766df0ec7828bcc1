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
    metadata["databases"] = {database.stem: metadata["databases"]["corpus"]}
    return metadata


def datasette_app(database: Path):  # -> datasette.app.Datasette
    """A Datasette instance on ``database``: read-only connections, no write queries, time limit."""
    from datasette.app import Datasette

    return Datasette([str(database)], metadata=metadata_for(database), settings=SETTINGS)


def serve_datasette(database: Path, port: int) -> None:
    """Run Datasette's own ``serve`` command on 127.0.0.1:``port`` until interrupted."""
    import json
    import tempfile

    from datasette.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "metadata.json"
        meta.write_text(json.dumps(metadata_for(database)), encoding="utf-8")
        args = [
            "serve",
            str(database),
            "--metadata",
            str(meta),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        for key, value in SETTINGS.items():
            args += [
                "--setting",
                key,
                str(value).lower() if isinstance(value, bool) else str(value),
            ]
        print(f"Datasette on http://127.0.0.1:{port}/{database.stem} (Ctrl-C stops)", flush=True)
        cli.main(args=args, prog_name="dyadwatch browse", standalone_mode=True)
