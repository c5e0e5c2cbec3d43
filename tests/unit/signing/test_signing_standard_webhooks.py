"""Standard Webhooks (SPEC 1b): the spec's test vector, interop with the official package,
v1a Ed25519, and every failure reason."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from signing import standard_webhooks as sw
from signing.errors import (
    BAD_SIGNATURE,
    INACTIVE_KEY,
    MALFORMED,
    MISSING_HEADER,
    STALE_TIMESTAMP,
    SignatureError,
)
from signing.keys import PartnerKey, public_text

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OTHER_SECRET = "whsec_" + base64.b64encode(b"another endpoint's secret 32 b!!").decode()
ED_KEY = SigningKey(bytes(range(32)))
OTHER_ED_KEY = SigningKey(bytes(range(1, 33)))

HMAC_KEY = PartnerKey(kid="hmac", secret=VECTOR_SECRET)
ED_PARTNER_KEY = PartnerKey(kid="ed", secret=public_text(ED_KEY))


def verify(**overrides: object) -> PartnerKey:
    arguments: dict[str, object] = {
        "keys": [HMAC_KEY],
        "msg_id": VECTOR_ID,
        "timestamp": str(VECTOR_TIMESTAMP),
        "signature_header": VECTOR_SIGNATURE,
        "body": VECTOR_BODY,
        "now": VECTOR_TIMESTAMP,
        "tolerance_s": 300,
    }
    arguments.update(overrides)
    keys = arguments.pop("keys")
    return sw.verify(keys, **arguments)  # type: ignore[arg-type]


def reason_of(**overrides: object) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(**overrides)
    return caught.value.reason


def ed_header(key: SigningKey = ED_KEY, **kwargs: object) -> str:
    return sw.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, ed25519_keys=[key], **kwargs)  # type: ignore[arg-type]


# --- the published vector -------------------------------------------------------------------


def test_sign_reproduces_the_spec_test_vector() -> None:
    assert sw.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, hmac_secrets=[VECTOR_SECRET]) == (
        VECTOR_SIGNATURE
    )


def test_spec_test_vector_verifies() -> None:
    assert verify() == HMAC_KEY


def test_headers_carry_id_timestamp_and_signature() -> None:
    assert sw.headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, hmac_secrets=[VECTOR_SECRET]) == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


# --- interop with the official package --------------------------------------------------------


def test_official_package_verifies_what_we_sign_with_v1() -> None:
    now = int(time.time())
    body = b'{"to":"+50688887777","text":"Su c\xc3\xb3digo es 1234"}'
    headers = sw.headers("msg_1", now, body, hmac_secrets=[VECTOR_SECRET])
    assert Webhook(VECTOR_SECRET).verify(body, headers) == {
        "to": "+50688887777",
        "text": "Su código es 1234",
    }


def test_official_package_refuses_our_v1_with_another_secret() -> None:
    now = int(time.time())
    headers = sw.headers("msg_1", now, b"{}", hmac_secrets=[OTHER_SECRET])
    with pytest.raises(WebhookVerificationError):
        Webhook(VECTOR_SECRET).verify(b"{}", headers)


def test_official_package_verifies_our_header_with_v1a_and_v1_skipping_v1a() -> None:
    now = int(time.time())
    headers = sw.headers("msg_2", now, b"{}", hmac_secrets=[VECTOR_SECRET], ed25519_keys=[ED_KEY])
    assert headers["webhook-signature"].startswith("v1a,")
    assert Webhook(VECTOR_SECRET).verify(b"{}", headers) == {}


def test_we_verify_what_the_official_package_signs() -> None:
    now = int(time.time())
    body = '{"type":"otp","data":{"code":"1234"}}'
    signature = Webhook(VECTOR_SECRET).sign("msg_3", datetime.fromtimestamp(now, tz=UTC), body)
    found = sw.verify(
        [HMAC_KEY],
        msg_id="msg_3",
        timestamp=str(now),
        signature_header=signature,
        body=body.encode(),
        now=now,
        tolerance_s=300,
    )
    assert found == HMAC_KEY


def test_unpadded_whsec_secret_signs_like_the_official_package() -> None:
    unpadded = "whsec_" + base64.b64encode(b"0123456789abcdefghij").decode().rstrip("=")
    assert unpadded.endswith("o")  # 20 bytes: base64 needs one '=' of padding
    ours = sw.sign("m", VECTOR_TIMESTAMP, b"x", hmac_secrets=[unpadded])
    theirs = Webhook(unpadded).sign("m", datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC), "x")
    assert ours == theirs


# --- v1a (Ed25519) --------------------------------------------------------------------------


def test_v1a_signature_verifies_with_the_public_key() -> None:
    assert verify(keys=[ED_PARTNER_KEY], signature_header=ed_header()) == ED_PARTNER_KEY


def test_sign_puts_v1a_entries_before_v1_entries() -> None:
    header = sw.sign(
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        hmac_secrets=[VECTOR_SECRET, OTHER_SECRET],
        ed25519_keys=[ED_KEY, OTHER_ED_KEY],
    )
    assert [entry.split(",")[0] for entry in header.split(" ")] == ["v1a", "v1a", "v1", "v1"]
    assert header.split(" ")[2] == VECTOR_SIGNATURE


def test_header_with_both_versions_verifies_each_kind_of_key() -> None:
    header = ed_header(hmac_secrets=[VECTOR_SECRET])
    assert verify(keys=[ED_PARTNER_KEY], signature_header=header) == ED_PARTNER_KEY
    assert verify(keys=[HMAC_KEY], signature_header=header) == HMAC_KEY


def test_v1a_entry_is_never_checked_against_an_hmac_key() -> None:
    """A v1a signature by the right Ed25519 key does not satisfy an HMAC-only partner."""
    assert reason_of(keys=[HMAC_KEY], signature_header=ed_header()) == BAD_SIGNATURE


def test_v1_entry_is_never_checked_against_a_public_key() -> None:
    assert reason_of(keys=[ED_PARTNER_KEY]) == BAD_SIGNATURE


def test_sign_without_any_key_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sw.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)


def test_sign_refuses_an_id_with_whitespace() -> None:
    with pytest.raises(ValueError, match="webhook id"):
        sw.sign("msg 1", VECTOR_TIMESTAMP, b"", hmac_secrets=[VECTOR_SECRET])


# --- failure reasons ----------------------------------------------------------------------

OTHER_V1 = sw.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, hmac_secrets=[OTHER_SECRET])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"msg_id": None}, MISSING_HEADER, id="no-id"),
        pytest.param({"timestamp": None}, MISSING_HEADER, id="no-timestamp"),
        pytest.param({"signature_header": None}, MISSING_HEADER, id="no-signature"),
        pytest.param({"signature_header": ""}, MISSING_HEADER, id="empty-signature"),
        pytest.param({"timestamp": "1614265330.5"}, MALFORMED, id="fractional-timestamp"),
        pytest.param({"timestamp": "yesterday"}, MALFORMED, id="word-timestamp"),
        pytest.param({"signature_header": "   "}, MALFORMED, id="blank-signature"),
        pytest.param({"signature_header": "v1"}, MALFORMED, id="no-comma"),
        pytest.param({"signature_header": "v1,"}, MALFORMED, id="no-value"),
        pytest.param({"signature_header": ",abc"}, MALFORMED, id="no-version"),
        pytest.param(
            {"signature_header": " ".join([VECTOR_SIGNATURE] * 17)}, MALFORMED, id="too-many"
        ),
        pytest.param(
            {"signature_header": "v1", "now": VECTOR_TIMESTAMP + 10_000},
            MALFORMED,
            id="malformed-before-stale",
        ),
        pytest.param({"now": VECTOR_TIMESTAMP + 301}, STALE_TIMESTAMP, id="past"),
        pytest.param({"now": VECTOR_TIMESTAMP - 301}, STALE_TIMESTAMP, id="future"),
        pytest.param({"signature_header": OTHER_V1}, BAD_SIGNATURE, id="other-secret"),
        pytest.param({"body": VECTOR_BODY + b" "}, BAD_SIGNATURE, id="body-changed"),
        pytest.param({"msg_id": "msg_other"}, BAD_SIGNATURE, id="id-changed"),
        pytest.param({"signature_header": "v2,abc v1b,xyz"}, BAD_SIGNATURE, id="only-unknown"),
        pytest.param({"signature_header": "v1,not-base64!"}, BAD_SIGNATURE, id="v1-not-b64"),
        pytest.param({"signature_header": "v1,AAAA"}, BAD_SIGNATURE, id="v1-short"),
        pytest.param({"keys": []}, BAD_SIGNATURE, id="no-keys"),
        pytest.param(
            {"keys": [ED_PARTNER_KEY], "signature_header": None}, MISSING_HEADER, id="ed-missing"
        ),
        pytest.param(
            {"keys": [ED_PARTNER_KEY], "signature_header": ed_header(OTHER_ED_KEY)},
            BAD_SIGNATURE,
            id="v1a-other-key",
        ),
        pytest.param(
            {"keys": [PartnerKey("old", VECTOR_SECRET, active=False)]},
            INACTIVE_KEY,
            id="inactive-hmac",
        ),
        pytest.param(
            {
                "keys": [PartnerKey("old", public_text(ED_KEY), active=False)],
                "signature_header": ed_header(),
            },
            INACTIVE_KEY,
            id="inactive-ed25519",
        ),
    ],
)
def test_refused_request_gives_reason(overrides, reason) -> None:
    assert reason_of(**overrides) == reason


def test_unknown_versions_are_ignored_next_to_a_good_entry() -> None:
    header = f"v2,whatever v1a,{'A' * 86}== {VECTOR_SIGNATURE}"
    assert verify(signature_header=header) == HMAC_KEY


def test_rotated_out_key_is_refused_while_the_new_key_verifies() -> None:
    old = PartnerKey("2026-05", OTHER_SECRET, active=False)
    new = PartnerKey("2026-11", VECTOR_SECRET)
    with pytest.raises(SignatureError) as caught:
        verify(keys=[old, new], signature_header=OTHER_V1)
    assert caught.value.reason == INACTIVE_KEY
    assert verify(keys=[old, new]) == new


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_verifies(offset) -> None:
    assert verify(now=VECTOR_TIMESTAMP + offset) == HMAC_KEY


def test_tolerance_zero_disables_the_window() -> None:
    assert verify(now=VECTOR_TIMESTAMP + 10**9, tolerance_s=0) == HMAC_KEY


def test_error_detail_never_contains_secret_or_signature() -> None:
    with pytest.raises(SignatureError) as caught:
        verify(signature_header=OTHER_V1)
    text = f"{caught.value} {caught.value.detail}"
    assert VECTOR_SECRET[6:] not in text
    assert OTHER_V1[3:] not in text


def test_misconfigured_key_is_a_loud_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="whpk_"):
        verify(keys=[PartnerKey("bad", "whpk_AAAA")])


# --- properties ---------------------------------------------------------------------------


@given(
    msg_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    timestamp=st.integers(0, 10**10),
    body=st.binary(max_size=200),
    use_ed25519=st.booleans(),
)
def test_sign_then_verify_round_trips(msg_id, timestamp, body, use_ed25519) -> None:
    key = ED_PARTNER_KEY if use_ed25519 else HMAC_KEY
    kwargs = {"ed25519_keys": [ED_KEY]} if use_ed25519 else {"hmac_secrets": [VECTOR_SECRET]}
    header = sw.sign(msg_id, timestamp, body, **kwargs)
    found = sw.verify(
        [key],
        msg_id=msg_id,
        timestamp=str(timestamp),
        signature_header=header,
        body=body,
        now=timestamp,
        tolerance_s=300,
    )
    assert found == key


def _assert_refused(key: PartnerKey, *, msg_id: str, header: str, body: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        sw.verify(
            [key],
            msg_id=msg_id,
            timestamp="1",
            signature_header=header,
            body=body,
            now=1,
            tolerance_s=300,
        )
    assert caught.value.reason in (BAD_SIGNATURE, MALFORMED)


@given(body=st.binary(min_size=1, max_size=200), use_ed25519=st.booleans(), data=st.data())
def test_flipping_any_body_byte_fails(body, use_ed25519, data) -> None:
    key = ED_PARTNER_KEY if use_ed25519 else HMAC_KEY
    kwargs = {"ed25519_keys": [ED_KEY]} if use_ed25519 else {"hmac_secrets": [VECTOR_SECRET]}
    header = sw.sign("msg", 1, body, **kwargs)
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = bytearray(body)
    flipped[index] ^= data.draw(st.integers(1, 255))
    _assert_refused(key, msg_id="msg", header=header, body=bytes(flipped))


@given(use_ed25519=st.booleans(), data=st.data())
def test_flipping_any_signature_character_fails(use_ed25519, data) -> None:
    key = ED_PARTNER_KEY if use_ed25519 else HMAC_KEY
    kwargs = {"ed25519_keys": [ED_KEY]} if use_ed25519 else {"hmac_secrets": [VECTOR_SECRET]}
    header = sw.sign("msg", 1, b"{}", **kwargs)
    version, _, value = header.partition(",")
    index = data.draw(st.integers(0, len(value.rstrip("=")) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != value[index]))
    flipped = f"{version},{value[:index]}{char}{value[index + 1 :]}"
    _assert_refused(key, msg_id="msg", header=flipped, body=b"{}")


@given(msg_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=2))
def test_signature_for_one_id_fails_for_another(msg_id) -> None:
    header = sw.sign(msg_id, 1, b"{}", hmac_secrets=[VECTOR_SECRET])
    _assert_refused(HMAC_KEY, msg_id=msg_id[::-1] + "x", header=header, body=b"{}")


def test_signature_with_stray_padding_bits_is_refused() -> None:
    """``…OE=`` and ``…OF=`` decode to the same bytes; only the canonical text is accepted."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    value = VECTOR_SIGNATURE[3:]
    last = value[-2]
    twin = value[:-2] + alphabet[alphabet.index(last) ^ 1] + "="
    assert base64.b64decode(twin) == base64.b64decode(value)
    assert reason_of(signature_header="v1," + twin) == BAD_SIGNATURE
