"""A JWK Set fetch shared through Redis: one origin download per refresh for the whole fleet.

:class:`RedisJWKSFetch` (and :class:`AsyncRedisJWKSFetch`) wrap the ``fetch`` callable of a
:class:`~authcore.jose.jwks.JWKSCache`.  The cache keeps every policy (TTL, cooldown on unknown
kids, stale fallback, strict parsing); the wrapper only decides where a fetch is answered from:

* a copy in Redis that this process has not seen yet (another process downloaded it less
  than ``max_age`` ago) is returned as is, with no request to the origin;
* otherwise (no copy, or the copy is the one this process already has, so its cache wants
  something newer: its TTL ran out or a token named an unknown kid) the origin is fetched
  and the result stored for the others.

So the origin sees about one download per refresh across every process, and an unknown kid
still reaches the origin at once (subject to each cache's cooldown).  A Redis failure never
fails a fetch: the origin is asked directly and a warning is logged.

Trust: whoever can write the key can make verifiers trust their keys.  Keep the prefix
writable only by your services (Redis ACLs).  What is read back is bounded (``max_bytes``,
read with ``GETRANGE``) and parsed by the cache exactly like a download.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import TYPE_CHECKING, ClassVar, Final, Generic, TypeVar

from authcore._encoding import json_dumps
from authcore._kinds import is_async_callable
from authcore._options import int_option, seconds_option
from authcore.errors import ConfigurationError, StoreError
from authcore.jose.jwks import DEFAULT_MAX_BYTES
from authcore.stores._redis_common import check_prefix, translated

if TYPE_CHECKING:
    # Fetch, AsyncFetch and the client aliases name the generic bases below (as strings:
    # authcore.stores.redis imports this module).
    import datetime as dt

    from authcore.jose.jwks import AsyncFetch, Fetch, JWKSData  # noqa: F401
    from authcore.stores.redis import AsyncRedisClient, RedisClient  # noqa: F401

__all__ = ["AsyncRedisJWKSFetch", "RedisJWKSFetch"]

_log = logging.getLogger("authcore.stores.redis")

_FetchT = TypeVar("_FetchT")
_ClientT = TypeVar("_ClientT")

_MAGIC: Final = b"authcore-jwks-1 "
_MAX_AGE_LIMIT: Final = 365 * 86_400
"""A year: longer shared copies are a configuration mistake (and overflow ``PX``)."""
_VERSION_LENGTH: Final = 32
"""Hex digits of the random version each download is stored under."""


class _SharedCopy:
    """The decisions both fetch wrappers share; no I/O here."""

    __slots__ = ("key", "limit", "max_age_ms", "max_bytes", "seen")

    def __init__(
        self, fetch: object, name: object, prefix: object, max_age: object, max_bytes: object
    ) -> None:
        if not callable(fetch):
            raise ConfigurationError("fetch must be callable")
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name must be a non-empty string (the JWKS URL)")
        size = int_option(max_bytes, "max_bytes")
        age = seconds_option(max_age, "max_age", high=_MAX_AGE_LIMIT)
        digest = hashlib.sha256(name.encode()).hexdigest()
        self.key = f"{check_prefix(prefix)}jwks:{digest}"
        self.max_age_ms = max(1, int(age * 1000))
        self.max_bytes = size
        self.limit = len(_MAGIC) + _VERSION_LENGTH + 1 + size
        self.seen: bytes | None = None

    def unseen(self, raw: object) -> bytes | None:
        """The stored document if it is well formed and new to this process, else ``None``."""
        if not isinstance(raw, bytes) or len(raw) > self.limit or not raw.startswith(_MAGIC):
            return None
        version, newline, document = raw[len(_MAGIC) :].partition(b"\n")
        if not newline or len(version) != _VERSION_LENGTH or version == self.seen:
            return None
        self.seen = version
        return document

    def downloaded(self, data: JWKSData) -> tuple[bytes, bytes | None]:
        """The origin's document as bytes, and the value to store (``None``: too large)."""
        if isinstance(data, bytes):
            body = data
        elif isinstance(data, str):
            body = data.encode()
        else:
            body = json_dumps(dict(data))
        version = secrets.token_hex(_VERSION_LENGTH // 2).encode()
        self.seen = version
        if len(body) > self.max_bytes:
            return body, None
        return body, _MAGIC + version + b"\n" + body


def _warn(action: str, exc: StoreError) -> None:
    _log.warning("shared JWKS: could not %s Redis (%s); using the origin", action, exc)


class _SharedFetch(Generic[_FetchT, _ClientT]):
    """Construction shared by the sync and async wrappers."""

    __slots__ = ("_client", "_copy", "_fetch")
    _awaits: ClassVar[bool] = False  # whether fetch is awaited

    def __init__(
        self,
        client: _ClientT,
        fetch: _FetchT,
        *,
        name: str,
        prefix: str = "authcore:",
        max_age: float | dt.timedelta = 300,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._copy = _SharedCopy(fetch, name, prefix, max_age, max_bytes)
        if not self._awaits and is_async_callable(fetch):  # its coroutine is no JWKS
            raise ConfigurationError("fetch is async: use AsyncRedisJWKSFetch, or a sync fetch")
        self._client = client
        self._fetch = fetch

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._fetch!r})"


class RedisJWKSFetch(_SharedFetch["Fetch", "RedisClient"]):
    """A JWKS fetch whose downloads are shared by every process through Redis.

    Pass it as the ``fetch`` of a :class:`~authcore.jose.jwks.JWKSCache`.

    Args:
        client: A Redis client (see :func:`~authcore.stores.redis.connect`).
        fetch: The origin fetch (for example :func:`~authcore.jose.jwks.urllib_fetcher`).
        name: What identifies the JWK Set, normally its URL (the key is its SHA-256).
        prefix: Key prefix (the key is ``<prefix>jwks:<sha256 of name>``).
        max_age: Seconds a shared copy may be handed to another process (default 300).  A
            verifier's keys are then at most its cache ``ttl`` plus ``max_age`` old.
        max_bytes: The largest document stored or read back (default 256 KiB).

    Raises:
        ConfigurationError: On an invalid option.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def __call__(self) -> bytes:
        """Return a copy new to this process, or download from the origin and share it.

        Raises:
            FetchError: As the origin fetch (Redis failures are logged, never raised).
        """
        copy = self._copy
        try:
            with translated():
                raw = self._client.getrange(copy.key, 0, copy.limit)
        except StoreError as exc:
            _warn("read", exc)
            raw = None
        document = copy.unseen(raw)
        if document is not None:
            return document
        body, value = copy.downloaded(self._fetch())
        if value is not None:
            try:
                with translated():
                    self._client.set(copy.key, value, px=copy.max_age_ms)
            except StoreError as exc:
                _warn("write", exc)
        return body


class AsyncRedisJWKSFetch(_SharedFetch["AsyncFetch", "AsyncRedisClient"]):
    """:class:`RedisJWKSFetch` for :class:`~authcore.jose.jwks.AsyncJWKSCache`.

    Takes a ``redis.asyncio`` client (:func:`~authcore.stores.redis.connect_async`) and an
    async origin fetch (for example ``run_in_thread(urllib_fetcher(url))``).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    _awaits = True

    async def __call__(self) -> bytes:
        """As :meth:`RedisJWKSFetch.__call__`."""
        copy = self._copy
        try:
            with translated():
                raw = await self._client.getrange(copy.key, 0, copy.limit)
        except StoreError as exc:
            _warn("read", exc)
            raw = None
        document = copy.unseen(raw)
        if document is not None:
            return document
        body, value = copy.downloaded(await self._fetch())
        if value is not None:
            try:
                with translated():
                    await self._client.set(copy.key, value, px=copy.max_age_ms)
            except StoreError as exc:
                _warn("write", exc)
        return body
