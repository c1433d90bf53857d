"""Two log channels: console verbosity, and JSON lines to ``--log-file`` for the audit trail.

Messages carry counts, file names, positions and hashes, never a person's name or ID number.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items()
                        if k not in _STANDARD and not k.startswith("_")})
        return json.dumps(payload, ensure_ascii=False, default=str)


def setup(verbosity: int, log_file: Path | None) -> None:
    """Console: warnings (default), info (-v), debug (-vv), errors only (-q → -1)."""
    root = logging.getLogger("etl")
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler()
    console.setLevel({-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG))
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(JsonLines())
        root.addHandler(handler)
    root.propagate = False
