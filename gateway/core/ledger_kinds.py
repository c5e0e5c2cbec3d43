"""The kinds of ledger transaction, and the kinds of account each may touch.

`ledger.post` refuses a transaction whose kind is not declared here (`UnknownTxnKind`) or
that touches an account of a kind its kind does not name (`AccountNotAllowed`), before it
writes anything. Every kind has its reversal (`<kind>.reversal`, the mirror `ledger.reverse`
posts), which touches the accounts of the original; reversing a reversal re-applies the
original kind. Only kinds with `posts_holds` may turn a hold into a movement.

This module is data: add a kind here, with its accounts, before a service posts it. It
never reads or writes the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType

from gateway.core.errors import CoreError

# --- account kinds (`Account.kind`; `accounts.py` opens one function per kind) ---------------
PLAYER_WALLET = "player_wallet"  # what the operator owes a player (floor 0)
WINDOW_CASH = "window_cash"  # cash in a sales window's drawer
HOUSE_CASH = "house_cash"  # the operator's treasury
HOUSE_STAKES = "house_stakes"  # stakes taken (revenue)
HOUSE_PAYOUTS = "house_payouts"  # prizes won (expense)
TAX_LIABILITY = "tax_liability"  # excise and withholding tax owed
PSP_CLEARING = "psp_clearing"  # what a payment provider collected for us
PRIZE_LIABILITY = "prize_liability"  # prizes evaluated and not yet paid (retail, lottery)
PAYMENT_CLEARING = "payment_clearing"  # what a payment method collected (the payments registry)
PAYMENTS_RECEIVED = "payments_received"  # payments the registry recorded, per currency
BANCA_CASH = "banca_cash"  # what a banca holds from settling its windows' accounts
SELLER_CASH = "seller_cash"  # what a seller settled with its window

REVERSAL_SUFFIX = ".reversal"


class UnknownTxnKind(CoreError):
    code = "unknown_transaction_kind"


class AccountNotAllowed(CoreError):
    code = "account_not_allowed"


@dataclass(frozen=True)
class TxnKind:
    name: str
    accounts: frozenset[str]
    description: str
    posts_holds: bool = False  # may `ledger.post_hold` post a hold as this kind?


_STAKE_SIDE = frozenset({HOUSE_STAKES, TAX_LIABILITY})
_BACK_TO_PAYER = frozenset({PLAYER_WALLET, PSP_CLEARING}) | _STAKE_SIDE
_CASH = frozenset({PLAYER_WALLET, WINDOW_CASH, HOUSE_CASH})

DECLARED: tuple[TxnKind, ...] = (
    # the bet engine (SPEC 3, 4)
    TxnKind(
        "bet.stake",
        frozenset({PLAYER_WALLET}) | _STAKE_SIDE,
        "a ticket's stake and excise taken from the wallet, at once or by posting the "
        "hold of a reservation",
        posts_holds=True,
    ),
    TxnKind(
        "bet.stake.psp",
        frozenset({PSP_CLEARING}) | _STAKE_SIDE,
        "a reservation's stake and excise paid through an external PSP",
    ),
    TxnKind(
        "bet.stake.adjust",
        _BACK_TO_PAYER,
        "a jackpot ticket's amounts changed: the difference against the payer",
    ),
    TxnKind(
        "bet.win",
        frozenset({HOUSE_PAYOUTS, PLAYER_WALLET, TAX_LIABILITY}),
        "a win paid at once to the wallet, withholding tax to its liability",
    ),
    TxnKind("bet.void", _BACK_TO_PAYER, "a void ticket's refund, back to the payer"),
    TxnKind("bet.refund", _BACK_TO_PAYER, "a refunded ticket's price, back to the payer"),
    # players' cash (SPEC 7b)
    TxnKind("wallet.deposit", _CASH, "cash paid into a wallet at a window or by the house"),
    TxnKind("wallet.withdrawal", _CASH, "cash paid out of a wallet"),
    # declared for the issues that add them (SPEC 6, 7, 9)
    TxnKind(
        "ticket.payment",
        frozenset({PRIZE_LIABILITY, WINDOW_CASH, PLAYER_WALLET, TAX_LIABILITY}),
        "a winning retail ticket paid at a window (cash or wallet)",
    ),
    TxnKind(
        "account.payment",
        frozenset({SELLER_CASH, WINDOW_CASH, BANCA_CASH, HOUSE_CASH}),
        "a seller, window or banca settles its account with its parent (payment or collection)",
    ),
    TxnKind(
        "lottery.sale",
        frozenset({WINDOW_CASH, PLAYER_WALLET}) | _STAKE_SIDE,
        "a lottery ticket sold at a window or from a wallet",
    ),
    # the payments registry
    TxnKind(
        "payment.received",
        frozenset({PAYMENT_CLEARING, PAYMENTS_RECEIVED}),
        "a payment recorded: its method's clearing account against payments received",
    ),
    TxnKind(
        "payment.corrected",
        frozenset({PAYMENT_CLEARING, PAYMENTS_RECEIVED}),
        "a recorded payment changed: the difference between its new and old postings",
    ),
    TxnKind(
        "prize.liability",
        frozenset({HOUSE_PAYOUTS, PRIZE_LIABILITY, TAX_LIABILITY}),
        "a winner evaluated: the prize owed until it is paid",
    ),
)


def reversal_name(kind: str) -> str:
    """`bet.win` → `bet.win.reversal`; reversing that again re-applies `bet.win`."""
    return (
        kind.removesuffix(REVERSAL_SUFFIX)
        if kind.endswith(REVERSAL_SUFFIX)
        else kind + REVERSAL_SUFFIX
    )


def _with_reversals(kinds: tuple[TxnKind, ...]) -> dict[str, TxnKind]:
    table: dict[str, TxnKind] = {}
    for kind in kinds:
        table[kind.name] = kind
        table[reversal_name(kind.name)] = TxnKind(
            reversal_name(kind.name), kind.accounts, f"reversal of {kind.name}"
        )
    return table


_lock = threading.Lock()
_table: dict[str, TxnKind] = _with_reversals(DECLARED)
KINDS: Mapping[str, TxnKind] = MappingProxyType(_table)


def get(name: str) -> TxnKind:
    kind = _table.get(name)
    if kind is None:
        raise UnknownTxnKind(f"unknown ledger transaction kind {name!r}", kind=name)
    return kind


def check(name: str, account_kinds: Iterable[str]) -> TxnKind:
    """The declared kind, or raise if it is unknown or may not touch one of the accounts."""
    kind = get(name)
    allowed = kind.accounts
    for account_kind in account_kinds:
        if account_kind not in allowed:
            raise AccountNotAllowed(
                f"a {name} transaction may not touch a {account_kind} account",
                kind=name,
                account_kind=account_kind,
            )
    return kind


@contextmanager
def registered(*kinds: TxnKind) -> Iterator[None]:
    """Extra kinds (and their reversals) for the duration of a block, in every thread: for
    tests and benchmarks of the ledger's own mechanics. Services declare theirs above."""
    extra = _with_reversals(kinds)
    with _lock:
        clash = sorted(set(extra) & set(_table))
        if clash:
            raise ValueError(f"kinds already declared: {', '.join(clash)}")
        _table.update(extra)
    try:
        yield
    finally:
        with _lock:
            for name in extra:
                _table.pop(name, None)
