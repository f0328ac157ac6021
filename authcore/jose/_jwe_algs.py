"""JWE algorithms on raw ``cryptography`` keys (RFC 7518 sections 4 and 5, RFC 8037 section 3.2).

This layer knows nothing about JWK objects: keys are ``bytes`` (symmetric keys and PBES2
passwords) or ``cryptography`` key objects.  It holds two immutable registries,
:data:`CONTENT_ENCRYPTIONS` (``enc``) and :data:`KEY_MANAGEMENTS` (``alg``), and the functions
that use them:

* :func:`encrypt_content` / :func:`decrypt_content`: AES-GCM (section 5.3) and
  AES-CBC-HMAC-SHA2 (section 5.2).  For CBC-HMAC the full-length tag is recomputed over
  ``AAD || IV || ciphertext || AL`` and compared with :func:`authcore._ct.bytes_eq` *before*
  anything is decrypted, so no padding oracle exists.  :func:`prepare_content_key` builds the
  AES-GCM object, or the keyed HMAC and AES key of CBC-HMAC, once for a key used many times.
* :func:`wrap_cek` / :func:`unwrap_cek`: RSA-OAEP (section 4.3), AES Key Wrap (4.4), direct
  (4.5), ECDH-ES with the Concat KDF (4.6) over P-256/P-384/P-521 and X25519/X448 (RFC 8037),
  AES-GCM key wrap (4.7) and PBES2 (4.8), plus decrypt-only RSA1_5 (4.2).

Theory of operation for failures: every length is checked before any cryptography runs and
refused with :class:`~authcore.errors.MalformedToken` (lengths are public).  Every failure of
the cryptography itself is :class:`~authcore.errors.DecryptionFailed` with one fixed reason,
:data:`FAILED`, whatever the cause, so the error tells an attacker nothing about where
decryption stopped.

RSA1_5 (RFC 3218, Bleichenbacher): :func:`unwrap_cek` never fails for RSA1_5.  On a padding
error, on an unwrapped key of the wrong length, or when OpenSSL's implicit rejection returns a
synthetic message, it continues with a random CEK of the right length, so the failure surfaces
only at the content tag with the same error as any other tag mismatch (RFC 7516 section 11.5).
RSA1_5 is never offered for encryption.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x448, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from authcore._ct import bytes_eq
from authcore._encoding import b64url_decode, b64url_encode
from authcore.errors import (
    AuthcoreError,
    DecryptionFailed,
    EncodeError,
    InvalidKeyError,
    MalformedToken,
    UnsupportedAlgorithm,
)
from authcore.jose._jwa import EC_CURVES, ec_crv, keyed_hmac, lookup

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

__all__ = [
    "CONTENT_ENCRYPTIONS",
    "DEFAULT_P2C",
    "ECDH_CURVES",
    "FAILED",
    "KEY_MANAGEMENTS",
    "P2C_MAX",
    "P2C_MIN",
    "P2S_MIN",
    "CBCKey",
    "ContentEncryption",
    "ContentKey",
    "KeyFamily",
    "KeyManagement",
    "check_key",
    "decrypt_cbc",
    "decrypt_content",
    "ecdh_shared_secret",
    "encrypt_content",
    "get_content_encryption",
    "get_key_management",
    "parse_epk",
    "prepare_content_key",
    "unwrap_cek",
    "wrap_cek",
]

FAILED: Final = "JWE could not be decrypted"
"""The one reason of every :class:`~authcore.errors.DecryptionFailed` raised here."""

P2C_MIN: Final = 1000
"""Smallest accepted PBES2 iteration count (RFC 7518 section 4.8.1.2 recommends 1000)."""
P2C_MAX: Final = 10_000
"""Default largest accepted inbound PBES2 iteration count."""
DEFAULT_P2C: Final = 10_000
"""Iteration count used when encrypting with PBES2 and the caller gives none."""
P2S_MIN: Final = 8
"""Smallest accepted PBES2 salt input, in bytes (RFC 7518 section 4.8.1.1)."""

_HASHES: Final[Mapping[str, type[hashes.HashAlgorithm]]] = MappingProxyType(
    {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
)


def _failed() -> DecryptionFailed:
    return DecryptionFailed(FAILED)


# ----------------------------------------------------------------------------- content encryption


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentEncryption:
    """One ``enc`` value.

    Attributes:
        name: The ``enc`` header value.
        key_size: CEK length in bytes.
        iv_size: IV length in bytes.
        tag_size: Authentication tag length in bytes.
        hash_name: The HMAC hash of the CBC-HMAC family, ``None`` for GCM.
    """

    name: str
    key_size: int
    iv_size: int
    tag_size: int
    hash_name: str | None = None


CONTENT_ENCRYPTIONS: Final[Mapping[str, ContentEncryption]] = MappingProxyType(
    {
        e.name: e
        for e in (
            ContentEncryption(name="A128GCM", key_size=16, iv_size=12, tag_size=16),
            ContentEncryption(name="A192GCM", key_size=24, iv_size=12, tag_size=16),
            ContentEncryption(name="A256GCM", key_size=32, iv_size=12, tag_size=16),
            ContentEncryption(
                name="A128CBC-HS256", key_size=32, iv_size=16, tag_size=16, hash_name="sha256"
            ),
            ContentEncryption(
                name="A192CBC-HS384", key_size=48, iv_size=16, tag_size=24, hash_name="sha384"
            ),
            ContentEncryption(
                name="A256CBC-HS512", key_size=64, iv_size=16, tag_size=32, hash_name="sha512"
            ),
        )
    }
)
"""Every supported content encryption algorithm, by ``enc`` name.  Immutable."""


def get_content_encryption(name: object) -> ContentEncryption:
    """Return the registered ``enc`` called ``name``.

    Raises:
        UnsupportedAlgorithm: If it is not a supported content encryption algorithm.
    """
    return lookup(CONTENT_ENCRYPTIONS, name, "JWE enc")


@dataclass(frozen=True, slots=True)
class CBCKey:
    """A CBC-HMAC content key split and prepared once (RFC 7518 section 5.2.2.1 step 1).

    Attributes:
        mac: A keyed ``cryptography`` HMAC of the first half (``MAC_KEY``), copied per message
            and never finalized itself.
        aes: The AES key of the second half (``ENC_KEY``).
    """

    mac: crypto_hmac.HMAC
    aes: algorithms.AES


ContentKey = AESGCM | CBCKey
"""A content key ready for :func:`encrypt_content`/:func:`decrypt_content`."""


def prepare_content_key(enc: ContentEncryption, cek: bytes) -> ContentKey:
    """The content key objects of ``cek``, built once for a key that decrypts many messages.

    ``dir`` keys keep theirs on the key, so each message skips the AES and HMAC key schedules.
    Neither object is changed by use, so threads may share them.

    Raises:
        InvalidKeyError: If the CEK has the wrong length for ``enc``.
    """
    if len(cek) != enc.key_size:
        raise InvalidKeyError(f"{enc.name} needs a {enc.key_size}-byte CEK")
    if enc.hash_name is None:
        return AESGCM(cek)
    half = enc.key_size // 2
    return CBCKey(keyed_hmac(cek[:half], enc.hash_name), algorithms.AES(cek[half:]))


def _cbc_tag(enc: ContentEncryption, key: CBCKey, aad: bytes, iv: bytes, ct: bytes) -> bytes:
    # RFC 7518 section 5.2.2.1 steps 4-6: AL is the AAD length in bits, 64-bit big-endian.
    mac = key.mac.copy()
    mac.update(aad + iv + ct + struct.pack(">Q", len(aad) * 8))
    return mac.finalize()[: enc.tag_size]


def encrypt_content(
    enc: ContentEncryption,
    cek: bytes,
    plaintext: bytes,
    aad: bytes,
    iv: bytes | None = None,
    *,
    prepared: ContentKey | None = None,
) -> tuple[bytes, bytes, bytes]:
    """Encrypt ``plaintext`` with the CEK.

    Args:
        enc: The content encryption algorithm.
        cek: The content encryption key (``enc.key_size`` bytes).
        plaintext: The (possibly compressed) plaintext.
        aad: The additional authenticated data (RFC 7516 section 5.1 step 14).
        iv: A fixed IV (tests only); a fresh random one by default.
        prepared: :func:`prepare_content_key` of ``cek`` (a ``dir`` key keeps one).

    Returns:
        ``(iv, ciphertext, tag)``.

    Raises:
        InvalidKeyError: If the CEK has the wrong length.
    """
    key = prepared if prepared is not None else prepare_content_key(enc, cek)
    iv = os.urandom(enc.iv_size) if iv is None else iv
    if type(key) is AESGCM:
        sealed = key.encrypt(iv, plaintext, aad)
        return iv, sealed[: -enc.tag_size], sealed[-enc.tag_size :]
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    cbc = cast("CBCKey", key)
    encryptor = Cipher(cbc.aes, modes.CBC(iv)).encryptor()
    ct = encryptor.update(padded) + encryptor.finalize()
    return iv, ct, _cbc_tag(enc, cbc, aad, iv, ct)


def decrypt_content(  # noqa: PLR0917 - the five parts of RFC 7516 section 5.2, in order
    enc: ContentEncryption,
    cek: bytes,
    iv: bytes,
    ct: bytes,
    tag: bytes,
    aad: bytes,
    *,
    prepared: ContentKey | None = None,
) -> bytes:
    """Authenticate and decrypt content.

    Args:
        enc: The content encryption algorithm.
        cek: The content encryption key.
        iv: The IV from the token.
        ct: The ciphertext.
        tag: The authentication tag.
        aad: The additional authenticated data.
        prepared: :func:`prepare_content_key` of ``cek`` (a ``dir`` key keeps one).

    Returns:
        The plaintext (still compressed if ``zip`` was used).

    Raises:
        MalformedToken: If the IV or tag has the wrong length, or a CBC ciphertext is not a
            non-empty multiple of the block size (checked before any cryptography).
        DecryptionFailed: If the tag does not verify (or the CEK has the wrong length).
    """
    if len(iv) != enc.iv_size:
        raise MalformedToken(f"iv must be {enc.iv_size} bytes for {enc.name}")
    if len(tag) != enc.tag_size:
        raise MalformedToken(f"tag must be {enc.tag_size} bytes for {enc.name}")
    if enc.hash_name is not None and (not ct or len(ct) % 16):
        raise MalformedToken(f"ciphertext length is not a positive multiple of 16 for {enc.name}")
    if prepared is not None:
        key = prepared
    elif len(cek) != enc.key_size:
        raise _failed()
    else:
        key = prepare_content_key(enc, cek)
    if type(key) is AESGCM:
        try:
            return key.decrypt(iv, ct + tag, aad)
        except InvalidTag:
            raise _failed() from None
    return decrypt_cbc(enc, cast("CBCKey", key), iv, ct, tag, aad)


def decrypt_cbc(  # noqa: PLR0917 - the parts of RFC 7516 section 5.2, in order
    enc: ContentEncryption, key: CBCKey, iv: bytes, ct: bytes, tag: bytes, aad: bytes
) -> bytes:
    """The CBC-HMAC half of :func:`decrypt_content`, for a caller that checked the lengths.

    Raises:
        DecryptionFailed: If the tag does not verify, or the authentic plaintext is not
            padded correctly (the same error).
    """
    # RFC 7518 section 5.2.2.2: the tag is verified before, and independently of, decryption.
    if not bytes_eq(_cbc_tag(enc, key, aad, iv, ct), tag):
        raise _failed()
    decryptor = Cipher(key.aes, modes.CBC(iv)).decryptor()
    padded = decryptor.update(ct) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # Only reachable with an authentic tag, i.e. a sender that padded wrongly.
        raise _failed() from None


# ----------------------------------------------------------------------------- key management


class KeyFamily(enum.Enum):
    """How a key management algorithm produces the CEK."""

    RSA1_5 = "RSA1_5"
    RSA_OAEP = "RSA-OAEP"
    AES_KW = "AES key wrap"
    AES_GCM_KW = "AES-GCM key wrap"
    DIRECT = "direct"
    ECDH_ES = "ECDH-ES"
    ECDH_ES_KW = "ECDH-ES + AES key wrap"
    PBES2 = "PBES2"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyManagement:
    """One JWE ``alg`` value.

    Attributes:
        name: The ``alg`` header value.
        family: How it works.
        kty: The JWK key type it needs (``"oct"``, ``"RSA"``, ``"EC"`` or ``"OKP"``; PBES2 uses
            an ``oct`` key holding the password).
        hash_name: The OAEP / PBKDF2 hash, when there is one.
        kek_size: Key-encryption key length in bytes (AES-KW, AES-GCM-KW, ECDH-ES+KW, PBES2).
        encrypt: Whether authcore encrypts with it (RSA1_5 is decrypt-only).
    """

    name: str
    family: KeyFamily
    kty: str
    hash_name: str | None = None
    kek_size: int = 0
    encrypt: bool = True


def _km(
    name: str, family: KeyFamily, kty: str, hash_name: str | None = None, kek_size: int = 0
) -> tuple[str, KeyManagement]:
    return name, KeyManagement(
        name=name,
        family=family,
        kty=kty,
        hash_name=hash_name,
        kek_size=kek_size,
        encrypt=family is not KeyFamily.RSA1_5,
    )


KEY_MANAGEMENTS: Final[Mapping[str, KeyManagement]] = MappingProxyType(
    dict(
        (
            _km("RSA1_5", KeyFamily.RSA1_5, "RSA"),
            _km("RSA-OAEP", KeyFamily.RSA_OAEP, "RSA", "sha1"),
            _km("RSA-OAEP-256", KeyFamily.RSA_OAEP, "RSA", "sha256"),
            _km("RSA-OAEP-384", KeyFamily.RSA_OAEP, "RSA", "sha384"),
            _km("RSA-OAEP-512", KeyFamily.RSA_OAEP, "RSA", "sha512"),
            _km("A128KW", KeyFamily.AES_KW, "oct", kek_size=16),
            _km("A192KW", KeyFamily.AES_KW, "oct", kek_size=24),
            _km("A256KW", KeyFamily.AES_KW, "oct", kek_size=32),
            _km("A128GCMKW", KeyFamily.AES_GCM_KW, "oct", kek_size=16),
            _km("A192GCMKW", KeyFamily.AES_GCM_KW, "oct", kek_size=24),
            _km("A256GCMKW", KeyFamily.AES_GCM_KW, "oct", kek_size=32),
            _km("dir", KeyFamily.DIRECT, "oct"),
            _km("ECDH-ES", KeyFamily.ECDH_ES, "EC/OKP"),
            _km("ECDH-ES+A128KW", KeyFamily.ECDH_ES_KW, "EC/OKP", kek_size=16),
            _km("ECDH-ES+A192KW", KeyFamily.ECDH_ES_KW, "EC/OKP", kek_size=24),
            _km("ECDH-ES+A256KW", KeyFamily.ECDH_ES_KW, "EC/OKP", kek_size=32),
            _km("PBES2-HS256+A128KW", KeyFamily.PBES2, "oct", "sha256", 16),
            _km("PBES2-HS384+A192KW", KeyFamily.PBES2, "oct", "sha384", 24),
            _km("PBES2-HS512+A256KW", KeyFamily.PBES2, "oct", "sha512", 32),
        )
    )
)
"""Every supported key management algorithm, by ``alg`` name.  Immutable."""


def get_key_management(name: object) -> KeyManagement:
    """Return the registered ``alg`` called ``name``.

    Raises:
        UnsupportedAlgorithm: If it is not a supported JWE key management algorithm.
    """
    return lookup(KEY_MANAGEMENTS, name, "JWE alg")


ECDH_CURVES: Final = ("P-256", "P-384", "P-521", "X25519", "X448")
"""The curves ECDH-ES works on (RFC 7518 section 4.6, RFC 8037 section 3.2)."""
_ECDH_EC: Final = frozenset(ECDH_CURVES[:3])
_OKP_SIZES: Final = MappingProxyType({"X25519": 32, "X448": 56})

_ECPublic = ec.EllipticCurvePublicKey | x25519.X25519PublicKey | x448.X448PublicKey
_ECPrivate = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | x448.X448PrivateKey


RawKey = (
    bytes
    | rsa.RSAPrivateKey
    | rsa.RSAPublicKey
    | ec.EllipticCurvePrivateKey
    | ec.EllipticCurvePublicKey
    | x25519.X25519PrivateKey
    | x25519.X25519PublicKey
    | x448.X448PrivateKey
    | x448.X448PublicKey
)
"""What this layer accepts as a key: a secret (or PBES2 password) or a ``cryptography`` key."""


def _agreement_curve(key: object) -> str | None:
    """The JOSE ``crv`` of an ECDH-capable key, or ``None``."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        crv = ec_crv(key.curve)
        return crv if crv in _ECDH_EC else None
    if isinstance(key, (x25519.X25519PrivateKey, x25519.X25519PublicKey)):
        return "X25519"
    if isinstance(key, (x448.X448PrivateKey, x448.X448PublicKey)):
        return "X448"
    return None


_PRIVATE_AGREEMENT: Final = (
    ec.EllipticCurvePrivateKey,
    x25519.X25519PrivateKey,
    x448.X448PrivateKey,
)


def _symmetric_problem(alg: KeyManagement, enc: ContentEncryption, key: object) -> str | None:
    if not isinstance(key, bytes):
        return f"{alg.name} needs a symmetric key"
    if alg.family is KeyFamily.DIRECT:
        ok = len(key) == enc.key_size
        return None if ok else f"dir with {enc.name} needs a {enc.key_size}-byte key"
    if alg.family is KeyFamily.PBES2:
        return None if key else "PBES2 needs a non-empty password"
    return None if len(key) == alg.kek_size else f"{alg.name} needs a {alg.kek_size}-byte key"


def check_key(
    alg: KeyManagement, enc: ContentEncryption, key: object, *, private: bool
) -> str | None:
    """Why ``key`` cannot serve ``alg`` with ``enc`` (``None`` if it can).

    Args:
        alg: The key management algorithm.
        enc: The content encryption algorithm.
        key: ``bytes`` or a ``cryptography`` key object.
        private: Whether the key must decrypt (a private key) or only encrypt.
    """
    family = alg.family
    if family in (KeyFamily.RSA1_5, KeyFamily.RSA_OAEP):
        if isinstance(key, rsa.RSAPrivateKey) or (
            not private and isinstance(key, rsa.RSAPublicKey)
        ):
            return None
        return f"{alg.name} needs an RSA {'private ' if private else ''}key"
    if family in (KeyFamily.ECDH_ES, KeyFamily.ECDH_ES_KW):
        if _agreement_curve(key) is None:
            return f"{alg.name} needs a {'/'.join(ECDH_CURVES)} key"
        if private and not isinstance(key, _PRIVATE_AGREEMENT):
            return f"{alg.name} decryption needs a private key"
        return None
    return _symmetric_problem(alg, enc, key)


def _b64_param(header: Mapping[str, Any], name: str) -> bytes:
    value = header.get(name)
    if not isinstance(value, str):
        raise MalformedToken(f"header parameter {name!r} must be a base64url string")
    try:
        return b64url_decode(value, what=f"header parameter {name!r}")
    except AuthcoreError as exc:
        raise MalformedToken(getattr(exc, "reason", "") or f"bad {name}") from None


def _parse_ec_point(epk: Mapping[str, Any], crv: str) -> ec.EllipticCurvePublicKey:
    if epk.get("kty") != "EC":
        raise MalformedToken("'epk' kty must be EC")
    curve, size = EC_CURVES[crv]
    x, y = _b64_param(epk, "x"), _b64_param(epk, "y")
    if len(x) != size or len(y) != size:
        raise MalformedToken(f"'epk' coordinates must be {size} bytes")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
    )
    try:
        return numbers.public_key()
    except ValueError:
        raise MalformedToken("'epk' is not a point on the curve") from None


def parse_epk(epk: object, crv: str) -> _ECPublic:
    """Parse and validate an ``epk`` header parameter for a recipient key on curve ``crv``.

    The point must be a public key (no ``d``) of the recipient's key type and curve, with
    coordinates of the exact length, on the curve (RFC 7516 section 11.4 invalid-curve attacks).

    Raises:
        MalformedToken: If any of this fails.
    """
    if not isinstance(epk, dict):
        raise MalformedToken("header parameter 'epk' must be a JSON object")
    if "d" in epk:
        raise MalformedToken("'epk' must not contain a private key")
    if epk.get("crv") != crv:
        raise MalformedToken("'epk' curve differs from the recipient key's curve")
    if crv in _ECDH_EC:
        return _parse_ec_point(epk, crv)
    if epk.get("kty") != "OKP":
        raise MalformedToken("'epk' kty must be OKP")
    raw = _b64_param(epk, "x")
    if len(raw) != _OKP_SIZES.get(crv, -1):
        raise MalformedToken("'epk' x has the wrong length for its curve")
    if crv == "X25519":
        return x25519.X25519PublicKey.from_public_bytes(raw)
    return x448.X448PublicKey.from_public_bytes(raw)


def _epk_dict(public: _ECPublic, crv: str) -> dict[str, str]:
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = EC_CURVES[crv][1]
        numbers = public.public_numbers()
        return {
            "kty": "EC",
            "crv": crv,
            "x": b64url_encode(numbers.x.to_bytes(size, "big")),
            "y": b64url_encode(numbers.y.to_bytes(size, "big")),
        }
    return {"kty": "OKP", "crv": crv, "x": b64url_encode(public.public_bytes_raw())}


def ecdh_shared_secret(private: object, public: object) -> bytes:
    """Compute the ECDH shared secret Z.

    Raises:
        DecryptionFailed: If the agreement fails (an all-zero X25519/X448 result from a
            low-order point, RFC 7748 section 6) or the key types do not match.
    """
    try:
        if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
            public, ec.EllipticCurvePublicKey
        ):
            return private.exchange(ec.ECDH(), public)
        if isinstance(private, x25519.X25519PrivateKey) and isinstance(
            public, x25519.X25519PublicKey
        ):
            return private.exchange(public)
        if isinstance(private, x448.X448PrivateKey) and isinstance(public, x448.X448PublicKey):
            return private.exchange(public)
    except ValueError:
        raise _failed() from None
    raise _failed()


def _concat_kdf(z: bytes, algorithm_id: str, size: int, header: Mapping[str, Any]) -> bytes:
    # RFC 7518 section 4.6.2: OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo,
    # each of the first three as a 32-bit big-endian length followed by the data.
    apu = _b64_param(header, "apu") if "apu" in header else b""
    apv = _b64_param(header, "apv") if "apv" in header else b""
    alg_id = algorithm_id.encode("ascii")
    other = b"".join(
        (
            struct.pack(">I", len(alg_id)),
            alg_id,
            struct.pack(">I", len(apu)),
            apu,
            struct.pack(">I", len(apv)),
            apv,
            struct.pack(">I", size * 8),
        )
    )
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=size, otherinfo=other).derive(z)


def _ecdh_derive(
    alg: KeyManagement, enc: ContentEncryption, z: bytes, header: Mapping[str, Any]
) -> bytes:
    if alg.family is KeyFamily.ECDH_ES:
        return _concat_kdf(z, enc.name, enc.key_size, header)
    return _concat_kdf(z, alg.name, alg.kek_size, header)


def _pbes2_kek(alg: KeyManagement, password: bytes, salt_input: bytes, count: int) -> bytes:
    # RFC 7518 section 4.8.1.1: salt = UTF8(alg) || 0x00 || p2s.
    salt = alg.name.encode("ascii") + b"\x00" + salt_input
    kdf = PBKDF2HMAC(
        algorithm=_HASHES[alg.hash_name or "sha256"](),
        length=alg.kek_size,
        salt=salt,
        iterations=count,
    )
    return kdf.derive(password)


def _oaep(alg: KeyManagement) -> padding.OAEP:
    hash_alg = _HASHES[alg.hash_name or "sha1"]()
    return padding.OAEP(mgf=padding.MGF1(hash_alg), algorithm=hash_alg, label=None)


def _aes_unwrap(kek: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek, wrapped)
    except InvalidUnwrap:
        raise _failed() from None


def _secret(key: object) -> bytes:
    if not isinstance(key, bytes):  # pragma: no cover - check_key guarantees it
        raise InvalidKeyError("a symmetric key is needed")
    return key


# ----------------------------------------------------------------------------- wrapping, to encrypt


def _wrap_ecdh(
    alg: KeyManagement,
    enc: ContentEncryption,
    key: object,
    header: MutableMapping[str, Any],
    cek: bytes | None,
) -> tuple[bytes, bytes]:
    public = key.public_key() if isinstance(key, _PRIVATE_AGREEMENT) else key
    crv = _agreement_curve(public) or ""
    ephemeral: ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | x448.X448PrivateKey
    if isinstance(public, ec.EllipticCurvePublicKey):
        ephemeral = ec.generate_private_key(EC_CURVES[crv][0])
    elif isinstance(public, x25519.X25519PublicKey):
        ephemeral = x25519.X25519PrivateKey.generate()
    else:
        ephemeral = x448.X448PrivateKey.generate()
    header["epk"] = _epk_dict(ephemeral.public_key(), crv)
    try:
        derived = _ecdh_derive(alg, enc, ecdh_shared_secret(ephemeral, public), header)
    except MalformedToken as exc:  # the caller's own apu/apv
        raise EncodeError(exc.reason) from None
    if alg.family is KeyFamily.ECDH_ES:
        return derived, b""
    cek = os.urandom(enc.key_size) if cek is None else cek
    return cek, aes_key_wrap(derived, cek)


def _wrap_pbes2(
    alg: KeyManagement, password: bytes, header: MutableMapping[str, Any], cek: bytes
) -> bytes:
    count = header.setdefault("p2c", DEFAULT_P2C)
    if isinstance(count, bool) or not isinstance(count, int) or count < P2C_MIN:
        raise InvalidKeyError(f"p2c must be an integer of at least {P2C_MIN}")
    if "p2s" not in header:
        header["p2s"] = b64url_encode(os.urandom(16))
    try:
        salt_input = _b64_param(header, "p2s")
    except MalformedToken as exc:
        raise InvalidKeyError(exc.reason) from None
    if len(salt_input) < P2S_MIN:
        raise InvalidKeyError(f"p2s must be at least {P2S_MIN} bytes")
    return aes_key_wrap(_pbes2_kek(alg, password, salt_input, count), cek)


def wrap_cek(
    alg: KeyManagement,
    enc: ContentEncryption,
    key: object,
    header: MutableMapping[str, Any],
    cek: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Produce (or wrap) the CEK for one recipient.

    Args:
        alg: The key management algorithm.
        enc: The content encryption algorithm.
        key: The recipient's key: ``bytes``, or a public (or private) key object.
        header: The recipient's header: read for ``apu``/``apv``/``p2c``/``p2s`` given by the
            caller, and receives the parameters the algorithm produces (``epk``, ``iv``/``tag``,
            ``p2s``/``p2c``).
        cek: The CEK shared with other recipients, or ``None`` to generate one.  ``dir`` and
            ``ECDH-ES`` determine the CEK themselves and refuse a given one.

    Returns:
        ``(cek, encrypted_key)``; ``encrypted_key`` is empty for ``dir`` and ``ECDH-ES``.

    Raises:
        UnsupportedAlgorithm: For RSA1_5 (decrypt-only), or ``dir``/``ECDH-ES`` with a shared CEK.
        InvalidKeyError: If the key does not fit the algorithm.
    """
    if not alg.encrypt:
        raise UnsupportedAlgorithm(f"{alg.name} is not offered for encryption")
    problem = check_key(alg, enc, key, private=False)
    if problem:
        raise InvalidKeyError(problem)
    family = alg.family
    if family in (KeyFamily.DIRECT, KeyFamily.ECDH_ES) and cek is not None:
        raise UnsupportedAlgorithm(f"{alg.name} cannot share a CEK with other recipients")
    if family is KeyFamily.DIRECT:
        return _secret(key), b""
    if family in (KeyFamily.ECDH_ES, KeyFamily.ECDH_ES_KW):
        return _wrap_ecdh(alg, enc, key, header, cek)
    cek = os.urandom(enc.key_size) if cek is None else cek
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        return cek, public.encrypt(cek, _oaep(alg))
    secret = _secret(key)
    if family is KeyFamily.AES_KW:
        return cek, aes_key_wrap(secret, cek)
    if family is KeyFamily.AES_GCM_KW:
        iv = os.urandom(12)
        sealed = AESGCM(secret).encrypt(iv, cek, None)
        header["iv"], header["tag"] = b64url_encode(iv), b64url_encode(sealed[-16:])
        return cek, sealed[:-16]
    return cek, _wrap_pbes2(alg, secret, header, cek)


# ---------------------------------------------------------------------- unwrapping, to decrypt


def _check_encrypted_key_length(
    alg: KeyManagement, enc: ContentEncryption, key: object, encrypted_key: bytes
) -> None:
    family, size = alg.family, enc.key_size
    if family in (KeyFamily.DIRECT, KeyFamily.ECDH_ES):
        expected = 0
    elif isinstance(key, rsa.RSAPrivateKey):
        expected = (key.key_size + 7) // 8
    elif family is KeyFamily.AES_GCM_KW:
        expected = size
    else:
        expected = size + 8  # RFC 3394: one 64-bit integrity block more than the key
    if len(encrypted_key) != expected:
        raise MalformedToken(f"encrypted_key must be {expected} bytes with {alg.name}/{enc.name}")


def _check_p2c(value: object, p2c_min: int, p2c_max: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedToken("header parameter 'p2c' must be an integer")
    if not p2c_min <= value <= p2c_max:
        raise MalformedToken(f"p2c {value} outside the accepted range [{p2c_min}, {p2c_max}]")
    return value


def _unwrap_gcmkw(secret: bytes, header: Mapping[str, Any], encrypted_key: bytes) -> bytes:
    iv, tag = _b64_param(header, "iv"), _b64_param(header, "tag")
    if len(iv) != 12:  # noqa: PLR2004 - RFC 7518 section 4.7.1.1: 96-bit IV
        raise MalformedToken("header parameter 'iv' must be 12 bytes")
    if len(tag) != 16:  # noqa: PLR2004 - RFC 7518 section 4.7.1.2: 128-bit tag
        raise MalformedToken("header parameter 'tag' must be 16 bytes")
    try:
        return AESGCM(secret).decrypt(iv, encrypted_key + tag, None)
    except InvalidTag:
        raise _failed() from None


def _unwrap_pbes2(
    alg: KeyManagement,
    secret: bytes,
    header: Mapping[str, Any],
    encrypted_key: bytes,
    p2c_range: tuple[int, int],
) -> bytes:
    # p2c is bounded and p2s checked before PBKDF2 runs (RFC 7518 section 4.8.1.2; the
    # unbounded-p2c denial of service, CVE-2022-36083 and friends).
    count = _check_p2c(header.get("p2c"), *p2c_range)
    salt_input = _b64_param(header, "p2s")
    if len(salt_input) < P2S_MIN:
        raise MalformedToken(f"p2s must be at least {P2S_MIN} bytes")
    return _aes_unwrap(_pbes2_kek(alg, secret, salt_input, count), encrypted_key)


def _unwrap_rsa_oaep(
    alg: KeyManagement, key: rsa.RSAPrivateKey, encrypted_key: bytes, size: int
) -> bytes:
    try:
        cek = key.decrypt(encrypted_key, _oaep(alg))
    except ValueError:
        raise _failed() from None
    if len(cek) != size:
        raise _failed()
    return cek


def _rsa1_5_unwrap(
    alg: KeyManagement,  # noqa: ARG001 - same signature as _unwrap_rsa_oaep
    key: rsa.RSAPrivateKey,
    encrypted_key: bytes,
    size: int,
) -> bytes:
    # RFC 7516 section 11.5 / RFC 3218 section 2.3.2: generate the substitute first, always
    # run the decryption, and never fail here.  OpenSSL >= 3.2 returns a synthetic message
    # instead of failing (implicit rejection); either way a wrong-length result is replaced,
    # and the token then fails at the content tag like any other forgery.
    substitute = os.urandom(size)
    try:
        candidate = key.decrypt(encrypted_key, padding.PKCS1v15())
    except ValueError:
        candidate = b""
    return candidate if len(candidate) == size else substitute


def unwrap_cek(
    alg: KeyManagement,
    enc: ContentEncryption,
    key: object,
    header: Mapping[str, Any],
    encrypted_key: bytes,
    *,
    p2c_min: int = P2C_MIN,
    p2c_max: int = P2C_MAX,
    key_checked: bool = False,
) -> bytes:
    """Recover the CEK for one recipient.

    Every length and header parameter (``epk``, ``iv``, ``tag``, ``p2s``, ``p2c``) is checked
    before any cryptography: ``p2c`` is bounded before PBKDF2 runs, ``epk`` is validated on the
    recipient's curve before the agreement.

    Args:
        alg: The key management algorithm.
        enc: The content encryption algorithm.
        key: The recipient's private key or secret (checked with :func:`check_key`).
        header: The recipient's joint header.
        encrypted_key: The JWE Encrypted Key.
        p2c_min: Smallest accepted PBES2 iteration count.
        p2c_max: Largest accepted PBES2 iteration count.
        key_checked: The caller already ran :func:`check_key` (``private=True``) on this key.

    Returns:
        The CEK (for RSA1_5 possibly a random one: see the module documentation).

    Raises:
        InvalidKeyError: If the key does not fit the algorithm.
        MalformedToken: On a wrong length or a bad header parameter.
        DecryptionFailed: If the unwrap itself fails.
    """
    problem = None if key_checked else check_key(alg, enc, key, private=True)
    if problem:
        raise InvalidKeyError(problem)
    _check_encrypted_key_length(alg, enc, key, encrypted_key)
    family = alg.family
    if isinstance(key, rsa.RSAPrivateKey):
        unwrap_rsa = _rsa1_5_unwrap if family is KeyFamily.RSA1_5 else _unwrap_rsa_oaep
        return unwrap_rsa(alg, key, encrypted_key, enc.key_size)
    if family in (KeyFamily.ECDH_ES, KeyFamily.ECDH_ES_KW):
        public = parse_epk(header.get("epk"), _agreement_curve(key) or "")
        derived = _ecdh_derive(alg, enc, ecdh_shared_secret(key, public), header)
        return derived if family is KeyFamily.ECDH_ES else _aes_unwrap(derived, encrypted_key)
    secret = _secret(key)
    if family is KeyFamily.DIRECT:
        return secret
    if family is KeyFamily.AES_KW:
        return _aes_unwrap(secret, encrypted_key)
    if family is KeyFamily.AES_GCM_KW:
        return _unwrap_gcmkw(secret, header, encrypted_key)
    return _unwrap_pbes2(alg, secret, header, encrypted_key, (p2c_min, p2c_max))
