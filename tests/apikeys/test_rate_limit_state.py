"""KeyManager.verify_with_limit exposes the GCRA decision for RateLimit-* headers."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING

import pytest

from authcore.apikeys import KeyHasher, KeyManager, KeyStore
from authcore.errors import MalformedKey, RateLimited
from authcore.ratelimit import GCRA
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore

if TYPE_CHECKING:
    from authcore.clock import FixedClock


def test_decision_on_success(manager: KeyManager) -> None:
    """A limited key returns its record and the decision with RateLimit-* headers."""
    issued = manager.create(owner="acct_1", rate_limit=GCRA(2, 1.0))
    record, decision = manager.verify_with_limit(issued.token)
    assert record.key_id == issued.record.key_id
    assert decision is not None
    assert decision.allowed
    assert decision.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "1",
    }
    _, second = manager.verify_with_limit(issued.token)
    assert second is not None
    assert second.remaining == 0


def test_no_limit_gives_none(manager: KeyManager) -> None:
    """A key without a limit returns None as its decision."""
    issued = manager.create(owner="acct_1")
    record, decision = manager.verify_with_limit(issued.token)
    assert record.key_id == issued.record.key_id
    assert decision is None


def test_no_limiter_gives_none(hasher: KeyHasher, clock: FixedClock) -> None:
    """A manager without a limiter returns None and verify() is unchanged."""
    manager = KeyManager(MemoryKeyStore(), hasher, prefix="sk_test", clock=clock)
    issued = manager.create(owner="acct_1")
    assert manager.verify_with_limit(issued.token)[1] is None
    assert manager.verify(issued.token).key_id == issued.record.key_id


def test_stale_decision_is_not_returned(manager: KeyManager) -> None:
    """A decision of an earlier limited call never leaks into a later unlimited one."""
    limited = manager.create(owner="acct_1", rate_limit=GCRA(5, 1.0))
    free = manager.create(owner="acct_1")
    manager.verify(limited.token)  # a plain verify leaves a decision behind
    assert manager.verify_with_limit(free.token)[1] is None
    with pytest.raises(MalformedKey):
        manager.verify_with_limit(free.token + "x")
    assert manager.verify_with_limit(free.token)[1] is None


def test_refusal_headers_match(manager: KeyManager) -> None:
    """The refusal's RateLimited.headers() carries the limit and a whole-second Retry-After."""
    issued = manager.create(owner="acct_1", rate_limit=GCRA(1, 2.5))
    manager.verify_with_limit(issued.token)
    with pytest.raises(RateLimited) as info:
        manager.verify_with_limit(issued.token)
    assert info.value.headers() == {
        "RateLimit-Limit": "1",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "3",
        "Retry-After": "3",
    }


def test_default_limit_decision(store: KeyStore, hasher: KeyHasher, clock: FixedClock) -> None:
    """default_rate_limit decisions are returned as well."""
    manager = KeyManager(
        store, hasher, prefix="sk_test", clock=clock,
        limiter=MemoryRateLimitStore(), default_rate_limit=GCRA(3, 60),
    )  # fmt: skip
    issued = manager.create(owner="acct_1")
    decision = manager.verify_with_limit(issued.token)[1]
    assert decision is not None
    assert (decision.limit, decision.remaining) == (3, 2)


def test_decisions_are_per_thread(hasher: KeyHasher, clock: FixedClock) -> None:
    """Threads verifying different keys each get their own key's decision."""
    manager = KeyManager(
        MemoryKeyStore(), hasher, prefix="sk_test", clock=clock, limiter=MemoryRateLimitStore()
    )
    keys = [manager.create(owner="acct", rate_limit=GCRA(10 + i, 60)) for i in range(8)]

    def check(i: int) -> int | None:
        decision = manager.verify_with_limit(keys[i].token)[1]
        return None if decision is None else decision.limit

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        limits = list(pool.map(check, [i % 8 for i in range(64)]))
    assert limits == [10 + i % 8 for i in range(64)]
