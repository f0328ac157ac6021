"""Stripe-style webhook signatures: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``.

The scheme (Stripe, "Verify webhook signatures manually"): ``v1`` is the lowercase hex
HMAC-SHA256 of ``{t}.{payload}``, keyed with the endpoint secret's text as given (the whole
``whsec_...`` string, not base64-decoded).  During a secret roll Stripe sends one ``v1`` per
active secret; any one matching is enough.  Other schemes (``v0``, test mode) are skipped.

Stricter than Stripe's own libraries, on purpose: ``t`` must appear exactly once and be a
canonical decimal integer, the tolerance applies in both directions (a timestamp an hour
ahead fails), and the header is capped at :data:`MAX_ENTRIES` entries.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from authcore._ct import bytes_eq
from authcore.clock import as_unix
from authcore.errors import InvalidSignature, MalformedHeader
from authcore.onetime import check_store
from authcore.webhooks._common import (
    DEFAULT_TOLERANCE,
    HasTimestamp,
    HeadersInput,
    HeaderSpec,
    Payload,
    Tolerance,
    check_tolerance,
    header_value,
    keyed_hmacs,
    parse_timestamp,
    payload_digest,
    remember_event,
    signing_timestamp,
    to_payload,
    to_tolerance,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.hmac import HMAC

    from authcore.clock import Instant
    from authcore.onetime import OneTimeStore

__all__ = ["HEADER", "MAX_ENTRIES", "StripeVerifier", "VerifiedStripeWebhook", "sign", "verify"]

HEADER: Final = "stripe-signature"
"""The header carrying the timestamp and signatures."""

MAX_ENTRIES: Final = 32
"""The most comma-separated entries read from one header."""

_SPEC: Final = HeaderSpec.of(HEADER)
_MAX_HEADER: Final = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedStripeWebhook(HasTimestamp):
    """A Stripe-style webhook whose signature and timestamp were verified.

    Nothing is checked about the payload's content.  Stripe may deliver an event more than
    once: deduplicate on the event id inside the payload.

    Attributes:
        payload: The raw body that was verified.
        timestamp: The signed ``t``, in UNIX seconds.
        key_index: The position, in the secrets given, of the one that verified.

    .. versionadded:: 0.1.0
    """

    payload: bytes = field(repr=False)
    timestamp: int
    key_index: int


def _hex_mac(base: HMAC, timestamp: int, body: bytes) -> bytes:
    mac = base.copy()
    mac.update(b"%d." % timestamp)
    mac.update(body)
    return mac.finalize().hex().encode("ascii")


def sign(payload: Payload, secret: str | bytes, *, timestamp: Instant | None = None) -> str:
    """Sign a payload: return the ``Stripe-Signature`` header value ``t=...,v1=...``.

    Args:
        payload: The exact body bytes that will be sent.
        secret: The endpoint secret (its text is the HMAC key).
        timestamp: The send time: an aware datetime or UNIX seconds (floored); default: now.

    Returns:
        The header value.

    Raises:
        InvalidKeyError: If the secret is empty or has surrounding whitespace.
        ConfigurationError: If ``timestamp`` is unusable.

    .. versionadded:: 0.1.0
    """
    body = to_payload(payload)
    (base,) = keyed_hmacs(secret, what="Stripe")
    ts = signing_timestamp(timestamp)
    return f"t={ts},v1={_hex_mac(base, ts, body).decode('ascii')}"


def _parse(value: str) -> tuple[str, list[bytes]]:
    if len(value) > _MAX_HEADER:
        raise MalformedHeader("Stripe-Signature header too long")
    entries = value.split(",")
    if len(entries) > MAX_ENTRIES:
        raise MalformedHeader(f"more than {MAX_ENTRIES} entries in Stripe-Signature")
    t_text: str | None = None
    v1: list[bytes] = []
    for entry in entries:
        name, sep, item = entry.partition("=")
        if not sep:
            raise MalformedHeader("Stripe-Signature entry is not 'name=value'")
        if name == "t":
            if t_text is not None:
                raise MalformedHeader("Stripe-Signature has more than one t")
            t_text = item
        elif name == "v1":
            v1.append(item.encode("utf-8", "replace"))
    if t_text is None:
        raise MalformedHeader("Stripe-Signature has no t")
    return t_text, v1


def verify(
    payload: Payload,
    header: str | HeadersInput,
    secrets: str | bytes | Sequence[str | bytes],
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    now: Instant | None = None,
    replay_cache: OneTimeStore | None = None,
) -> VerifiedStripeWebhook:
    """Verify a Stripe-style webhook.

    Checks, in order: the header has exactly one canonical ``t``, ``t`` is within
    ``tolerance`` of ``now`` (either direction), one ``v1`` matches one of ``secrets``, and
    (with a ``replay_cache``) this event (its signed ``t`` and payload) was not accepted
    before, whichever ``v1`` entries its header carries.  Not
    checked: the payload's content, and whether Stripe already delivered this event (its
    retries are signed anew): deduplicate on the event id after processing.

    Args:
        payload: The raw request body, exactly as received.
        header: The ``Stripe-Signature`` value, or all the request headers (any mapping or
            pairs; the name is matched case-insensitively and must appear once).
        secrets: One endpoint secret or several (during a roll; any one may match).
        tolerance: Seconds (or a timedelta) ``t`` may differ from now, either way.
        now: The current time: an aware datetime or UNIX seconds (default: the clock).
        replay_cache: A :class:`~authcore.onetime.OneTimeStore` (such as
            :class:`~authcore.stores.memory.MemoryOneTimeStore`); if given, each event
            (signed ``t`` and payload digest) is accepted once while ``t`` is within the
            tolerance, however many secrets or signatures its header carries.

    Returns:
        The verified payload and timestamp.

    Raises:
        MalformedHeader: The header is missing, repeated or malformed.
        StaleTimestamp: ``t`` is outside the tolerance.
        InvalidSignature: No ``v1`` matches any of the secrets.
        Replayed: The replay cache has already accepted this delivery.
        InvalidKeyError: A secret is unusable (your configuration).

    .. versionadded:: 0.1.0
    """
    body = to_payload(payload)
    keyed = keyed_hmacs(secrets, what="Stripe")
    seconds = to_tolerance(tolerance)
    check_store(replay_cache, "replay_cache")
    return _check(body, header, keyed, seconds, now=now, replay_cache=replay_cache)


def _check(
    body: bytes,
    header: object,
    keyed: tuple[HMAC, ...],
    seconds: float,
    *,
    now: Instant | None,
    replay_cache: OneTimeStore | None,
) -> VerifiedStripeWebhook:
    """The checks of :func:`verify` once the secrets and options are prepared."""
    t_text, v1 = _parse(header_value(header, _SPEC))
    timestamp = parse_timestamp(t_text, what="Stripe-Signature t")
    current = as_unix(now)
    check_tolerance(timestamp, current, seconds, what="Stripe-Signature t")
    if not v1:
        raise InvalidSignature("no v1 entry in Stripe-Signature")
    for index, base in enumerate(keyed):
        expected = _hex_mac(base, timestamp, body)
        for candidate in v1:
            if bytes_eq(candidate, expected):
                if replay_cache is not None:
                    # The event is its signed timestamp and payload, never the v1 entry that
                    # matched: a header carrying another secret's entry is the same event.
                    remember_event(
                        replay_cache,
                        f"webhook:stripe:{timestamp}:{payload_digest(body)}",
                        expires=timestamp + seconds + 1,
                        current=current,
                        what="this Stripe event (timestamp and payload)",
                    )
                return VerifiedStripeWebhook(payload=body, timestamp=timestamp, key_index=index)
    raise InvalidSignature("no v1 signature matched any secret")


class StripeVerifier:
    """Verifies Stripe-style webhooks with a fixed set of secrets: build once, reuse.

    The same checks as :func:`verify`, with the secrets keyed and the options checked once,
    here, instead of on every call.  The keyed HMACs belong to this object (they are only
    ever copied, never updated), so one verifier is immutable and safe to share across
    threads.  Not checked: the payload's content, and whether Stripe already delivered this
    event: deduplicate on the event id after processing.

    Args:
        secrets: One endpoint secret or several (during a roll; any one may match).
        tolerance: Seconds (or a timedelta) ``t`` may differ from now, either way.
        replay_cache: A :class:`~authcore.onetime.OneTimeStore`; if given, each event (signed
            ``t`` and payload digest) is accepted once, as with :func:`verify`.

    Raises:
        InvalidKeyError: If a secret is empty or has surrounding whitespace.
        ConfigurationError: If no secret is given, or ``tolerance`` or ``replay_cache`` is
            unusable.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_keyed", "_replay_cache", "_tolerance")

    def __init__(
        self,
        secrets: str | bytes | Sequence[str | bytes],
        *,
        tolerance: Tolerance = DEFAULT_TOLERANCE,
        replay_cache: OneTimeStore | None = None,
    ) -> None:
        self._keyed = keyed_hmacs(secrets, what="Stripe")
        self._tolerance = to_tolerance(tolerance)
        check_store(replay_cache, "replay_cache")
        self._replay_cache = replay_cache

    def __repr__(self) -> str:
        return f"StripeVerifier(keys={len(self._keyed)}, tolerance={self._tolerance:g})"

    def verify(
        self, payload: Payload, header: str | HeadersInput, *, now: Instant | None = None
    ) -> VerifiedStripeWebhook:
        """Verify one delivery, as :func:`verify` does with this object's secrets.

        Args:
            payload: The raw request body, exactly as received.
            header: The ``Stripe-Signature`` value, or all the request headers (any mapping,
                pairs, ``http.server`` headers or a WSGI environ).
            now: The current time: an aware datetime or UNIX seconds (default: the clock).

        Returns:
            The verified payload and timestamp.

        Raises:
            MalformedHeader: The header is missing, repeated or malformed.
            StaleTimestamp: ``t`` is outside the tolerance.
            InvalidSignature: No ``v1`` matches any of the secrets.
            Replayed: The replay cache has already accepted this delivery.

        .. versionadded:: 0.1.0
        """
        return _check(
            to_payload(payload),
            header,
            self._keyed,
            self._tolerance,
            now=now,
            replay_cache=self._replay_cache,
        )
