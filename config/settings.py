"""Typed settings read once from the environment.

`load_config(environ)` is the only function in pamgate that looks at environment variables;
everything else receives a `Config`. A bad value raises `ConfigError` with one line that
names the variable, so start-up fails readably instead of with a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from config.partners import load_partners
from signing.keys import Partner, decode_whsec, load_signing_key

# Development-only defaults: `make run` works out of the box, production refuses them.
DEMO_JWT_SECRET = "pamgate-demo-jwt-secret-not-for-production"  # noqa: S105
DEMO_SIGNING_KEY = "whsk_cGFtZ2F0ZS1kZW1vLWVkMjU1MTktc2VlZC1wdWJsaWM="


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


@dataclass(frozen=True)
class Config:
    env: str = "development"
    database_url: str = "sqlite:///pamgate.db"
    db_pool_size: int = 10
    jwt_secret: str = DEMO_JWT_SECRET
    jwt_ttl_s: int = 900
    timezone: str = "America/Costa_Rica"
    reserve_ttl_s: int = 1800
    max_body_bytes: int = 64 * 1024
    partners: tuple[Partner, ...] = ()
    # pamgate's own Ed25519 keys: (kid, whsk_…, active); the first active one signs.
    signing_keys: tuple[tuple[str, str, bool], ...] = (("demo", DEMO_SIGNING_KEY, True),)
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    read_timeout_s: float = 10.0  # a request, from its first byte to the end of its body
    audit_seal_interval_s: float = 1.0  # each server worker seals new audit rows this often
    timeout_s: int = 30
    graceful_timeout_s: int = 30
    log_level: str = "INFO"
    log_format: str = "auto"  # json | console | auto (console on a TTY)
    idempotency_retention_days: int = 120
    outbox_retention_days: int = 30  # `pamgate prune`: sent messages and their attempt log
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR: aggregate gunicorn workers
    # `pamgate serve`'s own directory (metrics files, control socket); None: a temporary one
    run_dir: str | None = None
    # refused unauthenticated requests are counted in memory and flushed this often (0: only
    # when asked, as tests do); see gateway/core/rejections.py
    rejection_flush_s: float = 5.0
    # ticket payments above this many minor units wait for a second ADMIN's approval
    # (maker-checker, SPEC 6); 0: off
    payout_approval_threshold: int = 0
    # the console's cookies carry `Secure` (HTTPS only): on in production unless
    # PAMGATE_SECURE_COOKIES=0, off elsewhere unless PAMGATE_SECURE_COOKIES=1
    secure_cookies: bool = False
    # SMS delivery (SPEC 5): the provider, its credentials and the dispatcher's limits
    sms_provider: str = "webhook"  # webhook | twilio
    sms_url: str = ""  # webhook: where the JSON is POSTed
    sms_secret: str = ""  # webhook: whsec_…, adds a v1 HMAC signature
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    sms_timeout_s: float = 10.0  # one delivery, connect + response
    sms_rate_per_s: float = 50.0  # token bucket of the provider (every dispatcher together)
    sms_rate_burst: int = 50
    sms_phone_per_min: float = 5.0  # token bucket per phone number (OTP floods)
    sms_phone_burst: int = 3
    dispatch_lease_s: float = 120.0  # a claim; must outlast a batch's sends (checked)
    dispatch_batch: int = 50
    dispatch_workers: int = 10  # concurrent sends per dispatcher
    dispatch_poll_s: float = 1.0
    breaker_cooldown_s: float = 30.0
    # core events (a payout waiting for approval, a paid ticket): the operator's endpoint,
    # signed like the SMS webhook; empty: no event is queued
    events_url: str = ""
    events_secret: str = ""  # whsec_…, adds a v1 HMAC signature

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def _signing_keys(raw: str) -> tuple[tuple[str, str, bool], ...]:
    """`PAMGATE_SIGNING_KEY` is one `whsk_…` or a comma list of `kid:whsk_…[:inactive]`."""
    keys: list[tuple[str, str, bool]] = []
    for index, item in enumerate(part.strip() for part in raw.split(",") if part.strip()):
        parts = item.split(":")
        if len(parts) == 1:
            kid, secret, active = f"k{index + 1}", parts[0], True
        elif len(parts) in (2, 3):
            kid, secret = parts[0], parts[1]
            active = len(parts) == 2 or parts[2] != "inactive"
        else:
            raise ConfigError("PAMGATE_SIGNING_KEY must be whsk_… or kid:whsk_…[:inactive], …")
        if not secret.startswith("whsk_"):
            raise ConfigError(f"PAMGATE_SIGNING_KEY key {kid!r} must start with whsk_")
        try:  # decode now: a broken key fails start-up, not the first receipt
            load_signing_key(secret)
        except ValueError as exc:  # the message names the problem, never the key
            raise ConfigError(f"PAMGATE_SIGNING_KEY key {kid!r}: {exc}") from None
        keys.append((kid, secret, active))
    if not any(active for _, _, active in keys):
        raise ConfigError("PAMGATE_SIGNING_KEY has no active key")
    return tuple(keys)


SMS_PROVIDERS = ("webhook", "twilio")


def lease_problem(config: Config) -> str | None:
    """Why the dispatcher's claim could run out while it is still sending, or None. A claim
    covers a batch, sent `dispatch_workers` at a time; one send takes at most twice
    `sms_timeout_s` (connecting, then the response), so the lease must outlast
    2 x timeout x rounds."""
    rounds = -(-config.dispatch_batch // config.dispatch_workers)
    needed = 2 * config.sms_timeout_s * rounds
    if config.dispatch_lease_s <= needed:
        return (
            f"PAMGATE_DISPATCH_LEASE_S ({config.dispatch_lease_s:g}) must be longer than "
            f"2 x PAMGATE_SMS_TIMEOUT_S x batch rounds (2 x {config.sms_timeout_s:g} x "
            f"{rounds} = {needed:g} s; rounds = PAMGATE_DISPATCH_BATCH / _WORKERS)"
        )
    return None


def _whsec(environ: Mapping[str, str], name: str) -> str:
    secret = environ.get(name, "")
    if secret:
        if not secret.startswith("whsec_"):
            raise ConfigError(f"{name} must start with whsec_")
        try:
            decode_whsec(secret)
        except ValueError as exc:  # the message names the problem, never the secret
            raise ConfigError(f"{name}: {exc}") from None
    return secret


def _sms_settings(environ: Mapping[str, str]) -> dict[str, object]:
    provider = environ.get("PAMGATE_SMS_PROVIDER", "webhook")
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"PAMGATE_SMS_PROVIDER must be webhook or twilio, got {provider!r}")
    secret = _whsec(environ, "PAMGATE_SMS_SECRET")
    events_secret = _whsec(environ, "PAMGATE_EVENTS_SECRET")
    url = environ.get("PAMGATE_SMS_URL", "")
    events_url = environ.get("PAMGATE_EVENTS_URL", "")
    base = environ.get("PAMGATE_TWILIO_BASE_URL", "https://api.twilio.com")
    for name, value in (
        ("PAMGATE_SMS_URL", url),
        ("PAMGATE_EVENTS_URL", events_url),
        ("PAMGATE_TWILIO_BASE_URL", base),
    ):
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http:// or https:// URL")
    return {
        "events_url": events_url,
        "events_secret": events_secret,
        "sms_provider": provider,
        "sms_url": url,
        "sms_secret": secret,
        "twilio_account_sid": environ.get("PAMGATE_TWILIO_ACCOUNT_SID", ""),
        "twilio_auth_token": environ.get("PAMGATE_TWILIO_AUTH_TOKEN", ""),
        "twilio_from": environ.get("PAMGATE_TWILIO_FROM", ""),
        "twilio_base_url": base.rstrip("/"),
        "sms_timeout_s": _positive_float(environ, "PAMGATE_SMS_TIMEOUT_S", 10.0),
        "sms_rate_per_s": _positive_float(environ, "PAMGATE_SMS_RATE_PER_S", 50.0),
        "sms_rate_burst": _int(environ, "PAMGATE_SMS_RATE_BURST", 50, minimum=1),
        "sms_phone_per_min": _positive_float(environ, "PAMGATE_SMS_PHONE_PER_MIN", 5.0),
        "sms_phone_burst": _int(environ, "PAMGATE_SMS_PHONE_BURST", 3, minimum=1),
        "dispatch_lease_s": _positive_float(environ, "PAMGATE_DISPATCH_LEASE_S", 120.0),
        "dispatch_batch": _int(environ, "PAMGATE_DISPATCH_BATCH", 50, minimum=1),
        "dispatch_workers": _int(environ, "PAMGATE_DISPATCH_WORKERS", 10, minimum=1),
        "dispatch_poll_s": _positive_float(environ, "PAMGATE_DISPATCH_POLL_S", 1.0),
        "breaker_cooldown_s": _positive_float(environ, "PAMGATE_BREAKER_COOLDOWN_S", 30.0),
    }


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build the typed configuration from an environment mapping (default `os.environ`)."""
    if environ is None:
        environ = os.environ
    env = environ.get("PAMGATE_ENV", "development")
    if env not in ("development", "production", "test"):
        raise ConfigError(f"PAMGATE_ENV must be development, production or test, got {env!r}")

    tz = environ.get("PAMGATE_TIMEZONE", "America/Costa_Rica")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PAMGATE_TIMEZONE {tz!r} is not a known IANA time zone") from None

    database_url = environ.get("DATABASE_URL", "sqlite:///pamgate.db")
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError("DATABASE_URL must start with sqlite:/// or postgresql://")

    jwt_secret = environ.get("PAMGATE_JWT_SECRET", "")
    if not jwt_secret:
        if env == "production":
            raise ConfigError("PAMGATE_JWT_SECRET is required when PAMGATE_ENV=production")
        jwt_secret = DEMO_JWT_SECRET
    elif len(jwt_secret) < 32:
        raise ConfigError("PAMGATE_JWT_SECRET must be at least 32 characters")

    raw_keys = environ.get("PAMGATE_SIGNING_KEY", "")
    if raw_keys:
        signing_keys = _signing_keys(raw_keys)
    elif env == "production":
        raise ConfigError("PAMGATE_SIGNING_KEY is required when PAMGATE_ENV=production")
    else:
        signing_keys = Config.signing_keys

    partners_file = environ.get("PAMGATE_PARTNERS_FILE", "")
    partners = load_partners(partners_file) if partners_file else ()

    log_format = environ.get("PAMGATE_LOG_FORMAT", "auto")
    if log_format not in ("auto", "json", "console"):
        raise ConfigError(f"PAMGATE_LOG_FORMAT must be auto, json or console, got {log_format!r}")

    config = Config(
        env=env,
        database_url=database_url,
        db_pool_size=_int(environ, "PAMGATE_DB_POOL_SIZE", 10, minimum=1),
        jwt_secret=jwt_secret,
        jwt_ttl_s=_int(environ, "PAMGATE_JWT_TTL_S", 900, minimum=1),
        timezone=tz,
        reserve_ttl_s=_int(environ, "PAMGATE_RESERVE_TTL_S", 1800, minimum=1),
        max_body_bytes=_int(environ, "PAMGATE_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
        partners=partners,
        signing_keys=signing_keys,
        bind=environ.get("PAMGATE_BIND", "127.0.0.1:8000"),
        workers=_int(environ, "PAMGATE_WORKERS", 2, minimum=1),
        read_timeout_s=_positive_float(environ, "PAMGATE_READ_TIMEOUT_S", 10.0),
        audit_seal_interval_s=_positive_float(environ, "PAMGATE_AUDIT_SEAL_INTERVAL_S", 1.0),
        timeout_s=_int(environ, "PAMGATE_TIMEOUT_S", 30, minimum=1),
        graceful_timeout_s=_int(environ, "PAMGATE_GRACEFUL_TIMEOUT_S", 30, minimum=1),
        log_level=environ.get("PAMGATE_LOG_LEVEL", "INFO").upper(),
        log_format=log_format,
        idempotency_retention_days=_int(
            environ, "PAMGATE_IDEMPOTENCY_RETENTION_DAYS", 120, minimum=120
        ),
        outbox_retention_days=_int(environ, "PAMGATE_OUTBOX_RETENTION_DAYS", 30, minimum=1),
        metrics_dir=environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        run_dir=environ.get("PAMGATE_RUN_DIR") or None,
        payout_approval_threshold=_int(environ, "PAMGATE_PAYOUT_APPROVAL_THRESHOLD", 0),
        secure_cookies=_switch(environ, "PAMGATE_SECURE_COOKIES", env == "production"),
    ).replace(**_sms_settings(environ))
    problem = lease_problem(config)
    if problem:
        raise ConfigError(problem)
    return config


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")
