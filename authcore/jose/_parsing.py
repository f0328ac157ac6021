"""Parsing shared by JWS, JWT and JWE: the size cap, ASCII tokens, protected headers, JSON input.

Every function here runs before any cryptography and raises only
:class:`~authcore.errors.MalformedToken` (:class:`~authcore.errors.TokenTooLarge` for the cap) or
:class:`~authcore.errors.DecodeError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from authcore._encoding import b64url_decode, json_loads
from authcore.errors import MalformedToken, TokenTooLarge

__all__ = ["as_ascii", "json_object", "parse_protected"]

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def as_ascii(token: object, max_size: int) -> bytes:
    """Apply the size cap to a compact token, then return its ASCII bytes.

    Raises:
        TokenTooLarge: Over ``max_size`` characters (or bytes).
        MalformedToken: Not ``str``/bytes, or not ASCII.
    """
    if isinstance(token, str):
        if len(token) > max_size:
            raise TokenTooLarge(f"token longer than {max_size} characters")
        if not token.isascii():
            raise MalformedToken("token is not ASCII")
        return token.encode("ascii")
    if isinstance(token, (bytes, bytearray, memoryview)):
        raw = bytes(token)
        if len(raw) > max_size:
            raise TokenTooLarge(f"token longer than {max_size} bytes")
        if not raw.isascii():
            raise MalformedToken("token is not ASCII")
        return raw
    raise MalformedToken(f"token must be str or bytes, not {type(token).__name__}")


def parse_protected(segment: bytes) -> dict[str, Any]:
    """Decode a compact protected header segment into a JSON object.

    Raises:
        MalformedToken: If it is empty or not a JSON object.
        DecodeError: If it is not strict base64url or strict JSON.
    """
    if not segment:
        raise MalformedToken("empty protected header")
    header = json_loads(b64url_decode(segment, what="protected header"), what="protected header")
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    return header


def _check_mapping_size(data: dict[str, Any], max_size: int, what: str) -> None:
    # The cap of the text form, applied to the compact JSON an already parsed object stands for.
    # The encoder stops as soon as the cap is passed, so an oversized object costs at most
    # max_size characters of work (plus the one chunk that crossed it).
    size = 0
    try:
        for chunk in _ENCODER.iterencode(data):
            size += len(chunk)
            if size > max_size:
                raise TokenTooLarge(f"{what} longer than {max_size}")
    except (TypeError, ValueError, RecursionError):
        raise MalformedToken(f"{what} holds values that are not JSON") from None


def json_object(data: object, max_size: int, what: str) -> dict[str, Any]:
    """Return the JSON serialization object of a JWS or JWE, from text, bytes or a mapping.

    The size cap applies to every form: to the length of text or bytes before parsing, and to
    the compact JSON encoding of a mapping.

    Raises:
        TokenTooLarge: Over ``max_size``.
        MalformedToken: Not text, bytes or a mapping; not a JSON object; a mapping holding
            values that are not JSON.
        DecodeError: Text that is not strict JSON.
    """
    if isinstance(data, Mapping):
        obj = dict(data)
        _check_mapping_size(obj, max_size, what)
        return obj
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        raw = data if isinstance(data, str) else bytes(data)
        if len(raw) > max_size:
            raise TokenTooLarge(f"{what} longer than {max_size}")
        parsed = json_loads(raw, what=what)
        if not isinstance(parsed, dict):
            raise MalformedToken(f"{what} is not an object")
        return parsed
    kind = type(data).__name__
    raise MalformedToken(f"{what} is not an object: give str, bytes or a mapping, not {kind}")
