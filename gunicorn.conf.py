"""gunicorn settings for `gunicorn --config gunicorn.conf.py wsgi:app` in a checkout (the
benchmarks use it). They are the ones `pamgate serve` ships in the package:
`gateway.http.server.gunicorn_settings` and `instance_settings` (this instance's metrics
directory and control socket, removed when the master exits)."""

from config.settings import load_config
from gateway.http.server import gunicorn_settings, instance_settings

_config = load_config()
globals().update({**gunicorn_settings(_config), **instance_settings(_config)})
