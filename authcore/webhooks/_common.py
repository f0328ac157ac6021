"""Helpers shared by the webhook schemes: header lookup, timestamps, payloads, tolerance.

Theory of operation: each scheme parses its headers with :func:`find_headers` (one pass over
the fields, case-insensitive, repeats refused), checks the timestamp syntax and tolerance
before any MAC is computed, then compares MACs only through :func:`authcore._ct.bytes_eq`.
Nothing here reads the wall clock except through :mod:`authcore.clock` (``now=`` and
timestamps take its :data:`~authcore.clock.Instant` values: an aware datetime or UNIX seconds).
"""

from __future__ import annotations

import datetime as dt
import email.message
import hashlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _chmac

from authcore._encoding import json_loads
from authcore._kinds import store_answer
from authcore._options import seconds_option
from authcore.clock import as_unix
from authcore.errors import (
    ConfigurationError,
    InvalidKeyError,
    MalformedHeader,
    Replayed,
    StaleTimestamp,
)
from authcore.http import Headers
from authcore.webhooks._keys import whitespace_hint

if TYPE_CHECKING:
    from authcore.onetime import OneTimeStore

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_TIMESTAMP_DIGITS",
    "HasJSONPayload",
    "HasTimestamp",
    "HeaderSpec",
    "HeadersInput",
    "Payload",
    "Tolerance",
    "check_tolerance",
    "find_headers",
    "header_value",
    "keyed_hmacs",
    "parse_timestamp",
    "payload_digest",
    "remember_event",
    "signing_timestamp",
    "to_payload",
    "to_tolerance",
]

DEFAULT_TOLERANCE: Final = 300
"""Seconds a signed timestamp may differ from now, in either direction."""

MAX_TIMESTAMP_DIGITS: Final = 16
"""The longest accepted decimal timestamp (far beyond any real clock, short of overflow)."""

_UTC: Final = dt.timezone.utc

HeadersInput: TypeAlias = (
    Headers | Mapping[str, Any] | email.message.Message | Iterable[tuple[str | bytes, str | bytes]]
)
"""Header fields in any form a server hands them over.

authcore :class:`~authcore.http.Headers`, any mapping (a plain dict, a framework's
case-insensitive multi-dict, a WSGI environ, ...), the standard library's
:class:`email.message.Message` (``http.server``'s ``self.headers``), or ``(name, value)``
pairs as ASGI servers provide them.
"""

Payload: TypeAlias = bytes | bytearray | memoryview
"""The raw request body, exactly as received (never re-serialized JSON)."""

Tolerance: TypeAlias = int | float | dt.timedelta
"""How far a signed timestamp may be from now, in seconds or as a ``timedelta``."""


class HasJSONPayload:
    """What every verified-webhook result offers about its ``payload`` (a mixin)."""

    __slots__ = ()
    payload: bytes

    def json(self) -> Any:  # noqa: ANN401 - JSON is untyped until the caller validates it
        """Parse the payload as strict JSON (duplicate names refused).

        Raises:
            DecodeError: If the payload is not strict UTF-8 JSON.
        """
        return json_loads(self.payload, what="webhook payload")


class HasTimestamp(HasJSONPayload):
    """A verified-webhook result with a signed ``timestamp`` in UNIX seconds (a mixin)."""

    __slots__ = ()
    timestamp: int

    @property
    def sent_at(self) -> dt.datetime:
        """The timestamp as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.timestamp, _UTC)


def to_payload(payload: object) -> bytes:
    """Return the raw body as ``bytes``.

    Raises:
        ConfigurationError: If ``payload`` is not bytes-like.  A ``str`` is refused on purpose:
            the signature covers the exact bytes received, and text has usually been decoded
            (or re-serialized) on the way.
    """
    if type(payload) is bytes:
        return payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise ConfigurationError(
        f"payload must be the raw request body as bytes, got {type(payload).__name__}"
    )


def to_tolerance(tolerance: object) -> float:
    """Return the tolerance in seconds.

    Raises:
        ConfigurationError: If it is not a finite, non-negative number or timedelta.
    """
    return seconds_option(tolerance, "tolerance", positive=False)


def signing_timestamp(timestamp: object) -> int:
    """Return the whole UNIX seconds to sign (floored); ``None`` means now.

    Args:
        timestamp: An :data:`~authcore.clock.Instant` (aware datetime or UNIX seconds) or
            ``None`` for the clock.

    Raises:
        ConfigurationError: For another type, a naive datetime, or a value outside 0 to
            10**16 - 1.
    """
    value = math.floor(as_unix(timestamp, name="timestamp"))
    if not 0 <= value < 10**MAX_TIMESTAMP_DIGITS:
        raise ConfigurationError(f"timestamp must be 0 to 10**{MAX_TIMESTAMP_DIGITS} - 1")
    return value


def parse_timestamp(text: str, *, what: str) -> int:
    """Parse a canonical decimal UNIX timestamp.

    Canonical means ASCII digits only: no sign, point, exponent, spaces, underscores, hex or
    leading zeros, and at most :data:`MAX_TIMESTAMP_DIGITS` digits.  Python's ``int()`` and
    ``float()`` accept all of those; a signed value must have exactly one spelling.

    Raises:
        MalformedHeader: If ``text`` is not canonical.
    """
    if (
        not text.isdigit()
        or not text.isascii()
        or len(text) > MAX_TIMESTAMP_DIGITS
        or (text[0] == "0" and len(text) > 1)
    ):
        raise MalformedHeader(f"{what} is not a canonical decimal integer")
    return int(text)


def check_tolerance(timestamp: int, now: float, tolerance: float, *, what: str) -> None:
    """Refuse a timestamp further than ``tolerance`` seconds from ``now``, either way.

    Raises:
        StaleTimestamp: If ``|now - timestamp| > tolerance``.
    """
    skew = now - timestamp
    if skew > tolerance:
        raise StaleTimestamp(f"{what} is {skew:.0f} s old (tolerance {tolerance:g} s)")
    if -skew > tolerance:
        raise StaleTimestamp(f"{what} is {-skew:.0f} s in the future (tolerance {tolerance:g} s)")


def _text(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise MalformedHeader(f"header {name!r} is not text")


@dataclass(frozen=True, slots=True)
class HeaderSpec:
    """The lower-case header names a scheme reads, with what the lookup precomputes."""

    names: tuple[str, ...]
    lengths: frozenset[int]
    stem: str

    @classmethod
    def of(cls, *names: str) -> HeaderSpec:
        """Build the spec of ``names`` (lower case)."""
        return cls(
            names=names,
            lengths=frozenset(len(n) for n in names),
            stem=os.path.commonprefix(names),  # noqa: RUF071 - a text prefix is wanted
        )


def _find_in_dict(headers: dict[Any, Any], spec: HeaderSpec) -> list[str | None] | None:
    """The common case, a plain dict of text, in a few C-level operations; ``None`` if unsure.

    The wanted names are looked up as spelled (lower case).  Then every key is lower-cased
    once, in one joined string, and the occurrences of the names' common prefix are
    counted: if there are no more of them than direct hits, no other spelling of a wanted
    name exists and the hits are exact.  Anything else (another spelling, a repeat, other
    keys with the prefix, non-text keys or values) goes to the general scan, which gives the
    precise answer or error.
    """
    found: list[Any] = list(map(headers.get, spec.names))
    hits = len(found) - found.count(None)
    try:
        # No hit at all (a WSGI environ, or headers missing) takes the general scan.
        if not hits or "\n".join(headers).lower().count(spec.stem) != hits:
            return None
    except TypeError:  # a key that is not str
        return None
    for value in found:
        if value is not None and type(value) is not str:
            return None
    return found


def _environ_pairs(environ: Mapping[Any, Any]) -> Iterable[tuple[str, object]]:
    """The HTTP header fields of a WSGI environ (PEP 3333), as (name, value) pairs.

    ``HTTP_WEBHOOK_ID`` becomes ``webhook-id``.  The server has already joined repeated
    fields into one value with commas (RFC 9110 section 5.3): such a value then fails the
    strict parsing of the field, or the signature, and is refused.
    """
    for key, value in environ.items():
        if isinstance(key, str) and key.startswith("HTTP_"):
            yield key[5:].replace("_", "-"), value


def _pairs(headers: object) -> Iterable[Any]:
    """The (name, value) pairs of any accepted headers input but authcore ``Headers``."""
    if isinstance(headers, Mapping):
        return _environ_pairs(headers) if "wsgi.version" in headers else headers.items()
    if isinstance(headers, email.message.Message):
        return headers.items()  # every occurrence, so that a repeat is seen and refused
    if isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        return headers
    raise ConfigurationError(
        f"headers must be a mapping or (name, value) pairs, got {type(headers).__name__}"
    )


def find_headers(headers: object, spec: HeaderSpec) -> list[str | None]:
    """Return the values of the lower-case ``names``, in order (``None`` when absent).

    Names are compared case-insensitively.  A field that appears more than once (twice in
    the pairs, in two spellings of a plain dict, or combined by a multi-dict) is refused:
    choosing one of them would be a guess an attacker could steer.

    Raises:
        MalformedHeader: On a repeated field or a value that is not text.
        ConfigurationError: If ``headers`` is neither a mapping nor an iterable of pairs.
    """
    if type(headers) is dict:
        fast = _find_in_dict(headers, spec)
        if fast is not None:
            return fast
    names, lengths = spec.names, spec.lengths
    found: list[str | None] = [None] * len(names)
    if isinstance(headers, Headers):
        for i, name in enumerate(names):
            found[i] = headers.get_single(name)
        return found
    for pair in _pairs(headers):
        try:
            raw_name, raw_value = pair
            # Most fields are skipped on their length alone, before any lower-casing.
            if len(raw_name) not in lengths:
                continue
        except (TypeError, ValueError):
            raise ConfigurationError("headers must be (name, value) pairs of text") from None
        text = _text(raw_name, "?")
        # RFC 9110 section 5.1: a field name is ASCII, compared case-insensitively in ASCII;
        # str.lower() would read U+212A (Kelvin sign) as "k".  Other names match nothing.
        name = text.lower() if text.isascii() else ""
        if name in names:
            i = names.index(name)
            if found[i] is not None:
                raise MalformedHeader(f"header {name!r} repeated")
            found[i] = _text(raw_value, name)
    return found


def keyed_hmacs(secrets: object, *, what: str) -> tuple[_chmac.HMAC, ...]:
    """Return an HMAC-SHA256 object keyed with each secret (only ever copied, never updated).

    Each secret is used as is: a ``str`` is encoded as UTF-8 (Stripe and GitHub key the HMAC
    with the secret's text, ``whsec_`` prefix included).

    Raises:
        InvalidKeyError: If a secret is empty or has surrounding whitespace (a copy-paste
            slip that would fail every verification silently).
        ConfigurationError: If no secret is given or one is not str or bytes.
    """
    if isinstance(secrets, (str, bytes)):
        items: tuple[object, ...] = (secrets,)
    elif isinstance(secrets, Sequence) and not isinstance(secrets, (bytearray, memoryview)):
        items = tuple(secrets)
        if not items:
            raise ConfigurationError(f"no {what} secret given")
    else:
        raise ConfigurationError(f"{what} secrets must be str, bytes or a sequence of them")
    keyed: list[_chmac.HMAC] = []
    for item in items:
        if isinstance(item, str):
            raw = item.encode("utf-8")
        elif isinstance(item, bytes):
            raw = item
        else:
            raise ConfigurationError(f"a {what} secret must be str or bytes")
        if not raw:
            raise InvalidKeyError(f"a {what} secret must not be empty")
        if raw != raw.strip():
            raise InvalidKeyError(whitespace_hint(what))
        keyed.append(_chmac.HMAC(raw, hashes.SHA256()))
    return tuple(keyed)


def header_value(header: object, spec: HeaderSpec) -> str:
    """Return the one signature header from a header value or from all the headers.

    Raises:
        MalformedHeader: If it is missing or repeated.
        ConfigurationError: If ``header`` is neither text nor headers.
    """
    if isinstance(header, str):
        return header
    (value,) = find_headers(header, spec)
    if value is None:
        raise MalformedHeader(f"missing header {spec.names[0]}")
    return value


def payload_digest(body: bytes) -> str:
    """The SHA-256 of a payload, in hex: part of a replay key where no id is signed."""
    return hashlib.sha256(body).hexdigest()


def remember_event(
    cache: OneTimeStore, key: str, *, expires: float, current: float, what: str
) -> None:
    """Accept an event once: record its replay key in ``cache`` until ``expires``.

    Invariant (issue 12): ``key`` is derived from what identifies the *event* (its signed id,
    or its signed timestamp and payload), never from the signature that matched, so the same
    event re-sent with another signature, another secret's entry, or entries reordered or
    repeated, gets the same key and is refused.

    Raises:
        Replayed: If the key is already recorded and unexpired.
        StoreError: If the store fails (the delivery is then refused: fail closed).
    """
    added = cache.add(
        key,
        expires_at=dt.datetime.fromtimestamp(expires, _UTC),
        now=dt.datetime.fromtimestamp(current, _UTC),
    )
    if not store_answer(added, cache):
        raise Replayed(f"{what} was already accepted")
