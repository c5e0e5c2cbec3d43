"""The operator console: server-rendered pages for cashiers and administrators at `/console`."""

from adapters.console.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
