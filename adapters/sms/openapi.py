"""The SMS family's operations, for the OpenAPI document (`gateway/http/openapi.py`)."""

from __future__ import annotations

from adapters.betengine.openapi import ERROR
from adapters.sms import schemas
from gateway.http.openapi import STRING, ApiDoc, Operation, Response, obj

API = ApiDoc(
    tag="sms",
    description=(
        "Notifications the bet engine asks pamgate to send by SMS; stored in the outbox and "
        "delivered by `pamgate dispatch`. Betstack-signed with operator-name."
    ),
    error=ERROR,
    components=(schemas.OtpData, schemas.TicketStatusData),
    operations=(
        Operation(
            "POST",
            "/sms/notifications",
            "Queue an SMS (otp or ticket_status); the same notification within 24 h is sent once",
            body={
                "type": "object",
                "required": ["type", "data"],
                "properties": {
                    "type": {"type": "string", "enum": ["otp", "ticket_status", "bet_result"]},
                    "data": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/sms.OtpData"},
                            {"$ref": "#/components/schemas/sms.TicketStatusData"},
                        ]
                    },
                },
            },
            body_examples={
                "otp": {"type": "otp", "data": {"code": "123456", "msisdn": "+50688880001"}},
                "ticket_status": {
                    "type": "ticket_status",
                    "data": {"ticket_id": "…", "status": "resulted", "result": "won"},
                },
            },
            headers=(
                ("timestamp", "Unix seconds of the signature"),
                ("operator-name", "the operator the caller signs for"),
            ),
            responses={
                200: Response(
                    "Stored in the outbox",
                    obj("message", message=STRING),
                    {"message": "Notification received"},
                ),
                400: Response("100 bet_result not implemented; 108 invalid request", ERROR),
            },
        ),
    ),
)
