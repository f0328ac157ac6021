"""One regression test per known JOSE attack class (JWS, JWT, JWE), named after the attack.

Each JWS/JWT test forges the attacker's token byte by byte (never through authcore's signer,
which would refuse to produce it) and checks that verification raises a typed authcore error;
the JWE tests below tamper with real tokens the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import struct
import tracemalloc
import zlib
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore._encoding import b64url_decode, b64url_encode, json_dumps
from authcore.errors import (
    AlgorithmNotAllowed,
    AuthcoreError,
    DecodeError,
    DecryptionFailed,
    InvalidKeyError,
    InvalidSignature,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlgorithm,
    VerificationError,
)
from authcore.jose import JWK, JWTVerifier, KeySet, _jwe_algs, jwe, jws, jwt
from authcore.jose._jwe_algs import FAILED
from authcore.jose._jwk import key_material
from tests.jose.jwe_keys import curve_key, key_for, oct_key, rsa_key

NOW: Final = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
EXP: Final = int(NOW.timestamp()) + 600
CLAIMS: Final[dict[str, Any]] = {"sub": "alice", "exp": EXP}
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_hs256(header: bytes | dict[str, Any], payload: bytes, secret: bytes) -> str:
    """A compact JWS with the literal header bytes, MACed with ``secret``."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    signing_input = f"{b64(head)}.{b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def claims_bytes() -> bytes:
    return json.dumps(CLAIMS).encode()


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def hs_key() -> JWK:
    return JWK.from_secret(b"k" * 32, alg="HS256", kid="hs")


# ----------------------------------------------------------------------------- alg none


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "noNe"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_in_any_casing(hs_key: JWK, alg: str, signature: str) -> None:
    """The alg none, in any casing, with or without a signature, is never accepted."""
    token = f"{b64(json.dumps({'alg': alg}).encode())}.{b64(claims_bytes())}.{signature}"
    with pytest.raises(AlgorithmNotAllowed, match="none"):
        jws.verify(token, hs_key, algorithms=["HS256"])
    with pytest.raises(AlgorithmNotAllowed, match="none"):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(token, now=NOW)


@pytest.mark.parametrize("alg", ["none", "NONE"])
def test_alg_none_cannot_be_configured(hs_key: JWK, alg: str) -> None:
    """Asking for none (in any casing) is a configuration error, and no key can be bound to it."""
    with pytest.raises(UnsupportedAlgorithm):
        JWTVerifier(hs_key, algorithms=[alg])
    with pytest.raises(UnsupportedAlgorithm):
        JWK.generate(alg)
    with pytest.raises(UnsupportedAlgorithm):
        JWK.from_dict({"kty": "oct", "k": b64(b"k" * 32), "alg": alg})


# ----------------------------------------------------------------------------- algorithm confusion


def _public_encodings(public: Any) -> dict[str, bytes]:
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encodings = {
        "pem": pem,
        "pem-no-newline": pem.rstrip(b"\n"),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "ssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    }
    if isinstance(public, rsa.RSAPublicKey):
        encodings["pkcs1-pem"] = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
        encodings["pkcs1-der"] = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
    return encodings


def _asymmetric_keys(rsa_private: rsa.RSAPrivateKey) -> list[tuple[str, Any]]:
    return [
        ("RS256", rsa_private),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
    ]


@pytest.mark.parametrize("bound", [True, False], ids=["bound", "unbound"])
def test_algorithm_confusion_hs256_with_public_key_bytes(
    rsa_private: rsa.RSAPrivateKey, bound: bool
) -> None:
    """HS256 tokens MACed with a public key's PEM/DER/SSH/PKCS#1/JWK bytes are refused."""
    for alg, private in _asymmetric_keys(rsa_private):
        pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public = JWK.from_pem(pem, alg=alg if bound else None)
        secrets = _public_encodings(private.public_key())
        secrets["jwk-json"] = json.dumps(public.to_dict()).encode()
        secrets["jwk-json-sorted"] = json.dumps(public.to_dict(), sort_keys=True).encode()
        for label, secret in secrets.items():
            token = forge_hs256({"alg": "HS256", "typ": "JWT"}, claims_bytes(), secret)
            # Even a caller who (wrongly) allows both families gets no HMAC key.
            with pytest.raises(KeyNotFound):
                jws.verify(token, public, algorithms=["HS256", alg])
            with pytest.raises(KeyNotFound):
                JWTVerifier(public, algorithms=["HS256", alg]).verify(token, now=NOW)
            # And no-one can turn those bytes into an HMAC key by mistake.
            with pytest.raises(InvalidKeyError, match="encoded key"):
                JWK.from_secret(secret, alg="HS256")
            assert label


def test_algorithm_confusion_mixed_key_set_is_refused(rsa_private: rsa.RSAPrivateKey) -> None:
    """A key set cannot mix a symmetric key with asymmetric ones (the confusion precondition)."""
    pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyError, match="mix"):
        KeySet([JWK.from_pem(pem, kid="rsa"), JWK.from_secret(b"s" * 32, alg="HS256", kid="h")])


def test_algorithm_swap_within_family_pss_key_used_for_pkcs1(
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    """A key bound to PS256 does not verify an RS256 token from the same RSA key."""
    signer = JWK.from_pem(
        rsa_private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        alg="RS256",
    )
    token = jwt.encode(CLAIMS, signer)
    pss_bound = JWK.from_dict({**signer.public().to_dict(), "alg": "PS256"})
    with pytest.raises(KeyNotFound):
        JWTVerifier(pss_bound, algorithms=["RS256", "PS256"]).verify(token, now=NOW)
    with pytest.raises(KeyNotFound):
        jws.verify(token, pss_bound, algorithms=["RS256", "PS256"])


# ----------------------------------------------------------------------------- JWE confusion


def test_jwe_handed_to_jws_verifier(hs_key: JWK) -> None:
    """A five-segment JWE, or a JWS-shaped token with enc, is refused by JWS and JWT verifiers."""
    jwe = ".".join(
        [b64(json.dumps({"alg": "dir", "enc": "A128GCM"}).encode()), "", "aXY", "Y3Q", "dGFn"]
    )
    with pytest.raises(MalformedToken, match="JWE"):
        jws.verify(jwe, hs_key, algorithms=["HS256"])
    with pytest.raises(MalformedToken, match="JWE"):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(jwe, now=NOW)
    shaped = forge_hs256({"alg": "HS256", "enc": "A128GCM"}, claims_bytes(), b"k" * 32)
    with pytest.raises(MalformedToken, match="enc"):
        jws.verify(shaped, hs_key, algorithms=["HS256"])


# ----------------------------------------------------------------------------- embedded keys


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_embedded_header_key_is_never_used(member: str) -> None:
    """Header jwk/jku/x5u/x5c never select a key: the attacker's own key is ignored."""
    legit = JWK.generate("ES256", kid="legit")
    attacker = JWK.generate("ES256", kid="legit")
    values: dict[str, object] = {
        "jwk": attacker.public().to_dict(),
        "jku": "http://127.0.0.1:9/jwks.json",
        "x5u": "http://127.0.0.1:9/cert.pem",
        "x5c": ["MIIB"],
    }
    token = jws.sign(claims_bytes(), attacker, headers={member: values[member]})
    with pytest.raises(InvalidSignature):
        jws.verify(token, legit.public(), algorithms=["ES256"])
    with pytest.raises(InvalidSignature):
        JWTVerifier(legit.public(), algorithms=["ES256"]).verify(token, now=NOW)


@pytest.mark.parametrize(
    "kid", ["../../../../dev/null", "/etc/passwd", "' OR '1'='1", "hs\x00", "HS", " hs"]
)
def test_kid_is_opaque_path_like_kids_are_unknown(hs_key: JWK, kid: str) -> None:
    """The kid is compared by exact equality: path-like or injected kids are simply unknown."""
    token = forge_hs256({"alg": "HS256", "kid": kid}, claims_bytes(), b"k" * 32)
    with pytest.raises(KeyNotFound):
        jws.verify(token, KeySet([hs_key]), algorithms=["HS256"])


def test_kid_must_be_a_string(hs_key: JWK) -> None:
    """A non-string kid is malformed, not coerced."""
    token = forge_hs256({"alg": "HS256", "kid": 1}, claims_bytes(), b"k" * 32)
    with pytest.raises(MalformedToken, match="kid"):
        jws.verify(token, hs_key, algorithms=["HS256"])


# ----------------------------------------------------------------------------- crit


@pytest.mark.parametrize(
    ("crit", "reason"),
    [
        (["http://example.com/UNDEFINED"], "unsupported extension"),
        ([], "non-empty"),
        ("b64", "non-empty array"),
        (["alg"], "registered header"),
        (["b64"], "lacks it"),
        (["b64", "b64"], "distinct"),
    ],
)
def test_crit_unknown_empty_or_invalid(hs_key: JWK, crit: object, reason: str) -> None:
    """A crit listing unknown, registered or absent extensions, or empty/invalid, is refused."""
    token = forge_hs256({"alg": "HS256", "crit": crit}, claims_bytes(), b"k" * 32)
    with pytest.raises(MalformedToken, match=reason):
        jws.verify(token, hs_key, algorithms=["HS256"])


def test_crit_unprotected_is_refused(hs_key: JWK) -> None:
    """A crit (or b64) in the unprotected header of a JSON JWS are refused."""
    good = jws.sign_json(b"payload", hs_key, flattened=True)
    for extra in ({"crit": ["b64"], "b64": True}, {"b64": True}):
        forged = {**good, "header": extra}
        with pytest.raises(MalformedToken, match="protected"):
            jws.verify_json(forged, hs_key, algorithms=["HS256"])


def test_b64_false_without_crit_is_refused(hs_key: JWK) -> None:
    """b64: false is honoured only when listed in crit (RFC 7797 section 6)."""
    head = json.dumps({"alg": "HS256", "b64": False}).encode()
    signing_input = f"{b64(head)}.payload".encode()
    mac = hmac.new(b"k" * 32, signing_input, hashlib.sha256).digest()
    with pytest.raises(MalformedToken, match="crit"):
        jws.verify(f"{signing_input.decode()}.{b64(mac)}", hs_key, algorithms=["HS256"])


# ----------------------------------------------------------------------------- ECDSA signatures


def _es256_token(r: int, s: int, size: int = 32) -> str:
    head = b64(json.dumps({"alg": "ES256"}).encode()) + "." + b64(claims_bytes())
    sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{head}.{b64(sig)}"


def test_ecdsa_signature_wrong_length_zero_or_out_of_range() -> None:
    """ECDSA signatures of the wrong length, all zero, or with r or s >= n are refused."""
    private = ec.generate_private_key(ec.SECP256R1())
    key = JWK.from_pem(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    head = b64(json.dumps({"alg": "ES256"}).encode()) + "." + b64(claims_bytes())
    der = private.sign(head.encode(), ec.ECDSA(hashes_sha256()))
    r, s = decode_dss_signature(der)
    good = _es256_token(r, s)
    assert jws.verify(good, key, algorithms=["ES256"]).payload == claims_bytes()
    bad = {
        "der-encoded": f"{head}.{b64(der)}",
        "short": f"{head}.{b64((r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))[:-1])}",
        "long": f"{head}.{b64(r.to_bytes(33, 'big') + s.to_bytes(32, 'big'))}",
        "zero": _es256_token(0, 0),
        "r-zero": _es256_token(0, s),
        "s-zero": _es256_token(r, 0),
        "r-is-n": _es256_token(P256_ORDER, s),
        "s-is-n": _es256_token(r, P256_ORDER),
        "r-plus-n": _es256_token(r + P256_ORDER, s, size=33),
        "empty": f"{head}.",
    }
    for label, token in bad.items():
        with pytest.raises(InvalidSignature):
            jws.verify(token, key, algorithms=["ES256"])
        assert label


def hashes_sha256() -> Any:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    return hashes.SHA256()


# ----------------------------------------------------------------------------- base64url


def test_non_canonical_or_padded_base64url(hs_key: JWK) -> None:
    """Padded, non-canonical (unused bits set), or non-alphabet base64url is refused."""
    good = jwt.encode(CLAIMS, hs_key)
    head, payload, sig = good.split(".")
    # The MAC is 32 bytes: 43 characters, the last carries 2 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    noncanonical = sig[:-1] + alphabet[last | 1]
    variants = {
        "padded-signature": f"{head}.{payload}.{sig}=",
        "noncanonical-signature": f"{head}.{payload}.{noncanonical}",
        "standard-alphabet": f"{head}.{payload}.{sig.replace('-', '+').replace('_', '/')}",
        "whitespace": f"{head}.{payload}.{sig[:10]} {sig[10:]}",
        "padded-header": f"{head}==.{payload}.{sig}",
    }
    verifier = JWTVerifier(hs_key, algorithms=["HS256"])
    assert verifier.verify(good, now=NOW) == CLAIMS
    for label, token in variants.items():
        if token == good:  # standard-alphabet when sig has no - or _
            continue
        with pytest.raises(DecodeError):
            jws.verify(token, hs_key, algorithms=["HS256"])
        with pytest.raises(DecodeError):
            verifier.verify(token, now=NOW)
        assert label


# ----------------------------------------------------------------------------- duplicate names


def test_duplicate_member_names_in_header(hs_key: JWK) -> None:
    """A header repeating a member name (alg twice) is refused."""
    head = b'{"alg":"HS256","alg":"none"}'
    token = forge_hs256(head, claims_bytes(), b"k" * 32)
    with pytest.raises(DecodeError, match="duplicate"):
        jws.verify(token, hs_key, algorithms=["HS256"])
    with pytest.raises(DecodeError, match="duplicate"):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(token, now=NOW)


def test_duplicate_member_names_in_payload(hs_key: JWK) -> None:
    """Claims repeating a member name (sub twice) are refused, even with a valid MAC."""
    payload = b'{"sub":"alice","exp":%d,"sub":"admin"}' % EXP
    token = forge_hs256({"alg": "HS256"}, payload, b"k" * 32)
    verifier = JWTVerifier(hs_key, algorithms=["HS256"])
    for _ in range(2):  # cold, then with the header cached
        with pytest.raises(DecodeError, match="duplicate"):
            verifier.verify(token, now=NOW)


# ----------------------------------------------------------------------------- size and shape


def test_token_size_cap_applied_before_any_work(hs_key: JWK) -> None:
    """Tokens over the cap (16 KiB default, configurable) fail with TokenTooLarge first."""
    huge = "\u00e9" * (16 * 1024 + 1)  # not even ASCII: the size check comes first
    with pytest.raises(TokenTooLarge):
        jws.verify(huge, hs_key, algorithms=["HS256"])
    with pytest.raises(TokenTooLarge):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(huge, now=NOW)
    with pytest.raises(TokenTooLarge):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(huge.encode(), now=NOW)
    token = jwt.encode(CLAIMS, hs_key)
    with pytest.raises(TokenTooLarge):
        JWTVerifier(hs_key, algorithms=["HS256"], max_size=len(token) - 1).verify(token, now=NOW)
    assert JWTVerifier(hs_key, algorithms=["HS256"], max_size=len(token)).verify(token, now=NOW)


def test_megabyte_of_dots_rejected(hs_key: JWK) -> None:
    """A megabyte of dots is refused as malformed (one C-level count, no splitting work)."""
    dots = "." * 1_000_000
    with pytest.raises(MalformedToken, match="segments"):
        jws.verify(dots, hs_key, algorithms=["HS256"], max_size=2_000_000)
    with pytest.raises(MalformedToken, match="segments"):
        JWTVerifier(hs_key, algorithms=["HS256"], max_size=2_000_000).verify(dots, now=NOW)
    with pytest.raises(TokenTooLarge):
        JWTVerifier(hs_key, algorithms=["HS256"]).verify(dots, now=NOW)


@pytest.mark.parametrize("where", ["header", "payload"])
def test_deeply_nested_json(hs_key: JWK, where: str) -> None:
    """Deeply nested JSON in the header or payload is a DecodeError, never a RecursionError."""
    nested = b'{"alg":"HS256","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    claims = b'{"exp":1,"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    token = (
        forge_hs256(nested, claims_bytes(), b"k" * 32)
        if where == "header"
        else forge_hs256({"alg": "HS256"}, claims, b"k" * 32)
    )
    with pytest.raises(DecodeError, match="nested"):
        JWTVerifier(hs_key, algorithms=["HS256"], max_size=100_000).verify(token, now=NOW)


def test_numeric_date_must_be_a_number(hs_key: JWK) -> None:
    """exp/nbf/iat as bool, string or null are refused (NaN/Infinity cannot even parse)."""
    verifier = JWTVerifier(hs_key, algorithms=["HS256"])
    for value in (b"true", b'"2000000000"', b"null", b"[1]"):
        token = forge_hs256({"alg": "HS256"}, b'{"exp":' + value + b"}", b"k" * 32)
        with pytest.raises(VerificationError):
            verifier.verify(token, now=NOW)
    for value in (b"NaN", b"Infinity", b"1e400"):
        token = forge_hs256({"alg": "HS256"}, b'{"exp":' + value + b"}", b"k" * 32)
        with pytest.raises(DecodeError):
            verifier.verify(token, now=NOW)


# ----------------------------------------------------------------------------- fuzz


_TOKEN_CHARS: Final = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u00e9\x00",
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(_TOKEN_CHARS, st.binary(max_size=200)))
def test_only_authcore_errors_escape(token: str | bytes) -> None:
    """Arbitrary input to every verifier raises an AuthcoreError, nothing else."""
    key = JWK.from_secret(b"k" * 32, alg="HS256")
    verifier = JWTVerifier(key, algorithms=["HS256"])
    for call in (
        lambda: jws.verify(token, key, algorithms=["HS256"]),
        lambda: verifier.verify(token, now=NOW),
        lambda: jwt.decode_unverified(token),
        lambda: jws.verify_json(token, key, algorithms=["HS256"]),
    ):
        with pytest.raises(AuthcoreError):
            call()


@settings(max_examples=300, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "crit", "b64", "typ", "enc", "jwk", "x"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=5,
    ),
    payload=st.binary(max_size=60),
)
def test_forged_headers_raise_typed_errors(header: dict[str, Any], payload: bytes) -> None:
    """Forged headers with valid MACs either verify or raise an authcore VerificationError."""
    key = JWK.from_secret(b"k" * 32, alg="HS256")
    token = forge_hs256(header, payload, b"k" * 32)
    verifier = JWTVerifier(key, algorithms=["HS256"], required=())
    try:
        result = jws.verify(token, key, algorithms=["HS256"])
    except VerificationError:
        pass
    else:
        assert result.header["alg"] == "HS256"
    try:
        verifier.verify(token, now=NOW)
    except VerificationError:
        pass


# ----------------------------------------------------------------------------- JWE

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
    # The tag as RFC 7518 section 5.2.2.1 defines it, computed here independently.
    al = struct.pack(">Q", len(header) * 8)
    tag = hmac.digest(secret[:16], header.encode() + iv + ct + al, "sha256")[:16]
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
