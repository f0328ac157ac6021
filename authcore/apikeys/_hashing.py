"""Peppered, versioned HMAC-SHA256 hashes of API key secrets.

Stored form: ``v1$<pepper id>$<base64url(HMAC-SHA256(pepper, secret))>``.  The secret carries
256 random bits, so a fast keyed hash is the right tool (a slow password hash would add nothing
against guessing and cost every request); the pepper, kept outside the database, makes a stolen
table useless for offline checks.  Naming the pepper in each hash lets peppers rotate: hashes
made with an older pepper still verify and report that a rehash is due.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from authcore._encoding import b64url_decode, b64url_encode
from authcore._options import is_choice
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    InvalidCredentials,
    InvalidKeyError,
    StoreError,
)

__all__ = ["HashCheck", "KeyHasher", "decode_pepper", "encode_pepper"]

HASH_VERSION: Final = "v1"
MIN_PEPPER_BYTES: Final = 32
_PEPPER_ID_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_DIGEST_BYTES: Final = 32
NO_MATCH: Final = "no key matches this token"
"""The one reason for an unknown key id and a wrong secret alike."""


_RESOLVED_MAX: Final = 65_536
_HEX_RE: Final = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MAX_PEPPER_TEXT: Final = 4096
_ASCII_SPACE: Final = " \t\r\n\f\v"


def _keyed(pepper: bytes) -> HMAC:
    """An HMAC-SHA256 keyed with ``pepper``, to be copied for each message, never updated.

    Copying the keyed state skips the key schedule and the digest lookup of a one-shot
    ``hmac.digest``: about half the instructions per MAC.  ``copy`` leaves the original
    untouched, so threads may share it.
    """
    return HMAC(pepper, hashes.SHA256())


def _mac(keyed: HMAC, message: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(message)
    return mac.finalize()


def _mac_matches(keyed: HMAC, message: bytes, expected: bytes) -> bool:
    """Whether the MAC of ``message`` is ``expected``, compared in constant time.

    The one check of a match and of a refusal alike, so both cost the same.  cryptography
    compares the tag itself (constant time), so the MAC never reaches Python.
    """
    mac = keyed.copy()
    mac.update(message)
    try:
        mac.verify(expected)
    except InvalidSignature:
        return False
    return True


def _split_stored(stored: str) -> tuple[str, bytes]:
    """Return (pepper id, digest) of a stored hash (each hasher caches what it resolved)."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != HASH_VERSION:  # noqa: PLR2004 - three fields
        raise StoreError("stored key hash has an unknown format")
    pepper_id, encoded = parts[1], parts[2]
    if not _PEPPER_ID_RE.fullmatch(pepper_id):
        raise StoreError("stored key hash names an invalid pepper id")
    try:
        digest = b64url_decode(encoded, what="stored key hash")
    except DecodeError:
        raise StoreError("stored key hash is not base64url") from None
    if len(digest) != _DIGEST_BYTES:
        raise StoreError("stored key hash has the wrong length")
    return pepper_id, digest


def _as_bytes(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if isinstance(secret, str):
        return secret.encode("utf-8", "surrogatepass")
    raise ConfigurationError(f"a secret must be str or bytes, got {type(secret).__name__}")


def encode_pepper(pepper: bytes) -> str:
    """Return the text form of a pepper, for a file or an environment variable.

    The form is ``base64:`` followed by the standard, padded base64 of the bytes: what
    :func:`decode_pepper` (and so :meth:`KeyHasher.from_env` and the ``authcore`` command)
    reads back.

    Raises:
        InvalidKeyError: If ``pepper`` is not bytes or is shorter than 32 bytes.

    .. versionadded:: 0.1.0
    """
    given: object = pepper
    if not isinstance(given, (bytes, bytearray)):
        raise InvalidKeyError("a pepper must be bytes")
    if len(given) < MIN_PEPPER_BYTES:
        raise InvalidKeyError(f"a pepper must be at least {MIN_PEPPER_BYTES} bytes")
    return "base64:" + base64.b64encode(bytes(given)).decode("ascii")


def _pepper_text(text: object) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            return bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKeyError(
                "a pepper must be text: 'base64:' or 'hex:' and its encoding, not raw bytes"
            ) from None
    if isinstance(text, str):
        return text
    raise InvalidKeyError(f"a pepper must be str or bytes, got {type(text).__name__}")


def _decode_tagged(value: str) -> bytes | None:
    """The bytes of ``hex:...`` or canonical ``base64:...``; ``None`` for anything else."""
    if len(value) > _MAX_PEPPER_TEXT:
        return None
    kind, _, body = value.partition(":")
    if kind == "hex" and _HEX_RE.fullmatch(body):
        return binascii.unhexlify(body)
    if kind == "base64" and _BASE64_RE.fullmatch(body) and len(body) % 4 == 0:
        try:
            decoded = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
        # Canonical only: one spelling per pepper (no stray bits in the last character).
        return decoded if base64.b64encode(decoded).decode("ascii") == body else None
    return None


def decode_pepper(text: str | bytes) -> bytes:
    """Decode a pepper written as text: the one format of files and environment variables.

    The format is ``base64:<standard base64, padded>`` or ``hex:<hex digits>`` (as
    ``openssl rand -base64 32`` or ``openssl rand -hex 32`` print them, after the tag).  ASCII
    whitespace around the value, such as the newline that ends a file, is ignored; nothing
    else is: an untagged value, raw binary bytes, whitespace inside the value or a
    non-canonical encoding is refused rather than guessed at, so every reader (this function,
    :meth:`KeyHasher.from_env`, the ``authcore apikey`` command) derives the same bytes and
    therefore the same hashes.

    Args:
        text: The file's contents or the variable's value.

    Returns:
        The pepper bytes (at least 32).

    Raises:
        InvalidKeyError: If the value is not in this format or decodes to fewer than 32 bytes.

    .. versionadded:: 0.1.0
    """
    raw = _decode_tagged(_pepper_text(text).strip(_ASCII_SPACE))
    if raw is None:
        raise InvalidKeyError(
            "a pepper must be written as 'base64:<standard base64>' or 'hex:<hex digits>'"
        )
    if len(raw) < MIN_PEPPER_BYTES:
        raise InvalidKeyError(f"the pepper is shorter than {MIN_PEPPER_BYTES} bytes")
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class HashCheck:
    """The result of a successful :meth:`KeyHasher.verify`.

    Attributes:
        pepper_id: The pepper the stored hash was made with.
        needs_rehash: ``True`` when that is not the current pepper: store
            ``hasher.hash(secret)`` in place of the old hash.

    .. versionadded:: 0.1.0
    """

    pepper_id: str
    needs_rehash: bool


class KeyHasher:
    """Hash and verify API key secrets with HMAC-SHA256 under a named, rotatable pepper.

    Args:
        peppers: Pepper id to pepper bytes (at least 32 bytes each, from a secret manager or
            the environment, never from the database).  New hashes use ``current``.  Text
            forms (files, variables) go through :func:`decode_pepper`, or use
            :meth:`from_env`.
        current: The pepper id for new hashes; default: the last one in ``peppers`` (list them
            oldest to newest).

    Raises:
        ConfigurationError: If ``peppers`` is empty, an id is not 1-32 characters of
            ``A-Za-z0-9_.-``, or ``current`` is not one of the ids.
        InvalidKeyError: If a pepper is not bytes or shorter than 32 bytes.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_current",
        "_current_mac",
        "_dummy",
        "_entries",
        "_peppers",
        "_resolved",
    )

    def __init__(self, peppers: Mapping[str, bytes], *, current: str | None = None) -> None:
        given: object = peppers  # untyped callers pass anything
        if not isinstance(given, Mapping) or not given:
            raise ConfigurationError("peppers must be a non-empty mapping of id to bytes")
        checked: dict[str, bytes] = {}
        items: list[tuple[object, object]] = list(given.items())
        for pepper_id, pepper in items:
            if not isinstance(pepper_id, str) or not _PEPPER_ID_RE.fullmatch(pepper_id):
                raise ConfigurationError("a pepper id must be 1-32 characters of A-Za-z0-9_.-")
            if not isinstance(pepper, (bytes, bytearray)):
                raise InvalidKeyError(f"pepper {pepper_id!r} must be bytes")
            if len(pepper) < MIN_PEPPER_BYTES:
                raise InvalidKeyError(
                    f"pepper {pepper_id!r} is shorter than {MIN_PEPPER_BYTES} bytes"
                )
            checked[pepper_id] = bytes(pepper)
        chosen = list(checked)[-1] if current is None else current
        if not is_choice(chosen, checked):
            raise ConfigurationError("current must name one of the peppers")
        self._peppers: Mapping[str, bytes] = checked
        self._current = chosen
        # Pepper id -> (keyed HMAC, the result of a match with it), built once per hasher.
        self._entries = {
            pid: (_keyed(pepper), HashCheck(pepper_id=pid, needs_rehash=pid != chosen))
            for pid, pepper in checked.items()
        }
        self._current_mac = self._entries[chosen][0]
        self._dummy = _mac(self._current_mac, b"authcore dummy key secret")
        # stored hash -> (keyed HMAC or None if retired, digest, check or None); bounded below.
        self._resolved: dict[str, tuple[HMAC | None, bytes, HashCheck | None]] = {}

    @classmethod
    def from_env(
        cls,
        variables: Mapping[str, str],
        *,
        current: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> KeyHasher:
        """Build a hasher from peppers in environment variables, in :func:`decode_pepper` form.

        Args:
            variables: Pepper id to the name of the variable holding it, oldest to newest.
            current: The pepper id for new hashes (default: the last one).
            environ: Where to read the variables (default: :data:`os.environ`).

        Raises:
            ConfigurationError: If ``variables`` is not a mapping of str to str, or a variable
                is not set.
            InvalidKeyError: If a value is not in the pepper format or too short.

        .. versionadded:: 0.1.0
        """
        given: object = variables
        if not isinstance(given, Mapping):
            raise ConfigurationError("variables must map pepper ids to variable names")
        source = os.environ if environ is None else environ
        peppers: dict[str, bytes] = {}
        items: list[tuple[object, object]] = list(given.items())
        for pepper_id, name in items:
            if not isinstance(pepper_id, str) or not isinstance(name, str):
                raise ConfigurationError("variables must map pepper ids to variable names")
            value = source.get(name)
            if value is None:
                raise ConfigurationError(f"environment variable {name} is not set")
            peppers[pepper_id] = decode_pepper(value)
        return cls(peppers, current=current)

    @property
    def current(self) -> str:
        """The id of the pepper new hashes use."""
        return self._current

    def hash(self, secret: str | bytes) -> str:
        """Return the storable hash of ``secret`` under the current pepper.

        .. versionadded:: 0.1.0
        """
        digest = _mac(self._current_mac, _as_bytes(secret))
        return f"{HASH_VERSION}${self._current}${b64url_encode(digest)}"

    def verify(self, secret: str | bytes, stored: str) -> HashCheck:
        """Check ``secret`` against a stored hash in constant time.

        Args:
            secret: The secret part of the presented key.
            stored: A hash made by :meth:`hash` (with this or an older pepper).

        Returns:
            Which pepper matched and whether a rehash is due.

        Raises:
            InvalidCredentials: If the secret does not match, or the hash names a pepper that
                is no longer configured (retiring a pepper retires its keys).
            StoreError: If ``stored`` is not a hash this class made.

        .. versionadded:: 0.1.0
        """
        if not isinstance(stored, str):
            raise StoreError("stored key hash is not a str")
        return self._match(_as_bytes(secret), stored)

    def _match(self, secret: bytes, stored: str) -> HashCheck:
        """The checks of :meth:`verify` for a secret already in bytes (the KeyManager fast path).

        Raises:
            InvalidCredentials: As :meth:`verify`.
            StoreError: If ``stored`` is not a hash this class made.
        """
        entry = self._resolved.get(stored)
        if entry is None:
            entry = self._resolve(stored)
        keyed, expected_digest, check = entry
        if keyed is None or check is None:
            # Retired pepper: spend the same work, then refuse like a wrong secret.
            self._burn(secret)
        # _mac_matches() inlined: this is every verification's hot path.
        mac = keyed.copy()
        mac.update(secret)
        try:
            mac.verify(expected_digest)
        except InvalidSignature:
            raise InvalidCredentials(NO_MATCH) from None
        return check

    def _burn(self, secret: bytes) -> NoReturn:
        """A failed match's work (one MAC and one comparison), then the one refusal."""
        _mac_matches(self._current_mac, secret, self._dummy)
        raise InvalidCredentials(NO_MATCH)

    def _resolve(self, stored: object) -> tuple[HMAC | None, bytes, HashCheck | None]:
        """Parse a stored hash once per hasher: (keyed HMAC or None if retired, digest, check)."""
        if not isinstance(stored, str):
            raise StoreError("stored key hash is not a str")
        pepper_id, digest = _split_stored(stored)
        keyed, check = self._entries.get(pepper_id, (None, None))
        entry = (keyed, digest, check)
        if len(self._resolved) >= _RESOLVED_MAX:
            self._resolved.clear()
        self._resolved[stored] = entry
        return entry

    def reject(self, secret: str | bytes) -> NoReturn:
        """Do the work of a failed :meth:`verify`, then raise :class:`InvalidCredentials`.

        Call it when no stored hash exists (an unknown key id), so that answering costs what
        a wrong secret costs and carries the same error.

        .. versionadded:: 0.1.0
        """
        self._burn(_as_bytes(secret))

    def __repr__(self) -> str:
        return f"KeyHasher(peppers={sorted(self._peppers)!r}, current={self._current!r})"
