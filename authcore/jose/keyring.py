"""Signing-key rotation for issuers: one active key, published successors, graceful retirement.

A :class:`KeyRing` is an immutable schedule of private signing keys.  Each entry has the time it
becomes the signing key (``active_from``) and, optionally, the time it stops being published
(``retire_at``).  At any instant ``now``:

* the **active** key is the entry with the latest ``active_from`` not after ``now``; it signs;
* **next** keys (``active_from`` in the future) are already published, so verifiers that cache
  the JWKS know them before the first token signed with them arrives;
* **previous** keys (superseded, ``retire_at`` not reached) are still published, so tokens they
  signed keep verifying until they expire;
* **retired** keys (``retire_at`` reached) are gone from :meth:`KeyRing.jwks` and from lookups.

A planned rotation is one call, :meth:`KeyRing.plan_rotation`: publish the next key now, let it
take over at ``activate_at``, and retire the current one at ``retire_previous_at``.  Choose
``activate_at`` at least one verifier cache ``ttl`` after publication, and
``retire_previous_at`` at least the longest token lifetime after ``activate_at``.  Retiring the
active key early (a compromise) leaves the ring with **no** active key rather than silently
falling back to an older one: signing then fails until a new key is rotated in.

Methods that change the schedule return a new ring; a ring is safe to share across threads.
Persisting the schedule (and the private keys) is the caller's job: :meth:`KeyRing.to_dict` and
:meth:`KeyRing.from_dict` give a JSON-able form that contains **private key material**;
:meth:`KeyRing.seal` and :meth:`KeyRing.unseal` give the same encrypted under a key-encryption
key (a compact JWE bound to the ring's name), for a database or any other store.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, cast, final

from authcore._encoding import json_dumps, json_loads
from authcore.clock import Clock, Instant, SystemClock, as_datetime, ensure_aware
from authcore.errors import AuthcoreError, ConfigurationError, DecryptionFailed, InvalidKeyError
from authcore.jose import jwe, jwt
from authcore.jose._jwk import JWK, KeySet

__all__ = ["SEALED_CONTENT_TYPE", "KeyRing", "KeyState", "RingKey"]

SEALED_CONTENT_TYPE: Final = "authcore-keyring+json"
"""The ``cty`` of a sealed ring (:meth:`KeyRing.seal`)."""

_KEK_ALGORITHMS: Final = MappingProxyType(
    {"A256KW": "A256KW", "A256GCMKW": "A256GCMKW", "A256GCM": "dir"}
)
"""A key-encryption key's ``alg`` to the JWE ``alg`` it seals with (a ``dir`` key is bound to
its ``enc``)."""
_SEAL_ENC: Final = "A256GCM"


class KeyState(enum.Enum):
    """Where a ring key stands at a given time."""

    NEXT = "next"
    """Published, not yet signing."""
    ACTIVE = "active"
    """Signing, and published."""
    PREVIOUS = "previous"
    """Superseded, and published for verification until its ``retire_at``."""
    RETIRED = "retired"
    """No longer published or used."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RingKey:
    """One scheduled signing key.

    Attributes:
        key: The private signing key (asymmetric, with ``kid`` and ``alg``).
        active_from: When it becomes the signing key (aware).
        retire_at: When it stops being published (aware), or ``None`` for not scheduled.

    .. versionadded:: 0.1.0
    """

    key: JWK
    active_from: dt.datetime
    retire_at: dt.datetime | None = None


def _check_entry(entry: object) -> RingKey:
    if not isinstance(entry, RingKey):
        raise ConfigurationError(f"KeyRing entries must be RingKey, got {type(entry).__name__}")
    key = cast("object", entry.key)
    if not isinstance(key, JWK):
        raise ConfigurationError("RingKey.key must be a JWK")
    if key.is_symmetric or not key.is_private:
        raise InvalidKeyError("ring keys must be private asymmetric keys (their JWKS is public)")
    if key.kid is None or key.alg is None:
        raise InvalidKeyError("ring keys need a kid and an alg")
    active_from = ensure_aware(entry.active_from, name="active_from")
    retire_at = None if entry.retire_at is None else ensure_aware(entry.retire_at, name="retire_at")
    if retire_at is not None and retire_at <= active_from:
        raise ConfigurationError(f"kid {key.kid[:40]!r}: retire_at must be after active_from")
    return RingKey(key=key, active_from=active_from, retire_at=retire_at)


@final
class KeyRing:
    """An immutable rotation schedule of signing keys (see the module documentation).

    It satisfies :class:`~authcore.jose.KeyResolver` over the keys published at the clock's
    current time, so the issuer can verify its own tokens with it.

    Args:
        entries: The scheduled keys, with unique kids and distinct ``active_from`` times.
        clock: The time source when methods get no ``now`` (default: the system clock).

    Raises:
        ConfigurationError: On duplicate kids or activation times, or inconsistent times.
        InvalidKeyError: If a key is public, symmetric, or lacks ``kid`` or ``alg``.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_clock", "_entries", "_public")

    _entries: tuple[RingKey, ...]
    _public: dict[str, JWK]
    _clock: Clock

    def __init__(self, entries: Iterable[RingKey], *, clock: Clock | None = None) -> None:
        if not isinstance(cast("object", clock), (Clock, type(None))):
            raise ConfigurationError("clock must be an authcore.clock.Clock")
        checked = sorted((_check_entry(e) for e in entries), key=lambda e: e.active_from)
        if not checked:
            raise ConfigurationError("a KeyRing needs at least one key")
        kids = [cast("str", e.key.kid) for e in checked]
        if len(set(kids)) != len(kids):
            raise ConfigurationError("duplicate kid in KeyRing")
        starts = [e.active_from for e in checked]
        if len(set(starts)) != len(starts):
            raise ConfigurationError("two ring keys cannot become active at the same time")
        object.__setattr__(self, "_entries", tuple(checked))
        object.__setattr__(
            self, "_public", {kid: e.key.public() for kid, e in zip(kids, checked, strict=True)}
        )
        object.__setattr__(self, "_clock", clock if clock is not None else SystemClock())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("KeyRing is immutable")

    @classmethod
    def create(cls, key: JWK, *, now: Instant | None = None, clock: Clock | None = None) -> KeyRing:
        """Start a ring whose only key is active from ``now`` (default: the clock's time).

        Raises:
            InvalidKeyError: If the key is public, symmetric, or lacks ``kid`` or ``alg``.
        """
        if not isinstance(cast("object", clock), (Clock, type(None))):
            raise ConfigurationError("clock must be an authcore.clock.Clock")
        start = (clock or SystemClock()).now() if now is None else as_datetime(now)
        return cls([RingKey(key=key, active_from=start)], clock=clock)

    # ------------------------------------------------------------------ queries

    @property
    def entries(self) -> tuple[RingKey, ...]:
        """The schedule, ordered by ``active_from``."""
        return self._entries

    def _now(self, now: Instant | None) -> dt.datetime:
        return self._clock.now() if now is None else as_datetime(now)

    def _current(self, now: dt.datetime) -> RingKey | None:
        """The entry with the latest ``active_from`` not after ``now`` (retired or not)."""
        current = None
        for entry in self._entries:
            if entry.active_from <= now:
                current = entry
        return current

    def state(self, kid: str, *, now: Instant | None = None) -> KeyState:
        """Return the state of the key ``kid`` at ``now``.

        Raises:
            ConfigurationError: If no ring key has this kid.
        """
        at = self._now(now)
        current = self._current(at)
        for entry in self._entries:
            if entry.key.kid == kid:
                if entry.retire_at is not None and entry.retire_at <= at:
                    return KeyState.RETIRED
                if entry.active_from > at:
                    return KeyState.NEXT
                return KeyState.ACTIVE if entry is current else KeyState.PREVIOUS
        raise ConfigurationError(f"no ring key has kid {kid[:40]!r}")

    def active(self, *, now: Instant | None = None) -> JWK:
        """Return the signing key at ``now``.

        Raises:
            ConfigurationError: If no key is active (none started yet, or the latest one
                was retired).
        """
        at = self._now(now)
        current = self._current(at)
        if current is None:
            raise ConfigurationError(f"no active signing key at {at.isoformat()} (none started)")
        if current.retire_at is not None and current.retire_at <= at:
            raise ConfigurationError(
                f"no active signing key at {at.isoformat()}: kid {current.key.kid!r} is retired"
            )
        return current.key

    def published(self, *, now: Instant | None = None) -> KeySet:
        """Return the public keys published at ``now``: next, active and previous keys."""
        at = self._now(now)
        return KeySet(
            self._public[cast("str", e.key.kid)]
            for e in self._entries
            if e.retire_at is None or at < e.retire_at
        )

    def jwks(self, *, now: Instant | None = None) -> dict[str, Any]:
        """Return the JWK Set document to publish at ``now`` (public keys only)."""
        return self.published(now=now).to_dict()

    def get(self, kid: str) -> JWK | None:
        """Return the published public key with this kid at the clock's time, or ``None``."""
        public = self._public.get(kid)
        if public is None or self.state(kid) is KeyState.RETIRED:
            return None
        return public

    def __iter__(self) -> Iterator[JWK]:
        """Iterate over the public keys published at the clock's time."""
        return iter(self.published())

    # ------------------------------------------------------------------ signing

    def sign_jwt(
        self,
        claims: Mapping[str, Any],
        *,
        headers: Mapping[str, Any] | None = None,
        now: Instant | None = None,
    ) -> str:
        """Sign ``claims`` as a JWT with the active key; the header carries its ``kid``.

        Args:
            claims: The claims (``exp``, ``nbf``, ``iat`` may be aware datetimes).
            headers: Extra protected header members (``kid`` and ``alg`` are the key's).
            now: The signing time, which selects the key (default: the clock's time).

        Raises:
            ConfigurationError: If no key is active, or ``headers`` names a kid or alg.
            EncodeError: If the claims cannot be encoded.
        """
        key = self.active(now=now)
        if headers is not None and ("kid" in headers or "alg" in headers):
            raise ConfigurationError("the ring sets kid and alg; do not pass them in headers")
        return jwt.encode(claims, key, headers=headers)

    # ------------------------------------------------------------------ schedule changes

    def _replace(self, entries: Iterable[RingKey]) -> KeyRing:
        return KeyRing(entries, clock=self._clock)

    def plan_rotation(
        self, key: JWK, *, activate_at: dt.datetime, retire_previous_at: dt.datetime
    ) -> KeyRing:
        """Publish ``key`` now, make it the signing key at ``activate_at``, retire the last one.

        The key that would otherwise be signing at ``activate_at`` (the latest scheduled) is
        retired at ``retire_previous_at``.

        Args:
            key: The next private signing key (with ``kid`` and ``alg``).
            activate_at: When it starts signing; after every scheduled activation.
            retire_previous_at: When the key it supersedes stops being published; not before
                ``activate_at``.  Leave at least the longest token lifetime in between.

        Raises:
            ConfigurationError: On a time out of order or a duplicate kid.
            InvalidKeyError: If the key cannot be a ring key.
        """
        activate = ensure_aware(activate_at, name="activate_at")
        retire = ensure_aware(retire_previous_at, name="retire_previous_at")
        latest = self._entries[-1]
        if activate <= latest.active_from:
            raise ConfigurationError("activate_at must be after the latest scheduled activation")
        if retire < activate:
            raise ConfigurationError("retire_previous_at must not be before activate_at")
        if latest.retire_at is not None and latest.retire_at < retire:
            retire = latest.retire_at  # never extend an earlier, deliberate retirement
        previous = dataclasses.replace(latest, retire_at=retire)
        return self._replace(
            (*self._entries[:-1], previous, RingKey(key=key, active_from=activate))
        )

    def rotate(
        self, key: JWK, *, retire_previous_at: dt.datetime, now: Instant | None = None
    ) -> KeyRing:
        """Make ``key`` the signing key immediately (an unplanned rotation).

        Verifiers learn the new kid on their next fetch, which an unknown kid triggers (at most
        once per their cooldown); prefer :meth:`plan_rotation` when there is time.

        Raises:
            ConfigurationError: On a time out of order or a duplicate kid.
            InvalidKeyError: If the key cannot be a ring key.
        """
        return self.plan_rotation(
            key, activate_at=self._now(now), retire_previous_at=retire_previous_at
        )

    def retire(self, kid: str, *, at: dt.datetime | None = None) -> KeyRing:
        """Retire ``kid`` at ``at`` (default: now); an earlier retirement is kept.

        Retiring the active key leaves no active key until one is rotated in.

        Raises:
            ConfigurationError: If no ring key has this kid, or ``at`` is not after the
                key's ``active_from``.
        """
        when = self._now(at)
        found = False
        entries = []
        for entry in self._entries:
            if entry.key.kid == kid:
                found = True
                if entry.retire_at is None or when < entry.retire_at:
                    if when <= entry.active_from:
                        raise ConfigurationError("retire time must be after active_from")
                    entry = dataclasses.replace(entry, retire_at=when)  # noqa: PLW2901
            entries.append(entry)
        if not found:
            raise ConfigurationError(f"no ring key has kid {kid[:40]!r}")
        return self._replace(entries)

    def prune(self, *, now: Instant | None = None) -> KeyRing:
        """Drop retired entries (keeping at least the latest one)."""
        at = self._now(now)
        kept = [e for e in self._entries if e.retire_at is None or at < e.retire_at]
        return self._replace(kept or self._entries[-1:])

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as JSON-able data, **including private keys**: store it secretly."""
        return {
            "keys": [
                {
                    "jwk": e.key.to_dict(private=True),
                    "active_from": _timestamp(e.active_from),
                    **({} if e.retire_at is None else {"retire_at": _timestamp(e.retire_at)}),
                }
                for e in self._entries
            ]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> KeyRing:
        """Load a schedule written by :meth:`to_dict`.

        Raises:
            ConfigurationError: If the data is not a valid schedule.
            InvalidKeyError: If a key is refused.
        """
        given: object = data
        items = data.get("keys") if isinstance(given, Mapping) else None
        if not isinstance(items, list):
            raise ConfigurationError("a KeyRing document needs a 'keys' array")
        entries = []
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("jwk"), Mapping):
                raise ConfigurationError("each KeyRing entry needs a 'jwk' object")
            entries.append(
                RingKey(
                    key=JWK.from_dict(item["jwk"]),
                    active_from=_from_timestamp(item.get("active_from"), "active_from"),
                    retire_at=None
                    if item.get("retire_at") is None
                    else _from_timestamp(item["retire_at"], "retire_at"),
                )
            )
        return cls(entries, clock=clock)

    def seal(self, kek: JWK, *, name: str) -> str:
        """Encrypt the schedule under a key-encryption key, for storage.

        The result is a compact JWE (``enc`` A256GCM, ``cty`` :data:`SEALED_CONTENT_TYPE`)
        whose plaintext is :meth:`to_dict` plus ``name``, so a sealed ring copied under
        another name does not unseal there.

        Args:
            kek: A 256-bit symmetric key with ``alg`` ``A256KW`` or ``A256GCMKW``
                (``JWK.generate("A256KW", kid=...)``), or a ``dir`` key bound to ``A256GCM``
                (``JWK.from_secret(secret, alg="A256GCM")``); a ``kid`` lets you rotate it.
            name: What the ring is stored as (for example ``"oauth-signing"``).

        Raises:
            ConfigurationError: If ``kek`` is not such a key or ``name`` is empty.

        .. versionadded:: 0.1.0
        """
        check_kek(kek)
        if not isinstance(cast("object", name), str) or not name:
            raise ConfigurationError("name must be a non-empty string")
        plaintext = json_dumps({"name": name, **self.to_dict()})
        return jwe.encrypt(plaintext, kek, enc=_SEAL_ENC, headers={"cty": SEALED_CONTENT_TYPE})

    @classmethod
    def unseal(
        cls,
        sealed: str | bytes,
        keks: JWK | Sequence[JWK],
        *,
        name: str,
        clock: Clock | None = None,
    ) -> KeyRing:
        """Decrypt and load a ring written by :meth:`seal`.

        Args:
            sealed: The compact JWE.
            keks: The key-encryption key, or several (the current one and older ones while
                rotating them; the JWE's ``kid`` picks one).
            name: The name it must have been sealed under.
            clock: The ring's clock.

        Raises:
            ConfigurationError: If a ``kek`` is not a key :meth:`seal` accepts.
            DecryptionFailed: If no key decrypts it, it was altered, it is not a sealed ring,
                or it was sealed under another name (one error for every cause).

        .. versionadded:: 0.1.0
        """
        candidates = check_keks(keks)
        try:
            opened = jwe.decrypt(
                sealed,
                candidates,
                algorithms=sorted({_KEK_ALGORITHMS[cast("str", k.alg)] for k in candidates}),
                encryptions=(_SEAL_ENC,),
            )
            data = json_loads(opened.plaintext, what="sealed key ring")
        except DecryptionFailed:
            raise
        except AuthcoreError as exc:
            raise DecryptionFailed(f"not a sealed key ring ({exc.code})") from None
        if opened.header.get("cty") != SEALED_CONTENT_TYPE:
            raise DecryptionFailed("not a sealed key ring")
        if not isinstance(data, dict) or data.pop("name", None) != name:
            raise DecryptionFailed("sealed for another name")
        try:
            return cls.from_dict(data, clock=clock)
        except AuthcoreError as exc:  # sealed by us, so only a bug or a foreign sealer
            raise DecryptionFailed(f"not a sealed key ring ({exc.code})") from None

    def __repr__(self) -> str:
        kids = ", ".join(repr(e.key.kid) for e in self._entries)
        return f"KeyRing([{kids}])"


def check_keks(keks: object) -> tuple[JWK, ...]:
    """One key-encryption key or a list or tuple of them, checked (ConfigurationError)."""
    found = (keks,) if isinstance(keks, JWK) else keks
    if not isinstance(found, (list, tuple)) or not found:
        raise ConfigurationError("keks must be a key-encryption JWK or a non-empty list of them")
    for kek in found:
        check_kek(kek)
    return tuple(found)


def check_kek(kek: object) -> None:
    """Refuse what :meth:`KeyRing.seal` cannot use as a key-encryption key (ConfigurationError)."""
    if not isinstance(kek, JWK) or kek.kty != "oct" or kek.alg not in _KEK_ALGORITHMS:
        raise ConfigurationError(
            "a key-encryption key must be an oct JWK with alg A256KW, A256GCMKW or A256GCM (dir)"
        )


def _timestamp(value: dt.datetime) -> int | float:
    """UNIX seconds: an int on a whole second, else a float (two rotations in one second)."""
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _from_timestamp(value: object, name: str) -> dt.datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"KeyRing entry {name} must be a UNIX timestamp")
    try:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ConfigurationError(f"KeyRing entry {name} is out of range") from None
