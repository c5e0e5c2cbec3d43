"""Signed receipts (SPEC 1c): the security number tells genuine receipts from forgeries."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from signing import receipts
from signing.keys import Keyring, OwnKey

KEY = SigningKey(bytes(range(32)))
FORGER = SigningKey(bytes(range(100, 132)))
VERIFY_KEYS = [KEY.verify_key]

# Seed 003's example receipt (its security_number is replaced by ours).
RECEIPT: dict[str, object] = {
    "combination_numbers": "10,27,36,41,52,56",
    "transaction_date": "22/12/2025 20:19:57",
    "store_id": "26226",
    "pos_id": "1",
    "foreign_pos_id": "1",
    "transaction_number": "432930881",
    "reference_number": "801500019-35600002",
    "session_id": "80150001900",
    "serial_number": "4815-052713529-200818",
    "creation_date": 1769621353354,
    "ticket_image": "iVBORw0KGgoAAAANSUhEUgAAAAUA",
}


def signed(receipt: dict[str, object] | None = None, key: SigningKey = KEY) -> dict[str, object]:
    receipt = dict(RECEIPT if receipt is None else receipt)
    receipt["security_number"] = receipts.security_number(key, receipt)
    return receipt


GENUINE = signed()


def test_genuine_receipt_verifies() -> None:
    assert receipts.verify_receipt(VERIFY_KEYS, GENUINE) == (True, None)


def test_security_number_is_dash_separated_groups_of_eight_base32() -> None:
    number = GENUINE["security_number"]
    assert isinstance(number, str)
    assert re.fullmatch(r"([A-Z2-7]{8}-){12}[A-Z2-7]{7}", number)


def test_security_number_is_deterministic() -> None:
    """Ed25519 is deterministic: reprinting a receipt gives the same number."""
    assert receipts.security_number(KEY, RECEIPT) == GENUINE["security_number"]


@pytest.mark.parametrize(
    "retype",
    [
        pytest.param(str.lower, id="lowercase"),
        pytest.param(lambda s: s.replace("-", ""), id="no-dashes"),
        pytest.param(lambda s: s.replace("-", " "), id="spaces"),
        pytest.param(lambda s: s.replace("-", "").lower() + "=", id="padding"),
    ],
)
def test_retyped_security_number_verifies(retype) -> None:
    receipt = dict(GENUINE, security_number=retype(GENUINE["security_number"]))
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (True, None)


@pytest.mark.parametrize("field", receipts.RECEIPT_FIELDS)
def test_altered_field_fails(field) -> None:
    value = GENUINE[field]
    altered = value + 1 if isinstance(value, int) else str(value) + "1"
    receipt = dict(GENUINE, **{field: altered})
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "bad_signature")


def test_creation_date_as_a_string_is_a_different_receipt() -> None:
    receipt = dict(GENUINE, creation_date=str(GENUINE["creation_date"]))
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "bad_signature")


def test_ticket_image_is_not_signed() -> None:
    receipt = dict(GENUINE, ticket_image="another image")
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (True, None)


def test_receipt_signed_by_another_key_is_forged() -> None:
    forged = signed(key=FORGER)
    assert receipts.verify_receipt(VERIFY_KEYS, forged) == (False, "bad_signature")


def test_security_number_copied_onto_another_ticket_fails() -> None:
    other = signed(dict(RECEIPT, serial_number="4815-000000000-000000"))
    receipt = dict(other, security_number=GENUINE["security_number"])
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "bad_signature")


def test_signature_without_the_receipt_domain_prefix_fails() -> None:
    """A signature by the right key over the bare JSON (e.g. some other message the key
    signed) is not a receipt signature."""
    bare = receipts.canonical_bytes(RECEIPT).removeprefix(receipts.DOMAIN)
    number = receipts.format_security_number(KEY.sign(bare).signature)
    receipt = dict(RECEIPT, security_number=number)
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "bad_signature")


def test_no_keys_means_no_receipt_verifies() -> None:
    assert receipts.verify_receipt([], GENUINE) == (False, "bad_signature")


def test_receipt_signed_by_a_retired_keyring_key_still_verifies() -> None:
    ring = Keyring([OwnKey("2027", FORGER), OwnKey("2026", KEY, active=False)])
    assert receipts.verify_receipt(ring.verify_keys(), GENUINE) == (True, None)
    assert receipts.verify_receipt([vk for _, vk in ring.verify_keys()], GENUINE) == (True, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"serial_number": None}, "malformed_field", id="null-field"),
        pytest.param({"creation_date": 1.5}, "malformed_field", id="float-field"),
        pytest.param({"creation_date": True}, "malformed_field", id="bool-field"),
        pytest.param({"security_number": 12}, "malformed_security_number", id="number"),
        pytest.param({"security_number": ""}, "malformed_security_number", id="empty"),
        pytest.param(
            {"security_number": "HQTNM5-HY9YF%-QS5NZ4-Q8&Z4&-HMJ#8"},
            "malformed_security_number",
            id="seed-003-example",
        ),
        pytest.param(
            {"security_number": str(GENUINE["security_number"])[:-1]},
            "malformed_security_number",
            id="truncated",
        ),
        pytest.param(
            {"security_number": str(GENUINE["security_number"]) + "A"},
            "malformed_security_number",
            id="extended",
        ),
        pytest.param(
            {"security_number": "0" + str(GENUINE["security_number"])[1:]},
            "malformed_security_number",
            id="zero",
        ),
    ],
)
def test_malformed_receipt_gives_reason(change, reason) -> None:
    receipt = dict(GENUINE, **change)
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, reason)


@pytest.mark.parametrize("field", [*receipts.RECEIPT_FIELDS, "security_number"])
def test_missing_field_gives_missing_field(field) -> None:
    receipt = {name: value for name, value in GENUINE.items() if name != field}
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "missing_field")


def test_a_receipt_that_is_not_an_object_is_malformed() -> None:
    assert receipts.verify_receipt(VERIFY_KEYS, ["not", "a", "receipt"]) == (  # type: ignore[arg-type]
        False,
        "malformed_receipt",
    )


def test_stray_padding_bits_make_a_security_number_malformed() -> None:
    """103 base32 characters carry 515 bits for 512: the last 3 must be zero."""
    compact = str(GENUINE["security_number"]).replace("-", "")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    twin = compact[:-1] + alphabet[alphabet.index(compact[-1]) ^ 1]
    receipt = dict(GENUINE, security_number=twin)
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (False, "malformed_security_number")


def test_canonical_bytes_are_sorted_compact_json_of_exactly_the_signed_fields() -> None:
    data = receipts.canonical_bytes(GENUINE)
    assert data.startswith(receipts.DOMAIN)
    decoded = json.loads(data.removeprefix(receipts.DOMAIN))
    assert list(decoded) == sorted(receipts.RECEIPT_FIELDS)
    assert b" " not in data.removeprefix(receipts.DOMAIN).replace(b"22/12/2025 20", b"")


def test_canonical_bytes_ignore_mapping_order() -> None:
    reordered = dict(reversed(list(RECEIPT.items())))
    assert receipts.canonical_bytes(reordered) == receipts.canonical_bytes(RECEIPT)


def test_canonical_bytes_refuse_a_missing_field() -> None:
    receipt = {name: value for name, value in RECEIPT.items() if name != "pos_id"}
    with pytest.raises(ValueError, match="pos_id"):
        receipts.canonical_bytes(receipt)


def test_signing_fields_are_everything_but_security_number_and_image() -> None:
    assert set(receipts.RECEIPT_FIELDS) == set(RECEIPT) - {"ticket_image"}


@given(data=st.data())
def test_changing_any_character_of_the_security_number_fails(data) -> None:
    number = str(GENUINE["security_number"])
    positions = [i for i, ch in enumerate(number) if ch != "-"]
    index = data.draw(st.sampled_from(positions))
    char = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").filter(lambda c: c != number[index])
    )
    receipt = dict(GENUINE, security_number=number[:index] + char + number[index + 1 :])
    valid, reason = receipts.verify_receipt(VERIFY_KEYS, receipt)
    assert not valid
    assert reason in ("bad_signature", "malformed_security_number")


@given(
    fields=st.fixed_dictionaries(
        {name: st.text() for name in receipts.RECEIPT_FIELDS if name != "creation_date"}
        | {"creation_date": st.integers(0, 2**53)}
    )
)
def test_any_receipt_round_trips(fields) -> None:
    receipt = signed(fields)
    assert receipts.verify_receipt(VERIFY_KEYS, receipt) == (True, None)
