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
* **One bad key does not take a set down.**  A key refused for weakness or policy (an RSA
  modulus under 2048 bits, a broken modulus or point, ...) is skipped, logged as a warning with
  its ``kid`` and the reason the first time it shows up, passed to ``on_skip`` if given, and
  listed in :attr:`CacheStatus.skipped`; a token naming its ``kid`` gets
  :class:`~authcore.errors.KeyNotFound` saying why.

:func:`discover` reads authorization server metadata (RFC 8414 section 3) or OpenID Provider
metadata (OpenID Connect Discovery 1.0 section 4), requires the document's ``issuer`` to equal
the configured issuer exactly (RFC 8414 section 3.3), and :func:`cache_from_issuer` builds a
cache over its ``jwks_uri``.

The code lives in three private modules, one per concern, and every public name is re-exported
here: the sans-IO cache (``_jwks_cache``), the standard-library fetcher (``_jwks_fetch``, over
the one guarded fetch path that the CRL and OCSP fetchers share) and discovery
(``_discovery``).

What this module does **not** do: it never follows ``jku``/``x5u`` headers of tokens, never
honours HTTP caching headers (the ``ttl`` is yours to choose), and never checks that a key's
``use``/``key_ops`` fit a purpose (the verifiers do).

.. versionadded:: 0.1.0

.. versionchanged:: 0.1.0
   Split into the cache, fetching and discovery modules; the names here are unchanged.
"""

from __future__ import annotations

from authcore.jose._discovery import (
    METADATA_CONTENT_TYPES,
    ProviderMetadata,
    cache_from_issuer,
    discover,
    metadata_urls,
    parse_metadata,
)
from authcore.jose._jwks_cache import (
    DEFAULT_MAX_KEYS,
    AsyncFetch,
    AsyncJWKSCache,
    CacheStatus,
    Fetch,
    JWKSCache,
    JWKSData,
    OnSkip,
    SkippedKey,
    parse_jwks,
)
from authcore.jose._jwks_fetch import (
    DEFAULT_MAX_BYTES,
    JWKS_CONTENT_TYPES,
    run_in_thread,
    urllib_fetcher,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_KEYS",
    "JWKS_CONTENT_TYPES",
    "METADATA_CONTENT_TYPES",
    "AsyncFetch",
    "AsyncJWKSCache",
    "CacheStatus",
    "Fetch",
    "JWKSCache",
    "JWKSData",
    "OnSkip",
    "ProviderMetadata",
    "SkippedKey",
    "cache_from_issuer",
    "discover",
    "metadata_urls",
    "parse_jwks",
    "parse_metadata",
    "run_in_thread",
    "urllib_fetcher",
]
