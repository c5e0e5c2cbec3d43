"""The lottery's pure rules: seed 003's price rule, prizes by matches, wire formats, and a
receipt image that renders whatever text a branch sends."""

from __future__ import annotations

import base64
import io
import itertools
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from adapters.lottery import receipt_image, translate
from gateway.core.lottery import draws, sales

PRIZES = draws._prize_rows(
    {
        "base": {"6": 600, "5": 500, "3": 300},
        "rematch": {"6": 60, "3": 30},
        "second_rematch": {"3": 3},
    }
)


@pytest.mark.parametrize(
    ("count", "rematch", "second"),
    list(itertools.product(range(1, 7), (False, True), (False, True))),
)
def test_price_rule(count, rematch, second):
    expected = (
        1500 * count + (1000 * count if rematch else 0) + (500 * count if rematch and second else 0)
    )
    assert sales.price((1500, 1000, 500), count, rematch, second) == expected


def test_prizes_by_matches_per_board():
    drawn = {"1", "2", "3", "4", "5", "6"}
    assert draws.payout_of("1,2,3,4,5,6", False, False, drawn, PRIZES) == 600
    assert draws.payout_of("1,2,3,4,5,6", True, False, drawn, PRIZES) == 660
    assert draws.payout_of("1,2,3,10,11,12|1,2,3,4,5,7", True, True, drawn, PRIZES) == (
        300 + 30 + 3 + 500
    )
    assert draws.payout_of("1,2,10,11,12,13", True, True, drawn, PRIZES) == 0
    # a second rematch without rematch never pays (the sale refuses it anyway)
    assert draws.payout_of("1,2,3,10,11,12", False, True, drawn, PRIZES) == 300


def test_random_boards_are_six_distinct_ascending_numbers():
    rng = sales.Randomness()
    for _ in range(500):
        numbers = [int(n) for n in rng.board().split(",")]
        assert numbers == sorted(set(numbers)) and len(numbers) == 6
        assert numbers[0] >= 1 and numbers[-1] <= 56
    assert all(len(rng.digits(9)) == 9 for _ in range(100))


def test_wire_formats():
    assert translate.draw_date_text("2024-06-16") == "DOM JUN 16 2024"
    assert translate.units(10000, "MXN") == 100
    assert translate.units(1550, "MXN") == Decimal("15.5")
    assert translate.error_body(401, "UNAUTHORIZED", "x") == {"errors": ["Access denied"]}
    assert translate.error_body(500, "internal_error", "Internal server error") == {
        "error": "Internal server error",
        "code": "internal_error",
    }


def _sale(**overrides):  # type: ignore[no-untyped-def]
    fields: dict[str, Any] = dict(
        ticket_id="t",
        client_id=1,
        payee_id="p",
        payer_reference="r",
        draw_number="7327",
        draw_date="2026-11-22",
        combination_numbers="1,2,3,4,5,6|7,8,9,10,11,12",
        combination_count=2,
        rematch=True,
        second_rematch=False,
        total=5000,
        currency="MXN",
        transaction_date="21/11/2026 06:00:00",
        store_id="s",
        pos_id="p",
        foreign_pos_id="f",
        transaction_number="123456789012345",
        reference_number="123456789-12345678",
        session_id="12345678901",
        serial_number="1234-123456789-123456",
        creation_date=1,
        security_number="A" * 103,
        payment_id="pay",
        branch_name="Abarrotes Don Pepe",
        branch_street="Av. Insurgentes Sur 1234",
        branch_city="Ciudad de México",
        branch_neighborhood="Del Valle",
    )
    fields.update(overrides)
    return sales.LotterySale(**fields)


@pytest.mark.parametrize("name", ["x" * 200, "🎰 Lotería ñandú\u202e\u0301", "\t\n\r", "中文商店"])
def test_any_branch_text_renders_and_rendering_is_deterministic(name):
    sale = _sale(branch_name=name)
    first = receipt_image.render(sale, "DOM NOV 22 2026")
    assert first == receipt_image.render(sale, "DOM NOV 22 2026")
    image = Image.open(io.BytesIO(base64.b64decode(first)))
    assert image.format == "PNG"
