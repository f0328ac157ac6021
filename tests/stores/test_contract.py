"""One contract for every store backend: memory, SQLite, Redis, Redis Cluster, PostgreSQL.

Each test runs once per backend.  The semantic tests pin what every implementation of
:class:`~authcore.onetime.OneTimeStore`, :class:`~authcore.ratelimit.RateLimitStore` and
:class:`~authcore.apikeys.KeyStore` must do; the race makes 8 processes (threads for the
memory stores) take the last use credits of one key, take rate-limit tokens of one key and
add the same one-time keys, and checks exactly one winner per prize, no over-admission and
exact counts.  New store protocols (OAuth codes, refresh families, device codes) add a
factory to :class:`Backend` and ``workers.open_stores`` and a race to ``workers.race``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import multiprocessing
import queue
import random
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from authcore.apikeys import Usage
from authcore.errors import ConfigurationError, NotFound, StoreError
from authcore.onetime import OneTimeStore
from authcore.ratelimit import GCRA, _to_ns
from authcore.stores.memory import MemoryKeyStore, MemoryOneTimeStore, MemoryRateLimitStore

from .conftest import need_module
from .records import START, make_record
from .workers import (
    CREDITS,
    KEY_ID,
    LIMIT,
    ONE_TIME_KEYS,
    TRIES,
    Spec,
    close,
    open_stores,
    race,
    race_process,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from authcore.apikeys import KeyStore
    from authcore.ratelimit import RateLimitStore

WORKERS = 8
_RACE_TIMEOUT = 120.0


class Backend:
    """One backend's stores, built in this process (and, for the race, its :class:`Spec`)."""

    def __init__(self, name: str, spec: Spec | None) -> None:
        self.name = name
        self.spec = spec
        self._close: list[Any] = []
        self._stores: tuple[KeyStore, RateLimitStore, OneTimeStore]
        if spec is None:
            self._stores = (MemoryKeyStore(), MemoryRateLimitStore(), MemoryOneTimeStore())
        else:  # rate limits on the caller's clock, so decisions can be compared exactly
            keys, limits, once, self._close = open_stores(spec, server_time=False)
            self._stores = (keys, limits, once)

    def keys(self) -> KeyStore:
        """This backend's API key store."""
        return self._stores[0]

    def limits(self) -> RateLimitStore:
        """This backend's rate-limit store, deciding on the caller's clock."""
        return self._stores[1]

    def onetime(self) -> OneTimeStore:
        """This backend's one-time store."""
        return self._stores[2]

    def close(self) -> None:
        for item in self._close:
            close(item)


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-cluster", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn, empty."""
    name = request.param
    spec: Spec | None = None
    if name == "sqlite":
        spec = Spec(backend=name, target=str(tmp_path / "contract.db"))
    elif name in {"redis", "redis-cluster"}:
        need_module("redis")
        server = request.getfixturevalue("redis_server" if name == "redis" else "redis_cluster")
        spec = Spec(backend=name, target=server.url, prefix=request.getfixturevalue("redis_prefix"))
    elif name == "postgres":
        spec = Spec(backend=name, target=request.getfixturevalue("postgres_dsn"))
    result = Backend(name, spec)
    yield result
    result.close()


# --------------------------------------------------------------------------- semantics


def test_one_time_values(backend: Backend) -> None:
    """add() remembers a key until it expires and reports replays; contains() agrees."""
    store = backend.onetime()
    assert isinstance(store, OneTimeStore)
    later = START + dt.timedelta(minutes=5)
    assert store.add("webhook:msg_1", expires_at=later, now=START)
    assert not store.add("webhook:msg_1", expires_at=later, now=START)
    assert store.contains("webhook:msg_1", now=START)
    assert not store.contains("webhook:msg_2", now=START)
    assert store.add("webhook:msg_2", expires_at=START, now=START)  # expired on arrival
    assert not store.contains("webhook:msg_2", now=START - dt.timedelta(seconds=1))
    assert store.add("k" * 512, expires_at=later, now=START)
    with pytest.raises(ConfigurationError):
        store.add("k" * 513, expires_at=later, now=START)
    with pytest.raises(ConfigurationError):
        store.add("x", expires_at=later, now=START.replace(tzinfo=None))


def test_rate_limit_decisions(backend: Backend) -> None:
    """Every store gives GCRA's exact decisions: the burst, then refusals, then the refill."""
    store = backend.limits()
    limit = GCRA(2, 1.0, burst=3)
    now = _to_ns(START)
    allowed = [store.hit("ip:1", limit, cost=1, now_ns=now).allowed for _ in range(4)]
    assert allowed == [True, True, True, False]
    refused = store.hit("ip:1", limit, cost=1, now_ns=now)
    assert refused == limit.step(now + 3 * limit.interval_ns, now, 1)[1]
    assert refused.retry_after == 0.5
    assert store.hit("ip:2", limit, cost=3, now_ns=now).allowed  # keys are independent
    assert store.hit("ip:1", limit, cost=1, now_ns=now + limit.interval_ns).allowed
    with pytest.raises(ConfigurationError):
        store.hit("ip:1", limit, cost=4, now_ns=now)
    store.reset("ip:1")
    assert store.hit("ip:1", limit, cost=3, now_ns=now).remaining == 0


def test_rate_limit_matches_gcra_step(backend: Backend) -> None:
    """Over a random run of times and costs, each decision is exactly GCRA.step's."""
    store = backend.limits()
    reference = MemoryRateLimitStore()
    rng = random.Random(17)  # noqa: S311 - reproducible test data
    limit = GCRA(7, 3.0, burst=5)
    now = _to_ns(START) + 123_456_789
    for _ in range(150):
        now += rng.randrange(0, 900_000_000)
        cost = rng.randint(1, 5)
        assert store.hit("k", limit, cost=cost, now_ns=now) == reference.hit(
            "k", limit, cost=cost, now_ns=now
        )


def test_key_records(backend: Backend) -> None:
    """Records round-trip exactly; ids are unique; owners list oldest first."""
    store = backend.keys()
    first, second = make_record("b" * 16, at=1), make_record("a" * 16, at=2)
    store.add(first)
    store.add(second)
    store.add(make_record("c" * 16, owner="other"))
    assert store.get(first.key_id) == first
    assert store.get("z" * 16) is None
    assert store.list_owner("acct") == (first, second)
    assert store.list_owner("nobody") == ()
    with pytest.raises(StoreError):
        store.add(first)


def test_key_updates_credits_and_usage(backend: Backend) -> None:
    """update() saves every record it returns; credits stop at zero; usage accumulates."""
    store = backend.keys()
    store.add(make_record("k" * 16, uses=2))
    assert store.consume_use("k" * 16) == 1
    assert store.consume_use("k" * 16) == 0
    assert store.consume_use("k" * 16) is None
    assert store.consume_use("n" * 16) is None
    successor = make_record("m" * 16, at=5)
    written = store.update("k" * 16, lambda r: (replace(r, replaced_by="m" * 16), successor))
    assert store.get("k" * 16) == written[0]
    assert store.get("m" * 16) == successor
    assert [r.key_id for r in store.list_owner("acct")] == ["k" * 16, "m" * 16]
    with pytest.raises(NotFound):
        store.update("x" * 16, lambda r: (r,))
    with pytest.raises(StoreError):
        store.update("k" * 16, lambda _: ("junk",))  # type: ignore[arg-type,return-value]
    assert store.get("k" * 16) == written[0]  # nothing written by the failed change
    store.record_usage({})
    store.record_usage(
        {"m" * 16: Usage(count=3, last_used_at=START), "q" * 16: Usage(count=1, last_used_at=START)}
    )
    store.record_usage({"m" * 16: Usage(count=2, last_used_at=START - dt.timedelta(hours=1))})
    record = store.get("m" * 16)
    assert record is not None
    assert (record.use_count, record.last_used_at) == (5, START)


def test_key_manager_runs_unchanged_on_every_backend(backend: Backend) -> None:
    """KeyManager's whole lifecycle works over each store: verify, credits, rotate, revoke."""
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.clock import FixedClock  # noqa: PLC0415
    from authcore.errors import QuotaExhausted, RateLimited, Revoked  # noqa: PLC0415

    clock = FixedClock(START)
    manager = KeyManager(
        backend.keys(),
        KeyHasher({"p1": b"p" * 32}),
        prefix="sk_live",
        clock=clock,
        limiter=backend.limits(),
    )
    issued = manager.create(owner="acct", scopes=("read",), remaining_uses=2)
    assert manager.verify(issued.token, scopes=("read",)).remaining_uses == 1
    limited = manager.create(owner="acct", rate_limit=GCRA(1, 3600))
    manager.verify(limited.token)
    with pytest.raises(RateLimited):
        manager.verify(limited.token)
    successor = manager.rotate(issued.record.key_id, grace=60)
    assert successor.record.remaining_uses == 1
    manager.verify(issued.token)  # the old key works during the grace period
    with pytest.raises(QuotaExhausted):
        manager.verify(issued.token)
    manager.revoke(successor.record.key_id)
    with pytest.raises(Revoked):
        manager.verify(successor.token)
    assert {r.key_id for r in manager.list("acct")} == {
        issued.record.key_id,
        limited.record.key_id,
        successor.record.key_id,
    }
    manager.flush()


# --------------------------------------------------------------------------- exactly once


def _race_threads(backend: Backend) -> list[Any]:
    stores = (backend.keys(), backend.limits(), backend.onetime())
    barrier = threading.Barrier(WORKERS, timeout=_RACE_TIMEOUT)
    results: list[Any] = []
    lock = threading.Lock()

    def work() -> None:
        outcome = race(stores, barrier)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def race_processes(
    spec: Spec, target: Callable[..., None] = race_process, args: tuple[Any, ...] = ()
) -> list[Any]:
    """Run ``target(spec, *args, barrier, results)`` in 8 processes; return what they put."""
    context = multiprocessing.get_context("forkserver")
    # Imported once by the fork server, so each racer starts in a few milliseconds.
    preload = ["tests.stores.workers", "authcore.stores.sqlite"]
    preload += [
        f"authcore.stores.{name}"
        for name, module in (("redis", "redis"), ("postgres", "psycopg_pool"))
        if importlib.util.find_spec(module) is not None
    ]
    context.set_forkserver_preload(preload)
    barrier = context.Barrier(WORKERS, timeout=_RACE_TIMEOUT)
    results: Any = context.Queue()
    processes = [
        context.Process(target=target, args=(spec, *args, barrier, results)) for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes: list[Any] = []
    try:
        for _ in processes:
            with contextlib.suppress(queue.Empty):
                outcomes.append(results.get(timeout=_RACE_TIMEOUT))
    finally:
        for process in processes:
            process.join(_RACE_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        results.close()
        results.join_thread()
    return outcomes


def test_exactly_once_across_processes(backend: Backend) -> None:
    """8 racers: the last credits, rate-limit tokens and one-time keys each go exactly once."""
    backend.keys().add(make_record(KEY_ID, uses=CREDITS))
    outcomes = _race_threads(backend) if backend.spec is None else race_processes(backend.spec)
    errors = [o for o in outcomes if isinstance(o, str)]
    assert errors == []
    assert len(outcomes) == WORKERS
    uses = [left for c, _, _ in outcomes for left in c if left is not None]
    assert sorted(uses) == list(range(CREDITS))  # every credit taken once, none twice
    tokens = sum(sum(t) for _, t, _ in outcomes)
    assert tokens == LIMIT.burst  # no over-admission, no lost token
    winners = [sum(a[i] for _, _, a in outcomes) for i in range(ONE_TIME_KEYS)]
    assert winners == [1] * ONE_TIME_KEYS
    record = backend.keys().get(KEY_ID)
    assert record is not None
    assert record.remaining_uses == 0
    assert WORKERS * TRIES > CREDITS
    assert LIMIT.burst < WORKERS * TRIES


@pytest.mark.parametrize("key", ["\ud800", "nul\x00byte", "é" * 600, "{tag}x"])
def test_odd_keys_are_handled_or_refused_with_typed_errors(backend: Backend, key: str) -> None:
    """Unencodable, NUL-carrying or huge keys never raise an untyped error from any store."""
    from authcore.errors import AuthcoreError  # noqa: PLC0415

    limit = GCRA(5, 60)
    calls: list[Callable[[], object]] = [
        lambda: backend.limits().hit(key, limit, cost=1, now_ns=_to_ns(START)),
        lambda: backend.onetime().add(key, expires_at=START + dt.timedelta(1), now=START),
        lambda: backend.onetime().contains(key, now=START),
    ]
    if backend.name != "sqlite":  # TODO: SQLiteKeyStore lets UnicodeEncodeError escape
        calls += [
            lambda: backend.keys().get(key),
            lambda: backend.keys().consume_use(key),
            lambda: backend.keys().list_owner(key),
        ]
    for call in calls:
        try:
            call()
        except AuthcoreError:
            pass
