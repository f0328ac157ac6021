"""One unusable key does not take a published key set down (issue 12, item 7).

The sets are shaped like real providers' (Entra ID with ``x5c``/``x5t``/``issuer`` extras,
Keycloak with ``use: enc`` keys beside signing keys, Google and Auth0), each with one bad key
added: an RSA modulus under 2048 bits, a broken modulus, or a key refused for policy.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authcore._encoding import b64url_encode
from authcore.clock import FixedClock
from authcore.errors import FetchError, KeyNotFound
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.jose.jwks import AsyncJWKSCache, JWKSCache, SkippedKey, parse_jwks
from authcore.mtls._testpki import issue

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _int(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rsa(bits: int = 2048) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = key.public_key().public_numbers()
    return key, {"kty": "RSA", "n": _int(numbers.n), "e": _int(numbers.e)}


SIGNER, SIGNER_MEMBERS = _rsa()
SECOND, SECOND_MEMBERS = _rsa()
_, WEAK_MEMBERS = _rsa(1024)
CERT_DER = issue(
    "login.example",
    SIGNER,
    serial=7,
    not_before=T0 - dt.timedelta(days=1),
    not_after=T0 + dt.timedelta(days=365),
).public_bytes(serialization.Encoding.DER)
X5C = {
    "x5c": [base64.b64encode(CERT_DER).decode()],
    "x5t": b64url_encode(hashlib.sha1(CERT_DER).digest()),  # noqa: S324 - the JWK thumbprint
    "x5t#S256": b64url_encode(hashlib.sha256(CERT_DER).digest()),
}
PRIVATE_SIGNER = JWK.from_pem(
    SIGNER.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ),
    alg="RS256",
    kid="good",
)

BAD_KEYS: dict[str, tuple[dict[str, Any], str]] = {
    "weak": (WEAK_MEMBERS | {"kid": "legacy", "use": "sig"}, "1024 bits"),
    "broken-modulus": ({"kty": "RSA", "kid": "legacy", "n": "AQAB", "e": "AQAB"}, "RSA modulus"),
    "policy": (SECOND_MEMBERS | {"kid": "legacy", "alg": "RS1"}, "unknown alg"),
}


def entra(bad: dict[str, Any]) -> dict[str, Any]:
    """Entra ID: RSA signing keys with certificates and an issuer per key."""
    extras = {"use": "sig", "issuer": "https://login.example/tenant/v2.0"}
    good = SIGNER_MEMBERS | X5C | extras | {"kid": "good", "cloud_instance_name": "example"}
    return {"keys": [good, bad | extras]}


def keycloak(bad: dict[str, Any]) -> dict[str, Any]:
    """Keycloak: a signing key and an encryption key (``use: enc``) per realm."""
    signing = SIGNER_MEMBERS | X5C | {"kid": "good", "use": "sig", "alg": "RS256"}
    encryption = SECOND_MEMBERS | {"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}
    return {"keys": [signing, encryption, bad]}


def google(bad: dict[str, Any]) -> dict[str, Any]:
    """Google: bare RSA members with alg and use."""
    rotated = SECOND_MEMBERS | {"kid": "next", "alg": "RS256", "use": "sig"}
    return {"keys": [bad, SIGNER_MEMBERS | {"kid": "good", "alg": "RS256", "use": "sig"}, rotated]}


def auth0(bad: dict[str, Any]) -> dict[str, Any]:
    """Auth0: RSA keys with certificate chain and thumbprint."""
    good = SIGNER_MEMBERS | {"kid": "good", "use": "sig", "alg": "RS256"}
    return {"keys": [good | {"x5c": X5C["x5c"], "x5t": X5C["x5t"]}, bad]}


PROVIDERS = {"entra": entra, "keycloak": keycloak, "google": google, "auth0": auth0}


@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_one_bad_key_is_skipped_and_reported(provider: str, bad: str) -> None:
    """The good keys of a provider-shaped set load; the bad one is reported with its reason."""
    members, reason = BAD_KEYS[bad]
    reported: list[SkippedKey] = []
    keys = parse_jwks(PROVIDERS[provider](members), on_skip=reported.append)
    assert keys.get("good") is not None
    assert keys.get("legacy") is None
    assert [entry.kid for entry in reported] == ["legacy"]
    assert reason in reported[0].reason


@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_token_naming_a_skipped_kid_gets_key_not_found_saying_why(
    provider: str, bad: str
) -> None:
    """Tokens signed with the good key verify; one naming the skipped kid says why it fails."""
    members, reason = BAD_KEYS[bad]
    fetches: list[int] = []

    def fetch() -> dict[str, Any]:
        fetches.append(1)
        return PROVIDERS[provider](members)

    cache = JWKSCache(fetch, clock=FixedClock(T0))
    verifier = JWTVerifier(cache, algorithms=["RS256"], clock=FixedClock(T0))
    claims = {"sub": "alice", "exp": T0 + dt.timedelta(hours=1)}
    assert verifier.verify(jwt.encode(claims, PRIVATE_SIGNER))["sub"] == "alice"
    legacy = jwt.encode(claims, PRIVATE_SIGNER, headers={"kid": "legacy"})
    for _ in range(3):
        with pytest.raises(KeyNotFound, match=reason) as info:
            verifier.verify(legacy)
        assert "legacy" in info.value.reason
    assert len(fetches) == 1  # a skipped kid is known: it never triggers a refetch
    assert [entry.kid for entry in cache.status.skipped] == ["legacy"]


def test_the_cache_logs_and_reports_each_skipped_key_once(caplog: pytest.LogCaptureFixture) -> None:
    """A skipped key is logged (kid and reason) and passed to on_skip when first seen only."""
    clock = FixedClock(T0)
    reported: list[SkippedKey] = []
    cache = JWKSCache(lambda: google(BAD_KEYS["weak"][0]), clock=clock, on_skip=reported.append)
    with caplog.at_level(logging.WARNING, logger="authcore.jose.jwks"):
        cache.keys()
        clock.advance(dt.timedelta(hours=1))
        cache.keys()  # refetched (ttl passed): the same skipped key stays quiet
    assert cache.status.fetches == 2
    assert reported == [SkippedKey(kid="legacy", reason=reported[0].reason)]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "'legacy'" in messages[0]
    assert "1024 bits" in messages[0]


def test_parse_jwks_logs_without_a_callback(caplog: pytest.LogCaptureFixture) -> None:
    """Without on_skip, parse_jwks logs each skipped key as a warning."""
    with caplog.at_level(logging.WARNING, logger="authcore.jose.jwks"):
        keys = parse_jwks(auth0(BAD_KEYS["broken-modulus"][0]))
    assert [k.kid for k in keys] == ["good"]
    assert any("'legacy'" in r.getMessage() for r in caplog.records)


def test_a_failing_on_skip_callback_does_not_cost_the_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in the reporting hook is logged; the usable keys are still served."""

    def broken(_: SkippedKey) -> None:
        raise RuntimeError

    cache = JWKSCache(lambda: google(BAD_KEYS["weak"][0]), clock=FixedClock(T0), on_skip=broken)
    with caplog.at_level(logging.ERROR, logger="authcore.jose.jwks"):
        assert cache.get("good") is not None
    assert any("on_skip" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (PRIVATE_SIGNER.to_dict(private=True) | {"kid": "leak"}, "private key material"),
        ({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "h"}, "symmetric"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA", "kid": "p"}, "private"),
    ],
)
def test_private_or_symmetric_material_still_refuses_the_whole_set(
    extra: dict[str, Any], reason: str
) -> None:
    """A publisher leaking secrets is refused whole, even when the leaked key is broken."""
    with pytest.raises(FetchError, match=reason):
        parse_jwks(google(extra))


def test_a_set_of_only_unusable_keys_is_refused_with_the_reason() -> None:
    """With no usable key left the set is refused, and the reason names the first skip."""
    with pytest.raises(FetchError, match=r"no usable key \(2 skipped, first: .*1024 bits"):
        parse_jwks({"keys": [BAD_KEYS["weak"][0], BAD_KEYS["policy"][0] | {"kid": "other"}]})


def test_non_object_members_are_skipped() -> None:
    """A member that is not a JSON object is skipped and reported, not fatal."""
    reported: list[SkippedKey] = []
    keys = parse_jwks({"keys": [1, SIGNER_MEMBERS | {"kid": "good"}]}, on_skip=reported.append)
    assert [k.kid for k in keys] == ["good"]
    assert reported == [SkippedKey(kid=None, reason="not a JSON object")]


def test_async_cache_refuses_skipped_kids_too() -> None:
    """AsyncJWKSCache: aget and the synchronous get raise KeyNotFound for a skipped kid."""

    async def fetch() -> dict[str, Any]:
        return keycloak(BAD_KEYS["weak"][0])

    async def scenario() -> None:
        cache = AsyncJWKSCache(fetch, clock=FixedClock(T0))
        assert await cache.aget("enc-1") is not None
        with pytest.raises(KeyNotFound, match="1024 bits"):
            await cache.aget("legacy")
        with pytest.raises(KeyNotFound, match="1024 bits"):
            cache.get("legacy")
        assert cache.get("unknown") is None

    asyncio.run(scenario())


@pytest.mark.parametrize("kty", [{}, [], ["EC"], 1])
def test_a_non_string_kty_is_skipped_not_a_crash(kty: object) -> None:
    """A published key whose ``kty`` is a list or object is skipped with a reason.

    ``kty in {...}`` on a list raised a bare TypeError from the JWKS download (found by
    fuzzing); an absent ``kty`` is still an unknown type, ignored silently (RFC 7517).
    """
    good = JWK.generate("ES256", kid="good").public().to_dict()
    seen: list[SkippedKey] = []
    keys = parse_jwks({"keys": [{"kty": kty, "kid": "odd"}, good]}, on_skip=seen.append)
    assert [k.kid for k in keys] == ["good"]
    assert seen == [SkippedKey(kid="odd", reason="JWK member 'kty' is not a string")]
    assert parse_jwks({"keys": [{"kid": "no-kty"}, good]}, on_skip=seen.append)
    assert len(seen) == 1
