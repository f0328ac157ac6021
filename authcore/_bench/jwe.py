"""JWE decryption against the floor: parsing plus the raw ``cryptography`` operations.

The floor for each group does the least any correct decryptor must: split the compact token,
base64url-decode the five segments, parse the header JSON, then run exactly the primitive
calls of the algorithm on pre-parsed keys (for ``dir``, authcore's checks done the fastest
plain way: alphabet in one pass, canonical segments, header, lengths; one ``translate`` of the
whole token and ``a2b_base64`` per segment; the AES-GCM object, or for CBC-HMAC the keyed
HMAC template and AES key, built before timing, as authcore keeps them on the key; for
CBC-HMAC the tag compared in constant time before the CBC decryption and ``cryptography``'s
PKCS#7 unpadding) (for ECDH-ES+A256KW: build the ephemeral point,
ECDH, Concat KDF, AES key unwrap; then AES-GCM).  ``jwe.decrypt`` adds the strict encoding, the
header and policy checks, key selection and binding, every length check and ``epk``
validation.  Peers (joserfc, jwcrypto) are measured in the same run when installed.
"""

from __future__ import annotations

import base64
import json
import struct
from binascii import a2b_base64
from hmac import compare_digest
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from authcore._bench import Group
from authcore._encoding import b64url_encode
from authcore.jose import JWK
from authcore.jose import jwe as authcore_jwe

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "jwe"

_PLAINTEXT = json.dumps(
    {
        "iss": "https://issuer.example",
        "sub": "user-1234",
        "aud": "bench-audience",
        "exp": 2_000_000_000,
        "scope": "read write",
    }
).encode()


def _b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _split(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes, bytes, bytes]:
    head, ek, iv, ct, tag = token.split(".")
    header = json.loads(_b64d(head))
    return header, _b64d(ek), _b64d(iv), _b64d(ct), _b64d(tag), head.encode("ascii")


def _pem(private: object) -> bytes:
    data: bytes = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _peers(
    token: str, alg: str, enc: str, material: bytes, *, symmetric: bool
) -> dict[str, Callable[[], object]]:
    """Decryptors of the peer libraries (joserfc, jwcrypto) for ``token``, when installed.

    ``material`` is the raw secret when ``symmetric``, else the private key's PEM.
    """
    cases: dict[str, Callable[[], object]] = {}
    try:
        from joserfc import jwe as joserfc_jwe  # noqa: PLC0415 - optional peer
        from joserfc.jwk import ECKey, OctKey, RSAKey  # noqa: PLC0415
    except ImportError:  # pragma: no cover - peers are optional
        pass
    else:
        if symmetric:
            jr_key: Any = OctKey.import_key(material)
        elif alg.startswith("RSA"):
            jr_key = RSAKey.import_key(material)
        else:
            jr_key = ECKey.import_key(material)
        jr_algs = [alg, enc]
        cases["joserfc"] = lambda: (
            joserfc_jwe.decrypt_compact(token, jr_key, algorithms=jr_algs).plaintext
        )
    try:
        from jwcrypto import jwe as jwcrypto_jwe  # noqa: PLC0415 - optional peer
        from jwcrypto import jwk as jwcrypto_jwk  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        pass
    else:
        if symmetric:
            jc_key = jwcrypto_jwk.JWK(kty="oct", k=b64url_encode(material))
        else:
            jc_key = jwcrypto_jwk.JWK.from_pem(material)

        def jwcrypto_decrypt() -> object:
            obj = jwcrypto_jwe.JWE()
            obj.allowed_algs = [alg, enc]
            obj.deserialize(token, key=jc_key)
            return obj.payload

        cases["jwcrypto"] = jwcrypto_decrypt
    return cases


_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_LAST_2: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 16 == 0)
_LAST_3: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 4 == 0)


def _canonical(segment: bytes) -> bytes:
    rem, last = len(segment) & 3, segment[-1:]
    if rem == 1 or (rem > 1 and last[0] not in (_LAST_2 if rem == 2 else _LAST_3)):  # noqa: PLR2004
        raise AssertionError("not canonical")  # pragma: no cover - smoke check
    return segment


def _dir_parts(token: str, enc: str, iv_size: int, tag_size: int) -> tuple[bytes, ...]:
    """The checks authcore makes of a ``dir`` token in the fastest plain way: (iv, ct, tag, aad).

    ASCII and size, five segments, the alphabet in one pass, canonical lengths and last
    characters, header alg/enc, no encrypted key, iv and tag lengths (and for CBC, a
    ciphertext that is a positive multiple of the block); one translate for the whole token,
    ``a2b_base64`` with surplus padding (ignored).
    """
    raw = token.encode("ascii")
    if len(raw) > authcore_jwe.MAX_TOKEN_SIZE or raw.translate(None, _ALPHABET) != b"....":
        raise AssertionError("shape")  # pragma: no cover - smoke check
    head, ek, iv, ct, tag = raw.translate(_TO_STANDARD).split(b".")
    header = json.loads(a2b_base64(_canonical(head) + b"=="))
    if header["alg"] != "dir" or header["enc"] != enc or ek:
        raise AssertionError("header")  # pragma: no cover - smoke check
    nonce = a2b_base64(_canonical(iv) + b"==")
    mac = a2b_base64(_canonical(tag) + b"==")
    body = a2b_base64(_canonical(ct) + b"==")
    if len(nonce) != iv_size or len(mac) != tag_size:
        raise AssertionError("lengths")  # pragma: no cover - smoke check
    if iv_size == 16 and (not body or len(body) % 16):  # noqa: PLR2004 - CBC: a 16-byte IV
        raise AssertionError("lengths")  # pragma: no cover - smoke check
    return nonce, body, mac, raw[: len(head)]


def _dir_group() -> Group:
    secret = bytes(range(32))
    key = JWK.from_dict({"kty": "oct", "k": b64url_encode(secret), "alg": "dir"})
    token = authcore_jwe.encrypt(_PLAINTEXT, key, enc="A256GCM")
    aead = AESGCM(secret)  # built before timing, as authcore keeps one on the key

    def floor() -> object:
        nonce, body, mac, aad = _dir_parts(token, "A256GCM", 12, 16)
        return aead.decrypt(nonce, body + mac, aad)

    ours = _decryptor(token, key, "dir")
    return _group(
        "dir + A256GCM", floor, ours, _peers(token, "dir", "A256GCM", secret, symmetric=True)
    )


def _dir_cbc_group() -> Group:
    enc = "A256CBC-HS512"
    secret = bytes(range(64))
    key = JWK.from_secret(secret, alg=enc)
    token = authcore_jwe.encrypt(_PLAINTEXT, key, enc=enc)
    # Built before timing, as authcore keeps them on the key: the keyed MAC (copied per
    # message) and the AES key.
    template = crypto_hmac.HMAC(secret[:32], hashes.SHA512())
    aes = algorithms.AES(secret[32:])

    def floor() -> object:
        nonce, body, mac, aad = _dir_parts(token, enc, 16, 32)
        h = template.copy()
        h.update(aad + nonce + body + struct.pack(">Q", len(aad) * 8))
        if not compare_digest(h.finalize()[:32], mac):
            raise AssertionError("tag")  # pragma: no cover - smoke check
        decryptor = Cipher(aes, modes.CBC(nonce)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()

    ours = _decryptor(token, key, "dir", enc)
    return _group(f"dir + {enc}", floor, ours, _peers(token, "dir", enc, secret, symmetric=True))


def _rsa_group() -> Group:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _pem(private)
    key = JWK.from_pem(pem, alg="RSA-OAEP-256")
    token = authcore_jwe.encrypt(_PLAINTEXT, key.public(), enc="A256GCM")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

    def floor() -> object:
        header, ek, iv, ct, tag, aad = _split(token)
        if header["alg"] != "RSA-OAEP-256" or header["enc"] != "A256GCM":
            raise AssertionError("header")  # pragma: no cover - smoke check
        return AESGCM(private.decrypt(ek, oaep)).decrypt(iv, ct + tag, aad)

    ours = _decryptor(token, key, "RSA-OAEP-256")
    peers = _peers(token, "RSA-OAEP-256", "A256GCM", pem, symmetric=False)
    return _group("RSA-OAEP-256 + A256GCM", floor, ours, peers)


def _ecdh_group() -> Group:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = _pem(private)
    key = JWK.from_pem(pem, alg="ECDH-ES+A256KW")
    token = authcore_jwe.encrypt(_PLAINTEXT, key.public(), enc="A256GCM")
    alg_id = b"ECDH-ES+A256KW"
    other_info = (
        struct.pack(">I", len(alg_id)) + alg_id + struct.pack(">II", 0, 0) + struct.pack(">I", 256)
    )

    def floor() -> object:
        header, ek, iv, ct, tag, aad = _split(token)
        if header["alg"] != "ECDH-ES+A256KW" or header["enc"] != "A256GCM":
            raise AssertionError("header")  # pragma: no cover - smoke check
        epk = header["epk"]
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_b64d(epk["x"]), "big"),
            int.from_bytes(_b64d(epk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        z = private.exchange(ec.ECDH(), point)
        kek = ConcatKDFHash(algorithm=hashes.SHA256(), length=32, otherinfo=other_info).derive(z)
        return AESGCM(aes_key_unwrap(kek, ek)).decrypt(iv, ct + tag, aad)

    ours = _decryptor(token, key, "ECDH-ES+A256KW")
    peers = _peers(token, "ECDH-ES+A256KW", "A256GCM", pem, symmetric=False)
    return _group("ECDH-ES+A256KW + A256GCM (P-256)", floor, ours, peers)


def _decryptor(token: str, key: JWK, alg: str, enc: str = "A256GCM") -> Callable[[], object]:
    """``jwe.decrypt`` of ``token`` with ``key``, accepting exactly ``alg`` and ``enc``."""

    def ours() -> object:
        return authcore_jwe.decrypt(token, key, algorithms=[alg], encryptions=[enc]).plaintext

    return ours


def _group(
    what: str,
    floor: Callable[[], object],
    ours: Callable[[], object],
    peers: dict[str, Callable[[], object]],
) -> Group:
    cases = {"floor": floor, "authcore jwe.decrypt": ours, **peers}
    for name, fn in cases.items():
        if fn() != _PLAINTEXT:  # pragma: no cover - smoke check
            raise AssertionError(f"{name} did not decrypt {what} to the plaintext")
    return Group(
        name=f"JWE decrypt {what}",
        floor="floor",
        cases=cases,
        note="split + base64 + json.loads, then the raw cryptography calls on pre-parsed keys",
    )


def groups(quick: bool) -> list[Group]:  # noqa: ARG001, FBT001 - same groups either way
    """Decrypt one compact token per key management family."""
    return [_dir_group(), _dir_cbc_group(), _rsa_group(), _ecdh_group()]
