"""Differential tests: the fast strict decoders agree exactly with plain reference ones.

``b64url_decode`` checks its alphabet with ``bytes.translate`` and decodes with ``binascii``; the
reference below is the obvious regular-expression version.  ``json_loads`` on bytes takes a fast
path through the C scanner; on text it always takes the strict path, which is the reference.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from authcore._encoding import (
    B64URL_ALPHABET,
    b64url_decode,
    b64url_decode_known_alphabet,
    b64url_encode,
    json_loads,
)
from authcore.errors import DecodeError

_B64_CHARS = B64URL_ALPHABET.decode("ascii")
_REFERENCE_RE = re.compile(r"[A-Za-z0-9_-]*")


def _reference_b64url(text: str) -> bytes:
    """Strict base64url the slow, obvious way: regex, length, and re-encoding must round-trip."""
    if _REFERENCE_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise DecodeError("reference: refused")
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != text:
        raise DecodeError("reference: not canonical")
    return decoded


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args, **kwargs))
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
def test_b64url_decode_matches_reference(text: str) -> None:
    """b64url_decode accepts and refuses exactly what the reference does, with equal bytes."""
    expected = _outcome(_reference_b64url, text)
    assert _outcome(b64url_decode, text) == expected
    raw = text.encode("utf-8")
    assert _outcome(b64url_decode, raw) == expected
    if not raw.translate(None, B64URL_ALPHABET):
        assert _outcome(b64url_decode_known_alphabet, raw, "x") == expected


@given(data=st.binary(max_size=64))
def test_b64url_decode_round_trip_bytes(data: bytes) -> None:
    """Whatever b64url_encode produces decodes back from bytes input."""
    assert b64url_decode(b64url_encode(data).encode()) == data


def _strict(raw: bytes) -> Any:
    """The strict path: json_loads on text never takes the fast path."""
    return json_loads(raw.decode("utf-8"))


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
    """For any JSON document the fast and strict paths return equal values or both refuse."""
    raw = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _outcome(json_loads, raw) == _outcome(_strict, raw)


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
    """For arbitrary JSON-ish text the fast and strict paths agree on value or refusal."""
    raw = text.encode("utf-8")
    assert _outcome(json_loads, raw) == _outcome(_strict, raw)


def test_loads_refuses_invalid_utf8() -> None:
    """Invalid UTF-8 is a DecodeError from both."""
    assert _outcome(json_loads, b'{"a":"\xff"}') == ("error", None)
