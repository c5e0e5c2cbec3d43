"""The baseline: a bare falcon app that echoes JSON, served by the same gunicorn settings."""

from __future__ import annotations

import falcon


class Echo:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = req.get_media()


app = falcon.App()
app.add_route("/pam", Echo())
