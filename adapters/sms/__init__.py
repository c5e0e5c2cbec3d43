"""SMS notifications: the bet engine's inbound `POST /sms/notifications`, and the outbound
providers the dispatcher (`pamgate dispatch`) delivers through."""

from adapters.sms.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
