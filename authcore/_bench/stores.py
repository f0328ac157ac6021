"""Shared state per backend: rate-limit decisions, one-time values, API-key verifications.

Three groups compare one operation on every backend from one process, with the memory store
(dicts under a lock, no I/O) as the floor:

* a GCRA rate-limit decision (:meth:`authcore.ratelimit.GCRA.hit`), beside the ``limits``
  package's moving-window limiter on the same Redis server when ``limits`` is installed;
* a one-time value (a webhook id, a DPoP or assertion ``jti``) recorded with
  :meth:`~authcore.onetime.OneTimeStore.add`;
* :meth:`authcore.apikeys.KeyManager.verify` of one key (lookup, hash check, usage batching).

The last groups run the same operations, and the OAuth code flow of the ``oauth_stores``
suite, from 1 and from 8 client *processes* (2 with ``--quick``) against one shared backend
(SQLite file, Redis, PostgreSQL; the memory store is per process, so it has no such row).  Each
process does 50 operations per call.  There the floor is one process and the ratio is the
speed-up from eight: these are results, not gaps.

Redis and PostgreSQL are measured when ``AUTHCORE_BENCH_REDIS_URL`` and
``AUTHCORE_BENCH_POSTGRES_DSN`` name a reachable server (PostgreSQL: use a throwaway
database); otherwise the notes say why they were left out.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from authcore._bench import Group
from authcore._bench.oauth_stores import _flow
from authcore.apikeys import KeyHasher, KeyManager
from authcore.clock import unix_now, utc_now
from authcore.errors import AuthcoreError
from authcore.ratelimit import GCRA

if TYPE_CHECKING:
    from collections.abc import Callable

    from authcore.apikeys import KeyStore
    from authcore.oauth import GrantStore
    from authcore.onetime import OneTimeStore
    from authcore.ratelimit import RateLimitStore

NAME = "stores"

_PEPPER: Final = b"bench-pepper-bench-pepper-32byte"
_PREFIX: Final = "sk_bench"
_RATE: Final = 10_000
_LIMIT: Final = GCRA(_RATE, 1.0)
"""Per key and second; keys rotate over 1000, so every decision is allowed (the usual case)."""
_KEYS: Final = 1000
_PROCESSES: Final = 8
_QUICK_PROCESSES: Final = 2
"""``--quick`` starts two processes: enough to check the machinery, cheap to spawn."""
_PER_PROCESS: Final = 50
_SERVERS: Final = (
    ("Redis", "AUTHCORE_BENCH_REDIS_URL"),
    ("PostgreSQL", "AUTHCORE_BENCH_POSTGRES_DSN"),
)


class _Backend:
    """One backend's stores, built in the process that uses them (never shared by fork)."""

    def __init__(self, kind: str, where: str, prefix: str) -> None:
        self.kind = kind
        self.prefix = prefix
        self.limiter: RateLimitStore
        self.once: OneTimeStore
        self.keys: KeyStore
        self.grants: GrantStore
        if kind == "memory":
            from authcore.stores import memory  # noqa: PLC0415 - per backend

            self.limiter, self.once = memory.MemoryRateLimitStore(), memory.MemoryOneTimeStore()
            self.keys, self.grants = memory.MemoryKeyStore(), memory.MemoryGrantStore()
        elif kind == "SQLite":
            from authcore.stores import sqlite  # noqa: PLC0415

            base = Path(where)
            self.limiter = sqlite.SQLiteRateLimitStore(base / "rate.db")
            self.once = sqlite.SQLiteOneTimeStore(base / "once.db")
            self.keys = sqlite.SQLiteKeyStore(base / "keys.db", synchronous="NORMAL")
            self.grants = sqlite.SQLiteGrantStore(base / "oauth.db")
        elif kind == "Redis":
            from authcore.stores import redis  # noqa: PLC0415 - optional dependency

            client = redis.connect(where, timeout=2.0)
            atexit.register(client.close)
            self.limiter = redis.RedisRateLimitStore(client, prefix=prefix)
            self.once = redis.RedisOneTimeStore(client, prefix=prefix)
            self.keys = redis.RedisKeyStore(client, prefix=prefix)
            self.grants = redis.RedisGrantStore(client, prefix=prefix, retain=60)
        else:
            from authcore.stores import postgres  # noqa: PLC0415 - optional dependency

            database = postgres.PostgresDatabase(
                where,
                schemas=(
                    postgres.KEYS_SCHEMA,
                    postgres.ONE_TIME_SCHEMA,
                    postgres.RATE_LIMIT_SCHEMA,
                    postgres.OAUTH_SCHEMA,
                ),
            )
            atexit.register(database.close)
            self.limiter = postgres.PostgresRateLimitStore(database)
            self.once = postgres.PostgresOneTimeStore(database)
            self.keys = postgres.PostgresKeyStore(database)
            self.grants = postgres.PostgresGrantStore(database)
        self.manager = KeyManager(
            self.keys, KeyHasher({"p1": _PEPPER}), prefix=_PREFIX, flush_interval=5
        )
        self._n = 0
        self._tag = f"{prefix}{os.getpid()}-"
        self._code = _flow(self.grants, f"{self._tag}code-")

    def rate(self) -> object:
        self._n += 1
        decision = _LIMIT.hit(self.limiter, f"{self.prefix}k{self._n % _KEYS}", now=unix_now())
        if not decision.allowed:  # pragma: no cover - the limit is generous
            raise AssertionError("a rate-limit decision was refused")
        return True

    def add(self) -> object:
        self._n += 1
        now = utc_now()
        if not self.once.add(
            f"{self._tag}{self._n}", expires_at=now + dt.timedelta(seconds=60), now=now
        ):
            raise AssertionError("a fresh one-time value was refused")
        return True

    def verify(self, token: str) -> object:
        return self.manager.verify(token).owner

    def code(self) -> object:
        return self._code()


_WORKER: dict[tuple[str, str, str], _Backend] = {}


@dataclass(frozen=True, slots=True)
class _Job:
    """What a worker process runs: ``op`` on the backend ``kind`` at ``where``."""

    kind: str
    where: str
    prefix: str
    op: str
    token: str = ""


def _work(job: _Job, count: int) -> int:
    """Run ``count`` operations in a worker process (its stores are built once)."""
    backend = _WORKER.get((job.kind, job.where, job.prefix))
    if backend is None:
        backend = _Backend(job.kind, job.where, job.prefix)
        _WORKER[(job.kind, job.where, job.prefix)] = backend
    step: Callable[[], object] = (
        functools.partial(backend.verify, job.token)
        if job.op == "verify"
        else getattr(backend, job.op)
    )
    for _ in range(count):
        step()
    return count


def _connected(tag: str) -> tuple[dict[str, str], list[str]]:
    """Backend name to where it lives, for every reachable backend; notes for the others."""
    directory = tempfile.mkdtemp(prefix="authcore-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    found, notes = {"memory": "", "SQLite": directory}, []
    for name, variable in _SERVERS:
        target = os.environ.get(variable)
        if not target:
            notes.append(f"{name} skipped: {variable} is not set")
            continue
        try:
            _Backend(name, target, f"authcore-bench-{tag}check:").add()
        except (AuthcoreError, ImportError) as exc:
            notes.append(f"{name} skipped: unreachable ({type(exc).__name__})")
            continue
        found[name] = target
    return found, notes


def _limits_case(url: str, tag: str) -> tuple[Callable[[], object] | None, str]:
    """The ``limits`` package's moving-window limiter on the same Redis, if installed."""
    try:
        from limits import RateLimitItemPerSecond  # noqa: PLC0415 - optional peer
        from limits.storage import RedisStorage  # noqa: PLC0415
        from limits.strategies import MovingWindowRateLimiter  # noqa: PLC0415
    except ImportError:
        return None, "limits not installed (pip install 'authcore-py[bench]')"
    limiter = MovingWindowRateLimiter(RedisStorage(url))
    item = RateLimitItemPerSecond(_RATE)
    counter = iter(range(1 << 62))

    def hit() -> object:
        if not limiter.hit(item, f"authcore-bench-{tag}limits", str(next(counter) % _KEYS)):
            raise AssertionError("limits refused a request under its limit")  # pragma: no cover
        return True

    return hit, ""


def _pool(processes: int) -> ProcessPoolExecutor:
    # Fresh interpreters: forking would copy open connections and locks of this process.
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    atexit.register(pool.shutdown, cancel_futures=True)
    return pool


def _processes_group(pool: ProcessPoolExecutor, job: _Job, what: str, n: int) -> Group:
    """One shared backend doing a batch of operations from 1 and from ``n`` processes."""

    def one() -> int:
        return pool.submit(_work, job, _PER_PROCESS * n).result()

    def many() -> int:
        return sum(f.result() for f in [pool.submit(_work, job, _PER_PROCESS) for _ in range(n)])

    return Group(
        name=f"{what} on {job.kind}, 1 vs {n} client processes",
        floor="1 process",
        cases={"1 process": one, f"{n} processes": many},
        note=f"one process; ratio = throughput of {n} against it (2 cores, shared with the server)",
        reference=True,
        batch=_PER_PROCESS * n,
    )


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """One process per backend, then 1 against 8 processes on the shared backends."""
    tag = f"{os.getpid()}-{os.urandom(4).hex()}-"
    found, notes = _connected(tag)
    backends = {k: _Backend(k, where, f"authcore-bench-{tag}{k}:") for k, where in found.items()}
    tokens = {k: b.manager.create(owner="acct", scopes=["read"]).token for k, b in backends.items()}
    rate: dict[str, Callable[[], object]] = {k: b.rate for k, b in backends.items()}
    if "Redis" in found:
        hit, why = _limits_case(found["Redis"], tag)
        if hit is not None:
            rate["limits moving window (Redis)"] = hit
        else:
            notes.append(why)
    verify: dict[str, Callable[[], object]] = {
        k: functools.partial(b.verify, tokens[k]) for k, b in backends.items()
    }
    note = "; ".join(["the memory store (dicts under a lock, no I/O)", *notes])
    result = [
        Group(name="Rate-limit decision (GCRA) per backend", floor="memory", cases=rate, note=note),
        Group(
            name="One-time value add per backend",
            floor="memory",
            cases={k: b.add for k, b in backends.items()},
            note=note,
        ),
        Group(name="KeyManager.verify per backend", floor="memory", cases=verify, note=note),
    ]
    processes = _QUICK_PROCESSES if quick else _PROCESSES
    pool = _pool(processes)
    ops = (
        ("rate", "Rate-limit decisions"),
        ("verify", "API-key verifications"),
        ("code", "OAuth code flows"),
    )
    result.extend(
        _processes_group(
            pool,
            _Job(kind, where, f"authcore-bench-{tag}{kind}:", op, tokens[kind]),
            what,
            processes,
        )
        for op, what in ops
        for kind, where in found.items()
        if kind != "memory"  # per process: nothing shared to measure
    )
    for group in result:
        for case in group.cases.values():
            case()  # smoke check (and starts the workers before timing)
    return result
