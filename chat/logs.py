"""JSON logging with an allowlist of fields.

Only the fields named in ``ALLOWED`` ever reach a log line: no message text, IP address, user agent,
token or cookie can be logged by accident, because ``event()`` drops everything else.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ALLOWED = frozenset(
    {
        "event", "route", "method", "status", "code", "duration_ms", "conversation_id", "staff_id",
        "frames", "close_code", "instance", "count", "backend", "channel", "error", "version", "url_kind",
        "key_id", "port", "host", "reason", "attempt", "seq", "team", "to_team", "priority",
        "instrument", "hash",
    }
)

_logger = logging.getLogger("minimaria")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", None) or {"event": record.getMessage()}
        line = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": record.levelname}
        line.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: its message might contain something a person wrote.
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("minimaria")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # uvicorn's own error logger speaks in free text that can include client addresses: keep warnings only.
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel("WARNING")
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


def event(name: str, level: int = logging.INFO, exc: bool = False, **fields: Any) -> None:
    """Log one unit of work; fields outside the allowlist are dropped, not logged."""
    if not _logger.isEnabledFor(level):
        return
    safe = {"event": name}
    safe.update({k: v for k, v in fields.items() if k in ALLOWED})
    _logger.log(level, name, extra={"fields": safe}, exc_info=exc)
