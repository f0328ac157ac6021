"""Proof Key for Code Exchange (RFC 7636) with S256 only by default.

* Section 4.1: ``code_verifier = 43*128unreserved`` (``[A-Za-z0-9-._~]``); section 4.2: the
  challenge has the same grammar; S256 is ``BASE64URL(SHA256(ASCII(code_verifier)))``.
* Section 4.6: the server recomputes the challenge and compares it, here in constant time.
* RFC 9700 section 2.1.1: ``plain`` is refused unless explicitly enabled, and a verifier sent
  for a code issued without a challenge is a downgrade and refused (section 4.8.2).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

from authcore._ct import bytes_eq
from authcore._encoding import b64url_encode
from authcore._options import bool_option, is_choice
from authcore.errors import ConfigurationError, InvalidGrant, InvalidRequest

__all__ = [
    "S256",
    "PKCEPair",
    "check_challenge",
    "check_verifier",
    "create_pair",
    "s256_challenge",
    "verify",
]

S256: Final = "S256"
"""The only method enabled by default."""

_GRAMMAR: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_METHODS: Final = frozenset({"S256", "plain"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PKCEPair:
    """A client's verifier and the challenge sent with the authorization request.

    Attributes:
        verifier: The secret ``code_verifier`` (never shown by ``repr``).
        challenge: ``code_challenge``.
        method: ``code_challenge_method`` (always ``"S256"``).
    """

    verifier: str = field(repr=False)
    challenge: str
    method: str = S256


def s256_challenge(verifier: str) -> str:
    """Return ``BASE64URL(SHA256(ASCII(verifier)))`` (RFC 7636 section 4.2).

    Raises:
        InvalidGrant: If ``verifier`` does not match the section 4.1 grammar.
    """
    check_verifier(verifier)
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def create_pair() -> PKCEPair:
    """Create a fresh S256 pair from 32 random octets (the RFC's recommendation)."""
    verifier = b64url_encode(secrets.token_bytes(32))
    return PKCEPair(verifier=verifier, challenge=s256_challenge(verifier))


def check_verifier(verifier: object) -> str:
    """Return ``verifier`` if it matches ``[A-Za-z0-9-._~]{43,128}``.

    Raises:
        InvalidGrant: Otherwise (the token endpoint's answer to a malformed verifier).
    """
    if not isinstance(verifier, str) or _GRAMMAR.fullmatch(verifier) is None:
        raise InvalidGrant("code_verifier does not match the RFC 7636 grammar")
    return verifier


def check_challenge(
    challenge: object, method: object, *, allow_plain: bool = False
) -> tuple[str, str]:
    """Validate an authorization request's challenge and method.

    A missing method means ``plain`` (RFC 7636 section 4.3), which is refused unless
    ``allow_plain``.

    Returns:
        ``(challenge, method)``.

    Raises:
        InvalidRequest: On a malformed challenge, an unknown method, or ``plain`` when it
            is not allowed.
        ConfigurationError: If ``allow_plain`` is not a bool.
    """
    bool_option(allow_plain, "allow_plain")
    if not isinstance(challenge, str) or _GRAMMAR.fullmatch(challenge) is None:
        raise InvalidRequest("code_challenge does not match the RFC 7636 grammar")
    chosen = "plain" if method is None else method
    if not is_choice(chosen, _METHODS):
        raise InvalidRequest("unsupported code_challenge_method")
    if chosen == "plain" and not allow_plain:
        raise InvalidRequest("code_challenge_method plain is not allowed; use S256")
    return challenge, str(chosen)


def verify(verifier: str | None, challenge: str | None, method: str | None) -> None:
    """Check a token request's ``code_verifier`` against the stored challenge.

    Args:
        verifier: The ``code_verifier`` sent, or ``None``.
        challenge: The challenge stored with the code, or ``None`` if none was sent.
        method: The stored method (``"S256"`` or ``"plain"``).

    Raises:
        InvalidGrant: If a challenge was stored and the verifier is missing, malformed or
            wrong (compared in constant time), or if no challenge was stored and a verifier
            is present (a downgrade, RFC 9700 section 4.8.2).
    """
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier sent for a code issued without a challenge")
        return
    if verifier is None:
        raise InvalidGrant("code_verifier is missing")
    check_verifier(verifier)
    if method == S256:
        computed = s256_challenge(verifier)
    elif method == "plain":
        computed = verifier
    else:
        raise ConfigurationError("stored code_challenge_method is not S256 or plain")
    if not bytes_eq(computed.encode("ascii"), challenge.encode("ascii")):
        raise InvalidGrant("code_verifier does not match the code_challenge")
