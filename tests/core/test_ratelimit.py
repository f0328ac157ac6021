"""GCRA decisions and the memory and SQLite rate-limit stores."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore import ratelimit
from authcore.errors import ConfigurationError, RateLimited
from authcore.ratelimit import GCRA, Decision, RateLimitStore
from authcore.stores.memory import MemoryRateLimitStore
from authcore.stores.sqlite import SQLiteRateLimitStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["memory", "sqlite"])
def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateLimitStore]:
    """Each rate-limit store implementation."""
    if request.param == "memory":
        yield MemoryRateLimitStore()
        return
    store = SQLiteRateLimitStore(tmp_path / "limits.db", prune_every=3)
    yield store
    store.close()


def _at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def test_burst_then_refusal_with_retry_after(limiter: RateLimitStore) -> None:
    """A full burst is allowed at one instant, then the next request waits one interval."""
    limit = GCRA(10, 1.0)
    decisions = [limit.hit(limiter, "k", now=START) for _ in range(10)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == list(range(9, -1, -1))
    refused = limit.hit(limiter, "k", now=START)
    assert refused == Decision(
        allowed=False, limit=10, remaining=0, retry_after=0.1, reset_after=1.0
    )
    assert limit.hit(limiter, "k", now=_at(0.1)).allowed
    assert not limit.hit(limiter, "k", now=_at(0.1)).allowed


def test_keys_are_independent(limiter: RateLimitStore) -> None:
    """Exhausting one key leaves another untouched."""
    limit = GCRA(1, 60)
    assert limit.hit(limiter, "a", now=START).allowed
    assert not limit.hit(limiter, "a", now=START).allowed
    assert limit.hit(limiter, "b", now=START).allowed


def test_reset_restores_the_burst(limiter: RateLimitStore) -> None:
    """reset() forgets a key's state."""
    limit = GCRA(1, 60)
    limit.hit(limiter, "a", now=START)
    limiter.reset("a")
    assert limit.hit(limiter, "a", now=START).allowed


def test_sustained_rate(limiter: RateLimitStore) -> None:
    """At exactly the emission interval every request passes; faster ones do not."""
    limit = GCRA(3, 1.0, burst=1)
    step = dt.timedelta(microseconds=333_334)  # the 1/3 s interval, on a microsecond clock
    for i in range(30):
        assert limit.hit(limiter, "k", now=START + i * step).allowed
    assert not limit.hit(limiter, "k", now=START + 29 * step + step / 2).allowed


def test_enforce_raises_rate_limited(limiter: RateLimitStore) -> None:
    """enforce() raises RateLimited carrying retry_after."""
    limit = GCRA(2, 10, burst=1)
    limit.enforce(limiter, "k", now=START)
    with pytest.raises(RateLimited) as info:
        limit.enforce(limiter, "k", now=START)
    assert info.value.retry_after == pytest.approx(5.0)


def test_cost(limiter: RateLimitStore) -> None:
    """A request of cost c takes c units; a cost above the burst is a caller mistake."""
    limit = GCRA(10, 1.0)
    assert limit.hit(limiter, "k", now=START, cost=7).remaining == 3
    assert not limit.hit(limiter, "k", now=START, cost=4).allowed
    assert limit.hit(limiter, "k", now=START, cost=3).allowed
    for cost in (0, 11, True, 1.5):
        with pytest.raises(ConfigurationError):
            limit.hit(limiter, "k", now=START, cost=cost)  # type: ignore[arg-type]


@given(
    rate=st.integers(1, 1000),
    period=st.floats(0.001, 86_400),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 5), max_size=40),
)
def test_never_more_than_burst_plus_rate_over_time(
    rate: int, period: float, burst: int, gaps: list[float]
) -> None:
    """Over any run, allowed requests never exceed burst + rate * elapsed / period."""
    limit = GCRA(rate, period, burst)
    store = MemoryRateLimitStore()
    now, allowed = START, 0
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        decision = limit.hit(store, "k", now=now)
        allowed += decision.allowed
        assert decision.remaining >= 0
        assert decision.retry_after >= 0
        assert decision.allowed == (decision.retry_after == 0)
    elapsed = (now - START).total_seconds()
    assert allowed <= burst + rate * elapsed / period + 1


def test_burst_is_exact_despite_float_periods() -> None:
    """Integer nanoseconds: a 1/3 s interval still allows exactly `burst` at one instant."""
    limit = GCRA(3, 1.0, burst=7)
    store = MemoryRateLimitStore()
    assert sum(limit.hit(store, "k", now=START).allowed for _ in range(20)) == 7


def test_threads_take_exactly_the_burst(limiter: RateLimitStore) -> None:
    """Eight threads racing on one key at one instant get exactly `burst` allowances."""
    limit = GCRA(100, 3600)
    store = limiter
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            ok = limit.hit(store, "shared", now=START).allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 100
    assert len(results) == 400


def test_memory_store_prunes_expired_entries() -> None:
    """Entries whose time has passed are dropped as the store is used."""
    limit = GCRA(1, 1.0)
    store = MemoryRateLimitStore()
    for i in range(1100):
        limit.hit(store, f"k{i}", now=START)
    later = _at(10)
    for i in range(1100):
        limit.hit(store, f"other{i}", now=later)
    assert len(store) < 2200


def test_decision_headers() -> None:
    """Decisions render RateLimit-* headers, and Retry-After when refused."""
    refused = Decision(allowed=False, limit=5, remaining=0, retry_after=0.2, reset_after=1.1)
    assert refused.headers() == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "2",
        "Retry-After": "1",
    }
    allowed = Decision(allowed=True, limit=5, remaining=4, retry_after=0, reset_after=0.2)
    assert "Retry-After" not in allowed.headers()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((0, 1), {}),
        ((1.5, 1), {}),
        ((True, 1), {}),
        ((1, 0), {}),
        ((1, -1), {}),
        ((1, float("inf")), {}),
        ((1, float("nan")), {}),
        ((1, "1"), {}),
        ((1, 1), {"burst": 0}),
    ],
)
def test_bad_limits_are_configuration_errors(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """Non-positive, non-finite or mistyped limits are refused."""
    with pytest.raises(ConfigurationError):
        GCRA(*args, **kwargs)  # type: ignore[arg-type]


def test_gcra_value_semantics() -> None:
    """GCRA accepts a timedelta period, defaults burst to rate, and compares by value."""
    assert GCRA(5, dt.timedelta(minutes=1)) == GCRA(5, 60.0, 5)
    assert hash(GCRA(5, 60)) == hash(GCRA(5, 60.0))


def test_naive_now_is_refused() -> None:
    """A naive datetime is a caller mistake."""
    with pytest.raises(ConfigurationError, match="now"):
        GCRA(5, 60).hit(
            MemoryRateLimitStore(),
            "k",
            now=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
        )


def test_plumbing_is_private() -> None:
    """The nanosecond conversion serves GCRA only: it is not part of the public surface."""
    assert "to_ns" not in ratelimit.__all__
    assert not hasattr(ratelimit, "to_ns")


@given(
    rate=st.integers(1, 50),
    unit_ms=st.integers(1, 1000),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.integers(0, 3_000_000), st.integers(1, 5)), max_size=60),
)
def test_gcra_matches_an_exact_token_bucket(
    rate: int, unit_ms: int, burst: int, steps: list[tuple[int, int]]
) -> None:
    """GCRA decides exactly like a token bucket in rational arithmetic (burst tokens, 1/T)."""
    from fractions import Fraction  # noqa: PLC0415 - only this test needs it

    period_s = Fraction(rate * unit_ms, 1000)  # a whole number of ms per request
    limit = GCRA(rate, float(period_s), burst)
    store = MemoryRateLimitStore()
    interval = period_s / rate
    tokens, last = Fraction(burst), Fraction(0)
    now = START
    elapsed = Fraction(0)
    for gap_us, cost in steps:
        now += dt.timedelta(microseconds=gap_us)
        elapsed += Fraction(gap_us, 1_000_000)
        tokens = min(Fraction(burst), tokens + (elapsed - last) / interval)
        last = elapsed
        expected = cost <= burst and tokens >= cost
        if cost > burst:
            with pytest.raises(ConfigurationError):
                limit.hit(store, "k", now=now, cost=cost)
            continue
        decision = limit.hit(store, "k", now=now, cost=cost)
        assert decision.allowed == expected
        if expected:
            tokens -= cost
        assert decision.remaining == int(tokens)


def test_now_takes_any_instant() -> None:
    """hit(now=) takes an aware datetime, UNIX seconds (int or float) or None alike."""
    limit = GCRA(2, 60)
    store = MemoryRateLimitStore()
    seconds = START.timestamp()
    assert limit.hit(store, "k", now=START).remaining == 1
    assert limit.hit(store, "k", now=int(seconds)).remaining == 0
    assert not limit.hit(store, "k", now=seconds + 0.5).allowed
    assert limit.hit(store, "k", now=seconds + 60.0).allowed
    assert limit.hit(MemoryRateLimitStore(), "k").allowed  # the clock
    for bad in (True, float("nan"), "0", 10.0**20):
        with pytest.raises(ConfigurationError, match="now"):
            limit.hit(store, "k", now=bad)  # type: ignore[arg-type]
