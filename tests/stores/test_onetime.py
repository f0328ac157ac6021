"""One-time stores (authcore.onetime.OneTimeStore): memory and SQLite."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from authcore._sqlite import SQLiteDatabase
from authcore.errors import ConfigurationError, StoreError
from authcore.onetime import MAX_KEY_LENGTH, OneTimeStore
from authcore.stores.memory import MemoryOneTimeStore
from authcore.stores.sqlite import KEYS_SCHEMA, SQLiteOneTimeStore

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + dt.timedelta(minutes=5)


def _caches(tmp_path: Path) -> list[OneTimeStore]:
    return [MemoryOneTimeStore(), SQLiteOneTimeStore(tmp_path / "r.db")]


def test_both_caches_satisfy_the_protocol(tmp_path: Path) -> None:
    """The memory and SQLite caches are OneTimeStore implementations."""
    for cache in _caches(tmp_path):
        assert isinstance(cache, OneTimeStore)


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
    """Empty or non-str keys, naive, missing, non-finite or mistyped times are refused."""
    cache = _caches(tmp_path)[index]
    naive = NOW.replace(tzinfo=None)
    bad_calls: list[tuple[object, object, object]] = [
        ("", LATER, NOW),
        (5, LATER, NOW),
        ("k", naive, NOW),
        ("k", LATER, naive),
        ("k", None, NOW),
        ("k", LATER, None),
        ("k", float("nan"), NOW),
        ("k", True, NOW),
        ("k", "1700000000", NOW),
    ]
    for key, expires_at, now in bad_calls:
        with pytest.raises(ConfigurationError):
            cache.add(key, expires_at=expires_at, now=now)  # type: ignore[arg-type]


def test_memory_cache_drops_expired_entries() -> None:
    """Expired keys are purged as new keys arrive."""
    cache = MemoryOneTimeStore()
    for i in range(10):
        cache.add(f"k{i}", expires_at=LATER, now=NOW)
    assert len(cache) == 10
    cache.add("fresh", expires_at=LATER + dt.timedelta(hours=1), now=LATER)
    assert len(cache) == 1
    assert "entries=1" in repr(cache)


def test_memory_cache_fails_closed_when_full() -> None:
    """A full cache raises StoreError instead of forgetting a live key."""
    cache = MemoryOneTimeStore(max_entries=2)
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
        MemoryOneTimeStore(max_entries=bad)  # type: ignore[arg-type]


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
    first, second = SQLiteOneTimeStore(path), SQLiteOneTimeStore(path)
    try:
        assert first.add("k", expires_at=LATER, now=NOW)
        assert not second.add("k", expires_at=LATER, now=NOW)
        assert second.contains("k", now=NOW)
        assert "shared.db" in repr(first)
    finally:
        first.close()
        second.close()


def test_sqlite_cache_uses_wal_and_records_schema_version(tmp_path: Path) -> None:
    """The file is in WAL mode; the shared authcore_schema table holds the layout version."""
    path = tmp_path / "r.db"
    SQLiteOneTimeStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = conn.execute("SELECT component, version FROM authcore_schema").fetchall()
        assert rows == [("onetime", 1)]
    finally:
        conn.close()


def test_sqlite_cache_shares_a_database_with_other_stores(tmp_path: Path) -> None:
    """Given an open SQLiteDatabase, the cache migrates its table into it beside others."""
    db = SQLiteDatabase(tmp_path / "shared.db", schemas=[KEYS_SCHEMA])
    cache = SQLiteOneTimeStore(db)
    assert cache.add("k", expires_at=LATER, now=NOW)
    assert db.schema_version("onetime") == 1
    assert db.schema_version("apikeys") == KEYS_SCHEMA.latest
    again = SQLiteOneTimeStore(tmp_path / "shared.db")
    assert not again.add("k", expires_at=LATER, now=NOW)
    again.close()
    cache.close()


def test_sqlite_cache_refuses_an_unknown_schema(tmp_path: Path) -> None:
    """A file written by another layout version is refused, not guessed at."""
    path = tmp_path / "r.db"
    SQLiteOneTimeStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE authcore_schema SET version = 99 WHERE component = 'onetime'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="99"):
        SQLiteOneTimeStore(path)


def test_sqlite_cache_purges_expired_rows(tmp_path: Path) -> None:
    """Expired rows are deleted periodically."""
    path = tmp_path / "r.db"
    cache = SQLiteOneTimeStore(path)
    for i in range(300):
        cache.add(f"k{i}", expires_at=LATER, now=NOW)
    for i in range(300):
        cache.add(f"n{i}", expires_at=LATER + dt.timedelta(hours=1), now=LATER)
    cache.close()
    conn = sqlite3.connect(path)
    try:
        (old,) = conn.execute(
            "SELECT count(*) FROM authcore_one_time WHERE key LIKE 'k%'"
        ).fetchone()
    finally:
        conn.close()
    assert old == 0


def test_sqlite_errors_are_store_errors(tmp_path: Path) -> None:
    """A closed or unopenable database raises StoreError."""
    cache = SQLiteOneTimeStore(tmp_path / "r.db")
    cache.close()
    with pytest.raises(StoreError):
        cache.add("k", expires_at=LATER, now=NOW)
    with pytest.raises(StoreError):
        SQLiteOneTimeStore(tmp_path / "missing-dir" / "r.db")
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteOneTimeStore(tmp_path / "garbage.db")
    with pytest.raises(ConfigurationError):
        SQLiteOneTimeStore(tmp_path / "r.db", timeout=-1)


def test_sqlite_cache_survives_fork(tmp_path: Path) -> None:
    """A forked child opens its own connection and shares the keys through the file."""
    cache = SQLiteOneTimeStore(tmp_path / "r.db")
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


def test_a_fork_child_holds_its_own_locks_when_the_parent_closes(tmp_path: Path) -> None:
    """A child's writes survive its parent closing the database.

    SQLite's lock bookkeeping is process memory: a child that inherited an open connection
    would take no lock of its own, and the parent's last close would delete the WAL and
    -shm files under it (its later commits lost).  The fork closes the parent's connections
    first, so the child's connection locks for itself.
    """
    path = tmp_path / "r.db"
    cache = SQLiteOneTimeStore(path)
    assert cache.add("parent", expires_at=LATER, now=NOW)  # a connection open at the fork
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        status = 1
        try:
            ok = cache.add("child", expires_at=LATER, now=NOW)
            os.write(ready_w, b"1")
            os.read(go_r, 1)  # the parent has closed every connection of its own
            ok = ok and cache.add("child-late", expires_at=LATER, now=NOW)
            status = 0 if ok else 2
        finally:
            os._exit(status)
    os.read(ready_r, 1)
    cache.close()  # the parent's last connection
    kept = (tmp_path / "r.db-shm").exists() and (tmp_path / "r.db-wal").exists()
    os.write(go_w, b"1")
    _, status = os.waitpid(pid, 0)
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert kept, "the parent's close deleted the files the child was using"
    again = SQLiteOneTimeStore(path)
    assert not again.add("child-late", expires_at=LATER, now=NOW)  # the child's write is there
    assert not again.add("parent", expires_at=LATER, now=NOW)
    again.close()


def test_the_parent_keeps_working_after_a_fork_closed_its_connections(tmp_path: Path) -> None:
    """The forking process reopens its connections lazily; other threads' stay usable."""
    cache = SQLiteOneTimeStore(tmp_path / "r.db")
    assert cache.add("before", expires_at=LATER, now=NOW)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only leaves
        os._exit(0)
    os.waitpid(pid, 0)
    assert cache.add("after", expires_at=LATER, now=NOW)
    assert not cache.add("before", expires_at=LATER, now=NOW)
    cache.close()


def test_a_fork_leaves_a_transaction_in_progress_alone(tmp_path: Path) -> None:
    """A thread mid-transaction at the fork keeps its connection and commits.

    Nothing of that database is closed: the forking thread's connection stays usable too.
    """
    db = SQLiteDatabase(tmp_path / "r.db", schemas=[])
    cache = SQLiteOneTimeStore(db)
    assert cache.add("before", expires_at=LATER, now=NOW)
    forking_conn = db.connection()
    inside, forked = threading.Event(), threading.Event()
    committed: list[bool] = []

    def write() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO authcore_one_time VALUES ('mid', 1)")
            inside.set()
            forked.wait(30)
        committed.append(True)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(30)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only leaves
        os._exit(0)
    forked.set()
    writer.join()
    os.waitpid(pid, 0)
    assert committed == [True]
    assert db.connection() is forking_conn  # left open: the database was busy
    assert not cache.add("before", expires_at=LATER, now=NOW)
    with db.reading() as conn:
        assert conn.execute(
            "SELECT count(*) FROM authcore_one_time WHERE key = 'mid'"
        ).fetchone() == (1,)
    db.close()


def test_sqlite_failure_mid_transaction_rolls_back(tmp_path: Path) -> None:
    """A statement failing inside add() rolls back and raises StoreError; the cache recovers."""
    path = tmp_path / "r.db"
    cache = SQLiteOneTimeStore(path)
    other = sqlite3.connect(path)
    other.execute("ALTER TABLE authcore_one_time RENAME TO moved")
    other.commit()
    with pytest.raises(StoreError):
        cache.add("k", expires_at=LATER, now=NOW)
    other.execute("ALTER TABLE moved RENAME TO authcore_one_time")
    other.commit()
    other.close()
    assert cache.add("k", expires_at=LATER, now=NOW)
    cache.close()


def test_sqlite_schema_failure_rolls_back(tmp_path: Path) -> None:
    """A file whose replay table cannot be indexed is refused with StoreError."""
    path = tmp_path / "r.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW authcore_one_time AS SELECT 1 AS key, 2 AS expires_us")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError):
        SQLiteOneTimeStore(path)


def test_sqlite_memory_database_is_refused() -> None:
    """':memory:' is refused (each thread would see its own database): use the memory cache."""
    with pytest.raises(ConfigurationError, match="memory"):
        SQLiteOneTimeStore(":memory:")


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_contains_sees_only_unexpired_keys(tmp_path: Path, index: int) -> None:
    """contains() is true between add() and the expiry, false before, after and for junk."""
    store = _caches(tmp_path)[index]
    assert not store.contains("k", now=NOW)
    store.add("k", expires_at=LATER, now=NOW)
    assert store.contains("k", now=NOW)
    assert not store.contains("k", now=LATER)
    assert not store.contains("\ud800", now=NOW)
    assert not store.contains(5, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        store.contains("k", now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_keys_must_be_short_encodable_text(tmp_path: Path, index: int) -> None:
    """Keys over MAX_KEY_LENGTH or not encodable as UTF-8 are refused, never half-stored."""
    store = _caches(tmp_path)[index]
    assert store.add("k" * MAX_KEY_LENGTH, expires_at=LATER, now=NOW)
    for bad in ("k" * (MAX_KEY_LENGTH + 1), "\ud800", "a\udfffb"):
        with pytest.raises(ConfigurationError):
            store.add(bad, expires_at=LATER, now=NOW)
    assert store.add("é ✓", expires_at=LATER, now=NOW)
    assert not store.add("é ✓", expires_at=LATER, now=NOW)


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_an_already_expired_key_is_new_but_not_kept(tmp_path: Path, index: int) -> None:
    """add() with expires_at <= now answers True and remembers nothing."""
    store = _caches(tmp_path)[index]
    assert store.add("k", expires_at=NOW, now=NOW)
    assert not store.contains("k", now=NOW - dt.timedelta(seconds=1))
    assert store.add("k", expires_at=NOW, now=NOW)


@pytest.mark.parametrize("index", [0, 1], ids=["memory", "sqlite"])
def test_times_take_the_same_values_as_every_now(tmp_path: Path, index: int) -> None:
    """UNIX seconds and aware datetimes are one and the same instant to a store."""
    store = (MemoryOneTimeStore(), SQLiteOneTimeStore(tmp_path / "r.db"))[index]
    assert store.add("k", expires_at=LATER.timestamp(), now=int(NOW.timestamp()))
    assert not store.add("k", expires_at=LATER, now=NOW)
    assert store.contains("k", now=NOW.timestamp() + 0.5)
    assert not store.contains("k", now=LATER.timestamp())
