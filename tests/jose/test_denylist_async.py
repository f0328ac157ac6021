"""The JWT denylist from async code: ``JWTVerifier.averify``, ``arevoke``, ``acheck_not_revoked``.

An async one-time store (``AsyncRedisOneTimeStore``, ``AsyncPostgresOneTimeStore``) is
awaited, so an asyncio application's denylist lookup does not block its event loop; every
check and error is :meth:`JWTVerifier.verify`'s.  ``verify`` refuses to run with an async
denylist (an un-awaited ``contains`` would be a coroutine, not an answer).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from authcore.clock import FixedClock
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    ExpiredToken,
    InvalidClaim,
    InvalidSignature,
    MissingClaim,
    Revoked,
    StoreError,
)
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.jose.denylist import acheck_not_revoked, arevoke, check_not_revoked, revoke
from authcore.stores.memory import MemoryOneTimeStore
from tests.oauth.helpers import AsyncOneTime

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
KEY = JWK.from_secret(b"k" * 32, alg="HS256", kid="h")
OTHER = JWK.from_secret(b"o" * 32, alg="HS256", kid="h")
EXP = (T0 + HOUR).timestamp()


def _token(claims: dict[str, Any], key: JWK = KEY) -> str:
    return jwt.encode(claims, key)


def _run(call: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(call())  # type: ignore[arg-type]


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except AuthcoreError as exc:
        return (type(exc), str(exc))


def test_averify_awaits_an_async_denylist() -> None:
    """Accepted until revoked through the async store; then Revoked, as verify() would say."""
    store = AsyncOneTime()
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=store)
    token = _token({"jti": "t1", "exp": EXP, "sub": "alice"})

    async def run() -> None:
        claims = await verifier.averify(token, now=T0)
        assert claims["sub"] == "alice"
        await arevoke(store, claims, now=T0)
        assert store.adds == 1
        with pytest.raises(Revoked, match="denylist"):
            await verifier.averify(token, now=T0)
        other = _token({"jti": "t2", "exp": EXP})
        assert (await verifier.averify(other, now=T0))["jti"] == "t2"

    _run(run)
    # The revocation is in the store the async one wraps: a sync verifier over it agrees.
    with pytest.raises(Revoked):
        JWTVerifier(KEY, algorithms=["HS256"], denylist=store.sync).verify(token, now=T0)


def test_verify_refuses_an_async_denylist_and_leaves_no_coroutine() -> None:
    """verify() with an async denylist says to await averify(), before touching the store."""
    store = AsyncOneTime()
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=store)
    token = _token({"jti": "t", "exp": EXP})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ConfigurationError, match=r"async: await verifier\.averify"):
            verifier.verify(token, now=T0)
        gc.collect()
    assert [str(w.message) for w in caught] == []
    # A bad token is still refused for what it is, before the denylist is reached.
    with pytest.raises(InvalidSignature):
        verifier.verify(_token({"jti": "t", "exp": EXP}, OTHER), now=T0)


def test_one_shot_decode_refuses_an_async_denylist() -> None:
    """decode() can only verify synchronously, so it refuses an async store up front."""
    with pytest.raises(ConfigurationError, match="synchronous OneTimeStore"):
        jwt.decode(
            _token({"jti": "t", "exp": EXP}),
            KEY,
            algorithms=["HS256"],
            denylist=AsyncOneTime(),  # type: ignore[arg-type]
            now=T0,
        )


@pytest.mark.parametrize(
    "claims",
    [
        {"jti": "ok", "exp": EXP},
        {"jti": "old", "exp": T0.timestamp() - 1},
        {"exp": EXP},
        {"jti": "", "exp": EXP},
        {"jti": 7, "exp": EXP},
        {"jti": "revoked", "exp": EXP},
        {"jti": "revoked", "exp": T0.timestamp() - 1},
    ],
    ids=repr,
)
@pytest.mark.parametrize("kind", ["async", "sync", "none"])
def test_averify_decides_as_verify(claims: dict[str, Any], kind: str) -> None:
    """The same claims, or the same error, in the same order (claims before the denylist)."""
    sync_store = MemoryOneTimeStore()
    revoke(sync_store, {"jti": "revoked", "exp": EXP}, now=T0)
    async_store = AsyncOneTime()
    async_store.sync = sync_store
    denylist: Any = {"async": async_store, "sync": sync_store, "none": None}[kind]
    token = _token(claims)
    reference = JWTVerifier(
        KEY, algorithms=["HS256"], denylist=None if kind == "none" else sync_store
    )
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=denylist)
    expected = _outcome(lambda: reference.verify(token, now=T0))
    assert _outcome(lambda: _run(lambda: verifier.averify(token, now=T0))) == expected
    if kind != "none" and claims == {"jti": "revoked", "exp": EXP}:
        assert expected == (
            Revoked,
            str(Revoked("jti is on the denylist")),
        )  # the denylist is reached


def test_averify_reads_the_verifiers_clock() -> None:
    """Without now=, the claims and the denylist are checked at the verifier clock's time."""
    store = AsyncOneTime()
    clock = FixedClock(T0)
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=store, clock=clock)
    token = _token({"jti": "c", "exp": EXP})
    _run(lambda: arevoke(store, {"jti": "c", "exp": EXP}, now=T0))
    with pytest.raises(Revoked):
        _run(lambda: verifier.averify(token))
    clock.advance(2 * HOUR)
    with pytest.raises(ExpiredToken):
        _run(lambda: verifier.averify(token))


class AsyncAnswers:
    """An async store whose answers are not bools (a broken client wrapper)."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    async def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> Any:
        del key, expires_at, now
        return self.answer

    async def contains(self, key: str, *, now: dt.datetime) -> Any:
        del key, now
        return self.answer


@pytest.mark.parametrize("answer", [1, None, "yes"])
def test_async_answers_must_be_bools(answer: object) -> None:
    """A non-bool answer is a StoreError (fail closed), never read as 'not revoked'."""
    store = AsyncAnswers(answer)
    verifier = JWTVerifier(KEY, algorithms=["HS256"], denylist=store)
    token = _token({"jti": "t", "exp": EXP})
    with pytest.raises(StoreError, match="not a bool"):
        _run(lambda: verifier.averify(token, now=T0))
    with pytest.raises(StoreError, match="not a bool"):
        _run(lambda: arevoke(store, {"jti": "t", "exp": EXP}, now=T0))


def test_arevoke_checks_its_arguments_like_revoke() -> None:
    """The same refusals as revoke(), before the store is written; expired tokens are skipped."""
    store = AsyncOneTime()
    for bad_store in (None, object()):
        with pytest.raises(ConfigurationError, match="OneTimeStore"):
            _run(lambda s=bad_store: arevoke(s, {"jti": "t", "exp": EXP}))  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="jti"):
        _run(lambda: arevoke(store, {"exp": EXP}, now=T0))
    for leeway in (-1, True, float("nan"), "5"):
        with pytest.raises(ConfigurationError, match="leeway"):
            _run(lambda lw=leeway: arevoke(store, {"jti": "t", "exp": EXP}, now=T0, leeway=lw))  # type: ignore[misc]
    _run(lambda: arevoke(store, {"jti": "gone", "exp": T0.timestamp() - 1}, now=T0))
    assert store.adds == 0
    # A synchronous store is called as it is.
    sync = MemoryOneTimeStore()
    _run(lambda: arevoke(sync, {"jti": "s", "exp": EXP}, now=T0))
    with pytest.raises(Revoked):
        check_not_revoked(sync, {"jti": "s"}, now=T0)


def test_acheck_not_revoked_needs_a_jti_like_the_sync_check() -> None:
    store = AsyncOneTime()
    with pytest.raises(MissingClaim):
        _run(lambda: acheck_not_revoked(store, {}, now=T0))
    with pytest.raises(InvalidClaim):
        _run(lambda: acheck_not_revoked(store, {"jti": ["x"]}, now=T0))
    _run(lambda: acheck_not_revoked(store, {"jti": "free"}, now=T0))
