"""Migration 13, frozen: indexes of mostly-empty columns hold only the rows that have a value.

A Betstack ticket has no banca, window, seller, hold or expiry, a retail ticket no player,
and almost no ledger transaction reverses another or settlement has been undone; yet every
such row put a NULL key into each of those indexes: on SQLite 7 of the ~39 pages a
`ticket_create` wrote. Each index is rebuilt as a partial index over the rows whose column
is set (`WHERE column IS NOT NULL`). Every query on these columns compares them (`=`, `IN`,
`<=`, `IS NOT NULL`), which both databases know implies the predicate, so they keep their
index; `ledger_txn_reverses_id` stays unique (NULLs never collided anyway).
"""

from __future__ import annotations

PARTIAL = (
    ("ticket", "player_id", False),
    ("ticket", "banca_id", False),
    ("ticket", "ventana_id", False),
    ("ticket", "vendedor_id", False),
    ("ticket", "hold_id", False),
    ("ticket", "expires_at", False),
    ("ledger_txn", "reverses_id", True),
    ("settlement", "reversed_by_id", False),
)

DDL = ";\n".join(
    f'DROP INDEX "{table}_{column}";\n'
    f'CREATE {"UNIQUE " if unique else ""}INDEX "{table}_{column}" ON "{table}" ("{column}") '
    f'WHERE "{column}" IS NOT NULL'
    for table, column, unique in PARTIAL
)
