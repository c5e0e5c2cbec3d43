"""Deleting old rows of an append-mostly table without an index on their time.

Rows of the once-only and idempotency records are written in time order, so their ids
(PostgreSQL's sequence, SQLite's rowid) follow their times. `delete_in_id_order` walks a
table by id, a window of `batch` ids per transaction, deletes the rows of each window that
match the condition (the condition is part of the DELETE: a row that does not match is
never deleted, whatever its place), and stops after the first full window in which no row
matched: what follows is newer. A row that matches later than rows written before it (a
partner with a shorter window than another's) may wait for a later run, until the rows
before it match too. The walk reads the primary key only, so the table needs no index on
the time it is pruned by, which every insert would otherwise pay for.
"""

from __future__ import annotations

from typing import Any

from gateway.store.database import unit_of_work

PRUNE_BATCH = 5000


def delete_in_id_order(model: Any, condition: Any, *, batch: int = PRUNE_BATCH) -> int:
    """Delete the rows of `model` (with an `id` key) matching `condition`; how many."""
    deleted, after = 0, 0
    while True:
        with unit_of_work(model._meta.database):
            upper = (
                model.select(model.id)
                .where(model.id > after)
                .order_by(model.id)
                .offset(batch - 1)
                .limit(1)
                .scalar()
            )
            window = (model.id > after) if upper is None else model.id.between(after + 1, upper)
            found = model.delete().where(window & condition).execute()
        deleted += found
        if upper is None or not found:
            return deleted
        after = upper
