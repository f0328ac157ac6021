"""Interoperability with jwcrypto and joserfc, in both directions (the `bench` extra's peers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwe as joserfc_jwe
from joserfc import jwk as joserfc_jwk
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from authcore.jose import jwe
from tests.jose.jwe_keys import key_for

CASES = [
    ("RSA-OAEP", "A128GCM", "P-256"),
    ("RSA-OAEP-256", "A256CBC-HS512", "P-256"),
    ("A128KW", "A128CBC-HS256", "P-256"),
    ("A256GCMKW", "A256GCM", "P-256"),
    ("dir", "A256GCM", "P-256"),
    ("ECDH-ES", "A128GCM", "P-384"),
    ("ECDH-ES+A256KW", "A256GCM", "P-521"),
    ("ECDH-ES+A128KW", "A128GCM", "X25519"),
    ("PBES2-HS256+A128KW", "A128CBC-HS256", "P-256"),
]


def _jwk_dict(alg: str, enc: str, crv: str) -> tuple[Any, dict[str, Any]]:
    key = key_for(alg, enc, crv)
    return key, key.to_dict(private=True)


@pytest.mark.parametrize(("alg", "enc", "crv"), CASES)
def test_jwcrypto_decrypts_ours_and_we_decrypt_theirs(alg: str, enc: str, crv: str) -> None:
    """Tokens cross between authcore and jwcrypto both ways."""
    key, members = _jwk_dict(alg, enc, crv)
    theirs = jwcrypto_jwk.JWK(**members)
    public = key if key.is_symmetric else key.public()
    token = jwe.encrypt(
        b"from authcore", public, enc=enc, headers={"p2c": 1000} if "PBES2" in alg else None
    )
    obj = jwcrypto_jwe.JWE()
    obj.allowed_algs = [alg, enc]
    obj.deserialize(token, key=theirs)
    assert obj.payload == b"from authcore"
    sender = jwcrypto_jwe.JWE(
        b"from jwcrypto",
        json.dumps({"alg": alg, "enc": enc, **({"p2c": 1000} if "PBES2" in alg else {})}),
    )
    sender.allowed_algs = [alg, enc]
    sender.add_recipient(theirs)
    result = jwe.decrypt(sender.serialize(compact=True), key, algorithms=[alg], encryptions=[enc])
    assert result.plaintext == b"from jwcrypto"


@pytest.mark.parametrize(("alg", "enc", "crv"), [c for c in CASES if not c[0].startswith("PBES2")])
def test_joserfc_decrypts_ours_and_we_decrypt_theirs(alg: str, enc: str, crv: str) -> None:
    """Tokens cross between authcore and joserfc both ways."""
    key, members = _jwk_dict(alg, enc, crv)
    theirs = joserfc_jwk.import_key(members)
    public = key if key.is_symmetric else key.public()
    token = jwe.encrypt(b"from authcore", public, enc=enc)
    got = joserfc_jwe.decrypt_compact(token, theirs, algorithms=[alg, enc])
    assert got.plaintext == b"from authcore"
    sent = joserfc_jwe.encrypt_compact(
        {"alg": alg, "enc": enc}, b"from joserfc", theirs, algorithms=[alg, enc]
    )
    result = jwe.decrypt(sent, key, algorithms=[alg], encryptions=[enc])
    assert result.plaintext == b"from joserfc"


def test_jwcrypto_general_json_with_two_recipients() -> None:
    """A jwcrypto general-JSON JWE for two recipients opens with either key here."""
    rsa_key, rsa_members = _jwk_dict("RSA-OAEP-256", "A256GCM", "P-256")
    aes_key, aes_members = _jwk_dict("A256KW", "A256GCM", "P-256")
    sender = jwcrypto_jwe.JWE(b"both", json.dumps({"enc": "A256GCM"}))
    sender.add_recipient(jwcrypto_jwk.JWK(**rsa_members), json.dumps({"alg": "RSA-OAEP-256"}))
    sender.add_recipient(jwcrypto_jwk.JWK(**aes_members), json.dumps({"alg": "A256KW"}))
    text = sender.serialize()
    for key in (rsa_key, aes_key):
        result = jwe.decrypt_json(
            text, key, algorithms=["RSA-OAEP-256", "A256KW"], encryptions=["A256GCM"]
        )
        assert result.plaintext == b"both"
