"""Keep secrets out of logs, the warehouse, reports and asset metadata.

The Slack bot token (and the API token) come from the environment only. Anything pintel writes that could echo
them — an exception text, a log record, an error stored in the outbox — passes through :func:`redact` first, and
the loggers pintel hands to slack_sdk carry :class:`RedactingFilter`, so even a debug log of a request is clean.
"""

from __future__ import annotations

import logging
import os
import re

SECRET_ENV = ("PINTEL_SLACK_BOT_TOKEN", "PINTEL_API_TOKEN")
_SLACK_TOKEN = re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}")
MASK = "[redacted]"


def secrets() -> list[str]:
    """The secret values in the environment now (longest first, so a token containing another is masked whole)."""
    values = [os.environ.get(name, "") for name in SECRET_ENV]
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def redact(text: object, extra: tuple[str, ...] = ()) -> str:
    """``text`` with every known secret and anything shaped like a Slack token replaced by ``[redacted]``."""
    out = str(text)
    for secret in (*extra, *secrets()):
        if secret:
            out = out.replace(secret, MASK)
    return _SLACK_TOKEN.sub(MASK, out)


class RedactingFilter(logging.Filter):
    """A logging filter that renders the record and masks secrets in it before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def redacting_logger(name: str) -> logging.Logger:
    """A logger with :class:`RedactingFilter` attached (idempotent)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
