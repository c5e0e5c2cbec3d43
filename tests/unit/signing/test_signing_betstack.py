"""The Betstack scheme (SPEC 1a): published example, candidate bodies, every failure reason."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing import betstack
from signing.errors import (
    BAD_SIGNATURE,
    INACTIVE_KEY,
    MALFORMED,
    MISSING_HEADER,
    STALE_TIMESTAMP,
    SignatureError,
)
from signing.keys import PartnerKey

# SPEC 1a's published example, byte for byte.
PUBLISHED_SECRET = "12345ABCDE"
PUBLISHED_TIMESTAMP = "1706191612"
PUBLISHED_BODY = (
    b'{"action":"ticket_create","data":{"operator":"acme","ticket_id":"668ef666333180bba97f0c93",'
    b'"ticket_code":"CD4BDD","player_id":"sometokenvalue","price":500,"stake":444,'
    b'"wht_amount":240,"wht":10,"ext_amount":56,"ext":12.5,"ext_type":"inclusive",'
    b'"gross_payout":2842,"net_payout":2602,"currency":"USD","atag":"atag_value","rtag":null,'
    b'"ticket_type":"quickbet"}}'
)
PUBLISHED_SIGNATURE = "3fe37f41ba6dc960fd2a7098bd4643f971ff1408a31bcea9f3ef8d03b3ba2d0a"
NOW = int(PUBLISHED_TIMESTAMP)

KEY = PartnerKey(kid="2026-11", secret=PUBLISHED_SECRET)
OTHER_SECRET = "ZYXWV54321"


def verify(**overrides: object) -> PartnerKey:
    return verified(**overrides).key


def verified(**overrides: object) -> betstack.Verified:
    arguments: dict[str, object] = {
        "keys": [KEY],
        "timestamp": PUBLISHED_TIMESTAMP,
        "signature": PUBLISHED_SIGNATURE,
        "body": PUBLISHED_BODY,
        "now": NOW,
        "tolerance_s": 300,
    }
    arguments.update(overrides)
    keys = arguments.pop("keys")
    return betstack.verify(keys, **arguments)  # type: ignore[arg-type]


def reason_of(**overrides: object) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(**overrides)
    return caught.value.reason


# --- the published example ----------------------------------------------------------------


def test_sign_over_published_bytes_gives_published_signature() -> None:
    assert betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, PUBLISHED_BODY) == (
        PUBLISHED_SIGNATURE
    )


def test_published_example_verifies() -> None:
    assert verify() == KEY


def test_published_body_is_exactly_the_compact_serialisation_of_its_content() -> None:
    """The example is ``json.dumps(obj, separators=(",", ":"))``: ``12.5`` survives."""
    assert betstack.compact_json(json.loads(PUBLISHED_BODY)) == PUBLISHED_BODY


@pytest.mark.parametrize(
    "reformat",
    [
        pytest.param(lambda obj: json.dumps(obj, indent=2), id="indent-2"),
        pytest.param(lambda obj: json.dumps(obj), id="default-separators"),
        pytest.param(lambda obj: json.dumps(obj, indent="\t", ensure_ascii=False), id="tabs"),
    ],
)
def test_published_example_reformatted_by_a_client_still_verifies(reformat) -> None:
    body = reformat(json.loads(PUBLISHED_BODY)).encode()
    assert body != PUBLISHED_BODY
    assert verify(body=body) == KEY


def test_published_example_with_a_changed_amount_is_refused() -> None:
    body = PUBLISHED_BODY.replace(b'"price":500', b'"price":501')
    assert reason_of(body=body) == BAD_SIGNATURE


def test_uppercase_hex_signature_verifies() -> None:
    assert verify(signature=PUBLISHED_SIGNATURE.upper()) == KEY


def test_compact_json_escapes_non_ascii_like_the_sender() -> None:
    assert betstack.compact_json({"name": "Peña", "n": 1.5}) == b'{"name":"Pe\\u00f1a","n":1.5}'


# --- candidate bodies ---------------------------------------------------------------------


def _signed(obj: object, *, ensure_ascii: bool = True) -> tuple[bytes, str]:
    signed_body = json.dumps(obj, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
    return signed_body, betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, signed_body)


TICKET = {"action": "ticket_win", "data": {"player_id": "Juan Pérez", "note": "a  b", "x": 0.1}}


def test_pretty_printed_body_with_spaces_inside_strings_verifies() -> None:
    """Removing every space would break ``"Juan Pérez"``; the re-serialised form does not."""
    _, signature = _signed(TICKET)
    sent = json.dumps(TICKET, indent=2, ensure_ascii=False).encode()
    assert verify(body=sent, signature=signature) == KEY


def test_body_signed_with_raw_utf8_verifies_when_sent_escaped() -> None:
    _, signature = _signed(TICKET, ensure_ascii=False)
    sent = json.dumps(TICKET, indent=1).encode()
    assert verify(body=sent, signature=signature) == KEY


def test_spaces_added_inside_a_string_are_refused() -> None:
    """A captured message with spaces added inside `ticket_id` is another message: before,
    removing every space from the raw bytes made it verify (a replay as a new ticket)."""
    signed_body = b'{"action":"ticket_create","data":{"ticket_id":"T1"}}'
    signature = betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, signed_body)
    lifted = b'{"action":"ticket_create","data":{"ticket_id":"T 1"}}'
    assert reason_of(body=lifted, signature=signature) == BAD_SIGNATURE


def test_spaces_between_tokens_verify_through_the_reserialised_form() -> None:
    signed_body = b'{"a":1,"b":[1,2]}'
    signature = betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, signed_body)
    assert verify(body=b'{"a": 1, "b": [1, 2]}', signature=signature) == KEY


def test_verified_message_is_what_was_signed_whatever_the_spacing() -> None:
    signed_body = b'{"a":1,"b":[1,2]}'
    signature = betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, signed_body)
    spaced = verified(body=b'{"a": 1,  "b": [1, 2]}', signature=signature)
    compact = verified(body=signed_body, signature=signature)
    assert spaced.message == compact.message == PUBLISHED_TIMESTAMP.encode() + signed_body


def test_non_json_body_with_spaces_removed_is_refused() -> None:
    signature = betstack.sign(PUBLISHED_SECRET, PUBLISHED_TIMESTAMP, b"notjson")
    assert reason_of(body=b"not json", signature=signature) == BAD_SIGNATURE


def test_reordered_keys_are_refused() -> None:
    """Re-serialisation keeps key order: a reordered body is a different message."""
    _, signature = _signed({"a": 1, "b": 2})
    assert reason_of(body=b'{"b":2,"a":1}', signature=signature) == BAD_SIGNATURE


def test_candidate_bodies_follow_spec_order() -> None:
    body = '{"n": "é é", "v": 1}'.encode()
    assert betstack.candidate_bodies(body) == [
        body,
        '{"n":"é é","v":1}'.encode(),
        b'{"n":"\\u00e9 \\u00e9","v":1}',
    ]


def test_candidate_bodies_skip_reserialised_forms_for_unparseable_json() -> None:
    assert betstack.candidate_bodies(b"{not json ") == [b"{not json "]


def test_candidate_bodies_of_compact_ascii_json_is_just_the_body() -> None:
    assert betstack.candidate_bodies(PUBLISHED_BODY) == [PUBLISHED_BODY]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b'{"ext": 12.5}', b'{"ext":12.5}'),
        (b'{"a": 1.10, "b": 1e5, "c": 1E-7, "d": -0}', b'{"a":1.10,"b":1e5,"c":1E-7,"d":-0}'),
        (b"[NaN, Infinity, -Infinity]", b"[NaN,Infinity,-Infinity]"),
        (b'{"a": 1, "a": 2}', b'{"a":1,"a":2}'),
        (b'{"url": "a\\/b"}', b'{"url":"a/b"}'),
        (b" [ ] ", b"[]"),
    ],
)
def test_reserialise_keeps_number_tokens_key_order_and_duplicates(sent, expected) -> None:
    assert betstack.reserialise(sent, ensure_ascii=True) == expected


def test_reserialise_gives_up_on_lone_surrogate_only_for_raw_utf8() -> None:
    body = b'["\\ud800"]'
    assert betstack.reserialise(body, ensure_ascii=False) is None
    assert betstack.reserialise(body, ensure_ascii=True) == body


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[" * 5_000 + b"]" * 5_000, b"\xff\xfe", b"", b"\xef\xbb\xbf{}"],
    ids=["deep-unclosed", "deep-closed", "not-utf8", "empty", "bom"],
)
def test_hostile_bodies_are_refused_without_raising(body) -> None:
    assert reason_of(body=body) == BAD_SIGNATURE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(obj=json_values, indent=st.none() | st.integers(0, 4), ascii_sent=st.booleans())
def test_reserialise_reproduces_the_senders_compact_form(obj, indent, ascii_sent) -> None:
    """Property: whatever the client's formatting, re-serialising gives back what
    ``json.dumps(obj, separators=(",", ":"))`` produced, in both ``ensure_ascii`` forms."""
    sent = json.dumps(obj, indent=indent, ensure_ascii=ascii_sent).encode()
    for ensure_ascii in (True, False):
        expected = json.dumps(obj, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
        assert betstack.reserialise(sent, ensure_ascii=ensure_ascii) == expected


# --- empty body, headers helper -------------------------------------------------------------


def test_empty_body_signs_just_the_timestamp() -> None:
    expected = hmac.new(b"12345ABCDE", b"1706191612", hashlib.sha256).hexdigest()
    assert betstack.sign(PUBLISHED_SECRET, 1706191612, b"") == expected
    assert verify(body=b"", signature=expected) == KEY


def test_signed_headers_carry_timestamp_signature_and_operator() -> None:
    headers = betstack.signed_headers(
        PUBLISHED_SECRET, PUBLISHED_BODY, timestamp=NOW, operator="acme"
    )
    assert headers == {
        "timestamp": PUBLISHED_TIMESTAMP,
        "signature": PUBLISHED_SIGNATURE,
        "operator-name": "acme",
    }


def test_signed_headers_omit_operator_when_not_given() -> None:
    headers = betstack.signed_headers(PUBLISHED_SECRET, b"", timestamp=NOW)
    assert set(headers) == {betstack.TIMESTAMP_HEADER, betstack.SIGNATURE_HEADER}


# --- failure reasons ----------------------------------------------------------------------

OTHER_SIGNATURE = betstack.sign(OTHER_SECRET, PUBLISHED_TIMESTAMP, PUBLISHED_BODY)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"timestamp": None}, MISSING_HEADER, id="no-timestamp"),
        pytest.param({"timestamp": ""}, MISSING_HEADER, id="empty-timestamp"),
        pytest.param({"signature": None}, MISSING_HEADER, id="no-signature"),
        pytest.param({"signature": ""}, MISSING_HEADER, id="empty-signature"),
        pytest.param(
            {"signature": None, "timestamp": "x", "now": 0}, MISSING_HEADER, id="missing-first"
        ),
        pytest.param({"timestamp": "1706191612.0"}, MALFORMED, id="fractional-timestamp"),
        pytest.param({"timestamp": "17061916l2"}, MALFORMED, id="letter-in-timestamp"),
        pytest.param({"timestamp": " 1706191612"}, MALFORMED, id="padded-timestamp"),
        pytest.param({"timestamp": "1" * 20}, MALFORMED, id="huge-timestamp"),
        pytest.param({"signature": PUBLISHED_SIGNATURE[:-1]}, MALFORMED, id="63-hex"),
        pytest.param({"signature": PUBLISHED_SIGNATURE + "0"}, MALFORMED, id="65-hex"),
        pytest.param({"signature": "g" * 64}, MALFORMED, id="not-hex"),
        pytest.param({"signature": "sha256=" + PUBLISHED_SIGNATURE}, MALFORMED, id="prefixed"),
        pytest.param(
            {"signature": "z" * 64, "now": NOW + 10_000}, MALFORMED, id="malformed-before-stale"
        ),
        pytest.param({"now": NOW + 301}, STALE_TIMESTAMP, id="past"),
        pytest.param({"now": NOW - 301}, STALE_TIMESTAMP, id="future"),
        pytest.param(
            {"now": NOW + 61, "tolerance_s": 60}, STALE_TIMESTAMP, id="per-partner-tolerance"
        ),
        pytest.param({"signature": OTHER_SIGNATURE}, BAD_SIGNATURE, id="other-secret"),
        pytest.param({"body": PUBLISHED_BODY + b"\n1"}, BAD_SIGNATURE, id="body-appended"),
        pytest.param({"timestamp": "1706191613", "now": 1706191613}, BAD_SIGNATURE, id="ts"),
        pytest.param({"keys": []}, BAD_SIGNATURE, id="no-keys"),
        pytest.param(
            {"keys": [PartnerKey("old", PUBLISHED_SECRET, active=False)]},
            INACTIVE_KEY,
            id="inactive",
        ),
    ],
)
def test_refused_request_gives_reason(overrides, reason) -> None:
    assert reason_of(**overrides) == reason


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_verifies(offset) -> None:
    assert verify(now=NOW + offset) == KEY


def test_tolerance_zero_disables_the_window() -> None:
    ten_years = 10 * 365 * 86_400
    assert verify(now=NOW + ten_years, tolerance_s=0) == KEY
    assert verify(now=NOW - ten_years, tolerance_s=0) == KEY


def test_negative_tolerance_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tolerance_s"):
        verify(tolerance_s=-1)


def test_error_detail_never_contains_secret_or_signature() -> None:
    cases: list[dict[str, object]] = [
        {"signature": OTHER_SIGNATURE},
        {"now": NOW + 301},
        {"keys": [PartnerKey("old", PUBLISHED_SECRET, active=False)]},
        {"signature": PUBLISHED_SIGNATURE[:-1]},
    ]
    for overrides in cases:
        with pytest.raises(SignatureError) as caught:
            verify(**overrides)
        text = f"{caught.value} {caught.value.detail!r} {caught.value.args!r}"
        for secret in (PUBLISHED_SECRET, PUBLISHED_SIGNATURE[:16], OTHER_SIGNATURE[:16]):
            assert secret not in text


# --- rotation -----------------------------------------------------------------------------

OLD = PartnerKey(kid="2026-05", secret="old-secret", active=False)
NEW = PartnerKey(kid="2026-11", secret="new-secret", active=True)


def test_rotated_out_key_is_refused_as_inactive() -> None:
    signature = betstack.sign(OLD.secret, PUBLISHED_TIMESTAMP, PUBLISHED_BODY)
    with pytest.raises(SignatureError) as caught:
        verify(keys=[OLD, NEW], signature=signature)
    assert caught.value.reason == INACTIVE_KEY
    assert "2026-05" in caught.value.detail


def test_new_active_key_verifies_after_rotation() -> None:
    signature = betstack.sign(NEW.secret, PUBLISHED_TIMESTAMP, PUBLISHED_BODY)
    assert verify(keys=[OLD, NEW], signature=signature) == NEW


def test_two_active_keys_both_verify_during_overlap() -> None:
    first = PartnerKey("a", "secret-a")
    second = PartnerKey("b", "secret-b")
    for key in (first, second):
        signature = betstack.sign(key.secret, PUBLISHED_TIMESTAMP, PUBLISHED_BODY)
        assert verify(keys=[first, second], signature=signature) == key


# --- properties ---------------------------------------------------------------------------

secrets = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
timestamps = st.integers(min_value=0, max_value=10**10)


@given(secret=secrets, timestamp=timestamps, body=st.binary(max_size=300))
def test_sign_then_verify_round_trips(secret, timestamp, body) -> None:
    key = PartnerKey("k", secret)
    signature = betstack.sign(secret, timestamp, body)
    found = betstack.verify(
        [key],
        timestamp=str(timestamp),
        signature=signature,
        body=body,
        now=timestamp,
        tolerance_s=300,
    )
    assert found == betstack.Verified(key, str(timestamp).encode() + body)


def _assert_refused(key: PartnerKey, *, timestamp: str, signature: str, body: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        betstack.verify(
            [key], timestamp=timestamp, signature=signature, body=body, now=0, tolerance_s=0
        )
    assert caught.value.reason == BAD_SIGNATURE


@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_flipping_any_body_byte_fails(body, data) -> None:
    signature = betstack.sign(PUBLISHED_SECRET, 1, body)
    index = data.draw(st.integers(0, len(body) - 1))
    mask = data.draw(st.integers(1, 255))
    flipped = bytearray(body)
    flipped[index] ^= mask
    _assert_refused(KEY, timestamp="1", signature=signature, body=bytes(flipped))


safe_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=8
)
safe_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | safe_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(safe_text, children, max_size=4)
    ),
    max_leaves=12,
)


@given(obj=safe_json, data=st.data())
def test_flipping_any_byte_of_a_compact_json_body_fails(obj, data) -> None:
    """Even with the lenient candidate forms, a one-byte change is a different message."""
    body = betstack.compact_json(obj)
    signature = betstack.sign(PUBLISHED_SECRET, 1, body)
    index = data.draw(st.integers(0, len(body) - 1))
    mask = data.draw(st.integers(1, 255))
    flipped = bytearray(body)
    flipped[index] ^= mask
    _assert_refused(KEY, timestamp="1", signature=signature, body=bytes(flipped))


@given(timestamp=timestamps, data=st.data())
def test_flipping_any_timestamp_digit_fails(timestamp, data) -> None:
    text = str(timestamp)
    signature = betstack.sign(PUBLISHED_SECRET, text, PUBLISHED_BODY)
    index = data.draw(st.integers(0, len(text) - 1))
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != text[index]))
    flipped = text[:index] + digit + text[index + 1 :]
    _assert_refused(KEY, timestamp=flipped, signature=signature, body=PUBLISHED_BODY)


@given(index=st.integers(0, 63), data=st.data())
def test_flipping_any_signature_digit_fails(index, data) -> None:
    original = PUBLISHED_SIGNATURE[index]
    digit = data.draw(
        st.sampled_from("0123456789abcdefABCDEF").filter(lambda d: d.lower() != original)
    )
    flipped = PUBLISHED_SIGNATURE[:index] + digit + PUBLISHED_SIGNATURE[index + 1 :]
    _assert_refused(KEY, timestamp=PUBLISHED_TIMESTAMP, signature=flipped, body=PUBLISHED_BODY)
