"""Strict base64url and JSON, the parsing boundary for every token authcore reads.

Base64url (RFC 4648 section 5, as profiled by RFC 7515 section 2 and appendix C): the URL-safe
alphabet only, no padding, no whitespace, length % 4 != 1, and canonical trailing bits (the
unused low bits of the last character must be zero), so each byte string has exactly one
accepted encoding.  Malleable encodings have been the root of signature-bypass bugs in other
libraries; here they are refused.

JSON (RFC 8259 restricted as I-JSON, RFC 7493): UTF-8 only (no BOM, no UTF-16/32 detection),
duplicate member names rejected (RFC 7515 section 5.2 leaves the choice open; we take the safe
one), nesting depth limited, ``NaN``/``Infinity`` and numbers that overflow a double rejected,
integers limited in length, lone surrogate escapes rejected.  :func:`json_dumps` is canonical:
sorted keys, no insignificant whitespace, UTF-8.

Every failure is :class:`~authcore.errors.DecodeError`; no other exception type escapes.
"""

from __future__ import annotations

import json
import math
import re
from binascii import a2b_base64, b2a_base64
from typing import TYPE_CHECKING, Any, Final

from authcore.errors import DecodeError, EncodeError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "b64url_decode",
    "b64url_encode",
    "json_dumps",
    "json_loads",
]

MAX_JSON_DEPTH: Final = 32
"""Default maximum nesting of JSON arrays and objects."""

MAX_INT_DIGITS: Final = 32
"""Default maximum number of digits of a JSON integer (before any sign)."""

B64URL_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
"""The base64url alphabet (RFC 4648 section 5), as bytes for ``bytes.translate`` checks."""

_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
# The last character of a segment with 2 (3) characters in its final quantum carries only
# 2 (4) data bits: its alphabet index must be a multiple of 16 (4), or the encoding is not the
# canonical one of its bytes.
_LAST_2: Final = frozenset(c for i, c in enumerate(B64URL_ALPHABET) if i % 16 == 0)
_LAST_3: Final = frozenset(c for i, c in enumerate(B64URL_ALPHABET) if i % 4 == 0)


_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes | bytearray | memoryview) -> str:
    """Encode bytes as unpadded base64url text.

    Args:
        data: The bytes to encode.

    Returns:
        The base64url encoding without ``=`` padding.
    """
    # b2a_base64 and one translate (alphabet swap and padding removal together): half the
    # time of urlsafe_b64encode + rstrip, which matters on every token and signature.
    return b2a_base64(data, newline=False).translate(_TO_URLSAFE, b"=").decode("ascii")


def b64url_decode(data: str | bytes, *, what: str = "value") -> bytes:
    """Decode strict, unpadded, canonical base64url.

    Args:
        data: The encoded text (``str`` or ASCII ``bytes``).
        what: A short name of the decoded item, used in the error reason.

    Returns:
        The decoded bytes.

    Raises:
        DecodeError: On any character outside the URL-safe alphabet (including ``=`` padding
            and whitespace), an impossible length, or non-zero unused trailing bits.
    """
    if isinstance(data, str):
        if not data.isascii():
            raise DecodeError(f"{what}: not base64url (bad character or padding)")
        raw = data.encode("ascii")
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    else:
        raise DecodeError(f"{what}: expected str or bytes, got {type(data).__name__}")
    # One C-level pass deletes every alphabet character: anything left is foreign.
    if raw.translate(None, B64URL_ALPHABET):
        raise DecodeError(f"{what}: not base64url (bad character or padding)")
    return b64url_decode_known_alphabet(raw, what)


def b64url_decode_known_alphabet(segment: bytes, what: str) -> bytes:
    """:func:`b64url_decode` for bytes already known to hold only base64url characters.

    The hot path of compact tokens checks the alphabet of the whole token in one pass, then
    decodes each segment with this.
    """
    rem = len(segment) & 3
    if rem == 0:
        return a2b_base64(segment.translate(_TO_STANDARD))
    if rem == 2:  # noqa: PLR2004 - base64 quantum sizes
        if segment[-1] not in _LAST_2:
            raise DecodeError(f"{what}: not canonical base64url")
        return a2b_base64(segment.translate(_TO_STANDARD) + b"==")
    if rem == 3 and segment[-1] in _LAST_3:  # noqa: PLR2004
        return a2b_base64(segment.translate(_TO_STANDARD) + b"=")
    raise DecodeError(f"{what}: not canonical base64url")


def b64url_decode_known_segments(segments: Sequence[bytes], whats: Sequence[str]) -> list[bytes]:
    """:func:`b64url_decode_known_alphabet` over several segments in one call.

    For compact tokens whose whole alphabet was checked in one pass: one Python call for every
    segment instead of one (or two) per segment.
    """
    out = []
    for segment, what in zip(segments, whats, strict=True):
        rem = len(segment) & 3
        if rem == 0:
            out.append(a2b_base64(segment.translate(_TO_STANDARD)))
        elif rem == 2 and segment[-1] in _LAST_2:  # noqa: PLR2004 - base64 quantum sizes
            out.append(a2b_base64(segment.translate(_TO_STANDARD) + b"=="))
        elif rem == 3 and segment[-1] in _LAST_3:  # noqa: PLR2004
            out.append(a2b_base64(segment.translate(_TO_STANDARD) + b"="))
        else:
            raise DecodeError(f"{what}: not canonical base64url")
    return out


def _reject_constant(name: str) -> Any:  # noqa: ANN401 - json hook signature
    raise DecodeError(f"JSON: {name} is not allowed")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DecodeError("JSON: number out of range")
    return value


def _make_parse_int(max_digits: int) -> Any:  # noqa: ANN401 - json hook
    def parse_int(text: str) -> int:
        if len(text) - (text[0] == "-") > max_digits:
            raise DecodeError(f"JSON: integer longer than {max_digits} digits")
        return int(text)

    return parse_int


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:  # pragma: no branch - a duplicate exists
            if name in seen:
                raise DecodeError(f"JSON: duplicate member name {name[:40]!r}")
            seen.add(name)
    return obj


def _make_decoder(max_int_digits: int) -> json.JSONDecoder:
    # json.loads(**hooks) builds a new decoder per call (about 2 microseconds); reuse them.
    return json.JSONDecoder(
        object_pairs_hook=_object_pairs,
        parse_constant=_reject_constant,
        parse_float=_parse_float,
        parse_int=_make_parse_int(max_int_digits),
    )


_DEFAULT_DECODER: Final = _make_decoder(MAX_INT_DIGITS)
_SURROGATE_ESCAPE_RE: Final = re.compile(r"\\u[dD][89a-fA-F]")


# bytes.translate table: every opener becomes "[", every closer "]"; everything else is deleted.
_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS: Final = bytes(c for c in range(256) if c not in b"[]{}")


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether arrays/objects nest deeper than ``max_depth`` (brackets in strings ignored).

    Linear and in C: escaped backslashes, then escaped quotes, are deleted with two
    ``str.replace`` (left to right, so a run of backslashes pairs up as JSON reads it), after
    which every quote delimits a string and one ``str.split`` cuts the strings out; every other
    non-bracket byte is deleted with one ``bytes.translate``; then, at most ``max_depth``
    times, innermost ``[]`` pairs are removed with ``bytes.replace`` (a pair whose subtree has
    height h goes in pass h).
    A run of ``max_depth + 1`` openers proves the depth at once (``[[[[...`` bodies stop after
    one search).  For well-formed JSON the answer is exact; for broken JSON it may be either,
    and the decoder then refuses the text anyway.
    """
    # Once no quote is escaped, every other piece between quotes is a string.  (A regex over
    # string literals did the same at Python speed per escape: 66 ms for 1 MiB of \".)
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(text.split('"')[::2])
    bare = outside.encode("utf-8", "surrogatepass")
    brackets = bare.translate(_BRACKETS, _NOT_BRACKETS)
    too_many = b"[" * (max_depth + 1)
    for _ in range(max_depth):
        if too_many in brackets:
            return True
        if b"[]" not in brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return b"[]" in brackets or too_many in brackets


def _check_strings(value: Any) -> None:  # noqa: ANN401 - walks arbitrary JSON
    r"""Reject lone surrogates (only reachable through \\u escapes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise DecodeError("JSON: lone surrogate in string") from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# The fast path for token segments (bytes, default limits).  It runs the C scanner directly,
# without the per-integer hook, on texts that cannot reach any corner of the strict rules: no
# backslash (lone surrogates are only reachable through escapes), no more "[" and "{" than the
# depth limit, no run of digits longer than the integer limit (one bytes.translate maps digits to
# "0" and "{" to "[" so both are substring counts).  Matches inside strings only cost speed.
# Anything else, and every failure, goes to the strict path, which decides and explains.
_SLOW: Final = object()
_FAST_SCAN: Final = json.scanner.make_scanner(  # type: ignore[attr-defined]
    json.JSONDecoder(
        object_pairs_hook=_object_pairs,
        parse_constant=_reject_constant,
        parse_float=_parse_float,
    )
)
_PRECHECK: Final = bytes.maketrans(b"0123456789{", b"0000000000[")
_LONG_DIGIT_RUN: Final = b"0" * (MAX_INT_DIGITS + 1)
_WHITESPACE: Final = " \t\n\r"


def _fast_loads(raw: bytes) -> Any:  # noqa: ANN401 - JSON is untyped until checked
    mapped = raw.translate(_PRECHECK)
    if b"\\" in raw or mapped.count(b"[") > MAX_JSON_DEPTH or _LONG_DIGIT_RUN in mapped:
        return _SLOW
    try:
        text = raw.decode("utf-8")
        value, end = _FAST_SCAN(text, 0)
    except (UnicodeDecodeError, StopIteration, ValueError, RecursionError, DecodeError):
        return _SLOW
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return _SLOW
    return value


def json_loads(
    data: str | bytes,
    *,
    what: str = "JSON",
    max_depth: int = MAX_JSON_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
) -> Any:  # noqa: ANN401 - JSON is untyped until validated by the caller
    """Parse strict I-JSON.

    Args:
        data: UTF-8 bytes or text.
        what: A short name of the parsed item, used in the error reason.
        max_depth: Maximum nesting of arrays and objects.
        max_int_digits: Maximum digits of an integer.

    Returns:
        The parsed value (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` or ``None``).

    Raises:
        DecodeError: On invalid UTF-8 (or a BOM), invalid JSON, duplicate member names, nesting
            deeper than ``max_depth``, ``NaN``/``Infinity``, overflowing numbers, over-long
            integers or lone surrogates.
    """
    if isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
        if max_depth == MAX_JSON_DEPTH and max_int_digits == MAX_INT_DIGITS:
            value = _fast_loads(raw)
            if value is not _SLOW:
                return value
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what}: not UTF-8") from None
    elif isinstance(data, str):
        text = data
    else:
        raise DecodeError(f"{what}: expected str or bytes, got {type(data).__name__}")
    return _loads_text(text, what, max_depth, max_int_digits)


def _loads_text(text: str, what: str, max_depth: int, max_int_digits: int) -> Any:  # noqa: ANN401
    # str.count runs in C: only texts that could nest deeply pay for the exact scan, and the
    # scan runs before json.loads can recurse.
    if text.count("[") + text.count("{") > max_depth and _too_deep(text, max_depth):
        raise DecodeError(f"{what}: nested deeper than {max_depth}")
    decoder = (
        _DEFAULT_DECODER if max_int_digits == MAX_INT_DIGITS else _make_decoder(max_int_digits)
    )
    try:
        value = decoder.decode(text)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc.reason.removeprefix('JSON: ')}") from None
    except (ValueError, RecursionError, OverflowError) as exc:
        # json.JSONDecodeError is a ValueError; its message names a position, never content.
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise DecodeError(f"{what}: invalid JSON ({msg})") from None
    if "\\u" in text and _SURROGATE_ESCAPE_RE.search(text):
        try:
            _check_strings(value)
        except DecodeError as exc:
            raise DecodeError(f"{what}: {exc.reason.removeprefix('JSON: ')}") from None
    return value


_CANONICAL: Final = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
)
"""One configured encoder: ``json.dumps`` would build a new one per call."""


def json_dumps(value: Any) -> bytes:  # noqa: ANN401 - any JSON-serializable value
    """Serialize canonically: sorted keys, compact separators, UTF-8, no NaN.

    Args:
        value: A JSON-serializable value.

    Returns:
        The UTF-8 encoded JSON text.

    Raises:
        EncodeError: If ``value`` is not serializable as strict JSON (``NaN``, non-string keys,
            unsupported types, lone surrogates).
    """
    try:
        return _CANONICAL.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise EncodeError(f"cannot serialize as JSON ({type(exc).__name__})") from None
