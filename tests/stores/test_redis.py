"""authcore.stores.redis against a real Redis and a real 3-node Redis Cluster."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import ConfigurationError, StoreError
from authcore.ratelimit import GCRA

from .conftest import need_module
from .records import START, make_record

if TYPE_CHECKING:
    from authcore.apikeys import KeyRecord

    from .servers import RedisCluster, RedisServer

need_module("redis")

from authcore.stores.redis import (  # noqa: E402 - after the skip check
    AsyncRedisOneTimeStore,
    AsyncRedisRateLimitStore,
    RedisGrantStore,
    RedisKeyStore,
    RedisOneTimeStore,
    RedisRateLimitStore,
    connect,
    connect_async,
)


class _RoundTrips:
    """Counts requests sent to Redis (one packed send per round trip, pipelines included)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from redis.connection import Connection  # noqa: PLC0415 - optional dependency

        self.count = 0
        original = Connection.send_packed_command

        def counting(connection: Any, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            original(connection, *args, **kwargs)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(Connection, "send_packed_command", counting)


def test_one_time_add_is_set_nx_with_a_ttl(redis_client: Any, redis_prefix: str) -> None:
    """A new key is recorded with a TTL up to its expiry; a second add is a replay."""
    store = RedisOneTimeStore(redis_client, prefix=redis_prefix)
    later = START + dt.timedelta(seconds=30)
    assert store.add("webhook:m1", expires_at=later, now=START)
    assert not store.add("webhook:m1", expires_at=later, now=START)
    assert store.contains("webhook:m1", now=START)
    assert not store.contains("webhook:m2", now=START)
    ttl = redis_client.pttl(f"{redis_prefix}ot:webhook:m1")
    assert 29_000 < ttl <= 30_000


def test_one_time_expired_entries_are_not_recorded(redis_client: Any, redis_prefix: str) -> None:
    """An already-expired key is new once, but nothing is stored for it."""
    store = RedisOneTimeStore(redis_client, prefix=redis_prefix)
    assert store.add("k", expires_at=START, now=START)
    assert not store.contains("k", now=START)
    assert redis_client.exists(f"{redis_prefix}ot:k") == 0


def test_one_time_bad_input_is_typed(redis_client: Any, redis_prefix: str) -> None:
    """Bad keys, naive times and bad prefixes are ConfigurationErrors, not Redis errors."""
    store = RedisOneTimeStore(redis_client, prefix=redis_prefix)
    with pytest.raises(ConfigurationError):
        store.add("", expires_at=START, now=START)
    with pytest.raises(ConfigurationError):
        store.add("k", expires_at=START.replace(tzinfo=None), now=START)
    with pytest.raises(ConfigurationError):
        RedisOneTimeStore(redis_client, prefix="a{b}")
    assert not store.contains(123, now=START)  # type: ignore[arg-type]


def test_rate_limit_uses_server_time(redis_client: Any, redis_prefix: str) -> None:
    """With server time, the caller's clock is ignored and the burst is exact."""
    store = RedisRateLimitStore(redis_client, prefix=redis_prefix)
    limit = GCRA(10, 86_400)
    decisions = [store.hit("k", limit, cost=1, now_ns=0) for _ in range(12)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert decisions[-1].retry_after > 8000
    ttl_ms = redis_client.pttl(f"{redis_prefix}rl:k")
    assert 0 < ttl_ms <= 86_400_000
    store.reset("k")
    assert store.hit("k", limit, cost=10, now_ns=0).allowed


def test_rate_limit_refuses_limits_beyond_exact_script_arithmetic(
    redis_client: Any, redis_prefix: str
) -> None:
    """A window of 104 days or more cannot be computed exactly in Lua: refused, typed."""
    store = RedisRateLimitStore(redis_client, prefix=redis_prefix)
    with pytest.raises(ConfigurationError):
        store.hit("k", GCRA(1, 200 * 86_400), cost=1, now_ns=0)
    with pytest.raises(ConfigurationError):
        store.hit("k", GCRA(1, 60), cost=2, now_ns=0)


def test_one_round_trip_per_decision(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rate-limit decision, a one-time check or add, a key lookup: one round trip each."""
    client = connect(redis_server.url)
    try:
        limits = RedisRateLimitStore(client, prefix=redis_prefix)
        once = RedisOneTimeStore(client, prefix=redis_prefix)
        keys = RedisKeyStore(client, prefix=redis_prefix)
        keys.add(make_record("r" * 16))
        limit = GCRA(100, 60)
        limits.hit("warm", limit, cost=1, now_ns=0)  # connects and loads the script once
        trips = _RoundTrips(monkeypatch)
        for i in range(20):
            limits.hit(f"k{i % 3}", limit, cost=1, now_ns=0)
        assert trips.count == 20
        later = START + dt.timedelta(minutes=5)
        for i in range(20):
            once.add(f"jti:{i % 10}", expires_at=later, now=START)
            once.contains(f"jti:{i % 10}", now=START)
        assert trips.count == 20 + 40
        for _ in range(5):
            assert keys.get("r" * 16) is not None
        assert keys.get("x" * 16) is None
        assert trips.count == 20 + 40 + 6
    finally:
        client.close()


def test_key_store_update_moves_owner_index(redis_client: Any, redis_prefix: str) -> None:
    """A record whose owner changes leaves the old owner's index for the new one's."""
    from dataclasses import replace  # noqa: PLC0415

    store = RedisKeyStore(redis_client, prefix=redis_prefix)
    store.add(make_record("k" * 16))
    moved = store.update("k" * 16, lambda r: (replace(r, owner="moved", name=None),))[0]
    assert store.list_owner("acct") == ()
    assert store.list_owner("moved") == (moved,)
    assert redis_client.hexists(f"{redis_prefix}{{apikeys}}:key:{'k' * 16}", "name") == 0


def test_key_store_update_is_not_lost_to_a_concurrent_credit(
    redis_client: Any, redis_prefix: str
) -> None:
    """A use taken while update() runs its change is kept: the change runs again."""
    from dataclasses import replace  # noqa: PLC0415

    store = RedisKeyStore(redis_client, prefix=redis_prefix)
    store.add(make_record("k" * 16, uses=5))
    calls = []

    def change(record: KeyRecord) -> tuple[KeyRecord, ...]:
        calls.append(record.remaining_uses)
        if len(calls) == 1:
            store.consume_use("k" * 16)  # another machine takes a use meanwhile
        return (replace(record, name="renamed"),)

    store.update("k" * 16, change)
    assert calls == [5, 4]
    record = store.get("k" * 16)
    assert record is not None
    assert (record.remaining_uses, record.name) == (4, "renamed")


def test_unreadable_records_are_store_errors(redis_client: Any, redis_prefix: str) -> None:
    """A hash authcore did not write is a StoreError, never a KeyError or ValueError."""
    store = RedisKeyStore(redis_client, prefix=redis_prefix)
    redis_client.hset(f"{redis_prefix}{{apikeys}}:key:bad", mapping={"created_us": "x"})
    with pytest.raises(StoreError):
        store.get("bad")


def test_async_variants(redis_server: RedisServer, redis_prefix: str) -> None:
    """The asyncio stores share keys and semantics with the sync ones."""

    async def run() -> None:
        client = connect_async(redis_server.url)
        try:
            once = AsyncRedisOneTimeStore(client, prefix=redis_prefix)
            later = START + dt.timedelta(seconds=5)
            results = await asyncio.gather(
                *(once.add("x", expires_at=later, now=START) for _ in range(10))
            )
            assert sum(results) == 1
            assert await once.contains("x", now=START)
            limits = AsyncRedisRateLimitStore(client, prefix=redis_prefix)
            limit = GCRA(3, 3600)
            decisions = await asyncio.gather(
                *(limits.hit("k", limit, cost=1, now_ns=0) for _ in range(5))
            )
            assert sum(d.allowed for d in decisions) == 3
            await limits.reset("k")
        finally:
            await client.aclose()

    asyncio.run(run())
    sync = RedisOneTimeStore(connect(redis_server.url), prefix=redis_prefix)
    assert sync.contains("x", now=START)


def test_async_jwt_denylist(redis_server: RedisServer, redis_prefix: str) -> None:
    """JWTVerifier.averify awaits the async store; the sync store sees the same revocation."""
    from authcore.errors import Revoked  # noqa: PLC0415
    from authcore.jose import JWK, JWTVerifier, jwt  # noqa: PLC0415
    from authcore.jose.denylist import arevoke  # noqa: PLC0415

    key = JWK.generate("HS256", kid="d")
    exp = (START + dt.timedelta(hours=1)).timestamp()
    token = jwt.encode({"jti": "j1", "exp": exp}, key)

    async def run() -> None:
        client = connect_async(redis_server.url)
        try:
            denylist = AsyncRedisOneTimeStore(client, prefix=redis_prefix)
            verifier = JWTVerifier(key, algorithms=["HS256"], denylist=denylist)
            claims = await verifier.averify(token, now=START)
            await arevoke(denylist, claims, now=START)
            with pytest.raises(Revoked):
                await verifier.averify(token, now=START)
        finally:
            await client.aclose()

    asyncio.run(run())
    sync = RedisOneTimeStore(connect(redis_server.url), prefix=redis_prefix)
    with pytest.raises(Revoked):
        JWTVerifier(key, algorithms=["HS256"], denylist=sync).verify(token, now=START)


# --------------------------------------------------------------------------- OAuth grants


def _oauth_code(digest: str, family_id: str) -> Any:
    from authcore.oauth import AuthorizationCode  # noqa: PLC0415

    return AuthorizationCode(
        digest=digest,
        family_id=family_id,
        client_id="web",
        subject="alice",
        scope=("read",),
        redirect_uri="https://app.example/cb",
        redirect_uri_sent=True,
        code_challenge=None,
        code_challenge_method=None,
        issued_at=1000.0,
        expires_at=1060.0,
    )


def test_oauth_key_names_slots_and_ttls(redis_client: Any, redis_prefix: str) -> None:
    """Keys are named as documented, one family shares a slot, TTLs are lifetime + retain."""
    from redis.crc import key_slot  # noqa: PLC0415

    from authcore.oauth import Family, Insert, RevokeFamily, SaveFamily  # noqa: PLC0415

    store = RedisGrantStore(redis_client, prefix=redis_prefix, retain=100)
    family = Family(
        family_id="f1",
        client_id="web",
        subject="alice",
        scope=("read",),
        created_at=1000.0,
        expires_at=1000.0 + 3600,
    )
    assert store.apply(
        [SaveFamily(family=family, expected_version=None), Insert(record=_oauth_code("d1", "f1"))]
    )
    assert store.apply([RevokeFamily(family_id="f2", client_id="web", at=5.0)])
    record = f"{redis_prefix}oauth:{{f1}}:r:d1"
    family_key = f"{redis_prefix}oauth:{{f1}}:f"
    index = f"{redis_prefix}oauth:d:d1"
    assert redis_client.hget(record, "k") == b"code"
    assert redis_client.get(index) == b"f1"
    assert key_slot(record.encode()) == key_slot(family_key.encode())
    assert 159_000 < redis_client.pttl(record) <= 160_000  # 60 s of life + 100 s retained
    assert 159_000 < redis_client.pttl(index) <= 160_000
    assert 3_699_000 < redis_client.pttl(family_key) <= 3_700_000
    assert 99_000 < redis_client.pttl(f"{redis_prefix}oauth:{{f2}}:f") <= 100_000  # tombstone
    with pytest.raises(ConfigurationError):
        RedisGrantStore(redis_client, prefix=redis_prefix, retain=0)
    with pytest.raises(ConfigurationError):
        RedisGrantStore(redis_client, prefix="{bad}")


def test_oauth_round_trips(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply with artefacts: 2 round trips (index claim, script); get: 2; family: 1."""
    from authcore.oauth import Insert, Update  # noqa: PLC0415

    client = connect(redis_server.url)
    try:
        store = RedisGrantStore(client, prefix=redis_prefix)
        assert store.apply([Insert(record=_oauth_code("warm", "f0"))])  # connects, loads script
        trips = _RoundTrips(monkeypatch)
        for i in range(10):
            assert store.apply([Insert(record=_oauth_code(f"d{i}", f"f{i}"))])
        assert trips.count == 20
        for i in range(10):
            assert store.get(f"d{i}") is not None
        assert trips.count == 40
        for i in range(10):
            assert store.family(f"f{i}") is None
        assert trips.count == 50
        assert not store.apply([Update(record=_oauth_code("d0", "f0"), expected_version=7)])
        assert trips.count == 52
    finally:
        client.close()


def test_oauth_cross_family_apply_and_foreign_data(redis_client: Any, redis_prefix: str) -> None:
    """Two families in one apply: atomic on one server, a typed CROSSSLOT error on a cluster."""
    from redis.cluster import RedisCluster  # noqa: PLC0415

    from authcore.oauth import Insert  # noqa: PLC0415

    store = RedisGrantStore(redis_client, prefix=redis_prefix)
    effects = [Insert(record=_oauth_code("x1", "fa")), Insert(record=_oauth_code("x2", "fzz"))]
    if isinstance(redis_client, RedisCluster):
        with pytest.raises(StoreError, match=r"CROSSSLOT|RedisClusterException"):
            store.apply(effects)
        assert store.get("x1") is None
    else:
        assert store.apply(effects)
        assert store.get("x2") == _oauth_code("x2", "fzz")
    redis_client.set(f"{redis_prefix}oauth:d:junk", "fj")
    redis_client.hset(f"{redis_prefix}oauth:{{fj}}:r:junk", mapping={"k": "code", "d": "{"})
    with pytest.raises(StoreError):
        store.get("junk")
    redis_client.hset(f"{redis_prefix}oauth:{{fj}}:f", mapping={"v": "x", "d": "{}"})
    with pytest.raises(StoreError):
        store.family("fj")


def test_cluster_client_close_disconnects_every_node(redis_cluster: RedisCluster) -> None:
    """`connect(cluster=True).close()` closes the sockets to every node, not only the client."""
    from redis.cluster import RedisCluster as Client  # noqa: PLC0415 - optional dependency

    client = connect(redis_cluster.url, cluster=True)
    assert isinstance(client, Client)
    store = RedisOneTimeStore(client, prefix="closing:")
    later = START + dt.timedelta(minutes=1)
    for i in range(30):  # keys spread over the three nodes' slots
        store.add(f"k{i}", expires_at=later, now=START)
    nodes = client.get_nodes()  # type: ignore[no-untyped-call]
    pools = [n.redis_connection.connection_pool for n in nodes if n.redis_connection]
    assert len(pools) == 3
    assert all(_open_sockets(pool) for pool in pools)
    client.close()
    assert not any(_open_sockets(pool) for pool in pools)


def _open_sockets(pool: Any) -> int:
    connections = [*pool._available_connections, *pool._in_use_connections]
    return sum(1 for c in connections if c._sock is not None)
