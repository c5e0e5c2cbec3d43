"""Back-office users and their sessions (SPEC section 2): accounts with Argon2id passwords,
login with a lockout counted in the database, and refresh tokens that rotate.

A refresh token is random text shown once; only its SHA-256 is stored. Each login starts a
family; a refresh marks its token used and issues the next of the same family. Presenting a
used (or revoked) token again is a reuse: the whole family is revoked. Failed logins are
counted on the user's row under its lock, so the count holds across workers and hosts.

This module never logs or audits a password or a token, and mints no access token (that is
`gateway.http.auth.TokenService`, from the `Principal` a session carries).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash

from gateway.core import network, policy
from gateway.core.commands import Context, Done, run
from gateway.core.errors import Conflict, CoreError, Invalid, NotFound
from gateway.core.principal import Principal
from gateway.core.results import result
from gateway.store.database import database, locked, unit_of_work
from gateway.store.models import RefreshToken, User

MAX_FAILURES = 10
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=15)
REFRESH_TTL = dt.timedelta(days=7)
MAX_USERNAME = 100
MAX_PASSWORD = 1024
MIN_PASSWORD = 8
# What a user's access token carries unless `users add --permission` says otherwise; ADMIN
# may do everything whatever its list says (`Principal.has`).
DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    policy.ADMIN: policy.PERMISSIONS,
    policy.VENTANA: ("payments_read", "payments_create", "payments_update"),
    policy.VENDEDOR: ("payments_read", "payments_create", "lottery_tickets_create"),
}


class InvalidCredentials(CoreError):
    code = "invalid_credentials"

    def __init__(self, user_id: str | None = None) -> None:
        super().__init__("Invalid username or password")
        self.user_id = user_id


class TooManyAttempts(CoreError):
    code = "too_many_attempts"


class InvalidRefreshToken(CoreError):
    code = "invalid_refresh_token"


class RefreshTokenReused(InvalidRefreshToken):
    code = "refresh_token_reused"

    def __init__(self, family_id: str) -> None:
        super().__init__("Refresh token already used")
        self.family_id = family_id


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: str
    banca_id: str | None = None
    ventana_id: str | None = None
    vendedor_id: str | None = None
    permissions: tuple[str, ...] | None = None  # None: the role's defaults


@result
@dataclass(frozen=True)
class UserCreated:
    id: str
    username: str
    role: str
    banca_id: str | None
    ventana_id: str | None
    vendedor_id: str | None
    permissions: list[str]


@dataclass(frozen=True)
class Session:
    """A new session: who it is for (to mint the access token) and the refresh token, shown
    once. Never stored as a result (it holds a secret)."""

    principal: Principal
    refresh_token: str
    refresh_expires_at: dt.datetime


def hash_password(password: str) -> str:
    return nacl.pwhash.argon2id.str(
        password.encode(),
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ).decode()


def _password_ok(stored: str, password: str) -> bool:
    try:
        return bool(nacl.pwhash.verify(stored.encode(), password.encode()))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.RuntimeError, ValueError):
        return False


_DECOY: list[str] = []


def _decoy_hash() -> str:
    """A hash to verify against when the username is unknown, so both take as long."""
    if not _DECOY:
        _DECOY.append(hash_password(secrets.token_urlsafe(16)))
    return _DECOY[0]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(user: User) -> Principal:
    perms = frozenset(p for p in (user.permissions or "").split(",") if p)
    return Principal(
        user_id=user.id,
        role=user.role,
        banca_id=user.banca_id,
        ventana_id=user.ventana_id,
        vendedor_id=user.vendedor_id,
        permissions=perms,
    )


# --- users -----------------------------------------------------------------------------------


def add_user(ctx: Context, new: NewUser) -> UserCreated:
    """Create a user; the ids it names must exist and fit its role (as a token's would)."""
    username = new.username.strip()
    if not 0 < len(username) <= MAX_USERNAME or username != new.username:
        raise Invalid(f"username must be 1 to {MAX_USERNAME} characters, no outer spaces")
    if new.role not in policy.ROLES:
        raise Invalid(f"role must be one of {', '.join(policy.ROLES)}")
    if not MIN_PASSWORD <= len(new.password) <= MAX_PASSWORD:
        raise Invalid(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    permissions = _permissions(new.permissions, new.role)
    password_hash = hash_password(new.password)

    def body() -> Done:
        if User.get_or_none(User.username == username) is not None:
            raise Conflict(f"user {username} exists already")
        principal = network.resolve_principal(
            Principal(
                user_id=username,
                role=new.role,
                banca_id=new.banca_id,
                ventana_id=new.ventana_id,
                vendedor_id=new.vendedor_id,
            )
        )
        user = User.create(
            id=str(uuid.uuid4()),
            username=username,
            password_hash=password_hash,
            role=new.role,
            banca_id=principal.banca_id,
            ventana_id=principal.ventana_id,
            vendedor_id=principal.vendedor_id,
            permissions=",".join(permissions),
            failed_logins=0,
            created_at=ctx.now,
        )
        created = UserCreated(
            id=user.id,
            username=username,
            role=new.role,
            banca_id=principal.banca_id,
            ventana_id=principal.ventana_id,
            vendedor_id=principal.vendedor_id,
            permissions=list(permissions),
        )
        return Done(created, created=True, target_id=user.id, details={"role": new.role})

    outcome = run(ctx, "user.create", body, target_type="user")
    value: UserCreated = outcome.result
    return value


def _permissions(given: Iterable[str] | None, role: str) -> tuple[str, ...]:
    chosen = tuple(sorted(set(DEFAULT_PERMISSIONS[role] if given is None else given)))
    unknown = [p for p in chosen if p not in policy.PERMISSIONS]
    if unknown:
        raise Invalid(f"unknown permission {unknown[0]}; known: {', '.join(policy.PERMISSIONS)}")
    return chosen


# --- sessions --------------------------------------------------------------------------------


def login(ctx: Context, username: str, password: str) -> Session:
    """A session for the right password. `InvalidCredentials` otherwise (the failure is
    counted, and the tenth in `FAILURE_WINDOW` locks the user for `LOCKOUT`);
    `TooManyAttempts` while locked, whatever the password."""
    user = User.get_or_none(User.username == username)
    # The hash is checked before any lock is taken (it is deliberately slow).
    matches = _password_ok(user.password_hash if user else _decoy_hash(), password)

    def body() -> Done:
        if user is None:
            raise InvalidCredentials()
        row = locked(User.select().where(User.id == user.id)).get()
        if row.locked_until is not None and ctx.now < row.locked_until:
            wait = row.locked_until - ctx.now
            raise TooManyAttempts(
                "Too many failed attempts; try again later",
                retry_after=max(1, int(wait.total_seconds()) + (wait.microseconds > 0)),
            )
        if not matches or row.password_hash != user.password_hash:
            raise InvalidCredentials(row.id)
        User.update(failed_logins=0, failures_since=None, locked_until=None).where(
            User.id == row.id
        ).execute()
        session = _issue(ctx, row, family_id=str(uuid.uuid4()))
        return Done(session, target_id=row.id)

    try:
        outcome = run(
            ctx, "auth.login", body, target_type="user", target_id=user.id if user else None
        )
    except InvalidCredentials as exc:
        if exc.user_id is not None:
            _count_failure(ctx, exc.user_id)
        raise
    session: Session = outcome.result
    return session


def _count_failure(ctx: Context, user_id: str) -> None:
    """One more failed login, in a transaction of its own; the tenth within the window locks
    the user (audited as `auth.lockout`)."""
    with unit_of_work(database):
        row = locked(User.select().where(User.id == user_id)).get()
        fresh = row.failures_since is None or ctx.now - row.failures_since >= FAILURE_WINDOW
        count = 1 if fresh else row.failed_logins + 1
        since = ctx.now if fresh else row.failures_since
        if count >= MAX_FAILURES:
            until = ctx.now + LOCKOUT
            User.update(failed_logins=0, failures_since=None, locked_until=until).where(
                User.id == user_id
            ).execute()
            run(
                ctx,
                "auth.lockout",
                lambda: Done(details={"failures": count, "until": until.isoformat()}),
                target_type="user",
                target_id=user_id,
            )
        else:
            User.update(failed_logins=count, failures_since=since).where(
                User.id == user_id
            ).execute()


def refresh(ctx: Context, token: str) -> Session:
    """The next session of the token's family; the token is spent. A token seen before
    revokes its family (`RefreshTokenReused`, committed before it is raised)."""
    digest = _token_hash(token)

    def body() -> Done:
        row = locked(RefreshToken.select().where(RefreshToken.token_hash == digest)).get_or_none()
        if row is None:
            raise InvalidRefreshToken("Invalid refresh token")
        if row.used_at is not None or row.revoked_at is not None:
            raise RefreshTokenReused(row.family_id)
        if ctx.now >= row.expires_at:
            raise InvalidRefreshToken("Refresh token expired")
        user = User.get_or_none(User.id == row.user_id)
        if user is None:
            raise InvalidRefreshToken("Invalid refresh token")
        RefreshToken.update(used_at=ctx.now).where(RefreshToken.id == row.id).execute()
        session = _issue(ctx, user, family_id=row.family_id)
        return Done(session, target_id=user.id, details={"family": row.family_id})

    try:
        outcome = run(ctx, "auth.refresh", body, target_type="user")
    except RefreshTokenReused as exc:
        _revoke_family(ctx, exc.family_id)
        raise
    session: Session = outcome.result
    return session


def _revoke_family(ctx: Context, family_id: str) -> None:
    def body() -> Done:
        revoked = (
            RefreshToken.update(revoked_at=ctx.now)
            .where((RefreshToken.family_id == family_id) & RefreshToken.revoked_at.is_null())
            .execute()
        )
        return Done(details={"family": family_id, "revoked": revoked})

    run(ctx, "auth.refresh_reuse", body, target_type="refresh_family", target_id=family_id)


def _issue(ctx: Context, user: User, *, family_id: str) -> Session:
    token = secrets.token_urlsafe(32)
    expires = ctx.now + REFRESH_TTL
    RefreshToken.create(
        id=str(uuid.uuid4()),
        user=user.id,
        family_id=family_id,
        token_hash=_token_hash(token),
        created_at=ctx.now,
        expires_at=expires,
    )
    return Session(principal_of(user), token, expires)


# --- console sessions ------------------------------------------------------------------------
# The operator console keeps a login's refresh token unspent as its session: the session is
# live while that token is neither used, revoked nor expired, and logging out revokes its
# family (so the same cookie never works again, here or at `/api/v1/auth/refresh`).

CONSOLE_SESSION_TTL = dt.timedelta(hours=12)


@dataclass(frozen=True)
class SessionUser:
    principal: Principal
    username: str


def session_user(
    token: str, now: dt.datetime, *, ttl: dt.timedelta = CONSOLE_SESSION_TTL
) -> SessionUser:
    """Who the live session `token` belongs to; `InvalidRefreshToken` when it is unknown,
    spent, revoked, expired, older than `ttl` or its user is gone. Reads only."""
    row = RefreshToken.get_or_none(RefreshToken.token_hash == _token_hash(token))
    if (
        row is None
        or row.used_at is not None
        or row.revoked_at is not None
        or now >= row.expires_at
        or now >= row.created_at + ttl
    ):
        raise InvalidRefreshToken("session ended")
    user = User.get_or_none(User.id == row.user_id)
    if user is None:
        raise InvalidRefreshToken("session ended")
    return SessionUser(principal_of(user), user.username)


def logout(ctx: Context, token: str) -> None:
    """End the session of `token`: every token of its family is revoked (audited as
    `auth.logout`). An unknown token has nothing to end and is not an error."""
    digest = _token_hash(token)

    def body() -> Done:
        row = RefreshToken.get_or_none(RefreshToken.token_hash == digest)
        if row is None:
            return Done(details={"found": False})
        revoked = (
            RefreshToken.update(revoked_at=ctx.now)
            .where((RefreshToken.family_id == row.family_id) & RefreshToken.revoked_at.is_null())
            .execute()
        )
        return Done(target_id=row.user_id, details={"family": row.family_id, "revoked": revoked})

    run(ctx, "auth.logout", body, target_type="user")


def set_password(ctx: Context, username: str, password: str) -> None:
    """Give an existing user a new password (and clear its lockout): operators' resets and
    the demo's fresh printed passwords. `NotFound` for an unknown user."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    password_hash = hash_password(password)

    def body() -> Done:
        user = User.get_or_none(User.username == username)
        if user is None:
            raise NotFound(f"user {username} not found")
        user.password_hash = password_hash
        user.failed_logins = 0
        user.failures_since = None
        user.locked_until = None
        user.save()
        return Done(None, target_id=user.id)

    run(ctx, "user.password", body, target_type="user")
