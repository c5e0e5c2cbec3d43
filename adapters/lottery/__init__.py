"""The lottery's protocol (seed 003, SPEC 9): ticket sales for integrators, draw
administration for the back office."""

from adapters.lottery.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
