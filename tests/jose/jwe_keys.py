"""Keys for the JWE tests, generated once per process."""

from __future__ import annotations

import functools
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519

from authcore._encoding import b64url_encode
from authcore.jose._jwe_algs import CONTENT_ENCRYPTIONS, KEY_MANAGEMENTS, KeyFamily
from authcore.jose._jwk import JWK

__all__ = ["curve_key", "key_for", "oct_key", "rsa_key"]


def _pem(private: object) -> bytes:
    data: bytes = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


@functools.cache
def _rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _curve_private(crv: str) -> object:
    if crv == "X25519":
        return x25519.X25519PrivateKey.generate()
    if crv == "X448":
        return x448.X448PrivateKey.generate()
    curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[crv]
    return ec.generate_private_key(curve)


def rsa_key(alg: str | None = None, kid: str | None = None) -> JWK:
    """The process-wide 2048-bit RSA key, optionally bound to ``alg``."""
    return JWK.from_pem(_pem(_rsa_private()), alg=alg, kid=kid)


def curve_key(
    crv: str, alg: str | None = None, kid: str | None = None, *, fresh: bool = False
) -> JWK:
    """A process-wide (or, with ``fresh``, a new) private key on ``crv``."""
    private = _curve_private.__wrapped__(crv) if fresh else _curve_private(crv)
    return JWK.from_pem(_pem(private), alg=alg, kid=kid)


def oct_key(size: int, alg: str | None = None, kid: str | None = None, **extra: object) -> JWK:
    """A fresh random symmetric key of ``size`` bytes."""
    members: dict[str, object] = {"kty": "oct", "k": b64url_encode(os.urandom(size)), **extra}
    if alg is not None:
        members["alg"] = alg
    if kid is not None:
        members["kid"] = kid
    return JWK.from_dict(members)


def key_for(alg: str, enc: str, crv: str = "P-256") -> JWK:
    """A private (or symmetric) key usable for ``alg`` with ``enc``, bound to ``alg``."""
    family = KEY_MANAGEMENTS[alg].family
    if family in (KeyFamily.RSA1_5, KeyFamily.RSA_OAEP):
        return rsa_key(alg)
    if family in (KeyFamily.ECDH_ES, KeyFamily.ECDH_ES_KW):
        return curve_key(crv, alg)
    if family is KeyFamily.DIRECT:
        return oct_key(CONTENT_ENCRYPTIONS[enc].key_size, alg)
    if family is KeyFamily.PBES2:
        return JWK.from_dict(
            {"kty": "oct", "k": b64url_encode(b"correct horse battery"), "alg": alg}
        )
    return oct_key(KEY_MANAGEMENTS[alg].kek_size, alg)
