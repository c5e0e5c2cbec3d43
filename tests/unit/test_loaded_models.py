"""`BaseModel.loaded` builds an instance the hot paths use (a new ticket, a player read by
hand) without peewee's per-field setters: it must hold what `Model(**values)` holds (its
data and the fields it marks changed, which is all `save` reads) and read the same through
every accessor."""

from __future__ import annotations

import datetime as dt

import pytest
from peewee import ForeignKeyField

from gateway.core.tickets import records
from gateway.store.models import Player, Ticket

NOW = dt.datetime(2026, 12, 6, 12, 0)


def _ticket_values() -> dict[str, object]:
    values: dict[str, object] = {name: None for name in Ticket._meta.fields}
    values.update(
        id="t-1",
        channel="betengine",
        operator="acme",
        external_id="ext-1",
        player="p-1",
        currency="USD",
        status="OPEN",
        result="pending",
        price=500,
        tombstone=False,
        raw="{}",
        created_at=NOW,
        updated_at=NOW,
    )
    return values


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Ticket, _ticket_values()),
        (
            Player,
            {
                "id": "p-1",
                "operator": "acme",
                "external_id": "e-1",
                "msisdn": "+50688880001",
                "lang": "es",
                "currency": "USD",
                "blocked": False,
                "ventana": "v-1",
                "created_at": NOW,
                "updated_at": NOW,
            },
        ),
    ],
)
def test_loaded_holds_what_the_constructor_holds(model, values) -> None:  # type: ignore[no-untyped-def]
    built, loaded = model(**values), model.loaded(dict(values))
    assert loaded.__data__ == built.__data__
    assert loaded._dirty == built._dirty
    for name, field in model._meta.fields.items():  # foreign keys by id: no lazy query
        attribute = field.object_id_name if isinstance(field, ForeignKeyField) else name
        assert getattr(loaded, attribute) == getattr(built, attribute)


def test_a_new_ticket_missing_a_column_is_refused_before_anything_is_written() -> None:
    row = {field.column_name: None for field in Ticket._meta.sorted_fields}
    del row["tombstone"]
    with pytest.raises(ValueError, match="every column"):
        records.insert_new(row)
