"""structlog, configured once: JSON lines (console on a TTY), secrets masked.

`configure_logging` is called by the CLI and by gunicorn's config, never at import time.
Every log line of a request carries `request_id` (bound with contextvars by the request-id
middleware). `redact_secrets` runs on every event, including stdlib records routed through
structlog (gunicorn's), and masks any field whose name says it is a secret.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = frozenset(
    {
        "signature",
        "webhook-signature",
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "accesstoken",
        "refreshtoken",
        "authorization",
        "cookie",
        "jwt",
        "key",
        "signing_key",
        "private_key",
        "otp",
        "code_otp",
        "auth_token",
        "card_number",
    }
)
MASK = "***"


def _is_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return (
        lowered in SECRET_KEYS
        or lowered.endswith(("_secret", "_token", "_password", "_key"))
        or lowered.startswith("secret")
    )


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and _is_secret(k) else _redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event):
        if _is_secret(name):
            event[name] = MASK
        else:
            event[name] = _redact(event[name])
    return event


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Route structlog and the stdlib (gunicorn included) to one formatter on stderr."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):
        gl = logging.getLogger(name)
        gl.handlers[:] = []
        gl.propagate = True


def logging_dict(level: str = "INFO", fmt: str = "auto") -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own loggers through the same structlog formatter."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer,
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": [], "level": level, "propagate": True},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def mask_phone(number: str) -> str:
    """A phone number as logs and operators may see it: only its last 3 digits."""
    digits = [ch for ch in number if ch.isdigit()]
    return "*" * max(len(digits) - 3, 0) + "".join(digits[-3:])
