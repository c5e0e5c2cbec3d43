"""Scoped reads the core does not offer as one service yet: who may read a player.

The rule is the core's (`Principal.may_act_on` on a `Scope` resolved by the core); this
module only resolves the scopes. A VENDEDOR reads the players of the window it sells at,
which `may_act_on` (seller-only for VENDEDOR) cannot express, so its window is compared
directly: the authenticator has already resolved the principal against the records
(`network.resolve_principal`), so a VENDEDOR's `ventana_id` is its seller's window whatever
its token claimed. It must never write.
"""

from __future__ import annotations

import datetime as dt

from gateway.core import network, players
from gateway.core.errors import Forbidden
from gateway.core.principal import VENDEDOR, Principal


def read_player(principal: Principal, player_id: str, now: dt.datetime) -> dict[str, object]:
    """The player and wallet (minor units); NotFound, or Forbidden outside the caller's window.

    Players without a window are the house's: only ADMIN reads them.
    """
    player = players.get_player(player_id)
    if not principal.is_admin:
        if not player.ventana_id:
            raise Forbidden("player belongs to no window of yours")
        target = network.scope_of_ventana(player.ventana_id)
        allowed = (target.ventana_id == principal.ventana_id
                   if principal.role == VENDEDOR else principal.may_act_on(target))
        if not allowed:
            raise Forbidden("player belongs to another window")
    return players.wallet_view(player, now)
