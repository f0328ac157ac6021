"""Type-checked, never run: the JOSE API as users write it (see tests/typing/api_usage.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authcore.clock import FixedClock
from authcore.errors import VerificationError
from authcore.jose import JWK, JWTVerifier, KeyResolver, KeySet, VerifiedJWS, jws, jwt


def issue(key: JWK, now: dt.datetime) -> str:
    """Sign an access token."""
    return jwt.encode(
        {"sub": "u", "exp": now + dt.timedelta(minutes=5)}, key, headers={"typ": "at+jwt"}
    )


def build(jwks: dict[str, Any]) -> JWTVerifier:
    """Build a verifier from a published JWK Set."""
    keys: KeyResolver = KeySet.from_dict(jwks)
    return JWTVerifier(
        keys,
        algorithms=["ES256", "EdDSA"],
        issuer="https://issuer.example",
        audience=["api", "web"],
        typ="at+jwt",
        leeway=dt.timedelta(seconds=30),
        clock=FixedClock(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)),
    )


def check(verifier: JWTVerifier, token: str) -> str | None:
    """Return the subject, or None if refused."""
    try:
        claims: dict[str, Any] = verifier.verify(token)
    except VerificationError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


def raw(key: JWK, data: bytes) -> VerifiedJWS:
    """Sign and verify raw bytes."""
    token: str = jws.sign(data, key, detached=True)
    return jws.verify(token, key.public(), algorithms=["EdDSA"], detached_payload=data)


def thumbprints(keys: KeySet) -> list[str]:
    """The RFC 7638 thumbprints of a key set."""
    return [key.thumbprint() for key in keys]


def encryption_keys(password: bytes) -> tuple[JWK, JWK, JWK]:
    """Keys for JWE: an X25519 ECDH-ES key, a dir key named by its enc, a PBES2 password."""
    return (
        JWK.generate("ECDH-ES+A256KW", crv="X25519", kid="enc-1"),
        JWK.generate("A256GCM"),
        JWK.from_secret(password, alg="PBES2-HS512+A256KW"),
    )
