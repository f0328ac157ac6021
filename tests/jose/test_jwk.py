"""JWK and KeySet: constructors, exports, thumbprints, and refusal of weak or broken keys."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa, x448, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.errors import InvalidKeyError, UnsupportedAlgorithm
from authcore.jose import JWK, SIGNATURE_ALGORITHMS, KeyResolver, KeySet, KeyType
from authcore.jose._jwk import _ROCA_PRIMES, is_roca_modulus, key_signer, key_verifier


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64int(value: int, size: int | None = None) -> str:
    return b64(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("alg", sorted(SIGNATURE_ALGORITHMS))
def test_generate_round_trips(alg: str) -> None:
    """Generated keys export and re-import equal, publicly and privately, with one thumbprint."""
    key = JWK.generate(alg, kid="k")
    assert key.alg == alg
    assert key.kid == "k"
    assert key.is_private
    again = JWK.from_dict(key.to_dict(private=True))
    assert again == key
    assert hash(again) == hash(key)
    if key.is_symmetric:
        assert key.kty is KeyType.OCT
        with pytest.raises(InvalidKeyError):
            key.public()
        with pytest.raises(InvalidKeyError):
            key.to_dict()
        with pytest.raises(InvalidKeyError):
            key.to_pem()
        return
    public = key.public()
    assert not public.is_private
    assert public.public() is public
    assert public.thumbprint() == key.thumbprint()
    assert "d" not in key.to_dict()
    assert JWK.from_pem(key.to_pem(), alg=alg, kid="k") == key
    assert JWK.from_pem(public.to_pem(), alg=alg, kid="k") == public


def test_repr_never_shows_secret_material() -> None:
    """Repr names type, curve, alg, kid and privacy, never key bytes."""
    secret = JWK.generate("HS256", kid="mac")
    assert secret.to_dict(private=True)["k"] not in repr(secret)
    ec_key = JWK.generate("ES256")
    assert ec_key.to_dict(private=True)["d"] not in repr(ec_key)
    assert repr(ec_key) == f"JWK(kty='EC', crv='P-256', alg='ES256', kid={ec_key.kid!r}, private)"


def test_jwk_is_immutable_and_not_picklable() -> None:
    """JWK attributes cannot be set, the class cannot be called, and pickling is refused."""
    key = JWK.generate("ES256")
    with pytest.raises(AttributeError):
        key._alg = "ES384"
    with pytest.raises(TypeError):
        JWK()
    with pytest.raises(TypeError):
        key.__reduce__()


def _pem(key: Any, fmt: Any, *, private: bool, password: bytes | None = None) -> bytes:
    if private:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        data: bytes = key.private_bytes(serialization.Encoding.PEM, fmt, enc)
        return data
    pem: bytes = key.public_bytes(serialization.Encoding.PEM, fmt)
    return pem


def test_from_pem_formats(rsa_private: rsa.RSAPrivateKey) -> None:
    """PKCS#8, SPKI, PKCS#1, SEC1, DER and encrypted keys all load to the same key."""
    base = JWK.from_pem(_pem(rsa_private, serialization.PrivateFormat.PKCS8, private=True))
    variants: list[bytes | str] = [
        _pem(rsa_private, serialization.PrivateFormat.TraditionalOpenSSL, private=True),
        rsa_private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        _pem(rsa_private, serialization.PrivateFormat.PKCS8, private=True).decode(),
    ]
    for data in variants:
        assert JWK.from_pem(data) == base
    public = base.public()
    for fmt in (serialization.PublicFormat.PKCS1, serialization.PublicFormat.SubjectPublicKeyInfo):
        assert JWK.from_pem(_pem(rsa_private.public_key(), fmt, private=False)) == public
    der = rsa_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert JWK.from_pem(der) == public
    encrypted = _pem(rsa_private, serialization.PrivateFormat.PKCS8, private=True, password=b"pw")
    assert JWK.from_pem(encrypted, password=b"pw") == base
    with pytest.raises(InvalidKeyError):
        JWK.from_pem(encrypted, password=b"wrong")
    with pytest.raises(InvalidKeyError):
        JWK.from_pem(encrypted)
    sec1 = ec.generate_private_key(ec.SECP384R1())
    loaded = JWK.from_pem(_pem(sec1, serialization.PrivateFormat.TraditionalOpenSSL, private=True))
    assert loaded.crv == "P-384"


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]
)
def test_from_pem_refuses_garbage(data: bytes) -> None:
    """Unloadable data is an InvalidKeyError."""
    with pytest.raises(InvalidKeyError):
        JWK.from_pem(data)


def test_jwe_curves_import() -> None:
    """X25519, X448 and Ed448 keys import (for JWE and EdDSA) and round-trip."""
    for private in (
        x25519.X25519PrivateKey.generate(),
        x448.X448PrivateKey.generate(),
        ed448.Ed448PrivateKey.generate(),
    ):
        key = JWK.from_pem(_pem(private, serialization.PrivateFormat.PKCS8, private=True))
        assert key.kty is KeyType.OKP
        assert JWK.from_dict(key.to_dict(private=True)) == key


def test_rsa_small_modulus_refused() -> None:
    """RSA keys below 2048 bits are refused."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test
    with pytest.raises(InvalidKeyError, match="2048"):
        JWK.from_pem(_pem(small, serialization.PrivateFormat.PKCS8, private=True))


@pytest.mark.parametrize("exponent", [1, 2, 65536, 0])
def test_rsa_bad_public_exponent_refused(rsa_private: rsa.RSAPrivateKey, exponent: int) -> None:
    """An even public exponent, or one below 3, is refused."""
    n = rsa_private.public_key().public_numbers().n
    members = {"kty": "RSA", "n": b64int(n), "e": b64int(exponent) if exponent else "AA"}
    with pytest.raises(InvalidKeyError):
        JWK.from_dict(members)


def test_rsa_roca_modulus_refused() -> None:
    """A modulus with the ROCA fingerprint is refused; ordinary moduli are not flagged."""
    m = 1
    for p in _ROCA_PRIMES:
        m *= p
    residue = pow(65537, 12345, m)
    n = residue + (1 << 2047) // m * m
    n += m if n % 2 == 0 else 0
    assert is_roca_modulus(n)
    with pytest.raises(InvalidKeyError, match="ROCA"):
        JWK.from_dict({"kty": "RSA", "n": b64int(n), "e": "AQAB"})
    ordinary = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not is_roca_modulus(ordinary.public_key().public_numbers().n)


def test_rsa_private_parts_must_match(rsa_private: rsa.RSAPrivateKey) -> None:
    """RSA private members that do not match the public key are refused; d alone is accepted."""
    members = JWK.from_pem(
        _pem(rsa_private, serialization.PrivateFormat.PKCS8, private=True)
    ).to_dict(private=True)
    only_d = {k: v for k, v in members.items() if k not in ("p", "q", "dp", "dq", "qi")}
    assert JWK.from_dict(only_d).is_private
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    with pytest.raises(InvalidKeyError):
        JWK.from_dict({**members, "d": b64int(other.d)})
    with pytest.raises(InvalidKeyError):
        JWK.from_dict({**members, "p": b64int(other.p)})
    partial = {k: v for k, v in members.items() if k != "qi"}
    with pytest.raises(InvalidKeyError, match="all of"):
        JWK.from_dict(partial)
    with pytest.raises(InvalidKeyError, match="oth"):
        JWK.from_dict({**members, "oth": []})


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_key_shorter_than_hash_refused(alg: str) -> None:
    """HMAC secrets shorter than the hash output are refused, through every constructor."""
    size = SIGNATURE_ALGORITHMS[alg].size
    with pytest.raises(InvalidKeyError, match="at least"):
        JWK.from_secret(b"s" * (size - 1), alg=alg)
    with pytest.raises(InvalidKeyError, match="at least"):
        JWK.from_dict({"kty": "oct", "k": b64(b"s" * (size - 1)), "alg": alg})
    assert JWK.from_secret(b"s" * size, alg=alg).alg == alg


def test_unbound_short_secret_cannot_verify_long_hash() -> None:
    """An unbound 32-byte secret serves HS256 but never HS512."""
    key = JWK.from_dict({"kty": "oct", "k": b64(b"s" * 32)})
    assert key_verifier(key, "HS256") is not None
    assert key_verifier(key, "HS512") is None


@pytest.mark.parametrize("secret", [b"", bytearray()])
def test_empty_keys_refused(secret: bytes) -> None:
    """Empty secrets are refused."""
    with pytest.raises(InvalidKeyError, match="empty"):
        JWK.from_secret(secret, alg="HS256")
    with pytest.raises(InvalidKeyError, match="empty"):
        JWK.from_dict({"kty": "oct", "k": ""})


def test_from_secret_refuses_non_hmac_alg() -> None:
    """from_secret only makes HMAC keys."""
    with pytest.raises(UnsupportedAlgorithm):
        JWK.from_secret(b"s" * 32, alg="RS256")


def test_ec_point_not_on_curve_refused() -> None:
    """EC public points off the curve, or of the wrong length, are refused."""
    members = JWK.generate("ES256").to_dict()
    y = int.from_bytes(base64.urlsafe_b64decode(members["y"] + "="), "big")
    with pytest.raises(InvalidKeyError, match="curve"):
        JWK.from_dict({**members, "y": b64int(y ^ 1, 32)})
    with pytest.raises(InvalidKeyError, match="exactly"):
        JWK.from_dict({**members, "y": b64(b"\x00" + y.to_bytes(32, "big"))})
    with pytest.raises(InvalidKeyError):
        JWK.from_dict({**members, "crv": "P-384"})


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed448"])
def test_mismatched_private_and_public_parts_refused(alg: str) -> None:
    """A private value from another key is refused for EC and OKP keys."""
    mine = JWK.generate(alg).to_dict(private=True)
    other = JWK.generate(alg).to_dict(private=True)
    with pytest.raises(InvalidKeyError, match="do not match"):
        JWK.from_dict({**mine, "d": other["d"]})


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"kty": "XYZ"}, "kty"),
        ({"k": "AAAA"}, "kty"),
        ({"kty": "oct", "k": "AAA="}, "base64url"),
        ({"kty": "oct", "k": 5}, "string"),
        ({"kty": "oct", "k": b64(b"s" * 32), "alg": "ES224"}, "unknown alg"),
        ({"kty": "oct", "k": b64(b"s" * 32), "alg": "RS256"}, "kty"),
        ({"kty": "oct", "k": b64(b"s" * 32), "key_ops": ["sign", "sign"]}, "duplicate"),
        ({"kty": "oct", "k": b64(b"s" * 32), "key_ops": ["fly"]}, "unknown key_ops"),
        ({"kty": "oct", "k": b64(b"s" * 32), "key_ops": "sign"}, "list"),
        ({"kty": "oct", "k": b64(b"s" * 32), "kid": 3}, "string"),
        ({"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}, "curve"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "exactly"),
    ],
)
def test_from_dict_refuses_malformed_members(members: dict[str, Any], reason: str) -> None:
    """Malformed JWK members raise InvalidKeyError with a precise reason."""
    with pytest.raises(InvalidKeyError, match=reason):
        JWK.from_dict(members)


def test_from_dict_alg_argument_binds_or_conflicts() -> None:
    """from_dict(alg=...) binds an unbound key and refuses to rebind a bound one."""
    members = JWK.generate("ES256").to_dict()
    del members["alg"]
    assert JWK.from_dict(members, alg="ES256").alg == "ES256"
    with pytest.raises(InvalidKeyError, match="differs"):
        JWK.from_dict({**members, "alg": "ES256"}, alg="ES384")


def test_use_and_key_ops_are_honoured() -> None:
    """use=enc or key_ops without verify/sign disable the respective operation."""
    members = JWK.generate("ES256").to_dict(private=True)
    enc = JWK.from_dict({**members, "use": "enc"})
    assert key_verifier(enc, "ES256") is None
    with pytest.raises(UnsupportedAlgorithm):
        key_signer(enc)
    sign_only = JWK.from_dict({**members, "key_ops": ["sign"]})
    assert key_verifier(sign_only, "ES256") is None
    assert key_signer(sign_only)[0] == "ES256"
    verify_only = JWK.from_dict({**members, "key_ops": ["verify"]})
    assert key_verifier(verify_only, "ES256") is not None
    with pytest.raises(UnsupportedAlgorithm, match="key_ops"):
        key_signer(verify_only)
    assert sign_only.public().key_ops == frozenset({"verify"})
    assert JWK.from_dict({**members, "key_ops": ["sign", "verify"]}).public().key_ops == frozenset(
        {"verify"}
    )


def test_signer_refusals() -> None:
    """Public keys cannot sign; bound keys sign only their alg; unbound keys need one."""
    key = JWK.generate("ES256")
    with pytest.raises(UnsupportedAlgorithm, match="public"):
        key_signer(key.public())
    with pytest.raises(UnsupportedAlgorithm, match="bound"):
        key_signer(key, "ES384")
    unbound = JWK.from_pem(key.to_pem())
    with pytest.raises(UnsupportedAlgorithm, match="no alg"):
        key_signer(unbound)
    with pytest.raises(UnsupportedAlgorithm, match="curve"):
        key_signer(unbound, "ES384")
    assert key_signer(unbound, "ES256")[0] == "ES256"


def test_key_set_lookup_and_rules() -> None:
    """KeySet finds keys by exact kid, rejects duplicate kids and mixed symmetry."""
    a, b = JWK.generate("ES256", kid="a"), JWK.generate("EdDSA", kid="b")
    keys = KeySet([a.public(), b.public()])
    assert isinstance(keys, KeyResolver)
    assert keys.get("a") == a.public()
    assert keys.get("A") is None
    assert len(keys) == 2
    assert list(keys) == [a.public(), b.public()]
    assert KeySet.from_dict(keys.to_dict()) == keys
    assert hash(KeySet.from_dict(keys.to_dict())) == hash(keys)
    with pytest.raises(InvalidKeyError, match="duplicate kid"):
        KeySet([a, JWK.generate("ES256", kid="a")])
    with pytest.raises(InvalidKeyError, match="mix"):
        KeySet([a, JWK.generate("HS256")])
    with pytest.raises(InvalidKeyError, match="must be JWK"):
        KeySet([a.to_dict()])  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        keys._keys = ()


def test_key_set_from_dict() -> None:
    """JWKS import ignores unknown kty values (RFC 7517 section 5) and refuses bad shapes."""
    good = JWK.generate("ES256", kid="a").public().to_dict()
    keys = KeySet.from_dict({"keys": [good, {"kty": "PQC", "x": "whatever"}]})
    assert [k.kid for k in keys] == ["a"]
    bad_sets: list[Any] = [{}, {"keys": {}}, [], {"keys": [{"kty": "EC"}]}]
    for bad in bad_sets:
        with pytest.raises(InvalidKeyError):
            KeySet.from_dict(bad)


def test_thumbprint_ignores_metadata() -> None:
    """The RFC 7638 thumbprint depends only on the required members."""
    key = JWK.generate("ES256", kid="x")
    members = key.public().to_dict()
    plain = JWK.from_dict({m: members[m] for m in ("kty", "crv", "x", "y")})
    assert plain.thumbprint() == key.thumbprint()
    assert plain != key.public()


_member_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.sampled_from(["", "AQAB", "AA", "_w", "P-256", "Ed25519", "X25519", "secp256k1"]),
    st.lists(st.text(max_size=6), max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(
    members=st.dictionaries(
        st.sampled_from(
            ["kty", "crv", "x", "y", "d", "n", "e", "k", "p", "q", "alg", "use", "key_ops", "kid"]
        ),
        _member_values,
        max_size=8,
    ),
    kty=st.sampled_from(["oct", "RSA", "EC", "OKP", "other", None]),
)
def test_from_dict_raises_only_configuration_errors(
    members: dict[str, Any], kty: str | None
) -> None:
    """Arbitrary JWK members import or raise InvalidKeyError/UnsupportedAlgorithm, nothing else."""
    if kty is not None:
        members = {**members, "kty": kty}
    try:
        key = JWK.from_dict(members)
    except (InvalidKeyError, UnsupportedAlgorithm):
        return
    assert JWK.from_dict(key.to_dict(private=True)) == key


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_from_pem_raises_only_invalid_key(data: bytes) -> None:
    """Arbitrary bytes, with or without a PEM armor, raise InvalidKeyError."""
    for candidate in (
        data,
        b"-----BEGIN PUBLIC KEY-----\n" + data + b"\n-----END PUBLIC KEY-----\n",
    ):
        with pytest.raises(InvalidKeyError):
            JWK.from_pem(candidate)


def test_public_half_keeps_the_private_restrictions() -> None:
    """public() maps key_ops to their public counterparts and never drops a restriction."""
    members = JWK.generate("ECDH-ES").to_dict(private=True)
    for ops, expected in (
        (["deriveKey"], {"deriveKey"}),
        (["deriveBits"], {"deriveBits"}),
        (["deriveKey", "deriveBits"], {"deriveKey", "deriveBits"}),
        (["decrypt", "unwrapKey"], {"encrypt", "wrapKey"}),
        (["sign"], {"verify"}),
        ([], set()),
    ):
        public = JWK.from_dict({**members, "key_ops": ops}).public()
        assert public.key_ops == frozenset(expected)
        assert public.to_dict().get("key_ops") == sorted(expected)
    assert JWK.from_dict(members).public().key_ops is None
