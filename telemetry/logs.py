"""Log lines: JSON objects (``log_format = json``) or plain text for a terminal, each with the
id of the request it was written for, and no secret of the settings in any of them.

``configure`` is called once per process (``ordergate`` itself, or each worker) before
anything logs; uvicorn's own loggers write through the same handler (their lines once, not
once per server).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import BaseModel, SecretStr

from telemetry import record

# Fields of a LogRecord that are its own, not extras a caller passed (``extra={...}``).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Libraries whose INFO lines are noise: one line per upstream call, per SQL statement.
QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "aiosqlite": logging.WARNING}
REDACTED = "[redacted]"
_OWN = {"request_id", "color_message"}  # set by this module's filter, or uvicorn's colours
MIN_SECRET = 6  # shorter values (a port, "demo") would redact ordinary words


def secrets_of(settings: BaseModel) -> Iterator[str]:
    """Every ``SecretStr`` value anywhere in ``settings``, and the password of every URL."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from secrets_of(value)
        elif isinstance(value, str) and "://" in value:
            password = urlsplit(value).password
            if password:
                yield password


def safe_url(url: str) -> str:
    """``url`` with its password shown as ``***`` (for start-up lines)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class RequestContext(logging.Filter):
    """Stamps each line with its request's id and takes out any secret it would show."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def filter(self, line: logging.LogRecord) -> bool:
        line.request_id = record.current_request_id()
        if self.secrets:
            message = line.getMessage()
            redacted = message
            for secret in self.secrets:
                if secret in redacted:
                    redacted = redacted.replace(secret, REDACTED)
            if redacted != message:
                line.msg, line.args = redacted, None
            if line.exc_info and not line.exc_text:
                line.exc_text = logging.Formatter().formatException(line.exc_info)
            if line.exc_text:
                for secret in self.secrets:
                    line.exc_text = line.exc_text.replace(secret, REDACTED)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, the extras."""

    def format(self, line: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(line.created, UTC).isoformat(timespec="milliseconds"),
            "level": line.levelname.lower(),
            "logger": line.name,
            "message": line.getMessage(),
        }
        request_id = getattr(line, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(line).items():
            if key not in _STANDARD and key not in entry and key not in _OWN:
                entry[key] = value
        if line.exc_info and not line.exc_text:
            line.exc_text = self.formatException(line.exc_info)
        if line.exc_text:
            entry["exception"] = line.exc_text
        return orjson.dumps(entry, default=str).decode()


class PlainLines(logging.Formatter):
    """``time LEVEL logger: message [request id]``, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, line: logging.LogRecord) -> str:
        text = super().format(line)
        request_id = getattr(line, "request_id", None)
        return text if request_id is None else f"{text} [{request_id}]"


def configure(
    *, level: str, json_lines: bool, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """The process's one log handler (replacing any before it); returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if json_lines else PlainLines())
    handler.addFilter(RequestContext(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The gateway writes its own access line (``gateway.observability``): uvicorn's, with the
    # client's address and the query string, is never written.
    logging.getLogger("uvicorn.access").disabled = True
    return handler
