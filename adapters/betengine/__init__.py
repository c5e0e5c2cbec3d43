"""The Betstack bet engine: the PAM webhook (`POST /pam`) and the `/be/tickets` endpoints."""

from adapters.betengine.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
