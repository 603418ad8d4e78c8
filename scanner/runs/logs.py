"""JSON-lines logging for runs started by a scheduler.

Each line is one JSON object with ``time`` (UTC, ISO 8601), ``level``,
``logger`` and ``message``. An exception adds ``error`` with its type and a
masked message, and never a traceback, which could show local values.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TextIO

from scanner.masking import redact_text


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {redact_text(str(error))}"
        return json.dumps(entry, ensure_ascii=False)


def json_handler(stream: TextIO) -> logging.Handler:
    """Return a stream handler that writes JSON lines to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler
