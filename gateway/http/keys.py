"""pamgate's own public keys and the offline receipt check (SPEC 1b, 1c). No auth needed."""

from __future__ import annotations

import falcon

from gateway.http import jsonbody
from gateway.http.errors import ProtocolError
from signing.keys import Keyring
from signing.receipts import verify_receipt


class PublishedKeys:
    """`GET /.well-known/pamgate-keys`: every key, active and retired (old receipts)."""

    def __init__(self, keys: Keyring) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"keys": self._keys.published()}
        resp.cache_control = ["public", "max-age=300"]


class ReceiptCheck:
    """`POST /api/v1/receipts/verify` with the `receipt` object of a purchase response."""

    def __init__(self, keys: Keyring) -> None:
        self._keys = keys

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            receipt = jsonbody.decode(req.context.raw_body or b"null")
        except jsonbody.BadJSON:
            receipt = None
        if not isinstance(receipt, dict):
            raise ProtocolError(
                400,
                {
                    "success": False,
                    "error": {
                        "code": "VALIDATION_ERROR",
                        "message": "body must be a receipt object",
                    },
                },
            )
        valid, reason = verify_receipt(self._keys.verify_keys(), receipt)
        resp.media = {"valid": True} if valid else {"valid": False, "reason": reason}
