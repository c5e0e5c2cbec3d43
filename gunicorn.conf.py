"""gunicorn settings for `pamgate serve`, taken from pamgate's own configuration."""

import os
import tempfile

# Metrics of every worker are aggregated through files; must be set before any import of
# prometheus_client (the app is loaded after this file runs).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pamgate-metrics-"))

from config.settings import load_config
from gateway.logs import logging_dict

_config = load_config()

bind = _config.bind
workers = _config.workers
threads = _config.threads
worker_class = "gthread" if threads > 1 else "sync"
timeout = _config.timeout_s
graceful_timeout = _config.graceful_timeout_s
keepalive = 5
max_requests = 0
accesslog = None  # pamgate writes its own access line (with request id) per request
logconfig_dict = logging_dict(_config.log_level, _config.log_format)
proc_name = "pamgate"


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    from gateway.logs import configure_logging

    configure_logging(_config.log_level, _config.log_format)
