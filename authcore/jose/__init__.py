"""JOSE: JSON Web Keys, Signatures and Tokens (RFC 7515, 7517, 7518, 7519, 7638, 7797, 8037).

* :class:`JWK`, :class:`KeySet` and the :class:`KeyResolver` protocol: checked, immutable keys.
* :mod:`authcore.jose.jws`: compact and JSON serialization, detached and unencoded payloads.
* :mod:`authcore.jose.jwt`: :func:`~authcore.jose.jwt.encode`, :func:`~authcore.jose.jwt.decode`
  and :class:`JWTVerifier`, the reusable fast path.
* :mod:`authcore.jose.jwe`: JSON Web Encryption (RFC 7516), compact, JSON and nested JWTs.
* :mod:`authcore.jose.jwks`: JWK Set caching and fetching for verifiers;
  :mod:`authcore.jose.keyring`: signing-key rotation for issuers;
  :mod:`authcore.jose.denylist`: revoking tokens before they expire.
* :data:`SIGNATURE_ALGORITHMS`: the immutable algorithm registry (no ``none``, ever).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from authcore.jose import _jwa, _jwk, denylist, jwe, jwks, jws, jwt, keyring
from authcore.jose._jwa import KeyType, SignatureAlgorithm
from authcore.jose._jwk import JWK, KeyResolver, KeySet
from authcore.jose.jws import VerifiedJWS
from authcore.jose.jwt import JWTVerifier, UnverifiedJWT

if TYPE_CHECKING:
    from collections.abc import Mapping

# Bound here, with its docstring, so the API reference documents it (autodoc reads docstrings
# from the module it documents).
PRIVATE_MEMBERS: Final[frozenset[str]] = _jwk.PRIVATE_MEMBERS
"""JWK members that only private or symmetric keys have: ``d``, ``p``, ``q``, ``dp``, ``dq``,
``qi``, ``oth`` and ``k`` (RFC 7518 sections 6.2.2, 6.3.2 and 6.4.1; RFC 8037 section 2).

A published key set (JWKS), a DPoP proof's ``jwk`` and a client's registered ``jwks`` holding
one are refused before any key is parsed.

.. versionadded:: 0.1.0
"""

SIGNATURE_ALGORITHMS: Final[Mapping[str, SignatureAlgorithm]] = _jwa.SIGNATURE_ALGORITHMS
"""The JWS algorithm registry, from ``alg`` name to :class:`SignatureAlgorithm` (immutable).

HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, ES256K, EdDSA, Ed25519 and Ed448
(RFC 7518 section 3, RFC 8037, RFC 8812, RFC 9864).  ``none`` is not in it and never will be.

.. versionadded:: 0.1.0
"""

__all__ = [
    "JWK",
    "PRIVATE_MEMBERS",
    "SIGNATURE_ALGORITHMS",
    "JWTVerifier",
    "KeyResolver",
    "KeySet",
    "KeyType",
    "SignatureAlgorithm",
    "UnverifiedJWT",
    "VerifiedJWS",
    "denylist",
    "jwe",
    "jwks",
    "jws",
    "jwt",
    "keyring",
]
