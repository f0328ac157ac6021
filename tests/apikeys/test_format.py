"""The token format: generate, parse, checksum, and refusal of every malformed shape."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore import apikeys
from authcore.apikeys._format import (
    ALPHABET,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    KEY_ID_LENGTH,
    SECRET_LENGTH,
    _decode62,
    _encode62,
    make_splitter,
)
from authcore.errors import ConfigurationError, MalformedKey

prefixes = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,5}){0,3}", fullmatch=True).filter(
    lambda p: len(p) <= 32
)


@given(prefixes)
def test_generate_parse_round_trip(prefix: str) -> None:
    """parse(generate(p).token) gives back the prefix, key id and secret."""
    key = apikeys.generate(prefix)
    parsed = apikeys.parse(key.token)
    assert (parsed.prefix, parsed.key_id, parsed.secret) == (prefix, key.key_id, key.secret)
    assert apikeys.parse(key.token, prefix=prefix) == parsed
    assert key.token == f"{prefix}_{key.key_id}{key.secret}{key.token[-CHECKSUM_LENGTH:]}"


def test_layout_and_entropy() -> None:
    """Key id 16, secret 43 (>= 256 bits) and checksum 6 base62 characters."""
    assert 62**SECRET_LENGTH >= 2**256
    assert 62**CHECKSUM_LENGTH >= 2**32
    key = apikeys.generate("sk_live")
    tail = key.token.removeprefix("sk_live_")
    assert len(tail) == BODY_LENGTH + CHECKSUM_LENGTH
    assert set(tail) <= set(ALPHABET)
    assert len(key.key_id) == KEY_ID_LENGTH
    assert len(key.secret) == SECRET_LENGTH


def test_generated_keys_differ() -> None:
    """Two generated keys share neither id nor secret."""
    keys = [apikeys.generate("sk") for _ in range(200)]
    assert len({k.key_id for k in keys}) == 200
    assert len({k.secret for k in keys}) == 200


@given(st.integers(min_value=0, max_value=62**8 - 1))
def test_base62_round_trip(value: int) -> None:
    """Fixed-width base62 encodes and decodes every value."""
    assert _decode62(_encode62(value, 8)) == value


def _substitutions(token: str, rng: random.Random, per_position: int) -> list[tuple[int, str]]:
    charset = ALPHABET + "_-+/=. " + string.punctuation + "é\x00"
    out: list[tuple[int, str]] = []
    for position, original in enumerate(token):
        choices = [c for c in charset if c != original]
        out.extend((position, c) for c in rng.sample(choices, per_position))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_every_single_substitution_is_refused(seed: int) -> None:
    """Changing any one character of a token (every position, sampled characters) is refused.

    Positions after the prefix are caught by the checksum (or the charset); the prefix and its
    separator by the expected-prefix check.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling of test inputs
    key = apikeys.generate("sk_live")
    body_start = len("sk_live_")
    caught_by_checksum = 0
    for position, char in _substitutions(key.token, rng, 12):
        mutated = key.token[:position] + char + key.token[position + 1 :]
        with pytest.raises(MalformedKey) as info:
            apikeys.parse(mutated, prefix="sk_live")
        if position >= body_start and char in ALPHABET:
            assert info.value.reason == "checksum mismatch"
            caught_by_checksum += 1
    assert caught_by_checksum > 0


def test_every_base62_substitution_in_the_body_fails_the_checksum() -> None:
    """Exhaustively: all 61 replacements at every body and checksum position fail the CRC."""
    key = apikeys.generate("pk")
    start = len("pk_")
    for position in range(start, len(key.token)):
        for char in ALPHABET:
            if char == key.token[position]:
                continue
            mutated = key.token[:position] + char + key.token[position + 1 :]
            with pytest.raises(MalformedKey, match="checksum mismatch"):
                apikeys.parse(mutated)


_REASONS = {
    "too long",
    "no prefix separator",
    "wrong length",
    "characters outside base62",
    "invalid prefix",
    "checksum mismatch",
    "an API key must be str or bytes, got str",
}


@given(st.text(max_size=120))
@settings(max_examples=500)
def test_arbitrary_text_raises_only_malformed_key(text: str) -> None:
    """Random text raises MalformedKey with one of the fixed reasons (never echoing input)."""
    with pytest.raises(MalformedKey) as info:
        apikeys.parse(text)
    assert info.value.reason.split(" (")[0] in _REASONS


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "no prefix separator"),
        ("sk" + "A" * 65, "no prefix separator"),
        ("sk_" + "A" * 64, "wrong length"),
        ("sk_" + "A" * 66, "wrong length"),
        ("sk_" + "A" * 64 + "-", "characters outside base62"),
        ("sk_" + "A" * 64 + "é", "characters outside base62"),
        ("Sk_" + "A" * 65, "invalid prefix"),
        ("_" + "A" * 65, "invalid prefix"),
        ("sk__x_" + "A" * 65, "invalid prefix"),
        ("1k_" + "A" * 65, "invalid prefix"),
        ("sk_" + "A" * 65, "checksum mismatch"),
        ("a" * 40 + "_" + "A" * 65, "too long"),
        ("x" * 10_000, "too long"),
    ],
)
def test_malformed_shapes(token: str, reason: str) -> None:
    """Each malformed shape raises MalformedKey with a precise reason and without the token."""
    with pytest.raises(MalformedKey) as info:
        apikeys.parse(token)
    assert info.value.reason.startswith(reason)
    assert "AAAAAAAA" not in str(info.value)


@pytest.mark.parametrize("value", [None, b"sk_abc", b"\xff" * 70, 42, ["sk"], b"x" * 10**6])
def test_non_string_tokens(value: object) -> None:
    """A token that is not text or ASCII bytes of a key is MalformedKey, not TypeError."""
    with pytest.raises(MalformedKey):
        apikeys.parse(value)  # type: ignore[arg-type]


def test_unexpected_prefix() -> None:
    """A valid key of another prefix is refused when a prefix is expected."""
    key = apikeys.generate("sk_test")
    with pytest.raises(MalformedKey, match="unexpected prefix"):
        apikeys.parse(key.token, prefix="sk_live")


@pytest.mark.parametrize(
    "prefix", ["", "SK", "sk-live", "sk__live", "_sk", "sk_", "1sk", "a" * 33, "ék", None, 3]
)
def test_invalid_prefixes_are_configuration_errors(prefix: object) -> None:
    """generate() and parse(prefix=...) refuse an invalid prefix as a caller mistake."""
    with pytest.raises(ConfigurationError):
        apikeys.generate(prefix)  # type: ignore[arg-type]
    if prefix is not None:  # None means "any prefix"
        with pytest.raises(ConfigurationError):
            apikeys.parse("sk_" + "A" * 65, prefix=prefix)  # type: ignore[arg-type]


def test_reprs_hide_secrets() -> None:
    """Neither the token nor the secret appears in a repr."""
    key = apikeys.generate("sk")
    parsed = apikeys.parse(key.token)
    for text in (repr(key), repr(parsed)):
        assert key.secret not in text
        assert key.key_id in text


@given(
    st.sampled_from(["sk_live", "pk", "a1_b2"]),
    st.integers(min_value=0, max_value=80),
    st.sampled_from([*ALPHABET, "_", "-", "é", "٣", "\x00", ""]),
)
@settings(max_examples=1000)
def test_fast_splitter_agrees_with_parse(prefix: str, position: int, char: str) -> None:
    """The verify fast path accepts exactly what parse(prefix=...) accepts, with equal parts."""
    token = apikeys.generate(prefix).token
    mutated = token[:position] + char + token[position + 1 :]
    split = make_splitter(prefix)
    try:
        parsed = apikeys.parse(mutated, prefix=prefix)
    except MalformedKey:
        with pytest.raises(MalformedKey):
            split(mutated)
    else:
        assert split(mutated) == (parsed.key_id, parsed.secret.encode())


def test_fast_splitter_refuses_checksum_characters_outside_base62() -> None:
    """A non-base62 character in the checksum never passes, even where it would decode to 0.

    The fast path checks the checksum's charset through the comparison itself: such a byte
    decodes to 2**32, which no CRC32 equals.  A token whose checksum starts with "0" (value
    0) is the case a decoder mapping unknown bytes to 0 would wrongly accept.
    """
    split = make_splitter("sk")
    token = next(t for t in iter(lambda: apikeys.generate("sk").token, None) if t[-6] == "0")
    assert split(token)[0] == apikeys.parse(token).key_id
    for char in ("\x00", " ", "-", "_", ".", "~", "\x7f"):
        with pytest.raises(MalformedKey):
            split(token[:-6] + char + token[-5:])
        with pytest.raises(MalformedKey):
            split((token[:-6] + char + token[-5:]).encode())


def test_fast_splitter_takes_bytes_and_refuses_other_types() -> None:
    """The fast path splits ASCII bytes like their text; other types are MalformedKey."""
    split = make_splitter("sk")
    token = apikeys.generate("sk").token
    for value in (token.encode(), bytearray(token.encode()), memoryview(token.encode())):
        assert split(value) == split(token)  # type: ignore[arg-type]
    for bad in (None, 7, ["sk"], token.encode("utf-16"), token.encode()[:-1] + b"\xff"):
        with pytest.raises(MalformedKey):
            split(bad)  # type: ignore[arg-type]


def test_parse_takes_bytes_like_text() -> None:
    """parse() gives the same parts for a token as str and as ASCII bytes."""
    token = apikeys.generate("sk_live").token
    assert apikeys.parse(token.encode()) == apikeys.parse(token)
    assert apikeys.parse(bytearray(token.encode()), prefix="sk_live") == apikeys.parse(token)  # type: ignore[arg-type]
