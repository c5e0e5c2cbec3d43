"""The sales network: bancas own ventanas (sales windows), ventanas own vendedores."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any
from weakref import WeakKeyDictionary

from gateway.core import policy
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Forbidden, Invalid, NotFound
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal, Scope
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.database import database
from gateway.store.models import Banca, Vendedor, Ventana


@dataclass(frozen=True)
class NewBanca:
    name: str
    currency: str = "MXN"  # its statements' currency


@dataclass(frozen=True)
class NewVentana:
    banca_id: str
    name: str
    commission_bps: int


@dataclass(frozen=True)
class NewVendedor:
    ventana_id: str
    name: str
    commission_bps: int


@result
@dataclass(frozen=True)
class BancaView:
    id: str
    name: str
    currency: str = "MXN"  # results stored before bancas had a currency were MXN


@result
@dataclass(frozen=True)
class VentanaView:
    id: str
    banca_id: str
    name: str
    commission_bps: int


@result
@dataclass(frozen=True)
class VendedorView:
    id: str
    ventana_id: str
    banca_id: str
    name: str
    commission_bps: int


def banca_view(b: Banca) -> BancaView:
    return BancaView(id=b.id, name=b.name, currency=b.currency)


def ventana_view(v: Ventana) -> VentanaView:
    return VentanaView(id=v.id, banca_id=v.banca_id, name=v.name, commission_bps=v.commission_bps)


def vendedor_view(v: Vendedor) -> VendedorView:
    return VendedorView(
        id=v.id,
        ventana_id=v.ventana_id,
        banca_id=v.ventana.banca_id,
        name=v.name,
        commission_bps=v.commission_bps,
    )


def _bps(value: int) -> int:
    if not 0 <= value <= 10000:
        raise Invalid("commissionBps must be between 0 and 10000", field="commissionBps")
    return value


def create_banca(ctx: Context, principal: Principal, cmd: NewBanca) -> Outcome:
    policy.change_network(principal)

    def body() -> Done:
        banca = Banca.create(
            id=str(uuid.uuid4()), name=cmd.name, currency=cmd.currency, created_at=ctx.now
        )
        return Done(banca_view(banca), created=True, target_id=banca.id)

    return run(ctx, "BANCA_CREATE", body, target_type="banca")


def create_ventana(ctx: Context, principal: Principal, cmd: NewVentana) -> Outcome:
    policy.change_network(principal)
    _bps(cmd.commission_bps)

    def body() -> Done:
        if Banca.get_or_none(Banca.id == cmd.banca_id) is None:
            raise NotFound("banca not found", field="bancaId")
        v = Ventana.create(
            id=str(uuid.uuid4()),
            banca=cmd.banca_id,
            name=cmd.name,
            commission_bps=cmd.commission_bps,
            created_at=ctx.now,
        )
        return Done(ventana_view(v), created=True, target_id=v.id)

    return run(ctx, "VENTANA_CREATE", body, target_type="ventana")


def create_vendedor(ctx: Context, principal: Principal, cmd: NewVendedor) -> Outcome:
    policy.change_network(principal)
    _bps(cmd.commission_bps)

    def body() -> Done:
        if Ventana.get_or_none(Ventana.id == cmd.ventana_id) is None:
            raise NotFound("ventana not found", field="ventanaId")
        v = Vendedor.create(
            id=str(uuid.uuid4()),
            ventana=cmd.ventana_id,
            name=cmd.name,
            commission_bps=cmd.commission_bps,
            created_at=ctx.now,
        )
        return Done(vendedor_view(v), created=True, target_id=v.id)

    return run(ctx, "VENDEDOR_CREATE", body, target_type="vendedor")


def scope_of_ventana(ventana_id: str) -> Scope:
    v = Ventana.get_or_none(Ventana.id == ventana_id)
    if v is None:
        raise NotFound("ventana not found")
    return Scope(banca_id=v.banca_id, ventana_id=v.id)


def scope_of_vendedor(vendedor_id: str) -> Scope:
    v = Vendedor.get_or_none(Vendedor.id == vendedor_id)
    if v is None:
        raise NotFound("vendedor not found")
    return Scope(banca_id=v.ventana.banca_id, ventana_id=v.ventana_id, vendedor_id=v.id)


def _network_sql() -> str:
    banca, ventana, vendedor = (m._meta.table_name for m in (Banca, Ventana, Vendedor))
    return (
        f"SELECT (SELECT id FROM {banca} WHERE id = %s), "  # noqa: S608 - identifiers only
        f"(SELECT id FROM {ventana} WHERE id = %s), "
        f"(SELECT banca_id FROM {ventana} WHERE id = %s), "
        f"(SELECT id FROM {vendedor} WHERE id = %s), "
        f"(SELECT v.id FROM {vendedor} s JOIN {ventana} v ON v.id = s.ventana_id WHERE s.id = %s), "
        f"(SELECT v.banca_id FROM {vendedor} s JOIN {ventana} v ON v.id = s.ventana_id "
        "WHERE s.id = %s)"
    )


_NETWORK_SQL = _network_sql()

# Claims the records confirmed, per database: (role, banca, ventana, vendedor) → the banca and
# ventana the principal acts for. Bancas, ventanas and vendedores are never moved or deleted,
# so what resolved once resolves the same way for ever; refusals are never remembered, and a
# resolution is remembered only once the transaction that read it has committed.
_CONFIRMED: WeakKeyDictionary[Any, dict[tuple[str | None, ...], tuple[str | None, str | None]]]
_CONFIRMED = WeakKeyDictionary()


def resolve_principal(principal: Principal) -> Principal:
    """The principal as the records say it is (SPEC 0 and 2): every id it claims must name an
    existing record (else Forbidden), and its own place in the network decides the rest.

    A VENTANA acts for the banca that owns its ventana, whatever its `bancaId` claim says; a
    VENDEDOR for its vendedor's ventana and that ventana's banca. A VENTANA token's
    `vendedorId`, if any, must be a seller of that ventana. ADMIN claims are only checked.
    One statement the first time; a principal already resolved (by the authenticator) is
    returned as is.
    """
    if principal.resolved:
        return principal
    key = (principal.role, principal.banca_id, principal.ventana_id, principal.vendedor_id)
    confirmed = _CONFIRMED.setdefault(database.obj, {})
    known = confirmed.get(key)
    if known is None:
        known = _resolve(principal)
        database.after_commit(lambda: confirmed.__setitem__(key, known))
    banca_id, ventana_id = known
    return replace(principal, banca_id=banca_id, ventana_id=ventana_id, resolved=True)


def _resolve(principal: Principal) -> tuple[str | None, str | None]:
    """The banca and ventana a principal acts for, read from the records (one statement)."""
    b, v, s = principal.banca_id, principal.ventana_id, principal.vendedor_id
    found = fastsql.execute(_NETWORK_SQL, (b, v, v, s, s, s)).fetchone()
    banca, ventana, ventana_banca, vendedor, seller_window, seller_banca = found
    if b is not None and banca is None:
        raise Forbidden("token names an unknown banca")
    if v is not None and ventana is None:
        raise Forbidden("token names an unknown ventana")
    if s is not None and vendedor is None:
        raise Forbidden("token names an unknown vendedor")
    if principal.role == ADMIN:
        return b, v
    if principal.role == VENTANA:
        if ventana is None:
            raise Forbidden("a VENTANA token must name its ventana")
        if vendedor is not None and seller_window != ventana:
            raise Forbidden("token names a vendedor of another ventana")
        return ventana_banca, v
    if principal.role == VENDEDOR:
        if vendedor is None:
            raise Forbidden("a VENDEDOR token must name its vendedor")
        return seller_banca, seller_window
    raise Forbidden("unknown role")


def list_bancas(principal: Principal) -> list[BancaView]:
    query = Banca.select().order_by(Banca.created_at, Banca.id)
    visible = policy.visible_bancas(principal)
    if visible is not None:
        query = query.where(Banca.id == visible)
    return [banca_view(b) for b in query]


def get_banca(principal: Principal, banca_id: str) -> BancaView:
    b = Banca.get_or_none(Banca.id == banca_id)
    if b is None:
        raise NotFound("banca not found")
    policy.read_banca(principal, b.id)
    return banca_view(b)


def list_ventanas(principal: Principal) -> list[VentanaView]:
    query = Ventana.select().order_by(Ventana.created_at, Ventana.id)
    visible = policy.visible_ventanas(principal)
    if visible is not None:
        query = query.where(Ventana.id == visible)
    return [ventana_view(v) for v in query]


def get_ventana(principal: Principal, ventana_id: str) -> VentanaView:
    policy.read_scope(principal, scope_of_ventana(ventana_id), "ventana")
    return ventana_view(Ventana.get_by_id(ventana_id))


def list_vendedores(principal: Principal) -> list[VendedorView]:
    query = Vendedor.select().order_by(Vendedor.created_at, Vendedor.id)
    visible = policy.visible_vendedores(principal)
    if visible is not None:
        column = Vendedor.ventana if visible[0] == "ventana" else Vendedor.id
        query = query.where(column == visible[1])
    return [vendedor_view(v) for v in query]


def get_vendedor(principal: Principal, vendedor_id: str) -> VendedorView:
    policy.read_scope(principal, scope_of_vendedor(vendedor_id), "vendedor")
    return vendedor_view(Vendedor.get_by_id(vendedor_id))
