"""Lottery sales through seed 003's API (SPEC 9): the draw info, the purchase with its checks
in order, the price rule over every combination, `payer_reference` idempotency (replayed,
altered, concurrent), the signed receipt and its PNG with a readable QR code."""

from __future__ import annotations

import base64
import copy
import io
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon.testing
import pytest
import zxingcpp
from PIL import Image

from gateway.core import accounts, ledger
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.store.models import AuditRecord, LotteryTicket, Ticket
from signing.receipts import verify_receipt
from tests import factories as f

SELL = frozenset({"lottery_tickets_create"})
PRIZES = {
    "base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500},
    "rematch": {"6": 1_000_000, "5": 20_000},
    "second_rematch": {"6": 200_000, "4": 700},
}


def auth(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def admin(app: Any) -> dict[str, str]:
    return auth(app, Principal(user_id="admin-1", role=ADMIN))


def seller(app: Any, ventana: str, permissions: frozenset[str] = SELL) -> dict[str, str]:
    return auth(
        app, Principal(user_id="pos-7", role=VENTANA, ventana_id=ventana, permissions=permissions)
    )


def new_draw(client: Any, app: Any, payee: str, number: str = "7327", **overrides: Any) -> Any:
    body: dict[str, Any] = {
        "payee_id": payee,
        "draw_number": number,
        "draw_date": "2026-11-22",
        "closes_at": "2026-11-22T20:00:00Z",
        "base_price": 1500,
        "rematch": 1000,
        "second_rematch": 500,
        "minimum_number_of_boards": 1,
        "maximum_number_of_boards": 6,
        "prizes": PRIZES,
    }
    body.update(overrides)
    return client.simulate_post("/api/v1/draws", json=body, headers=admin(app))


def purchase_body(
    payee: str,
    reference: str = "ref-0001",
    *,
    count: int = 5,
    rematch: bool = True,
    second: bool = True,
    total: str | None = None,
    draw: str = "7327",
) -> dict[str, Any]:
    price = (
        1500 * count + (1000 * count if rematch else 0) + (500 * count if rematch and second else 0)
    )
    return {
        "payee_id": payee,
        "payer_reference": reference,
        "ticket": {
            "draw_number": draw,
            "combination_count": count,
            "rematch": rematch,
            "second_rematch": second,
            "total_amount": total if total is not None else str(price),
        },
        "branch": {
            "name": "Abarrotes Don Pepe",
            "street": "Av. Insurgentes Sur 1234",
            "city": "Ciudad de México",
            "neighborhood": "Del Valle",
        },
    }


@pytest.fixture
def shop(client, app, clock):
    """A banca with a window, an open draw 7327 and the window's selling headers."""
    banca, ventana = f.banca_and_ventana(clock)
    resp = new_draw(client, app, banca)
    assert resp.status_code == 201, resp.text
    return {"banca": banca, "ventana": ventana, "headers": seller(app, ventana)}


def buy(
    client: Any,
    shop: dict[str, Any],
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.simulate_post(
        "/api/v1/lottery_tickets",
        json=body or purchase_body(shop["banca"]),
        headers=headers or shop["headers"],
    )


# --- draw info ----------------------------------------------------------------------------------


def test_draw_info_names_the_active_draw_closing_first(client, app, shop):
    assert (
        new_draw(client, app, shop["banca"], "7328", closes_at="2026-11-29T20:00:00Z").status_code
        == 201
    )
    resp = client.simulate_get(
        "/api/v1/lottery_tickets/new", params={"payee_id": shop["banca"]}, headers=shop["headers"]
    )
    assert resp.status_code == 200, resp.text
    assert resp.json == {
        "draw_number": "7327",
        "draw_date": "2026-11-22",
        "closes_at": "2026-11-22T20:00:00.000Z",
        "currency": "MXN",
        "base_price": 1500,
        "rematch": 1000,
        "second_rematch": 500,
        "minimum_number_of_boards": 1,
        "maximum_number_of_boards": 6,
    }


def test_draw_info_needs_a_token_and_a_known_company(client, app, shop):
    resp = client.simulate_get("/api/v1/lottery_tickets/new", params={"payee_id": shop["banca"]})
    assert (resp.status_code, resp.json) == (401, {"errors": ["Access denied"]})
    resp = client.simulate_get(
        "/api/v1/lottery_tickets/new", params={"payee_id": "nope"}, headers=shop["headers"]
    )
    assert (resp.status_code, resp.json) == (422, {"error": "Company not found"})
    resp = client.simulate_get("/api/v1/lottery_tickets/new", headers=shop["headers"])
    assert resp.status_code == 422 and resp.json["error"] == "Invalid input"


def test_a_draw_closes_at_closes_at(client, app, clock, shop):
    clock.set(clock.now().replace(day=22, hour=20))
    resp = client.simulate_get(
        "/api/v1/lottery_tickets/new",
        params={"payee_id": shop["banca"]},
        headers=seller(app, shop["ventana"]),
    )
    assert resp.status_code == 404
    resp = buy(client, shop, headers=seller(app, shop["ventana"]))
    assert resp.status_code == 422
    assert resp.json["details"] == {
        "ticket": {"draw_number": ["Is not the active draw of this company"]}
    }


# --- the purchase -------------------------------------------------------------------------------


def test_a_purchase_answers_seed_003_and_posts_the_sale(client, app, clock, shop):
    resp = buy(client, shop)
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert set(body) == {"id", "client_id", "ticket", "branch", "receipt", "status", "payment"}
    assert isinstance(body["client_id"], int)
    t = body["ticket"]
    assert set(t) == {
        "combination_numbers",
        "draw_number",
        "combination_count",
        "rematch",
        "second_rematch",
        "total_amount",
        "transaction_date",
        "store_id",
        "pos_id",
        "foreign_pos_id",
        "transaction_number",
        "draw_date",
        "reference_number",
        "session_id",
        "security_number",
        "client_name",
        "client_street",
        "client_city",
        "client_neighborhood",
    }
    assert (t["draw_number"], t["combination_count"], t["total_amount"]) == ("7327", 5, "15000")
    assert t["draw_date"] == "DOM NOV 22 2026"
    assert t["transaction_date"] == "21/11/2026 06:00:00"  # 12:00 UTC in Mexico City
    assert t["store_id"] == shop["ventana"] and t["client_name"] == "Abarrotes Don Pepe"
    boards = t["combination_numbers"].split("|")
    assert len(boards) == 5
    for board in boards:
        numbers = [int(n) for n in board.split(",")]
        assert numbers == sorted(set(numbers)) and len(numbers) == 6
        assert all(1 <= n <= 56 for n in numbers)
    r = body["receipt"]
    assert set(r) == {
        "combination_numbers",
        "transaction_date",
        "store_id",
        "pos_id",
        "foreign_pos_id",
        "transaction_number",
        "reference_number",
        "session_id",
        "security_number",
        "serial_number",
        "creation_date",
        "ticket_image",
    }
    assert r["creation_date"] == 1795262400000
    assert r["security_number"] == t["security_number"]
    assert body["status"] == "completed"
    assert body["payment"] == {
        "id": body["payment"]["id"],
        "payer_account": "ref-0001",
        "payee_id": shop["banca"],
        "amount": 150,
        "currency": "MXN",
        "status": "completed",
        "pay_type": "gambling",
    }
    assert body["branch"] == purchase_body(shop["banca"])["branch"]

    ticket = Ticket.get_by_id(body["id"])
    assert (ticket.channel, ticket.status, ticket.result, ticket.price) == (
        "lottery",
        "OPEN",
        "pending",
        15000,
    )
    assert (ticket.banca_id, ticket.ventana_id, ticket.code) == (
        shop["banca"],
        shop["ventana"],
        t["reference_number"],
    )
    cash = ledger.balance_of(accounts.window_cash(shop["ventana"], "MXN", clock.now()))
    stakes = ledger.balance_of(accounts.stakes(shop["banca"], "MXN", clock.now()))
    assert (cash.balance, stakes.balance) == (15000, 15000)


def test_numbers_are_unique_and_unguessable(client, shop):
    seen: dict[str, set[str]] = {
        "reference_number": set(),
        "serial_number": set(),
        "transaction_number": set(),
        "combination_numbers": set(),
    }
    for i in range(12):
        resp = buy(client, shop, purchase_body(shop["banca"], f"ref-{i}", count=6))
        assert resp.status_code == 200
        for name, values in seen.items():
            values.add(resp.json["receipt"][name])
    assert all(len(values) == 12 for values in seen.values())
    assert all(len(n.replace("-", "")) >= 15 for n in seen["reference_number"])


@pytest.mark.parametrize("count", range(1, 7))
def test_the_price_rule_over_every_combination(client, shop, count):
    for rematch, second in itertools.product((False, True), repeat=2):
        expected = (
            1500 * count
            + (1000 * count if rematch else 0)
            + (500 * count if rematch and second else 0)
        )
        ref = f"p-{count}-{rematch}-{second}"
        if second and not rematch:
            resp = buy(
                client,
                shop,
                purchase_body(
                    shop["banca"], ref, count=count, rematch=False, second=True, total=str(expected)
                ),
            )
            assert resp.status_code == 422
            assert resp.json["details"] == {
                "ticket": {"second_rematch": ["Second_rematch requires rematch"]}
            }
            continue
        for wrong in (expected - 1, expected + 1, expected + 500):
            resp = buy(
                client,
                shop,
                purchase_body(
                    shop["banca"],
                    ref,
                    count=count,
                    rematch=rematch,
                    second=second,
                    total=str(wrong),
                ),
            )
            assert resp.status_code == 422, (count, rematch, second, wrong)
            assert "total_amount" in resp.json["details"]["ticket"]
        resp = buy(
            client,
            shop,
            purchase_body(shop["banca"], ref, count=count, rematch=rematch, second=second),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json["ticket"]["total_amount"] == str(expected)
        assert resp.json["payment"]["amount"] == (
            expected // 100 if expected % 100 == 0 else pytest.approx(expected / 100)
        )


def test_board_limits_come_from_the_draw(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    assert (
        new_draw(
            client, app, banca, "900", minimum_number_of_boards=2, maximum_number_of_boards=3
        ).status_code
        == 201
    )
    shop = {"banca": banca, "ventana": ventana, "headers": seller(app, ventana)}
    for count, status in ((1, 422), (2, 200), (3, 200), (4, 422), (0, 422), (7, 422)):
        resp = buy(client, shop, purchase_body(banca, f"b-{count}", count=count, draw="900"))
        assert resp.status_code == status, (count, resp.text)
        if status == 422:
            assert resp.json["details"] == {
                "ticket": {"combination_count": ["Must be between 2 and 3"]}
            }


# --- refusals, in SPEC 9's order ----------------------------------------------------------------


def test_401_and_403_keep_seed_003s_shape(client, app, shop):
    resp = client.simulate_post("/api/v1/lottery_tickets", json=purchase_body(shop["banca"]))
    assert (resp.status_code, resp.json) == (401, {"errors": ["Access denied"]})
    resp = buy(client, shop, headers={"Authorization": "Bearer nonsense"})
    assert (resp.status_code, resp.json) == (401, {"errors": ["Access denied"]})
    no_permission = seller(app, shop["ventana"], frozenset())
    resp = buy(client, shop, {"junk": True}, headers=no_permission)
    assert (resp.status_code, resp.json) == (403, {"errors": ["Access denied"]})
    # a token with the permission but no selling window
    resp = buy(
        client, shop, headers=auth(app, Principal(user_id="x", role=ADMIN, permissions=SELL))
    )
    assert (resp.status_code, resp.json) == (403, {"errors": ["Access denied"]})


def test_a_window_sells_only_its_own_companys_draws(client, app, clock, shop):
    _other_banca, other_window = f.banca_and_ventana(clock)
    resp = buy(client, shop, headers=seller(app, other_window))
    assert (resp.status_code, resp.json) == (403, {"errors": ["Access denied"]})


def test_a_vendedor_sells_for_its_window(client, app, clock, shop):
    from gateway.core import network

    vendedor = network.create_vendedor(
        f.ctx(clock),
        f.ADMIN_USER,
        network.NewVendedor(ventana_id=shop["ventana"], name="Pepe", commission_bps=0),
    ).result.id
    headers = auth(
        app, Principal(user_id="v-1", role=VENDEDOR, vendedor_id=vendedor, permissions=SELL)
    )
    resp = buy(client, shop, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["ticket"]["store_id"] == shop["ventana"]
    assert resp.json["ticket"]["pos_id"] == vendedor
    assert Ticket.get_by_id(resp.json["id"]).vendedor_id == vendedor


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return body


def _with(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


INVALID: list[tuple[tuple[str, ...], Any]] = [
    (("payee_id",), None),
    (("payer_reference",), None),
    (("ticket",), None),
    (("branch",), None),
    (("ticket", "draw_number"), None),
    (("ticket", "combination_count"), None),
    (("ticket", "rematch"), None),
    (("ticket", "second_rematch"), None),
    (("ticket", "total_amount"), None),
    (("branch", "name"), None),
    (("branch", "street"), None),
    (("branch", "city"), None),
    (("branch", "neighborhood"), None),
    (("payee_id",), 5),
    (("payer_reference",), ""),
    (("payer_reference",), "x" * 101),
    (("ticket",), "7327"),
    (("ticket", "draw_number"), 7327),
    (("ticket", "combination_count"), "5"),
    (("ticket", "combination_count"), True),
    (("ticket", "combination_count"), 5.0),
    (("ticket", "rematch"), "true"),
    (("ticket", "rematch"), 1),
    (("ticket", "second_rematch"), None),
    (("ticket", "total_amount"), 15000),
    (("ticket", "total_amount"), "150.00"),
    (("ticket", "total_amount"), "-15000"),
    (("ticket", "total_amount"), "015000"),
    (("branch", "name"), "   "),
    (("branch", "city"), "\ud800"),
    (("branch", "city"), "a\x00"),
    (("branch",), []),
]


@pytest.mark.parametrize(("path", "value"), INVALID)
def test_every_malformed_field_is_422_invalid_input(client, shop, path, value):
    body = purchase_body(shop["banca"])
    body = (
        _without(body, *path)
        if value is None and path[-1] != "second_rematch"
        else _with(body, value, *path)
    )
    resp = client.simulate_post(
        "/api/v1/lottery_tickets",
        body=json.dumps(body),
        headers={**shop["headers"], "Content-Type": "application/json"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json["error"] == "Invalid input"
    node = resp.json["details"]
    for part in path:
        if part not in node:
            break
        node = node[part]
    else:
        return
    pytest.fail(f"details do not name {path}: {resp.json}")


@pytest.mark.parametrize(
    "raw", [b"", b"[]", b"{", b"null", b'"x"', b"[" * 5000 + b"]" * 5000, b'{"payee_id": NaN}']
)
def test_bodies_that_are_not_objects_are_422(client, shop, raw):
    resp = client.simulate_post(
        "/api/v1/lottery_tickets",
        body=raw,
        headers={**shop["headers"], "Content-Type": "application/json"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json["error"] == "Invalid input" and resp.json["details"]


def test_unknown_company_after_field_checks(client, shop):
    resp = buy(client, shop, purchase_body("550e8400-e29b-41d4-a716-446655440000"))
    assert (resp.status_code, resp.json) == (422, {"error": "Company not found"})
    bad = _without(purchase_body("550e8400-e29b-41d4-a716-446655440000"), "ticket", "rematch")
    assert buy(client, shop, bad).json["error"] == "Invalid input"


def test_wrong_draw_number_is_422(client, shop):
    resp = buy(client, shop, purchase_body(shop["banca"], draw="9999"))
    assert resp.status_code == 422
    assert resp.json == {
        "error": "Invalid input",
        "details": {"ticket": {"draw_number": ["Is not the active draw of this company"]}},
    }


def test_a_refusal_writes_nothing_but_its_audit_line(client, shop):
    before = Ticket.select().count()
    resp = buy(client, shop, purchase_body(shop["banca"], total="1"))
    assert resp.status_code == 422
    assert Ticket.select().count() == before
    last = AuditRecord.select().order_by(AuditRecord.seq.desc()).first()
    assert (last.action, last.result) == ("LOTTERY_TICKET_CREATE", "rejected:invalid")


# --- payer_reference idempotency ----------------------------------------------------------------


def test_the_same_payer_reference_and_body_returns_the_first_ticket(client, shop):
    first = buy(client, shop)
    again = buy(client, shop)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert LotteryTicket.select().count() == 1


def test_the_same_payer_reference_with_another_body_is_422(client, shop):
    assert buy(client, shop).status_code == 200
    altered = purchase_body(shop["banca"], count=4)
    resp = buy(client, shop, altered)
    assert resp.status_code == 422
    assert resp.json == {
        "error": "Invalid input",
        "details": {"payer_reference": ["Already used for a different ticket of this company."]},
    }
    assert LotteryTicket.select().count() == 1


def test_a_payer_reference_is_per_company(client, app, clock, shop):
    other_banca, other_window = f.banca_and_ventana(clock)
    assert new_draw(client, app, other_banca, "8000").status_code == 201
    assert buy(client, shop).status_code == 200
    resp = buy(
        client, {"headers": seller(app, other_window)}, purchase_body(other_banca, draw="8000")
    )
    assert resp.status_code == 200, resp.text
    assert LotteryTicket.select().count() == 2


def test_concurrent_duplicates_sell_one_ticket(app, shop):
    """Eight threads send the same purchase at once: one ticket, eight identical bodies."""
    barrier = threading.Barrier(8)

    def send(_: int) -> tuple[int, bytes]:
        client = falcon.testing.TestClient(app)
        barrier.wait()
        resp = buy(client, shop)
        return resp.status_code, resp.content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {status for status, _ in answers} == {200}
    assert len({content for _, content in answers}) == 1
    assert LotteryTicket.select().count() == 1
    assert Ticket.select().where(Ticket.channel == "lottery").count() == 1


# --- the receipt ----------------------------------------------------------------------------------


def test_the_receipt_verifies_and_one_altered_character_does_not(client, app, shop):
    receipt = buy(client, shop).json["receipt"]
    resp = client.simulate_post("/api/v1/receipts/verify", json=receipt)
    assert resp.json == {"valid": True}
    assert verify_receipt(app.services.keys.verify_keys(), receipt) == (True, None)
    for field in (
        "combination_numbers",
        "reference_number",
        "transaction_date",
        "serial_number",
        "store_id",
    ):
        altered = dict(receipt)
        value = altered[field]
        swap = "2" if value[-1] != "2" else "3"
        altered[field] = value[:-1] + swap
        resp = client.simulate_post("/api/v1/receipts/verify", json=altered)
        assert resp.json == {"valid": False, "reason": "bad_signature"}, field
    altered = dict(receipt, creation_date=receipt["creation_date"] + 1)
    assert client.simulate_post("/api/v1/receipts/verify", json=altered).json["valid"] is False


def test_the_receipt_image_is_a_png_whose_qr_code_reads_back(client, shop):
    body = buy(client, shop).json
    raw = base64.b64decode(body["receipt"]["ticket_image"], validate=True)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(raw))
    image.load()
    assert image.format == "PNG" and image.width >= 400 and image.height >= 600
    codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1
    assert json.loads(codes[0].text) == {
        "reference_number": body["ticket"]["reference_number"],
        "security_number": body["ticket"]["security_number"],
    }


# --- draw administration (back office) -----------------------------------------------------------


def test_draws_are_admin_only_and_their_numbers_unique(client, app, shop):
    resp = new_draw(client, app, shop["banca"])
    assert resp.status_code == 409
    assert resp.json["success"] is False and resp.json["error"]["code"] == "CONFLICT"
    body = {
        "payee_id": shop["banca"],
        "draw_number": "x",
        "draw_date": "2026-11-22",
        "closes_at": "2026-11-22T20:00:00Z",
        "base_price": 1,
        "rematch": 0,
        "second_rematch": 0,
        "prizes": {},
    }
    resp = client.simulate_post("/api/v1/draws", json=body, headers=shop["headers"])
    assert resp.status_code == 403 and resp.json["error"]["code"] == "FORBIDDEN"
    resp = client.simulate_post("/api/v1/draws", json=body)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("closes_at", "2026-11-22T20:00:00"),
        ("closes_at", "9999-12-31T23:59:59-01:00"),
        ("closes_at", "2020-01-01T00:00:00Z"),
        ("draw_date", "22/11/2026"),
        ("draw_number", "a/b"),
        ("base_price", "1500"),
        ("base_price", -1),
        ("base_price", 0),
        ("rematch", 1.5),
        ("maximum_number_of_boards", 7),
        ("minimum_number_of_boards", 0),
        ("prizes", {"base": {"9": 1}}),
        ("prizes", {"base": {"6": -1}}),
        ("prizes", {"jackpot": {}}),
        ("payee_id", "nope"),
        ("extra", 1),
    ],
)
def test_draw_fields_are_validated(client, app, shop, field, value):
    resp = new_draw(client, app, shop["banca"], "D2", **{field: value})
    assert resp.status_code in (400, 404), resp.text
    assert resp.json["success"] is False


def test_results_through_http(client, app, shop):
    buy(client, shop)
    path = "/api/v1/draws/7327/results"
    resp = client.simulate_post(path, json={"numbers": [1, 2, 3]}, headers=admin(app))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "VALIDATION_ERROR"
    resp = client.simulate_post(path, json={"numbers": [1, 2, 3, 4, 5, 6]}, headers=shop["headers"])
    assert resp.status_code == 403
    resp = client.simulate_post(path, json={"numbers": [1, 2, 3, 4, 5, 6]}, headers=admin(app))
    assert resp.status_code == 200, resp.text
    assert (resp.json["data"]["status"], resp.json["data"]["evaluated"]) == ("resulted", 1)
    again = client.simulate_post(path, json={"numbers": [1, 2, 3, 4, 5, 6]}, headers=admin(app))
    assert again.status_code == 409 and again.json["error"]["code"] == "CONFLICT"
    missing = client.simulate_post(
        "/api/v1/draws/0000/results", json={"numbers": [1, 2, 3, 4, 5, 6]}, headers=admin(app)
    )
    assert missing.status_code == 404


def test_other_errors_keep_the_lottery_shape(client, shop):
    resp = client.simulate_get("/api/v1/lottery_tickets", headers=shop["headers"])
    assert resp.status_code == 405
    assert resp.json == {"error": "Method not allowed", "code": "METHOD_NOT_ALLOWED"}
