"""Standard Webhooks 1.0: ``v1`` (HMAC-SHA256) and ``v1a`` (Ed25519) signatures.

Implements the specification at https://www.standardwebhooks.com ("Signature scheme",
"Webhook headers", "Verifying signatures"):

* the signed content is ``{webhook-id}.{webhook-timestamp}.{payload}`` over the raw body;
* ``webhook-signature`` is a space-separated list of ``version,base64(signature)``; any one
  valid signature is enough, unknown versions are skipped (they are how schemes evolve);
* ``webhook-timestamp`` is checked against the tolerance in both directions;
* HMAC results are compared in constant time (:func:`authcore._ct.bytes_eq`), as canonical
  base64 text, so a signature has exactly one accepted spelling.

Stricter than the specification requires, on purpose: ``webhook-id`` must be 1 to 256
visible ASCII characters without ``.`` (the specification warns that a ``.`` in the id lets
a signed message be re-split), the timestamp must be a canonical decimal integer, a repeated
header is refused, and the signature header is capped (:data:`MAX_SIGNATURES` entries).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as _secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, NoReturn

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature

from authcore._ct import bytes_eq, known_bytes_eq
from authcore._frozen import frozen_builder, unfrozen_twin
from authcore.clock import as_unix, unix_now
from authcore.errors import (
    ConfigurationError,
    InvalidKeyError,
    InvalidSignature,
    MalformedHeader,
)
from authcore.onetime import check_store
from authcore.webhooks._common import (
    DEFAULT_TOLERANCE,
    HasTimestamp,
    HeadersInput,
    HeaderSpec,
    Payload,
    Tolerance,
    check_tolerance,
    find_headers,
    remember_event,
    signing_timestamp,
    to_payload,
    to_tolerance,
)
from authcore.webhooks._keys import PreparedKey, WebhookSecret, prepare

if TYPE_CHECKING:
    from authcore.clock import Instant
    from authcore.onetime import OneTimeStore

__all__ = [
    "DEFAULT_HEADER_PREFIX",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_SIGNATURES",
    "VerifiedWebhook",
    "WebhookVerifier",
    "sign",
    "verify",
]

HEADER_ID: Final = "webhook-id"
"""The message id header (the same across retries of one message)."""
HEADER_TIMESTAMP: Final = "webhook-timestamp"
"""The UNIX-seconds timestamp header."""
HEADER_SIGNATURE: Final = "webhook-signature"
"""The space-separated signatures header."""

MAX_SIGNATURES: Final = 16
"""The most entries read from one ``webhook-signature`` header."""

DEFAULT_HEADER_PREFIX: Final = "webhook-"
"""The header-name prefix of the specification (Svix sends the same headers as ``svix-``)."""

_MAX_SIGNATURE_HEADER: Final = 4096
_SHORT_ENTRY: Final = 100
_DEFAULT_SECONDS: Final = float(DEFAULT_TOLERANCE)

_SPEC: Final = HeaderSpec.of(HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
_HEADER_PREFIX_RE: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-")
# Below this size the signed content is built by one concatenation (cheaper than a second
# HMAC update); above it the body is fed to the HMAC as is, without a copy.
_CONCAT_LIMIT: Final = 16384
# Visible ASCII except "." (0x2e): the id is followed by "." in the signed content.
_ID_RE: Final = re.compile(r"[!-\-/-~]{1,256}")
_SIGNED_PREFIX_RE: Final = re.compile(r"[!-\-/-~]{1,256}\.(?:0|[1-9][0-9]{0,15})\.")
_b2a = binascii.b2a_base64
# Header-name sets whose exactness a verifier remembers (see WebhookVerifier._exact).
_EXACT_MAX: Final = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedWebhook(HasTimestamp):
    """A webhook whose signature, timestamp (and, if asked, novelty) were verified.

    Nothing is checked about the payload's content: parse it, then act on it.  A sender
    retries a message with the same ``msg_id`` and a new timestamp, so make processing
    idempotent on ``msg_id``.

    Attributes:
        msg_id: The ``webhook-id`` header.
        timestamp: The ``webhook-timestamp`` header, in UNIX seconds.
        payload: The raw body that was verified.
        version: The signature version that matched: ``"v1"`` (HMAC) or ``"v1a"`` (Ed25519).
        key_index: The position, in the secrets given, of the one that verified (during a
            rotation this tells when the old secret stops being used).

    .. versionadded:: 0.1.0
    """

    msg_id: str
    timestamp: int
    payload: bytes = field(repr=False)
    version: Literal["v1", "v1a"]
    key_index: int


def _as_sequence(secrets: object) -> tuple[object, ...]:
    if isinstance(secrets, (str, bytes, bytearray, memoryview)) or not isinstance(
        secrets, Sequence
    ):
        return (secrets,)
    if not secrets:
        raise ConfigurationError("no webhook secret given")
    return tuple(secrets)


class _KeySet(NamedTuple):
    hmacs: tuple[tuple[int, Any], ...]
    publics: tuple[tuple[int, Any], ...]


def _build_key_set(items: tuple[object, ...]) -> _KeySet:
    hmacs: list[tuple[int, Any]] = []
    publics: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        key = prepare(item)
        if key.version == "v1":
            hmacs.append((index, key.hmac))
        else:
            publics.append((index, key.public))
    return _KeySet(tuple(hmacs), tuple(publics))


def _decode_ed25519_signature(text: bytes) -> bytes | None:
    # Canonical standard base64 of 64 bytes is exactly 88 characters ending in "==".
    if len(text) != 88 or not text.endswith(b"=="):  # noqa: PLR2004
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if bytes_eq(_b2a(raw, newline=False), text) else None


class WebhookVerifier:
    """Verifies Standard Webhooks deliveries with a fixed set of secrets: build once, reuse.

    This is the fast path, as :class:`~authcore.jose.jwt.JWTVerifier` is for JWTs: parsing
    the secrets (and keying the HMACs) happens here, once, so :meth:`verify` does only the
    per-message work.  The parsed keys belong to this object and go with it; nothing is
    cached at module level.  Immutable and safe to share across threads.

    Args:
        secrets: One secret or a sequence of them (rotation: any one may match).  Each is a
            ``whsec_`` secret (``v1``), a ``whpk_`` public key or ``whsk_`` signing key
            (``v1a``), raw HMAC key bytes, or an Ed25519 key object.
        tolerance: Seconds (or a timedelta) the timestamp may differ from now, either way.
        replay_cache: A :class:`~authcore.onetime.OneTimeStore` (such as
            :class:`~authcore.stores.memory.MemoryOneTimeStore`); if given, each delivery
            (message id and timestamp) is accepted once.
        header_prefix: The header names' prefix: ``"webhook-"`` (the specification) or, for
            Svix-branded deliveries (Clerk, Resend, ...), ``"svix-"``.

    Raises:
        InvalidKeyError: If a secret is malformed.
        ConfigurationError: If no secret is given or ``tolerance`` is invalid.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_exact",
        "_hmacs",
        "_keys",
        "_names",
        "_replay_cache",
        "_single",
        "_spec",
        "_stem",
        "_tolerance",
    )

    def __init__(
        self,
        secrets: WebhookSecret | Sequence[WebhookSecret],
        *,
        tolerance: Tolerance = DEFAULT_TOLERANCE,
        replay_cache: OneTimeStore | None = None,
        header_prefix: str = DEFAULT_HEADER_PREFIX,
    ) -> None:
        check_store(replay_cache, "replay_cache")
        self._keys = _build_key_set(_as_sequence(secrets))
        self._spec = _header_spec(header_prefix)
        self._tolerance = to_tolerance(tolerance)
        self._replay_cache = replay_cache
        # What the fast path of verify() reads, unpacked once.
        self._hmacs = self._keys.hmacs
        # The usual receiver has one secret: verify() then skips the loop over keys.
        only = self._hmacs[0] if len(self._hmacs) == 1 else None
        self._single = only[1] if only is not None and only[0] == 0 else None
        self._names = self._spec.names
        self._stem = self._spec.stem
        # Header names (as the mapping lists them) -> whether the three wanted names are the
        # only spellings of them.  It depends on the names alone, and a sender's requests
        # repeat one set of names, so the lower-casing scan runs once per set.  Names only,
        # never values; bounded by clearing when full.
        self._exact: dict[tuple[object, ...], bool] = {}

    def __repr__(self) -> str:
        return (
            f"WebhookVerifier(v1_keys={len(self._keys.hmacs)}, "
            f"v1a_keys={len(self._keys.publics)}, tolerance={self._tolerance:g})"
        )

    def verify(  # noqa: C901, PLR0911, PLR0912 - the hot path is kept in one frame on purpose
        self, payload: Payload, headers: HeadersInput, *, now: Instant | None = None
    ) -> VerifiedWebhook:
        """Verify one delivery.

        Args:
            payload: The raw request body, exactly as received.
            headers: The request headers: :class:`authcore.http.Headers`, any mapping, or
                ``(name, value)`` pairs; names are matched case-insensitively.
            now: The current time: an aware datetime or UNIX seconds (default: the clock).

        Returns:
            The verified message.

        Raises:
            MalformedHeader: A header is missing, repeated or malformed.
            StaleTimestamp: The timestamp is outside the tolerance (either direction).
            InvalidSignature: No signature in the header matches any of the secrets.
            Replayed: The replay cache has already accepted this delivery.
            StoreError: The replay cache failed.
        """
        # The fast path: the usual delivery (bytes, a plain dict of text, one "v1," signature),
        # in this frame, with the checks of _verify() in the same order.  It only ever
        # accepts: whenever anything differs, or no signature matches, _verify() decides,
        # with its precise error.
        if type(payload) is not bytes or type(headers) is not dict:
            return self._verify_any(payload, headers, now)
        id_name, ts_name, sig_name = self._names
        try:
            msg_id, ts_text, sig_text = headers[id_name], headers[ts_name], headers[sig_name]
        except KeyError:  # missing, or spelled otherwise: the general path finds out which
            return self._verify_any(payload, headers, now)
        names = tuple(headers)
        exact = self._exact.get(names)
        if exact is None:
            exact = self._exact_names(names)
        if not (
            exact
            and type(msg_id) is str
            and type(ts_text) is str
            and type(sig_text) is str
            and sig_text[:3] == "v1,"
        ):
            return self._verify_any(payload, headers, now)
        # One match checks the id (visible ASCII, no ".") and the canonical decimal
        # timestamp, on the very text that is signed.
        prefix_text = f"{msg_id}.{ts_text}."
        if _SIGNED_PREFIX_RE.fullmatch(prefix_text) is None:
            return self._verify_any(payload, headers, now)
        timestamp = int(ts_text)
        current = unix_now() if now is None else as_unix(now)
        tolerance = self._tolerance
        if not -tolerance <= current - timestamp <= tolerance:
            return self._verify_any(payload, headers, now)
        # Equal to the base64 of a MAC means the header is that one entry alone.
        try:
            provided = sig_text[3:].encode()
        except UnicodeEncodeError:  # a lone surrogate: not a signature; _verify() says so
            return self._verify_any(payload, headers, now)
        prefix = prefix_text.encode()  # ASCII: the match above allows nothing else
        single = self._single
        if single is None:  # several secrets (rotation): the general path's loop
            index = _match_hmac(self._hmacs, (provided,), prefix, payload)
            if index is None:
                return self._verify_any(payload, headers, now)
        else:  # one secret, the usual case
            mac = single.copy()
            # Small bodies: one concatenation beats a second update; large ones are not copied.
            if len(payload) <= _CONCAT_LIMIT:
                mac.update(prefix + payload)
            else:
                mac.update(prefix)
                mac.update(payload)
            # Both bytes by construction (encode() above, b2a_base64 here).
            if not known_bytes_eq(provided, _b2a(mac.finalize(), newline=False)):
                return self._verify_any(payload, headers, now)
            index = 0
        if self._replay_cache is not None:
            _remember(self._replay_cache, msg_id, timestamp, tolerance=tolerance, current=current)
        # _verified(), inlined: the call alone costs about 1 % of a small delivery.
        result = _Unfrozen()
        result.msg_id = msg_id
        result.timestamp = timestamp
        result.payload = payload
        result.version = "v1"
        result.key_index = index
        result.__class__ = VerifiedWebhook
        return result  # type: ignore[no-any-return]

    def _exact_names(self, names: tuple[object, ...]) -> bool:
        """Whether no other spelling of the three names is among ``names`` (remembered)."""
        try:  # every key lower-cased once: no other spelling of the three names is present
            exact = "\n".join(names).lower().count(self._stem) == 3  # type: ignore[arg-type]  # noqa: PLR2004
        except TypeError:  # a key that is not str
            exact = False
        if len(self._exact) >= _EXACT_MAX:
            self._exact.clear()
        self._exact[names] = exact
        return exact

    def _verify_any(self, payload: object, headers: object, now: object) -> VerifiedWebhook:
        return _verify(
            payload,
            headers,
            self._keys,
            self._spec,
            tolerance=self._tolerance,
            now=now,
            replay_cache=self._replay_cache,
        )


# VerifiedWebhook built without its frozen __init__ (authcore._frozen says how and why): the
# general path through the builder, the fast path of WebhookVerifier.verify inlined on a twin
# (a test compares its result with the constructor's).
_new_verified: Final = frozen_builder(VerifiedWebhook)
_Unfrozen: Final = unfrozen_twin(VerifiedWebhook)


def _verified(
    msg_id: str, timestamp: int, body: bytes, version: str, index: int
) -> VerifiedWebhook:
    return _new_verified(
        msg_id=msg_id, timestamp=timestamp, payload=body, version=version, key_index=index
    )


def _header_spec(prefix: object) -> HeaderSpec:
    if prefix == DEFAULT_HEADER_PREFIX:
        return _SPEC
    if not isinstance(prefix, str) or _HEADER_PREFIX_RE.fullmatch(prefix) is None:
        raise ConfigurationError(
            "header_prefix must be lower-case letters, digits and '-', ending in '-'"
        )
    return HeaderSpec.of(f"{prefix}id", f"{prefix}timestamp", f"{prefix}signature")


def _split_signatures(sig_text: str) -> tuple[list[bytes], list[bytes]]:
    """Return the ``v1`` and ``v1a`` signatures of the header; other versions are skipped."""
    if len(sig_text) > _MAX_SIGNATURE_HEADER:
        raise MalformedHeader("webhook-signature header too long")
    entries = sig_text.encode("utf-8", "replace").split(b" ")
    if len(entries) > MAX_SIGNATURES:
        raise MalformedHeader(f"more than {MAX_SIGNATURES} entries in webhook-signature")
    v1: list[bytes] = []
    v1a: list[bytes] = []
    for entry in entries:
        if entry[:3] == b"v1,":
            v1.append(entry[3:])
        elif entry[:4] == b"v1a,":
            v1a.append(entry[4:])
        elif entry and b"," not in entry:
            raise MalformedHeader("webhook-signature entry is not 'version,signature'")
    return v1, v1a


def _match_hmac(
    hmacs: tuple[tuple[int, Any], ...], v1: Sequence[bytes], prefix: bytes, body: bytes
) -> int | None:
    """Return the index of the HMAC key that verifies one of the ``v1`` signatures."""
    # Small bodies: one concatenation beats a second HMAC update; large ones are not copied.
    content = prefix + body if len(body) <= _CONCAT_LIMIT else None
    for index, base in hmacs:
        mac = base.copy()
        if content is None:
            mac.update(prefix)
            mac.update(body)
        else:
            mac.update(content)
        expected = _b2a(mac.finalize(), newline=False)
        for candidate in v1:
            if bytes_eq(candidate, expected):
                return index
    return None


def _match_ed25519(keys: _KeySet, v1a: list[bytes], content: bytes) -> int | None:
    """Return the index of the public key that verifies one of the ``v1a`` signatures."""
    decoded = [d for d in map(_decode_ed25519_signature, v1a) if d is not None]
    for index, public in keys.publics:
        for candidate in decoded:
            try:
                public.verify(candidate, content)
            except _CryptoInvalidSignature:
                continue
            return index
    return None


def _refuse_signed_prefix(msg_id: str, spec: HeaderSpec) -> NoReturn:
    id_name, ts_name, _ = spec.names
    if _ID_RE.fullmatch(msg_id) is None:
        raise MalformedHeader(f"{id_name} must be 1-256 visible ASCII characters without '.'")
    raise MalformedHeader(f"{ts_name} is not a canonical decimal integer")


def _verify(
    payload: object,
    headers: object,
    keys: _KeySet,
    spec: HeaderSpec,
    *,
    tolerance: float,
    now: object,
    replay_cache: OneTimeStore | None,
) -> VerifiedWebhook:
    """Verify any delivery (the general path behind :meth:`WebhookVerifier.verify`)."""
    body = to_payload(payload)
    msg_id, ts_text, sig_text = find_headers(headers, spec)
    if msg_id is None or ts_text is None or sig_text is None:
        found = (msg_id, ts_text, sig_text)
        missing = [n for n, v in zip(spec.names, found, strict=True) if v is None]
        raise MalformedHeader(f"missing header {', '.join(missing)}")
    # One match checks the id (visible ASCII, no ".") and the canonical decimal timestamp,
    # on the very text that is signed.
    prefix_text = f"{msg_id}.{ts_text}."
    if _SIGNED_PREFIX_RE.fullmatch(prefix_text) is None:
        _refuse_signed_prefix(msg_id, spec)
    timestamp = int(ts_text)
    current = as_unix(now)
    check_tolerance(timestamp, current, tolerance, what=spec.names[1])
    v1, v1a = _split_signatures(sig_text)
    prefix = prefix_text.encode("ascii")
    version = "v1"
    matched = _match_hmac(keys.hmacs, v1, prefix, body) if v1 else None
    if matched is None and v1a and keys.publics:
        version = "v1a"
        matched = _match_ed25519(keys, v1a, prefix + body)
    if matched is None:
        if not v1 and not v1a:
            raise InvalidSignature("no v1 or v1a entry in webhook-signature")
        raise InvalidSignature("no signature matched any secret")
    if replay_cache is not None:
        _remember(replay_cache, msg_id, timestamp, tolerance=tolerance, current=current)
    return _verified(msg_id, timestamp, body, version, matched)


def _remember(
    replay_cache: OneTimeStore, msg_id: str, timestamp: int, *, tolerance: float, current: float
) -> None:
    # The event is its webhook-id (signed, and the same across a message's retries); kept
    # until the timestamp check would refuse this delivery by itself.
    remember_event(
        replay_cache,
        f"webhook:standard:{msg_id}",
        expires=timestamp + tolerance + 1,
        current=current,
        what="this webhook-id",
    )


def verify(
    payload: Payload,
    headers: HeadersInput,
    secrets: WebhookSecret | Sequence[WebhookSecret],
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    now: Instant | None = None,
    replay_cache: OneTimeStore | None = None,
    header_prefix: str = DEFAULT_HEADER_PREFIX,
) -> VerifiedWebhook:
    """Verify a Standard Webhooks delivery.

    Checks, in order: the three headers are present once each and well formed, the
    timestamp is within ``tolerance`` of ``now`` (either direction), one of the signatures
    matches one of ``secrets``, and (with a ``replay_cache``) this delivery was not accepted
    before.  Not checked: anything about the payload's content.

    A one-shot call: it parses ``secrets`` each time and keeps nothing afterwards.  To verify
    many deliveries, build a :class:`WebhookVerifier` once and reuse it (the fast path).

    Args:
        payload: The raw request body, exactly as received (``bytes``; never re-serialized
            JSON: see the guide).
        headers: The request headers: :class:`authcore.http.Headers`, any mapping, or
            ``(name, value)`` pairs; names are matched case-insensitively.
        secrets: One secret or a sequence of them (rotation: any one may match): ``whsec_``
            secrets verify ``v1``, ``whpk_`` public keys (or ``whsk_`` keys) verify ``v1a``.
        tolerance: Seconds (or a timedelta) the timestamp may differ from now, either way.
        now: The current time: an aware datetime or UNIX seconds (default: the clock).
        replay_cache: A :class:`~authcore.onetime.OneTimeStore` (such as
            :class:`~authcore.stores.memory.MemoryOneTimeStore`); if given, each delivery
            (message id and timestamp) is accepted once.
        header_prefix: The header names' prefix: ``"webhook-"`` (the specification) or, for
            Svix-branded deliveries (Clerk, Resend, ...), ``"svix-"``.

    Returns:
        The verified message.

    Raises:
        MalformedHeader: A header is missing, repeated or malformed.
        StaleTimestamp: The timestamp is outside the tolerance.
        InvalidSignature: No signature in the header matches any of the secrets.
        Replayed: The replay cache has already accepted this delivery.
        InvalidKeyError: A secret is malformed (your configuration).
        ConfigurationError: Another argument is unusable (your code).

    .. versionadded:: 0.1.0
    """
    # Built for this call only: no module-level cache keeps secrets or keys.  A receiver
    # that verifies many deliveries builds one WebhookVerifier and reuses it.
    verifier = WebhookVerifier(
        secrets, tolerance=tolerance, replay_cache=replay_cache, header_prefix=header_prefix
    )
    return verifier.verify(payload, headers, now=now)


def _valid_id(msg_id: object) -> bool:
    return isinstance(msg_id, str) and _ID_RE.fullmatch(msg_id) is not None


def sign(
    payload: Payload,
    secret: WebhookSecret | Sequence[WebhookSecret],
    *,
    msg_id: str | None = None,
    timestamp: Instant | None = None,
    header_prefix: str = DEFAULT_HEADER_PREFIX,
) -> dict[str, str]:
    """Sign a payload: return the three Standard Webhooks headers to send with it.

    Args:
        payload: The exact body bytes that will be sent.
        secret: A ``whsec_`` secret (``v1``) or a ``whsk_`` signing key (``v1a``), or a
            sequence of them to send several signatures (during a rotation).
        msg_id: The message id: the same for every retry of one message; 1 to 256 visible
            ASCII characters without ``.``.  Default: a fresh random id (``msg_`` and 32
            random base64url characters); pass the first attempt's id to each retry.
        timestamp: The send time: an aware datetime or UNIX seconds (floored), a retry gets
            a new one.  Default: now.
        header_prefix: The header names' prefix (``"webhook-"``; ``"svix-"`` for Svix's).

    Returns:
        ``{"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...}``.

    Raises:
        InvalidKeyError: A secret is malformed, or is a ``whpk_`` public key.
        ConfigurationError: ``msg_id`` or ``timestamp`` is unusable.

    .. versionadded:: 0.1.0
    """
    body = to_payload(payload)
    id_name, ts_name, sig_name = _header_spec(header_prefix).names
    if msg_id is None:
        msg_id = "msg_" + _secrets.token_urlsafe(24)
    if not _valid_id(msg_id):
        raise ConfigurationError("msg_id must be 1-256 visible ASCII characters without '.'")
    ts = signing_timestamp(timestamp)
    message = b"%s.%d.%s" % (msg_id.encode("ascii"), ts, body)
    parts: list[str] = []
    for item in _as_sequence(secret):
        key: PreparedKey = prepare(item)
        if key.version == "v1":
            mac = key.hmac.copy()  # type: ignore[union-attr]
            mac.update(message)
            parts.append("v1," + base64.b64encode(mac.finalize()).decode("ascii"))
        elif key.private is not None:
            parts.append("v1a," + base64.b64encode(key.private.sign(message)).decode("ascii"))
        else:
            raise InvalidKeyError("a whpk_ public key cannot sign: use the whsk_ signing key")
    return {id_name: msg_id, ts_name: str(ts), sig_name: " ".join(parts)}
