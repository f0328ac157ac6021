"""authcore.stores.postgres against a throwaway PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

import pytest

from authcore.errors import ConfigurationError, StoreError

from .conftest import need_module
from .records import START

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


def test_stores_share_one_database(database: PostgresDatabase) -> None:
    """Stores opened on one PostgresDatabase share its pool; closing them keeps it open."""
    keys = PostgresKeyStore(database)
    limits = PostgresRateLimitStore(database)
    keys.close()
    limits.close()
    assert keys.database is database
    assert database.schema_version("ratelimit") == 1


def test_oauth_apply_retries_a_deadlock_then_gives_up(
    database: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction aborted as a deadlock is retried whole; one that keeps failing is typed."""
    import dataclasses  # noqa: PLC0415

    from authcore.oauth import AccessToken, Insert  # noqa: PLC0415
    from authcore.stores import _oauth_postgres  # noqa: PLC0415

    store = _oauth_postgres.PostgresGrantStore(database)
    original = _oauth_postgres._apply_one
    failures = [1]

    def deadlocking(conn: psycopg.Connection[tuple[object, ...]], effect: object) -> None:
        original(conn, effect)  # type: ignore[arg-type]
        if failures[0] > 0:
            failures[0] -= 1
            raise psycopg.errors.DeadlockDetected

    monkeypatch.setattr(_oauth_postgres, "_apply_one", deadlocking)
    token = AccessToken(
        digest="a1",
        family_id="f1",
        client_id="web",
        subject=None,
        scope=(),
        issued_at=0.0,
        expires_at=10.0,
    )
    assert store.apply([Insert(record=token)])  # rolled back once, then written once
    assert store.get("a1") == token
    failures[0] = 99
    with pytest.raises(StoreError, match="DeadlockDetected"):
        store.apply([Insert(record=dataclasses.replace(token, digest="a2"))])
    assert failures[0] == 99 - 3  # three attempts in all
    assert store.get("a2") is None
