"""What each racing process of the contract suite runs (imported by the forkserver, kept light).

A :class:`Spec` names a backend and where it lives; :func:`open_stores` builds that backend's
stores in the calling process (connections are never inherited), and :func:`race` runs the
contract's three races between barriers and reports what this process won.

The OAuth grant and client stores have their own factory (:func:`open_oauth_stores`) and
race (:func:`oauth_race`: redeem one code, rotate one refresh token), asserted in
``test_oauth_contract.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authcore.ratelimit import GCRA

from .records import START

if TYPE_CHECKING:
    import multiprocessing.queues
    import multiprocessing.synchronize

    from authcore.apikeys import KeyStore
    from authcore.oauth import ClientStore, GrantStore
    from authcore.onetime import OneTimeStore
    from authcore.ratelimit import RateLimitStore

__all__ = [
    "CREDITS",
    "KEY_ID",
    "LIMIT",
    "OAUTH_ROUNDS",
    "ONE_TIME_KEYS",
    "START",
    "TRIES",
    "Spec",
    "close",
    "oauth_race",
    "oauth_race_process",
    "open_oauth_stores",
    "open_stores",
    "race",
]

KEY_ID = "contractkey00001"
CREDITS = 20
"""Use credits on the shared key: fewer than the workers try to take."""
LIMIT = GCRA(30, 86_400)
"""A burst of 30 and no refill during a test (one token per 48 minutes)."""
ONE_TIME_KEYS = 12
TRIES = 8
"""Credits and rate-limit tokens each worker tries to take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A backend and its location (picklable, sent to each racing process)."""

    backend: str
    target: str
    prefix: str = "authcore:"


def open_stores(
    spec: Spec, *, server_time: bool = True
) -> tuple[KeyStore, RateLimitStore, OneTimeStore, list[Any]]:
    """Build the backend's stores in this process, and what must be closed afterwards.

    ``server_time=False`` makes a Redis rate limiter decide on the caller's clock.
    """
    if spec.backend == "sqlite":
        from authcore.stores import sqlite  # noqa: PLC0415 - per backend

        keys = sqlite.SQLiteKeyStore(spec.target)
        limits = sqlite.SQLiteRateLimitStore(spec.target)
        once = sqlite.SQLiteOneTimeStore(spec.target)
        return keys, limits, once, [keys, limits, once]
    if spec.backend in {"redis", "redis-cluster"}:
        from authcore.stores import redis  # noqa: PLC0415

        client = redis.connect(spec.target, cluster=spec.backend == "redis-cluster", timeout=10)
        return (
            redis.RedisKeyStore(client, prefix=spec.prefix),
            redis.RedisRateLimitStore(client, prefix=spec.prefix, server_time=server_time),
            redis.RedisOneTimeStore(client, prefix=spec.prefix),
            [client],
        )
    if spec.backend == "postgres":
        from authcore.stores import postgres  # noqa: PLC0415

        db = postgres.PostgresDatabase(spec.target, max_size=2, timeout=30)
        return (
            postgres.PostgresKeyStore(db),
            postgres.PostgresRateLimitStore(db),
            postgres.PostgresOneTimeStore(db),
            [db],
        )
    raise ValueError(spec.backend)


def race(
    stores: tuple[KeyStore, RateLimitStore, OneTimeStore],
    barrier: Any,
) -> tuple[list[int | None], list[bool], list[bool]]:
    """Take credits, then rate-limit tokens, then one-time keys, in step with the others."""
    keys, limits, once = stores
    barrier.wait()
    uses = [keys.consume_use(KEY_ID) for _ in range(TRIES)]
    barrier.wait()
    tokens = [LIMIT.hit(limits, "shared", now=START).allowed for _ in range(TRIES)]
    barrier.wait()
    later = START + dt.timedelta(hours=1)
    added = [once.add(f"jti:{i}", expires_at=later, now=START) for i in range(ONE_TIME_KEYS)]
    return uses, tokens, added


def race_process(
    spec: Spec,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue[object],
) -> None:
    """The body of one racing process: open, race, report (or report the error), close."""
    try:
        keys, limits, once, to_close = open_stores(spec)
    except BaseException as exc:
        barrier.abort()
        results.put(f"open failed: {exc!r}")
        raise
    try:
        results.put(race((keys, limits, once), barrier))
    except BaseException as exc:
        barrier.abort()
        results.put(f"race failed: {exc!r}")
        raise
    finally:
        for item in to_close:
            close(item)


# --------------------------------------------------------------------------- OAuth grants

OAUTH_ROUNDS = 3
"""Codes (and refresh tokens) the racing processes fight over, one after another."""


def open_oauth_stores(spec: Spec) -> tuple[GrantStore, ClientStore, list[Any]]:
    """Build the backend's OAuth grant and client stores in this process, and what to close."""
    if spec.backend == "sqlite":
        from authcore.stores import sqlite  # noqa: PLC0415 - per backend

        grants = sqlite.SQLiteGrantStore(spec.target)
        clients = sqlite.SQLiteClientStore(grants.database)
        return grants, clients, [grants]
    if spec.backend in {"redis", "redis-cluster"}:
        from authcore.stores import redis  # noqa: PLC0415

        client = redis.connect(spec.target, cluster=spec.backend == "redis-cluster", timeout=10)
        return (
            redis.RedisGrantStore(client, prefix=spec.prefix),
            redis.RedisClientStore(client, prefix=spec.prefix),
            [client],
        )
    if spec.backend == "postgres":
        from authcore.stores import postgres  # noqa: PLC0415

        db = postgres.PostgresDatabase(spec.target, max_size=2, timeout=30)
        return postgres.PostgresGrantStore(db), postgres.PostgresClientStore(db), [db]
    raise ValueError(spec.backend)


def oauth_race(store: GrantStore, codes: list[str], refresh: list[str], barrier: Any) -> list[int]:
    """Redeem each code, then rotate each refresh token, in step with the other racers.

    Returns the token endpoint's statuses, codes first.
    """
    from tests.oauth import helpers  # noqa: PLC0415 - the server's test clients and keys

    env = helpers.make_env(store=store)
    statuses: list[int] = []
    for code in codes:
        barrier.wait()
        statuses.append(helpers.redeem(env, code).status)
    for token in refresh:
        barrier.wait()
        statuses.append(helpers.refresh(env, token).status)
    return statuses


def oauth_race_process(
    spec: Spec,
    codes: list[str],
    refresh: list[str],
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue[object],
) -> None:
    """The body of one OAuth racing process: open, race, report (or report the error)."""
    try:
        store, _, to_close = open_oauth_stores(spec)
    except BaseException as exc:
        barrier.abort()
        results.put(f"open failed: {exc!r}")
        raise
    try:
        results.put(oauth_race(store, codes, refresh, barrier))
    except BaseException as exc:
        barrier.abort()
        results.put(f"race failed: {exc!r}")
        raise
    finally:
        for item in to_close:
            close(item)


def close(item: Any) -> None:
    """Close a store, database or Redis client, with every socket a cluster client opened.

    ``RedisCluster.close()`` leaves the per-node pools of a client made by ``from_url`` open
    (their ``auto_close_connection_pool`` is off), so their sockets would be closed only by
    the garbage collector, as a ``ResourceWarning`` (an error in this test suite).
    """
    nodes = item.get_nodes() if hasattr(item, "get_nodes") else []
    item.close()
    for node in nodes:
        if node.redis_connection is not None:
            node.redis_connection.connection_pool.disconnect()
