"""Strict base64url and JSON for token segments, tuned for the verification hot path.

Accepts exactly what :func:`authcore._encoding.b64url_decode` accepts (the URL-safe alphabet, no
padding, length % 4 != 1, zero unused trailing bits) and raises the same
:class:`~authcore.errors.DecodeError`; a property test holds the two to the same behaviour.  It
works on ``bytes`` segments of an ASCII token and does the alphabet check with one C-level
``bytes.translate`` instead of a regular expression, then decodes with ``binascii`` directly.

:func:`loads` returns exactly what :func:`authcore._encoding.json_loads` returns and refuses
exactly what it refuses: it runs the C scanner directly (skipping ``json.loads`` and the
per-integer hooks) on texts that cannot hit any of the strict rules' corner cases, and hands
every other text, and every failure, to ``json_loads`` itself, which then decides.
"""

from __future__ import annotations

import json
import math
from binascii import a2b_base64
from typing import Any, Final

from authcore._encoding import MAX_INT_DIGITS, MAX_JSON_DEPTH, json_loads
from authcore.errors import AuthcoreError, DecodeError

__all__ = ["B64URL_ALPHABET", "b64d", "b64d_known_alphabet", "compact_alphabet_ok", "loads"]

B64URL_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ALPHABET: Final = B64URL_ALPHABET
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
# The last character of a segment with 2 (3) characters in its final quantum may only carry
# 2 (4) data bits: its alphabet index must be a multiple of 16 (4).
_LAST_2: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 16 == 0)
_LAST_3: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 4 == 0)


def b64d(segment: bytes, what: str) -> bytes:
    """Decode one strict, unpadded, canonical base64url segment.

    Args:
        segment: The encoded bytes (ASCII).
        what: The segment's name for the error reason.

    Raises:
        DecodeError: On a character outside the alphabet (padding, whitespace included), an
            impossible length or non-zero unused bits.
    """
    if segment.translate(None, _ALPHABET):
        raise DecodeError(f"{what}: not base64url (bad character or padding)")
    rem = len(segment) & 3
    if rem == 0:
        return a2b_base64(segment.translate(_TO_STANDARD))
    if rem == 2:  # noqa: PLR2004 - quantum sizes
        if segment[-1] not in _LAST_2:
            raise DecodeError(f"{what}: not canonical base64url")
        return a2b_base64(segment.translate(_TO_STANDARD) + b"==")
    if rem == 3 and segment[-1] in _LAST_3:  # noqa: PLR2004
        return a2b_base64(segment.translate(_TO_STANDARD) + b"=")
    raise DecodeError(f"{what}: not canonical base64url")


def compact_alphabet_ok(token: bytes) -> bool:
    """True if ``token`` is base64url characters and exactly two dots, nothing else."""
    return token.translate(None, _ALPHABET) == b".."


def b64d_known_alphabet(segment: bytes, what: str) -> bytes:
    """:func:`b64d` for a segment of a token that passed :func:`compact_alphabet_ok`."""
    rem = len(segment) & 3
    if rem == 0:
        return a2b_base64(segment.translate(_TO_STANDARD))
    if rem == 2:  # noqa: PLR2004 - quantum sizes
        if segment[-1] not in _LAST_2:
            raise DecodeError(f"{what}: not canonical base64url")
        return a2b_base64(segment.translate(_TO_STANDARD) + b"==")
    if rem == 3 and segment[-1] in _LAST_3:  # noqa: PLR2004
        return a2b_base64(segment.translate(_TO_STANDARD) + b"=")
    raise DecodeError(f"{what}: not canonical base64url")


def _duplicate_checked(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise DecodeError("JSON: duplicate member name")
    return obj


def _no_constants(name: str) -> Any:  # noqa: ANN401 - json hook signature
    raise DecodeError(f"JSON: {name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DecodeError("JSON: number out of range")
    return value


_SCAN: Final = json.scanner.make_scanner(  # type: ignore[attr-defined]
    json.JSONDecoder(
        object_pairs_hook=_duplicate_checked,
        parse_constant=_no_constants,
        parse_float=_finite_float,
    )
)
# Left to json_loads: texts with escapes (lone surrogates are only reachable through them),
# with more "[" and "{" than the depth limit, or with runs of more than MAX_INT_DIGITS digits
# (an over-long integer).  Matches inside strings only cost speed.  One translation serves the
# last two checks: digits become "0" (a run is then a substring test) and "{" becomes "[".
_PRECHECK: Final = bytes.maketrans(b"0123456789{", b"0000000000[")
_LONG_RUN: Final = b"0" * (MAX_INT_DIGITS + 1)
_WHITESPACE: Final = " \t\n\r"


def loads(raw: bytes, what: str) -> Any:  # noqa: ANN401 - JSON is untyped until checked
    """Parse strict I-JSON exactly as :func:`authcore._encoding.json_loads` does, faster.

    Raises:
        DecodeError: Whenever ``json_loads`` would.
    """
    mapped = raw.translate(_PRECHECK)
    if b"\\" in raw or mapped.count(b"[") > MAX_JSON_DEPTH or _LONG_RUN in mapped:
        return json_loads(raw, what=what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"{what}: not UTF-8") from None
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError, AuthcoreError):
        return json_loads(text, what=what)
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return json_loads(text, what=what)
    return value
