"""JWT denylist: revoke() and the verifier's check over a one-time store (memory and SQLite)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.clock import FixedClock
from authcore.errors import (
    ConfigurationError,
    ExpiredToken,
    InvalidClaim,
    MissingClaim,
    Revoked,
)
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.jose.denylist import KEY_PREFIX, _denylist_key, check_not_revoked, revoke
from authcore.onetime import MAX_KEY_LENGTH, OneTimeStore
from authcore.stores.memory import MemoryOneTimeStore
from authcore.stores.sqlite import SQLiteOneTimeStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
KEY = JWK.from_secret(b"k" * 32, alg="HS256", kid="h")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneTimeStore]:
    if request.param == "memory":
        yield MemoryOneTimeStore()
        return
    sqlite = SQLiteOneTimeStore(tmp_path / "deny.db")
    yield sqlite
    sqlite.close()


def test_keys_are_namespaced_digests_of_any_length() -> None:
    """The store key is 'jwt-deny:' + base64url(SHA-256(jti)), short for any jti length."""
    short, long = _denylist_key("a"), _denylist_key("x" * 100_000)
    assert short.startswith(KEY_PREFIX)
    assert len(short) == len(long) == len(KEY_PREFIX) + 43 <= MAX_KEY_LENGTH
    assert _denylist_key("\ud800") != _denylist_key("\ud801")


def test_revoke_denies_a_token_until_its_exp(store: OneTimeStore) -> None:
    """revoke(store, claims) records the jti until the token's exp, and no longer."""
    exp = (T0 + HOUR).timestamp() + 0.5
    revoke(store, {"jti": "t", "exp": exp}, now=T0)
    check_not_revoked(store, {"jti": "other"}, now=T0)
    with pytest.raises(Revoked) as info:
        check_not_revoked(store, {"jti": "t"}, now=exp - 0.001)
    assert info.value.reason == "jti is on the denylist"
    check_not_revoked(store, {"jti": "t"}, now=exp)


def test_revoke_outlives_exp_by_the_leeway(store: OneTimeStore) -> None:
    """With the verifier's leeway, the entry lasts as long as the verifier accepts the token."""
    exp = (T0 + HOUR).timestamp()
    revoke(store, {"jti": "t", "exp": exp}, now=T0, leeway=60)
    with pytest.raises(Revoked):
        check_not_revoked(store, {"jti": "t"}, now=exp + 59)
    check_not_revoked(store, {"jti": "t"}, now=exp + 61)


def test_revoke_accepts_now_as_seconds_and_skips_expired_tokens(store: OneTimeStore) -> None:
    """now= takes UNIX seconds; a token already expired is not recorded (nothing to deny)."""
    revoke(store, {"jti": "old", "exp": T0.timestamp() - 10}, now=T0.timestamp())
    check_not_revoked(store, {"jti": "old"}, now=T0.timestamp() - 20)
    revoke(store, {"jti": "new", "exp": T0.timestamp() + 10}, now=T0.timestamp())
    with pytest.raises(Revoked):
        check_not_revoked(store, {"jti": "new"}, now=T0)


@pytest.mark.parametrize("exp", [None, 253402300800, 1e15, 1e300, "soon"])
def test_tokens_without_a_usable_exp_stay_revoked(store: OneTimeStore, exp: object) -> None:
    """No exp, a year-10000 exp or 1e15 are revoked until the end of the storable range."""
    claims: dict[str, Any] = {"jti": "forever"}
    if exp is not None:
        claims["exp"] = exp
    revoke(store, claims, now=T0)
    with pytest.raises(Revoked):
        check_not_revoked(
            store, {"jti": "forever"}, now=dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)
        )


@pytest.mark.parametrize(
    ("claims", "options", "reason"),
    [
        ({"exp": 10}, {}, "jti"),
        ({"jti": "", "exp": 10}, {}, "jti"),
        ({"jti": 7, "exp": 10}, {}, "jti"),
        ({"jti": "t", "exp": 10}, {"leeway": -1}, "leeway"),
        ({"jti": "t", "exp": 10}, {"leeway": True}, "leeway"),
        ({"jti": "t", "exp": 10}, {"now": T0.replace(tzinfo=None)}, "now"),
    ],
)
def test_revoke_refuses_bad_arguments(
    claims: dict[str, Any], options: dict[str, Any], reason: str
) -> None:
    """A missing or empty jti, a negative leeway or a naive now are ConfigurationErrors."""
    with pytest.raises(ConfigurationError, match=reason):
        revoke(MemoryOneTimeStore(), claims, **options)


@pytest.mark.parametrize("store", [None, {"jti"}, "store"])
def test_revoke_needs_a_one_time_store(store: Any) -> None:
    """Anything but a OneTimeStore is refused, naming the type to use."""
    with pytest.raises(ConfigurationError, match="OneTimeStore"):
        revoke(store, {"jti": "t", "exp": 10})


def test_check_not_revoked_requires_a_string_jti() -> None:
    """The verifier's check refuses tokens without a non-empty string jti."""
    store = MemoryOneTimeStore()
    with pytest.raises(MissingClaim) as missing:
        check_not_revoked(store, {}, now=T0)
    assert missing.value.claim == "jti"
    for bad in (1, "", ["gone"]):
        with pytest.raises(InvalidClaim, match="jti is not a non-empty string"):
            check_not_revoked(store, {"jti": bad}, now=T0)


def test_the_store_is_shared_with_other_uses(tmp_path: Path) -> None:
    """Denylist keys live in their own namespace: a raw jti in the store is not a revocation."""
    store = SQLiteOneTimeStore(tmp_path / "shared.db")
    store.add("t", expires_at=T0 + HOUR, now=T0)
    check_not_revoked(store, {"jti": "t"}, now=T0)
    revoke(store, {"jti": "t", "exp": (T0 + HOUR).timestamp()}, now=T0)
    with pytest.raises(Revoked):
        check_not_revoked(store, {"jti": "t"}, now=T0)
    store.close()


# ----------------------------------------------------------------------------- verifier


def _token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, KEY)


def test_verifier_refuses_a_revoked_token_after_the_claims(store: OneTimeStore) -> None:
    """JWTVerifier(denylist=store) raises Revoked for a revoked jti, ExpiredToken once expired."""
    clock = FixedClock(T0)
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=store, clock=clock)
    token = _token({"jti": "j1", "exp": T0 + HOUR})
    claims = verifier.verify(token)
    revoke(store, claims, now=T0)
    with pytest.raises(Revoked):
        verifier.verify(token)
    assert verifier.verify(_token({"jti": "j2", "exp": T0 + HOUR}))["jti"] == "j2"
    clock.advance(HOUR)
    with pytest.raises(ExpiredToken):
        verifier.verify(token)


def test_verifier_refuses_a_denylist_that_is_not_a_store() -> None:
    """A denylist argument that is not a OneTimeStore is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="OneTimeStore"):
        JWTVerifier(KEY, algorithms=["HS256"], denylist={"jti"})  # type: ignore[arg-type]


# The verifier's accepted domain: any jti string, any JSON number as exp (up to 1e300 and years
# past 9999), any leeway; revoke() must be able to record every token it accepts.
_JTI = st.text(min_size=1, max_size=3000)
_EXP = st.one_of(
    st.integers(min_value=int(T0.timestamp()) - 3600, max_value=10**18),
    st.floats(min_value=T0.timestamp() - 3600, max_value=1e300, allow_nan=False),
    st.sampled_from([253402300800, 253402300800 * 10, 1e15]),
)
_LEEWAY = st.one_of(st.just(0), st.integers(min_value=0, max_value=7200))


def _accepted_then_revoked(store: OneTimeStore, jti: str, exp: float, leeway: int) -> None:
    verifier = JWTVerifier(KEY, algorithms=["HS256"], leeway=leeway, denylist=store)
    token = _token({"jti": jti, "exp": exp})
    try:
        claims = verifier.verify(token, now=T0)
    except ExpiredToken:
        return  # outside the accepted domain
    revoke(store, claims, now=T0, leeway=leeway)
    with pytest.raises(Revoked):
        verifier.verify(token, now=T0)


@settings(max_examples=150)
@given(jti=_JTI, exp=_EXP, leeway=_LEEWAY)
def test_every_token_the_verifier_accepts_can_be_revoked_in_memory(
    jti: str, exp: float, leeway: int
) -> None:
    """Property: whatever jti/exp the verifier accepts, revoke() records it and it is refused."""
    _accepted_then_revoked(MemoryOneTimeStore(), jti, exp, leeway)


@settings(max_examples=40)
@given(jti=_JTI, exp=_EXP, leeway=_LEEWAY)
def test_every_token_the_verifier_accepts_can_be_revoked_in_sqlite(
    tmp_path_factory: pytest.TempPathFactory, jti: str, exp: float, leeway: int
) -> None:
    """The same property over the SQLite store (what it can encode, it can revoke)."""
    store = SQLiteOneTimeStore(tmp_path_factory.mktemp("deny") / "d.db")
    try:
        _accepted_then_revoked(store, jti, exp, leeway)
    finally:
        store.close()
