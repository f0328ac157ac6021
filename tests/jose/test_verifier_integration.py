"""JWTVerifier(denylist=...): revocation checked after the signature and the claims verify."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from authcore.clock import FixedClock
from authcore.errors import (
    ConfigurationError,
    ExpiredToken,
    InvalidSignature,
    MissingClaim,
    Revoked,
)
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.jose.denylist import revoke
from authcore.jose.jwks import JWKSCache
from authcore.jose.keyring import KeyRing
from authcore.stores.memory import MemoryOneTimeStore
from authcore.stores.sqlite import SQLiteOneTimeStore

if TYPE_CHECKING:
    from pathlib import Path


T0 = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
KEY = JWK.generate("ES256", kid="sig-1")
OTHER = JWK.generate("ES256", kid="sig-1")


class SpyDenylist:
    """A one-time store that records every lookup."""

    def __init__(self) -> None:
        self.inner = MemoryOneTimeStore()
        self.lookups: list[str] = []

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        return self.inner.add(key, expires_at=expires_at, now=now)

    def contains(self, key: str, *, now: dt.datetime) -> bool:
        self.lookups.append(key)
        return self.inner.contains(key, now=now)


def deny(store: Any, jti: str, until: dt.datetime) -> None:
    """Revoke the token with this jti until ``until``."""
    revoke(store, {"jti": jti, "exp": until.timestamp()}, now=T0)


def make(keys: Any, denylist: Any, **options: Any) -> JWTVerifier:
    """JWTVerifier(keys, algorithms=["ES256"], denylist=denylist, **options)."""
    # Through **options so the module type-checks before and after the patch.
    options["denylist"] = denylist
    return JWTVerifier(keys, algorithms=["ES256"], **options)


def verifier(denylist: Any, clock: FixedClock) -> JWTVerifier:
    return make(KEY, denylist, clock=clock)


def token(jti: str | None = "j1", *, key: JWK = KEY, exp: dt.datetime | None = None) -> str:
    claims: dict[str, Any] = {"sub": "u", "exp": exp or T0 + dt.timedelta(hours=1)}
    if jti is not None:
        claims["jti"] = jti
    return jwt.encode(claims, key)


def test_revoked_token_raises_revoked() -> None:
    """A token whose jti is denied fails with Revoked; others verify."""
    clock = FixedClock(T0)
    denylist = MemoryOneTimeStore()
    check = verifier(denylist, clock)
    assert check.verify(token("j1"))["jti"] == "j1"
    deny(denylist, "j1", T0 + dt.timedelta(hours=1))
    with pytest.raises(Revoked) as info:
        check.verify(token("j1"))
    assert info.value.reason == "jti is on the denylist"
    assert check.verify(token("j2"))["jti"] == "j2"


def test_denylist_is_consulted_only_after_the_signature_verifies() -> None:
    """A forged token never reaches the denylist: the signature fails first."""
    clock = FixedClock(T0)
    spy = SpyDenylist()
    deny(spy, "j1", T0 + dt.timedelta(hours=1))
    check = verifier(spy, clock)
    with pytest.raises(InvalidSignature):
        check.verify(token("j1", key=OTHER))
    assert spy.lookups == []


def test_claims_are_checked_before_the_denylist() -> None:
    """An expired revoked token reports ExpiredToken, and the denylist is not asked."""
    clock = FixedClock(T0)
    spy = SpyDenylist()
    deny(spy, "j1", T0 + dt.timedelta(days=1))
    check = verifier(spy, clock)
    clock.advance(dt.timedelta(hours=2))
    with pytest.raises(ExpiredToken):
        check.verify(token("j1"))
    assert spy.lookups == []


def test_tokens_need_a_jti_when_a_denylist_is_set() -> None:
    """Without jti a token could never be revoked: it is refused with MissingClaim(jti)."""
    with pytest.raises(MissingClaim) as info:
        verifier(MemoryOneTimeStore(), FixedClock(T0)).verify(token(None))
    assert info.value.claim == "jti"


def test_verify_now_is_used_for_the_denylist() -> None:
    """An explicit now decides whether an entry is still active."""
    denylist = MemoryOneTimeStore()
    deny(denylist, "j1", T0 + dt.timedelta(minutes=10))
    check = make(KEY, denylist)
    with pytest.raises(Revoked):
        check.verify(token("j1"), now=T0)
    assert check.verify(token("j1"), now=T0 + dt.timedelta(minutes=10))["jti"] == "j1"


def test_sqlite_denylist_with_a_jwks_cache_and_a_key_ring(tmp_path: Path) -> None:
    """The whole lifecycle: issuer ring, verifier cache, persistent revocation."""
    clock = FixedClock(T0)
    ring = KeyRing.create(KEY, clock=clock)
    cache = JWKSCache(ring.jwks, clock=clock)
    denylist = SQLiteOneTimeStore(tmp_path / "revoked.db")
    check = make(cache, denylist, clock=clock)
    issued = ring.sign_jwt({"jti": "abc", "exp": T0 + dt.timedelta(hours=1)})
    assert check.verify(issued)["jti"] == "abc"
    deny(denylist, "abc", T0 + dt.timedelta(hours=1))
    with pytest.raises(Revoked):
        check.verify(issued)
    denylist.close()


def test_denylist_must_be_a_denylist() -> None:
    """Anything without add/contains/purge is a configuration error."""
    with pytest.raises(ConfigurationError, match="denylist"):
        make(KEY, {"j1"})
