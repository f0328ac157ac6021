"""Strict base64url and JSON (authcore._encoding)."""

from __future__ import annotations

import base64
import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore._encoding import (
    MAX_JSON_DEPTH,
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads,
)
from authcore.errors import DecodeError, EncodeError

_ALPHABET = string.ascii_letters + string.digits + "-_"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.binary(max_size=200))
def test_b64url_round_trip(data: bytes) -> None:
    """Encoding then decoding gives the bytes back, from str and from bytes."""
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert b64url_decode(encoded) == data
    assert b64url_decode(encoded.encode("ascii")) == data


@given(st.text(max_size=40))
def test_b64url_accepts_only_the_canonical_encoding(text: str) -> None:
    """Any text decodes only if it is exactly the canonical encoding of its bytes."""
    try:
        decoded = b64url_decode(text)
    except DecodeError:
        return
    assert b64url_encode(decoded) == text


@given(st.binary(max_size=200))
def test_b64url_never_raises_other_errors(data: bytes) -> None:
    """Arbitrary bytes either decode or raise DecodeError."""
    try:
        b64url_decode(data)
    except DecodeError:
        pass


@given(st.binary(min_size=1, max_size=60))
def test_b64url_rejects_non_canonical_trailing_bits(data: bytes) -> None:
    """Flipping an unused low bit of the last character is refused."""
    encoded = b64url_encode(data)
    if len(encoded) % 4 == 0:
        return
    last = _ALPHABET.index(encoded[-1])
    tampered = encoded[:-1] + _ALPHABET[last | 1]
    with pytest.raises(DecodeError, match="canonical"):
        b64url_decode(tampered)


@pytest.mark.parametrize(
    "text",
    [
        "YQ==",  # padding
        "YQ=",
        "Y Q",  # whitespace
        "YQ\n",
        "a+b/",  # standard alphabet
        "abcde",  # length % 4 == 1
        "YR",  # non-zero trailing bits ("a" is YQ)
        "\u00e9\u00e9",
    ],
)
def test_b64url_rejects(text: str) -> None:
    """Padding, whitespace, the standard alphabet, impossible lengths and junk are refused."""
    with pytest.raises(DecodeError):
        b64url_decode(text)


def test_b64url_rejects_wrong_type() -> None:
    """A non-text argument is a DecodeError, not a TypeError."""
    with pytest.raises(DecodeError, match="expected str or bytes"):
        b64url_decode(123)  # type: ignore[arg-type]


def test_b64url_matches_stdlib() -> None:
    """The decoder agrees with the standard library on canonical input."""
    data = bytes(range(256))
    assert b64url_decode(b64url_encode(data)) == base64.urlsafe_b64decode(
        base64.urlsafe_b64encode(data)
    )


@given(json_values)
def test_json_round_trip(value: object) -> None:
    """Canonical dumps parse back to the same value."""
    assert json_loads(json_dumps(value)) == value


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_json_dumps_is_canonical(value: dict[str, int]) -> None:
    """Dumps sorts keys, has no whitespace and is UTF-8."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json_dumps(value) == expected.encode("utf-8")


@given(st.binary(max_size=200))
def test_json_never_raises_other_errors(data: bytes) -> None:
    """Arbitrary bytes either parse or raise DecodeError."""
    try:
        json_loads(data)
    except DecodeError:
        pass


@given(st.text(max_size=100))
def test_json_text_never_raises_other_errors(text: str) -> None:
    """Arbitrary text either parses or raises DecodeError."""
    try:
        json_loads(text)
    except DecodeError:
        pass


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate member name 'a'"),
        (b'{"x":{"b":1,"b":1}}', "duplicate member name 'b'"),
        (b"NaN", "NaN is not allowed"),
        (b"[Infinity]", "Infinity is not allowed"),
        (b"-Infinity", "-Infinity is not allowed"),
        (b"1e400", "number out of range"),
        (b"1" * 33, "integer longer than 32 digits"),
        (b"\xef\xbb\xbf{}", "invalid JSON"),
        (b"\xff{}", "not UTF-8"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b"{'a': 1}", "invalid JSON"),
        (b"", "invalid JSON"),
        (b'"\x00"', "invalid JSON"),
    ],
)
def test_json_rejects(data: bytes, reason: str) -> None:
    """Duplicates, NaN/Infinity, overflow, long integers, BOM, bad UTF-8, surrogates, depth."""
    with pytest.raises(DecodeError, match=reason):
        json_loads(data, what="payload")


def test_json_reason_names_the_item() -> None:
    """The reason starts with the caller's name for the item."""
    with pytest.raises(DecodeError) as info:
        json_loads(b"{", what="JWT header")
    assert info.value.reason.startswith("JWT header: ")


def test_json_depth_limit_is_exact() -> None:
    """Nesting exactly at the limit parses; brackets inside strings do not count."""
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_loads(at_limit) is not None
    in_string = json.dumps(["[" * 1000, '{\\"' * 10])
    assert json_loads(in_string) == json.loads(in_string)


def test_json_deep_nesting_is_rejected_before_recursion() -> None:
    """A megabyte of brackets is refused with DecodeError, not RecursionError."""
    with pytest.raises(DecodeError, match="nested deeper"):
        json_loads("[" * 1_000_000)


def test_json_custom_limits() -> None:
    """max_depth and max_int_digits can be tightened or relaxed."""
    with pytest.raises(DecodeError, match="nested deeper than 1"):
        json_loads("[[1]]", max_depth=1)
    with pytest.raises(DecodeError, match="longer than 3 digits"):
        json_loads("[1000]", max_int_digits=3)
    assert json_loads("-1000", max_int_digits=4) == -1000
    assert json_loads("1" * 40, max_int_digits=40) == int("1" * 40)


def test_json_surrogate_pairs_are_fine() -> None:
    """A correctly paired surrogate escape decodes to one character."""
    assert json_loads('"\\ud83d\\ude00"') == "\U0001f600"


def test_json_rejects_wrong_type() -> None:
    """A non-text argument is a DecodeError."""
    with pytest.raises(DecodeError, match="expected str or bytes"):
        json_loads(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), {"a": object()}, "\ud800", {("a",): 1}])
def test_json_dumps_rejects(value: object) -> None:
    """Values that are not strict JSON raise EncodeError."""
    with pytest.raises(EncodeError):
        json_dumps(value)


# ----------------------------------------------------------------------------- depth pre-scan


def _reference_depth(text: str) -> int:
    """The nesting depth, character by character (the slow, obvious definition)."""
    depth = best = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


class _CountingDecoder:
    """Stands in for the JSON decoder and counts the texts handed to it."""

    def __init__(self, real: json.JSONDecoder) -> None:
        self.real = real
        self.calls = 0

    def decode(self, text: str) -> object:
        self.calls += 1
        return self.real.decode(text)


_MIB = 1024 * 1024


@pytest.mark.parametrize(
    "body",
    [
        "[" * _MIB,
        "{" * _MIB,
        '{"a":' * (_MIB // 5),
        "[" * (_MIB // 2) + "]" * (_MIB // 2),
        "[[]" * (_MIB // 3),
        "[ " * (_MIB // 2),
        "[" * 33 + "]" * 33,
    ],
    ids=["brackets", "braces", "members", "balanced", "staircase", "spaced", "just-33"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_deep_bodies_are_refused_by_the_prescan_alone(
    body: str, monkeypatch: pytest.MonkeyPatch, *, as_bytes: bool
) -> None:
    """Bodies nested past 32 (up to 1 MiB of them) never reach the JSON decoder."""
    import authcore._encoding as encoding  # noqa: PLC0415 - the module whose decoder is counted

    spy = _CountingDecoder(encoding._DEFAULT_DECODER)
    monkeypatch.setattr(encoding, "_DEFAULT_DECODER", spy)
    with pytest.raises(DecodeError, match="nested deeper than 32"):
        json_loads(body.encode() if as_bytes else body)
    assert spy.calls == 0


@pytest.mark.parametrize(
    "text",
    [
        "[" * 32 + "]" * 32,
        "[" + ("[" * 31 + "]" * 31 + ",") * 100 + "1]",
        '["' + "[" * 1000 + '"]',
        '{"a":"' + "{[" * 500 + '","b":[' + "[" * 30 + "]" * 30 + "]}",
        '["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]',
    ],
    ids=["exactly-32", "many-32", "brackets-in-string", "mixed", "escaped-quote"],
)
def test_nesting_up_to_the_limit_and_brackets_in_strings_pass(text: str) -> None:
    """Depth 32 is accepted, and brackets inside strings never count."""
    wrapped = text if text.startswith(("[", "{")) else f"[{text}]"
    assert json_loads(wrapped) == json.loads(wrapped)


_JSON_SHAPES = st.recursive(
    st.one_of(st.integers(-1000, 1000), st.text(alphabet='[]{}"\\ab', max_size=6), st.none()),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(alphabet="[{k", max_size=3), children, max_size=3),
    ),
    max_leaves=60,
)


@given(value=_JSON_SHAPES, max_depth=st.integers(min_value=1, max_value=40))
def test_prescan_agrees_with_the_reference_depth(value: object, max_depth: int) -> None:
    """The linear pre-scan refuses exactly the texts deeper than max_depth."""
    text = json.dumps(value)
    deep = _reference_depth(text) > max_depth
    if deep:
        with pytest.raises(DecodeError, match="nested deeper"):
            json_loads(text, max_depth=max_depth)
    else:
        assert json_loads(text, max_depth=max_depth) == value
