"""gunicorn builds its access-log line only when its access logger would write it: pamgate
writes its own access line, and gunicorn's, enabled by pamgate's `logconfig_dict`, is
filtered out at WARNING."""

from __future__ import annotations

import logging

from gunicorn.config import Config

from gateway.http.server import gateway_logger
from gateway.logs import logging_dict


def _logger(access_level: str) -> object:
    cfg = Config()
    settings = logging_dict("INFO", "json")
    settings["loggers"]["gunicorn.access"]["level"] = access_level
    cfg.set("logconfig_dict", settings)
    return gateway_logger()(cfg)


def test_no_access_line_is_built_when_the_access_logger_drops_it(monkeypatch) -> None:
    logger = _logger("WARNING")
    built: list[object] = []

    def atoms(*args: object) -> dict[str, str]:
        built.append(args)
        return {}

    monkeypatch.setattr(logger, "atoms", atoms)
    logger.access(None, None, {}, None)  # type: ignore[attr-defined]
    assert logger.access_log_enabled is False  # type: ignore[attr-defined]
    assert built == []


def test_an_access_logger_at_info_still_gets_its_line(monkeypatch) -> None:
    logger = _logger("INFO")
    assert logger.access_log_enabled is True  # type: ignore[attr-defined]
    assert logging.getLogger("gunicorn.access").isEnabledFor(logging.INFO)
    logging.getLogger("gunicorn.access").setLevel(logging.WARNING)  # as pamgate ships it
