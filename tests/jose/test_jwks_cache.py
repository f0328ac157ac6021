"""JWKSCache and AsyncJWKSCache: cooldown, stale-while-error, single flight, validation."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.clock import FixedClock
from authcore.errors import ConfigurationError, DecodeError, FetchError, MalformedToken
from authcore.jose import JWK, JWTVerifier, KeyResolver, jws, jwt
from authcore.jose.jwks import AsyncJWKSCache, JWKSCache, parse_jwks, run_in_thread

if TYPE_CHECKING:
    from collections.abc import Mapping

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
KEY_A = JWK.generate("EdDSA", kid="a")
KEY_B = JWK.generate("EdDSA", kid="b")
KEY_C = JWK.generate("ES256", kid="c")


RENAMED_B = {**KEY_B.public().to_dict(), "kid": "a"}


def jwks(*keys: JWK) -> dict[str, Any]:
    """The public JWKS of ``keys``."""
    return {"keys": [key.public().to_dict() for key in keys]}


class Source:
    """A scripted fetch: serves ``document`` (or raises ``error``) and records call times."""

    def __init__(self, clock: FixedClock, document: Mapping[str, Any] | bytes) -> None:
        self.clock = clock
        self.document: Mapping[str, Any] | bytes = document
        self.error: Exception | None = None
        self.calls: list[dt.datetime] = []

    def __call__(self) -> Mapping[str, Any] | bytes:
        self.calls.append(self.clock.now())
        if self.error is not None:
            raise self.error
        return self.document

    async def async_call(self) -> Mapping[str, Any] | bytes:
        await asyncio.sleep(0)
        return self()


def make(
    document: Mapping[str, Any] | bytes | None = None, **options: Any
) -> tuple[JWKSCache, Source, FixedClock]:
    clock = FixedClock(T0)
    source = Source(clock, jwks(KEY_A) if document is None else document)
    return JWKSCache(source, clock=clock, **options), source, clock


# ----------------------------------------------------------------------------- basic behaviour


def test_cache_is_a_key_resolver_and_serves_from_memory() -> None:
    """The first lookup fetches; later lookups within ttl do not."""
    cache, source, clock = make()
    assert isinstance(cache, KeyResolver)
    assert cache.get("a") == KEY_A.public()
    clock.advance(599)
    for _ in range(100):
        assert cache.get("a") == KEY_A.public()
    assert [k.kid for k in cache] == ["a"]
    assert len(source.calls) == 1


def test_ttl_expiry_refreshes_and_picks_up_new_keys() -> None:
    """After ttl the next lookup refetches and sees the new set."""
    cache, source, clock = make(ttl=60, cooldown=10)
    assert cache.get("a") is not None
    source.document = jwks(KEY_B)
    clock.advance(60)
    assert cache.get("b") == KEY_B.public()
    assert cache.get("a") is None
    assert len(source.calls) == 2


def test_unknown_kid_refetches_only_after_cooldown() -> None:
    """A kid that appears at the issuer is found once the cooldown since the last fetch ends."""
    cache, source, clock = make(cooldown=30)
    assert cache.get("a") is not None
    source.document = jwks(KEY_A, KEY_B)
    clock.advance(29)
    assert cache.get("b") is None  # still cooling down: no fetch
    assert len(source.calls) == 1
    clock.advance(1)
    assert cache.get("b") == KEY_B.public()
    assert len(source.calls) == 2


def test_many_random_unknown_kids_cause_one_fetch_per_cooldown() -> None:
    """Thousands of tokens with random kids cost one fetch per cooldown window."""
    cache, source, clock = make(cooldown=30, ttl=600)
    for step in range(10):
        for _ in range(500):
            assert cache.get(secrets.token_urlsafe(8)) is None
        assert len(source.calls) == step + 1
        clock.advance(30)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.floats(min_value=0, max_value=50), st.sampled_from(["a", "b", "x", None])),
        max_size=60,
    ),
    cooldown=st.integers(min_value=1, max_value=40),
)
def test_fetches_are_never_closer_than_the_cooldown(
    events: list[tuple[float, str | None]], cooldown: int
) -> None:
    """Whatever the mix of lookups and time steps, two fetches are a cooldown apart."""
    cache, source, clock = make(cooldown=cooldown, ttl=max(cooldown, 45))
    for step, kid in events:
        clock.advance(step)
        if kid is None:
            list(cache)
        else:
            cache.get(kid)
    gaps = [b - a for a, b in zip(source.calls, source.calls[1:], strict=False)]
    assert all(gap >= dt.timedelta(seconds=cooldown) for gap in gaps)


def test_refresh_respects_the_cooldown() -> None:
    """An explicit refresh fetches, unless a fetch was attempted within the cooldown."""
    cache, source, clock = make(cooldown=30)
    cache.refresh()
    cache.refresh()
    assert len(source.calls) == 1
    clock.advance(30)
    assert cache.refresh().get("a") is not None
    assert len(source.calls) == 2


def test_clock_moving_backwards_does_not_block_fetching() -> None:
    """A clock set back before the last attempt does not leave the cache cooling forever."""
    cache, source, clock = make(cooldown=30)
    source.error = FetchError("down")
    with pytest.raises(FetchError):
        cache.keys()
    clock.set(T0 - dt.timedelta(hours=1))
    source.error = None
    assert cache.keys().get("a") is not None
    assert len(source.calls) == 2


# ----------------------------------------------------------------------------- stale-while-error


@pytest.mark.parametrize(
    "failure",
    [
        FetchError("HTTP status 500"),
        RuntimeError("client bug"),
        OSError("network unreachable"),
    ],
)
def test_fetch_failure_after_success_keeps_serving_old_keys(failure: Exception) -> None:
    """A failing refresh keeps the previous keys and records why."""
    cache, source, clock = make(ttl=60, cooldown=10)
    assert cache.get("a") is not None
    source.error = failure
    clock.advance(61)
    assert cache.get("a") == KEY_A.public()
    assert len(source.calls) == 2
    status = cache.status
    assert status.failures == 1
    assert status.last_error is not None
    assert status.fetched_at == T0
    # Retries happen once per cooldown, and success clears the failure.
    assert cache.get("a") is not None
    assert len(source.calls) == 2
    clock.advance(10)
    source.error = None
    source.document = jwks(KEY_A, KEY_B)
    assert cache.get("b") is not None
    assert cache.status.failures == 0
    assert cache.status.last_error is None


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"[]", "not a JSON object"),
        ({"keys": [KEY_A.to_dict(private=True)]}, "private key material"),
        (
            {"keys": [{**KEY_A.public().to_dict()}, {**KEY_B.public().to_dict(), "kid": "a"}]},
            "duplicate kid",
        ),
        ({"keys": []}, "no usable key"),
    ],
)
def test_refused_set_after_success_keeps_old_keys(document: Any, reason: str) -> None:
    """A fetched set that fails validation is a failed fetch: the old keys stay."""
    cache, source, clock = make(ttl=60, cooldown=10)
    assert cache.get("a") is not None
    source.document = document
    clock.advance(60)
    assert cache.get("a") == KEY_A.public()
    assert cache.status.last_error is not None
    assert reason in cache.status.last_error


def test_keys_older_than_max_stale_are_refused() -> None:
    """Past max_stale since the last success, the cache raises instead of serving old keys."""
    cache, source, clock = make(ttl=60, cooldown=10, max_stale=300)
    assert cache.get("a") is not None
    source.error = FetchError("HTTP status 503")
    clock.advance(299)
    assert cache.get("a") is not None
    clock.advance(1)
    with pytest.raises(FetchError, match="too stale") as info:
        cache.get("a")
    assert "HTTP status 503" in str(info.value)
    with pytest.raises(FetchError, match="too stale"):
        list(cache)


def test_max_stale_none_serves_old_keys_forever() -> None:
    """With max_stale=None, good keys are never dropped however long fetches fail."""
    cache, source, clock = make(ttl=60, cooldown=10, max_stale=None)
    assert cache.get("a") is not None
    source.error = FetchError("down")
    clock.advance(dt.timedelta(days=365))
    assert cache.get("a") is not None


def test_no_keys_yet_raises_and_retries_once_per_cooldown() -> None:
    """Before any success a lookup raises FetchError, and retries wait for the cooldown."""
    cache, source, clock = make(cooldown=30)
    source.error = FetchError("connection refused")
    for _ in range(20):
        with pytest.raises(FetchError, match="no JWKS available: connection refused"):
            cache.get("a")
    assert len(source.calls) == 1
    clock.advance(30)
    source.error = None
    assert cache.get("a") is not None
    assert len(source.calls) == 2


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"{", "invalid JSON"),
        (b'{"keys": [], "keys": []}', "duplicate member name"),
        ("[1]", "not a JSON object"),
        ({"nokeys": []}, "'keys' array"),
        ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "RSA modulus"),
        (jwks(KEY_A, KEY_B) | {"keys": [KEY_A.public().to_dict()] * 2}, "duplicate kid"),
        (
            {
                "keys": [
                    KEY_A.public().to_dict(),
                    JWK.generate("HS256", kid="h").to_dict(private=True),
                ]
            },
            "symmetric key",
        ),
        ({"keys": [JWK.generate("HS256", kid="h").to_dict(private=True)]}, "symmetric key"),
        ({"keys": [KEY_C.to_dict(private=True)]}, "private key material"),
        ({"keys": [{"kty": "unknown"}]}, "no usable key"),
    ],
)
def test_parse_jwks_refuses_bad_sets(document: Any, reason: str) -> None:
    """Published sets must parse strictly and hold only distinct public keys."""
    with pytest.raises(FetchError, match=reason):
        parse_jwks(document)


def test_parse_jwks_limits_the_number_of_keys() -> None:
    """More keys than max_keys is refused before any key is parsed."""
    with pytest.raises(FetchError, match="more than 1 keys"):
        parse_jwks(jwks(KEY_A, KEY_B), max_keys=1)
    assert len(parse_jwks(jwks(KEY_A, KEY_B, KEY_C))) == 3


def test_parse_jwks_ignores_unknown_key_types() -> None:
    """RFC 7517 section 5: keys of an unknown kty are skipped, not fatal."""
    keys = parse_jwks({"keys": [{"kty": "future"}, KEY_A.public().to_dict()]})
    assert [k.kid for k in keys] == ["a"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"ttl": 0}, "ttl must be seconds or a timedelta, > 0"),
        ({"ttl": True}, "ttl must be seconds"),
        ({"cooldown": -1}, "cooldown must be seconds or a timedelta, > 0"),
        ({"ttl": 10, "cooldown": 20}, "cooldown must not exceed ttl"),
        ({"ttl": 600, "max_stale": 60}, "max_stale must be at least ttl"),
        ({"ttl": float("inf")}, "ttl must be seconds or a timedelta, > 0 and at most"),
        ({"clock": "now"}, "clock must be"),
        ({"max_keys": 0}, "max_keys must be"),
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any], reason: str) -> None:
    """Out-of-range options fail at construction with a precise reason."""
    with pytest.raises(ConfigurationError, match=reason):
        JWKSCache(dict, **options)
    with pytest.raises(ConfigurationError, match=reason):
        AsyncJWKSCache(_never, **options)


async def _never() -> dict[str, Any]:
    raise AssertionError


def test_fetch_must_be_callable() -> None:
    """A non-callable fetch is a configuration error."""
    with pytest.raises(ConfigurationError, match="callable"):
        JWKSCache("https://example.com/jwks")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="callable"):
        AsyncJWKSCache("https://example.com/jwks")  # type: ignore[arg-type]


class _AsyncCallable:
    async def __call__(self) -> dict[str, Any]:
        raise AssertionError


@pytest.mark.parametrize(
    "fetch", [_never, _AsyncCallable(), functools.partial(_never)], ids=["def", "call", "partial"]
)
def test_the_sync_cache_refuses_an_async_fetch(fetch: Any) -> None:
    """Its coroutine would be read as the JWKS: refused when built, not a failed fetch later."""
    with pytest.raises(ConfigurationError, match="AsyncJWKSCache"):
        JWKSCache(fetch)
    assert AsyncJWKSCache(fetch).get("k") is None  # the async cache awaits it
    with pytest.raises(ConfigurationError, match="already async"):
        run_in_thread(fetch)


def test_timedelta_options_are_accepted() -> None:
    """Durations may be given as timedelta."""
    cache, _, _ = make(ttl=dt.timedelta(minutes=5), cooldown=dt.timedelta(seconds=5))
    assert cache.get("a") is not None
    assert "keys=1" in repr(cache)


# ----------------------------------------------------------------------------- threads


def test_threads_share_one_fetch_for_an_unknown_kid() -> None:
    """Concurrent lookups of a new kid wait on the one fetch in flight instead of fetching."""
    clock = FixedClock(T0)
    entered = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        entered.set()
        release.wait(10)
        return jwks(KEY_A, KEY_B)

    cache = JWKSCache(fetch, clock=clock)
    results: list[JWK | None] = []
    lock = threading.Lock()

    def worker() -> None:
        key = cache.get("b")
        with lock:
            results.append(key)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    time.sleep(0.05)  # let the other threads reach the lock (no timing is asserted)
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert results == [KEY_B.public()] * 16


def test_due_refresh_in_flight_does_not_block_other_readers() -> None:
    """While a ttl refresh is in flight, a lookup of a known kid answers with the current keys."""
    clock = FixedClock(T0)
    entered = threading.Event()
    release = threading.Event()
    released_by_reader: list[bool] = []
    documents = [jwks(KEY_A), jwks(KEY_A, KEY_B)]

    def fetch() -> dict[str, Any]:
        document = documents.pop(0)
        if not documents:
            entered.set()
            released_by_reader.append(release.wait(10))
        return document

    cache = JWKSCache(fetch, clock=clock, ttl=60, cooldown=10)
    assert cache.get("a") is not None
    clock.advance(60)
    refresher = threading.Thread(target=cache.keys)
    refresher.start()
    assert entered.wait(10)
    assert cache.get("a") == KEY_A.public()  # must not wait for the refresh
    release.set()
    refresher.join(10)
    assert released_by_reader == [True]
    assert cache.get("b") == KEY_B.public()


# ----------------------------------------------------------------------------- verifier


def test_jwt_verifier_accepts_the_cache_and_follows_a_new_kid() -> None:
    """JWTVerifier over a JWKSCache verifies tokens and picks up a newly published key."""
    cache, source, clock = make(cooldown=30)
    verifier = JWTVerifier(cache, algorithms=["EdDSA"], clock=clock)
    exp = T0 + dt.timedelta(hours=1)
    assert verifier.verify(jwt.encode({"exp": exp, "sub": "x"}, KEY_A))["sub"] == "x"
    source.document = jwks(KEY_A, KEY_B)
    clock.advance(30)
    assert verifier.verify(jwt.encode({"exp": exp, "sub": "y"}, KEY_B))["sub"] == "y"
    assert len(source.calls) == 2


# ----------------------------------------------------------------------------- async


def make_async(**options: Any) -> tuple[AsyncJWKSCache, Source, FixedClock]:
    clock = FixedClock(T0)
    source = Source(clock, jwks(KEY_A))
    return AsyncJWKSCache(source.async_call, clock=clock, **options), source, clock


def test_async_unknown_kids_cause_one_fetch_per_cooldown() -> None:
    """Concurrent async lookups of random kids share one fetch per cooldown."""

    async def scenario() -> None:
        cache, source, clock = make_async(cooldown=30)
        for step in range(3):
            kids = [secrets.token_urlsafe(8) for _ in range(200)]
            found = await asyncio.gather(*(cache.aget(kid) for kid in kids))
            assert found == [None] * 200
            assert len(source.calls) == step + 1
            clock.advance(30)

    asyncio.run(scenario())


def test_async_single_flight_for_a_new_kid() -> None:
    """Many coroutines asking for a new kid wait on one fetch and all find the key."""
    calls: list[int] = []

    async def scenario() -> None:
        gate = asyncio.Event()

        async def fetch() -> dict[str, Any]:
            calls.append(1)
            await gate.wait()
            return jwks(KEY_A, KEY_B)

        cache = AsyncJWKSCache(fetch, clock=FixedClock(T0))
        tasks = [asyncio.ensure_future(cache.aget("b")) for _ in range(20)]
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.gather(*tasks) == [KEY_B.public()] * 20

    asyncio.run(scenario())
    assert len(calls) == 1


def test_async_failure_after_success_keeps_old_keys_until_max_stale() -> None:
    """Stale-while-error holds for the async cache too, up to max_stale."""

    async def scenario() -> None:
        cache, source, clock = make_async(ttl=60, cooldown=10, max_stale=120)
        assert await cache.aget("a") is not None
        source.error = FetchError("HTTP status 500")
        clock.advance(61)
        assert await cache.aget("a") == KEY_A.public()
        assert cache.status.failures == 1
        clock.advance(60)
        with pytest.raises(FetchError, match="too stale"):
            await cache.akeys()
        assert cache.get("a") is None
        assert list(cache) == []

    asyncio.run(scenario())


def test_async_sync_lookups_never_fetch() -> None:
    """get() and iteration of the async cache answer from memory only."""

    async def scenario() -> None:
        cache, source, _ = make_async()
        assert cache.get("a") is None
        assert list(cache) == []
        assert source.calls == []
        await cache.refresh()
        await cache.refresh()
        assert len(source.calls) == 1
        assert cache.get("a") == KEY_A.public()
        assert [k.kid for k in cache] == ["a"]
        assert "keys=1" in repr(cache)

    asyncio.run(scenario())


def test_async_prepare_then_verify() -> None:
    """prepare(token) loads the token's key so a verifier over the async cache succeeds."""

    async def scenario() -> None:
        cache, source, clock = make_async(cooldown=30)
        verifier = JWTVerifier(cache, algorithms=["EdDSA"], clock=clock)
        exp = T0 + dt.timedelta(hours=1)
        token = jwt.encode({"exp": exp, "sub": "a"}, KEY_A)
        await cache.prepare(token)
        assert verifier.verify(token)["sub"] == "a"
        source.document = jwks(KEY_B)
        clock.advance(30)
        token_b = jwt.encode({"exp": exp, "sub": "b"}, KEY_B)
        await cache.prepare(token_b.encode("ascii"))
        assert verifier.verify(token_b)["sub"] == "b"
        no_kid = jwt.encode(
            {"exp": exp}, JWK.from_dict({**KEY_B.to_dict(private=True), "kid": None})
        )
        await cache.prepare(no_kid)
        assert len(source.calls) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("no-dots", MalformedToken),
        ("!!.x.y", DecodeError),
        ("W10.x.y", MalformedToken),  # header is [] (not an object)
        ("eyJraWQiOjF9.x.y", MalformedToken),  # {"kid":1}
        ("e" * 9000 + ".x.y", MalformedToken),
        (b"\xff.x.y", MalformedToken),
        (42, MalformedToken),
    ],
)
def test_async_prepare_refuses_malformed_tokens(token: Any, error: type[Exception]) -> None:
    """prepare() raises a typed error for a token whose header cannot be read."""

    async def scenario() -> None:
        cache, source, _ = make_async()
        with pytest.raises(error):
            await cache.prepare(token)
        assert source.calls == []

    asyncio.run(scenario())


def test_async_failure_of_first_fetch_raises() -> None:
    """Without keys, a failing async fetch raises FetchError and waits for the cooldown."""

    async def scenario() -> None:
        cache, source, _ = make_async()
        source.error = ValueError("boom")
        for _ in range(3):
            with pytest.raises(FetchError, match="fetch raised ValueError"):
                await cache.aget("a")
        assert len(source.calls) == 1

    asyncio.run(scenario())


def test_cache_works_wherever_a_key_set_does() -> None:
    """jws.verify, jws.verify_json and jwt.decode accept the cache as their keys."""
    cache, source, clock = make()
    compact = jws.sign(b"payload", KEY_A)
    assert jws.verify(compact, cache, algorithms=["EdDSA"]).payload == b"payload"
    general = jws.sign_json(b"payload", [KEY_A])
    assert jws.verify_json(general, cache, algorithms=["EdDSA"]).payload == b"payload"
    token = jwt.encode({"exp": T0 + dt.timedelta(hours=1), "sub": "s"}, KEY_A)
    assert jwt.decode(token, cache, algorithms=["EdDSA"], now=clock.now())["sub"] == "s"
    assert len(source.calls) == 1


def test_reader_does_not_wait_when_a_refresh_holds_the_lock() -> None:
    """A due refresh finding another fetch in progress returns the current keys at once."""
    cache, source, clock = make(ttl=60, cooldown=10)
    assert cache.get("a") is not None
    clock.advance(60)
    assert cache._lock.acquire(blocking=False)  # another thread is about to fetch
    try:
        assert cache.get("a") == KEY_A.public()
    finally:
        cache._lock.release()
    assert len(source.calls) == 1


def test_async_reader_does_not_wait_when_a_refresh_holds_the_lock() -> None:
    """The async cache also answers from memory while another refresh holds the lock."""

    async def scenario() -> None:
        cache, source, clock = make_async(ttl=60, cooldown=10)
        assert await cache.aget("a") is not None
        clock.advance(60)
        async with cache._lock:
            assert await cache.aget("a") == KEY_A.public()
        assert len(source.calls) == 1

    asyncio.run(scenario())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
_MEMBERS = st.dictionaries(
    st.sampled_from(["kty", "kid", "alg", "crv", "x", "y", "n", "e", "d", "k", "use"]),
    st.sampled_from(["EC", "OKP", "RSA", "oct", "P-256", "Ed25519", "AQAB", "", "a", 1, None]),
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=64)
    | _JSON
    | st.builds(lambda keys: {"keys": keys}, st.lists(_MEMBERS | _JSON, max_size=4))
)
def test_parse_jwks_raises_only_fetch_error(data: Any) -> None:
    """Whatever a server sends, parsing returns a KeySet or raises FetchError."""
    try:
        parse_jwks(data)
    except FetchError:
        pass


@settings(max_examples=200, deadline=None)
@given(token=st.text(max_size=80) | st.binary(max_size=80))
def test_prepare_raises_only_typed_errors(token: str | bytes) -> None:
    """Reading a token's kid raises only MalformedToken or DecodeError."""

    async def scenario() -> None:
        cache, _, _ = make_async()
        try:
            await cache.prepare(token)
        except (MalformedToken, DecodeError):
            pass

    asyncio.run(scenario())
