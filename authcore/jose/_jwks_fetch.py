"""The standard-library JWKS fetcher: :func:`urllib_fetcher` and :func:`run_in_thread`.

Private home of the fetching half of :mod:`authcore.jose.jwks`.  The transport rules (https,
same-origin redirects, deadline, media type and size checks) are those of the one guarded fetch
path, :mod:`authcore._fetch`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, final

from authcore import _fetch
from authcore._kinds import is_async_callable
from authcore.errors import ConfigurationError

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from authcore.jose._jwks_cache import AsyncFetch, Fetch, JWKSData

__all__ = ["DEFAULT_MAX_BYTES", "JWKS_CONTENT_TYPES", "run_in_thread", "urllib_fetcher"]

DEFAULT_MAX_BYTES: Final = 262_144
"""Default size cap of a fetched document (256 KiB)."""

JWKS_CONTENT_TYPES: Final = frozenset({"application/json", "application/jwk-set+json"})
"""Media types accepted for a JWK Set (RFC 7517 section 8.5)."""


@final
class _UrllibFetcher:
    __slots__ = ("_options", "_url")

    def __init__(self, url: str, options: _fetch.FetchOptions) -> None:
        options.check(url)
        self._url = url
        self._options = options

    def __call__(self) -> bytes:
        return _fetch.require(
            self._url, options=self._options, accept=JWKS_CONTENT_TYPES, what="JWKS"
        )

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
    options = _fetch.FetchOptions(
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )
    return _UrllibFetcher(url, options)


def run_in_thread(fetch: Fetch) -> AsyncFetch:
    """Wrap a synchronous fetch (such as :func:`urllib_fetcher`) for :class:`AsyncJWKSCache`.

    Each call runs ``fetch`` in the default executor (:func:`asyncio.to_thread`), so the event
    loop keeps serving while the key set downloads.

    Raises:
        ConfigurationError: If ``fetch`` is not callable, or is already async (pass it to
            :class:`AsyncJWKSCache` as it is).

    .. versionadded:: 0.1.0
    """
    if not callable(fetch):
        raise ConfigurationError("fetch must be callable")
    if is_async_callable(fetch):  # the thread would return its coroutine, never awaited
        raise ConfigurationError("fetch is already async: give it to AsyncJWKSCache directly")

    async def fetch_in_thread() -> JWKSData:
        return await asyncio.to_thread(fetch)

    return fetch_in_thread
