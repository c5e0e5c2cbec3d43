"""The one request-body decoder: what it refuses, however the body is written, and what it
lets through unchanged (the walk over the decoded value is skipped only when the raw bytes
prove it could find nothing)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from gateway.http.jsonbody import MAX_DEPTH, SURROGATE, BadJSON, decode


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a":"x\\ud800"}', id="escaped"),
        pytest.param(b'{"a":"x\xed\xa0\x80"}', id="utf-8-bytes"),  # json.loads lets it through
        pytest.param('{"a":"x\\ud800"}'.encode("utf-16"), id="escaped-in-utf-16"),
        pytest.param(b'{"\xed\xb0\x80":1}', id="utf-8-bytes-in-a-key"),
        pytest.param(b'{"a":["ok","\\udfff"]}', id="escaped-in-a-list"),
    ],
)
def test_a_lone_surrogate_is_refused_however_it_is_written(raw: bytes) -> None:
    with pytest.raises(BadJSON) as caught:
        decode(raw)
    assert str(caught.value) == SURROGATE


def test_nesting_past_the_limit_is_refused_and_just_below_it_accepted() -> None:
    deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    with pytest.raises(BadJSON, match="nest"):
        decode(deep)
    fine = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert decode(fine) == json.loads(fine)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"action":"ticket_create","data":{"price":500,"ext":12.5,"tags":["a","b"]}}',
        b'{"text":"' + b"{[" * 40 + b'"}',  # brackets inside a string are not nesting
        '{"name":"Ni\u00f1o \U0001f600"}'.encode(),  # non-ASCII, no surrogate
        b'{"a":"line\\nbreak \\u00e9 \\ud83d\\ude00"}',  # escapes, a valid pair
    ],
)
def test_good_bodies_decode_as_json_does(raw: bytes) -> None:
    assert decode(raw) == json.loads(raw, parse_float=Decimal)
