"""JWK Set caching, fetching and issuer discovery (RFC 7517 section 5, RFC 8414, OIDC Discovery).

Theory of operation.  A :class:`JWKSCache` holds the last good key set of one issuer and answers
``get(kid)`` from memory.  Its only I/O is the ``fetch`` callable it was given (any function
returning the JWKS JSON), so the cache itself is sans-IO: tests drive it with a plain function
and a :class:`~authcore.clock.FixedClock`, and a service can plug in any HTTP client.
:func:`urllib_fetcher` is the standard-library default.

The invariants, each tested:

* **No amplification.**  Fetches are attempted at most once per ``cooldown`` seconds, whatever
  asks for them: an unknown ``kid``, an expired ``ttl``, or a burst of either.  A flood of tokens
  with random kids costs one fetch per cooldown.
* **Stale-while-error.**  A fetch that fails (network, HTTP status, bad JSON, a refused key set)
  never replaces good keys.  They keep being served for up to ``max_stale`` seconds after the
  last successful fetch; after that the cache refuses to answer with a
  :class:`~authcore.errors.FetchError` (infrastructure failure, not the peer's fault).
* **Single flight.**  One fetch is in flight at a time.  A caller that needs the result (unknown
  kid, no usable keys) waits for it; a caller whose keys are merely due for a refresh uses the
  current keys instead of waiting.
* **Validated sets.**  A fetched set must parse strictly, have unique kids, not mix symmetric and
  asymmetric keys (:class:`~authcore.jose.KeySet` checks), and hold **public keys only**: a
  published set with private or symmetric key material is refused as a whole.

:func:`discover` reads authorization server metadata (RFC 8414 section 3) or OpenID Provider
metadata (OpenID Connect Discovery 1.0 section 4), requires the document's ``issuer`` to equal
the configured issuer exactly (RFC 8414 section 3.3), and :func:`cache_from_issuer` builds a
cache over its ``jwks_uri``.

What this module does **not** do: it never follows ``jku``/``x5u`` headers of tokens, never
honours HTTP caching headers (the ``ttl`` is yours to choose), and never checks that a key's
``use``/``key_ops`` fit a purpose (the verifiers do).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, Union, cast, final

from authcore import __version__
from authcore._encoding import b64url_decode, json_loads
from authcore.clock import Clock, SystemClock
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    FetchError,
    InvalidKeyError,
    MalformedToken,
)
from authcore.jose._jwk import JWK, KeySet

if TYPE_CHECKING:
    from http.client import HTTPMessage
    from typing import IO

__all__ = [
    "AsyncFetch",
    "AsyncJWKSCache",
    "CacheStatus",
    "Fetch",
    "JWKSCache",
    "JWKSData",
    "ProviderMetadata",
    "cache_from_issuer",
    "discover",
    "metadata_urls",
    "parse_jwks",
    "parse_metadata",
    "run_in_thread",
    "urllib_fetcher",
]

_log = logging.getLogger("authcore.jose.jwks")

JWKSData = Union[bytes, str, Mapping[str, Any]]  # noqa: UP007 - a runtime alias on 3.10
"""What a fetch returns: the JWKS as JSON bytes or text, or an already parsed mapping."""

Fetch = Callable[[], JWKSData]
"""A synchronous fetch: returns the JWKS document (bytes, text or mapping) or raises."""

AsyncFetch = Callable[[], Awaitable[JWKSData]]
"""An asynchronous fetch: ``await fetch()`` returns the JWKS document or raises."""

DEFAULT_MAX_BYTES: Final = 262_144
"""Default size cap of a fetched document (256 KiB)."""

DEFAULT_MAX_KEYS: Final = 100
"""Default maximum number of keys in a fetched set."""

JWKS_CONTENT_TYPES: Final = frozenset({"application/json", "application/jwk-set+json"})
"""Media types accepted for a JWK Set (RFC 7517 section 8.5)."""

METADATA_CONTENT_TYPES: Final = frozenset({"application/json"})
"""Media types accepted for metadata documents (RFC 8414 section 3.2)."""

_FetchT = TypeVar("_FetchT", bound=Callable[[], object])
_LockT = TypeVar("_LockT")

_MAX_TOKEN_HEADER: Final = 8192
_MAX_REDIRECTS: Final = 3


# ================================================================================= validation


def parse_jwks(data: JWKSData, *, max_keys: int = DEFAULT_MAX_KEYS) -> KeySet:
    """Parse and validate a published (public) JWK Set.

    Args:
        data: The JWKS as UTF-8 JSON bytes, text, or an already parsed mapping.
        max_keys: The largest number of keys accepted.

    Returns:
        The key set.

    Raises:
        FetchError: If the document is not strict JSON, is not a JWK Set, has duplicate kids,
            mixes symmetric and asymmetric keys, holds private or symmetric key material, has
            no usable key or more than ``max_keys`` keys.  The reason says which.

    .. versionadded:: 0.1.0
    """
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
    if isinstance(items, list) and len(items) > max_keys:
        raise FetchError(f"JWKS refused: more than {max_keys} keys")
    try:
        keys = KeySet.from_dict(parsed)
    except InvalidKeyError as exc:
        raise FetchError(f"JWKS refused: {exc.detail or exc}") from None
    for key in keys:
        if key.is_private:
            kind = "a symmetric key" if key.is_symmetric else "private key material"
            raise FetchError(f"JWKS refused: {_kid_text(key)} is {kind}; a JWKS is public")
    if len(keys) == 0:
        raise FetchError("JWKS refused: no usable key")
    return keys


def _kid_text(key: JWK) -> str:
    return "a key without kid" if key.kid is None else f"kid {key.kid[:40]!r}"


def _seconds(value: object, name: str) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        result = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            result = dt.timedelta(seconds=value)
        except (OverflowError, ValueError):
            raise ConfigurationError(f"{name} is out of range") from None
    else:
        raise ConfigurationError(f"{name} must be seconds or a timedelta")
    if result <= dt.timedelta(0):
        raise ConfigurationError(f"{name} must be positive")
    return result


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

    .. versionadded:: 0.1.0
    """

    keys: KeySet | None
    fetched_at: dt.datetime | None
    attempted_at: dt.datetime | None
    fetches: int
    failures: int
    last_error: str | None


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
        "_snap",
        "_ttl",
    )

    _fetch: _FetchT
    _lock: _LockT

    def __init__(
        self,
        fetch: _FetchT,
        *,
        ttl: float | dt.timedelta = 600,
        cooldown: float | dt.timedelta = 30,
        max_stale: float | dt.timedelta | None = 86_400,
        clock: Clock | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if not callable(fetch):
            raise ConfigurationError("fetch must be callable")
        self._fetch = fetch
        self._lock = self._new_lock()
        self._ttl = _seconds(ttl, "ttl")
        self._cooldown = _seconds(cooldown, "cooldown")
        self._max_stale = None if max_stale is None else _seconds(max_stale, "max_stale")
        if self._cooldown > self._ttl:
            raise ConfigurationError("cooldown must not exceed ttl")
        if self._max_stale is not None and self._max_stale < self._ttl:
            raise ConfigurationError("max_stale must be at least ttl")
        if not isinstance(cast("object", clock), (Clock, type(None))):
            raise ConfigurationError("clock must be an authcore.clock.Clock")
        if type(cast("object", max_keys)) is not int or max_keys < 1:
            raise ConfigurationError("max_keys must be a positive integer")
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
        return kid is not None and snap.keys.get(kid) is None

    def _must_wait(self, snap: _Snapshot, now: dt.datetime, kid: str | None) -> bool:
        """Whether the caller needs the fetch's result (else it may use the current keys)."""
        if not self._usable(snap, now) or snap.keys is None:
            return True
        return kid is not None and snap.keys.get(kid) is None

    def _begin(self, now: dt.datetime) -> None:
        snap = self._snap
        self._snap = dataclasses.replace(
            snap, attempted_at=now, retry_at=now + self._cooldown, fetches=snap.fetches + 1
        )

    def _finish(self, now: dt.datetime, data: JWKSData | None, error: BaseException | None) -> None:
        snap = self._snap
        if error is None:
            try:
                keys = parse_jwks(data if data is not None else b"", max_keys=self._max_keys)
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
                )
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

    Raises:
        ConfigurationError: If an option is out of range (``cooldown`` above ``ttl``,
            ``max_stale`` below ``ttl``, non-positive durations) or ``fetch`` is not callable.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def _new_lock(self) -> threading.Lock:
        return threading.Lock()

    def get(self, kid: str) -> JWK | None:
        """Return the key with this ``kid``, fetching (at most once per cooldown) if unknown.

        Returns:
            The key, or ``None`` if the issuer does not publish it (after a refetch when the
            cooldown allowed one).

        Raises:
            FetchError: If no usable keys exist: never fetched successfully, or the last
                successful fetch is older than ``max_stale``.
        """
        snap = self._snap
        if snap.keys is not None and snap.fresh_until is not None:
            key = snap.keys.get(kid)
            if key is not None and self._clock.now() < snap.fresh_until:
                return key  # the hot path: one dict lookup and one clock read
        return self._keys_for(kid).get(kid)

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

    def _new_lock(self) -> asyncio.Lock:
        return asyncio.Lock()

    async def aget(self, kid: str) -> JWK | None:
        """Return the key with this ``kid``, fetching (at most once per cooldown) if unknown.

        Raises:
            FetchError: If no usable keys exist.
        """
        return (await self._keys_for(kid)).get(kid)

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
        """Return the cached key with this ``kid`` or ``None``; never fetches, never raises."""
        snap = self._snap
        now = self._clock.now()
        if snap.keys is None or not self._usable(snap, now):
            return None
        return snap.keys.get(kid)

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


# ================================================================================= fetching


@dataclasses.dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int | None

    def __post_init__(self) -> None:
        if self.port is None:
            object.__setattr__(self, "port", 443 if self.scheme == "https" else 80)


def _check_url(url: object, *, allow_http_loopback: bool, what: str = "url") -> _Origin:
    """Validate a fetch URL; return its origin.

    Raises:
        ConfigurationError: Not https (or http to a loopback address when allowed), no host,
            credentials or a fragment in the URL, or control characters.
    """
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{what} must be a non-empty string")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):  # noqa: PLR2004 - C0 controls, space
        raise ConfigurationError(f"{what} contains whitespace or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid URL") from None
    host = (parts.hostname or "").lower()
    scheme = _check_scheme(parts.scheme.lower(), host, allow_http_loopback, what)
    if not host:
        raise ConfigurationError(f"{what} has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what} must not contain credentials")
    if parts.fragment:
        raise ConfigurationError(f"{what} must not contain a fragment")
    return _Origin(scheme, host, port)


def _check_scheme(scheme: str, host: str, allow_http_loopback: bool, what: str) -> str:  # noqa: FBT001
    if scheme == "https":
        return scheme
    if scheme == "http" and allow_http_loopback:
        if host and not _is_loopback(host):
            raise ConfigurationError(f"{what}: http is allowed only to a loopback address")
        return scheme
    if scheme == "http":
        raise ConfigurationError(
            f"{what} must use https (http is allowed only to loopback, when explicitly enabled)"
        )
    raise ConfigurationError(f"{what} must use https")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the original origin (scheme, host and port)."""

    max_redirections = _MAX_REDIRECTS
    max_repeats = _MAX_REDIRECTS

    def __init__(self, origin: _Origin, *, allow_http_loopback: bool) -> None:
        super().__init__()
        self._origin = origin
        self._allow_http_loopback = allow_http_loopback

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            target = _check_url(newurl, allow_http_loopback=self._allow_http_loopback)
        except ConfigurationError:
            fp.close()
            raise FetchError(f"redirect ({code}) to a refused URL") from None
        if target != self._origin:
            fp.close()
            raise FetchError(f"redirect ({code}) to another origin ({target.host}) refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


_NETWORK_REASONS: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (TimeoutError, "timed out"),
    (socket.timeout, "timed out"),
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "host name not resolved"),
)


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({getattr(exc, 'reason', None) or type(exc).__name__})"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__})"
    for kind, reason in _NETWORK_REASONS:
        if isinstance(exc, kind):
            return reason
    return f"network error ({type(exc).__name__})"


def _check_response(
    response: http.client.HTTPResponse, *, accept: frozenset[str], max_bytes: int, where: str
) -> None:
    status = response.status
    if status != 200:  # noqa: PLR2004 - only a plain 200 carries the document
        raise FetchError(f"{where}: unexpected HTTP status {status}")
    ctype = _media_type(response.headers.get("Content-Type"))
    if ctype not in accept:
        shown = ctype[:60] or "none"
        raise FetchError(f"{where}: content type {shown!r} is not accepted")
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise FetchError(f"{where}: content encoding {encoding[:20]!r} is not accepted")
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchError(f"{where}: response larger than {max_bytes} bytes")


def _read_body(
    response: http.client.HTTPResponse, *, max_bytes: int, timeout: float, where: str
) -> bytes:
    # The deadline bounds the whole transfer, not only each socket operation, so a server that
    # trickles bytes cannot hold the caller.  A monotonic counter, not the wall clock.
    deadline = time.monotonic() + timeout
    body = bytearray()
    while True:
        chunk = response.read1(65_536)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{where}: response larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError(f"{where}: timed out after {timeout:g} s")


def _http_get(
    url: str,
    *,
    accept: frozenset[str],
    timeout: float,
    max_bytes: int,
    allow_http_loopback: bool,
    ssl_context: ssl.SSLContext | None,
    what: str,
) -> tuple[int, bytes]:
    """GET ``url``; return ``(status, body)`` for 200 and 404, raise FetchError otherwise."""
    origin = _check_url(url, allow_http_loopback=allow_http_loopback)
    context = ssl_context if ssl_context is not None else ssl.create_default_context()
    handlers: list[urllib.request.BaseHandler] = [
        _SameOriginRedirects(origin, allow_http_loopback=allow_http_loopback),
        urllib.request.HTTPSHandler(context=context),
    ]
    if _is_loopback(origin.host):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback via a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 - scheme checked by _check_url
        url,
        headers={"Accept": ", ".join(sorted(accept)), "User-Agent": f"authcore/{__version__}"},
    )
    where = f"{what} from {origin.host}"
    try:
        with opener.open(request, timeout=timeout) as response:
            _check_response(response, accept=accept, max_bytes=max_bytes, where=where)
            return 200, _read_body(response, max_bytes=max_bytes, timeout=timeout, where=where)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:  # noqa: PLR2004 - discovery falls back on Not Found
            return 404, b""
        if 300 <= exc.code < 400:  # noqa: PLR2004 - urllib gave up redirecting
            raise FetchError(f"{where}: too many redirects (HTTP status {exc.code})") from None
        raise FetchError(f"{where}: HTTP status {exc.code}") from None
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(f"{where}: {_network_reason(exc)}") from None


def _check_limits(timeout: object, max_bytes: object) -> tuple[float, int]:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigurationError("max_bytes must be a positive integer")
    return float(timeout), max_bytes


@final
class _UrllibFetcher:
    __slots__ = ("_allow", "_context", "_max_bytes", "_timeout", "_url")

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_bytes: int,
        allow_http_loopback: bool,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        _check_url(url, allow_http_loopback=allow_http_loopback)
        self._timeout, self._max_bytes = _check_limits(timeout, max_bytes)
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError("ssl_context must be an ssl.SSLContext")
        self._url = url
        self._allow = allow_http_loopback
        self._context = ssl_context

    def __call__(self) -> bytes:
        status, body = _http_get(
            self._url,
            accept=JWKS_CONTENT_TYPES,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            allow_http_loopback=self._allow,
            ssl_context=self._context,
            what="JWKS",
        )
        if status != 200:  # noqa: PLR2004
            host = urllib.parse.urlsplit(self._url).hostname
            raise FetchError(f"JWKS from {host}: HTTP status {status}")
        return body

    def __repr__(self) -> str:
        return f"urllib_fetcher({self._url!r})"


def urllib_fetcher(
    url: str,
    *,
    timeout: float = 5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_http_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> Callable[[], bytes]:
    """Return a fetch callable that GETs a JWKS with the standard library.

    The callable requires HTTPS with certificate verification (the default
    :func:`ssl.create_default_context`, or ``ssl_context``), follows at most three redirects
    and only within the same origin, accepts only ``application/json`` or
    ``application/jwk-set+json`` with status 200, and stops reading past ``max_bytes`` or
    ``timeout``.  It returns the raw bytes; the cache parses and validates them.  Requests to
    loopback addresses never go through a proxy.

    Args:
        url: The ``https://`` URL of the JWK Set.
        timeout: Seconds allowed for connecting, for each read, and for the whole transfer.
        max_bytes: The largest accepted response body.
        allow_http_loopback: Also accept ``http://`` URLs whose host is a loopback address
            (``127.0.0.0/8``, ``::1``, ``localhost``): for tests and local development.
        ssl_context: The TLS client context (for example trusting a private CA).

    Returns:
        A callable with no arguments returning the response body.  It raises
        :class:`~authcore.errors.FetchError` with a precise reason (status, content type,
        size, timeout, TLS, redirect) on every failure.

    Raises:
        ConfigurationError: If the URL or an option is refused.

    .. versionadded:: 0.1.0
    """
    return _UrllibFetcher(
        url,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )


def run_in_thread(fetch: Fetch) -> AsyncFetch:
    """Wrap a synchronous fetch (such as :func:`urllib_fetcher`) for :class:`AsyncJWKSCache`.

    Each call runs ``fetch`` in the default executor (:func:`asyncio.to_thread`), so the event
    loop keeps serving while the key set downloads.

    Raises:
        ConfigurationError: If ``fetch`` is not callable.

    .. versionadded:: 0.1.0
    """
    if not callable(fetch):
        raise ConfigurationError("fetch must be callable")

    async def fetch_in_thread() -> JWKSData:
        return await asyncio.to_thread(fetch)

    return fetch_in_thread


# ================================================================================= discovery


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProviderMetadata:
    """Authorization server (RFC 8414) or OpenID Provider metadata, issuer-checked.

    Attributes:
        issuer: The issuer identifier, equal to the one that was asked for.
        jwks_uri: Where the issuer publishes its signing keys.
        document: Every member of the metadata document (read-only).
        source: The URL the document was read from (empty if parsed from memory).

    .. versionadded:: 0.1.0
    """

    issuer: str
    jwks_uri: str
    document: Mapping[str, Any]
    source: str = ""


def metadata_urls(issuer: str, *, allow_http_loopback: bool = False) -> tuple[str, str]:
    """Return the RFC 8414 and the OpenID Connect metadata URLs of an issuer, in that order.

    RFC 8414 section 3.1 inserts ``/.well-known/oauth-authorization-server`` between the host
    and the path; OpenID Connect Discovery section 4.1 appends
    ``/.well-known/openid-configuration`` to the issuer.

    Raises:
        ConfigurationError: If the issuer is not an https URL without query and fragment.

    .. versionadded:: 0.1.0
    """
    _check_url(issuer, allow_http_loopback=allow_http_loopback, what="issuer")
    parts = urllib.parse.urlsplit(issuer)
    if parts.query:
        raise ConfigurationError("issuer must not contain a query (RFC 8414 section 2)")
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}"
    return (
        f"{base}/.well-known/oauth-authorization-server{path}",
        f"{base}{path}/.well-known/openid-configuration",
    )


def parse_metadata(
    data: bytes | str | Mapping[str, Any],
    *,
    issuer: str,
    allow_http_loopback: bool = False,
    source: str = "",
) -> ProviderMetadata:
    """Parse a metadata document and check it belongs to ``issuer``.

    The document's ``issuer`` must equal ``issuer`` exactly, character for character (RFC 8414
    section 3.3, OpenID Connect Discovery section 4.3): no case folding, no trailing-slash
    normalization.  ``jwks_uri`` must be an https URL.

    Raises:
        FetchError: If the document is not a strict JSON object, the issuer differs, or
            ``jwks_uri`` is missing or refused.

    .. versionadded:: 0.1.0
    """
    if isinstance(data, (bytes, str)):
        try:
            document = json_loads(data, what="metadata")
        except DecodeError as exc:
            raise FetchError(f"metadata refused: {exc.reason}") from None
    else:
        document = data
    if not isinstance(document, Mapping):
        raise FetchError("metadata refused: not a JSON object")
    found = document.get("issuer")
    if not isinstance(found, str):
        raise FetchError("metadata refused: 'issuer' is missing or not a string")
    if found != issuer:
        raise FetchError(
            f"metadata refused: issuer {found[:200]!r} is not the expected {issuer[:200]!r}"
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError("metadata refused: 'jwks_uri' is missing or not a string")
    try:
        _check_url(jwks_uri, allow_http_loopback=allow_http_loopback, what="jwks_uri")
    except ConfigurationError as exc:
        raise FetchError(f"metadata refused: {exc.detail}") from None
    return ProviderMetadata(
        issuer=found, jwks_uri=jwks_uri, document=MappingProxyType(dict(document)), source=source
    )


def discover(
    issuer: str,
    *,
    timeout: float = 5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_http_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> ProviderMetadata:
    """Fetch and check the metadata of an issuer.

    Tries the RFC 8414 URL, then, if it answers 404, the OpenID Connect one
    (:func:`metadata_urls`).  Each request follows the rules of :func:`urllib_fetcher`, with
    ``application/json`` as the only accepted type.

    Raises:
        ConfigurationError: If the issuer URL or an option is refused.
        FetchError: If no document is found, a request fails, or the document is refused
            (:func:`parse_metadata`).

    .. versionadded:: 0.1.0
    """
    timeout, max_bytes = _check_limits(timeout, max_bytes)
    for url in metadata_urls(issuer, allow_http_loopback=allow_http_loopback):
        status, body = _http_get(
            url,
            accept=METADATA_CONTENT_TYPES,
            timeout=timeout,
            max_bytes=max_bytes,
            allow_http_loopback=allow_http_loopback,
            ssl_context=ssl_context,
            what="metadata",
        )
        if status == 200:  # noqa: PLR2004
            return parse_metadata(
                body, issuer=issuer, allow_http_loopback=allow_http_loopback, source=url
            )
    raise FetchError("no metadata found: both well-known URLs answered 404")


def cache_from_issuer(
    issuer: str,
    *,
    ttl: float | dt.timedelta = 600,
    cooldown: float | dt.timedelta = 30,
    max_stale: float | dt.timedelta | None = 86_400,
    clock: Clock | None = None,
    timeout: float = 5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_http_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> JWKSCache:
    """Discover an issuer's ``jwks_uri`` (:func:`discover`) and return a cache over it.

    Discovery happens now (it raises on failure); the keys are fetched on first use.

    Raises:
        ConfigurationError: If the issuer URL or an option is refused.
        FetchError: If discovery fails.

    .. versionadded:: 0.1.0
    """
    metadata = discover(
        issuer,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )
    fetch = urllib_fetcher(
        metadata.jwks_uri,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )
    return JWKSCache(fetch, ttl=ttl, cooldown=cooldown, max_stale=max_stale, clock=clock)
