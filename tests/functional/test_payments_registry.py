"""The payments registry over HTTP: every route with and without its permission,
the token from the `accessToken` cookie or a Bearer header, the registry API's bodies, statuses and
messages, 204 with no body for empty lists, 400 for malformed ids and amounts, 404 for unknown
ids, and odd input that never answers 500 nor writes anything."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import simplejson

from gateway.core.principal import ADMIN, VENTANA, Principal
from gateway.core.reconcile import reconcile
from gateway.store.models import LedgerTxn, PaymentTicketLink, RegistryPayment
from gateway.store.schema_0009 import currency_id, method_id
from tests import factories as f

ALL = ("payments_read", "payments_create", "payments_update", "payments_delete")
LIGHTNING, CASH = method_id("Bitcoin Lightning"), method_id("Cash")
BTC, EUR, MXN = currency_id("BTC"), currency_id("EUR"), currency_id("MXN")
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def window(db: Any, clock: Any) -> str:
    return f.banca_and_ventana(clock)[1]


def cookie(app: Any, window: str, *permissions: str, user: str = "cashier-1") -> dict[str, str]:
    principal = Principal(
        user_id=user, role=VENTANA, ventana_id=window, permissions=frozenset(permissions)
    )
    return {"Cookie": f"accessToken={app.services.tokens.mint(principal)}"}


def bearer(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def body(amount: Any = Decimal("45.50"), txn: str = "txn-1", **kw: Any) -> dict[str, Any]:
    out = {"method_id": CASH, "currency_id": EUR, "transaction_id": txn, "amount": amount}
    out.update(kw)
    return out


def dumps(payload: Any) -> str:
    """JSON with exact decimals (`45.50` stays `45.50`)."""
    return str(simplejson.dumps(payload, use_decimal=True))


def with_amount(raw_amount: str, **kw: Any) -> str:
    """A payment body whose `amount` is the JSON text `raw_amount`, as written."""
    return dumps(body(amount="@@", **kw)).replace('"@@"', raw_amount)


def send(client: Any, method: str, path: str, headers: dict[str, str], payload: Any = None) -> Any:
    raw = (
        None if payload is None else payload if isinstance(payload, str | bytes) else dumps(payload)
    )
    return client.simulate_request(method, path, body=raw, headers=headers)


def post(client: Any, headers: dict[str, str], payload: Any) -> Any:
    return send(client, "POST", "/payments", headers, payload)


def create(client: Any, headers: dict[str, str], **kw: Any) -> str:
    created = post(client, headers, body(**kw))
    assert created.status_code == 201, created.text
    return str(created.json["id"])


def snapshot() -> tuple[int, int, int]:
    return (
        RegistryPayment.select().count(),
        LedgerTxn.select().count(),
        PaymentTicketLink.select().count(),
    )


# --- the walk of a new user ------------------------------------------------------------------


def test_lightning_payment_linked_to_two_tickets_then_corrected(client, app, window) -> None:
    """With a cookie token: 0.00025 BTC by Lightning, two tickets, corrected to 0.0003 BTC;
    the ledger agrees (reconciliation and the payments-received balance)."""
    me = cookie(app, window, *ALL)
    methods = client.simulate_get("/payments/methods", headers=me)
    assert methods.status_code == 200
    lightning = next(m["id"] for m in methods.json if m["name"] == "Bitcoin Lightning")
    currencies = client.simulate_get("/payments/currencies", headers=me).json
    btc = next(c["id"] for c in currencies if c["acronym"] == "BTC")
    created = post(
        client, me, body(Decimal("0.00025"), "ln-7f3a", method_id=lightning, currency_id=btc)
    )
    assert created.status_code == 201
    assert created.json["message"] == "Payment added successfully"
    pid = created.json["id"]
    for ticket in ("order-1001", "order-1002"):
        link = client.simulate_post(
            "/payments/ticket-payments", json={"payment_id": pid, "ticket_id": ticket}, headers=me
        )
        assert link.status_code == 201
        assert link.json == {
            "paymentId": pid,
            "ticketId": ticket,
            "message": "Ticket payment relationship created successfully",
        }
    corrected = send(
        client,
        "PUT",
        f"/payments/{pid}",
        me,
        with_amount("0.0003", txn="ln-7f3a", method_id=lightning, currency_id=btc),
    )
    assert corrected.status_code == 200 and corrected.json == "Payment updated successfully"
    got = client.simulate_get(f"/payments/{pid}", headers=me)
    assert simplejson.loads(got.text, use_decimal=True) == {
        "id": pid,
        "method_id": lightning,
        "currency_id": btc,
        "transaction_id": "ln-7f3a",
        "amount": Decimal("0.00030000"),
    }
    assert '"amount":0.00030000' in got.text
    tickets = client.simulate_get(f"/payments/ticket-payments/by-payment/{pid}", headers=me)
    assert [t["ticket_id"] for t in tickets.json] == ["order-1001", "order-1002"]
    paid = client.simulate_get("/payments/ticket-payments/by-ticket/order-1002", headers=me)
    assert [p["id"] for p in paid.json] == [pid]
    admin = bearer(app, Principal(user_id="admin-1", role=ADMIN))
    report = client.simulate_get("/api/v1/reconciliation", headers=admin).json["data"]
    assert report["ok"], report
    kinds = [t.kind for t in LedgerTxn.select().order_by(LedgerTxn.id)]
    assert kinds == ["payment.received", "payment.corrected"]
    from gateway.core.registry.books import books

    [btc_books] = books()
    assert (btc_books.registry_total, btc_books.received) == (30_000, 30_000)
    assert btc_books.clearing == {"lightning": 30_000}


def test_lists_answer_204_with_no_body_when_empty(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    for path in (
        "/payments",
        "/payments/ticket-payments/by-ticket/nothing-here",
    ):
        empty = client.simulate_get(path, headers=me)
        assert (empty.status_code, empty.content) == (204, b""), path
    pid = create(client, me)
    empty = client.simulate_get(f"/payments/ticket-payments/by-payment/{pid}", headers=me)
    assert (empty.status_code, empty.content) == (204, b"")
    listed = client.simulate_get("/payments", headers=me)
    assert listed.status_code == 200
    assert listed.json == [
        {
            "id": pid,
            "method_id": CASH,
            "currency_id": EUR,
            "transaction_id": "txn-1",
            "amount": Decimal("45.50"),
        }
    ]


def test_delete_voids_hides_and_frees_the_transaction_id(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    pid = create(client, me)
    client.simulate_post(
        "/payments/ticket-payments", json={"payment_id": pid, "ticket_id": "T-1"}, headers=me
    )
    in_use = client.simulate_delete(f"/payments/{pid}", headers=me)
    assert in_use.status_code == 400
    assert in_use.json == {"error": "Failed to delete payment or payment is in use"}
    gone = client.simulate_delete(
        "/payments/ticket-payments", params={"paymentId": pid, "ticketId": "T-1"}, headers=me
    )
    assert (gone.status_code, gone.content) == (204, b"")
    deleted = client.simulate_delete(f"/payments/{pid}", headers=me)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.simulate_get(f"/payments/{pid}", headers=me).status_code == 404
    assert client.simulate_delete(f"/payments/{pid}", headers=me).status_code == 404
    assert client.simulate_get("/payments", headers=me).status_code == 204
    assert LedgerTxn.select().count() == 2  # the payment and its mirror stay in the ledger
    assert create(client, me) != pid
    assert reconcile().ok


def test_conflicts_and_unknown_ids(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    pid = create(client, me)
    other = create(client, me, txn="txn-2")
    before = snapshot()
    duplicate = post(client, me, body(txn="txn-1"))
    assert (duplicate.status_code, duplicate.json) == (
        409,
        {"error": "transaction_id already exists"},
    )
    taken = send(client, "PUT", f"/payments/{other}", me, body(10, "txn-1"))
    assert (taken.status_code, taken.json) == (409, {"error": "transaction_id already exists"})
    link = {"payment_id": pid, "ticket_id": "T-1"}
    assert (
        client.simulate_post("/payments/ticket-payments", json=link, headers=me).status_code == 201
    )
    twice = client.simulate_post("/payments/ticket-payments", json=link, headers=me)
    assert twice.status_code == 409
    assert twice.json == {"error": "Ticket payment relationship already exists"}
    before = snapshot()
    for method, path, payload in (
        ("GET", f"/payments/{UNKNOWN}", None),
        ("PUT", f"/payments/{UNKNOWN}", body(1, "txn-9")),
        ("DELETE", f"/payments/{UNKNOWN}", None),
        ("GET", f"/payments/methods/{UNKNOWN}", None),
        ("GET", f"/payments/currencies/{UNKNOWN}", None),
        ("GET", f"/payments/ticket-payments/by-payment/{UNKNOWN}", None),
        ("POST", "/payments/ticket-payments", {"payment_id": UNKNOWN, "ticket_id": "T-1"}),
        ("DELETE", "/payments/ticket-payments?paymentId=" + pid + "&ticketId=T-2", None),
        ("DELETE", "/payments/ticket-payments/by-ticket/T-9", None),
    ):
        answer = send(client, method, path, me, payload)
        assert answer.status_code == 404, (method, path, answer.text)
        assert set(answer.json) == {"error"} and answer.json["error"].endswith("not found")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/payments/{bad}"),
        ("PUT", "/payments/{bad}"),
        ("DELETE", "/payments/{bad}"),
        ("GET", "/payments/methods/{bad}"),
        ("GET", "/payments/currencies/{bad}"),
        ("GET", "/payments/ticket-payments/by-payment/{bad}"),
    ],
)
@pytest.mark.parametrize("bad", ["abc", "1", "00000000-0000-4000-8000-00000000000g", "%20"])
def test_malformed_ids_are_400(client, app, window, method, path, bad) -> None:
    me = cookie(app, window, *ALL)
    answer = send(client, method, path.format(bad=bad), me, body())
    assert answer.status_code == 400, answer.text
    assert answer.json["error"].startswith("Invalid ")
    assert snapshot() == (0, 0, 0)


# --- permissions -----------------------------------------------------------------------------

Route = tuple[str, Callable[[str], str], Callable[[str], Any], str, int]
ROUTES: list[Route] = [
    ("GET", lambda p: "/payments", lambda p: None, "payments_read", 200),
    ("POST", lambda p: "/payments", lambda p: body(txn="txn-new"), "payments_create", 201),
    ("GET", lambda p: f"/payments/{p}", lambda p: None, "payments_read", 200),
    ("PUT", lambda p: f"/payments/{p}", lambda p: body(10), "payments_update", 200),
    ("GET", lambda p: "/payments/methods", lambda p: None, "payments_read", 200),
    ("GET", lambda p: f"/payments/methods/{CASH}", lambda p: None, "payments_read", 200),
    ("GET", lambda p: "/payments/currencies", lambda p: None, "payments_read", 200),
    ("GET", lambda p: f"/payments/currencies/{BTC}", lambda p: None, "payments_read", 200),
    (
        "POST",
        lambda p: "/payments/ticket-payments",
        lambda p: {"payment_id": p, "ticket_id": "T-new"},
        "payments_create",
        201,
    ),
    (
        "GET",
        lambda p: "/payments/ticket-payments/by-ticket/T-1",
        lambda p: None,
        "payments_read",
        200,
    ),
    (
        "GET",
        lambda p: f"/payments/ticket-payments/by-payment/{p}",
        lambda p: None,
        "payments_read",
        200,
    ),
    (
        "DELETE",
        lambda p: f"/payments/ticket-payments?paymentId={p}&ticketId=T-1",
        lambda p: None,
        "payments_delete",
        204,
    ),
    (
        "DELETE",
        lambda p: "/payments/ticket-payments/by-ticket/T-1",
        lambda p: None,
        "payments_delete",
        204,
    ),
    ("DELETE", lambda p: f"/payments/{p}", lambda p: None, "payments_delete", 204),
]


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r[0]} {r[1]('{id}')}" for r in ROUTES])
def test_every_route_needs_a_token_and_its_permission(client, app, window, route) -> None:
    method, path, payload, permission, ok = route
    setup = cookie(app, window, *ALL, user="setup")
    pid = create(client, setup)
    linked = client.simulate_post(
        "/payments/ticket-payments", json={"payment_id": pid, "ticket_id": "T-1"}, headers=setup
    )
    assert linked.status_code == 201
    if path(pid) == f"/payments/{pid}" and method == "DELETE":  # refused while linked
        client.simulate_delete("/payments/ticket-payments/by-ticket/T-1", headers=setup)
    before = snapshot()

    def call(headers: dict[str, str]) -> Any:
        return send(client, method, path(pid), headers, payload(pid))

    missing = call({})
    assert (missing.status_code, missing.json) == (
        401,
        {"error": "Missing, invalid or expired token"},
    )
    forged = call({"Cookie": "accessToken=not.a.token"})
    assert forged.status_code == 401
    others = [p for p in ALL if p != permission]
    for alone in others:  # each other permission on its own
        assert call(cookie(app, window, alone)).status_code == 403, alone
    for headers in (
        cookie(app, window, *others),
        bearer(app, Principal("x", VENTANA, ventana_id=window, permissions=frozenset(others))),
    ):
        refused = call(headers)
        assert (refused.status_code, refused.json) == (403, {"error": "Forbidden"})
    assert snapshot() == before
    allowed = call(cookie(app, window, permission))
    assert allowed.status_code == ok, allowed.text
    again_with_bearer = client.simulate_request(
        "GET", "/payments", headers=bearer(app, Principal("admin-1", ADMIN))
    )
    assert again_with_bearer.status_code in (200, 204)
    assert reconcile().ok


# --- amounts and odd input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("10.005", MXN),
        ("45.505", EUR),
        ("0.000000001", BTC),
        ("0.001", EUR),
        ("0", EUR),
        ("-1", EUR),
        ("0.00", BTC),
        ("1e400", EUR),
        ("1e-400", EUR),
        ("10000000000000000000000", EUR),
        ("99999999999999.99", EUR),
        ('"10.00"', EUR),
        ("true", EUR),
        ("null", EUR),
        ("[1]", EUR),
        ('{"value": 1}', EUR),
    ],
)
def test_bad_amounts_are_400_and_write_nothing(client, app, window, amount, currency) -> None:
    me = cookie(app, window, *ALL)
    raw = dumps(body(txn="txn-x", currency_id=currency, amount="@@")).replace('"@@"', amount)
    answer = client.simulate_post("/payments", body=raw, headers=me)
    assert answer.status_code == 400, answer.text
    assert answer.json["error"] == "Invalid request" and "amount" in answer.json["details"]
    pid = create(client, me, txn="txn-ok")
    put = client.simulate_put(f"/payments/{pid}", body=raw, headers=me)
    assert put.status_code == 400
    assert snapshot() == (1, 1, 0)


def test_each_currency_takes_exactly_its_decimals(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    for txn, (amount, currency, shown) in enumerate(
        [
            ("0.00000001", BTC, "0.00000001"),
            ("1000000", BTC, "1000000.00000000"),
            ("10.5", MXN, "10.50"),
            ("50000", currency_id("CRC"), "50000.00"),
            ("0.01", currency_id("USD"), "0.01"),
        ]
    ):
        raw = with_amount(amount, txn=f"t{txn}", currency_id=currency)
        created = client.simulate_post("/payments", body=raw, headers=me)
        assert created.status_code == 201, created.text
        got = client.simulate_get(f"/payments/{created.json['id']}", headers=me)
        assert f'"amount":{shown}' in got.text
    assert reconcile().ok


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'"text"',
        b"{",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"method_id": "' + b"a" * 5000 + b'"}',
        dumps({**body(), "extra": 1}).encode(),
        dumps({**body(), "amount": None}).encode(),
        dumps({k: v for k, v in body(txn="t").items() if k != "transaction_id"}).encode(),
        dumps(body(txn="")).encode(),
        dumps(body(txn="   ")).encode(),
        dumps(body(txn="x" * 101)).encode(),
        dumps(body(txn="nul\u0000byte")).encode(),
        b'{"method_id": "\\ud800", "currency_id": "x", "transaction_id": "t", "amount": 1}',
        dumps(body(txn="t", method_id=UNKNOWN)).encode(),
        dumps(body(txn="t", currency_id=UNKNOWN)).encode(),
        dumps(body(txn="t", method_id=EUR)).encode(),
        dumps({**body(), "transaction_id": {"nested": ["deep"]}}).encode(),
        dumps(
            {"method_id": [CASH], "currency_id": EUR, "transaction_id": "t", "amount": 1}
        ).encode(),
    ],
)
def test_odd_payment_bodies_are_400_never_500(client, app, window, raw) -> None:
    me = cookie(app, window, *ALL)
    answer = client.simulate_post(
        "/payments", body=raw, headers={**me, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert isinstance(answer.json["error"], str)
    assert snapshot() == (0, 0, 0)


def test_unicode_references_are_kept_exactly(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    txn = "pago-ñandú-💸-\u202etxt"
    pid = create(client, me, txn=txn)
    ticket = "orden-Ω-🎟️"
    linked = client.simulate_post(
        "/payments/ticket-payments", json={"payment_id": pid, "ticket_id": ticket}, headers=me
    )
    assert linked.status_code == 201 and linked.json["ticketId"] == ticket
    assert client.simulate_get(f"/payments/{pid}", headers=me).json["transaction_id"] == txn
    from urllib.parse import quote

    by_ticket = client.simulate_get(
        f"/payments/ticket-payments/by-ticket/{quote(ticket)}", headers=me
    )
    assert [p["id"] for p in by_ticket.json] == [pid]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/payments/ticket-payments/by-ticket/" + "t" * 101),
        ("DELETE", "/payments/ticket-payments/by-ticket/" + "t" * 101),
        ("GET", "/payments/ticket-payments/by-ticket/%00"),
        ("DELETE", "/payments/ticket-payments?paymentId=abc&ticketId=T-1"),
        ("DELETE", "/payments/ticket-payments?ticketId=T-1"),
        ("DELETE", f"/payments/ticket-payments?paymentId={UNKNOWN}"),
        ("DELETE", f"/payments/ticket-payments?paymentId={UNKNOWN}&paymentId={UNKNOWN}&ticketId=T"),
        ("GET", "/payments/%00"),
    ],
)
def test_odd_paths_and_queries_are_400_never_500(client, app, window, method, path) -> None:
    me = cookie(app, window, *ALL)
    answer = client.simulate_request(method, path, headers=me)
    assert answer.status_code == 400, answer.text
    assert isinstance(answer.json["error"], str)


def test_odd_link_bodies_are_400(client, app, window) -> None:
    me = cookie(app, window, *ALL)
    pid = create(client, me)
    for payload in (
        {"payment_id": "abc", "ticket_id": "T"},
        {"payment_id": pid},
        {"payment_id": pid, "ticket_id": ""},
        {"payment_id": pid, "ticket_id": "t" * 101},
        {"payment_id": pid, "ticket_id": 7},
        {"payment_id": pid, "ticket_id": "T", "amount": 1},
    ):
        answer = client.simulate_post("/payments/ticket-payments", json=payload, headers=me)
        assert answer.status_code == 400, (payload, answer.text)
    assert snapshot() == (1, 1, 0)


def test_another_windows_payment_is_not_found(client, app, window, clock) -> None:
    from gateway.core import network

    other = network.create_ventana(
        f.ctx(clock),
        f.ADMIN_USER,
        network.NewVentana(network.list_bancas(f.ADMIN_USER)[0].id, "Otra", 0),
    ).result.id
    theirs = create(client, cookie(app, other, *ALL, user="them"))
    me = cookie(app, window, *ALL)
    assert client.simulate_get("/payments", headers=me).status_code == 204
    for method, path in (("GET", f"/payments/{theirs}"), ("DELETE", f"/payments/{theirs}")):
        assert client.simulate_request(method, path, headers=me).status_code == 404
    put = send(client, "PUT", f"/payments/{theirs}", me, body(1, "x"))
    assert put.status_code == 404
    admin = bearer(app, Principal("admin-1", ADMIN))
    assert [p["id"] for p in client.simulate_get("/payments", headers=admin).json] == [theirs]


# --- races over HTTP -------------------------------------------------------------------------


def test_racing_posts_of_one_transaction_id_one_201_the_rest_409(app, window) -> None:
    """16 clients post the same payment at once (PostgreSQL: real concurrency on the unique
    index; SQLite: serialised): one 201, fifteen 409 `transaction_id already exists`, one
    payment and one ledger transaction."""
    import falcon.testing

    from tests.concurrency import race

    me = cookie(app, window, *ALL)

    def arm(i: int) -> Callable[[], tuple[int, Any]]:
        client = falcon.testing.TestClient(app)
        raw = dumps(body(Decimal("12.34") + i, "txn-race"))

        def send() -> tuple[int, Any]:
            answer = client.simulate_post("/payments", body=raw, headers=me)
            return answer.status_code, answer.json

        return send

    results = race(16, arm)
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 15, results
    assert all(b == {"error": "transaction_id already exists"} for c, b in results if c == 409)
    assert snapshot() == (1, 1, 0)
    assert reconcile().ok
