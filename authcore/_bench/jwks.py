"""JWT verification through a JWKS cache, against the same verifier over a static key set.

The floor here is authcore's own :class:`~authcore.jose.JWTVerifier` over a
:class:`~authcore.jose.KeySet` built once: what a service would run if its keys never
changed.  The cases put a :class:`~authcore.jose.jwks.JWKSCache` (the system clock, a warm
cache) between the verifier and the keys, optionally with a revocation check on a denylist
(:class:`~authcore.stores.memory.MemoryOneTimeStore`), and pyjwt's ``PyJWKClient`` with key caching
(its ``fetch_data`` replaced by a function returning the same JWKS, so nothing touches the
network).  The ratio shows what kid-aware caching costs per token.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from authcore._bench import Group
from authcore.clock import utc_now
from authcore.jose import JWK, JWTVerifier, KeySet, jwt
from authcore.jose.denylist import check_not_revoked, revoke
from authcore.jose.jwks import JWKSCache
from authcore.stores.memory import MemoryOneTimeStore

NAME = "jwks"


def _group(alg: str) -> Group:
    keys = [JWK.generate(alg, kid=f"{alg.lower()}-{i}") for i in range(3)]
    signing = keys[1]
    document = KeySet(key.public() for key in keys).to_dict()
    now = utc_now()
    claims = {"iss": "https://issuer.example", "sub": "user-1", "jti": "token-1"}
    token = jwt.encode({**claims, "exp": now + dt.timedelta(hours=2)}, signing)

    static = JWTVerifier(KeySet(key.public() for key in keys), algorithms=[alg])
    cache = JWKSCache(lambda: document, ttl=3600, cooldown=30)
    cached = JWTVerifier(cache, algorithms=[alg])
    denylist = MemoryOneTimeStore()
    revoke(denylist, {"jti": "other-token", "exp": (now + dt.timedelta(hours=1)).timestamp()})

    def floor() -> object:
        return static.verify(token)

    def with_cache() -> object:
        return cached.verify(token)

    def with_cache_and_denylist() -> object:
        verified = cached.verify(token)
        check_not_revoked(denylist, verified, now=utc_now())
        return verified

    cases: dict[str, Any] = {
        "authcore JWTVerifier(KeySet)": floor,
        "authcore JWTVerifier(JWKSCache)": with_cache,
        "authcore JWKSCache + denylist": with_cache_and_denylist,
    }
    expected = floor()
    for name, case in cases.items():
        if case() != expected:  # pragma: no cover - smoke check
            raise AssertionError(f"{name} returned different claims")
    peer = _pyjwt_case(document, token, alg)
    if peer is not None:
        if peer() != expected:  # pragma: no cover - smoke check
            raise AssertionError("pyjwt PyJWKClient returned different claims")
        cases["pyjwt PyJWKClient"] = peer
    return Group(
        name=f"JWT verify {alg} through a JWKS cache (3 keys)",
        floor="authcore JWTVerifier(KeySet)",
        reference=True,
        cases=cases,
        note="the same verifier over a static KeySet",
    )


def _pyjwt_case(document: dict[str, Any], token: str, alg: str) -> Any:  # noqa: ANN401
    try:
        pyjwt: Any = importlib.import_module("jwt")
    except ImportError:  # pragma: no cover - peer not installed
        return None

    class _Client(pyjwt.PyJWKClient):  # type: ignore[misc]
        def fetch_data(self) -> Any:  # noqa: ANN401 - pyjwt's signature
            return document

    client = _Client("https://issuer.example/jwks.json", cache_keys=True, lifespan=3600)

    def peer() -> object:
        key = client.get_signing_key_from_jwt(token)
        return pyjwt.decode(token, key.key, algorithms=[alg], options={"verify_aud": False})

    return peer


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - the suite protocol
    """ES256 always; EdDSA and RS256 too in full runs."""
    algs = ["ES256"] if quick else ["ES256", "EdDSA", "RS256"]
    return [_group(alg) for alg in algs]
