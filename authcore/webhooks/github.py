"""GitHub-style webhook signatures: ``X-Hub-Signature-256: sha256=<hex>``.

The scheme (GitHub, "Validating webhook deliveries"): the lowercase hex HMAC-SHA256 of the
raw body, keyed with the webhook secret's text.  Only ``sha256`` is accepted; the legacy
``X-Hub-Signature: sha1=...`` header is not.

What this does NOT check: there is no timestamp in the scheme, so a captured delivery can be
replayed indefinitely.  With ``replay_cache=``, an event (its ``X-GitHub-Delivery`` id and the
digest of its payload) is accepted once for ``replay_ttl`` seconds; the delivery id is not
signed, though, so the cache stops duplicate deliveries but not an attacker who re-sends a
captured payload under a new id.  Deduplicate on ids inside the payload after verifying,
and restrict the source addresses if replay matters to you.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from authcore._ct import bytes_eq
from authcore._options import seconds_option
from authcore.clock import as_unix
from authcore.errors import ConfigurationError, InvalidSignature, MalformedHeader
from authcore.onetime import check_store
from authcore.webhooks._common import (
    HasJSONPayload,
    HeadersInput,
    HeaderSpec,
    Payload,
    find_headers,
    header_value,
    keyed_hmacs,
    payload_digest,
    remember_event,
    to_payload,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.hmac import HMAC

    from authcore.clock import Instant
    from authcore.onetime import OneTimeStore

__all__ = [
    "DEFAULT_REPLAY_TTL",
    "DELIVERY_HEADER",
    "HEADER",
    "VerifiedGitHubWebhook",
    "sign",
    "verify",
]

HEADER: Final = "x-hub-signature-256"
"""The header carrying the signature."""

DELIVERY_HEADER: Final = "x-github-delivery"
"""The header carrying the delivery's id (a GUID; not covered by the signature)."""

DEFAULT_REPLAY_TTL: Final = 86_400
"""Seconds a delivery stays in a replay cache when ``replay_ttl`` is not given (one day)."""

_SPEC: Final = HeaderSpec.of(HEADER)
_REPLAY_SPEC: Final = HeaderSpec.of(HEADER, DELIVERY_HEADER)
_DELIVERY_RE: Final = re.compile(r"[!-~]{1,128}")
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
    *,
    replay_cache: OneTimeStore | None = None,
    replay_ttl: float = DEFAULT_REPLAY_TTL,
    now: Instant | None = None,
) -> VerifiedGitHubWebhook:
    """Verify a GitHub-style webhook.

    Not checked: freshness (the scheme has no timestamp, so a captured delivery verifies
    forever) and the payload's content.  A ``replay_cache`` accepts each event (delivery id
    and payload digest) once for ``replay_ttl`` seconds, whichever secret signed it; the
    delivery id is not signed, so an attacker can re-send a captured payload under a new id:
    deduplicate on ids inside the payload as well.

    Args:
        payload: The raw request body, exactly as received.
        header: The ``X-Hub-Signature-256`` value, or all the request headers (any mapping or
            pairs; names are matched case-insensitively and must appear once).  With a
            ``replay_cache``, all the headers (``X-GitHub-Delivery`` is needed).
        secrets: One webhook secret or several (during a rotation; any one may match).
        replay_cache: A :class:`~authcore.onetime.OneTimeStore` (such as
            :class:`~authcore.stores.memory.MemoryOneTimeStore`); if given, each event is
            accepted once.
        replay_ttl: Seconds an accepted event is remembered (default one day).
        now: The current time, for the replay cache: an aware datetime or UNIX seconds
            (default: the clock).

    Returns:
        The verified payload.

    Raises:
        MalformedHeader: The header is missing, repeated, or not ``sha256=`` + 64 hex digits;
            or, with a ``replay_cache``, ``X-GitHub-Delivery`` is missing or malformed.
        InvalidSignature: The signature matches none of the secrets.
        Replayed: The replay cache has already accepted this event.
        InvalidKeyError: A secret is unusable (your configuration).
        ConfigurationError: ``replay_cache`` is not a OneTimeStore, ``replay_ttl`` is not a
            positive number, or only a header value was given with a ``replay_cache``.
        StoreError: The replay cache failed (the delivery is refused).

    .. versionadded:: 0.1.0
    """
    body = to_payload(payload)
    keyed = keyed_hmacs(secrets, what="GitHub")
    delivery: str | None = None
    ttl = seconds_option(replay_ttl, "replay_ttl")
    current = None if now is None else as_unix(now)
    if check_store(replay_cache, "replay_cache") is None:
        value = header_value(header, _SPEC)
    else:
        if isinstance(header, str):
            raise ConfigurationError(
                "with a replay_cache, pass all the request headers (X-GitHub-Delivery is needed)"
            )
        found, delivery = find_headers(header, _REPLAY_SPEC)
        if found is None:
            raise MalformedHeader(f"missing header {HEADER}")
        if delivery is None or _DELIVERY_RE.fullmatch(delivery) is None:
            raise MalformedHeader(f"{DELIVERY_HEADER} is missing or not 1-128 visible ASCII")
        value = found
    if len(value) != _LENGTH or not value.startswith(_PREFIX):
        raise MalformedHeader("X-Hub-Signature-256 is not 'sha256=' and 64 hex digits")
    provided = value[len(_PREFIX) :].encode("utf-8", "replace")
    for index, base in enumerate(keyed):
        if bytes_eq(provided, _hex_mac(base, body)):
            if replay_cache is not None and delivery is not None:
                current = as_unix(None) if current is None else current
                # The event: its delivery id and payload, never the signature that matched.
                remember_event(
                    replay_cache,
                    f"webhook:github:{delivery}:{payload_digest(body)}",
                    expires=current + ttl,
                    current=current,
                    what="this X-GitHub-Delivery and payload",
                )
            return VerifiedGitHubWebhook(payload=body, key_index=index)
    raise InvalidSignature("the signature matches no secret")
