"""The hot-path decoders agree exactly with the strict reference decoders in authcore._encoding."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from authcore._encoding import b64url_decode, b64url_encode, json_loads
from authcore.errors import DecodeError
from authcore.jose._fast import b64d, b64d_known_alphabet, compact_alphabet_ok, loads

_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except DecodeError:
        return ("error", None)


@settings(max_examples=2000)
@given(
    text=st.one_of(
        st.text(alphabet=_B64_CHARS, max_size=40),
        st.text(alphabet=_B64_CHARS + "=+/ .\n\x00\u00e9", max_size=40),
    )
)
@example(text="AB")
@example(text="AQ")
@example(text="AQ==")
@example(text="A")
@example(text="")
@example(text="ABC")
@example(text="ABD")
def test_b64d_matches_reference(text: str) -> None:
    """b64d accepts and refuses exactly what _encoding.b64url_decode does, with equal bytes."""
    raw = text.encode("utf-8")
    expected = _outcome(b64url_decode, text)
    assert _outcome(b64d, raw, "x") == expected
    if "." not in text and compact_alphabet_ok(raw + b".."):
        assert _outcome(b64d_known_alphabet, raw, "x") == expected


@given(data=st.binary(max_size=64))
def test_b64d_round_trip(data: bytes) -> None:
    """Whatever b64url_encode produces, b64d decodes back."""
    assert b64d(b64url_encode(data).encode(), "x") == data


def test_compact_alphabet_ok() -> None:
    """Only base64url characters and exactly two dots pass the whole-token check."""
    assert compact_alphabet_ok(b"ab.cd.ef")
    assert compact_alphabet_ok(b"..")
    assert not compact_alphabet_ok(b"ab.cd")
    assert not compact_alphabet_ok(b"a.b.c.d")
    assert not compact_alphabet_ok(b"ab.c=.ef")
    assert not compact_alphabet_ok(b"ab.c d.ef")


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=1000)
@given(value=_json_values, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_loads_matches_reference_on_valid_json(
    value: Any, indent: int | None, ascii_only: bool
) -> None:
    """For any JSON document, loads and json_loads return equal values or both refuse."""
    raw = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _outcome(loads, raw, "x") == _outcome(json_loads, raw)


@settings(max_examples=1000)
@given(
    text=st.text(alphabet='{}[]":,0123456789.eE-+ \\u"abtruefalsnNIfy\t\n', max_size=60),
)
@example(text='{"a":1,"a":2}')
@example(text='{"a":1e999}')
@example(text='{"a":NaN}')
@example(text="[" * 40 + "]" * 40)
@example(text='{"a":"\\ud800"}')
@example(text='{"a":123456789012345678901234567890123}')
@example(text=' {"a":1} ')
@example(text='{"a":1} x')
def test_loads_matches_reference_on_arbitrary_text(text: str) -> None:
    """For arbitrary JSON-ish text, loads and json_loads agree on the value or the refusal."""
    raw = text.encode("utf-8")
    assert _outcome(loads, raw, "x") == _outcome(json_loads, raw)


def test_loads_refuses_invalid_utf8() -> None:
    """Invalid UTF-8 is a DecodeError from both."""
    assert _outcome(loads, b'{"a":"\xff"}', "x") == ("error", None)
    assert _outcome(json_loads, b'{"a":"\xff"}') == ("error", None)
