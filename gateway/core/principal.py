"""Who is calling, and the one scope rule of the sales network (SPEC section 2).

A `Principal` is what an authenticated back-office token says about its holder. `Scope` is
a target fully resolved by the core (a seller's ventana and banca filled in), so one rule
decides every "may this caller act on that" question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN = "ADMIN"
VENTANA = "VENTANA"
VENDEDOR = "VENDEDOR"
ROLES = (ADMIN, VENTANA, VENDEDOR)


@dataclass(frozen=True)
class Scope:
    banca_id: str | None = None
    ventana_id: str | None = None
    vendedor_id: str | None = None


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    banca_id: str | None = None
    ventana_id: str | None = None
    vendedor_id: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    # set by `network.resolve_principal` once the records confirmed (and completed) the
    # claims: resolving again is a no-op (the network's rows are never moved or deleted)
    resolved: bool = field(default=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    def has(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions
