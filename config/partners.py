"""The partners file: who may call pamgate, with which scheme and keys.

TOML (SPEC section 11). This is the one place the file is validated: its shape here, each
key's format by `signing.keys` (decoding a `whsec_`/`whpk_` key now, not on the first
request), and any refusal becomes a `ConfigError` with one line naming the file and the
problem, which every `pamgate` verb prints before exiting 2. A partner's secret never
appears in that line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

from signing.keys import Partner, PartnerKey, check_partner_secret

PROTOCOLS = ("betstack", "standard-webhooks")


def _error(path: str, message: str) -> Exception:
    from config.settings import ConfigError  # local: settings imports this module

    return ConfigError(f"partners file {path}: {message}")


def load_partners(path: str) -> tuple[Partner, ...]:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _error(path, "not found") from None
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _error(path, f"is not valid TOML ({exc})") from None
    return parse_partners(data, path)


def parse_partners(data: dict[str, object], path: str = "<memory>") -> tuple[Partner, ...]:
    entries = data.get("partners", [])
    if not isinstance(entries, list):
        raise _error(path, "[[partners]] must be an array of tables")
    partners: list[Partner] = []
    for index, entry in enumerate(entries, start=1):
        where = f"partner #{index}"
        if not isinstance(entry, dict):
            raise _error(path, f"{where} must be a table")
        pid = entry.get("id")
        if not isinstance(pid, str) or not pid:
            raise _error(path, f"{where} needs a non-empty string id")
        where = f"partner {pid!r}"
        protocol = entry.get("protocol")
        if protocol not in PROTOCOLS:
            raise _error(path, f"{where}: protocol must be one of {', '.join(PROTOCOLS)}")
        operator = entry.get("operator", pid)
        if not isinstance(operator, str) or not operator:
            raise _error(path, f"{where}: operator must be a non-empty string")
        tolerance = entry.get("tolerance_s", 300)
        if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
            raise _error(path, f"{where}: tolerance_s must be an integer >= 0")
        keys = _keys(entry.get("keys", []), path, where, str(protocol))
        try:  # signing's own checks too, so nothing the file passes fails later
            partner = Partner(
                id=pid, protocol=str(protocol), operator=operator, tolerance_s=tolerance, keys=keys
            )
        except ValueError as exc:  # messages name the partner and kid, never a secret
            raise _error(path, f"{where}: {exc}") from None
        partners.append(partner)
    _unique(path, "id", (p.id for p in partners))
    _unique(path, "operator", (f"{p.protocol}:{p.operator}" for p in partners))
    return tuple(partners)


def _keys(raw: object, path: str, where: str, protocol: str) -> tuple[PartnerKey, ...]:
    if not isinstance(raw, list) or not raw:
        raise _error(path, f"{where}: needs at least one [[partners.keys]] entry")
    keys: list[PartnerKey] = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise _error(path, f"{where}: key #{index} must be a table")
        kid = item.get("kid")
        secret = item.get("secret")
        active = item.get("active", True)
        if not isinstance(kid, str) or not kid:
            raise _error(path, f"{where}: key #{index} needs a non-empty kid")
        if not isinstance(secret, str) or not secret:
            raise _error(path, f"{where}: key {kid!r} needs a non-empty secret")
        if not isinstance(active, bool):
            raise _error(path, f"{where}: key {kid!r} active must be true or false")
        if protocol == "standard-webhooks" and not secret.startswith(("whsec_", "whpk_")):
            raise _error(path, f"{where}: key {kid!r} secret must start with whsec_ or whpk_")
        if protocol == "betstack" and not secret.isascii():
            raise _error(path, f"{where}: key {kid!r} secret must be ASCII")
        key = PartnerKey(kid=kid, secret=secret, active=active)
        try:  # e.g. a whsec_ key whose base64 is broken
            check_partner_secret(protocol, key)
        except ValueError as exc:  # names what is wrong, never the secret itself
            raise _error(path, f"{where}: key {kid!r}: {exc}") from None
        keys.append(key)
    _unique(path, f"kid in {where}", (k.kid for k in keys))
    return tuple(keys)


def _unique(path: str, what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _error(path, f"duplicate {what} {value!r}")
        seen.add(value)


class PartnerDirectory:
    """Look partners up by the name they sign for."""

    def __init__(self, partners: Iterable[Partner]) -> None:
        self._all = tuple(partners)
        self._by_operator = {(p.protocol, p.operator): p for p in self._all}
        self._by_id = {p.id: p for p in self._all}

    def by_operator(self, protocol: str, operator: str) -> Partner | None:
        return self._by_operator.get((protocol, operator))

    def by_id(self, partner_id: str) -> Partner | None:
        return self._by_id.get(partner_id)

    def __iter__(self) -> Iterator[Partner]:
        return iter(self._all)
