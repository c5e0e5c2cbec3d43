"""The back office: the sales network, players and wallets, reconciliation (SPEC 7b, 7c, 10).

Bearer/cookie JWT (SPEC 2), the `{"success": …}` envelope, money in currency units.
"""

from adapters.backoffice.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
