"""The raw algorithm layer (_jwe_algs) and the header/structure checks of jwe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from authcore._encoding import b64url_decode, b64url_encode, json_dumps
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    DecryptionFailed,
    EncodeError,
    InvalidKeyError,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlgorithm,
)
from authcore.jose import _jwe_algs as algs
from authcore.jose import jwe
from authcore.jose._jwk import JWK, KeySet, key_material
from tests.jose.jwe_keys import curve_key, oct_key, rsa_key

GCM = algs.CONTENT_ENCRYPTIONS["A128GCM"]
CBC = algs.CONTENT_ENCRYPTIONS["A128CBC-HS256"]


def test_registries_are_immutable_and_complete() -> None:
    """The alg/enc registries hold every RFC 7518 name and refuse changes."""
    assert set(algs.CONTENT_ENCRYPTIONS) == {
        "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512",
    }  # fmt: skip
    assert len(algs.KEY_MANAGEMENTS) == 19
    with pytest.raises(TypeError):
        algs.KEY_MANAGEMENTS["none"] = algs.KEY_MANAGEMENTS["dir"]  # type: ignore[index]
    assert algs.get_content_encryption("A128GCM") is GCM
    assert algs.get_key_management("dir").family is algs.KeyFamily.DIRECT
    for bad in ("none", 5, "x" * 100):
        with pytest.raises(UnsupportedAlgorithm):
            algs.get_content_encryption(bad)
        with pytest.raises(UnsupportedAlgorithm):
            algs.get_key_management(bad)


def test_rfc7518_appendix_b_cbc_hmac_vector() -> None:
    """A128CBC-HS256 reproduces RFC 7518 appendix B.1 (ciphertext and tag)."""
    key = bytes(range(32))
    plaintext = bytes.fromhex(
        "41206369706865722073797374656d206d757374206e6f7420626520726571756972656420746f2062"
        "65207365637265742c20616e64206974206d7573742062652061626c6520746f2066616c6c20696e74"
        "6f207468652068616e6473206f662074686520656e656d7920776974686f757420696e636f6e76656e"
        "69656e6365"
    )
    iv = bytes.fromhex("1af38c2dc2b96ffdd86694092341bc04")
    aad = bytes.fromhex(
        "546865207365636f6e64207072696e6369706c65206f662041756775737465204b6572636b686f666673"
    )
    _, ct, tag = algs.encrypt_content(CBC, key, plaintext, aad, iv)
    assert tag.hex() == "652c3fa36b0a7c5b3219fab3a30bc1c4"
    assert ct.hex().startswith("c80edfa32ddf39d5ef00c0b468834279a2e46a1b8049f792f76bfe54b903a9c9")
    assert algs.decrypt_content(CBC, key, iv, ct, tag, aad) == plaintext


def test_prepared_content_key_gives_the_same_bytes() -> None:
    """A prepared key (kept on a dir key) encrypts and decrypts exactly as the raw CEK does.

    The RFC 7518 appendix B.1 vector through a prepared CBC key, a prepared key used twice
    (its keyed HMAC template must not be consumed by the first message), and every enc.
    """
    key = bytes(range(32))
    iv = bytes.fromhex("1af38c2dc2b96ffdd86694092341bc04")
    prepared = algs.prepare_content_key(CBC, key)
    assert type(prepared) is algs.CBCKey
    for _ in range(2):
        _, ct, tag = algs.encrypt_content(
            CBC, key, b"attack at dawn", b"aad", iv, prepared=prepared
        )
        assert (ct, tag) == algs.encrypt_content(CBC, key, b"attack at dawn", b"aad", iv)[1:]
        assert algs.decrypt_content(CBC, key, iv, ct, tag, b"aad", prepared=prepared) == (
            b"attack at dawn"
        )
        with pytest.raises(DecryptionFailed):
            algs.decrypt_content(CBC, key, iv, ct, tag, b"aaD", prepared=prepared)
    for enc in algs.CONTENT_ENCRYPTIONS.values():
        cek = bytes(range(enc.key_size))
        ready = algs.prepare_content_key(enc, cek)
        nonce = bytes(enc.iv_size)
        sealed = algs.encrypt_content(enc, cek, b"m" * 33, b"a", nonce, prepared=ready)
        assert sealed == algs.encrypt_content(enc, cek, b"m" * 33, b"a", nonce)
        assert algs.decrypt_content(enc, cek, *sealed, b"a") == b"m" * 33
        with pytest.raises(InvalidKeyError, match=f"{enc.key_size}-byte"):
            algs.prepare_content_key(enc, cek[:-1])


def test_dir_cbc_key_shared_by_threads() -> None:
    """One dir CBC-HMAC key decrypting from several threads at once: every result is right.

    The key keeps one keyed HMAC template; each message must copy it, never update it.
    """
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - this test only

    key = JWK.from_secret(bytes(range(64)), alg="A256CBC-HS512")
    tokens = [jwe.encrypt(f"message {i}".encode() * (i % 7 + 1), key, enc="A256CBC-HS512")
              for i in range(64)]  # fmt: skip
    forged = tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BA")

    def open_all(_: int) -> list[bytes]:
        out = []
        for token in tokens:
            out.append(
                jwe.decrypt(token, key, algorithms=["dir"], encryptions=["A256CBC-HS512"]).plaintext
            )
            with pytest.raises(DecryptionFailed):
                jwe.decrypt(forged, key, algorithms=["dir"], encryptions=["A256CBC-HS512"])
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(open_all, range(8)))
    expected = [f"message {i}".encode() * (i % 7 + 1) for i in range(64)]
    assert all(result == expected for result in results)


def test_content_length_checks() -> None:
    """Wrong CEK, IV, tag or CBC ciphertext lengths are refused."""
    with pytest.raises(InvalidKeyError):
        algs.encrypt_content(GCM, bytes(15), b"x", b"")
    iv, ct, tag = algs.encrypt_content(CBC, bytes(32), b"x", b"")
    with pytest.raises(MalformedToken, match="iv"):
        algs.decrypt_content(CBC, bytes(32), iv[:-1], ct, tag, b"")
    with pytest.raises(MalformedToken, match="tag"):
        algs.decrypt_content(CBC, bytes(32), iv, ct, tag + b"\x00", b"")
    with pytest.raises(DecryptionFailed):
        algs.decrypt_content(CBC, bytes(31), iv, ct, tag, b"")
    for bad_ct in (b"", ct[:-1]):
        with pytest.raises(MalformedToken, match="ciphertext"):
            algs.decrypt_content(CBC, bytes(32), iv, bad_ct, tag, b"")


def test_check_key_reasons() -> None:
    """check_key explains every misfit and accepts every fit."""
    oaep = algs.KEY_MANAGEMENTS["RSA-OAEP"]
    ecdh = algs.KEY_MANAGEMENTS["ECDH-ES"]
    pbes = algs.KEY_MANAGEMENTS["PBES2-HS256+A128KW"]
    private_rsa = key_material(rsa_key())
    assert algs.check_key(oaep, GCM, private_rsa.public_key(), private=False) is None
    assert "private" in (algs.check_key(oaep, GCM, private_rsa.public_key(), private=True) or "")
    public_ec = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert "private" in (algs.check_key(ecdh, GCM, public_ec, private=True) or "")
    k1 = ec.generate_private_key(ec.SECP256K1())
    assert algs.check_key(ecdh, GCM, k1, private=True) is not None
    assert algs.check_key(ecdh, GCM, b"secret", private=True) is not None
    assert algs.check_key(pbes, GCM, b"", private=True) is not None
    assert algs.check_key(pbes, GCM, b"pw", private=True) is None
    assert algs.check_key(algs.KEY_MANAGEMENTS["A128KW"], GCM, private_rsa, private=True)


def test_wrap_and_unwrap_refuse_misfits() -> None:
    """wrap_cek refuses RSA1_5 and misfit keys; unwrap_cek refuses misfit keys."""
    rsa1_5 = algs.KEY_MANAGEMENTS["RSA1_5"]
    kw = algs.KEY_MANAGEMENTS["A128KW"]
    public = key_material(rsa_key().public())
    with pytest.raises(UnsupportedAlgorithm):
        algs.wrap_cek(rsa1_5, GCM, public, {})
    with pytest.raises(InvalidKeyError):
        algs.wrap_cek(kw, GCM, bytes(15), {})
    with pytest.raises(InvalidKeyError):
        algs.unwrap_cek(kw, GCM, bytes(15), {}, bytes(24))


def test_pbes2_encrypt_parameters_are_checked() -> None:
    """PBES2 encryption refuses a small or mistyped p2c and a short or bad p2s."""
    pbes = algs.KEY_MANAGEMENTS["PBES2-HS256+A128KW"]
    for header in ({"p2c": 999}, {"p2c": "5000"}, {"p2s": "AAAA"}, {"p2s": "!!"}, {"p2s": 5}):
        with pytest.raises(InvalidKeyError):
            algs.wrap_cek(pbes, GCM, b"password", dict(header))
    produced: dict[str, Any] = {}
    cek, wrapped = algs.wrap_cek(pbes, GCM, b"password", produced)
    assert produced["p2c"] == algs.DEFAULT_P2C
    assert len(b64url_decode(produced["p2s"])) == 16
    assert algs.unwrap_cek(pbes, GCM, b"password", produced, wrapped) == cek


def test_gcmkw_header_iv_and_tag_lengths() -> None:
    """AES-GCM key wrap needs a 12-byte iv and 16-byte tag in the header, else malformed."""
    gcmkw = algs.KEY_MANAGEMENTS["A128GCMKW"]
    header: dict[str, Any] = {}
    cek, wrapped = algs.wrap_cek(gcmkw, GCM, bytes(16), header)
    assert algs.unwrap_cek(gcmkw, GCM, bytes(16), header, wrapped) == cek
    for name, size in (("iv", 11), ("tag", 15)):
        bad = {**header, name: b64url_encode(bytes(size))}
        with pytest.raises(MalformedToken, match=name):
            algs.unwrap_cek(gcmkw, GCM, bytes(16), bad, wrapped)
    with pytest.raises(DecryptionFailed):
        algs.unwrap_cek(gcmkw, GCM, bytes([1] * 16), header, wrapped)


def test_ecdh_shared_secret_refuses_mismatched_types() -> None:
    """Agreement between keys of different types fails uniformly."""
    private = x25519.X25519PrivateKey.generate()
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(DecryptionFailed):
        algs.ecdh_shared_secret(private, other)


def test_rsa_oaep_wrong_cek_length_fails() -> None:
    """An OAEP-unwrapped key of the wrong length fails like any other forgery."""
    private = key_material(rsa_key())
    oaep = algs.KEY_MANAGEMENTS["RSA-OAEP"]
    _, wrapped = algs.wrap_cek(oaep, algs.CONTENT_ENCRYPTIONS["A256GCM"], private.public_key(), {})
    with pytest.raises(DecryptionFailed):
        algs.unwrap_cek(oaep, GCM, private, {}, wrapped)


# ----------------------------------------------------------------------------- header checks


def _token_with(header: dict[str, Any], key_size: int = 16) -> tuple[str, Any]:
    key = oct_key(key_size, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    parts = token.split(".")
    parts[0] = b64url_encode(json_dumps(header))
    return ".".join(parts), key


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ({"alg": "A128KW"}, "enc"),
        ({"alg": "A128KW", "enc": 5}, "enc"),
        ({"enc": "A128GCM"}, "alg"),
        ({"alg": "A128KW", "enc": "A128GCM", "kid": 5}, "kid"),
        ({"alg": "A128KW", "enc": "A128GCM", "cty": ["x"]}, "cty"),
        ({"alg": "A128KW", "enc": "A128GCM", "zip": "GZIP"}, "zip"),
        ({"alg": "A128KW", "enc": "A128GCM", "crit": []}, "crit"),
        ({"alg": "A128KW", "enc": "A128GCM", "crit": ["enc"]}, "registered"),
        ({"alg": "A128KW", "enc": "A128GCM", "crit": ["ext"]}, "absent"),
    ],
)
def test_header_structure_is_checked(header: dict[str, Any], match: str) -> None:
    """Missing or mistyped alg/enc/kid/cty, a bad zip and bad crit lists are malformed."""
    token, key = _token_with(header)
    with pytest.raises(MalformedToken, match=match):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"], decompress=True)


def test_protected_header_must_be_an_object() -> None:
    """A protected header that is JSON but not an object, or empty, is malformed."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    rest = token.split(".", 1)[1]
    for head in (b64url_encode(b"[1]"), ""):
        with pytest.raises(MalformedToken):
            jwe.decrypt(f"{head}.{rest}", key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_crit_in_unprotected_header_is_refused() -> None:
    """A crit member outside the protected header is malformed (JSON serialization)."""
    key = oct_key(16, "A128KW")
    message = jwe.encrypt_json(b"x", key, enc="A128GCM", flattened=True)
    message["unprotected"] = {"crit": ["x"], "x": 1}
    with pytest.raises(MalformedToken, match="crit"):
        jwe.decrypt_json(message, key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_kid_naming_an_unfit_key() -> None:
    """A kid that names a key unfit for the alg finds no key (it never falls back)."""
    wrong = oct_key(32, "A256KW", kid="k")
    right = oct_key(16, "A128KW", kid="k2")
    token = jwe.encrypt(b"x", right, enc="A128GCM", headers={"kid": "k"})
    with pytest.raises(KeyNotFound, match="kid"):
        jwe.decrypt(token, KeySet([wrong, right]), algorithms=["A128KW"], encryptions=["A128GCM"])
    with pytest.raises(KeyNotFound, match="kid"):
        jwe.decrypt(token, right, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_keys_argument_is_checked() -> None:
    """The keys argument must be a JWK, a key set, a list of JWK or a resolver."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, "key", algorithms=["A128KW"], encryptions=["A128GCM"])  # type: ignore[arg-type]


def test_bytes_token_and_json_checks() -> None:
    """Bytes tokens work; oversized bytes, non-ASCII JSON members and JSON lookalikes fail."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    options: dict[str, Any] = {"algorithms": ["A128KW"], "encryptions": ["A128GCM"]}
    assert jwe.decrypt(token.encode(), key, **options).plaintext == b"x"
    with pytest.raises(TokenTooLarge):
        jwe.decrypt(token.encode(), key, max_size=10, **options)
    with pytest.raises(MalformedToken, match="decrypt_json"):
        jwe.decrypt('{"a": 1}', key, **options)
    message = jwe.encrypt_json(b"x", key, enc="A128GCM")
    with pytest.raises(DecodeError):
        jwe.decrypt_json({**message, "protected": "é"}, key, **options)
    with pytest.raises(DecodeError):
        jwe.decrypt_json({**message, "iv": "é"}, key, **options)
    assert jwe.decrypt_json(json.dumps(message).encode(), key, **options).plaintext == b"x"


def test_json_recipient_header_conflicts() -> None:
    """A recipient header repeating a shared member, or carrying enc/zip, is malformed."""
    one, two = oct_key(16, "A128KW"), oct_key(16, "A128KW")
    message = jwe.encrypt_json(b"x", [one, two], enc="A128GCM", unprotected={"s": 1})
    options: dict[str, Any] = {"algorithms": ["A128KW"], "encryptions": ["A128GCM"]}
    message["recipients"][0]["header"]["s"] = 2
    with pytest.raises(MalformedToken, match="repeats"):
        jwe.decrypt_json(message, one, **options)
    message["recipients"][0]["header"] = {"alg": "A128KW", "zip": "DEF"}
    with pytest.raises(MalformedToken, match="per-recipient"):
        jwe.decrypt_json(message, one, **options)


def test_json_compression_and_header_names() -> None:
    """encrypt_json compresses on request; header names must be strings."""
    key = oct_key(16, "A128KW")
    message = jwe.encrypt_json(b"z" * 500, key, enc="A128GCM", compress=True)
    result = jwe.decrypt_json(
        message, key, algorithms=["A128KW"], encryptions=["A128GCM"], decompress=True
    )
    assert result.plaintext == b"z" * 500
    with pytest.raises(EncodeError):
        jwe.encrypt(b"x", key, enc="A128GCM", headers={1: "x"})  # type: ignore[dict-item]


def test_caches_stay_bounded_and_correct() -> None:
    """Many distinct policies, keys and headers evict cache entries without wrong answers."""
    key = oct_key(16, "A128KW")
    for i in range(300):
        token = jwe.encrypt(b"x", key, enc="A128GCM", headers={"n": i})
        result = jwe.decrypt(
            token, key, algorithms=["A128KW"], encryptions=["A128GCM"], p2c_max=1000 + i
        )
        assert result.header["n"] == i
    for _ in range(600):
        fresh = oct_key(16, "A128KW")
        token = jwe.encrypt(b"y", fresh, enc="A128GCM")
        result = jwe.decrypt(token, fresh, algorithms=["A128KW"], encryptions=["A128GCM"])
        assert result.key is fresh
    unhashable: Any = [["A128KW"]]
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, key, algorithms=unhashable, encryptions=["A128GCM"])


def test_limits_keep_their_types_in_the_policy_cache() -> None:
    """A float or bool limit is refused even after the equal int was accepted and cached."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    options: dict[str, Any] = {"algorithms": ["A128KW"], "encryptions": ["A128GCM"]}
    assert jwe.decrypt(token, key, p2c_max=10_000, **options).plaintext == b"x"
    as_float: Any = 10_000.0
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, key, p2c_max=as_float, **options)
    assert jwe.decrypt(token, key, p2c_min=1, **options).plaintext == b"x"
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, key, p2c_min=True, **options)


def test_large_headers_are_not_cached_but_work() -> None:
    """A protected header over the cache bound decrypts the same way."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM", headers={"pad": "p" * 600})
    for _ in range(2):
        result = jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
        assert result.header["pad"] == "p" * 600


def test_ecdh_party_info_round_trips_and_is_checked() -> None:
    """apu/apv enter the Concat KDF on both sides; a bad one is the sender's encode error."""
    key = curve_key("P-256", "ECDH-ES")
    party = {"apu": b64url_encode(b"Alice"), "apv": b64url_encode(b"Bob")}
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM", headers=party)
    result = jwe.decrypt(token, key, algorithms=["ECDH-ES"], encryptions=["A128GCM"])
    assert result.header["apu"] == party["apu"]
    with pytest.raises(EncodeError):
        jwe.encrypt(b"x", key.public(), enc="A128GCM", headers={"apu": "not base64!"})


def test_mutating_a_returned_header_never_affects_later_decryptions() -> None:
    """Nested header values handed to one caller are not shared with the next decryption."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM", headers={"roles": ["a"]})
    first = jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    first.header["roles"].append("admin")
    second = jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    assert second.header["roles"] == ["a"]


def test_rsa_keys_of_different_sizes_without_kid() -> None:
    """A key whose modulus does not match is skipped; the fitting RSA key still decrypts."""
    small = rsa_key()  # 2048 bits
    large = JWK.generate("RSA-OAEP-256")  # 3072 bits
    options: dict[str, Any] = {"algorithms": ["RSA-OAEP-256"], "encryptions": ["A128GCM"]}
    token = jwe.encrypt(b"x", large.public(), enc="A128GCM", alg="RSA-OAEP-256")
    assert jwe.decrypt(token, [small, large], **options).key == large
    with pytest.raises(MalformedToken, match="encrypted_key"):
        jwe.decrypt(token, [small], **options)


@pytest.mark.parametrize("enc", ["A128GCM", "A128CBC-HS256", "A256CBC-HS512"])
def test_dir_refuses_an_encrypted_key(enc: str) -> None:
    """A dir token must carry an empty encrypted key, with one key (the fast path) or two.

    A token that decrypts once gets a non-empty encrypted key spliced in: refused as
    malformed, before any content decryption, whatever the enc and the number of keys.
    """
    key = JWK.from_secret(bytes(range(algs.CONTENT_ENCRYPTIONS[enc].key_size)), alg=enc)
    other = JWK.from_secret(bytes(algs.CONTENT_ENCRYPTIONS[enc].key_size), alg=enc)
    token = jwe.encrypt(b"payload", key, enc=enc)
    head, empty, *rest = token.split(".")
    assert empty == ""
    spliced = ".".join([head, b64url_encode(bytes(16)), *rest])
    for keys in (key, [other, key]):
        assert jwe.decrypt(token, keys, algorithms=["dir"], encryptions=[enc]).plaintext == (
            b"payload"
        )
        with pytest.raises(MalformedToken, match="encrypted_key must be 0 bytes"):
            jwe.decrypt(spliced, keys, algorithms=["dir"], encryptions=[enc])
