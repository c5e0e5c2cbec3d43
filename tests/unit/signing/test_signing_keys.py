"""Keys: text forms, partner validation, reprs that hide secrets, pamgate's keyring."""

from __future__ import annotations

import base64

import pytest
from nacl.signing import SigningKey, VerifyKey

from signing.errors import REASONS, SignatureError
from signing.keys import (
    Keyring,
    OwnKey,
    Partner,
    PartnerKey,
    decode_whsec,
    generate_keypair,
    load_signing_key,
    load_verify_key,
    public_text,
    secret_text,
)

SEED = bytes(range(32))
KEY = SigningKey(SEED)
PUBLIC = KEY.verify_key.encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- errors -------------------------------------------------------------------------------


def test_signature_error_carries_reason_and_detail() -> None:
    error = SignatureError("bad_signature", "no active key matched")
    assert (error.reason, error.detail) == ("bad_signature", "no active key matched")
    assert str(error) == "bad_signature: no active key matched"


def test_signature_error_refuses_an_unknown_reason() -> None:
    with pytest.raises(ValueError, match="unknown signature failure reason"):
        SignatureError("bad_sig")


def test_reasons_are_the_six_spec_codes() -> None:
    assert set(REASONS) == {
        "missing_header",
        "bad_signature",
        "stale_timestamp",
        "unknown_partner",
        "inactive_key",
        "malformed",
    }


# --- reprs --------------------------------------------------------------------------------


def test_partner_key_repr_hides_the_secret() -> None:
    key = PartnerKey(kid="2026-11", secret="12345ABCDE")
    assert repr(key) == "PartnerKey(kid='2026-11', active=True)"


def test_partner_repr_hides_its_keys_secrets() -> None:
    partner = Partner("betstack", "betstack", "acme", keys=(PartnerKey("k", "12345ABCDE"),))
    assert "12345ABCDE" not in repr(partner)


def test_own_key_and_keyring_reprs_hide_the_signing_key() -> None:
    own = OwnKey("2026-11", KEY)
    secret = secret_text(KEY)
    for text in (repr(own), repr(Keyring([own]))):
        assert "2026-11" in text
        assert secret[5:20] not in text
        assert SEED.hex() not in text


# --- Ed25519 text forms -------------------------------------------------------------------


def test_generated_keypair_has_prefixes_and_matching_halves() -> None:
    secret, public = generate_keypair()
    assert secret.startswith("whsk_")
    assert public.startswith("whpk_")
    assert public_text(load_signing_key(secret)) == public
    assert len(base64.b64decode(secret[5:])) == 64


def test_generated_keypairs_differ() -> None:
    assert generate_keypair()[0] != generate_keypair()[0]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("whsk_" + b64(SEED + PUBLIC), id="64-byte-seed-and-public"),
        pytest.param("whsk_" + b64(SEED), id="32-byte-seed"),
        pytest.param("whsk_" + b64(SEED).rstrip("="), id="unpadded"),
        pytest.param("  whsk_" + b64(SEED) + "\n", id="surrounding-whitespace"),
    ],
)
def test_both_whsk_forms_load_the_same_key(text) -> None:
    loaded = load_signing_key(text)
    assert loaded.encode() == SEED
    assert loaded.verify_key.encode() == PUBLIC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("whsk_" + b64(SEED + bytes(32)), "public half", id="mismatched-public"),
        pytest.param("whsk_" + b64(SEED[:31]), "32 or 64 bytes", id="short"),
        pytest.param("whsk_" + b64(SEED + PUBLIC + b"x"), "32 or 64 bytes", id="long"),
        pytest.param(b64(SEED), "whsk_", id="no-prefix"),
        pytest.param("whpk_" + b64(PUBLIC), "whsk_", id="public-key"),
        pytest.param("whsk_" + "!" * 44, "base64", id="not-base64"),
        pytest.param("whsk_", "32 or 64 bytes", id="empty"),
    ],
)
def test_bad_whsk_text_is_refused(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        load_signing_key(text)


def test_bad_whsk_error_never_echoes_the_key() -> None:
    text = "whsk_" + b64(SEED + bytes(32))
    with pytest.raises(ValueError) as caught:
        load_signing_key(text)
    assert b64(SEED)[:20] not in str(caught.value)


def test_secret_text_round_trips_in_the_64_byte_form() -> None:
    assert secret_text(KEY) == "whsk_" + b64(SEED + PUBLIC)
    assert load_signing_key(secret_text(KEY)).encode() == SEED


def test_whpk_loads_the_32_byte_public_key() -> None:
    loaded = load_verify_key("whpk_" + b64(PUBLIC))
    assert isinstance(loaded, VerifyKey)
    assert loaded.encode() == PUBLIC
    assert public_text(KEY) == public_text(KEY.verify_key) == "whpk_" + b64(PUBLIC)


@pytest.mark.parametrize(
    "text",
    ["whpk_" + b64(PUBLIC[:31]), "whpk_" + b64(SEED + PUBLIC), b64(PUBLIC), "whpk_%%%"],
    ids=["short", "long", "no-prefix", "not-base64"],
)
def test_bad_whpk_text_is_refused(text) -> None:
    with pytest.raises(ValueError):
        load_verify_key(text)


# --- whsec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "whsec_" + b64(b"0123456789abcdefghij"),
        "whsec_" + b64(b"0123456789abcdefghij").rstrip("="),
        b64(b"0123456789abcdefghij"),
    ],
    ids=["padded", "unpadded", "no-prefix-like-official-lib"],
)
def test_whsec_decodes_to_the_raw_key(text) -> None:
    assert decode_whsec(text) == b"0123456789abcdefghij"


@pytest.mark.parametrize(
    "text", ["whsec_", "", "whsec_****", "whsec_A"], ids=["empty", "blank", "symbols", "one-char"]
)
def test_bad_whsec_is_refused(text) -> None:
    with pytest.raises(ValueError):
        decode_whsec(text)


# --- partners -----------------------------------------------------------------------------


def test_partner_active_keys_are_only_the_active_ones() -> None:
    old = PartnerKey("2026-05", "old", active=False)
    new = PartnerKey("2026-11", "new")
    partner = Partner("betstack", "betstack", "acme", keys=(old, new))
    assert partner.active_keys == (new,)
    assert partner.tolerance_s == 300


def test_partner_keys_given_as_a_list_become_a_tuple() -> None:
    partner = Partner("p", "betstack", "acme", keys=[PartnerKey("k", "s")])  # type: ignore[arg-type]
    assert partner.keys == (PartnerKey("k", "s"),)


def test_standard_webhooks_partner_accepts_whsec_and_whpk_keys() -> None:
    keys = (PartnerKey("h", "whsec_" + b64(bytes(24))), PartnerKey("e", public_text(KEY)))
    assert Partner("sms", "standard-webhooks", "", keys=keys).active_keys == keys


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"protocol": "hmac"}, "unknown protocol", id="protocol"),
        pytest.param({"tolerance_s": -1}, ">= 0", id="negative-tolerance"),
        pytest.param({"tolerance_s": True}, "integer", id="bool-tolerance"),
        pytest.param({"id": ""}, "id", id="empty-id"),
        pytest.param(
            {"keys": (PartnerKey("k", "a"), PartnerKey("k", "b"))}, "duplicate", id="dup-kid"
        ),
        pytest.param({"keys": (PartnerKey("k", "clé-secrète"),)}, "ASCII", id="non-ascii"),
        pytest.param({"keys": (PartnerKey("k", ""),)}, "ASCII", id="empty-secret"),
        pytest.param({"keys": (PartnerKey("", "s"),)}, "key id", id="empty-kid"),
        pytest.param(
            {"protocol": "standard-webhooks", "keys": (PartnerKey("k", "12345ABCDE"),)},
            "whsec_",
            id="sw-plain-secret",
        ),
        pytest.param(
            {"protocol": "standard-webhooks", "keys": (PartnerKey("k", "whpk_AAAA"),)},
            "32 bytes",
            id="sw-short-public",
        ),
    ],
)
def test_misconfigured_partner_is_refused(kwargs, message) -> None:
    arguments: dict[str, object] = {"id": "p", "protocol": "betstack", "operator": "acme"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message) as caught:
        Partner(**arguments)  # type: ignore[arg-type]
    assert "12345ABCDE" not in str(caught.value)
    assert "clé-secrète" not in str(caught.value)


# --- keyring ------------------------------------------------------------------------------

RETIRED = OwnKey("2026-05", SigningKey(bytes(32)), active=False)
CURRENT = OwnKey("2026-11", KEY)
SPARE = OwnKey("2027-05", SigningKey(bytes([7]) * 32))


def test_keyring_current_is_the_first_active_key() -> None:
    assert Keyring([RETIRED, CURRENT, SPARE]).current == CURRENT


def test_keyring_without_an_active_key_has_no_current() -> None:
    with pytest.raises(LookupError):
        Keyring([RETIRED]).current  # noqa: B018 - the property access is what is tested


def test_keyring_verify_keys_include_retired_keys() -> None:
    kids = [kid for kid, _ in Keyring([RETIRED, CURRENT]).verify_keys()]
    assert kids == ["2026-05", "2026-11"]
    assert Keyring([CURRENT]).verify_keys()[0][1].encode() == PUBLIC


def test_keyring_published_lists_public_keys_only() -> None:
    published = Keyring([CURRENT, RETIRED]).published()
    assert published[0] == {
        "kid": "2026-11",
        "alg": "Ed25519",
        "public_key": "whpk_" + b64(PUBLIC),
        "active": True,
    }
    assert published[1]["active"] is False
    assert b64(SEED)[:20] not in repr(published)


def test_keyring_from_texts_keeps_order_and_flags() -> None:
    secret, public = generate_keypair()
    ring = Keyring.from_texts([("old", secret_text(KEY), False), ("new", secret, True)])
    assert ring.current.kid == "new"
    assert [entry["public_key"] for entry in ring.published()] == [public_text(KEY), public]
    assert len(ring) == 2


def test_keyring_refuses_duplicate_kids() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Keyring([CURRENT, OwnKey("2026-11", SPARE.signing_key)])


def test_keyring_kid_for_finds_the_key_of_a_public_key() -> None:
    ring = Keyring([RETIRED, CURRENT])
    assert ring.kid_for(KEY.verify_key) == "2026-11"
    assert ring.kid_for(SPARE.verify_key) is None
