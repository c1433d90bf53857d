"""Two log channels: console verbosity, and JSON lines to ``--log-file`` for the audit trail.

Messages carry counts, file names, positions and hashes, never a person's name or ID number.
Both channels also pass every line through ``scrub`` as a last guard: a run of 9 to 12 digits
(CMND, CCCD, social-insurance code, phone), an insurance card number and the password of a
database URL are masked even if some message or traceback were to carry one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


# Not part of a longer word, hash or decimal fraction: record keys, sha prefixes and timings stay.
_ID_NUMBER = re.compile(r"(?<![\w.])(?:[A-Z]{2}\d?)?\d{9,15}(?!\w)")
_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^\s:/@]*:)[^\s@/]+@")


def scrub(text: str) -> str:
    """Mask ID-number-shaped digit runs and database-URL passwords in one log line."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _ID_NUMBER.sub(lambda m: "•" * (len(m.group(0)) - 3) + m.group(0)[-3:], text)


class Scrubbed(logging.Formatter):
    """The console formatter, with ``scrub`` over the whole line (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
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
    console.setFormatter(Scrubbed("%(levelname)s %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(JsonLines())
        root.addHandler(handler)
    root.propagate = False
