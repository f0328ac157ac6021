"""Behaviour of authcore.jose.jwe: round trips, policy, key binding, serializations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore._encoding import b64url_decode, b64url_encode
from authcore.errors import (
    AlgorithmNotAllowed,
    AuthcoreError,
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
from authcore.jose import jwe, jws
from authcore.jose._jwe_algs import FAILED
from authcore.jose._jwk import JWK, KeySet
from tests.jose.jwe_keys import curve_key, key_for, oct_key, rsa_key

ENCRYPTING_ALGS = sorted(jwe.KEY_MANAGEMENT_ALGORITHMS - {"RSA1_5"})
ENCS = sorted(jwe.CONTENT_ENCRYPTION_ALGORITHMS)
CURVES = ("P-256", "P-384", "P-521", "X25519", "X448")


def _public(key: JWK) -> JWK:
    return key if key.is_symmetric else key.public()


def _tamper(segment: str) -> str:
    raw = bytearray(b64url_decode(segment))
    raw[0] ^= 1
    return b64url_encode(bytes(raw))


def _replace(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


@pytest.mark.parametrize("enc", ENCS)
@pytest.mark.parametrize("alg", ENCRYPTING_ALGS)
def test_round_trip_every_alg_and_enc(alg: str, enc: str) -> None:
    """Every offered alg/enc pair encrypts and decrypts back to the plaintext."""
    key = key_for(alg, enc)
    token = jwe.encrypt(b"attack at dawn", _public(key), enc=enc)
    result = jwe.decrypt(token, key, algorithms=[alg], encryptions=[enc])
    assert result.plaintext == b"attack at dawn"
    assert result.header["alg"] == alg
    assert result.header["enc"] == enc
    assert result.key == key


@pytest.mark.parametrize("crv", CURVES)
@pytest.mark.parametrize("alg", ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"])
def test_ecdh_round_trip_every_curve(alg: str, crv: str) -> None:
    """ECDH-ES (direct and with key wrap) works on P-256/384/521 and X25519/X448."""
    key = curve_key(crv, alg)
    token = jwe.encrypt(b"x", key.public(), enc="A256GCM")
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["epk"]["crv"] == crv
    assert "d" not in header["epk"]
    result = jwe.decrypt(token, key, algorithms=[alg], encryptions=["A256GCM"])
    assert result.plaintext == b"x"


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=300), enc=st.sampled_from(ENCS))
def test_round_trip_any_plaintext(plaintext: bytes, enc: str) -> None:
    """Any plaintext (empty included) survives A256KW with any enc, compressed or not."""
    key = oct_key(32, "A256KW")
    for compress in (False, True):
        token = jwe.encrypt(plaintext, key, enc=enc, compress=compress)
        result = jwe.decrypt(
            token, key, algorithms=["A256KW"], encryptions=[enc], decompress=compress
        )
        assert result.plaintext == plaintext


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_garbage_never_escapes_as_untyped_error(data: bytes | str) -> None:
    """Arbitrary input raises only authcore errors."""
    key = oct_key(32, "A256KW")
    with pytest.raises(AuthcoreError):
        jwe.decrypt(data, key, algorithms=["A256KW"], encryptions=["A256GCM"])
    with pytest.raises(AuthcoreError):
        jwe.decrypt_json(data, key, algorithms=["A256KW"], encryptions=["A256GCM"])


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 4), flip=st.integers(0, 7))
def test_any_tampered_segment_is_refused(index: int, flip: int) -> None:
    """Flipping one bit of any segment of a valid token makes it fail with a typed error."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"some plaintext", key, enc="A128CBC-HS256")
    parts = token.split(".")
    raw = bytearray(b64url_decode(parts[index]))
    raw[len(raw) // 2] ^= 1 << flip
    parts[index] = b64url_encode(bytes(raw))
    with pytest.raises((DecryptionFailed, MalformedToken, DecodeError, AlgorithmNotAllowed)):
        jwe.decrypt(".".join(parts), key, algorithms=["A128KW"], encryptions=["A128CBC-HS256"])


def test_rsa1_5_is_never_offered_for_encryption() -> None:
    """RSA1_5 is refused by encrypt, even with a key bound to it."""
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt(b"x", rsa_key("RSA1_5").public(), enc="A128GCM")
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt(b"x", rsa_key().public(), enc="A128GCM", alg="RSA1_5")


def test_recommended_lists_exclude_pbes2_and_rsa1_5() -> None:
    """No default list contains PBES2 or RSA1_5."""
    assert not any(a.startswith("PBES2") for a in jwe.RECOMMENDED_ALGORITHMS)
    assert "RSA1_5" not in jwe.RECOMMENDED_ALGORITHMS
    assert set(jwe.RECOMMENDED_ALGORITHMS) <= jwe.KEY_MANAGEMENT_ALGORITHMS
    assert set(jwe.RECOMMENDED_ENCRYPTIONS) <= jwe.CONTENT_ENCRYPTION_ALGORITHMS


@pytest.mark.parametrize(
    ("algorithms", "encryptions", "error"),
    [
        ([], ["A128GCM"], ConfigurationError),
        ("A128KW", ["A128GCM"], ConfigurationError),
        (["A128KW"], "A128GCM", ConfigurationError),
        (["A128KW"], [], ConfigurationError),
        (["none"], ["A128GCM"], UnsupportedAlgorithm),
        (["HS256"], ["A128GCM"], UnsupportedAlgorithm),
        (["A128KW"], ["A128KW"], UnsupportedAlgorithm),
        ([b"A128KW"], ["A128GCM"], ConfigurationError),
    ],
)
def test_algorithm_lists_are_required_and_checked(
    algorithms: Any, encryptions: Any, error: type[Exception]
) -> None:
    """The algorithms and encryptions lists must be explicit, non-empty, known names."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(error):
        jwe.decrypt(token, key, algorithms=algorithms, encryptions=encryptions)


@pytest.mark.parametrize(
    "options",
    [
        {"p2c_min": 0},
        {"p2c_max": True},
        {"p2c_min": 5000, "p2c_max": 4000},
        {"max_decompressed": 0},
    ],
)
def test_bad_limits_are_configuration_errors(options: dict[str, Any]) -> None:
    """Limits must be positive integers with p2c_min <= p2c_max."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"], **options)


def test_alg_or_enc_not_allowed() -> None:
    """A token whose alg or enc is not listed is refused before any key work."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(AlgorithmNotAllowed, match="alg"):
        jwe.decrypt(token, key, algorithms=["A256KW"], encryptions=["A128GCM"])
    with pytest.raises(AlgorithmNotAllowed, match="enc"):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A256GCM"])


def test_key_bound_to_an_alg_serves_only_it() -> None:
    """A 32-byte key bound to A256GCMKW does not unwrap an A256KW token."""
    secret = b64url_encode(bytes(range(32)))
    wrap_key = JWK.from_dict({"kty": "oct", "k": secret, "alg": "A256KW"})
    gcm_key = JWK.from_dict({"kty": "oct", "k": secret, "alg": "A256GCMKW"})
    token = jwe.encrypt(b"x", wrap_key, enc="A128GCM")
    with pytest.raises(KeyNotFound):
        jwe.decrypt(token, gcm_key, algorithms=["A256KW"], encryptions=["A128GCM"])
    with pytest.raises(InvalidKeyError):
        jwe.encrypt(b"x", gcm_key, enc="A128GCM", alg="A256KW")


def test_dir_compares_key_alg_with_enc() -> None:
    """A dir key bound to an enc serves only that enc; 'dir' itself serves any enc of its size."""
    secret = b64url_encode(bytes(range(32)))
    for_gcm = JWK.from_dict({"kty": "oct", "k": secret, "alg": "A256GCM"})
    token = jwe.encrypt(b"x", for_gcm, enc="A256GCM")
    assert json.loads(b64url_decode(token.split(".")[0]))["alg"] == "dir"
    assert (
        jwe.decrypt(token, for_gcm, algorithms=["dir"], encryptions=["A256GCM"]).plaintext == b"x"
    )
    with pytest.raises(InvalidKeyError):
        jwe.encrypt(b"x", for_gcm, enc="A128CBC-HS256", alg="dir")
    plain_dir = JWK.from_dict({"kty": "oct", "k": secret, "alg": "dir"})
    other = jwe.encrypt(b"y", plain_dir, enc="A128CBC-HS256")
    with pytest.raises(KeyNotFound):
        jwe.decrypt(other, for_gcm, algorithms=["dir"], encryptions=["A128CBC-HS256"])
    assert (
        jwe.decrypt(other, plain_dir, algorithms=["dir"], encryptions=["A128CBC-HS256"]).plaintext
        == b"y"
    )


def test_use_and_key_ops_are_honoured() -> None:
    """A key with use 'sig' or without decrypt key_ops does not decrypt."""
    secret = b64url_encode(bytes(range(16)))
    good = JWK.from_dict({"kty": "oct", "k": secret})
    token = jwe.encrypt(b"x", good, enc="A128GCM", alg="A128KW")
    for extra in ({"use": "sig"}, {"key_ops": ["wrapKey"]}):
        key = JWK.from_dict({"kty": "oct", "k": secret, **extra})
        with pytest.raises(KeyNotFound):
            jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    unwrap_only = JWK.from_dict({"kty": "oct", "k": secret, "key_ops": ["unwrapKey"]})
    result = jwe.decrypt(token, unwrap_only, algorithms=["A128KW"], encryptions=["A128GCM"])
    assert result.plaintext == b"x"


def test_public_key_cannot_decrypt() -> None:
    """Decryption needs the private key."""
    key = rsa_key("RSA-OAEP-256")
    token = jwe.encrypt(b"x", key.public(), enc="A128GCM")
    with pytest.raises(KeyNotFound):
        jwe.decrypt(token, key.public(), algorithms=["RSA-OAEP-256"], encryptions=["A128GCM"])


def test_kid_selects_the_key() -> None:
    """The kid picks the key from a set; an unknown kid finds nothing."""
    one, two = oct_key(16, "A128KW", kid="one"), oct_key(16, "A128KW", kid="two")
    keys = KeySet([one, two])
    token = jwe.encrypt(b"x", two, enc="A128GCM")
    assert jwe.decrypt(token, keys, algorithms=["A128KW"], encryptions=["A128GCM"]).key == two
    stranger = oct_key(16, "A128KW", kid="three")
    with pytest.raises(KeyNotFound):
        jwe.decrypt(
            jwe.encrypt(b"x", stranger, enc="A128GCM"),
            keys,
            algorithms=["A128KW"],
            encryptions=["A128GCM"],
        )


def test_without_kid_every_fitting_key_is_tried() -> None:
    """A token without kid decrypts with whichever key of a list fits."""
    keys = [oct_key(16, "A128KW"), oct_key(16, "A128KW")]
    token = jwe.encrypt(b"x", keys[1], enc="A128GCM")
    assert jwe.decrypt(token, keys, algorithms=["A128KW"], encryptions=["A128GCM"]).key == keys[1]


def test_every_decryption_failure_has_one_message() -> None:
    """Wrong key, tampered tag, ciphertext, iv-free tampering: the same error and reason."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"secret message!", key, enc="A128CBC-HS256")
    variants = [
        _replace(token, 4, _tamper(token.split(".")[4])),
        _replace(token, 3, _tamper(token.split(".")[3])),
        _replace(token, 2, _tamper(token.split(".")[2])),
        _replace(token, 1, _tamper(token.split(".")[1])),
    ]
    messages = set()
    attempts = [(variant, key) for variant in variants] + [(token, oct_key(16, "A128KW"))]
    for variant, other in attempts:
        with pytest.raises(DecryptionFailed) as info:
            jwe.decrypt(variant, other, algorithms=["A128KW"], encryptions=["A128CBC-HS256"])
        messages.add(str(info.value))
        assert info.value.reason == FAILED
    assert len(messages) == 1


def test_jwe_decoder_refuses_jws_and_jws_verifier_refuses_jwe() -> None:
    """Exactly JWE and exactly JWS: each decoder refuses the other kind."""
    sig_key = JWK.from_secret(bytes(range(32)), alg="HS256")
    jws_token = jws.sign(b"payload", sig_key)
    enc_key = oct_key(16, "A128KW")
    jwe_token = jwe.encrypt(b"payload", enc_key, enc="A128GCM")
    with pytest.raises(MalformedToken, match="JWS"):
        jwe.decrypt(jws_token, enc_key, algorithms=["A128KW"], encryptions=["A128GCM"])
    with pytest.raises(MalformedToken):
        jws.verify(jwe_token, sig_key, algorithms=["HS256"])


def test_size_cap_applies_first() -> None:
    """A token over max_size is refused as too large, before parsing."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"x" * 100, key, enc="A128GCM")
    with pytest.raises(TokenTooLarge):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"], max_size=50)
    with pytest.raises(TokenTooLarge):
        jwe.decrypt("!" * 100, key, algorithms=["A128KW"], encryptions=["A128GCM"], max_size=50)


def test_non_ascii_and_wrong_types_are_malformed() -> None:
    """Non-ASCII text and non-string tokens are malformed."""
    key = oct_key(16, "A128KW")
    for bad in ("é.a.b.c.d", b"\xff.a.b.c.d", 12):
        with pytest.raises(MalformedToken):
            jwe.decrypt(bad, key, algorithms=["A128KW"], encryptions=["A128GCM"])  # type: ignore[arg-type]


def test_crit_is_refused() -> None:
    """No JWE extension is understood, so a crit header is refused."""
    key = oct_key(16, "A128KW")
    with pytest.raises(EncodeError):
        jwe.encrypt(b"x", key, enc="A128GCM", headers={"crit": ["exp"], "exp": 1})
    header = b64url_encode(
        json.dumps({"alg": "A128KW", "enc": "A128GCM", "crit": ["exp"], "exp": 1}).encode()
    )
    token = jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(MalformedToken, match="crit"):
        jwe.decrypt(_replace(token, 0, header), key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_headers_cannot_override_generated_members() -> None:
    """alg, enc, zip, epk, iv and tag come from the arguments, never from headers."""
    key = oct_key(16, "A128KW")
    for name in ("alg", "enc", "zip", "epk", "iv", "tag"):
        with pytest.raises(EncodeError):
            jwe.encrypt(b"x", key, enc="A128GCM", headers={name: "x"})


def test_extra_headers_are_protected_and_returned() -> None:
    """Custom headers such as typ land in the protected header and come back."""
    key = oct_key(16, "A128KW", kid="k1")
    token = jwe.encrypt(b"x", key, enc="A128GCM", headers={"typ": "example+jwe", "x": 1})
    header = jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"]).header
    assert header == {"alg": "A128KW", "enc": "A128GCM", "kid": "k1", "typ": "example+jwe", "x": 1}
    with pytest.raises(TypeError):
        header["x"] = 2  # type: ignore[index]


def test_compression_is_off_by_default() -> None:
    """zip: DEF is refused unless decompress=True."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"a" * 1000, key, enc="A128GCM", compress=True)
    assert len(token) < 300
    with pytest.raises(AlgorithmNotAllowed, match="zip"):
        jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    result = jwe.decrypt(
        token, key, algorithms=["A128KW"], encryptions=["A128GCM"], decompress=True
    )
    assert result.plaintext == b"a" * 1000


def test_encrypt_argument_errors() -> None:
    """Unknown enc/alg, non-JWK keys, unbound keys without alg and non-bytes are refused."""
    key = oct_key(16)
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt(b"x", key, enc="A128GCM")
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt(b"x", key, enc="A1GCM", alg="A128KW")
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt(b"x", key, enc="A128GCM", alg="HS256")
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", "key", enc="A128GCM", alg="A128KW")  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        jwe.encrypt("text", key, enc="A128GCM", alg="A128KW")  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        jwe.encrypt(b"x", key, enc="A128GCM", alg="A256KW")
    with pytest.raises(InvalidKeyError):
        jwe.encrypt(b"x", rsa_key().public(), enc="A128GCM", alg="ECDH-ES")


# ----------------------------------------------------------------------------- JSON


def test_json_general_several_recipients() -> None:
    """One JWE to RSA, EC and AES recipients: each key decrypts it alone."""
    rsa = rsa_key("RSA-OAEP-256", kid="rsa")
    ec = curve_key("P-384", "ECDH-ES+A192KW", kid="ec")
    aes = oct_key(32, "A256GCMKW", kid="aes")
    message = jwe.encrypt_json(
        b"to all",
        [rsa.public(), ec.public(), jwe.Recipient(key=aes, header={"note": "third"})],
        enc="A256CBC-HS512",
        protected={"typ": "example"},
        unprotected={"jku": "https://example.com/keys"},
        aad=b"context",
    )
    assert len(message["recipients"]) == 3
    text = json.dumps(message)
    for key in (rsa, ec, aes):
        result = jwe.decrypt_json(
            text,
            key,
            algorithms=["RSA-OAEP-256", "ECDH-ES+A192KW", "A256GCMKW"],
            encryptions=["A256CBC-HS512"],
        )
        assert result.plaintext == b"to all"
        assert result.aad == b"context"
        assert result.key == key
        assert result.header["typ"] == "example"
        assert result.header["jku"] == "https://example.com/keys"
    assert (
        jwe.decrypt_json(
            message, aes, algorithms=["A256GCMKW"], encryptions=["A256CBC-HS512"]
        ).header["note"]
        == "third"
    )


def test_json_flattened_single_recipient_protects_alg() -> None:
    """Flattened JSON puts alg and kid in the protected header."""
    key = curve_key("X25519", "ECDH-ES", kid="x")
    message = jwe.encrypt_json(b"flat", key.public(), enc="A128GCM", flattened=True)
    assert "recipients" not in message
    assert "encrypted_key" not in message  # ECDH-ES direct
    protected = json.loads(b64url_decode(message["protected"]))
    assert protected["alg"] == "ECDH-ES"
    assert protected["kid"] == "x"
    result = jwe.decrypt_json(message, key, algorithms=["ECDH-ES"], encryptions=["A128GCM"])
    assert result.plaintext == b"flat"


def test_json_aad_is_authenticated() -> None:
    """Changing the aad member makes decryption fail."""
    key = oct_key(16, "A128KW")
    message = jwe.encrypt_json(b"x", key, enc="A128GCM", aad=b"one")
    message["aad"] = b64url_encode(b"two")
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_json(message, key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_json_header_names_must_be_disjoint() -> None:
    """A name in two header parts is refused when encrypting and when decrypting."""
    key = oct_key(16, "A128KW")
    with pytest.raises(EncodeError):
        jwe.encrypt_json(b"x", key, enc="A128GCM", protected={"a": 1}, unprotected={"a": 2})
    with pytest.raises(EncodeError):
        jwe.encrypt_json(
            b"x", jwe.Recipient(key=key, header={"b": 1}), enc="A128GCM", unprotected={"b": 2}
        )
    message = jwe.encrypt_json(b"x", key, enc="A128GCM", unprotected={"a": 1})
    message["header"] = {"a": 2}
    with pytest.raises(MalformedToken):
        jwe.decrypt_json(message, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    with pytest.raises(EncodeError):
        jwe.encrypt_json(b"x", key, enc="A128GCM", unprotected={"enc": "A128GCM"})
    message = jwe.encrypt_json(b"x", key, enc="A128GCM")
    message["unprotected"] = {"enc": "A128GCM"}  # unauthenticated copy of a protected member
    with pytest.raises(MalformedToken):
        jwe.decrypt_json(message, key, algorithms=["A128KW"], encryptions=["A128GCM"])


def test_json_zip_only_in_protected_header() -> None:
    """A zip member in an unprotected header is refused even with decompress=True."""
    key = oct_key(16, "A128KW")
    with pytest.raises(EncodeError):
        jwe.encrypt_json(b"x", key, enc="A128GCM", unprotected={"zip": "DEF"})
    message = jwe.encrypt_json(b"x", key, enc="A128GCM")
    message["unprotected"] = {"zip": "DEF"}
    with pytest.raises(MalformedToken, match="zip"):
        jwe.decrypt_json(
            message, key, algorithms=["A128KW"], encryptions=["A128GCM"], decompress=True
        )


def test_json_recipients_for_other_algorithms_are_skipped() -> None:
    """Recipients whose alg is not allowed are skipped; if none is left, the alg is refused."""
    aes = oct_key(16, "A128KW")
    pbes = key_for("PBES2-HS256+A128KW", "A128GCM")
    message = jwe.encrypt_json(b"x", [pbes, aes], enc="A128GCM")
    result = jwe.decrypt_json(message, [aes], algorithms=["A128KW"], encryptions=["A128GCM"])
    assert result.plaintext == b"x"
    with pytest.raises(AlgorithmNotAllowed):
        jwe.decrypt_json(message, [aes], algorithms=["A256KW"], encryptions=["A128GCM"])
    with pytest.raises(DecryptionFailed):  # no kid: the only fitting key is tried, and fails
        jwe.decrypt_json(
            message, [oct_key(16, "A128KW")], algorithms=["A128KW"], encryptions=["A128GCM"]
        )
    with pytest.raises(KeyNotFound):  # nothing fits A128KW at all
        jwe.decrypt_json(
            message, [oct_key(32, "A256KW")], algorithms=["A128KW"], encryptions=["A128GCM"]
        )


def test_json_shapes() -> None:
    """Bad JSON shapes are malformed; flattened with several keys and dir with several fail."""
    key = oct_key(16, "A128KW")
    options: dict[str, Any] = {"algorithms": ["A128KW"], "encryptions": ["A128GCM"]}
    message = jwe.encrypt_json(b"x", key, enc="A128GCM")
    for broken in (
        {**message, "recipients": []},
        {**message, "recipients": "x"},
        {**message, "recipients": [1]},
        {**message, "header": {}},
        {**message, "protected": 5},
        {**message, "unprotected": []},
        {k: v for k, v in message.items() if k != "iv"},
        [message],
    ):
        with pytest.raises((MalformedToken, DecodeError)):
            jwe.decrypt_json(broken, key, **options)  # type: ignore[arg-type]
    with pytest.raises(TokenTooLarge):
        jwe.decrypt_json(json.dumps(message), key, max_size=10, **options)
    with pytest.raises(TokenTooLarge, match="JWE JSON longer than 10"):
        jwe.decrypt_json(message, key, max_size=10, **options)
    with pytest.raises(MalformedToken, match="not JSON"):
        jwe.decrypt_json({**message, "extra": b"bytes"}, key, **options)
    with pytest.raises(ConfigurationError):
        jwe.encrypt_json(b"x", [key, key], enc="A128GCM", flattened=True)
    with pytest.raises(ConfigurationError):
        jwe.encrypt_json(b"x", [], enc="A128GCM")
    direct = oct_key(16, "dir")
    with pytest.raises(UnsupportedAlgorithm):
        jwe.encrypt_json(b"x", [direct, direct], enc="A128GCM")


def test_decrypted_jwe_repr_hides_plaintext() -> None:
    """The result's repr does not print the plaintext."""
    key = oct_key(16, "A128KW")
    token = jwe.encrypt(b"top secret", key, enc="A128GCM")
    result = jwe.decrypt(token, key, algorithms=["A128KW"], encryptions=["A128GCM"])
    assert "top secret" not in repr(result)


def test_dir_fast_path_result_is_a_complete_frozen_decrypted_jwe() -> None:
    """The dir + AES-GCM path fills every DecryptedJWE field as the constructor does; frozen."""
    import dataclasses  # noqa: PLC0415

    key = JWK.from_dict({"kty": "oct", "k": b64url_encode(bytes(32)), "alg": "dir", "kid": "k"})
    token = jwe.encrypt(b"payload", key, enc="A256GCM")
    fast = jwe.decrypt(token, key, algorithms=["dir"], encryptions=["A256GCM"])
    built = jwe.DecryptedJWE(plaintext=b"payload", header=fast.header, key=key)
    assert type(fast) is jwe.DecryptedJWE
    assert fast == built
    assert repr(fast) == repr(built)
    for f in dataclasses.fields(jwe.DecryptedJWE):
        assert getattr(fast, f.name) == getattr(built, f.name)
    assert dict(fast.header) == {"alg": "dir", "enc": "A256GCM", "kid": "k"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.plaintext = b"other"  # type: ignore[misc]
