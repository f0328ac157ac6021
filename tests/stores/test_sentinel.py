"""Redis Sentinel: the stores run on a Sentinel-managed client and follow a failover."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from authcore.errors import StoreError
from authcore.ratelimit import GCRA

from .conftest import need_module
from .records import START, make_record
from .servers import RedisSentinelSet

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

need_module("redis")

from authcore.stores.redis import (  # noqa: E402 - after the skip check
    RedisKeyStore,
    RedisOneTimeStore,
    RedisRateLimitStore,
)

T = TypeVar("T")
_FAILOVER_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def sentinel_set() -> Iterator[RedisSentinelSet]:
    """A primary, a replica and a Sentinel, for this module."""
    servers = RedisSentinelSet()
    yield servers
    servers.close()


def _eventually(call: Callable[[], T]) -> T:
    """``call()`` once the new primary answers; only StoreError is allowed in between."""
    deadline = time.monotonic() + _FAILOVER_TIMEOUT
    while True:
        try:
            return call()
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _failover(sentinel: Any, name: str) -> None:
    """Ask the Sentinel to promote the replica (retried until it knows one)."""
    from redis.exceptions import ResponseError  # noqa: PLC0415 - optional dependency

    deadline = time.monotonic() + _FAILOVER_TIMEOUT
    while True:
        try:
            sentinel.sentinels[0].execute_command("SENTINEL FAILOVER", name)
        except ResponseError:  # NOGOODSLAVE until the Sentinel has seen the replica
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return


def test_stores_follow_a_failover(sentinel_set: RedisSentinelSet) -> None:
    """The documented Sentinel client works with every store, and state survives a failover.

    Before: a one-time value, a rate limit's whole burst and a key record, replicated (WAIT).
    After the Sentinel promotes the replica: the value is still a replay, the burst still
    spent, the key still found, and new writes land on the new primary.  In between, calls
    fail with StoreError only (fail closed), never with a raw redis-py exception.
    """
    from redis.sentinel import Sentinel  # noqa: PLC0415 - optional dependency

    assert sentinel_set.replica is not None
    sentinel = Sentinel([("127.0.0.1", sentinel_set.port)], socket_timeout=0.5)
    client = sentinel.master_for(sentinel_set.name, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        once = RedisOneTimeStore(client, prefix="sentinel:")
        limits = RedisRateLimitStore(client, prefix="sentinel:")
        keys = RedisKeyStore(client, prefix="sentinel:")
        later = START + dt.timedelta(hours=1)
        limit = GCRA(3, 3600)
        assert once.add("before", expires_at=later, now=START)
        assert all(limits.hit("k", limit, cost=1, now_ns=0).allowed for _ in range(3))
        record = make_record("s" * 16)
        keys.add(record)
        deadline = time.monotonic() + _FAILOVER_TIMEOUT
        while client.wait(1, 200) != 1:  # until the replica has every write
            assert time.monotonic() < deadline, "the replica did not catch up"

        _failover(sentinel, sentinel_set.name)
        deadline = time.monotonic() + _FAILOVER_TIMEOUT
        while sentinel.discover_master(sentinel_set.name)[1] != sentinel_set.replica.port:
            assert time.monotonic() < deadline, "the Sentinel did not promote the replica"
            time.sleep(0.1)

        assert not _eventually(lambda: once.add("before", expires_at=later, now=START))
        assert _eventually(lambda: once.add("after", expires_at=later, now=START))
        assert not _eventually(lambda: limits.hit("k", limit, cost=1, now_ns=0).allowed)
        assert _eventually(lambda: keys.get(record.key_id)) == record
        assert client.connection_pool.get_master_address()[1] == sentinel_set.replica.port
    finally:
        client.close()
