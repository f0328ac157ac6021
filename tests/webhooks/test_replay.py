"""Replay caches: memory and SQLite."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from authcore._sqlite import SQLiteDatabase
from authcore.errors import ConfigurationError, StoreError
from authcore.stores.sqlite import SQLiteOneTimeStore
from authcore.webhooks import (
    MemoryReplayCache,
    ReplayCache,
    SQLiteReplayCache,
    WebhookVerifier,
    stripe,
    verify,
)

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + dt.timedelta(minutes=5)


def _caches(tmp_path: Path) -> list[ReplayCache]:
    return [MemoryReplayCache(), SQLiteReplayCache(tmp_path / "r.db")]


def test_both_caches_satisfy_the_protocol(tmp_path: Path) -> None:
    """The memory and SQLite caches are ReplayCache implementations."""
    for cache in _caches(tmp_path):
        assert isinstance(cache, ReplayCache)


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_add_once_then_refuse_until_expiry(tmp_path: Path, index: int) -> None:
    """A key is new once, then refused until it expires, then new again."""
    cache = _caches(tmp_path)[index]
    assert cache.add("k", expires_at=LATER, now=NOW)
    assert not cache.add("k", expires_at=LATER, now=NOW + dt.timedelta(minutes=1))
    assert cache.add("other", expires_at=LATER, now=NOW)
    assert cache.add("k", expires_at=LATER + dt.timedelta(minutes=5), now=LATER)
    assert not cache.add("k", expires_at=LATER, now=LATER + dt.timedelta(seconds=1))


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_add_arguments_are_checked(tmp_path: Path, index: int) -> None:
    """Empty or non-str keys and naive or non-datetime times are configuration errors."""
    cache = _caches(tmp_path)[index]
    naive = NOW.replace(tzinfo=None)
    bad_calls: list[tuple[object, object, object]] = [
        ("", LATER, NOW),
        (5, LATER, NOW),
        ("k", naive, NOW),
        ("k", LATER, naive),
        ("k", 1700000000, NOW),
    ]
    for key, expires_at, now in bad_calls:
        with pytest.raises(ConfigurationError):
            cache.add(key, expires_at=expires_at, now=now)  # type: ignore[arg-type]


def test_memory_cache_drops_expired_entries() -> None:
    """Expired keys are purged as new keys arrive."""
    cache = MemoryReplayCache()
    for i in range(10):
        cache.add(f"k{i}", expires_at=LATER, now=NOW)
    assert len(cache) == 10
    cache.add("fresh", expires_at=LATER + dt.timedelta(hours=1), now=LATER)
    assert len(cache) == 1
    assert "entries=1" in repr(cache)


def test_memory_cache_fails_closed_when_full() -> None:
    """A full cache raises StoreError instead of forgetting a live key."""
    cache = MemoryReplayCache(max_entries=2)
    cache.add("a", expires_at=LATER, now=NOW)
    cache.add("b", expires_at=LATER, now=NOW)
    with pytest.raises(StoreError, match="full"):
        cache.add("c", expires_at=LATER, now=NOW)
    assert not cache.add("a", expires_at=LATER, now=NOW)
    assert cache.add("c", expires_at=LATER + dt.timedelta(minutes=1), now=LATER)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"], ids=repr)
def test_memory_cache_validates_capacity(bad: object) -> None:
    """max_entries must be a positive int."""
    with pytest.raises(ConfigurationError):
        MemoryReplayCache(max_entries=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_concurrent_adds_accept_each_key_once(tmp_path: Path, index: int) -> None:
    """Threads racing on the same keys: each key is accepted exactly once."""
    cache = _caches(tmp_path)[index]
    accepted: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(50):
            if cache.add(f"key{i}", expires_at=LATER, now=NOW):
                with lock:
                    accepted.append(f"key{i}")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(accepted) == sorted(f"key{i}" for i in range(50))


def test_sqlite_cache_is_shared_between_connections(tmp_path: Path) -> None:
    """Two caches on one file (as two processes would) see each other's keys."""
    path = tmp_path / "shared.db"
    with SQLiteReplayCache(path) as first, SQLiteReplayCache(path) as second:
        assert first.add("k", expires_at=LATER, now=NOW)
        assert not second.add("k", expires_at=LATER, now=NOW)
        assert "shared.db" in repr(first)


def test_sqlite_cache_uses_wal_and_records_schema_version(tmp_path: Path) -> None:
    """The file is in WAL mode; the shared authcore_schema table holds the layout version."""
    path = tmp_path / "r.db"
    SQLiteReplayCache(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = conn.execute("SELECT component, version FROM authcore_schema").fetchall()
        assert rows == [("webhook_replay", 1)]
    finally:
        conn.close()


def test_sqlite_cache_shares_a_database_with_other_stores(tmp_path: Path) -> None:
    """Given an open SQLiteDatabase, the cache migrates its table into it beside others."""
    db = SQLiteDatabase(tmp_path / "shared.db", schemas=[])
    SQLiteOneTimeStore(db)
    cache = SQLiteReplayCache(db)
    assert cache.add("k", expires_at=LATER, now=NOW)
    assert db.schema_version("webhook_replay") == 1
    assert db.schema_version("onetime") == 1
    again = SQLiteReplayCache(tmp_path / "shared.db")
    assert not again.add("k", expires_at=LATER, now=NOW)
    again.close()
    cache.close()


def test_sqlite_cache_refuses_an_unknown_schema(tmp_path: Path) -> None:
    """A file written by another layout version is refused, not guessed at."""
    path = tmp_path / "r.db"
    SQLiteReplayCache(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE authcore_schema SET version = 99 WHERE component = 'webhook_replay'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="99"):
        SQLiteReplayCache(path)


def test_sqlite_cache_purges_expired_rows(tmp_path: Path) -> None:
    """Expired rows are deleted periodically."""
    path = tmp_path / "r.db"
    cache = SQLiteReplayCache(path)
    for i in range(300):
        cache.add(f"k{i}", expires_at=LATER, now=NOW)
    for i in range(300):
        cache.add(f"n{i}", expires_at=LATER + dt.timedelta(hours=1), now=LATER)
    cache.close()
    conn = sqlite3.connect(path)
    try:
        (old,) = conn.execute("SELECT count(*) FROM webhook_replay WHERE key LIKE 'k%'").fetchone()
    finally:
        conn.close()
    assert old == 0


def test_sqlite_errors_are_store_errors(tmp_path: Path) -> None:
    """A closed or unopenable database raises StoreError."""
    cache = SQLiteReplayCache(tmp_path / "r.db")
    cache.close()
    with pytest.raises(StoreError):
        cache.add("k", expires_at=LATER, now=NOW)
    with pytest.raises(StoreError):
        SQLiteReplayCache(tmp_path / "missing-dir" / "r.db")
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteReplayCache(tmp_path / "garbage.db")
    with pytest.raises(ConfigurationError):
        SQLiteReplayCache(tmp_path / "r.db", timeout=-1)


def test_sqlite_cache_survives_fork(tmp_path: Path) -> None:
    """A forked child opens its own connection and shares the keys through the file."""
    cache = SQLiteReplayCache(tmp_path / "r.db")
    assert cache.add("parent", expires_at=LATER, now=NOW)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        ok = not cache.add("parent", expires_at=LATER, now=NOW) and cache.add(
            "child", expires_at=LATER, now=NOW
        )
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not cache.add("child", expires_at=LATER, now=NOW)
    cache.close()
    with pytest.raises(StoreError, match="closed"):
        cache.add("after", expires_at=LATER, now=NOW)


def test_sqlite_failure_mid_transaction_rolls_back(tmp_path: Path) -> None:
    """A statement failing inside add() rolls back and raises StoreError; the cache recovers."""
    path = tmp_path / "r.db"
    cache = SQLiteReplayCache(path)
    other = sqlite3.connect(path)
    other.execute("ALTER TABLE webhook_replay RENAME TO moved")
    other.commit()
    with pytest.raises(StoreError):
        cache.add("k", expires_at=LATER, now=NOW)
    other.execute("ALTER TABLE moved RENAME TO webhook_replay")
    other.commit()
    other.close()
    assert cache.add("k", expires_at=LATER, now=NOW)
    cache.close()


def test_sqlite_schema_failure_rolls_back(tmp_path: Path) -> None:
    """A file whose replay table cannot be indexed is refused with StoreError."""
    path = tmp_path / "r.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW webhook_replay AS SELECT 1 AS key, 2 AS expires_at")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError):
        SQLiteReplayCache(path)


def test_bad_replay_cache_arguments_are_configuration_errors() -> None:
    """An object without add(), or a path that is not a path, is refused at setup."""
    with pytest.raises(ConfigurationError, match="replay_cache"):
        WebhookVerifier("whsec_" + "A" * 32, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        verify(b"", {}, "whsec_" + "A" * 32, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        stripe.verify(b"", "t=1,v1=a", "s", replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="path"):
        SQLiteReplayCache(5)  # type: ignore[arg-type]


def test_sqlite_memory_database_is_refused() -> None:
    """':memory:' is refused (each thread would see its own database): use the memory cache."""
    with pytest.raises(ConfigurationError, match="memory"):
        SQLiteReplayCache(":memory:")
