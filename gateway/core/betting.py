"""Kept for `gateway/cli.py` (`from gateway.core.betting import expire_reservations`), which
another change moves to `gateway.core.betengine`; then this module goes. New code imports
`gateway.core.betengine`."""

from __future__ import annotations

from gateway.core.betengine import expire_reservations

__all__ = ["expire_reservations"]
