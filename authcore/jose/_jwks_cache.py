"""The sans-IO JWK Set cache: :class:`JWKSCache`, :class:`AsyncJWKSCache` and :func:`parse_jwks`.

Private home of the cache half of :mod:`authcore.jose.jwks` (which documents the invariants and
re-exports every public name).  No I/O here: the caches call the ``fetch`` callable they are
given and decide, from a snapshot and the clock, when a fetch is due.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, Generic, TypeVar, Union, cast, final

from authcore._encoding import b64url_decode, json_loads
from authcore._fork import lock as fork_safe_lock
from authcore._kinds import is_async_callable
from authcore._options import int_option, is_choice, seconds_option
from authcore.clock import Clock, SystemClock
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    FetchError,
    InvalidKeyError,
    KeyNotFound,
    MalformedToken,
)
from authcore.jose._jwk import JWK, PRIVATE_MEMBERS, KeySet

__all__ = [
    "DEFAULT_MAX_KEYS",
    "AsyncFetch",
    "AsyncJWKSCache",
    "CacheStatus",
    "Fetch",
    "JWKSCache",
    "JWKSData",
    "OnSkip",
    "SkippedKey",
    "parse_jwks",
    "seconds",
]

_log = logging.getLogger("authcore.jose.jwks")

JWKSData = Union[bytes, str, Mapping[str, Any]]  # noqa: UP007 - a runtime alias on 3.10
"""What a fetch returns, the JWKS as JSON bytes or text, or an already parsed mapping."""

Fetch = Callable[[], JWKSData]
"""A synchronous fetch, returning the JWKS document (bytes, text or mapping) or raising."""

AsyncFetch = Callable[[], Awaitable[JWKSData]]
"""An asynchronous fetch; ``await fetch()`` returns the JWKS document or raises."""

DEFAULT_MAX_KEYS: Final = 100
"""Default maximum number of keys in a fetched set."""

_FetchT = TypeVar("_FetchT", bound=Callable[[], object])
_LockT = TypeVar("_LockT")

_MAX_TOKEN_HEADER: Final = 8192


# ================================================================================= validation


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SkippedKey:
    """A key of a published JWK Set that was left out because it cannot be used.

    Attributes:
        kid: The key's ``kid`` (``None`` if it has none or it is not a string).
        reason: Why it was left out (for example ``"RSA modulus has 1024 bits ..."``).

    .. versionadded:: 0.1.0
    """

    kid: str | None
    reason: str


OnSkip = Callable[[SkippedKey], object]
"""Called with each key of a fetched set that was skipped as unusable."""

_KNOWN_KTY: Final = frozenset({"oct", "RSA", "EC", "OKP"})


def parse_jwks(
    data: JWKSData, *, max_keys: int = DEFAULT_MAX_KEYS, on_skip: OnSkip | None = None
) -> KeySet:
    """Parse and validate a published (public) JWK Set.

    One unusable key does not take the set down: a key refused for weakness or policy (an RSA
    modulus under 2048 bits, a broken modulus or point, an unsupported ``alg``...) or that is
    not a JSON object is skipped and reported, through ``on_skip`` or else as a logged
    warning (logger ``authcore.jose.jwks``) naming its ``kid`` and the reason.  Keys of an
    unknown ``kty`` are ignored silently (RFC 7517 section 5).  A set holding private or
    symmetric key material is a publisher's mistake and is refused whole.

    Args:
        data: The JWKS as UTF-8 JSON bytes, text, or an already parsed mapping.
        max_keys: The largest number of keys accepted (skipped ones count).
        on_skip: Called with a :class:`SkippedKey` for each skipped key.

    Returns:
        The usable keys.

    Raises:
        FetchError: If the document is not strict JSON, is not a JWK Set, has duplicate kids,
            mixes symmetric and asymmetric keys, holds private or symmetric key material, has
            no usable key or more than ``max_keys`` keys.  The reason says which.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       Unusable keys are skipped and reported instead of refusing the set; ``on_skip``.
    """
    usable: list[JWK] = []
    skipped: list[SkippedKey] = []
    for item in _members(data, max_keys):
        key = _published_key(item, skipped)
        if key is not None:
            usable.append(key)
    try:
        keys = KeySet(usable)
    except InvalidKeyError as exc:
        raise FetchError(f"JWKS refused: {exc.detail or exc}") from None
    for entry in skipped:
        if on_skip is not None:
            on_skip(entry)
        else:
            _log.warning("JWKS key skipped: %s: %s", _kid_label(entry.kid), entry.reason)
    if len(keys) == 0:
        why = f" ({len(skipped)} skipped, first: {skipped[0].reason})" if skipped else ""
        raise FetchError(f"JWKS refused: no usable key{why}")
    return keys


def _members(data: JWKSData, max_keys: int) -> list[object]:
    """The ``keys`` array of a JWK Set document, within ``max_keys``."""
    int_option(max_keys, "max_keys")
    if isinstance(data, (bytes, str)):
        try:
            parsed = json_loads(data, what="JWKS")
        except DecodeError as exc:
            raise FetchError(f"JWKS refused: {exc.reason}") from None
    else:
        parsed = data
    if not isinstance(parsed, Mapping):
        raise FetchError("JWKS refused: not a JSON object")
    items = parsed.get("keys")
    if not isinstance(items, list):
        raise FetchError("JWKS refused: a JWK Set needs a 'keys' array")
    if len(items) > max_keys:
        raise FetchError(f"JWKS refused: more than {max_keys} keys")
    return cast("list[object]", items)


def _published_key(item: object, skipped: list[SkippedKey]) -> JWK | None:
    """Import one member of a published set; ``None`` for an ignored or skipped key.

    Raises:
        FetchError: If the member holds private or symmetric key material.
    """
    if not isinstance(item, Mapping):
        skipped.append(SkippedKey(kid=None, reason="not a JSON object"))
        return None
    member = cast("Mapping[str, object]", item)
    raw_kid = member.get("kid")
    kid = raw_kid if isinstance(raw_kid, str) else None
    kty = member.get("kty")
    if kty is not None and not isinstance(kty, str):  # a list or object: malformed
        skipped.append(SkippedKey(kid=kid, reason="JWK member 'kty' is not a string"))
        return None
    if not is_choice(kty, _KNOWN_KTY):
        return None  # RFC 7517 section 5: ignore keys of an unknown type
    # A set holding private or symmetric key material is refused whole, never skipped.
    if kty == "oct" or not PRIVATE_MEMBERS.isdisjoint(member):
        kind = "a symmetric key" if kty == "oct" else "private key material"
        raise FetchError(f"JWKS refused: {_kid_label(kid)} is {kind}; a JWKS is public")
    try:
        key = JWK.from_dict(member)
    except (ConfigurationError, DecodeError) as exc:
        reason = exc.reason if isinstance(exc, DecodeError) else (exc.detail or str(exc))
        skipped.append(SkippedKey(kid=kid, reason=reason))
        return None
    if key.is_private:  # pragma: no cover - every private member is refused above
        raise FetchError(f"JWKS refused: {_kid_label(kid)} is private key material")
    return key


def _kid_label(kid: str | None) -> str:
    return "a key without kid" if kid is None else f"kid {kid[:40]!r}"


def seconds(value: object, name: str) -> dt.timedelta:
    checked = seconds_option(value, name)
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=checked)


def _token_kid(token: str | bytes) -> str | None:
    """The ``kid`` of a compact JWS/JWT header, read without any verification."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedToken("token is not ASCII") from None
    if not isinstance(token, str):
        raise MalformedToken("token must be str or bytes")
    head, sep, _ = token.partition(".")
    if not sep:
        raise MalformedToken("not a compact JWS: no '.'")
    if len(head) > _MAX_TOKEN_HEADER:
        raise MalformedToken("protected header too large")
    header = json_loads(b64url_decode(head, what="protected header"), what="protected header")
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedToken("kid is not a string")
    return kid


# ================================================================================= cache core


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CacheStatus:
    """What a cache holds and how its last fetches went, for health checks and logs.

    Attributes:
        keys: The current key set, or ``None`` before the first successful fetch.
        fetched_at: When the current keys were fetched.
        attempted_at: When the last fetch was attempted (successful or not).
        fetches: How many fetches were attempted in total.
        failures: How many fetches failed since the last success.
        last_error: The reason of the last failure since the last success, else ``None``.
        skipped: The unusable keys left out of the current set, with the reasons.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       ``skipped``.
    """

    keys: KeySet | None
    fetched_at: dt.datetime | None
    attempted_at: dt.datetime | None
    fetches: int
    failures: int
    last_error: str | None
    skipped: tuple[SkippedKey, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class _Snapshot:
    """Immutable state, swapped as a whole so readers never need the lock."""

    keys: KeySet | None = None
    fetched_at: dt.datetime | None = None
    attempted_at: dt.datetime | None = None
    fresh_until: dt.datetime | None = None  # fetched_at + ttl
    usable_until: dt.datetime | None = None  # fetched_at + max_stale (None: forever)
    retry_at: dt.datetime | None = None  # attempted_at + cooldown
    fetches: int = 0
    failures: int = 0
    error: FetchError | None = None
    skipped: tuple[SkippedKey, ...] = ()  # unusable keys of the current set
    skipped_kids: Mapping[str, str] = dataclasses.field(default_factory=dict)  # kid -> reason


class _Core(Generic[_FetchT, _LockT]):
    """The policy shared by the sync and async caches: pure decisions over a snapshot.

    The constructor is the one of both public caches; each supplies its lock (a
    :class:`threading.Lock` or an :class:`asyncio.Lock`) and drives ``fetch`` its own way.
    """

    __slots__ = (
        "_clock",
        "_cooldown",
        "_fetch",
        "_lock",
        "_max_keys",
        "_max_stale",
        "_on_skip",
        "_snap",
        "_ttl",
    )

    _fetch: _FetchT
    _lock: _LockT
    _awaits: ClassVar[bool] = False  # whether fetch is awaited

    def __init__(
        self,
        fetch: _FetchT,
        *,
        ttl: float | dt.timedelta = 600,
        cooldown: float | dt.timedelta = 30,
        max_stale: float | dt.timedelta | None = 86_400,
        clock: Clock | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        on_skip: OnSkip | None = None,
    ) -> None:
        if not callable(fetch):
            raise ConfigurationError("fetch must be callable")
        if not self._awaits and is_async_callable(fetch):
            # Its coroutine would be read as the body: a failed fetch, and a warning.
            raise ConfigurationError("fetch is async: use AsyncJWKSCache, or a synchronous fetch")
        if on_skip is not None and not callable(on_skip):
            raise ConfigurationError("on_skip must be callable")
        self._on_skip = on_skip
        self._fetch = fetch
        self._lock = self._new_lock()
        self._ttl = seconds(ttl, "ttl")
        self._cooldown = seconds(cooldown, "cooldown")
        self._max_stale = None if max_stale is None else seconds(max_stale, "max_stale")
        if self._cooldown > self._ttl:
            raise ConfigurationError("cooldown must not exceed ttl")
        if self._max_stale is not None and self._max_stale < self._ttl:
            raise ConfigurationError("max_stale must be at least ttl")
        if not isinstance(cast("object", clock), (Clock, type(None))):
            raise ConfigurationError("clock must be an authcore.clock.Clock")
        int_option(max_keys, "max_keys")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._max_keys = max_keys
        self._snap = _Snapshot()

    def _new_lock(self) -> _LockT:
        raise NotImplementedError  # pragma: no cover - both caches define it

    def __repr__(self) -> str:
        snap = self._snap
        count = 0 if snap.keys is None else len(snap.keys)
        return f"{type(self).__name__}(keys={count}, fetched_at={snap.fetched_at!r})"

    def _usable(self, snap: _Snapshot, now: dt.datetime) -> bool:
        return snap.keys is not None and (snap.usable_until is None or now < snap.usable_until)

    @staticmethod
    def _cooling(snap: _Snapshot, now: dt.datetime) -> bool:
        """Whether the last attempt is within the cooldown (a clock moved back never blocks)."""
        if snap.retry_at is None or snap.attempted_at is None:
            return False
        return snap.attempted_at <= now < snap.retry_at

    def _needs_fetch(self, snap: _Snapshot, now: dt.datetime, kid: str | None) -> bool:
        """Whether a fetch is due now (policy only; the cooldown applies to every cause)."""
        if self._cooling(snap, now):
            return False
        if snap.keys is None or snap.fresh_until is None or now >= snap.fresh_until:
            return True
        return kid is not None and snap.keys.get(kid) is None and kid not in snap.skipped_kids

    def _must_wait(self, snap: _Snapshot, now: dt.datetime, kid: str | None) -> bool:
        """Whether the caller needs the fetch's result (else it may use the current keys)."""
        if not self._usable(snap, now) or snap.keys is None:
            return True
        return kid is not None and snap.keys.get(kid) is None and kid not in snap.skipped_kids

    def _refuse_skipped(self, kid: str) -> None:
        """Raise KeyNotFound saying why, when ``kid`` names a key skipped as unusable."""
        reason = self._snap.skipped_kids.get(kid)
        if reason is not None:
            raise KeyNotFound(f"kid {kid[:40]!r} is published but unusable: {reason}")

    def _begin(self, now: dt.datetime) -> None:
        snap = self._snap
        self._snap = dataclasses.replace(
            snap, attempted_at=now, retry_at=now + self._cooldown, fetches=snap.fetches + 1
        )

    def _finish(self, now: dt.datetime, data: JWKSData | None, error: BaseException | None) -> None:
        snap = self._snap
        if error is None:
            skipped: list[SkippedKey] = []
            try:
                keys = parse_jwks(
                    data if data is not None else b"",
                    max_keys=self._max_keys,
                    on_skip=skipped.append,
                )
            except FetchError as exc:
                error = exc
            else:
                self._snap = dataclasses.replace(
                    snap,
                    keys=keys,
                    fetched_at=now,
                    fresh_until=now + self._ttl,
                    usable_until=None if self._max_stale is None else now + self._max_stale,
                    failures=0,
                    error=None,
                    skipped=tuple(skipped),
                    skipped_kids={k.kid: k.reason for k in skipped if k.kid is not None},
                )
                self._report(skipped, previous=snap.skipped)
                return
        if isinstance(error, FetchError):
            failure = error
        else:
            # A caller-supplied fetch may raise anything: its failure must not cost the keys.
            failure = FetchError(f"fetch raised {type(error).__name__}")
            failure.__cause__ = error
        self._snap = dataclasses.replace(snap, failures=snap.failures + 1, error=failure)
        _log.warning(
            "JWKS fetch failed (%s); %s",
            failure.detail or failure,
            "serving the previous keys" if snap.keys is not None else "no keys yet",
        )

    def _report(self, skipped: list[SkippedKey], *, previous: tuple[SkippedKey, ...]) -> None:
        """Log (and pass to ``on_skip``) each skipped key that the previous set did not skip."""
        for entry in skipped:
            if entry in previous:
                continue  # reported when it was first skipped; refreshes stay quiet
            _log.warning(
                "JWKS key skipped as unusable: %s: %s", _kid_label(entry.kid), entry.reason
            )
            if self._on_skip is not None:
                try:
                    self._on_skip(entry)
                except Exception:  # noqa: BLE001 - a reporting hook must not cost the keys
                    _log.exception("JWKS on_skip callback failed")

    def _answer(self, now: dt.datetime) -> KeySet:
        """The keys to serve now, or the error explaining why there are none."""
        snap = self._snap
        if snap.keys is not None and self._usable(snap, now):
            return snap.keys
        last = snap.error.detail if snap.error is not None else "no fetch attempted"
        retry = "" if snap.retry_at is None else f"; next attempt at {snap.retry_at.isoformat()}"
        if snap.keys is None:
            raise FetchError(f"no JWKS available: {last}{retry}")
        fetched = snap.fetched_at.isoformat() if snap.fetched_at else "never"
        raise FetchError(
            f"JWKS too stale: last successful fetch at {fetched} exceeds max_stale ({last}){retry}"
        )

    @property
    def status(self) -> CacheStatus:
        """A snapshot of the cache state (never fetches)."""
        snap = self._snap
        return CacheStatus(
            keys=snap.keys,
            fetched_at=snap.fetched_at,
            attempted_at=snap.attempted_at,
            fetches=snap.fetches,
            failures=snap.failures,
            last_error=None if snap.error is None else (snap.error.detail or str(snap.error)),
            skipped=snap.skipped,
        )


@final
class JWKSCache(_Core[Fetch, threading.Lock]):
    """A kid-aware JWK Set cache over a synchronous ``fetch`` callable; thread-safe.

    It satisfies :class:`~authcore.jose.KeyResolver`, so a verifier accepts it wherever it
    accepts a :class:`~authcore.jose.KeySet`.  The first lookup fetches; later lookups are
    served from memory until ``ttl`` passes or an unknown kid shows up.  See the module
    documentation for the invariants (cooldown, stale-while-error, single flight, validation).

    Args:
        fetch: Returns the JWKS (JSON bytes/text or a mapping), or raises.  Any exception it
            raises counts as a failed fetch.
        ttl: Seconds (or a timedelta) after which the keys are refreshed.
        cooldown: Minimum seconds between two fetch attempts, whatever triggers them.
        max_stale: How long after the last successful fetch keys may still be served while
            fetches fail; ``None`` serves them forever.
        clock: The time source (default: the system clock).
        max_keys: The largest key set accepted.
        on_skip: Called with a :class:`SkippedKey` for each unusable key a fetched set
            newly holds (it is logged as a warning either way).

    Raises:
        ConfigurationError: If an option is out of range (``cooldown`` above ``ttl``,
            ``max_stale`` below ``ttl``, non-positive durations) or ``fetch`` or ``on_skip``
            is not callable.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       Unusable keys are skipped instead of refusing the set; ``on_skip``.
    """

    __slots__ = ()

    def _new_lock(self) -> threading.Lock:
        return fork_safe_lock()

    def get(self, kid: str) -> JWK | None:
        """Return the key with this ``kid``, fetching (at most once per cooldown) if unknown.

        Returns:
            The key, or ``None`` if the issuer does not publish it (after a refetch when the
            cooldown allowed one).

        Raises:
            FetchError: If no usable keys exist: never fetched successfully, or the last
                successful fetch is older than ``max_stale``.
            KeyNotFound: If the issuer publishes ``kid`` but the key was skipped as unusable
                (the reason says why).
        """
        snap = self._snap
        if snap.keys is not None and snap.fresh_until is not None:
            key = snap.keys.get(kid)
            if key is not None and self._clock.now() < snap.fresh_until:
                return key  # the hot path: one dict lookup and one clock read
        key = self._keys_for(kid).get(kid)
        if key is None:
            self._refuse_skipped(kid)
        return key

    def __iter__(self) -> Iterator[JWK]:
        """Iterate over the current keys (for tokens without ``kid``), refreshing if due."""
        return iter(self._keys_for(None))

    def keys(self) -> KeySet:
        """Return the current key set, fetching first if it is due.

        Raises:
            FetchError: If no usable keys exist.
        """
        return self._keys_for(None)

    def refresh(self) -> KeySet:
        """Fetch now unless a fetch was attempted within the cooldown; return the keys.

        Raises:
            FetchError: If no usable keys exist afterwards.
        """
        with self._lock:
            now = self._clock.now()
            if not self._cooling(self._snap, now):
                self._run_fetch(now)
        return self._answer(self._clock.now())

    def _keys_for(self, kid: str | None) -> KeySet:
        now = self._clock.now()
        snap = self._snap
        wait = self._must_wait(snap, now, kid)
        # A caller that needs a fetch's result also waits for one already in flight.
        if self._needs_fetch(snap, now, kid) or (wait and self._lock.locked()):
            if wait:
                self._lock.acquire()
            elif not self._lock.acquire(blocking=False):
                return self._answer(now)  # a refresh is in flight; the current keys are fine
            try:
                now = self._clock.now()
                if self._needs_fetch(self._snap, now, kid):  # re-check: did another thread?
                    self._run_fetch(now)
            finally:
                self._lock.release()
            now = self._clock.now()
        return self._answer(now)

    def _run_fetch(self, now: dt.datetime) -> None:
        self._begin(now)
        try:
            data = self._fetch()
        except Exception as exc:  # noqa: BLE001 - any failure of a caller's fetch is a failed fetch
            self._finish(now, None, exc)
        else:
            self._finish(now, data, None)


@final
class AsyncJWKSCache(_Core[AsyncFetch, asyncio.Lock]):
    """The :class:`JWKSCache` behaviour over an asynchronous ``fetch``.

    Lookups that may fetch are coroutines (:meth:`aget`, :meth:`akeys`, :meth:`prepare`).  The
    synchronous :meth:`get` and iteration answer from memory only (never fetching), so a
    verifier built over this cache works after ``await cache.prepare(token)``.  Single flight
    uses an :class:`asyncio.Lock`; use one cache per event loop.

    The arguments, their defaults and the errors are those of :class:`JWKSCache`, except that
    ``await fetch()`` returns the JWKS (JSON bytes/text or a mapping) or raises.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    _awaits = True

    def _new_lock(self) -> asyncio.Lock:
        return asyncio.Lock()

    async def aget(self, kid: str) -> JWK | None:
        """Return the key with this ``kid``, fetching (at most once per cooldown) if unknown.

        Raises:
            FetchError: If no usable keys exist.
            KeyNotFound: If ``kid`` names a published key skipped as unusable.
        """
        key = (await self._keys_for(kid)).get(kid)
        if key is None:
            self._refuse_skipped(kid)
        return key

    async def akeys(self) -> KeySet:
        """Return the current key set, fetching first if it is due.

        Raises:
            FetchError: If no usable keys exist.
        """
        return await self._keys_for(None)

    async def prepare(self, token: str | bytes) -> None:
        """Make sure the key a compact JWS/JWT names is loaded (or was looked for).

        Reads the token's ``kid`` without verifying anything, then behaves like :meth:`aget`
        (or :meth:`akeys` for a token without ``kid``).  Verify the token afterwards with a
        verifier built over this cache.

        Raises:
            MalformedToken: If the header cannot be read.
            DecodeError: If the header is not strict base64url JSON.
            FetchError: If no usable keys exist.
        """
        await self._keys_for(_token_kid(token))

    def get(self, kid: str) -> JWK | None:
        """Return the cached key with this ``kid`` or ``None``; never fetches.

        Raises:
            KeyNotFound: If ``kid`` names a published key skipped as unusable.
        """
        snap = self._snap
        now = self._clock.now()
        if snap.keys is None or not self._usable(snap, now):
            return None
        key = snap.keys.get(kid)
        if key is None:
            self._refuse_skipped(kid)
        return key

    def __iter__(self) -> Iterator[JWK]:
        """Iterate over the cached usable keys; never fetches."""
        snap = self._snap
        if snap.keys is None or not self._usable(snap, self._clock.now()):
            return iter(())
        return iter(snap.keys)

    async def _keys_for(self, kid: str | None) -> KeySet:
        now = self._clock.now()
        snap = self._snap
        wait = self._must_wait(snap, now, kid)
        if self._needs_fetch(snap, now, kid) or (wait and self._lock.locked()):
            if not wait and self._lock.locked():
                return self._answer(now)  # a refresh is in flight; the current keys are fine
            async with self._lock:
                now = self._clock.now()
                if self._needs_fetch(self._snap, now, kid):
                    await self._run_fetch(now)
            now = self._clock.now()
        return self._answer(now)

    async def refresh(self) -> KeySet:
        """Fetch now unless a fetch was attempted within the cooldown; return the keys.

        Raises:
            FetchError: If no usable keys exist afterwards.
        """
        async with self._lock:
            now = self._clock.now()
            if not self._cooling(self._snap, now):
                await self._run_fetch(now)
        return self._answer(self._clock.now())

    async def _run_fetch(self, now: dt.datetime) -> None:
        self._begin(now)
        try:
            data = await self._fetch()
        except Exception as exc:  # noqa: BLE001 - any failure of a caller's fetch is a failed fetch
            self._finish(now, None, exc)
        else:
            self._finish(now, data, None)
