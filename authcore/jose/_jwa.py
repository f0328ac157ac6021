"""The JWS algorithm registry (RFC 7518 section 3, RFC 8037, RFC 8812, RFC 9864).

One immutable table, :data:`SIGNATURE_ALGORITHMS`, maps each supported ``alg`` name to a frozen
:class:`SignatureAlgorithm`.  It is a :class:`types.MappingProxyType` built from literals: nothing
registers itself at import time and nothing can be added later.  ``none`` is not in it and never
will be (RFC 8725 section 3.1).

The signing and verifying closures built here are the only place the raw primitives of
``cryptography`` are called.  Verifiers raise :class:`~authcore.errors.InvalidSignature` and
nothing else for a signature that does not verify, whatever its length or encoding.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeVar

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from authcore._ct import bytes_eq
from authcore.errors import InvalidSignature, UnsupportedAlgorithm

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "EC_CURVES",
    "SIGNATURE_ALGORITHMS",
    "Family",
    "KeyType",
    "SignatureAlgorithm",
    "Signer",
    "Verifier",
    "ec_crv",
    "get_algorithm",
    "keyed_hmac",
    "lookup",
    "make_signer",
    "make_verifier",
]

T = TypeVar("T")

Signer = Callable[[bytes], bytes]
"""Signing input to JWS signature bytes."""
Verifier = Callable[[bytes, bytes], None]
"""(signing input, signature) to ``None``; raises :class:`~authcore.errors.InvalidSignature`."""


class KeyType(str, enum.Enum):
    """JWK ``kty`` values (RFC 7518 section 6.1, RFC 8037 section 2)."""

    OCT = "oct"
    RSA = "RSA"
    EC = "EC"
    OKP = "OKP"


class Family(enum.Enum):
    """How an algorithm uses its key."""

    HMAC = "HMAC"
    RSA_PKCS1 = "RSASSA-PKCS1-v1_5"
    RSA_PSS = "RSASSA-PSS"
    ECDSA = "ECDSA"
    EDDSA = "EdDSA"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureAlgorithm:
    """One JWS ``alg`` value and what it requires of a key.

    Attributes:
        name: The ``alg`` header value.
        kty: The key type it needs.
        family: The signature scheme.
        hash_name: The hash (``"sha256"``...), ``None`` for EdDSA.
        curves: The ``crv`` values allowed (EC and OKP), empty otherwise.
        size: HMAC: minimum key length in bytes (the hash output); ECDSA: the byte length of
            ``r`` and of ``s``; EdDSA: the signature length (0 when it depends on the curve).
    """

    name: str
    kty: KeyType
    family: Family
    hash_name: str | None
    curves: frozenset[str] = frozenset()
    size: int = 0


def _alg(
    name: str,
    kty: KeyType,
    family: Family,
    hash_name: str | None,
    *,
    curves: tuple[str, ...] = (),
    size: int = 0,
) -> tuple[str, SignatureAlgorithm]:
    return name, SignatureAlgorithm(
        name=name,
        kty=kty,
        family=family,
        hash_name=hash_name,
        curves=frozenset(curves),
        size=size,
    )


SIGNATURE_ALGORITHMS: Final[Mapping[str, SignatureAlgorithm]] = MappingProxyType(
    dict(
        (
            _alg("HS256", KeyType.OCT, Family.HMAC, "sha256", size=32),
            _alg("HS384", KeyType.OCT, Family.HMAC, "sha384", size=48),
            _alg("HS512", KeyType.OCT, Family.HMAC, "sha512", size=64),
            _alg("RS256", KeyType.RSA, Family.RSA_PKCS1, "sha256"),
            _alg("RS384", KeyType.RSA, Family.RSA_PKCS1, "sha384"),
            _alg("RS512", KeyType.RSA, Family.RSA_PKCS1, "sha512"),
            _alg("PS256", KeyType.RSA, Family.RSA_PSS, "sha256"),
            _alg("PS384", KeyType.RSA, Family.RSA_PSS, "sha384"),
            _alg("PS512", KeyType.RSA, Family.RSA_PSS, "sha512"),
            _alg("ES256", KeyType.EC, Family.ECDSA, "sha256", curves=("P-256",), size=32),
            _alg("ES384", KeyType.EC, Family.ECDSA, "sha384", curves=("P-384",), size=48),
            _alg("ES512", KeyType.EC, Family.ECDSA, "sha512", curves=("P-521",), size=66),
            _alg("ES256K", KeyType.EC, Family.ECDSA, "sha256", curves=("secp256k1",), size=32),
            _alg("EdDSA", KeyType.OKP, Family.EDDSA, None, curves=("Ed25519", "Ed448")),
            _alg("Ed25519", KeyType.OKP, Family.EDDSA, None, curves=("Ed25519",), size=64),
            _alg("Ed448", KeyType.OKP, Family.EDDSA, None, curves=("Ed448",), size=114),
        )
    )
)
"""Every supported JWS algorithm, by ``alg`` name.  Immutable."""

_HASHES: Final[Mapping[str, hashes.HashAlgorithm]] = MappingProxyType(
    {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
)
EC_CURVES: Final[Mapping[str, tuple[ec.EllipticCurve, int]]] = MappingProxyType(
    {
        "P-256": (ec.SECP256R1(), 32),
        "P-384": (ec.SECP384R1(), 48),
        "P-521": (ec.SECP521R1(), 66),
        "secp256k1": (ec.SECP256K1(), 32),
    }
)
"""Every supported EC ``crv`` (RFC 7518 section 6.2.1.1, RFC 8812): its curve and byte size."""
_EC_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}
)


def ec_crv(curve: ec.EllipticCurve) -> str | None:
    """The JOSE ``crv`` of a ``cryptography`` curve, or ``None`` if it is not supported."""
    return _EC_NAMES.get(curve.name)


_CURVE_ORDERS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "P-384": int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        "P-521": int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
        "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    }
)


def lookup(registry: Mapping[str, T], name: object, what: str) -> T:
    """Return ``registry[name]`` (one of the immutable JWS/JWE algorithm tables).

    Raises:
        UnsupportedAlgorithm: If ``name`` is not a string registered there; the reason says
            ``'<name>' is not a supported <what>``, with the name cut to 20 characters.
    """
    spec = registry.get(name) if isinstance(name, str) else None
    if spec is None:
        shown = name[:20] if isinstance(name, str) else type(name).__name__
        raise UnsupportedAlgorithm(f"{shown!r} is not a supported {what}")
    return spec


def get_algorithm(name: object) -> SignatureAlgorithm:
    """Return the registered algorithm called ``name``.

    Raises:
        UnsupportedAlgorithm: If ``name`` is not a registered JWS algorithm (``none`` never is).
    """
    return lookup(SIGNATURE_ALGORITHMS, name, "JWS algorithm")


def _crypto_invalid() -> InvalidSignature:
    return InvalidSignature("signature does not verify")


def make_verifier(alg: SignatureAlgorithm, key: object) -> Verifier:
    """Build the verification closure of ``alg`` for a checked key object.

    Args:
        alg: The algorithm.
        key: ``bytes`` (HMAC secret) or a ``cryptography`` public key of the matching type; the
            caller (:class:`~authcore.jose.JWK`) has already checked type, size and curve.

    Returns:
        A function ``(signing_input, signature) -> None`` raising
        :class:`~authcore.errors.InvalidSignature`.
    """
    family = alg.family
    if family is Family.HMAC:
        if not isinstance(key, bytes):  # pragma: no cover - JWK guarantees it
            raise UnsupportedAlgorithm("HMAC needs a secret")
        return _hmac_verifier(key, alg.hash_name or "sha256")
    if family is Family.EDDSA:
        return _eddsa_verifier(key)
    hash_alg = _HASHES[alg.hash_name or "sha256"]
    if family is Family.ECDSA:
        if not isinstance(key, ec.EllipticCurvePublicKey):  # pragma: no cover
            raise UnsupportedAlgorithm("ECDSA needs an EC key")
        return _ecdsa_verifier(key, alg, hash_alg)
    if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover
        raise UnsupportedAlgorithm("RSA algorithms need an RSA key")
    pad = _rsa_padding(family, hash_alg)
    size = (key.key_size + 7) // 8
    rsa_verify = key.verify

    def verify_rsa(signing_input: bytes, signature: bytes) -> None:
        # RFC 8017 section 8.2.2 step 1: the signature is exactly k octets.
        if len(signature) != size:
            raise InvalidSignature("RSA signature has the wrong length")
        try:
            rsa_verify(signature, signing_input, pad, hash_alg)
        except _CryptoInvalidSignature:
            raise _crypto_invalid() from None

    return verify_rsa


def _rsa_padding(family: Family, hash_alg: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if family is Family.RSA_PKCS1:
        return padding.PKCS1v15()
    return padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=padding.PSS.DIGEST_LENGTH)


def keyed_hmac(secret: bytes, hash_name: str) -> crypto_hmac.HMAC:
    """A ``cryptography`` HMAC keyed once, to be copied per message and never finalized.

    Copying the keyed state skips the key schedule and the digest lookup on every call, and
    ``cryptography``'s copy, update and finalize are single native calls: 0.70 microseconds
    per MAC of a small token where the standard library's keyed ``hmac`` copy takes 1.25
    (its methods are Python wrappers) and ``hmac.digest`` 1.63.  ``copy`` never changes the
    template, so threads may share it.
    """
    return crypto_hmac.HMAC(secret, _HASHES[hash_name])


def _hmac_verifier(secret: bytes, hash_name: str) -> Verifier:
    template = keyed_hmac(secret, hash_name)

    def verify_hmac(signing_input: bytes, signature: bytes) -> None:
        mac = template.copy()
        mac.update(signing_input)
        if not bytes_eq(mac.finalize(), signature):
            raise InvalidSignature("MAC does not verify")

    return verify_hmac


def _eddsa_verifier(key: object) -> Verifier:
    if isinstance(key, ed25519.Ed25519PublicKey):
        size = 64
    elif isinstance(key, ed448.Ed448PublicKey):
        size = 114
    else:  # pragma: no cover - JWK guarantees it
        raise UnsupportedAlgorithm("EdDSA needs an Ed25519 or Ed448 key")
    ed_verify = key.verify

    def verify_eddsa(signing_input: bytes, signature: bytes) -> None:
        if len(signature) != size:
            raise InvalidSignature("EdDSA signature has the wrong length")
        try:
            ed_verify(signature, signing_input)
        except _CryptoInvalidSignature:
            raise _crypto_invalid() from None

    return verify_eddsa


def _ecdsa_verifier(
    key: ec.EllipticCurvePublicKey, alg: SignatureAlgorithm, hash_alg: hashes.HashAlgorithm
) -> Verifier:
    size = alg.size
    order = _CURVE_ORDERS[next(iter(alg.curves))]
    ecdsa = ec.ECDSA(hash_alg)
    ec_verify = key.verify
    from_bytes = int.from_bytes

    def verify_ecdsa(signing_input: bytes, signature: bytes) -> None:
        # RFC 7518 section 3.4: R and S as fixed-length big-endian octets, nothing else.
        if len(signature) != 2 * size:
            raise InvalidSignature("ECDSA signature has the wrong length")
        r = from_bytes(signature[:size], "big")
        s = from_bytes(signature[size:], "big")
        if not (0 < r < order and 0 < s < order):
            raise InvalidSignature("ECDSA r or s out of range")
        try:
            ec_verify(encode_dss_signature(r, s), signing_input, ecdsa)
        except _CryptoInvalidSignature:
            raise _crypto_invalid() from None

    return verify_ecdsa


def make_signer(alg: SignatureAlgorithm, key: object) -> Signer:
    """Build the signing closure of ``alg`` for a checked private key (or HMAC secret).

    Args:
        alg: The algorithm.
        key: ``bytes`` (HMAC) or a ``cryptography`` private key of the matching type.

    Returns:
        A function from the signing input to the JWS signature bytes.
    """
    family = alg.family
    if family is Family.HMAC:
        if not isinstance(key, bytes):  # pragma: no cover
            raise UnsupportedAlgorithm("HMAC needs a secret")
        template = keyed_hmac(key, alg.hash_name or "sha256")

        def sign_hmac(data: bytes) -> bytes:
            mac = template.copy()
            mac.update(data)
            return mac.finalize()

        return sign_hmac
    if family is Family.EDDSA:
        if not isinstance(
            key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
        ):  # pragma: no cover
            raise UnsupportedAlgorithm("EdDSA needs an Ed25519 or Ed448 private key")
        return key.sign
    hash_alg = _HASHES[alg.hash_name or "sha256"]
    if family is Family.ECDSA:
        if not isinstance(key, ec.EllipticCurvePrivateKey):  # pragma: no cover
            raise UnsupportedAlgorithm("ECDSA needs an EC private key")
        size = alg.size
        ecdsa = ec.ECDSA(hash_alg)
        ec_sign = key.sign

        def sign_ecdsa(data: bytes) -> bytes:
            r, s = decode_dss_signature(ec_sign(data, ecdsa))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")

        return sign_ecdsa
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover
        raise UnsupportedAlgorithm("RSA algorithms need an RSA private key")
    pad = _rsa_padding(family, hash_alg)
    rsa_sign = key.sign
    return lambda data: rsa_sign(data, pad, hash_alg)
