"""authcore.stores.postgres against a throwaway PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from authcore.apikeys import Usage
from authcore.errors import ConfigurationError, NotFound, StoreError
from authcore.ratelimit import GCRA, to_ns
from authcore.stores.memory import MemoryRateLimitStore

from .conftest import need_module
from .records import START, make_record

if TYPE_CHECKING:
    from collections.abc import Iterator

need_module("psycopg", "psycopg_pool")

import psycopg  # noqa: E402 - after the skip check

from authcore.stores.postgres import (  # noqa: E402
    KEYS_SCHEMA,
    ONE_TIME_SCHEMA,
    RATE_LIMIT_SCHEMA,
    PostgresDatabase,
    PostgresKeyStore,
    PostgresOneTimeStore,
    PostgresRateLimitStore,
)

SCHEMAS = (KEYS_SCHEMA, ONE_TIME_SCHEMA, RATE_LIMIT_SCHEMA)


@pytest.fixture
def database(postgres_dsn: str) -> Iterator[PostgresDatabase]:
    db = PostgresDatabase(postgres_dsn, max_size=4)
    yield db
    db.close()


def test_processes_starting_together_migrate_once(postgres_dsn: str) -> None:
    """Eight openers at once (advisory lock) leave every component at its latest version."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_one() -> None:
        barrier.wait()
        try:
            PostgresDatabase(postgres_dsn, schemas=SCHEMAS, min_size=0, max_size=1).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = PostgresDatabase(postgres_dsn)
    try:
        assert [db.schema_version(s.component) for s in SCHEMAS] == [1, 1, 1]
        assert db.schema_version("unknown") == 0
    finally:
        db.close()


def test_a_newer_schema_is_refused(database: PostgresDatabase, postgres_dsn: str) -> None:
    """A database migrated by a newer authcore is refused rather than misread."""
    PostgresKeyStore(database)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE authcore_schema SET version = 99 WHERE component = 'apikeys'")
    with pytest.raises(StoreError, match="newer"):
        PostgresKeyStore(postgres_dsn)


def test_bad_options_are_configuration_errors(postgres_dsn: str) -> None:
    """Invalid pool options and connection strings are refused before any I/O."""
    with pytest.raises(ConfigurationError):
        PostgresDatabase(postgres_dsn, timeout=0)
    with pytest.raises(ConfigurationError):
        PostgresDatabase(postgres_dsn, min_size=3, max_size=2)
    with pytest.raises(ConfigurationError):
        PostgresDatabase("host=127.0.0.1 bogus_option=1")
    with pytest.raises(ConfigurationError):
        PostgresOneTimeStore(postgres_dsn, purge_every=0)


def test_key_store_round_trips_records(database: PostgresDatabase) -> None:
    """Records read back equal; ids are unique; owners list oldest first."""
    store = PostgresKeyStore(database)
    first, second = make_record("b" * 16, at=1), make_record("a" * 16, at=2)
    store.add(first)
    store.add(second)
    store.add(make_record("c" * 16, owner="other"))
    assert store.get(first.key_id) == first
    assert store.get("z" * 16) is None
    assert store.list_owner("acct") == (first, second)
    with pytest.raises(StoreError, match="exists"):
        store.add(first)
    assert repr(store) == "PostgresKeyStore()"


def test_key_store_update_credits_and_usage(database: PostgresDatabase) -> None:
    """update() saves every returned record; credits stop at zero; usage adds up."""
    store = PostgresKeyStore(database)
    store.add(make_record("k" * 16, uses=2))
    assert store.consume_use("k" * 16) == 1
    assert store.consume_use("k" * 16) == 0
    assert store.consume_use("k" * 16) is None
    assert store.consume_use("n" * 16) is None
    new = make_record("m" * 16)
    written = store.update("k" * 16, lambda r: (replace(r, replaced_by=new.key_id), new))
    assert store.get("k" * 16) == written[0]
    assert store.get("m" * 16) == new
    with pytest.raises(NotFound):
        store.update("x" * 16, lambda r: (r,))
    with pytest.raises(StoreError):
        store.update("k" * 16, lambda _: ("junk",))  # type: ignore[arg-type,return-value]
    store.record_usage(
        {"m" * 16: Usage(count=3, last_used_at=START), "q" * 16: Usage(count=1, last_used_at=START)}
    )
    store.record_usage({"m" * 16: Usage(count=2, last_used_at=START - dt.timedelta(hours=1))})
    store.record_usage({})
    record = store.get("m" * 16)
    assert record is not None
    assert (record.use_count, record.last_used_at) == (5, START)


def test_one_time_store(database: PostgresDatabase) -> None:
    """add() is check-and-remember; expired rows are taken over; contains() follows now."""
    store = PostgresOneTimeStore(database, purge_every=2)
    later = START + dt.timedelta(seconds=30)
    assert store.add("jti:1", expires_at=later, now=START)
    assert not store.add("jti:1", expires_at=later, now=START)
    assert store.contains("jti:1", now=START)
    assert not store.contains("jti:1", now=later)
    assert store.add("jti:1", expires_at=later + dt.timedelta(seconds=30), now=later)
    assert store.add("jti:2", expires_at=START, now=START)  # already expired: new, not kept
    assert not store.contains("jti:2", now=START - dt.timedelta(seconds=1))
    assert not store.contains(5, now=START)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        store.add("", expires_at=later, now=START)


def test_rate_limit_matches_gcra_step_exactly(database: PostgresDatabase) -> None:
    """Every decision equals the in-memory GCRA decision for the same times and costs."""
    store = PostgresRateLimitStore(database, prune_every=7)
    memory = MemoryRateLimitStore()
    rng = random.Random(17)  # noqa: S311 - reproducible test data
    limit = GCRA(7, 3.0, burst=5)
    now = to_ns(START) + 123_456_789
    for _ in range(200):
        now += rng.randrange(0, 900_000_000)
        cost = rng.randint(1, 5)
        expected = memory.hit("k", limit, cost=cost, now_ns=now)
        assert store.hit("k", limit, cost=cost, now_ns=now) == expected
    store.reset("k")
    assert store.hit("k", limit, cost=5, now_ns=now).allowed
    with pytest.raises(ConfigurationError):
        store.hit("k", limit, cost=6, now_ns=now)


def test_stores_share_one_database(database: PostgresDatabase) -> None:
    """Stores opened on one PostgresDatabase share its pool; closing them keeps it open."""
    keys = PostgresKeyStore(database)
    limits = PostgresRateLimitStore(database)
    keys.close()
    limits.close()
    assert keys.database is database
    assert database.schema_version("ratelimit") == 1
