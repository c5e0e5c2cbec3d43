"""The payments registry (seed 001): `/payments…`, its bodies and `{"error": …}` shape."""

from adapters.payments.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
