"""One test per known JWE attack class, each named after the attack."""

from __future__ import annotations

import json
import os
import tracemalloc
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from authcore._encoding import b64url_decode, b64url_encode, json_dumps
from authcore.errors import (
    AlgorithmNotAllowed,
    DecryptionFailed,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
)
from authcore.jose import _jwe_algs, jwe
from authcore.jose._jwe_algs import FAILED
from authcore.jose._jwk import JWK, key_material
from tests.jwe.keys import curve_key, key_for, oct_key, rsa_key

PBES2 = "PBES2-HS256+A128KW"


def _header(token: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(b64url_decode(token.split(".", 1)[0]))
    return parsed


def _with_header(token: str, header: dict[str, Any]) -> str:
    parts = token.split(".")
    parts[0] = b64url_encode(json_dumps(header))
    return ".".join(parts)


def _replace(token: str, index: int, raw: bytes) -> str:
    parts = token.split(".")
    parts[index] = b64url_encode(raw)
    return ".".join(parts)


class _PBKDF2Spy:
    calls = 0

    def __init__(self, **_: Any) -> None:
        type(self).calls += 1

    def derive(self, _: bytes) -> bytes:  # pragma: no cover - must never run here
        raise AssertionError("PBKDF2 ran")


@pytest.mark.parametrize("p2c", [2_147_483_647, 10_001, 999, 0, -1, True, 1.5, "1000"])
def test_pbes2_huge_p2c_rejected_before_key_derivation(
    p2c: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A p2c of 2147483647 (and every other out-of-range value) is refused before PBKDF2 runs."""
    key = key_for(PBES2, "A128GCM")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    forged = _with_header(token, {**_header(token), "p2c": p2c})
    _PBKDF2Spy.calls = 0
    monkeypatch.setattr(_jwe_algs, "PBKDF2HMAC", _PBKDF2Spy)
    with pytest.raises(MalformedToken, match="p2c"):
        jwe.decrypt(forged, key, algorithms=[PBES2], encryptions=["A128GCM"])
    assert _PBKDF2Spy.calls == 0


def test_pbes2_p2c_bound_is_configurable() -> None:
    """p2c_max raises the cap explicitly; the default refuses what it allows."""
    key = key_for(PBES2, "A128GCM")
    token = jwe.encrypt(b"x", key, enc="A128GCM", headers={"p2c": 20_000})
    with pytest.raises(MalformedToken, match="p2c"):
        jwe.decrypt(token, key, algorithms=[PBES2], encryptions=["A128GCM"])
    result = jwe.decrypt(token, key, algorithms=[PBES2], encryptions=["A128GCM"], p2c_max=20_000)
    assert result.plaintext == b"x"


def test_pbes2_short_or_missing_p2s_rejected() -> None:
    """A p2s under 8 bytes, or none, is refused (RFC 7518 section 4.8.1.1)."""
    key = key_for(PBES2, "A128GCM")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    header = _header(token)
    for p2s in (b64url_encode(b"1234567"), None, 5):
        changed = (
            {**header, "p2s": p2s}
            if p2s is not None
            else {k: v for k, v in header.items() if k != "p2s"}
        )
        with pytest.raises(MalformedToken, match="p2s"):
            jwe.decrypt(
                _with_header(token, changed), key, algorithms=[PBES2], encryptions=["A128GCM"]
            )


def test_pbes2_is_off_unless_listed() -> None:
    """A PBES2 token is refused by the recommended algorithm list."""
    key = key_for(PBES2, "A128GCM")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(AlgorithmNotAllowed):
        jwe.decrypt(token, key, algorithms=jwe.RECOMMENDED_ALGORITHMS, encryptions=["A128GCM"])


def test_zip_bomb_10mb_rejected_without_allocating_it() -> None:
    """A 10 MB DEFLATE bomb is refused after producing at most max_decompressed + 1 bytes."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(bytes(10_000_000), key, enc="A128GCM", compress=True)
    assert len(token) < 30_000
    tracemalloc.start()
    try:
        with pytest.raises(TokenTooLarge, match="decompressed"):
            jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"], decompress=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # far below the 10 MB the bomb expands to


def test_zip_requires_opt_in() -> None:
    """A compressed token is refused unless decompress=True was chosen."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"hello", key, enc="A128GCM", compress=True)
    with pytest.raises(AlgorithmNotAllowed, match="zip"):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_zip_truncated_or_trailing_deflate_rejected() -> None:
    """A DEFLATE stream that is cut short or followed by garbage is refused."""
    key = oct_key(32, "dir")
    stream = zlib.compressobj(wbits=-15)
    full = stream.compress(b"hello world" * 10) + stream.flush()
    for body in (full[:-3], full + b"garbage", b"\xff\xff\xff"):
        header = b64url_encode(json_dumps({"alg": "dir", "enc": "A256GCM", "zip": "DEF"}))
        iv, ct, tag = _jwe_algs.encrypt_content(
            _jwe_algs.CONTENT_ENCRYPTIONS["A256GCM"],
            b64url_decode(key.to_dict(private=True)["k"]),
            body,
            header.encode(),
        )
        token = ".".join([header, "", *(b64url_encode(p) for p in (iv, ct, tag))])
        with pytest.raises(MalformedToken, match=r"DEFLATE|truncated"):
            jwe.decrypt(token, key, algorithms=["dir"], encryptions=["A256GCM"], decompress=True)


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"])
@pytest.mark.parametrize("cut", [1, 4, 8, 15])
def test_truncated_tag_rejected_by_length(enc: str, cut: int) -> None:
    """A tag shortened by any number of bytes is refused by its length, not by a MAC check."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc=enc)
    tag = b64url_decode(token.split(".")[4])
    with pytest.raises(MalformedToken, match="tag"):
        jwe.decrypt(_replace(token, 4, tag[:-cut]), key, algorithms=["A128KW"], encryptions=[enc])


def test_cbc_hmac_tag_checked_before_decryption(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad CBC-HMAC tag fails before the AES-CBC decryptor is ever built (no padding oracle)."""
    key = oct_key(32, "dir")
    token = jwe.encrypt(b"x" * 40, key, enc="A128CBC-HS256")
    tag = bytearray(b64url_decode(token.split(".")[4]))
    tag[-1] ^= 1

    def no_cipher(*_: object, **__: object) -> None:
        raise AssertionError("CBC decryption ran before the tag was verified")

    monkeypatch.setattr(_jwe_algs, "Cipher", no_cipher)
    with pytest.raises(DecryptionFailed):
        jwe.decrypt(
            _replace(token, 4, bytes(tag)), key, algorithms=["dir"], encryptions=["A128CBC-HS256"]
        )


def test_cbc_padding_oracle_gives_the_tag_error() -> None:
    """An authentic tag over bad padding fails with the same error as a forged tag."""
    secret = os.urandom(32)
    key = JWK.from_dict({"kty": "oct", "k": b64url_encode(secret), "alg": "dir"})
    enc = _jwe_algs.CONTENT_ENCRYPTIONS["A128CBC-HS256"]
    header = b64url_encode(json_dumps({"alg": "dir", "enc": enc.name}))
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(secret[16:]), modes.CBC(iv)).encryptor()
    ct = encryptor.update(b"\x00" * 16) + encryptor.finalize()  # last byte 0: invalid padding
    tag = _jwe_algs._cbc_tag(enc, secret[:16], header.encode(), iv, ct)
    token = ".".join([header, "", *(b64url_encode(p) for p in (iv, ct, tag))])
    with pytest.raises(DecryptionFailed) as info:
        jwe.decrypt(token, key, algorithms=["dir"], encryptions=[enc.name])
    assert info.value.reason == FAILED


def test_invalid_curve_point_epk_rejected() -> None:
    """An epk that is not on the recipient's curve is refused before any agreement."""
    key = curve_key("P-256", "ECDH-ES")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    header = _header(token)
    y = bytearray(b64url_decode(header["epk"]["y"]))
    y[-1] ^= 1
    header["epk"]["y"] = b64url_encode(bytes(y))
    with pytest.raises(MalformedToken, match="curve"):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )


def test_wrong_curve_epk_rejected() -> None:
    """An epk on another curve than the recipient key's (P-384 for P-256) is refused."""
    key = curve_key("P-256", "ECDH-ES")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    other = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    header = _header(token)
    header["epk"] = {
        "kty": "EC",
        "crv": "P-384",
        "x": b64url_encode(other.x.to_bytes(48, "big")),
        "y": b64url_encode(other.y.to_bytes(48, "big")),
    }
    with pytest.raises(MalformedToken, match="curve"):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )
    header["epk"] = {"kty": "OKP", "crv": "X25519", "x": b64url_encode(bytes(32))}
    with pytest.raises(MalformedToken, match="curve"):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )


@pytest.mark.parametrize(
    "epk",
    [
        None,
        "string",
        {"kty": "EC", "crv": "P-256"},
        {"kty": "OKP", "crv": "P-256", "x": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": 1, "y": 2},
    ],
)
def test_malformed_epk_rejected(epk: object) -> None:
    """A missing, mistyped or short epk is malformed."""
    key = curve_key("P-256", "ECDH-ES")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    header = {**_header(token), "epk": epk}
    if epk is None:
        del header["epk"]
    with pytest.raises(MalformedToken):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )


def test_epk_carrying_a_private_key_rejected() -> None:
    """An epk with a 'd' member is refused (a public key only)."""
    key = curve_key("X25519", "ECDH-ES")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    header = _header(token)
    header["epk"]["d"] = b64url_encode(bytes(32))
    with pytest.raises(MalformedToken, match="private"):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )


@pytest.mark.parametrize("crv", ["X25519", "X448"])
def test_low_order_xdh_epk_rejected(crv: str) -> None:
    """A low-order X25519/X448 point (all-zero shared secret) fails decryption."""
    size = 32 if crv == "X25519" else 56
    key = curve_key(crv, "ECDH-ES")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    header = _header(token)
    header["epk"] = {"kty": "OKP", "crv": crv, "x": b64url_encode(bytes(size))}
    with pytest.raises(DecryptionFailed):
        jwe.decrypt(
            _with_header(token, header), key, algorithms=["ECDH-ES"], encryptions=["A128GCM"]
        )


@pytest.mark.parametrize(
    ("alg", "index", "raw"),
    [
        ("A128KW", 1, b""),
        ("A128KW", 1, bytes(16)),
        ("A128GCMKW", 1, b""),
        ("RSA-OAEP-256", 1, b""),
        ("RSA-OAEP-256", 1, bytes(255)),
        ("ECDH-ES+A128KW", 1, bytes(8)),
        ("dir", 1, bytes(24)),
        ("ECDH-ES", 1, bytes(24)),
        ("A128KW", 2, b""),
        ("A128KW", 2, bytes(11)),
        ("A128KW", 4, b""),
    ],
)
def test_empty_or_short_encrypted_key_iv_tag_rejected_by_length(
    alg: str, index: int, raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Empty or short encrypted_key, iv and tag are refused by length before any cryptography."""
    key = key_for(alg, "A128GCM")
    public = key if key.is_symmetric else key.public()
    token = jwe.encrypt(b"x", public, enc="A128GCM")

    def no_crypto(*_: object, **__: object) -> None:
        raise AssertionError("cryptography ran before the length check")

    for name in ("aes_key_unwrap", "AESGCM", "ecdh_shared_secret"):
        monkeypatch.setattr(_jwe_algs, name, no_crypto)
    with pytest.raises(MalformedToken):
        jwe.decrypt(_replace(token, index, raw), key, algorithms=[alg], encryptions=["A128GCM"])


def test_rsa1_5_is_off_unless_listed() -> None:
    """An RSA1_5 token is refused unless RSA1_5 is listed explicitly."""
    key = rsa_key("RSA1_5")
    cek = os.urandom(16)
    encrypted = key_material(key.public()).encrypt(cek, padding.PKCS1v15())
    header = b64url_encode(json_dumps({"alg": "RSA1_5", "enc": "A128GCM"}))
    iv, ct, tag = _jwe_algs.encrypt_content(
        _jwe_algs.CONTENT_ENCRYPTIONS["A128GCM"], cek, b"hi", header.encode()
    )
    token = ".".join(b64url_encode(p) for p in (b"", encrypted, iv, ct, tag))
    token = header + token
    with pytest.raises(AlgorithmNotAllowed):
        jwe.decrypt(token, key, algorithms=jwe.RECOMMENDED_ALGORITHMS, encryptions=["A128GCM"])
    result = jwe.decrypt(token, key, algorithms=["RSA1_5"], encryptions=["A128GCM"])
    assert result.plaintext == b"hi"


@pytest.mark.parametrize("case", ["bad_padding", "wrong_cek_length", "decrypt_raises"])
def test_rsa1_5_bleichenbacher_failures_are_uniform(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad padding, a wrong-length CEK or a raising unwrap all fail at the tag, identically."""
    key = rsa_key("RSA1_5")
    public = key_material(key.public())
    header = b64url_encode(json_dumps({"alg": "RSA1_5", "enc": "A128GCM"}))
    cek = os.urandom(16)
    iv, ct, tag = _jwe_algs.encrypt_content(
        _jwe_algs.CONTENT_ENCRYPTIONS["A128GCM"], cek, b"hi", header.encode()
    )
    if case == "bad_padding":
        encrypted = os.urandom(256)
    elif case == "wrong_cek_length":
        encrypted = public.encrypt(os.urandom(24), padding.PKCS1v15())
    else:
        encrypted = public.encrypt(cek, padding.PKCS1v15())

        def raising(*_: object) -> bytes:
            raise ValueError("padding check failed")

        monkeypatch.setattr(type(key_material(key)), "decrypt", raising)
    token = header + "." + ".".join(b64url_encode(p) for p in (encrypted, iv, ct, tag))
    with pytest.raises(DecryptionFailed) as info:
        jwe.decrypt(token, key, algorithms=["RSA1_5"], encryptions=["A128GCM"])
    assert info.value.reason == FAILED
    assert str(info.value) == f"decryption failed: {FAILED}"


def test_rsa_oaep_key_refuses_rsa1_5_token() -> None:
    """A key bound to RSA-OAEP-256 never serves an RSA1_5 token (Wycheproof Pkcs15WithOaepKey)."""
    key = rsa_key("RSA-OAEP-256")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    forged = _with_header(token, {**_header(token), "alg": "RSA1_5"})
    with pytest.raises(KeyNotFound):
        jwe.decrypt(forged, key, algorithms=["RSA1_5", "RSA-OAEP-256"], encryptions=["A128GCM"])


def test_algorithm_confusion_dir_with_asymmetric_key() -> None:
    """A forged alg 'dir' never turns an RSA or EC key's bytes into a CEK."""
    for key in (rsa_key(), curve_key("P-256")):
        header = b64url_encode(json_dumps({"alg": "dir", "enc": "A128GCM"}))
        token = f"{header}..{b64url_encode(bytes(12))}.AA.{b64url_encode(bytes(16))}"
        with pytest.raises(KeyNotFound):
            jwe.decrypt(token, key, algorithms=["dir"], encryptions=["A128GCM"])


def test_header_jwk_never_selects_a_key() -> None:
    """An attacker's embedded jwk header is ignored; only the caller's keys decrypt."""
    attacker = oct_key(16)
    victim = oct_key(16, "A128KW")
    token = jwe.encrypt(
        b"x", attacker, enc="A128GCM", alg="A128KW", headers={"jwk": attacker.to_dict(private=True)}
    )
    with pytest.raises(DecryptionFailed):
        jwe.decrypt(token, victim, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_oaep_hash_is_fixed_by_alg() -> None:
    """An RSA-OAEP-256 token relabelled RSA-OAEP (SHA-1) fails like any other forgery."""
    key = rsa_key()
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM", alg="RSA-OAEP-256")
    forged = _with_header(token, {**_header(token), "alg": "RSA-OAEP"})
    with pytest.raises(DecryptionFailed):
        jwe.decrypt(forged, key, algorithms=["RSA-OAEP", "RSA-OAEP-256"], encryptions=["A128GCM"])
