"""Issuer discovery: RFC 8414 authorization server metadata and OpenID Connect Discovery 1.0.

Private home of the discovery half of :mod:`authcore.jose.jwks`: :func:`discover` fetches the
metadata through the guarded fetch path (:mod:`authcore._fetch`), :func:`parse_metadata` checks
it, and :func:`cache_from_issuer` builds a :class:`~authcore.jose.jwks.JWKSCache` over the
discovered ``jwks_uri``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from authcore import _fetch
from authcore._encoding import json_loads
from authcore._options import str_option
from authcore.errors import ConfigurationError, DecodeError, FetchError
from authcore.http import split_url
from authcore.jose._jwks_cache import JWKSCache
from authcore.jose._jwks_fetch import DEFAULT_MAX_BYTES, urllib_fetcher

if TYPE_CHECKING:
    import datetime as dt
    import ssl

    from authcore.clock import Clock
    from authcore.jose._jwks_cache import OnSkip

__all__ = [
    "METADATA_CONTENT_TYPES",
    "ProviderMetadata",
    "cache_from_issuer",
    "discover",
    "metadata_urls",
    "parse_metadata",
]

METADATA_CONTENT_TYPES: Final = frozenset({"application/json"})
"""Media types accepted for metadata documents (RFC 8414 section 3.2)."""


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
    _fetch.check_url(issuer, allow_http_loopback=allow_http_loopback, what="issuer")
    parts = split_url(issuer)
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
    str_option(issuer, "issuer")
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
        _fetch.check_url(jwks_uri, allow_http_loopback=allow_http_loopback, what="jwks_uri")
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
    options = _fetch.FetchOptions(
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )
    for url in metadata_urls(issuer, allow_http_loopback=allow_http_loopback):
        status, body = _fetch.request(
            url, options=options, accept=METADATA_CONTENT_TYPES, what="metadata"
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
    on_skip: OnSkip | None = None,
) -> JWKSCache:
    """Discover an issuer's ``jwks_uri`` (:func:`discover`) and return a cache over it.

    Discovery happens now (it raises on failure); the keys are fetched on first use.
    ``on_skip`` is the cache's (:class:`~authcore.jose.jwks.JWKSCache`).

    Raises:
        ConfigurationError: If the issuer URL or an option is refused.
        FetchError: If discovery fails.

    .. versionadded:: 0.1.0
    """
    # The cache's options are checked before any network: a bad ttl is the caller's mistake
    # (ConfigurationError), not hidden behind an unreachable issuer's FetchError.
    JWKSCache(_no_fetch, ttl=ttl, cooldown=cooldown, max_stale=max_stale, clock=clock,
              on_skip=on_skip)  # fmt: skip
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
    return JWKSCache(
        fetch, ttl=ttl, cooldown=cooldown, max_stale=max_stale, clock=clock, on_skip=on_skip
    )


def _no_fetch() -> bytes:  # pragma: no cover - never called: only checks options
    raise AssertionError("the options check never fetches")
