"""Redis stores (extra ``authcore[redis]``): rate limits, one-time values, API keys, OAuth.

For APIs running on several machines.  Every decision is one round trip and atomic on the
server, so any number of processes on any number of machines agree:

* :class:`RedisRateLimitStore`: GCRA in one Lua script per decision, in integer nanoseconds,
  with the time read from the server (``TIME``) so client clocks do not matter.
* :class:`RedisOneTimeStore`: ``SET key 1 NX PX ttl``; the key expires on the server.
* :class:`RedisGrantStore` and :class:`RedisClientStore`: the OAuth authorization server's
  artefacts and families (one Lua script applies a decision's effects, all or none) and
  client registrations.
* :class:`RedisKeyStore`: API key records as hashes; use credits taken by a script that
  decrements only a positive count; updates are compare-and-set on a version field.
* :class:`RedisJWKSFetch` (and :class:`AsyncRedisJWKSFetch`): the ``fetch`` of a JWKS cache,
  shared, so the whole fleet downloads a JWK Set about once per refresh.

Key names (``prefix`` defaults to ``"authcore:"``; see the "several machines" guide for the
whole table with TTLs):

========================================  ==========================================
``<prefix>ot:<key>``                      one-time value (string), TTL = its expiry
``<prefix>rl:<key>``                      GCRA theoretical arrival time (string, ns),
                                          TTL = until the key is back to a full burst
``<prefix>{apikeys}:key:<key id>``        API key record (hash), no TTL
``<prefix>{apikeys}:owner:<owner>``       an owner's key ids (sorted set), no TTL
``<prefix>oauth:client:<client id>``      OAuth client registration (string), no TTL
``<prefix>oauth:d:<digest>``              an OAuth artefact's family id (string),
                                          TTL as the artefact's
``<prefix>oauth:{<family>}:r:<digest>``   an OAuth artefact (hash), TTL = its lifetime
                                          + ``retain``
``<prefix>oauth:{<family>}:f``            an OAuth grant family (hash), TTL = its
                                          lifetime + ``retain``
``<prefix>jwks:<sha256 of name>``         a shared JWK Set download (string),
                                          TTL = ``max_age``
========================================  ==========================================

Redis Cluster: every script touches keys of one hash slot.  Rate-limit and one-time keys are
single keys spread over the cluster; the API-key records share the ``{apikeys}`` hash tag (one
slot) because an update may write two records at once (a rotation); an OAuth grant's keys
share its family's hash tag.

Failures fail closed: any Redis error (connection refused or lost, timeout, ``OOM``,
``CROSSSLOT``, ...) raises :class:`~authcore.errors.StoreError`, so no request is allowed
because the store could not be asked.  Clients made by :func:`connect` time out after
``timeout`` seconds and reconnect by themselves once the server is back.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from authcore._encoding import json_dumps
from authcore._options import seconds_option
from authcore.apikeys import KeyRecord
from authcore.errors import ConfigurationError, NotFound, StoreError
from authcore.onetime import check_key, check_times
from authcore.stores._keyrows import INT_COLUMNS, KEY_COLUMNS, key_record, key_row, micros
from authcore.stores._oauth_redis import (
    AsyncRedisClientStore,
    AsyncRedisGrantStore,
    RedisClientStore,
    RedisGrantStore,
)
from authcore.stores._redis_common import check_prefix, translated
from authcore.stores._redis_jwks import AsyncRedisJWKSFetch, RedisJWKSFetch

if TYPE_CHECKING:
    from collections.abc import Mapping

    from redis.asyncio import Redis as AsyncRedis
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    from authcore import ratelimit
    from authcore.apikeys import KeyChange, Usage
    from authcore.ratelimit import GCRA

__all__ = [
    "AsyncRedisClient",
    "AsyncRedisClientStore",
    "AsyncRedisGrantStore",
    "AsyncRedisJWKSFetch",
    "AsyncRedisOneTimeStore",
    "AsyncRedisRateLimitStore",
    "RedisClient",
    "RedisClientStore",
    "RedisGrantStore",
    "RedisJWKSFetch",
    "RedisKeyStore",
    "RedisOneTimeStore",
    "RedisRateLimitStore",
    "connect",
    "connect_async",
]

_NS: Final = 1_000_000_000
_MS: Final = dt.timedelta(milliseconds=1)
# Lua numbers are doubles: the script keeps TATs relative to now, exact below 2**53 ns.
_MAX_SCRIPT_NS: Final = 2**53
_UPDATE_ATTEMPTS: Final = 16

RedisClient: TypeAlias = "redis.Redis | RedisCluster"
"""What the sync stores take: a client from :func:`connect` (plain or cluster)."""

AsyncRedisClient: TypeAlias = "AsyncRedis | AsyncRedisCluster"
"""What the async stores take: a client from :func:`connect_async`."""

# GCRA (see authcore.ratelimit): KEYS[1] holds the TAT as decimal nanoseconds since the epoch.
# ARGV: cost * T, burst * T (both ns), then now as seconds and nanoseconds ("" for TIME).
# Times are split into (seconds, nanoseconds) and every difference stays below 2**53, so the
# double arithmetic of Lua is exact.  Returns {allowed, TAT - now or -1, now_s, now_ns}: the
# caller rebuilds the same decision with GCRA.step from these integers.
_GCRA_LUA: Final = """
local inc = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local now_s, now_n
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_n = tonumber(t[2]) * 1000
else
  now_s = tonumber(ARGV[3])
  now_n = tonumber(ARGV[4])
end
local ahead = -1
local base = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local s = tonumber(string.sub(stored, 1, -10)) or 0
  local n = tonumber(string.sub(stored, -9))
  local diff = (s - now_s) * 1000000000 + (n - now_n)
  if diff > 0 then
    ahead = diff
    base = diff
  end
end
local new = base + inc
if new - cap > 0 then
  return {0, ahead, now_s, now_n}
end
local total = now_n + new
local n = math.fmod(total, 1000000000)
local s = now_s + (total - n) / 1000000000
redis.call('SET', KEYS[1], string.format('%d%09d', s, n), 'PX', math.ceil(new / 1000000))
return {1, ahead, now_s, now_n}
"""

# KEYS[1]: a key record hash.  Takes one use if the record has a positive count.
_CONSUME_LUA: Final = """
local left = redis.call('HGET', KEYS[1], 'remaining_uses')
if not left or tonumber(left) <= 0 then
  return -1
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
return redis.call('HINCRBY', KEYS[1], 'remaining_uses', -1)
"""

# KEYS[1], KEYS[2]: a record hash and its owner's index.  ARGV: the score (created, us), the
# key id, then field/value pairs.  Inserts only if the record does not exist.
_ADD_LUA: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'v', 1, unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: for each written record, its hash, its new owner's index and its old owner's index.
# ARGV[1]: JSON list of {v = expected version or "" for absent, score, id, fields = [...],
# drop = [...]}.  Writes all records, or none if any version changed since it was read.
_UPDATE_LUA: Final = """
local records = cjson.decode(ARGV[1])
for i, r in ipairs(records) do
  local v = redis.call('HGET', KEYS[3 * i - 2], 'v')
  if (v or '') ~= r.v then
    return 0
  end
end
for i, r in ipairs(records) do
  local key = KEYS[3 * i - 2]
  if #r.drop > 0 then
    redis.call('HDEL', key, unpack(r.drop))
  end
  redis.call('HSET', key, unpack(r.fields))
  redis.call('HINCRBY', key, 'v', 1)
  if KEYS[3 * i] ~= KEYS[3 * i - 1] then
    redis.call('ZREM', KEYS[3 * i], r.id)
  end
  redis.call('ZADD', KEYS[3 * i - 1], r.score, r.id)
end
return 1
"""

# KEYS: record hashes.  ARGV: per key, a count and a last-used time (us).  Unknown keys skip.
_USAGE_LUA: Final = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'use_count', ARGV[2 * i - 1])
    local last = redis.call('HGET', key, 'last_used_us')
    if not last or tonumber(last) < tonumber(ARGV[2 * i]) then
      redis.call('HSET', key, 'last_used_us', ARGV[2 * i])
    end
    redis.call('HINCRBY', key, 'v', 1)
  end
end
return 1
"""


def _client_options(timeout: float) -> dict[str, Any]:
    seconds = seconds_option(timeout, "timeout")
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        # One quick retry on a dropped connection only: a restarted server is reconnected to
        # within one call, and a hung server costs one timeout, not several.
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1, (redis.ConnectionError,)),
        "health_check_interval": 0,
    }


class _ClusterClient(RedisCluster):
    """A ``RedisCluster`` whose :meth:`close` also closes every node's connections.

    Before redis-py 8, ``close`` left the per-node pools of a client made by ``from_url``
    open (their ``auto_close_connection_pool`` is off): their sockets lingered until garbage
    collection.
    """

    def close(self) -> None:
        """Close the client and disconnect the connection pool of every known node."""
        nodes = self.get_nodes()  # type: ignore[no-untyped-call]
        super().close()
        for node in nodes:
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()


def connect(url: str, *, cluster: bool = False, timeout: float = 1.0) -> RedisClient:
    """Open a pooled Redis (or Redis Cluster) client with authcore's failure bounds.

    Args:
        url: ``redis://[user:password@]host:port/db`` or ``rediss://`` for TLS.
        cluster: Connect to a Redis Cluster (any node's address; the others are discovered).
        timeout: Seconds to connect and to wait for each reply: a down or hung server raises
            :class:`~authcore.errors.StoreError` after about this long (twice, at most, when
            a dropped connection is retried once).

    Raises:
        ConfigurationError: If ``timeout`` is not a positive number or the URL is invalid.

    .. versionadded:: 0.1.0
    """
    options = _client_options(timeout)
    try:
        if cluster:
            return _ClusterClient.from_url(url, **options)
        return redis.Redis.from_url(url, **options)
    except (ValueError, RedisError, RedisClusterException) as exc:
        raise ConfigurationError(f"invalid Redis URL or options ({type(exc).__name__})") from None


def connect_async(url: str, *, cluster: bool = False, timeout: float = 1.0) -> AsyncRedisClient:
    """Like :func:`connect`, for the ``redis.asyncio`` client the async stores take.

    .. versionadded:: 0.1.0
    """
    options = _client_options(timeout)
    options["retry"] = redis.asyncio.retry.Retry(
        ExponentialBackoff(cap=0.05, base=0.01), 1, (redis.ConnectionError,)
    )
    try:
        if cluster:
            return redis.asyncio.RedisCluster.from_url(url, **options)
        return redis.asyncio.Redis.from_url(url, **options)
    except (ValueError, RedisError, RedisClusterException) as exc:
        raise ConfigurationError(f"invalid Redis URL or options ({type(exc).__name__})") from None


# --------------------------------------------------------------------------- one-time values


def _storable(key: object, now: dt.datetime) -> bool:
    """Check ``now``; whether ``key`` could have been stored (else a lookup must miss)."""
    check_times(now, now)
    try:
        check_key(key)
    except ConfigurationError:
        return False
    return True


def _ttl_ms(key: str, expires_at: dt.datetime, now: dt.datetime) -> int:
    """Check the arguments and return the time to live in whole milliseconds (rounded up)."""
    check_key(key)
    check_times(expires_at, now)
    return -((now - expires_at) // _MS)


class RedisOneTimeStore:
    """A :class:`~authcore.onetime.OneTimeStore` in Redis, shared by every machine.

    :meth:`add` is one ``SET <prefix>ot:<key> 1 NX PX <ttl>``: of concurrent adds of one key
    exactly one wins, and Redis forgets the key when it expires (on the server's clock:
    ``now`` sets the time to live, ``expires_at - now``, not an absolute deadline).

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` (see :func:`connect`).
        prefix: Prepended to every key name (no braces).

    Raises:
        ConfigurationError: On an invalid prefix.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_prefix")

    def __init__(self, client: RedisClient, *, prefix: str = "authcore:") -> None:
        self._client = client
        self._prefix = check_prefix(prefix) + "ot:"

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            ConfigurationError: If ``key`` is not a storable key or a time is not aware.
            StoreError: If Redis cannot be reached or fails (the caller must refuse).
        """
        ttl = _ttl_ms(key, expires_at, now)
        with translated():
            if ttl <= 0:  # already expired: new unless recorded and unexpired
                return not self._client.exists(self._prefix + key)
            return self._client.set(self._prefix + key, b"1", nx=True, px=ttl) is not None

    def contains(self, key: str, *, now: dt.datetime) -> bool:
        """Whether ``key`` is recorded and unexpired (by the server's clock).

        Raises:
            ConfigurationError: If ``now`` is not aware.
            StoreError: If Redis cannot be reached or fails.
        """
        if not _storable(key, now):
            return False
        with translated():
            return bool(self._client.exists(self._prefix + key))

    def __repr__(self) -> str:
        return f"RedisOneTimeStore(prefix={self._prefix[:-3]!r})"


class AsyncRedisOneTimeStore:
    """:class:`RedisOneTimeStore` for ``redis.asyncio`` clients (same keys, same semantics).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_prefix")

    def __init__(self, client: AsyncRedisClient, *, prefix: str = "authcore:") -> None:
        self._client = client
        self._prefix = check_prefix(prefix) + "ot:"

    async def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """See :meth:`RedisOneTimeStore.add`."""
        ttl = _ttl_ms(key, expires_at, now)
        with translated():
            if ttl <= 0:
                return not await self._client.exists(self._prefix + key)
            return await self._client.set(self._prefix + key, b"1", nx=True, px=ttl) is not None

    async def contains(self, key: str, *, now: dt.datetime) -> bool:
        """See :meth:`RedisOneTimeStore.contains`."""
        if not _storable(key, now):
            return False
        with translated():
            return bool(await self._client.exists(self._prefix + key))


# --------------------------------------------------------------------------- rate limits


def _gcra_args(limit: GCRA, cost: int, now_ns: int, *, server_time: bool) -> list[int | str]:
    increment = limit.cost_ns(cost)
    capacity = limit.capacity_ns
    if capacity >= _MAX_SCRIPT_NS:
        raise ConfigurationError("a Redis rate limit's burst * period / rate must be < 104 days")
    if server_time:
        return [increment, capacity, "", ""]
    seconds, nanos = divmod(now_ns, _NS)
    return [increment, capacity, seconds, nanos]


def _gcra_decision(limit: GCRA, cost: int, reply: object) -> ratelimit.Decision:
    """Rebuild the script's decision with :meth:`GCRA.step` (the same integer arithmetic)."""
    try:
        allowed, ahead, seconds, nanos = (int(x) for x in reply)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise StoreError("redis returned an unexpected rate-limit reply") from None
    now_ns = seconds * _NS + nanos
    _, decision = limit.step(now_ns + ahead if ahead > 0 else None, now_ns, cost)
    if decision.allowed != bool(allowed):
        raise StoreError("redis rate-limit script disagrees with GCRA")
    return decision


class RedisRateLimitStore:
    """A :class:`~authcore.ratelimit.RateLimitStore` in Redis: one Lua script per decision.

    The script reads the key's TAT, decides and writes the new TAT (with a TTL until the key
    is back to a full burst) atomically, in one round trip.  By default it reads the time
    with ``TIME`` on the server, so machines with skewed clocks share one limit exactly;
    ``now_ns`` is then ignored.

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` (see :func:`connect`).
        prefix: Prepended to every key name (no braces).
        server_time: Use the server's clock (default) or the caller's ``now_ns``.

    Raises:
        ConfigurationError: On an invalid prefix; from :meth:`hit`, on a bad cost or a limit
            whose ``burst * period / rate`` reaches 2**53 ns (104 days).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_prefix", "_script", "_server_time")

    def __init__(
        self, client: RedisClient, *, prefix: str = "authcore:", server_time: bool = True
    ) -> None:
        self._client = client
        self._prefix = check_prefix(prefix) + "rl:"
        self._server_time = bool(server_time)
        self._script = client.register_script(_GCRA_LUA)

    def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """Take ``cost`` units of ``limit`` for ``key`` if allowed (one script call).

        Raises:
            StoreError: If Redis cannot be reached or fails (the caller must refuse).
        """
        args = _gcra_args(limit, cost, now_ns, server_time=self._server_time)
        with translated():
            reply = self._script(keys=[self._prefix + key], args=args)
        return _gcra_decision(limit, cost, reply)

    def reset(self, key: str) -> None:
        """Forget ``key``'s state."""
        with translated():
            self._client.delete(self._prefix + key)

    def __repr__(self) -> str:
        return f"RedisRateLimitStore(prefix={self._prefix[:-3]!r})"


class AsyncRedisRateLimitStore:
    """:class:`RedisRateLimitStore` for ``redis.asyncio`` clients (``await store.hit(...)``).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_prefix", "_script", "_server_time")

    def __init__(
        self, client: AsyncRedisClient, *, prefix: str = "authcore:", server_time: bool = True
    ) -> None:
        self._client = client
        self._prefix = check_prefix(prefix) + "rl:"
        self._server_time = bool(server_time)
        self._script = client.register_script(_GCRA_LUA)

    async def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """See :meth:`RedisRateLimitStore.hit`."""
        args = _gcra_args(limit, cost, now_ns, server_time=self._server_time)
        with translated():
            reply = await self._script(keys=[self._prefix + key], args=args)
        return _gcra_decision(limit, cost, reply)

    async def reset(self, key: str) -> None:
        """See :meth:`RedisRateLimitStore.reset`."""
        with translated():
            await self._client.delete(self._prefix + key)


# --------------------------------------------------------------------------- API keys


def _fields(record: KeyRecord) -> tuple[list[str], list[str]]:
    """The hash fields to set (name, value, ...) and the names to delete (``None`` values)."""
    values: list[str] = []
    drop: list[str] = []
    for name, value in zip(KEY_COLUMNS, key_row(record), strict=True):
        if value is None:
            drop.append(name)
        else:
            values += (name, str(value))
    return values, drop


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _from_hash(raw: Mapping[bytes | str, bytes | str]) -> KeyRecord:
    try:
        text = {_text(k): _text(v) for k, v in raw.items()}
        row = tuple(
            None if name not in text else int(text[name]) if name in INT_COLUMNS else text[name]
            for name in KEY_COLUMNS
        )
    except (UnicodeDecodeError, ValueError, AttributeError):
        raise StoreError("a stored API key record is unreadable") from None
    return key_record(row)


class RedisKeyStore:
    """A :class:`~authcore.apikeys.KeyStore` in Redis, for deployments keeping all state there.

    Records are hashes; use credits are taken by a script that decrements only a positive
    count (atomic across every machine); :meth:`update` is an optimistic compare-and-set on
    a per-record version, retried when another writer got there first.  All records share one
    Redis Cluster hash slot (``{apikeys}``): a rotation writes two records in one script.
    PostgreSQL (:class:`authcore.stores.postgres.PostgresKeyStore`) suits large key counts.

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` (see :func:`connect`).
        prefix: Prepended to every key name (no braces).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_add", "_base", "_client", "_consume", "_update", "_usage")

    def __init__(self, client: RedisClient, *, prefix: str = "authcore:") -> None:
        self._client = client
        self._base = check_prefix(prefix) + "{apikeys}:"
        self._add = client.register_script(_ADD_LUA)
        self._consume = client.register_script(_CONSUME_LUA)
        self._update = client.register_script(_UPDATE_LUA)
        self._usage = client.register_script(_USAGE_LUA)

    def _key(self, key_id: str) -> str:
        return f"{self._base}key:{key_id}"

    def _owner(self, owner: str) -> str:
        return f"{self._base}owner:{owner}"

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with this key id, or ``None`` (one ``HGETALL``)."""
        with translated():
            raw = self._client.hgetall(self._key(key_id))
        return _from_hash(raw) if raw else None

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        with translated():
            ids = self._client.zrange(self._owner(owner), 0, -1)
            pipe = self._client.pipeline(transaction=False)
            for key_id in ids:
                pipe.hgetall(self._key(_text(key_id)))  # type: ignore[arg-type]
            raws = pipe.execute() if ids else []
        records = [_from_hash(raw) for raw in raws if raw]
        return tuple(sorted(records, key=lambda r: (r.created_at, r.key_id)))

    def add(self, record: KeyRecord) -> None:
        """Insert a new record.

        Raises:
            StoreError: If a record with this id exists, or Redis fails.
        """
        values, _ = _fields(record)
        with translated():
            added = self._add(
                keys=[self._key(record.key_id), self._owner(record.owner)],
                args=[micros(record.created_at), record.key_id, *values],
            )
        if not added:
            raise StoreError("a key with this id exists")

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        """Atomically apply ``change`` to a record and save what it returns.

        ``change`` may run more than once when another writer changes a record between the
        read and the write; only the run whose reads are still current is saved.

        Raises:
            NotFound: If ``key_id`` does not exist.
            StoreError: If Redis fails, or the records keep changing under the update.
        """
        client = self._client
        for _ in range(_UPDATE_ATTEMPTS):
            with translated():
                raw = client.hgetall(self._key(key_id))
            if not raw:
                raise NotFound("no key with this id")
            read_version = raw.get(b"v") or raw.get("v")
            written = tuple(change(_from_hash(raw)))
            for record in written:
                if not isinstance(record, KeyRecord):
                    raise StoreError("a change must return key records")
            with translated():
                pipe = client.pipeline(transaction=False)
                for record in written:
                    pipe.hmget(self._key(record.key_id), ["v", "owner"])
                current = pipe.execute()
                keys: list[str] = []
                entries: list[dict[str, object]] = []
                for record, (version, owner) in zip(written, current, strict=True):
                    if record.key_id == key_id:  # the one change() read: as it was read
                        version = read_version  # noqa: PLW2901
                    values, drop = _fields(record)
                    old_owner = record.owner if owner is None else _text(owner)
                    keys += [
                        self._key(record.key_id),
                        self._owner(record.owner),
                        self._owner(old_owner),
                    ]
                    entries.append(
                        {
                            "v": "" if version is None else _text(version),
                            "id": record.key_id,
                            "score": micros(record.created_at),
                            "fields": values,
                            "drop": drop,
                        }
                    )
                if self._update(keys=keys, args=[json_dumps(entries)]):
                    return written
        raise StoreError("API key record kept changing during an update")

    def consume_use(self, key_id: str) -> int | None:
        """Atomically take one use; ``None`` when none are left or the key is gone."""
        with translated():
            left = int(self._consume(keys=[self._key(key_id)]))
        return None if left < 0 else left

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times in one script (unknown ids are skipped)."""
        if not usage:
            return
        keys = [self._key(key_id) for key_id in usage]
        args: list[int] = []
        for used in usage.values():
            args += (used.count, micros(used.last_used_at))
        with translated():
            self._usage(keys=keys, args=args)

    def __repr__(self) -> str:
        return f"RedisKeyStore(prefix={self._base[: -len('{apikeys}:')]!r})"
