"""The console's stylesheet and script, served by pamgate itself (nothing from elsewhere)."""

from __future__ import annotations

from importlib import resources

import falcon

TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


class Static:
    """`GET /console/static/{name}`: only the files named in `TYPES`."""

    def __init__(self) -> None:
        folder = resources.files("adapters.console") / "static"
        self._files = {name: (folder / name).read_bytes() for name in TYPES}

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        data = self._files.get(name)
        if data is None:
            raise falcon.HTTPNotFound()
        resp.content_type = TYPES[name]
        resp.data = data
        resp.set_header("Cache-Control", "public, max-age=3600")
        resp.set_header("X-Content-Type-Options", "nosniff")
