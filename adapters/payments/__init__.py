"""The payments registry: `/payments…`, its bodies and `{"error": …}` shape."""

from adapters.payments.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
