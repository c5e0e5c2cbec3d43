"""gunicorn settings for `gunicorn --config gunicorn.conf.py wsgi:app` in a checkout (the
benchmarks use it). They are the ones `pamgate serve` ships in the package:
`gateway.http.server.gunicorn_settings`."""

import os
import tempfile

# Metrics of every worker are aggregated through files; must be set before any import of
# prometheus_client (the app is loaded after this file runs).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pamgate-metrics-"))

from config.settings import load_config
from gateway.http.server import gunicorn_settings

globals().update(gunicorn_settings(load_config()))
