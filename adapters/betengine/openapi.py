"""The Betstack family's operations, for the OpenAPI document (`gateway/http/openapi.py`).

Amounts are integer cents. Success of a ticket action is 200 with an empty body; errors are
`{"code": <int>, "message"}` (400, or 403 for code 101 and 109)."""

from __future__ import annotations

from adapters.betengine import schemas
from gateway.http.openapi import (
    INTEGER,
    NUMBER,
    STRING,
    TIMESTAMP,
    ApiDoc,
    Operation,
    Response,
    array,
    nullable,
    obj,
)

ERROR = obj(
    "code",
    "message",
    code={"type": ["integer", "string"], "description": "100..117, 109 refusals; internal_error"},
    message=STRING,
    details={"type": "object", "description": "field -> messages (code 108)"},
)
ACTIONS = [
    "ping",
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
]
TICKET = {"$ref": "#/components/schemas/betengine.TicketData"}
ENVELOPE = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": ACTIONS},
        "data": {
            "description": (
                "`identify`: IdentifyData; `ticket_create`/`ticket_reserve`: PlaceData; "
                "other ticket actions: TicketData (operator and ticket_id). Unknown fields "
                "are ignored."
            ),
            "anyOf": [
                {"$ref": "#/components/schemas/betengine.IdentifyData"},
                {"$ref": "#/components/schemas/betengine.PlaceData"},
                TICKET,
            ],
        },
    },
}
TICKET_VIEW = obj(
    "id",
    "status",
    "currency",
    id=STRING,
    code=nullable(STRING),
    psp=nullable(STRING),
    price=nullable(INTEGER),
    stake=nullable(INTEGER),
    currency=STRING,
    gross_payout=nullable(INTEGER),
    net_payout=nullable(INTEGER),
    wht_amount=nullable(INTEGER),
    wht=nullable(NUMBER),
    ext_amount=nullable(INTEGER),
    ext=nullable(NUMBER),
    ext_type=nullable(STRING),
    status={
        "type": "string",
        "enum": ["reserved", "open", "resulted", "cancelled", "closed", "expired"],
    },
    result=nullable({"type": "string", "enum": ["pending", "won", "lost", "void"]}),
    type=nullable(STRING),
    atag=nullable(STRING),
    rtag=nullable(STRING),
    user_id=nullable(STRING),
    created=TIMESTAMP,
    updated=TIMESTAMP,
)
EXAMPLE_TICKET = {
    "operator": "acme",
    "ticket_id": "668ef666333180bba97f0c93",
    "ticket_code": "CD4BDD",
    "player_id": "sometokenvalue",
    "price": 500,
    "stake": 444,
    "wht_amount": 240,
    "wht": 10,
    "ext_amount": 56,
    "ext": 12.5,
    "ext_type": "inclusive",
    "gross_payout": 2842,
    "net_payout": 2602,
    "currency": "USD",
    "atag": "atag_value",
    "rtag": None,
    "ticket_type": "quickbet",
}
_SIGNED = (
    ("timestamp", "Unix seconds of the signature"),
    ("operator-name", "the operator the caller signs for"),
)
_FAIL = Response("Betstack error: 102 unknown ticket, 108 invalid request, …", ERROR)

API = ApiDoc(
    tag="bet engine (Betstack)",
    description=(
        "The bet engine's PAM webhook and ticket endpoints. Signed with the Betstack HMAC "
        "(`ping` needs no signature). Amounts are integer cents."
    ),
    error=ERROR,
    components=(schemas.IdentifyData, schemas.PlaceData, schemas.TicketData),
    operations=(
        Operation(
            "POST",
            "/pam",
            "One PAM action (identify, ticket_create, ticket_win, …)",
            body=ENVELOPE,
            body_examples={
                "ping": {"action": "ping"},
                "identify": {"action": "identify", "data": {"operator": "acme", "token": "…"}},
                "ticket_create": {"action": "ticket_create", "data": EXAMPLE_TICKET},
                "ticket_win": {
                    "action": "ticket_win",
                    "data": {"operator": "acme", "ticket_id": "668ef666333180bba97f0c93"},
                },
            },
            description=(
                "Ticket actions answer 200 with an empty body; `identify` answers the player "
                'and the available balance in cents; `ping` `{"status": "ok"}` and needs '
                "no signature. A repeated action answers the first response again."
            ),
            responses={
                200: Response(
                    "Done: empty for ticket actions; the player for identify; ok for ping",
                    {
                        "anyOf": [
                            obj(
                                "player_id",
                                "balance",
                                "currency",
                                player_id=STRING,
                                lang=STRING,
                                balance={"type": "integer", "description": "available, cents"},
                                currency=STRING,
                                feature_flags={"type": ["object", "array"]},
                            ),
                            obj("status", status={"const": "ok"}),
                        ]
                    },
                    {"player_id": "…", "lang": "es", "balance": 10000, "currency": "USD"},
                ),
                400: _FAIL,
            },
        ),
        Operation(
            "GET",
            "/be/tickets",
            "The operator's tickets, newest first",
            query={
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "skip": {"type": "integer", "minimum": 0, "default": 0},
                "user_id": STRING,
                "skip_types": {"type": "string", "description": "comma-separated types"},
                "status": {"type": "string", "description": "reserved|open|resulted|…"},
            },
            headers=_SIGNED,
            responses={200: Response("Tickets", array(TICKET_VIEW)), 400: _FAIL},
        ),
        Operation(
            "GET",
            "/be/tickets/{identifier}",
            "One ticket by id or code",
            headers=_SIGNED,
            responses={200: Response("The ticket", TICKET_VIEW), 400: _FAIL},
        ),
        Operation(
            "POST",
            "/be/tickets/{identifier}/paid",
            "A reserved ticket was paid: reserved -> open",
            headers=_SIGNED,
            responses={
                200: Response("The ticket, now open", TICKET_VIEW),
                400: Response("102 unknown ticket, 117 not reserved", ERROR),
            },
        ),
    ),
)
