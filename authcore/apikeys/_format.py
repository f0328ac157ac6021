"""The API key token format: ``<prefix>_<key id><secret><checksum>``.

Layout (every part after the prefix is base62, ``0-9A-Za-z``)::

    sk_live_ 7Qw2...(16) kP9x...(43) 3fZ0aB
    prefix   key id      secret      checksum

* The prefix names the kind of key (``sk_live``, ``pk_test``): lowercase letters and digits in
  runs joined by single underscores, starting with a letter, at most 32 characters.
* The key id is 16 base62 characters (about 95 random bits): public, used for lookup and display.
* The secret is 43 base62 characters drawn uniformly below ``62**43`` (256.03 bits) from
  :mod:`secrets`.
* The checksum is the CRC32 of the body (key id and secret, ASCII) as 6 base62 characters, so a
  typo or a junk string is refused offline before any store lookup, and secret scanners can
  recognise real keys without calling the issuer (GitHub's token format does the same).

Since no base62 character is an underscore, the last underscore always ends the prefix.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from authcore.errors import ConfigurationError, MalformedKey

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BODY_LENGTH",
    "CHECKSUM_LENGTH",
    "KEY_ID_LENGTH",
    "MAX_PREFIX_LENGTH",
    "SECRET_LENGTH",
    "GeneratedKey",
    "ParsedKey",
    "check_prefix",
    "generate",
    "make_splitter",
    "parse",
    "parse_unchecked",
]

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_ID_LENGTH: Final = 16
SECRET_LENGTH: Final = 43
CHECKSUM_LENGTH: Final = 6
BODY_LENGTH: Final = KEY_ID_LENGTH + SECRET_LENGTH
MAX_PREFIX_LENGTH: Final = 32
_TAIL_LENGTH: Final = BODY_LENGTH + CHECKSUM_LENGTH
_MAX_TOKEN_LENGTH: Final = MAX_PREFIX_LENGTH + 1 + _TAIL_LENGTH

_PREFIX_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_TAIL_RE: Final = re.compile(f"[0-9A-Za-z]{{{_TAIL_LENGTH}}}")
_INDEX: Final = {c: i for i, c in enumerate(ALPHABET)}


def _encode62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _decode62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + _INDEX[char]
    return value


def _checksum(body: str) -> str:
    return _encode62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedKey:
    """A freshly generated API key.

    Attributes:
        token: The whole key to hand to the client, once.
        key_id: The public key id (lookup and display).
        secret: The secret part, to be hashed for storage.

    .. versionadded:: 0.1.0
    """

    token: str = field(repr=False)
    key_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedKey:
    """The parts of a well-formed API key.

    Attributes:
        prefix: The prefix, without the separating underscore.
        key_id: The public key id.
        secret: The secret part.

    .. versionadded:: 0.1.0
    """

    prefix: str
    key_id: str
    secret: str = field(repr=False)


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a valid key prefix.

    Raises:
        ConfigurationError: If it is not a string of lowercase letters and digits in runs joined
            by single underscores, starting with a letter, at most 32 characters.
    """
    if not isinstance(prefix, str):
        raise ConfigurationError(f"prefix must be a str, got {type(prefix).__name__}")
    if len(prefix) > MAX_PREFIX_LENGTH or not _PREFIX_RE.fullmatch(prefix):
        raise ConfigurationError(
            "prefix must be lowercase letters and digits joined by single underscores, "
            f"starting with a letter, at most {MAX_PREFIX_LENGTH} characters"
        )
    return prefix


def generate(prefix: str) -> GeneratedKey:
    """Generate a new API key with the given prefix.

    Args:
        prefix: The key kind, for example ``"sk_live"``.

    Returns:
        The token with its key id and secret.

    Raises:
        ConfigurationError: If the prefix is invalid.

    .. versionadded:: 0.1.0
    """
    check_prefix(prefix)
    key_id = _encode62(secrets.randbelow(62**KEY_ID_LENGTH), KEY_ID_LENGTH)
    secret = _encode62(secrets.randbelow(62**SECRET_LENGTH), SECRET_LENGTH)
    body = key_id + secret
    return GeneratedKey(token=f"{prefix}_{body}{_checksum(body)}", key_id=key_id, secret=secret)


def parse(token: str | bytes, *, prefix: str | None = None) -> ParsedKey:
    """Split a token into its parts, checking shape, charset, length and checksum offline.

    Args:
        token: The API key as received, as ``str`` or ASCII ``bytes`` alike.
        prefix: If given, the only prefix accepted.

    Returns:
        The prefix, key id and secret.

    Raises:
        MalformedKey: If the token is not str or bytes, is too long or too short, has an invalid
            prefix (or not the expected one), characters outside base62, or a wrong checksum.
            The reason never contains the token.
        ConfigurationError: If ``prefix`` itself is invalid.

    .. versionadded:: 0.1.0
    """
    if prefix is not None:
        check_prefix(prefix)
    return parse_unchecked(token, prefix)


def parse_unchecked(token: str | bytes, prefix: str | None) -> ParsedKey:
    """:func:`parse` for callers that validated ``prefix`` already."""
    head, key_id, secret = _split(token, prefix)
    return ParsedKey(prefix=head, key_id=key_id, secret=secret)


def _token_text(token: object) -> str:
    """The token as text: a ``str`` as is, bytes-like values decoded as ASCII."""
    if isinstance(token, str):
        return token
    if isinstance(token, (bytes, bytearray, memoryview)):
        raw = bytes(token)
        if len(raw) > _MAX_TOKEN_LENGTH:
            raise MalformedKey("too long")
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedKey("characters outside base62") from None
    raise MalformedKey(f"an API key must be str or bytes, got {type(token).__name__}")


def _split(given: object, prefix: str | None) -> tuple[str, str, str]:
    token = _token_text(given)
    if len(token) > _MAX_TOKEN_LENGTH:
        raise MalformedKey("too long")
    head, sep, tail = token.rpartition("_")
    if not sep:
        raise MalformedKey("no prefix separator")
    if len(tail) != _TAIL_LENGTH:
        raise MalformedKey(f"wrong length (expected {_TAIL_LENGTH} characters after the prefix)")
    if not _TAIL_RE.fullmatch(tail):
        raise MalformedKey("characters outside base62")
    if prefix is not None:
        if head != prefix:
            raise MalformedKey("unexpected prefix")
    elif not _PREFIX_RE.fullmatch(head):
        raise MalformedKey("invalid prefix")
    body = tail[:BODY_LENGTH]
    if zlib.crc32(body.encode("ascii")) != _decode62(tail[BODY_LENGTH:]):
        raise MalformedKey("checksum mismatch")
    return head, tail[:KEY_ID_LENGTH], tail[KEY_ID_LENGTH:BODY_LENGTH]


# Byte value to base62 digit; any other byte maps to 2**32, so a checksum holding one decodes
# to at least 2**32, which no CRC32 equals: the checksum check is also its charset check.
_NOT_BASE62: Final = 1 << 32
_VALUES: Final = tuple(_INDEX.get(chr(b), _NOT_BASE62) for b in range(128))


def make_splitter(prefix: str) -> Callable[[str | bytes], tuple[str, bytes]]:
    """Return the verify fast path for one prefix: ``token -> (key id, secret bytes)``.

    It accepts exactly what :func:`parse` with ``prefix=`` accepts (a property test checks that
    they agree); anything off the happy path goes to :func:`parse` for its precise reason.

    Raises:
        ConfigurationError: If the prefix is invalid.
        MalformedKey: (from the returned function) for any malformed token.
    """
    head = check_prefix(prefix).encode("ascii") + b"_"
    start = len(head)
    length = start + _TAIL_LENGTH
    id_end = start + KEY_ID_LENGTH
    body_end = start + BODY_LENGTH
    values = _VALUES

    def split(token: str | bytes) -> tuple[str, bytes]:
        # bytes take the same path as their ASCII text; junk raises MalformedKey here
        text = token if type(token) is str else _token_text(token)
        if len(text) == length:
            try:
                raw = text.encode("ascii")
            except UnicodeEncodeError:
                raw = b""
            body = raw[start:body_end]
            # bytes.isalnum() is ASCII-only: exactly the base62 alphabet.  The checksum's
            # characters are checked by the comparison itself (see _VALUES).
            if raw.startswith(head) and body.isalnum():
                a, b, c, d, e, f = raw[body_end:]
                checksum = (
                    ((((values[a] * 62 + values[b]) * 62 + values[c]) * 62 + values[d]) * 62)
                    + values[e]
                ) * 62 + values[f]
                if zlib.crc32(body) == checksum:
                    return text[start:id_end], raw[id_end:body_end]
        _split(text, prefix)
        raise MalformedKey("invalid token")  # pragma: no cover - _split raised already

    return split
