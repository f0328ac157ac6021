"""Nested JWTs: sign-then-encrypt, and decoders configured for exactly one profile."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from authcore.errors import (
    AlgorithmNotAllowed,
    DecryptionFailed,
    EncodeError,
    ExpiredToken,
    InvalidSignature,
    MalformedToken,
)
from authcore.jose import JWK, JWTVerifier, jwe, jws, jwt
from tests.jose.jwe_keys import curve_key, oct_key

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
# What every decoder here accepts for the outer JWE.
OUTER: dict[str, Any] = {"algorithms": ["ECDH-ES+A256KW"], "encryptions": ["A256GCM"]}
CLAIMS = {"iss": "https://issuer.example", "sub": "alice", "exp": NOW + dt.timedelta(hours=1)}


def _keys() -> tuple[JWK, JWK]:
    return JWK.generate("ES256", kid="sig"), curve_key("P-256", "ECDH-ES+A256KW", kid="enc")


def test_sign_then_encrypt_round_trip() -> None:
    """encrypt_jwt signs then encrypts; decrypt_jwt decrypts then verifies with JWTVerifier."""
    signing, encryption = _keys()
    token = jwe.encrypt_jwt(CLAIMS, signing, encryption.public(), enc="A256GCM")
    assert token.count(".") == 4
    verifier = JWTVerifier(signing.public(), algorithms=["ES256"], issuer="https://issuer.example")
    claims = jwe.decrypt_jwt(
        token,
        encryption,
        **OUTER,
        verify=lambda inner: verifier.verify(inner, now=NOW),
    )
    assert claims["sub"] == "alice"
    outer = jwe.decrypt(token, encryption, **OUTER)
    assert outer.header["cty"] == "JWT"
    assert (
        jws.verify(outer.plaintext, signing.public(), algorithms=["ES256"]).header["typ"] == "JWT"
    )


def test_nested_claims_are_still_checked() -> None:
    """The inner JWT's claims are validated by the verifier (an expired token fails)."""
    signing, encryption = _keys()
    token = jwe.encrypt_jwt(CLAIMS, signing, encryption.public(), enc="A256GCM")
    verifier = JWTVerifier(signing.public(), algorithms=["ES256"])
    later = NOW + dt.timedelta(days=1)
    with pytest.raises(ExpiredToken):
        jwe.decrypt_jwt(
            token,
            encryption,
            **OUTER,
            verify=lambda inner: verifier.verify(inner, now=later),
        )


def test_nested_inner_signature_is_verified() -> None:
    """A nested JWT signed by another key fails at the inner signature."""
    signing, encryption = _keys()
    token = jwe.encrypt_jwt(
        CLAIMS, JWK.generate("ES256", kid=signing.kid), encryption.public(), enc="A256GCM"
    )
    verifier = JWTVerifier(signing.public(), algorithms=["ES256"])
    with pytest.raises(InvalidSignature):
        jwe.decrypt_jwt(
            token,
            encryption,
            **OUTER,
            verify=lambda inner: verifier.verify(inner, now=NOW),
        )


def test_jws_only_verifier_rejects_a_jwe() -> None:
    """A verifier configured for exactly JWS refuses an encrypted (nested) JWT."""
    signing, encryption = _keys()
    token = jwe.encrypt_jwt(CLAIMS, signing, encryption.public(), enc="A256GCM")
    with pytest.raises(MalformedToken):
        JWTVerifier(signing.public(), algorithms=["ES256"]).verify(token, now=NOW)
    with pytest.raises(MalformedToken):
        jwt.decode(token, signing.public(), algorithms=["ES256"], now=NOW)


def test_nested_profile_rejects_a_bare_jws() -> None:
    """decrypt_jwt refuses a signed-only JWT: the nested profile requires encryption."""
    signing, encryption = _keys()
    signed = jwt.encode(CLAIMS, signing)
    with pytest.raises(MalformedToken, match="JWS"):
        jwe.decrypt_jwt(signed, encryption, **OUTER, verify=str)


def test_nested_profile_requires_cty_jwt() -> None:
    """A JWE without cty JWT is not a nested JWT, even if it carries one."""
    signing, encryption = _keys()
    inner = jwt.encode(CLAIMS, signing)
    token = jwe.encrypt(inner.encode(), encryption.public(), enc="A256GCM")
    with pytest.raises(MalformedToken, match="cty"):
        jwe.decrypt_jwt(token, encryption, **OUTER, verify=str)


def test_nested_profile_rejects_double_encryption_and_garbage() -> None:
    """An inner JWE or a non-JWS plaintext under cty JWT is refused."""
    _, encryption = _keys()
    inner_key = oct_key(16, "A128KW")
    for plaintext in (
        jwe.encrypt(b"x", inner_key, enc="A128GCM").encode(),
        b"not a token",
        "é.é.é".encode(),
    ):
        token = jwe.encrypt(plaintext, encryption.public(), enc="A256GCM", headers={"cty": "JWT"})
        with pytest.raises(MalformedToken, match="JWS"):
            jwe.decrypt_jwt(token, encryption, **OUTER, verify=str)


def test_nested_profile_never_decompresses() -> None:
    """decrypt_jwt does not accept zip, whatever the token says."""
    signing, encryption = _keys()
    inner = jwt.encode(CLAIMS, signing)
    token = jwe.encrypt(
        inner.encode(), encryption.public(), enc="A256GCM", headers={"cty": "JWT"}, compress=True
    )
    with pytest.raises(AlgorithmNotAllowed):
        jwe.decrypt_jwt(token, encryption, **OUTER, verify=str)


def test_nested_decrypt_failure_is_uniform() -> None:
    """A nested token for another recipient fails with DecryptionFailed."""
    signing, encryption = _keys()
    token = jwe.encrypt_jwt(CLAIMS, signing, encryption.public(), enc="A256GCM")
    other = curve_key("P-256", fresh=True)
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_jwt(token, other, **OUTER, verify=str)


def test_encrypt_jwt_refuses_bad_claims() -> None:
    """Claims that are not a JSON object cannot be encrypted."""
    signing, encryption = _keys()
    with pytest.raises(EncodeError):
        jwe.encrypt_jwt(["x"], signing, encryption.public(), enc="A256GCM")  # type: ignore[arg-type]
