"""JOSE: JSON Web Keys, Signatures and Tokens (RFC 7515, 7517, 7518, 7519, 7638, 7797, 8037).

* :class:`JWK`, :class:`KeySet` and the :class:`KeyResolver` protocol: checked, immutable keys.
* :mod:`authcore.jose.jws`: compact and JSON serialization, detached and unencoded payloads.
* :mod:`authcore.jose.jwt`: :func:`~authcore.jose.jwt.encode`, :func:`~authcore.jose.jwt.decode`
  and :class:`JWTVerifier`, the reusable fast path.
* :data:`SIGNATURE_ALGORITHMS`: the immutable algorithm registry (no ``none``, ever).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.jose import jws, jwt
from authcore.jose._jwa import SIGNATURE_ALGORITHMS, KeyType, SignatureAlgorithm
from authcore.jose._jwk import JWK, KeyResolver, KeySet
from authcore.jose.jws import VerifiedJWS
from authcore.jose.jwt import JWTVerifier, UnverifiedJWT

__all__ = [
    "JWK",
    "SIGNATURE_ALGORITHMS",
    "JWTVerifier",
    "KeyResolver",
    "KeySet",
    "KeyType",
    "SignatureAlgorithm",
    "UnverifiedJWT",
    "VerifiedJWS",
    "jws",
    "jwt",
]
