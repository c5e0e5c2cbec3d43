"""Who may do what: one function per decision, called by the services.

Roles and permissions are spelled here once. A principal reaching a service has already
been resolved against the records (`network.resolve_principal`): a VENTANA's banca and a
VENDEDOR's window are the records', whatever its token claimed. A refusal is `Forbidden`,
which every protocol renders as its 403. This module reads nothing and writes nothing:
callers pass the scopes they resolved.
"""

from __future__ import annotations

from gateway.core.errors import Forbidden
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal, Scope

ROLES = (ADMIN, VENTANA, VENDEDOR)
# Permissions a token may carry (SPEC 2, 8, 9): the payments registry and lottery sales.
PERMISSIONS = (
    "payments_read",
    "payments_create",
    "payments_update",
    "payments_delete",
    "lottery_tickets_create",
)

WINDOW_STAFF = (ADMIN, VENTANA)
COUNTER_STAFF = (ADMIN, VENTANA, VENDEDOR)


def _refuse(message: str) -> Forbidden:
    return Forbidden(message)


def may_act_on(principal: Principal, target: Scope) -> bool:
    """ADMIN: everything; VENTANA: its window and its sellers; VENDEDOR: itself."""
    if principal.role == ADMIN:
        return True
    if principal.role == VENTANA:
        return principal.ventana_id is not None and target.ventana_id == principal.ventana_id
    if principal.role == VENDEDOR:
        return principal.vendedor_id is not None and target.vendedor_id == principal.vendedor_id
    return False


# --- the sales network -----------------------------------------------------------------------


def change_network(principal: Principal) -> None:
    """Create bancas, ventanas and vendedores: ADMIN."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may change the sales network")


def read_banca(principal: Principal, banca_id: str) -> None:
    if principal.role != ADMIN and principal.banca_id != banca_id:
        raise _refuse("not your banca")


def read_scope(principal: Principal, target: Scope, what: str) -> None:
    """Read a ventana or a vendedor: ADMIN, its window's VENTANA, the VENDEDOR itself."""
    if not may_act_on(principal, target):
        raise _refuse(f"not your {what}")


def visible_bancas(principal: Principal) -> str | None:
    """None: every banca; else the one banca the caller sees."""
    return None if principal.role == ADMIN else (principal.banca_id or "")


def visible_ventanas(principal: Principal) -> str | None:
    return None if principal.role == ADMIN else (principal.ventana_id or "")


def visible_vendedores(principal: Principal) -> tuple[str, str] | None:
    """None: all; ("ventana", id): the sellers of a window; ("vendedor", id): one seller."""
    if principal.role == ADMIN:
        return None
    if principal.role == VENTANA:
        return ("ventana", principal.ventana_id or "")
    return ("vendedor", principal.vendedor_id or "")


# --- players and cash --------------------------------------------------------------------------


def manage_players(principal: Principal, action: str) -> None:
    """Create players, block and unblock them, read the reconciliation: ADMIN."""
    if principal.role != ADMIN:
        raise _refuse(f"only ADMIN may {action}")


def issue_player_tokens(principal: Principal) -> None:
    """Issue player tokens at all: ADMIN and VENTANA."""
    if principal.role not in WINDOW_STAFF:
        raise _refuse("only ADMIN or VENTANA may issue player tokens")


def issue_player_token(principal: Principal, player_window: Scope | None) -> None:
    """ADMIN for any player; a VENTANA for the players of its window."""
    issue_player_tokens(principal)
    if principal.role != ADMIN and (
        player_window is None or not may_act_on(principal, player_window)
    ):
        raise _refuse("player belongs to another window")


def read_player(principal: Principal, player_window: Scope | None) -> None:
    """ADMIN any player; VENTANA and VENDEDOR the players of the window they work at.
    Players without a window are the house's: ADMIN only."""
    if principal.role == ADMIN:
        return
    if player_window is None:
        raise _refuse("player belongs to no window of yours")
    if player_window.ventana_id != principal.ventana_id:
        raise _refuse("player belongs to another window")


def cash_window(principal: Principal, requested: str | None) -> str | None:
    """The window whose cash a deposit or withdrawal moves: ADMIN names one (or none: the
    house's cash); VENTANA and VENDEDOR move their own window's cash and may name none."""
    if principal.role == ADMIN:
        return requested
    if requested:
        raise _refuse("ventanaId is for ADMIN only")
    if principal.role not in COUNTER_STAFF or not principal.ventana_id:
        raise _refuse("token names no sales window")
    return principal.ventana_id


def move_player_cash(
    principal: Principal, window: str | None, player_window_id: str | None
) -> None:
    """Staff move cash only for the players of their own window."""
    if principal.role != ADMIN and player_window_id != window:
        raise _refuse("player belongs to another window")


# --- the lottery (SPEC 9) ----------------------------------------------------------------------


def manage_draws(principal: Principal) -> None:
    """Create draws and record their results: ADMIN."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may manage lottery draws")


def sell_lottery(principal: Principal) -> str:
    """A lottery sale needs `lottery_tickets_create` and a token that names its selling
    window (the store): that ventana is the seller. Returns it."""
    if not principal.has("lottery_tickets_create"):
        raise _refuse("token lacks lottery_tickets_create")
    if principal.role not in COUNTER_STAFF or not principal.ventana_id:
        raise _refuse("token names no selling window")
    return principal.ventana_id


def sell_for_payee(seller_banca_id: str, payee_id: str) -> None:
    """A window sells the draws of the banca that owns it, and no other's."""
    if seller_banca_id != payee_id:
        raise _refuse("the selling window belongs to another company")


# --- ticket payments (SPEC 6) ------------------------------------------------------------------


def pay_ticket_window(principal: Principal, requested: str | None) -> None:
    """`ventanaId` on a payment is for ADMIN only."""
    if requested and principal.role != ADMIN:
        raise _refuse("ventanaId is for ADMIN only")


def pay_ticket(principal: Principal, ticket: Scope) -> None:
    """Pay (or read the payments of) a ticket: ADMIN any; a VENTANA its window's tickets; a
    VENDEDOR the tickets it sold."""
    if not may_act_on(principal, ticket):
        raise _refuse("ticket belongs to another window or seller")


def paying_window(principal: Principal, requested: str | None, selling: str | None) -> str:
    """Whose cash pays: ADMIN the window it names, else the ticket's selling window; staff
    their own window."""
    window = (requested or selling) if principal.role == ADMIN else principal.ventana_id
    if not window:
        raise _refuse("no paying window")
    return window


def reverse_ticket_payment(principal: Principal, paying: str) -> None:
    """Reverse a payment: ADMIN, or a VENTANA of the window that paid it."""
    if principal.role == ADMIN:
        return
    if principal.role != VENTANA or principal.ventana_id != paying:
        raise _refuse("only ADMIN or the paying window may reverse a payment")


def approve_ticket_payment(principal: Principal, maker: str) -> None:
    """Maker-checker: an ADMIN other than the payment's maker."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may approve a payment")
    if principal.user_id == maker:
        raise _refuse("the maker of a payment may not approve it")


def manage_outbox(principal: Principal) -> None:
    """The outbox (messages waiting, sent, dead letters) is the operators' (ADMIN)."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may read or re-send outbox messages")


# --- the payments registry ----------------------------------------------------------


def registry_window(principal: Principal) -> str | None:
    """Whose payments the caller sees and acts on: None for ADMIN (every payment), else the
    payments recorded at its own sales window (a VENDEDOR's is its vendedor's). The route's
    permission (`payments_read`, …) is checked before; a payment of another window is, to
    this caller, one that does not exist."""
    if principal.role == ADMIN:
        return None
    if principal.role not in COUNTER_STAFF or not principal.ventana_id:
        raise _refuse("token names no sales window")
    return principal.ventana_id


# --- the operator console (the same decisions, asked before showing a page) --------------------


def review_approvals(principal: Principal) -> None:
    """The payouts waiting for a second user (maker-checker): ADMIN."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may review payouts waiting for approval")


def watch_books(principal: Principal) -> None:
    """The reconciliation report and the audit chain check: ADMIN."""
    if principal.role != ADMIN:
        raise _refuse("only ADMIN may read the reconciliation and the audit chain")


# --- account payments and statements (SPEC 7) ---------------------------------------------------


def settle_account_kind(principal: Principal, kind: str) -> None:
    """Account payments and statements: ADMIN and VENTANA staff; a banca's only ADMIN."""
    if principal.role not in WINDOW_STAFF:
        raise _refuse("sellers may not settle or read accounts")
    if kind == "banca" and principal.role != ADMIN:
        raise _refuse("only ADMIN may settle or read a banca's account")


def settle_account(principal: Principal, kind: str, target: Scope) -> None:
    """… of a resolved dimension: a VENTANA only its own window and its sellers."""
    settle_account_kind(principal, kind)
    if not may_act_on(principal, target):
        raise _refuse("account belongs to another window")
