"""JWK.generate and JWK.from_secret for JWE algorithms, and the public half of ECDH keys."""

from __future__ import annotations

import json

import pytest

from authcore.errors import InvalidKeyError, UnsupportedAlgorithm
from authcore.jose import JWK, KeyType, jwe
from authcore.jose._jwe_algs import CONTENT_ENCRYPTIONS, KEY_MANAGEMENTS, KeyFamily
from authcore.jose._jwk import PBES2_PASSWORD_MAX, key_material, key_verifier

PLAINTEXT = b"attack at dawn"
GENERATED = sorted(
    name
    for name, spec in KEY_MANAGEMENTS.items()
    if spec.family not in (KeyFamily.RSA1_5, KeyFamily.DIRECT, KeyFamily.PBES2)
    and not name.startswith("RSA")
)
CURVES = ("P-256", "P-384", "P-521", "X25519", "X448")


def _round_trip(key: JWK, enc: str = "A128GCM") -> None:
    recipient = key if key.is_symmetric else key.public()
    token = jwe.encrypt(PLAINTEXT, recipient, enc=enc)
    alg = key.alg if key.alg in jwe.KEY_MANAGEMENT_ALGORITHMS else "dir"
    result = jwe.decrypt(token, key, algorithms=[str(alg)], encryptions=[enc])
    assert result.plaintext == PLAINTEXT


@pytest.mark.parametrize("alg", GENERATED)
def test_generate_makes_working_jwe_keys(alg: str) -> None:
    """JWK.generate accepts every key wrap and ECDH-ES algorithm and the key round-trips."""
    key = JWK.generate(alg, kid="k")
    assert key.alg == alg
    assert key.is_private
    spec = KEY_MANAGEMENTS[alg]
    if spec.kek_size and spec.family is not KeyFamily.ECDH_ES_KW:
        assert len(key_material(key)) == spec.kek_size
    else:
        assert key.crv == "P-256"
    _round_trip(key)


@pytest.mark.parametrize("alg", ["RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"])
def test_generate_rsa_oaep_keys_have_3072_bits(alg: str) -> None:
    """RSA-OAEP keys are 3072-bit RSA keys that decrypt what their public half encrypts."""
    key = JWK.generate(alg)
    assert key.kty is KeyType.RSA
    assert "bits=3072" in repr(key)
    _round_trip(key)


@pytest.mark.parametrize("crv", CURVES)
def test_generate_ecdh_takes_a_curve(crv: str) -> None:
    """ECDH-ES keys are made on the curve named by crv (EC or OKP)."""
    key = JWK.generate("ECDH-ES+A256KW", crv=crv)
    assert key.crv == crv
    assert key.kty is (KeyType.OKP if crv.startswith("X") else KeyType.EC)
    _round_trip(key, enc="A256GCM")


@pytest.mark.parametrize("enc", sorted(CONTENT_ENCRYPTIONS))
def test_generate_dir_key_by_content_encryption(enc: str) -> None:
    """JWK.generate('A256GCM') makes a dir key of that enc's size, used with alg dir."""
    key = JWK.generate(enc)
    assert key.alg == enc
    assert len(key_material(key)) == CONTENT_ENCRYPTIONS[enc].key_size
    _round_trip(key, enc=enc)
    token = jwe.encrypt(PLAINTEXT, key, enc=enc)
    assert jwe.decrypt(token, key, algorithms=["dir"], encryptions=[enc]).header["alg"] == "dir"


def test_generate_signature_curves() -> None:
    """EdDSA takes crv Ed25519 (default) or Ed448; fixed-curve algorithms accept only theirs."""
    assert JWK.generate("EdDSA").crv == "Ed25519"
    assert JWK.generate("EdDSA", crv="Ed448").crv == "Ed448"
    assert JWK.generate("ES384", crv="P-384").crv == "P-384"


@pytest.mark.parametrize(
    ("alg", "crv", "reason"),
    [
        ("dir", None, "A256GCM"),
        ("PBES2-HS256+A128KW", None, "from_secret"),
        ("RSA1_5", None, "decrypt-only"),
        ("ECDH-ES", "secp256k1", "does not fit"),
        ("ECDH-ES", "Ed25519", "does not fit"),
        ("ES256", "P-384", "does not fit"),
        ("EdDSA", "X25519", "does not fit"),
        ("A128KW", "P-256", "no curve"),
        ("HS256", "P-256", "no curve"),
        ("RSA-OAEP-256", "P-256", "no curve"),
        ("A256GCM", "P-256", "no curve"),
        ("nope", None, "not a supported"),
    ],
)
def test_generate_refuses_what_it_cannot_make(alg: str, crv: str | None, reason: str) -> None:
    """dir, PBES2, RSA1_5, unknown names and a crv that does not fit are refused."""
    with pytest.raises(UnsupportedAlgorithm, match=reason):
        JWK.generate(alg, crv=crv)


@pytest.mark.parametrize(
    ("alg", "size"),
    [
        ("A128KW", 16),
        ("A192KW", 24),
        ("A256KW", 32),
        ("A128GCMKW", 16),
        ("A192GCMKW", 24),
        ("A256GCMKW", 32),
        ("A128GCM", 16),
        ("A192GCM", 24),
        ("A256GCM", 32),
        ("A128CBC-HS256", 32),
        ("A192CBC-HS384", 48),
        ("A256CBC-HS512", 64),
    ],
)
def test_from_secret_aes_keys_have_exact_lengths(alg: str, size: int) -> None:
    """AES key wrap, AES-GCM key wrap and dir secrets must have exactly the algorithm's size."""
    key = JWK.from_secret(bytes(range(size)), alg=alg, kid="s")
    assert key.alg == alg
    assert key.kid == "s"
    _round_trip(key, enc=alg if alg in CONTENT_ENCRYPTIONS else "A128GCM")
    for wrong in (size - 1, size + 1):
        with pytest.raises(InvalidKeyError, match=f"exactly {size} bytes, not {wrong}"):
            JWK.from_secret(bytes(range(wrong)), alg=alg)


@pytest.mark.parametrize(
    ("alg", "minimum"),
    [("PBES2-HS256+A128KW", 16), ("PBES2-HS384+A192KW", 24), ("PBES2-HS512+A256KW", 32)],
)
def test_from_secret_pbes2_password_lengths(alg: str, minimum: int) -> None:
    """PBES2 passwords have the RFC 7518 section 8.8 length: the KEK size up to 128 bytes."""
    for size in (minimum, PBES2_PASSWORD_MAX):
        key = JWK.from_secret(b"p" * size, alg=alg)
        token = jwe.encrypt(PLAINTEXT, key, enc="A128GCM")
        assert jwe.decrypt(token, key, algorithms=[alg], encryptions=["A128GCM"]).plaintext
    for size in (minimum - 1, PBES2_PASSWORD_MAX + 1):
        with pytest.raises(InvalidKeyError, match=f"{minimum} to {PBES2_PASSWORD_MAX} bytes"):
            JWK.from_secret(b"p" * size, alg=alg)


@pytest.mark.parametrize(
    ("alg", "reason"),
    [
        ("dir", "alg='A256GCM'"),
        ("RSA-OAEP-256", "not a symmetric"),
        ("ECDH-ES", "not a symmetric"),
        ("RSA1_5", "not a symmetric"),
        ("RS256", "not an HMAC"),
        ("nope", "not a supported"),
    ],
)
def test_from_secret_refuses_asymmetric_and_dir(alg: str, reason: str) -> None:
    """from_secret refuses asymmetric algorithms and a bare dir (which does not say the size)."""
    with pytest.raises(UnsupportedAlgorithm, match=reason):
        JWK.from_secret(b"s" * 32, alg=alg)


def test_from_secret_refuses_encoded_keys_for_jwe() -> None:
    """An encoded key is refused as a JWE secret too (the algorithm-confusion mistake)."""
    pem = JWK.generate("ES256").public().to_pem()
    with pytest.raises(InvalidKeyError, match="encoded key"):
        JWK.from_secret(pem, alg="PBES2-HS512+A256KW")


def test_public_half_of_a_derive_only_key_stays_derive_only() -> None:
    """The public half of a deriveKey-only ECDH key encrypts with ECDH-ES and nothing else."""
    members = JWK.generate("ECDH-ES").to_dict(private=True)
    del members["alg"]
    private = JWK.from_dict({**members, "key_ops": ["deriveKey"]})
    public = private.public()
    assert public.key_ops == frozenset({"deriveKey"})
    token = jwe.encrypt(PLAINTEXT, public, alg="ECDH-ES", enc="A128GCM")
    assert jwe.decrypt(token, private, algorithms=["ECDH-ES"], encryptions=["A128GCM"]).plaintext
    assert key_verifier(public, "ES256") is None


@pytest.mark.parametrize(
    "secret",
    [
        b"{" + b"\x8f" * 31,
        b"\t{" + b"z" * 30,
        b"{" + b"a" * 30 + b"}",
        b"{not json at all, really!!}",
    ],
)
def test_from_secret_accepts_random_bytes_that_start_with_a_brace(secret: bytes) -> None:
    """Only a JSON object is a JWK: one random secret in 256 starts with ``{`` and stays usable."""
    key = JWK.from_secret(secret[:32].ljust(32, b"x"), alg="HS256")
    assert key.kty == "oct"


def test_from_secret_refuses_a_jwk_json_object_with_whitespace() -> None:
    """A JWK's JSON, even padded with whitespace, is refused."""
    text = json.dumps(JWK.generate("ES256").public().to_dict()).encode()
    with pytest.raises(InvalidKeyError, match="encoded key"):
        JWK.from_secret(b"  " + text + b"\n", alg="HS256")
