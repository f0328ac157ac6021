"""Standard Webhooks secrets and keys: ``whsec_`` (HMAC), ``whsk_`` / ``whpk_`` (Ed25519).

Serialization (Standard Webhooks 1.0, "Signature scheme"): a symmetric secret is
``whsec_`` + base64 of 24 to 64 random bytes; an Ed25519 key pair is ``whsk_`` + base64 of the
32-byte private seed and ``whpk_`` + base64 of the 32-byte public key.  The prefix is
required: it is what tells the two schemes apart, so a key cannot be used with the wrong one.

Parsed keys are immutable and held only by what parsed them (a
:class:`~authcore.webhooks.WebhookVerifier` keeps its own): no module-level cache holds a
secret or a key.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as _secrets
from typing import Final, Literal, NamedTuple, TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _chmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authcore._ct import bytes_eq
from authcore._options import int_option
from authcore.errors import ConfigurationError, InvalidKeyError

__all__ = [
    "MAX_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "PreparedKey",
    "WebhookSecret",
    "generate_secret",
    "generate_signing_key",
    "prepare",
    "public_key",
]

MIN_SECRET_BYTES: Final = 24
"""The shortest ``whsec_`` secret accepted (Standard Webhooks: at least 192 bits)."""

MAX_SECRET_BYTES: Final = 64
"""The longest ``whsec_`` secret accepted (Standard Webhooks: at most 512 bits)."""

WebhookSecret: TypeAlias = str | bytes | Ed25519PrivateKey | Ed25519PublicKey
"""A ``whsec_``/``whsk_``/``whpk_`` string (or its ASCII bytes), raw HMAC key bytes, or an
Ed25519 key object from ``cryptography``."""

_BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class PreparedKey(NamedTuple):
    """A parsed secret, ready for the hot path.

    A named tuple, not a frozen dataclass: it is built on every call of the one-shot
    :func:`~authcore.webhooks.verify`, and a named tuple costs about half as much to build.

    Attributes:
        version: ``"v1"`` (HMAC-SHA256) or ``"v1a"`` (Ed25519).
        hmac: For ``v1``: an HMAC object already keyed; it is only ever copied, never updated,
            so it can be shared across threads.
        public: For ``v1a``: the public key.
        private: For ``v1a`` from a ``whsk_`` key: the private key (signing needs it).
    """

    version: Literal["v1", "v1a"]
    hmac: _chmac.HMAC | None = None
    public: Ed25519PublicKey | None = None
    private: Ed25519PrivateKey | None = None

    def __repr__(self) -> str:
        # Key material is never shown.
        return f"PreparedKey(version={self.version!r})"


def _b64decode(text: str, what: str) -> bytes:
    if _BASE64_RE.fullmatch(text) is None:
        raise InvalidKeyError(f"{what} is not base64")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError(f"{what} is not base64") from None


def _hmac_key(raw: bytes) -> PreparedKey:
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise InvalidKeyError(
            f"a webhook secret must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
            f"got {len(raw)}"
        )
    return PreparedKey(version="v1", hmac=_chmac.HMAC(raw, hashes.SHA256()))


def _private_key(key: Ed25519PrivateKey) -> PreparedKey:
    return PreparedKey(version="v1a", public=key.public_key(), private=key)


def _prepare_text(text: str) -> PreparedKey:
    if text.startswith("whsec_"):
        return _hmac_key(_b64decode(text[6:], "whsec_ secret"))
    if text.startswith("whsk_"):
        raw = _b64decode(text[5:], "whsk_ key")
        if len(raw) == 64:  # noqa: PLR2004 - libsodium layout: seed || public key
            key = Ed25519PrivateKey.from_private_bytes(raw[:32])
            derived = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            if not bytes_eq(derived, raw[32:]):
                raise InvalidKeyError("whsk_ key: public half does not match the seed")
            return _private_key(key)
        if len(raw) != 32:  # noqa: PLR2004 - Ed25519 seed size
            raise InvalidKeyError(f"whsk_ key must be 32 bytes, got {len(raw)}")
        return _private_key(Ed25519PrivateKey.from_private_bytes(raw))
    if text.startswith("whpk_"):
        raw = _b64decode(text[5:], "whpk_ key")
        if len(raw) != 32:  # noqa: PLR2004 - Ed25519 public key size
            raise InvalidKeyError(f"whpk_ key must be 32 bytes, got {len(raw)}")
        try:
            return PreparedKey(version="v1a", public=Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:  # pragma: no cover - every 32-byte string loads today
            raise InvalidKeyError("whpk_ key is not an Ed25519 public key") from None
    raise InvalidKeyError("a webhook secret must start with whsec_, whsk_ or whpk_")


def _prepare_hinted(text: str) -> PreparedKey:
    """Parse a text secret; a refusal says so when surrounding whitespace is the cause."""
    try:
        return _prepare_text(text)
    except InvalidKeyError:
        if text != text.strip():
            raise InvalidKeyError(whitespace_hint("webhook")) from None
        raise


def whitespace_hint(what: str) -> str:
    """The refusal of a secret with surrounding whitespace, saying the likely cause and fix."""
    return (
        f"a {what} secret has surrounding whitespace (a newline read from a file or an"
        " environment variable?): pass secret.strip()"
    )


def prepare(secret: object) -> PreparedKey:
    """Parse one secret.

    Raises:
        InvalidKeyError: If the secret has no known prefix, is not base64, or has the wrong
            size.
        ConfigurationError: If it is not a string, bytes or an Ed25519 key object.
    """
    if isinstance(secret, str):
        return _prepare_hinted(secret)
    if isinstance(secret, (bytes, bytearray, memoryview)):
        raw = bytes(secret)
        if raw.strip().startswith((b"whsec_", b"whsk_", b"whpk_")):
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidKeyError("a webhook secret must be ASCII") from None
            return _prepare_hinted(text)
        return _hmac_key(raw)
    if isinstance(secret, Ed25519PrivateKey):
        return _private_key(secret)
    if isinstance(secret, Ed25519PublicKey):
        return PreparedKey(version="v1a", public=secret)
    raise ConfigurationError(
        f"a webhook secret must be str, bytes or an Ed25519 key, got {type(secret).__name__}"
    )


def generate_secret(nbytes: int = 32) -> str:
    """Generate a new symmetric (``v1``) secret.

    Args:
        nbytes: Random bytes in the secret, 24 to 64.

    Returns:
        ``whsec_`` followed by base64 of ``nbytes`` random bytes.

    Raises:
        ConfigurationError: If ``nbytes`` is out of range.

    .. versionadded:: 0.1.0
    """
    int_option(nbytes, "nbytes", low=MIN_SECRET_BYTES, high=MAX_SECRET_BYTES)
    return "whsec_" + base64.b64encode(_secrets.token_bytes(nbytes)).decode("ascii")


def generate_signing_key() -> str:
    """Generate a new Ed25519 (``v1a``) signing key.

    Returns:
        ``whsk_`` followed by base64 of the 32-byte private seed.  Keep it secret; give
        :func:`public_key` of it to the receivers.

    .. versionadded:: 0.1.0
    """
    key = Ed25519PrivateKey.generate()
    return "whsk_" + base64.b64encode(key.private_bytes_raw()).decode("ascii")


def public_key(signing_key: str | bytes | Ed25519PrivateKey) -> str:
    """Return the ``whpk_`` public key of a ``whsk_`` signing key.

    Raises:
        InvalidKeyError: If ``signing_key`` is not an Ed25519 signing key.

    .. versionadded:: 0.1.0
    """
    prepared = prepare(signing_key)
    if prepared.private is None or prepared.public is None:
        raise InvalidKeyError("public_key() needs a whsk_ signing key")
    raw = prepared.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode("ascii")
