"""Property: whatever JSON a caller puts in any field of any write, the answer is the
protocol's own (never a 5xx, always a body in the protocol's shape), and the books still
reconcile and the audit chain still verifies afterwards.

For every `/pam` action and every back-office write, hypothesis replaces fields of a valid
message with arbitrary JSON: null, booleans, integers (huge, negative, beyond 64 bits and
beyond Python's 4,300-digit parsing limit), floats (NaN and infinities included), text with
lone surrogates, NUL, bidi marks and long runs, lists, objects, nesting far past the
decoder's limit; it also drops fields, adds unknown ones, replaces the whole `data` or body,
and puts arbitrary text in the path's id. Betstack messages are correctly signed with a
fresh timestamp each (the clock moves one second per example, so the once-only rule never
answers a replay); back-office calls carry a fresh ADMIN token.

Runs through the falcon TestClient on the test's database (SQLite or PostgreSQL); every
endpoint has a fixed seed and no example database is kept, so CI sees the same examples on
every run.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from gateway.core import audit, reconcile
from gateway.core.clock import unix
from gateway.core.principal import ADMIN, Principal
from signing import betstack
from tests import factories as f

pytestmark = pytest.mark.slow

PAM_ACTIONS = (
    "identify",
    "ticket_create",
    "ticket_reserve",
    "ticket_update",
    "ticket_win",
    "ticket_lost",
    "ticket_void",
    "ticket_refund",
    "ticket_discard",
    "ticket_rollback",
    "ticket_closed",
)
OFFICE_WRITES = (
    "POST bancas",
    "POST ventanas",
    "POST vendedores",
    "POST players",
    "POST players/{id}/tokens",
    "POST players/{id}/deposits",
    "POST players/{id}/withdrawals",
    "PATCH players/{id}",
)

# Sized for < 40 s on SQLite and < 80 s on PostgreSQL for the whole file (19 endpoints;
# measured 15-18 s and 21-30 s). Reproducible: each endpoint has its own fixed seed (so
# they do not all get the same sequence of edits) and no example database is kept.
EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fixed_seed(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A seed of its own for each endpoint, the same on every run."""
    return seed(zlib.crc32(name.encode()))


# --- arbitrary JSON ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text written into the body as is: what `json.dumps` cannot or will not make
    (nesting past Python's recursion limit, integers past its 4,300-digit limit)."""

    text: str

    def __repr__(self) -> str:  # a 5,000-deep value is not worth printing whole
        return (
            f"Raw({self.text[:40]!r}…{len(self.text)} chars)"
            if len(self.text) > 60
            else f"Raw({self.text!r})"
        )


@dataclass(frozen=True)
class Drop:
    """The field is left out."""


DROP = Drop()


@dataclass(frozen=True)
class Ref:
    """A value that means something in this test's world (another ticket's id, the
    player's token, the window's id …), resolved when the message is built."""

    name: str


def _deep(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "1" + "}" * depth)


NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\ud800",
        "\udfff",
        "a\ud83d",
        "\x00",
        "a\x00b",
        "\u202e\u2066evil\u2069",
        "\u200f\u200b",
        "\ufeff",
        "\U0001f4a9",
        "é" * 300,
        "x" * 5_000,
        "USD",
        "acme",
        "ticket_id",
        "null",
        "NaN",
        "-1",
        "1e400",
        "\\",
        '"',
        "<script>",
        "' OR 1=1 --",
    ]
)
TEXT = st.one_of(NASTY_TEXT, st.text(st.characters(exclude_categories=()), max_size=40))
INTEGERS = st.one_of(
    st.integers(),
    st.sampled_from(
        [
            0,
            -1,
            1,
            2**31 - 1,
            2**31,
            2**53 + 1,
            2**63 - 1,
            2**63,
            -(2**63) - 1,
            2**64,
            10**15,
            10**15 + 1,
            10**30,
            -(10**30),
            10**400,
        ]
    ),
)
FLOATS = st.one_of(
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 0.1, 1e308, 5e-324, 12.5]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["\ud800", "\x00", "", "operator"]))
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
EXTREME = st.one_of(
    st.builds(_deep, st.sampled_from([33, 100, 1_000, 5_000]), st.sampled_from(["list", "obj"])),
    st.just(Raw("1" + "0" * 5_000)),  # an integer Python refuses to parse by default
    st.just(Raw("1e999999")),
    st.just(Raw("-1E-999999")),
)
PLAUSIBLE = st.one_of(
    st.integers(-10, 3_000),
    st.sampled_from(
        [
            "USD",
            "CRC",
            "EUR",
            "BTC",
            "jackpot",
            "quickbet",
            "inclusive",
            "exclusive",
            "wallet",
            "card",
            "acme",
            "beta",
            "es",
            "en",
            "cash",
            "transfer",
            "+50688887777",
            True,
            False,
            0,
        ]
    ),
    st.builds(Ref, st.sampled_from(["player", "token", "external", "ticket", "banca", "ventana"])),
)
VALUES = st.one_of(JSON, PLAUSIBLE, JSON, PLAUSIBLE, EXTREME, st.just(DROP))


def _edits(fields: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """One to three (field, new value) edits; `+extra` adds an unknown field."""
    names = st.sampled_from((*fields, "+extra"))
    return st.lists(st.tuples(names, VALUES), min_size=1, max_size=3)


def encode(obj: Any) -> bytes:
    """JSON as a sender would write it (ASCII, `\\uXXXX` for everything else, so lone
    surrogates travel as escapes), with `Raw` values written in as they are."""
    raws: dict[str, str] = {}

    def default(value: Any) -> Any:
        if isinstance(value, Raw):
            marker = f"__raw_{len(raws)}__"
            raws[marker] = value.text
            return marker
        raise TypeError(type(value).__name__)

    text = json.dumps(obj, separators=(",", ":"), default=default)
    for marker, raw in raws.items():
        text = text.replace(json.dumps(marker), raw, 1)
    return text.encode("ascii")


def apply(
    base: dict[str, Any], edits: list[tuple[str, Any]], refs: dict[str, str]
) -> dict[str, Any]:
    out = dict(base)
    for name, value in edits:
        name = f"x{len(out)}" if name == "+extra" else name
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = resolve(value, refs)
    return out


def resolve(value: Any, refs: dict[str, str]) -> Any:
    return refs.get(value.name, value.name) if isinstance(value, Ref) else value


def _json_body(content: bytes) -> Any:
    return json.loads(content)


def betstack_shape(action: str, status: int, content: bytes) -> None:
    assert status < 500, (status, content[:300])
    if status == 200:
        if action == "identify":
            body = _json_body(content)
            assert set(body) >= {"player_id", "balance", "currency"}, body
        elif action == "ping":
            assert _json_body(content) == {"status": "ok"}
        else:
            assert content == b"", content[:300]
        return
    assert status in (400, 403, 413), (status, content[:300])
    body = _json_body(content)
    assert isinstance(body, dict) and set(body) <= {"code", "message", "details"}, body
    assert isinstance(body["code"], int) and isinstance(body["message"], str), body
    assert status == 403 or body["code"] != 109, body


def office_shape(status: int, content: bytes) -> None:
    assert status < 500, (status, content[:300])
    body = _json_body(content)
    if status < 400:
        assert body["success"] is True and "data" in body, body
        return
    assert body["success"] is False, body
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), body
    assert status in (400, 403, 404, 409, 413), body


def books_are_clean() -> None:
    report = reconcile.reconcile()
    assert report.ok, report.render()
    verified = audit.verify()
    assert verified.ok, verified.problems


# --- /pam -----------------------------------------------------------------------------------------

_ids = itertools.count()


def _fresh(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@dataclass
class PamWorld:
    client: Any
    clock: Any
    player: str
    token: str
    refs: dict[str, str]

    def send(
        self,
        action: str,
        data: Any,
        *,
        envelope: dict[str, Any] | None = None,
        operator_header: bool = True,
    ) -> Any:
        """Signed with a timestamp of its own (the clock moves a second first); without the
        `operator-name` header the partner is whatever `data.operator` names."""
        self.clock.advance(1)
        body = encode(envelope if envelope is not None else {"action": action, "data": data})
        headers = betstack.signed_headers(
            f.SECRET,
            body,
            timestamp=unix(self.clock.now()),
            operator=f.OPERATOR if operator_header else None,
        )
        headers["Content-Type"] = "application/json"
        return self.client.simulate_post("/pam", body=body, headers=headers)

    def ok(self, action: str, data: dict[str, Any]) -> None:
        resp = self.send(action, {"operator": f.OPERATOR, **data})
        assert resp.status_code == 200, (action, resp.text)

    # a ticket in the state each action expects, made fresh for every example
    def open_ticket(self, **overrides: Any) -> str:
        tid = _fresh("FZ")
        self.ok("ticket_create", f.ticket_data(tid, self.player, **overrides))
        self.refs["ticket"] = tid
        return tid


def _pam_base(world: PamWorld, action: str) -> dict[str, Any]:
    """A valid data object for `action`, with the ticket it needs already in place."""
    if action == "identify":
        return {"operator": f.OPERATOR, "token": world.token}
    if action == "ticket_create":
        return f.ticket_data(_fresh("FC"), world.player)
    if action == "ticket_reserve":
        return f.ticket_data(_fresh("FR"), world.player)
    if action == "ticket_update":
        tid = world.open_ticket(ticket_type="jackpot")
        return f.ticket_data(tid, world.player, ticket_type="jackpot", price=600, stake=544)
    tid = world.open_ticket()
    if action == "ticket_rollback":
        world.ok("ticket_win", {"ticket_id": tid})
    data: dict[str, Any] = {"operator": f.OPERATOR, "ticket_id": tid, "currency": "USD"}
    if action == "ticket_void":
        data["net_payout"] = 200
    return data


PAM_FIELDS = (
    "operator",
    "token",
    "ticket_id",
    "ticket_code",
    "player_id",
    "price",
    "stake",
    "wht_amount",
    "wht",
    "ext_amount",
    "ext",
    "ext_type",
    "gross_payout",
    "net_payout",
    "currency",
    "atag",
    "rtag",
    "ticket_type",
    "psp",
    "tax",
    "payout",
)
PAM_EDITS = st.one_of(
    _edits(PAM_FIELDS).map(lambda e: ("data", e)),
    st.tuples(st.sampled_from(["action", "data", "+extra"]), VALUES).map(
        lambda e: ("envelope", [e])
    ),
)


@pytest.mark.parametrize("action", PAM_ACTIONS)
def test_every_pam_action_answers_betstack_errors_whatever_the_fields_hold(
    client, app, clock, action
):
    pid = f.player(clock, balance=100_000_000, external_id="ext-fuzz")
    token = f.token(clock, pid)
    world = PamWorld(
        client,
        clock,
        pid,
        token,
        {"player": pid, "token": token, "external": "ext-fuzz", "ticket": "none"},
    )
    statuses: list[int] = []

    @fixed_seed(action)
    @FUZZ
    @given(edit=PAM_EDITS, operator_header=st.booleans())
    def run(edit: tuple[str, list[tuple[str, Any]]], operator_header: bool) -> None:
        data = _pam_base(world, action)
        where, edits = edit
        if where == "data":
            envelope = {"action": action, "data": apply(data, edits, world.refs)}
        else:
            envelope = apply({"action": action, "data": data}, edits, world.refs)
        resp = world.send(action, None, envelope=envelope, operator_header=operator_header)
        sent = envelope.get("action")
        betstack_shape(sent if isinstance(sent, str) else "", resp.status_code, resp.content)
        statuses.append(resp.status_code)

    run()
    assert len(statuses) >= EXAMPLES // 2
    books_are_clean()


# --- the back office ------------------------------------------------------------------------------


@dataclass
class OfficeWorld:
    client: Any
    app: Any
    clock: Any
    banca: str
    ventana: str
    player: str

    def send(self, method: str, path: str, body: bytes) -> Any:
        self.clock.advance(1)
        token = self.app.services.tokens.mint(Principal(user_id="fuzz-admin", role=ADMIN))
        return self.client.simulate_request(
            method,
            path,
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


def _office_base(world: OfficeWorld, write: str) -> tuple[str, str, dict[str, Any]]:
    """(method, path with `{id}`, a valid body) for one back-office write."""
    method, _, route = write.partition(" ")
    path = "/api/v1/" + route
    n = next(_ids)
    bodies: dict[str, dict[str, Any]] = {
        "bancas": {"name": f"Banca {n}"},
        "ventanas": {"bancaId": world.banca, "name": f"Ventana {n}", "commissionBps": 350},
        "vendedores": {"ventanaId": world.ventana, "name": f"Vendedor {n}", "commissionBps": 100},
        "players": {
            "operator": "acme",
            "externalId": f"fz-{n}",
            "msisdn": "+50688887777",
            "lang": "es",
            "currency": "USD",
            "ventanaId": world.ventana,
        },
        "players/{id}/tokens": {},
        "players/{id}/deposits": {
            "amount": 12.5,
            "method": "cash",
            "idempotencyKey": f"fz-dep-{n}",
        },
        "players/{id}/withdrawals": {"amount": 1, "method": "cash", "idempotencyKey": f"fz-wd-{n}"},
        "players/{id}": {"blocked": n % 2 == 0},
    }
    return method, path, bodies[route]


OFFICE_FIELDS = (
    "name",
    "bancaId",
    "ventanaId",
    "commissionBps",
    "operator",
    "externalId",
    "msisdn",
    "lang",
    "currency",
    "amount",
    "method",
    "idempotencyKey",
    "blocked",
)
OFFICE_EDITS = st.one_of(
    _edits(OFFICE_FIELDS).map(lambda e: ("body", e)),
    VALUES.map(lambda v: ("whole", v)),
    st.one_of(TEXT, st.builds(Ref, st.sampled_from(["player", "banca", "token"]))).map(
        lambda t: ("path", t)
    ),
)


def _path_text(value: str) -> str:
    """Arbitrary text as a percent-encoded path segment (lone surrogates as their bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="") or "%20"


@pytest.mark.parametrize("write", OFFICE_WRITES)
def test_every_back_office_write_answers_its_envelope_whatever_the_fields_hold(
    client, app, clock, write
):
    banca, ventana = f.banca_and_ventana(clock)
    pid = f.player(clock, balance=100_000, ventana_id=ventana)
    world = OfficeWorld(client, app, clock, banca, ventana, pid)
    other = f.player(clock, external_id="fz-other")
    refs = {
        "player": other,
        "token": f.token(clock, other),
        "external": "fz-other",
        "ticket": "none",
        "banca": banca,
        "ventana": ventana,
    }
    statuses: list[int] = []

    @fixed_seed(write)
    @FUZZ
    @given(edit=OFFICE_EDITS)
    def run(edit: tuple[str, Any]) -> None:
        method, path, body = _office_base(world, write)
        kind, change = edit
        target = pid
        if kind == "path" and "{id}" in path:
            target = _path_text(str(resolve(change, refs)))
        if kind == "body":
            raw = encode(apply(body, change, refs))
        elif kind == "whole":
            raw = b"" if change is DROP else encode(resolve(change, refs))
        else:
            raw = encode(body)
        resp = world.send(method, path.replace("{id}", target), raw)
        office_shape(resp.status_code, resp.content)
        statuses.append(resp.status_code)

    run()
    assert len(statuses) >= EXAMPLES // 2
    books_are_clean()
