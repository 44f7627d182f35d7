"""Structured JSON logs with the request id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Never serialized: request objects carry headers (tokens, cookies).
_SKIPPED = {"request", "server_socket"}
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs after the middleware returned: read the id off the request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key in _SKIPPED or key.startswith("_"):
                continue
            if key not in _RESERVED and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


# Query-string credentials (the game socket's ?token=, casino launch tokens) must not reach
# a log line, whatever the server logs: uvicorn writes the path with its query string on
# every WebSocket accept and on every access line at --log-level info.
_CREDENTIAL_QUERY = re.compile(r"(?i)([?&;](?:token|access_token|api_key|key)=)[^&\s\"'#]+")
REDACTED = "[redacted]"
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error",
                  "gunicorn.access", "daphne", "daphne.server", "daphne.access",
                  "django.channels.server", "django.server")


def redact_credentials(text: str) -> str:
    return _CREDENTIAL_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class CredentialRedactionFilter(logging.Filter):
    """Rewrite `token=...` query values in a record's message and arguments (in place, so
    the server's own formatter still finds its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_credentials(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_credentials(a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_credentials(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


def install_credential_redaction() -> None:
    """Attach the filter to the servers' loggers (idempotent; CommonConfig.ready runs it,
    after Django configured logging and after the server configured its own)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CredentialRedactionFilter) for f in logger.filters):
            logger.addFilter(CredentialRedactionFilter())
