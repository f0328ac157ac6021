"""GitHub-style webhook signatures: ``X-Hub-Signature-256: sha256=<hex>``.

The scheme (GitHub, "Validating webhook deliveries"): the lowercase hex HMAC-SHA256 of the
raw body, keyed with the webhook secret's text.  Only ``sha256`` is accepted; the legacy
``X-Hub-Signature: sha1=...`` header is not.

What this does NOT check: there is no timestamp in the scheme, so a captured delivery can be
replayed indefinitely.  Deduplicate on the ``X-GitHub-Delivery`` header (a GUID) after
verifying, and restrict the source addresses if replay matters to you.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from authcore._ct import bytes_eq
from authcore.errors import InvalidSignature, MalformedHeader
from authcore.webhooks._common import (
    HasJSONPayload,
    HeadersInput,
    HeaderSpec,
    Payload,
    header_value,
    keyed_hmacs,
    to_payload,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.hmac import HMAC

__all__ = ["HEADER", "VerifiedGitHubWebhook", "sign", "verify"]

HEADER: Final = "x-hub-signature-256"
"""The header carrying the signature."""

_SPEC: Final = HeaderSpec.of(HEADER)
_PREFIX: Final = "sha256="
_LENGTH: Final = len(_PREFIX) + 64


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedGitHubWebhook(HasJSONPayload):
    """A GitHub-style webhook whose signature was verified.

    Attributes:
        payload: The raw body that was verified.
        key_index: The position, in the secrets given, of the one that verified.

    .. versionadded:: 0.1.0
    """

    payload: bytes = field(repr=False)
    key_index: int


def _hex_mac(base: HMAC, body: bytes) -> bytes:
    mac = base.copy()
    mac.update(body)
    return mac.finalize().hex().encode("ascii")


def sign(payload: Payload, secret: str | bytes) -> str:
    """Sign a payload: return the ``X-Hub-Signature-256`` value ``sha256=<hex>``.

    Raises:
        InvalidKeyError: If the secret is empty or has surrounding whitespace.

    .. versionadded:: 0.1.0
    """
    (base,) = keyed_hmacs(secret, what="GitHub")
    return _PREFIX + _hex_mac(base, to_payload(payload)).decode("ascii")


def verify(
    payload: Payload,
    header: str | HeadersInput,
    secrets: str | bytes | Sequence[str | bytes],
) -> VerifiedGitHubWebhook:
    """Verify a GitHub-style webhook.

    Not checked: freshness (the scheme has no timestamp, so a captured delivery verifies
    forever; deduplicate on ``X-GitHub-Delivery``) and the payload's content.

    Args:
        payload: The raw request body, exactly as received.
        header: The ``X-Hub-Signature-256`` value, or all the request headers (any mapping or
            pairs; the name is matched case-insensitively and must appear once).
        secrets: One webhook secret or several (during a rotation; any one may match).

    Returns:
        The verified payload.

    Raises:
        MalformedHeader: The header is missing, repeated, or not ``sha256=`` + 64 hex digits.
        InvalidSignature: The signature matches none of the secrets.
        InvalidKeyError: A secret is unusable (your configuration).

    .. versionadded:: 0.1.0
    """
    body = to_payload(payload)
    keyed = keyed_hmacs(secrets, what="GitHub")
    value = header_value(header, _SPEC)
    if len(value) != _LENGTH or not value.startswith(_PREFIX):
        raise MalformedHeader("X-Hub-Signature-256 is not 'sha256=' and 64 hex digits")
    provided = value[len(_PREFIX) :].encode("utf-8", "replace")
    for index, base in enumerate(keyed):
        if bytes_eq(provided, _hex_mac(base, body)):
            return VerifiedGitHubWebhook(payload=body, key_index=index)
    raise InvalidSignature("the signature matches no secret")
