"""peewee models: the tables of pamgate.

Money columns are 64-bit integers in minor units. Timestamps are naive UTC datetimes.
Rows of `Entry`, `LedgerTxn` and `AuditRecord` are append-only: the migration installs
triggers that refuse UPDATE and DELETE on them (see `migrations.py`). This module holds no
business rules; `gateway.core` is the only importer.
"""

from __future__ import annotations

from typing import Any, Self

from peewee import (
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from gateway.store.database import database


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def loaded(cls, values: dict[str, Any]) -> Self:
        """An instance holding `values` (every field by name; foreign keys as ids), as
        `cls(**values)` would hold them, without the per-field setters and defaults that
        `Model.__init__` runs: building a ticket (35 fields) that way cost 3.5 % of a
        `ticket_create`'s instructions. For rows the hot paths just wrote or read by hand."""
        instance = cls.__new__(cls)
        instance.__data__ = values
        instance._dirty = set(values)
        instance.__rel__ = {}
        return instance


class SchemaMigration(BaseModel):
    version = IntegerField(primary_key=True)
    name = CharField(max_length=200)
    applied_at = DateTimeField()


# --- the sales network -----------------------------------------------------------------


class Banca(BaseModel):
    id = CharField(max_length=36, primary_key=True)
    name = CharField(max_length=200)
    currency = CharField(max_length=3, default="MXN")  # its statements' currency
    created_at = DateTimeField()


class Ventana(BaseModel):
    id = CharField(max_length=36, primary_key=True)
    banca = ForeignKeyField(Banca, backref="ventanas", on_delete="RESTRICT")
    name = CharField(max_length=200)
    commission_bps = IntegerField(default=0)
    created_at = DateTimeField()


class Vendedor(BaseModel):
    id = CharField(max_length=36, primary_key=True)
    ventana = ForeignKeyField(Ventana, backref="vendedores", on_delete="RESTRICT")
    name = CharField(max_length=200)
    commission_bps = IntegerField(default=0)
    created_at = DateTimeField()


# --- players ---------------------------------------------------------------------------


class Player(BaseModel):
    """A player belongs to one operator (tenant): its tokens and tickets too."""

    id = CharField(max_length=36, primary_key=True)
    external_id = CharField(max_length=100, null=True)  # unique per operator
    msisdn = CharField(max_length=32)
    lang = CharField(max_length=8, default="es")
    currency = CharField(max_length=3)
    blocked = BooleanField(default=False)
    ventana = ForeignKeyField(Ventana, null=True, on_delete="RESTRICT")
    created_at = DateTimeField()
    updated_at = DateTimeField()
    operator = CharField(max_length=100, default="")

    class Meta:
        indexes = ((("operator", "external_id"), True),)


class PlayerToken(BaseModel):
    id = CharField(max_length=36, primary_key=True)
    player = ForeignKeyField(Player, backref="tokens", on_delete="RESTRICT")
    token_hash = CharField(max_length=64, unique=True)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    created_by = CharField(max_length=100)
    created_at = DateTimeField()


# --- the ledger --------------------------------------------------------------------------


class Account(BaseModel):
    """One account per (owner, kind, currency). `balance` is a cache of the entries, in the
    account's normal direction, changed only by `core.ledger.post` in the same transaction."""

    id = BigAutoField()
    code = CharField(max_length=200, unique=True)
    kind = CharField(max_length=40, index=True)
    currency = CharField(max_length=3)
    normal_side = CharField(max_length=6)  # "debit" | "credit"
    floor = BigIntegerField(null=True)  # None: may go negative (house and clearing accounts)
    # False for busy house accounts: never row-locked, `balance` stays 0 and the balance is
    # the sum of the entries (so thousands of tickets do not queue on one row).
    caches_balance = BooleanField(default=True)
    balance = BigIntegerField(default=0)
    held = BigIntegerField(default=0)
    owner_type = CharField(max_length=20, null=True)
    owner_id = CharField(max_length=100, null=True)
    created_at = DateTimeField()


class LedgerTxn(BaseModel):
    id = BigAutoField()
    kind = CharField(max_length=60)
    reference = CharField(max_length=200, null=True, index=True)
    reverses = ForeignKeyField(
        "self", null=True, index=False, backref="reversals", on_delete="RESTRICT"
    )  # unique where set: see _partial_indexes
    actor = CharField(max_length=120, null=True)
    request_id = CharField(max_length=64, null=True)
    memo = CharField(max_length=300, null=True)
    created_at = DateTimeField()  # not indexed: no query reads by it (migration 14)


class Entry(BaseModel):
    """A signed amount: positive debits the account, negative credits it."""

    id = BigAutoField()
    txn = ForeignKeyField(LedgerTxn, backref="entries", on_delete="RESTRICT")
    account = ForeignKeyField(Account, backref="entries", on_delete="RESTRICT")
    amount = BigIntegerField()
    currency = CharField(max_length=3)


class Hold(BaseModel):
    """Two-phase reservation on an account: reduces `available`, never `balance`."""

    id = CharField(max_length=36, primary_key=True)
    account = ForeignKeyField(Account, backref="holds", on_delete="RESTRICT")
    amount = BigIntegerField()
    status = CharField(max_length=10, index=True)  # open | posted | released | expired
    reference = CharField(max_length=200, null=True, index=True)
    expires_at = DateTimeField(null=True, index=True)
    posted_amount = BigIntegerField(default=0)
    posted_txn = ForeignKeyField(LedgerTxn, null=True, on_delete="RESTRICT")
    created_at = DateTimeField()
    closed_at = DateTimeField(null=True)


# --- idempotency and audit -------------------------------------------------------------


class IdempotencyRecord(BaseModel):
    id = BigAutoField()
    scope = CharField(max_length=120)
    key = CharField(max_length=200)
    fingerprint = CharField(max_length=64)
    status_code = IntegerField()
    response_body = TextField()
    created_at = DateTimeField()  # not indexed: pruning walks by id (migration 15)

    class Meta:
        indexes = ((("scope", "key"), True),)


class AuditRecord(BaseModel):
    seq = BigIntegerField(primary_key=True)
    at = DateTimeField()
    actor_type = CharField(max_length=20)  # user | partner | system | anonymous
    actor_id = CharField(max_length=120, null=True)
    action = CharField(max_length=60)  # not indexed: no query reads by it (migration 14)
    target_type = CharField(max_length=40, null=True)
    target_id = CharField(max_length=120, null=True)
    result = CharField(max_length=40)
    request_id = CharField(max_length=64, null=True)
    details = TextField(default="{}")
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)


class SignatureUse(BaseModel):
    """An accepted partner signature (or Standard Webhooks message id) and the response it
    got: a signed message is accepted once. Kept for twice the partner's window."""

    id = BigAutoField()
    partner = CharField(max_length=100)
    signature = CharField(max_length=200)
    method = CharField(max_length=10)
    request_hash = CharField(max_length=64)  # SHA-256 of method, path and signed content
    status_code = IntegerField()  # 0 while the request runs, or for reads answered fresh
    response = TextField()
    created_at = DateTimeField()
    expires_at = DateTimeField()  # not indexed: pruning walks by id (migration 15)

    class Meta:
        indexes = ((("partner", "signature"), True),)


class RejectionTally(BaseModel):
    """Refused unauthenticated requests per partner, reason and minute (no row per request)."""

    id = BigAutoField()
    partner = CharField(max_length=100)
    reason = CharField(max_length=40)
    minute = DateTimeField()
    count = BigIntegerField()

    class Meta:
        indexes = ((("partner", "reason", "minute"), True),)


# --- tickets -------------------------------------------------------------------------------


class Ticket(BaseModel):
    id = CharField(max_length=36, primary_key=True)
    channel = CharField(max_length=20)  # betengine | retail | lottery
    operator = CharField(max_length=100)  # partner operator or banca id
    external_id = CharField(max_length=100)
    code = CharField(max_length=40, null=True, index=True)
    player = ForeignKeyField(
        Player, null=True, index=False, backref="tickets", on_delete="RESTRICT"
    )
    banca = ForeignKeyField(Banca, null=True, index=False, on_delete="RESTRICT")
    ventana = ForeignKeyField(Ventana, null=True, index=False, on_delete="RESTRICT")
    vendedor = ForeignKeyField(Vendedor, null=True, index=False, on_delete="RESTRICT")
    type = CharField(max_length=30, null=True)
    currency = CharField(max_length=3)
    status = CharField(max_length=12, index=True)
    result = CharField(max_length=8, default="pending")
    price = BigIntegerField(default=0)
    stake = BigIntegerField(default=0)
    gross_payout = BigIntegerField(default=0)
    net_payout = BigIntegerField(default=0)
    wht_amount = BigIntegerField(default=0)
    wht = CharField(max_length=20, null=True)  # a rate as the partner wrote it, never money
    ext_amount = BigIntegerField(default=0)
    ext = CharField(max_length=20, null=True)
    ext_type = CharField(max_length=20, null=True)
    psp = CharField(max_length=40, null=True)
    atag = CharField(max_length=200, null=True)
    rtag = CharField(max_length=200, null=True)
    payout = BigIntegerField(default=0)  # what the ticket has won (prize liability)
    paid_amount = BigIntegerField(default=0)  # sum of payments not reversed
    generation = IntegerField(default=0)  # settlement generation; a rollback starts a new one
    hold = ForeignKeyField(Hold, null=True, index=False, on_delete="RESTRICT")
    expires_at = DateTimeField(null=True)
    tombstone = BooleanField(default=False)
    fingerprint = CharField(max_length=64, null=True)  # of the creating message's money fields
    raw = TextField(default="{}")  # the partner's message as received
    created_at = DateTimeField(index=True)
    updated_at = DateTimeField()

    class Meta:
        indexes = ((("channel", "operator", "external_id"), True),)


class Settlement(BaseModel):
    """A money movement that settled a ticket; `ticket_rollback` reverses the last one."""

    id = BigAutoField()
    ticket = ForeignKeyField(Ticket, backref="settlements", on_delete="RESTRICT")
    generation = IntegerField()
    action = CharField(max_length=30)
    txn = ForeignKeyField(LedgerTxn, null=True, index=False, on_delete="RESTRICT")  # migration 14
    reversed_by = ForeignKeyField(
        LedgerTxn, null=True, index=False, on_delete="RESTRICT", backref="undone_settlements"
    )
    prev_status = CharField(max_length=12)
    prev_result = CharField(max_length=8)
    created_at = DateTimeField()


# --- the outbox ----------------------------------------------------------------------------


class OutboxMessage(BaseModel):
    """A message a command emitted in its own transaction, for the dispatcher to deliver
    after commit (SPEC 5): `pending` → `sending` → `sent`, back to `pending` with a later
    `next_attempt_at` after a failure, or `dead` when out of retries (re-sendable)."""

    id = BigAutoField()
    message_id = CharField(max_length=36, unique=True)  # stable: every delivery carries it
    kind = CharField(max_length=60)
    payload = TextField()  # JSON
    state = CharField(max_length=8)  # pending | sending | sent | dead
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()  # due time; while `sending`, the end of the claim
    last_error = TextField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    claim_token = CharField(max_length=36, null=True)  # the claim holding a `sending` row
    retry_base = IntegerField(default=0)  # `attempts` when last re-sent: the schedule restarts
    request_id = CharField(max_length=64, null=True, index=True)  # the request that queued it
    traceparent = CharField(max_length=55, null=True)  # that request's span (W3C)

    class Meta:
        indexes = ((("state", "next_attempt_at"), False),)


# --- the lottery (SPEC 9) ------------------------------------------------------------------


class LotteryDraw(BaseModel):
    """A draw of a payee (a banca): prices and board limits for its sales, the prize tables
    (JSON, cents by match count) and, once recorded, its numbers. `open` → `resulted`."""

    id = CharField(max_length=36, primary_key=True)
    payee = ForeignKeyField(Banca, on_delete="RESTRICT")
    draw_number = CharField(max_length=40, unique=True)
    draw_date = DateField()
    closes_at = DateTimeField()
    timezone = CharField(max_length=64)
    currency = CharField(max_length=3)
    base_price = BigIntegerField()
    rematch_price = BigIntegerField()
    second_rematch_price = BigIntegerField()
    min_boards = IntegerField()
    max_boards = IntegerField()
    prizes = TextField()
    status = CharField(max_length=10)  # open | resulted
    numbers = CharField(max_length=40, null=True)
    winners = IntegerField(default=0)
    payout_total = BigIntegerField(default=0)
    liability_txn = ForeignKeyField(LedgerTxn, null=True, on_delete="RESTRICT")
    created_at = DateTimeField()
    resulted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("payee", "status", "closes_at"), False),)


class LotteryTicket(BaseModel):
    """What a lottery sale adds to its `Ticket` (same id): the draw, the boards, the
    options and the receipt's unique numbers. (`payee`, `payer_reference`) is unique."""

    ticket = ForeignKeyField(Ticket, primary_key=True, on_delete="RESTRICT")
    draw = ForeignKeyField(LotteryDraw, on_delete="RESTRICT")
    payee = ForeignKeyField(Banca, on_delete="RESTRICT")
    payer_reference = CharField(max_length=100)
    boards = CharField(max_length=120)  # "1,2,3,4,5,6|…"
    combination_count = IntegerField()
    rematch = BooleanField()
    second_rematch = BooleanField()
    total = BigIntegerField()
    reference_number = CharField(max_length=40, unique=True)
    serial_number = CharField(max_length=40, unique=True)
    transaction_number = CharField(max_length=20, unique=True)
    session_id = CharField(max_length=20)
    payment_id = CharField(max_length=36)
    security_number = CharField(max_length=120)
    created_at = DateTimeField()

    class Meta:
        indexes = ((("payee", "payer_reference"), True),)


class TicketPayment(BaseModel):
    """A payment of a winning retail ticket at a window (SPEC 6): `posted` (money moved by
    `txn`) or `pending` (maker-checker: waits for an ADMIN's approval); `reversal_txn` set
    once reversed. (`paid_by`, `idempotency_key`) remembers the caller's key."""

    id = CharField(max_length=36, primary_key=True)
    ticket = ForeignKeyField(Ticket, backref="payments", on_delete="RESTRICT")
    ventana = ForeignKeyField(Ventana, on_delete="RESTRICT")
    vendedor = ForeignKeyField(Vendedor, null=True, on_delete="RESTRICT")  # a paying seller
    amount = BigIntegerField()
    currency = CharField(max_length=3)
    method = CharField(max_length=20)
    is_final = BooleanField(default=False)
    notes = CharField(max_length=300, null=True)
    idempotency_key = CharField(max_length=100)
    paid_by = CharField(max_length=100)
    status = CharField(max_length=10)  # posted | pending
    approved_by = CharField(max_length=100, null=True)
    txn = ForeignKeyField(LedgerTxn, null=True, on_delete="RESTRICT")
    is_reversed = BooleanField(default=False)
    reversal_txn = ForeignKeyField(
        LedgerTxn, null=True, on_delete="RESTRICT", backref="reversed_payments"
    )
    reversed_by = CharField(max_length=100, null=True)
    reason = CharField(max_length=300, null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()


# --- back-office users and sessions (SPEC 2) ------------------------------------------------


class User(BaseModel):
    """A back-office login: an Argon2id hash (never the password), the role and the records it
    acts for, and its failed-login count (`failures_since` opens the window; `locked_until`
    set after too many)."""

    id = CharField(max_length=36, primary_key=True)
    username = CharField(max_length=100, unique=True)
    password_hash = CharField(max_length=200)
    role = CharField(max_length=10)
    banca = ForeignKeyField(Banca, null=True, on_delete="RESTRICT")
    ventana = ForeignKeyField(Ventana, null=True, on_delete="RESTRICT")
    vendedor = ForeignKeyField(Vendedor, null=True, on_delete="RESTRICT")
    permissions = CharField(max_length=500, default="")
    failed_logins = IntegerField(default=0)
    failures_since = DateTimeField(null=True)
    locked_until = DateTimeField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "app_user"  # `user` is a reserved word in PostgreSQL


class RefreshToken(BaseModel):
    """A refresh token, by its SHA-256 only. One login starts a family; `used_at` is set when
    it is exchanged, `revoked_at` when its family is revoked (a reuse)."""

    id = CharField(max_length=36, primary_key=True)
    user = ForeignKeyField(User, backref="refresh_tokens", on_delete="RESTRICT")
    family_id = CharField(max_length=36, index=True)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField()
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


# --- SMS notifications and outbox delivery (SPEC 5) ----------------------------------------


class OutboxAttempt(BaseModel):
    """One delivery attempt of an outbox message: its outcome (`sent`, `retry`, `final`),
    HTTP status, latency, the provider's message id or the error. `lag_ms`: from the
    message's creation to this attempt's end (the outbox lag metric)."""

    id = BigAutoField()
    message_id = CharField(max_length=36, index=True)
    attempt = IntegerField()
    provider = CharField(max_length=20)
    outcome = CharField(max_length=10)
    http_status = IntegerField(null=True)
    latency_ms = IntegerField()
    lag_ms = BigIntegerField(null=True)
    provider_message_id = CharField(max_length=100, null=True)
    error = TextField(null=True)
    started_at = DateTimeField()
    finished_at = DateTimeField(index=True)
    trace_id = CharField(max_length=32, null=True, index=True)  # sent as `traceparent`
    span_id = CharField(max_length=16, null=True)  # the attempt's own span

    class Meta:
        indexes = ((("provider", "finished_at"), False),)


class SmsNotification(BaseModel):
    """An accepted inbound notification, by operator and digest of its content: the same
    notification again within 24 hours is not sent twice."""

    id = BigAutoField()
    operator = CharField(max_length=100)
    digest = CharField(max_length=64)
    message_id = CharField(max_length=36)
    received_at = DateTimeField()

    class Meta:
        indexes = ((("operator", "digest"), True),)


class RateBucket(BaseModel):
    """A token bucket shared by every dispatcher (GCRA: `tat`, the theoretical arrival
    time of the next message, per key: a provider or a hashed phone number)."""

    key = CharField(max_length=100, primary_key=True)
    tat = DateTimeField()


class CircuitBreaker(BaseModel):
    """A provider's circuit: `closed`, `open` until `retry_at`, or `half_open` while one
    probe (claimed until `retry_at`) tests it. `since`: when it entered the state."""

    provider = CharField(max_length=20, primary_key=True)
    state = CharField(max_length=10)
    since = DateTimeField()
    retry_at = DateTimeField(null=True)


# --- the payments registry -------------------------------------------------------


class PaymentMethod(BaseModel):
    """A way to pay (Cash, Credit Card, Bitcoin Lightning), seeded by migration 9; `code`
    names its clearing accounts in the ledger."""

    id = CharField(max_length=36, primary_key=True)
    name = CharField(max_length=100, unique=True)
    code = CharField(max_length=40, unique=True)
    created_at = DateTimeField()


class PaymentCurrency(BaseModel):
    """A currency payments may be recorded in (EUR, USD, BTC, MXN, CRC), seeded by migration 9."""

    id = CharField(max_length=36, primary_key=True)
    acronym = CharField(max_length=3, unique=True)
    created_at = DateTimeField()


class RegistryPayment(BaseModel):
    """A recorded payment: `amount` in the currency's minor units, its money in the ledger
    (transactions whose `reference` is this id). `live_transaction_id` is `transaction_id`
    while the payment is live and NULL once voided (unique: a live id is taken once)."""

    id = CharField(max_length=36, primary_key=True)
    method = ForeignKeyField(PaymentMethod, on_delete="RESTRICT")
    currency = ForeignKeyField(PaymentCurrency, on_delete="RESTRICT")
    transaction_id = CharField(max_length=100, index=True)
    live_transaction_id = CharField(max_length=100, null=True, unique=True)
    amount = BigIntegerField()
    ventana = ForeignKeyField(Ventana, null=True, on_delete="RESTRICT")
    created_by = CharField(max_length=100)
    voided = BooleanField(default=False)
    voided_by = CharField(max_length=100, null=True)
    voided_at = DateTimeField(null=True)
    created_at = DateTimeField(index=True)
    updated_at = DateTimeField()


class PaymentTicketLink(BaseModel):
    """A payment paying one of the caller's tickets (`ticket_id` is the caller's reference);
    (`payment`, `ticket_id`) is unique."""

    id = BigAutoField()
    payment = ForeignKeyField(RegistryPayment, backref="links", on_delete="RESTRICT")
    ticket_id = CharField(max_length=100, index=True)
    created_by = CharField(max_length=100)
    created_at = DateTimeField()

    class Meta:
        indexes = ((("payment", "ticket_id"), True),)


# --- the audit log's seals (migration 12) ---------------------------------------------------


class AuditSeal(BaseModel):
    """A sealed batch of audit rows: their count, the Merkle root of their hashes, and the
    seal's hash chained to the previous seal's (see `gateway.core.audit`)."""

    batch = BigIntegerField(primary_key=True)
    first_seq = BigIntegerField()
    last_seq = BigIntegerField(unique=True)
    row_count = BigIntegerField()
    root = CharField(max_length=64)
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)
    sealed_at = DateTimeField()


# Reference data a migration inserts (tests that empty the tables keep these).
SEEDED_BY_MIGRATIONS: tuple[type[BaseModel], ...] = (PaymentMethod, PaymentCurrency)


# --- account payments and daily statements (SPEC 7) -------------------------------------------


class DailyActivity(BaseModel):
    """What one position of the sales network did on one business day, kept in the same
    transaction as the money it sums: statements add these rows up instead of scanning
    tickets. A position is a seller (`ventana`, `vendedor`), a window itself (`vendedor`
    empty) or a banca itself (both empty). Sales and payouts count where they happened;
    `paid`/`collected`/`settlements`/`finals` count account payments of exactly that
    dimension. One row per position and day, so only one seller's own sales share a row."""

    id = BigAutoField()
    banca = CharField(max_length=36)
    ventana = CharField(max_length=36)
    vendedor = CharField(max_length=36)
    day = DateField()
    currency = CharField(max_length=3)
    sales = BigIntegerField(default=0)
    payouts = BigIntegerField(default=0)
    paid = BigIntegerField(default=0)
    collected = BigIntegerField(default=0)
    settlements = IntegerField(default=0)  # account payments and collections not reversed
    finals = IntegerField(default=0)  # of which marked `isFinal`

    class Meta:
        indexes = (
            (("ventana", "vendedor", "day", "currency", "banca"), True),
            (("banca", "day"), False),
        )


class AccountPayment(BaseModel):
    """A payment (the dimension pays its parent) or collection (the parent pays it) that
    settles a dimension's account for a business day; reversed with the mirror transaction."""

    id = CharField(max_length=36, primary_key=True)
    dimension = CharField(max_length=10)  # banca | ventana | vendedor
    banca = CharField(max_length=36)
    ventana = CharField(max_length=36)
    vendedor = CharField(max_length=36)
    day = DateField()
    time = CharField(max_length=5)
    amount = BigIntegerField()
    currency = CharField(max_length=3)
    type = CharField(max_length=12)  # payment | collection
    method = CharField(max_length=20)
    notes = CharField(max_length=500, null=True)
    is_final = BooleanField(default=False)
    idempotency_key = CharField(max_length=100)
    paid_by = CharField(max_length=100)
    txn = ForeignKeyField(LedgerTxn, null=True, on_delete="RESTRICT", backref="account_payments")
    is_reversed = BooleanField(default=False)
    reversal_txn = ForeignKeyField(
        LedgerTxn, null=True, on_delete="RESTRICT", backref="reversed_account_payments"
    )
    reversed_by = CharField(max_length=100, null=True)
    reason = CharField(max_length=300, null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()


def _partial_indexes() -> None:
    """Indexes of mostly-empty columns hold only the rows where the column is set (a Betstack
    ticket has no banca, window, seller, hold or expiry; almost no transaction reverses
    another): migration 13. Every query compares these columns, which implies the predicate."""
    for field, unique in (
        (Ticket.player, False),
        (Ticket.banca, False),
        (Ticket.ventana, False),
        (Ticket.vendedor, False),
        (Ticket.hold, False),
        (Ticket.expires_at, False),
        (LedgerTxn.reverses, True),
        (Settlement.reversed_by, False),
    ):
        field.model.add_index(field, unique=unique, where=field.is_null(False))


_partial_indexes()


MODELS: tuple[type[BaseModel], ...] = (
    SchemaMigration,
    Banca,
    Ventana,
    Vendedor,
    Player,
    PlayerToken,
    Account,
    LedgerTxn,
    Entry,
    Hold,
    IdempotencyRecord,
    AuditRecord,
    Ticket,
    Settlement,
    SignatureUse,
    RejectionTally,
    OutboxMessage,
    LotteryDraw,
    LotteryTicket,
    TicketPayment,
    User,
    RefreshToken,
    OutboxAttempt,
    SmsNotification,
    RateBucket,
    CircuitBreaker,
    PaymentMethod,
    PaymentCurrency,
    RegistryPayment,
    PaymentTicketLink,
    AuditSeal,
    DailyActivity,
    AccountPayment,
)
