"""SQLite key and rate-limit stores: WAL, migrations, crash safety under SIGKILL, processes."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from typing import TYPE_CHECKING, Any

import pytest

from authcore import apikeys
from authcore._sqlite import Migration, Schema, SQLiteDatabase
from authcore.apikeys import KeyHasher, KeyManager, KeyStatus
from authcore.errors import ConfigurationError, InvalidCredentials, Revoked, StoreError
from authcore.stores.sqlite import KEYS_SCHEMA, SQLiteKeyStore, SQLiteRateLimitStore
from tests._forking import fork_while_held
from tests.stores.sqlite_helpers import integrity, set_schema_version

if TYPE_CHECKING:
    from pathlib import Path

_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
PEPPER = b"p" * 32


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_ENV,
    )


def test_wal_and_schema_versions(tmp_path: Path) -> None:
    """A new database is in WAL mode with each component at its latest version."""
    path = tmp_path / "db.sqlite"
    keys = SQLiteKeyStore(path)
    limits = SQLiteRateLimitStore(path)
    try:
        conn = keys.database.connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert keys.database.schema_version("apikeys") == 2
        assert limits.database.schema_version("ratelimit") == 1
        assert keys.database.schema_version("nothing") == 0
        assert "SQLiteKeyStore" in repr(keys)
        assert "SQLiteRateLimitStore" in repr(limits)
    finally:
        keys.close()
        limits.close()


def test_upgrade_from_version_1(tmp_path: Path) -> None:
    """A database at apikeys v1 keeps its rows and gains the v2 index on open."""
    path = tmp_path / "db.sqlite"
    v1 = Schema(component="apikeys", migrations=KEYS_SCHEMA.migrations[:1])
    SQLiteDatabase(path, schemas=[v1]).close()
    store = SQLiteKeyStore(path)
    try:
        conn = store.database.connection()
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "authcore_api_keys_owner" in names
        assert store.database.schema_version("apikeys") == 2
    finally:
        store.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database migrated by a newer authcore is refused instead of misread."""
    path = tmp_path / "db.sqlite"
    SQLiteKeyStore(path).close()
    set_schema_version(path, "apikeys", 99)
    with pytest.raises(StoreError, match="newer"):
        SQLiteKeyStore(path)


def test_bad_configuration(tmp_path: Path) -> None:
    """:memory:, bad modes, timeouts and migration numbering are caller mistakes."""
    for kwargs in ({"synchronous": "OFF"}, {"timeout": -1}, {"timeout": "1"}):
        with pytest.raises(ConfigurationError):
            SQLiteKeyStore(tmp_path / "x.db", **kwargs)
    for path in (":memory:", "", 5):
        with pytest.raises(ConfigurationError):
            SQLiteKeyStore(path)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Schema(component="x", migrations=(Migration(version=2, statements=()),))
    with pytest.raises(ConfigurationError):
        SQLiteRateLimitStore(tmp_path / "x.db", prune_every=0)


def test_unopenable_file_is_store_error(tmp_path: Path) -> None:
    """A path that cannot hold a database raises StoreError."""
    with pytest.raises(StoreError):
        SQLiteKeyStore(tmp_path / "missing-dir" / "db.sqlite")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteKeyStore(garbage)


def test_unreadable_rows_are_store_errors(tmp_path: Path) -> None:
    """A row holding data authcore cannot read raises StoreError on lookup."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    try:
        issued = manager.create(owner="o")
        with store.database.transaction() as conn:
            conn.execute("UPDATE authcore_api_keys SET scopes = 'not json'")
        with pytest.raises(StoreError):
            manager.verify(issued.token)
        with store.database.transaction() as conn:
            conn.execute("UPDATE authcore_api_keys SET scopes = '[]', secret_hash = 'junk'")
        with pytest.raises(StoreError):
            manager.verify(issued.token)
    finally:
        store.close()


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    """Using a closed store raises StoreError."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    store.close()
    with pytest.raises(StoreError):
        store.get("0" * 16)


def test_duplicate_id_is_store_error(tmp_path: Path) -> None:
    """Adding a record whose id exists raises StoreError and changes nothing."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    try:
        issued = manager.create(owner="o")
        with pytest.raises(StoreError, match="exists"):
            store.add(issued.record)
    finally:
        store.close()


_CRASH_WRITER = """
    import sys, time
    from authcore.apikeys import KeyHasher, KeyManager, KeyStatus
    from authcore.stores.sqlite import SQLiteKeyStore, _row

    store = SQLiteKeyStore(sys.argv[1])
    manager = KeyManager(store, KeyHasher({"p1": b"p" * 32}), prefix="sk_test")
    for _ in range(int(sys.argv[2])):
        issued = manager.create(owner="committed")
        print("committed", issued.token, flush=True)
    template = manager.create(owner="template").record
    from dataclasses import replace
    with store.database.transaction() as conn:
        for i in range(3000):  # far beyond the page cache: pages spill into the WAL
            record = replace(template, key_id=f"{i:016d}", owner="uncommitted",
                             metadata={"pad": "x" * 4000})
            conn.execute(
                "INSERT INTO authcore_api_keys VALUES (" + ", ".join("?" * 17) + ")",
                _row(record),
            )
        print("in-transaction", flush=True)
        time.sleep(600)
"""


_POSIX_ONLY = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")


@_POSIX_ONLY
def test_sigkill_mid_transaction_loses_nothing_committed(tmp_path: Path) -> None:
    """A writer killed with SIGKILL inside a large transaction leaves committed keys intact."""
    path = tmp_path / "db.sqlite"
    SQLiteKeyStore(path).close()
    proc = _spawn(_CRASH_WRITER, str(path), "25")
    tokens: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("committed "):
            tokens.append(line.split()[1])
        if line.strip() == "in-transaction":
            break
    else:
        pytest.fail(f"writer ended early: {proc.stderr.read() if proc.stderr else ''}")
    assert (path.parent / (path.name + "-wal")).stat().st_size > 1_000_000
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()
    if proc.stderr is not None:
        proc.stderr.close()
    assert len(tokens) == 25
    assert integrity(path) == "ok"
    store = SQLiteKeyStore(path)
    try:
        manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
        for token in tokens:
            assert manager.verify(token).owner == "committed"
        assert len(store.list_owner("committed")) == 25
        assert store.list_owner("uncommitted") == ()
        manager.create(owner="after-crash")  # the dead writer's lock is gone
        assert len(store.list_owner("after-crash")) == 1
    finally:
        store.close()
    assert integrity(path) == "ok"


_LOOP_WRITER = """
    import sys
    from authcore.apikeys import KeyHasher, KeyManager, KeyStatus
    from authcore.stores.sqlite import SQLiteKeyStore

    store = SQLiteKeyStore(sys.argv[1])
    manager = KeyManager(store, KeyHasher({"p1": b"p" * 32}), prefix="sk_test")
    while True:
        issued = manager.create(owner="loop", metadata={"pad": "y" * 2000})
        manager.revoke(issued.record.key_id) if len(issued.token) % 7 == 0 else None
        print(issued.token, flush=True)
"""


@_POSIX_ONLY
@pytest.mark.parametrize("kill_after", [5, 40, 120])
def test_sigkill_at_a_random_point_of_a_write_loop(tmp_path: Path, kill_after: int) -> None:
    """Killing a busy writer anywhere keeps every key it reported and a sound database."""
    path = tmp_path / "db.sqlite"
    SQLiteKeyStore(path).close()
    proc = _spawn(_LOOP_WRITER, str(path))
    assert proc.stdout is not None
    tokens = [proc.stdout.readline().strip() for _ in range(kill_after)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    if proc.stderr is not None:
        proc.stderr.close()
    assert all(tokens)
    assert integrity(path) == "ok"
    store = SQLiteKeyStore(path)
    try:
        manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
        for token in tokens:
            record = store.get(apikeys.parse(token).key_id)
            assert record is not None
            if record.status is KeyStatus.REVOKED:
                with pytest.raises(Revoked):
                    manager.verify(token)
            else:
                assert manager.verify(token).owner == "loop"
        assert len(store.list_owner("loop")) >= kill_after
    finally:
        store.close()


_QUOTA_WORKER = """
    import sys
    from authcore.apikeys import KeyHasher, KeyManager, KeyStatus
    from authcore.errors import QuotaExhausted
    from authcore.stores.sqlite import SQLiteKeyStore

    store = SQLiteKeyStore(sys.argv[1])
    manager = KeyManager(store, KeyHasher({"p1": b"p" * 32}), prefix="sk_test")
    ok = 0
    while True:
        try:
            manager.verify(sys.argv[2])
        except QuotaExhausted:
            break
        ok += 1
    manager.flush()
    print(ok)
"""


def test_remaining_uses_are_exact_across_processes(tmp_path: Path) -> None:
    """Four processes racing on one key's credits take exactly the credits there were."""
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o", remaining_uses=150)
    procs = [_spawn(_QUOTA_WORKER, str(path), issued.token) for _ in range(4)]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts.append(int(out))
    assert sum(counts) == 150
    record = manager.get(issued.record.key_id)
    assert (record.remaining_uses, record.use_count) == (0, 150)
    store.close()


_LIMIT_WORKER = """
    import sys, datetime as dt
    from authcore.ratelimit import GCRA
    from authcore.stores.sqlite import SQLiteRateLimitStore

    store = SQLiteRateLimitStore(sys.argv[1], prune_every=7)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    limit = GCRA(60, 3600)
    print(sum(limit.hit(store, "shared", now=now).allowed for _ in range(40)))
"""


def test_rate_limit_is_exact_across_processes(tmp_path: Path) -> None:
    """Four processes sharing a SQLite limiter get exactly the burst between them."""
    path = tmp_path / "limits.db"
    SQLiteRateLimitStore(path).close()
    procs = [_spawn(_LIMIT_WORKER, str(path)) for _ in range(4)]
    total = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        total += int(out)
    assert total == 60


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    """After fork() the child never reuses the parent's connection."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    parent_conn = store.database.connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            ok = store.database.connection() is not parent_conn
            ok = ok and manager.verify(issued.token).owner == "o"
            manager.create(owner="child")
            again = SQLiteKeyStore(tmp_path / "db.sqlite")  # the -shm registry works here too
            ok = (
                ok and again.database.wal_index >= 0 and again.get(issued.record.key_id) is not None
            )
            again.close()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 1)
    os.close(read)
    assert os.WEXITSTATUS(status) == 0
    assert answer == b"1"
    assert len(store.list_owner("child")) == 1
    with pytest.raises(InvalidCredentials):
        manager.verify(apikeys.generate("sk_test").token)
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_does_not_inherit_a_held_database_lock(tmp_path: Path) -> None:
    """A fork() while another thread holds the database's lock leaves the child a free one.

    With the parent's lock state copied, the child's first new connection would wait for
    ever.
    """
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    status = fork_while_held(
        store.database._lock, lambda: manager.verify(issued.token).owner == "o"
    )
    assert status == 0
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_flushes_only_its_own_usage(tmp_path: Path) -> None:
    """A KeyManager in a fork() child starts with no pending uses and a free flush lock.

    Pending uses are the parent's: written by both processes they would count twice.  The
    fork happens while another parent thread holds the flush lock (as in a flush), which the
    child's flush would otherwise wait for ever.
    """
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    for _ in range(3):
        manager.verify(issued.token)
    assert manager.pending_usage == 3

    def child() -> bool:
        fresh = manager.pending_usage == 0
        manager.verify(issued.token)
        return fresh and manager.flush() == 1

    assert fork_while_held(manager._flush_lock, child) == 0
    assert manager.flush() == 1
    assert manager.get(issued.record.key_id).use_count == 4  # 3 here, 1 in the child
    store.close()


_REVOKER = """
    import sys
    from authcore.apikeys import KeyHasher, KeyManager
    from authcore.stores.sqlite import SQLiteKeyStore

    store = SQLiteKeyStore(sys.argv[1])
    KeyManager(store, KeyHasher({"p1": b"p" * 32}), prefix="sk_test").revoke(sys.argv[2])
    store.close()
"""


def test_cache_is_bounded(tmp_path: Path) -> None:
    """The per-thread record cache never grows past its bound."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    ids = [manager.create(owner="o").record.key_id for _ in range(50)]
    monkey = pytest.MonkeyPatch()
    monkey.setattr("authcore.stores.sqlite._CACHE_MAX", 10)
    try:
        for key_id in ids:
            assert store.get(key_id) is not None
        view = store._local.view
        assert view is not None
        assert len(view.records) <= 10
    finally:
        monkey.undo()
        store.close()


def _one_key(path: Path) -> tuple[SQLiteKeyStore, KeyManager, apikeys.IssuedKey]:
    """A store at ``path``, its manager and one key issued to owner "o"."""
    store = SQLiteKeyStore(path)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    return store, manager, manager.create(owner="o")


def _revoke_elsewhere(path: Path, key_id: str) -> None:
    """Revoke through another store (its own database object and connection)."""
    other = SQLiteKeyStore(path)
    KeyManager(other, KeyHasher({"p1": PEPPER}), prefix="sk_test").revoke(key_id)
    other.close()


def test_max_staleness_trades_propagation_delay_for_speed(tmp_path: Path) -> None:
    """With max_staleness, other connections' changes wait for it; own writes apply at once."""
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path, max_staleness=3600)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    first, second = manager.create(owner="o"), manager.create(owner="o")
    manager.verify(first.token)
    manager.verify(second.token)
    _revoke_elsewhere(path, first.record.key_id)
    manager.verify(first.token)  # still cached: the documented staleness window
    manager.revoke(second.record.key_id)  # this thread's own write
    with pytest.raises(Revoked):
        manager.verify(second.token)
    with pytest.raises(Revoked):  # the own write refreshed the whole cache
        manager.verify(first.token)
    store.close()
    for bad in (-1, float("inf"), "1", True):
        with pytest.raises(ConfigurationError):
            SQLiteKeyStore(path, max_staleness=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("staleness", [0, 3600])
def test_rows_written_on_the_threads_own_connection_apply_at_once(
    tmp_path: Path, staleness: float
) -> None:
    """A row changed through this thread's connection, even outside transaction(), is seen.

    ``PRAGMA data_version`` does not change for a connection's own commits: the cache
    watches the connection's ``total_changes`` for those, with or without max_staleness.
    """
    store = SQLiteKeyStore(tmp_path / "db.sqlite", max_staleness=staleness)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    assert manager.verify(issued.token).name is None
    manager.verify(issued.token)  # served from the cache
    store.database.connection().execute(
        "UPDATE authcore_api_keys SET status = 'revoked', name = 'raw' WHERE key_id = ?",
        (issued.record.key_id,),
    )
    with pytest.raises(Revoked):
        manager.verify(issued.token)
    store.close()


@pytest.mark.parametrize("staleness", [0, 3600])
def test_closed_store_serves_nothing_from_its_cache(tmp_path: Path, staleness: float) -> None:
    """After close(), even a record cached within max_staleness raises StoreError."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite", max_staleness=staleness)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    manager.verify(issued.token)
    store.close()
    with pytest.raises(StoreError):
        store.get(issued.record.key_id)


def test_change_check_leaves_no_read_transaction_open(tmp_path: Path) -> None:
    """Cached lookups hold no read transaction: another writer's changes checkpoint fully."""
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path)
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    keys = [manager.create(owner="o") for _ in range(3)]
    for key in keys:  # the second read of each key is served from the cache
        manager.verify(key.token)
        manager.verify(key.token)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("UPDATE authcore_api_keys SET name = 'renamed'")
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        assert manager.verify(keys[0].token).name == "renamed"
    finally:
        other.close()
        store.close()


def test_stores_share_one_open_database(tmp_path: Path) -> None:
    """Key, rate-limit and one-time stores accept one open SQLiteDatabase and share it."""
    import datetime as dt  # noqa: PLC0415

    from authcore.stores.sqlite import SQLiteDatabase, SQLiteOneTimeStore  # noqa: PLC0415

    db = SQLiteDatabase(tmp_path / "shared.db", schemas=[])
    keys, limits, once = SQLiteKeyStore(db), SQLiteRateLimitStore(db), SQLiteOneTimeStore(db)
    assert keys.database is limits.database is once.database is db
    assert {c: db.schema_version(c) for c in ("apikeys", "ratelimit", "onetime")} == {
        "apikeys": 2,
        "ratelimit": 1,
        "onetime": 1,
    }
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert once.add("k", expires_at=now + dt.timedelta(seconds=5), now=now)
    manager = KeyManager(keys, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    assert manager.verify(issued.token).owner == "o"
    db.close()


# ------------------------------------------------------- the change check: WAL-index header

_DMS_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:  # SQLite's "dead man switch" byte: every open connection holds it shared
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
except OSError:
    print("held")
else:
    print("free")
"""


def _probe_dms(shm: Path) -> str:
    proc = _spawn(_DMS_PROBE, str(shm))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out.strip()


@pytest.mark.parametrize("check", ["wal-index", "pragma"])
def test_each_change_check_sees_every_writer(tmp_path: Path, check: str) -> None:
    """Both change checks see other processes', threads' and stores' revocations at once.

    And with the header check, a cached lookup runs no statement at all.
    """
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path)
    assert store.database.wal_index >= 0  # POSIX, WAL: the header is read
    if check == "pragma":
        store.database.wal_index = -1  # as where the -shm file cannot be read
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    keys = [manager.create(owner="o") for _ in range(3)]
    statements: list[str] = []
    store.database.connection().set_trace_callback(statements.append)
    for key in keys:
        manager.verify(key.token)
    statements.clear()
    manager.verify(keys[0].token)  # from the cache
    wanted = [] if check == "wal-index" else ["PRAGMA data_version"]
    assert statements == wanted

    proc = _spawn(_REVOKER, str(path), keys[0].record.key_id)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with pytest.raises(Revoked):
        manager.verify(keys[0].token)
    thread = threading.Thread(target=manager.revoke, args=(keys[1].record.key_id,))
    thread.start()
    thread.join()
    with pytest.raises(Revoked):
        manager.verify(keys[1].token)
    other = SQLiteKeyStore(path)
    KeyManager(other, KeyHasher({"p1": PEPPER}), prefix="sk_test").revoke(keys[2].record.key_id)
    with pytest.raises(Revoked):
        manager.verify(keys[2].token)
    other.close()
    store.close()


def test_closing_a_store_keeps_the_process_locks_on_the_shm_file(tmp_path: Path) -> None:
    """One descriptor per -shm file, never closed while another database uses the file.

    Closing any descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's too: the negative control at the end shows what that does and that the probe
    sees it.
    """
    path = tmp_path / "db.sqlite"
    shm = tmp_path / "db.sqlite-shm"
    first, second = SQLiteKeyStore(path), SQLiteKeyStore(path)
    assert first.database.wal_index == second.database.wal_index >= 0
    assert _probe_dms(shm) == "held"
    first.close()
    assert first.database.wal_index == -1
    assert _probe_dms(shm) == "held"  # second's connection keeps its lock
    assert second.get("nothing") is None
    os.close(os.open(shm, os.O_RDONLY))  # what a careless close would do
    assert _probe_dms(shm) == "free"
    second.close()


def test_descriptor_is_closed_once_sqlite_removed_the_file(tmp_path: Path) -> None:
    """When the last connection closes, SQLite deletes the -shm file and ours goes too."""
    from authcore import _sqlite  # noqa: PLC0415

    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    fd = store.database.wal_index
    status = os.fstat(fd)
    key = (status.st_dev, status.st_ino)
    assert _sqlite._SHM_FILES[key] == [fd, 1]
    store.close()
    assert not (tmp_path / "db.sqlite-shm").exists()
    assert key not in _sqlite._SHM_FILES

    forgotten = SQLiteKeyStore(tmp_path / "forgotten.sqlite")  # collected, never closed
    status = os.fstat(forgotten.database.wal_index)
    key = (status.st_dev, status.st_ino)
    assert _sqlite._SHM_FILES[key][1] == 1
    del forgotten
    gc.collect()
    # Its connections closed first, so SQLite removed the file, and the descriptor went too.
    assert not (tmp_path / "forgotten.sqlite-shm").exists()
    assert key not in _sqlite._SHM_FILES


def test_a_replaced_shm_file_is_followed_so_revocations_stay_visible(tmp_path: Path) -> None:
    """A revocation stays visible after SQLite replaced the -shm file.

    The store is opened in a thread that ends; its connection, the last, closes, SQLite
    deletes the -shm file and the next connection makes a new one.  A long-lived thread
    must still see another connection's revocation at its next lookup: a descriptor left on
    the deleted file would read a header that never changes, and a revoked key would keep
    verifying for the life of the thread.
    """
    from authcore import _sqlite  # noqa: PLC0415

    path = tmp_path / "db.sqlite"
    shm = tmp_path / "db.sqlite-shm"
    opened: dict[str, Any] = {}

    def open_store() -> None:
        opened["store"] = store = SQLiteKeyStore(path)
        opened["issued"] = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test").create(
            owner="o"
        )

    opener = threading.Thread(target=open_store)
    opener.start()
    opener.join()
    store, issued = opened["store"], opened["issued"]
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    first_inode = shm.stat().st_ino
    seen: list[object] = []

    def serve() -> None:
        # This thread's first connection closes the ended thread's one, the last anywhere.
        seen.append(manager.verify(issued.token).owner)
        seen.append(shm.stat().st_ino != first_inode)
        seen.append(os.fstat(store.database.wal_index).st_ino == shm.stat().st_ino)
        _revoke_elsewhere(path, issued.record.key_id)
        try:
            manager.verify(issued.token)
            seen.append("still verifies")
        except Revoked:
            seen.append("revoked")

    server = threading.Thread(target=serve)
    server.start()
    server.join()
    assert seen[:2] == ["o", True], "SQLite kept its -shm file: nothing was replaced"
    assert seen[2:] == [True, "revoked"]
    held = os.fstat(store.database.wal_index)
    store.close()
    for key in ((held.st_dev, held.st_ino), (held.st_dev, first_inode)):
        assert _sqlite._SHM_FILES.get(key, [-1, 0])[1] == 0  # neither file is still in use


def test_a_shm_file_that_cannot_be_found_again_falls_back_to_the_pragma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a new connection's -shm file cannot be named, the store stops trusting the header."""
    from authcore import _sqlite  # noqa: PLC0415

    path = tmp_path / "db.sqlite"
    store, manager, issued = _one_key(path)
    assert store.database.wal_index >= 0
    monkeypatch.setattr(_sqlite, "_shm_path", lambda _conn: None)
    outcome: list[object] = []

    def serve() -> None:  # a new thread: a new connection, checked
        outcome.append(manager.verify(issued.token).owner)
        outcome.append(store.database.wal_index)
        _revoke_elsewhere(path, issued.record.key_id)
        with pytest.raises(Revoked):
            manager.verify(issued.token)
        outcome.append("revoked")

    server = threading.Thread(target=serve)
    server.start()
    server.join()
    assert outcome == ["o", -1, "revoked"]
    store.close()


def test_a_collected_database_closes_its_connections(tmp_path: Path) -> None:
    """A store dropped without close() closes every thread's connection when collected."""
    store = SQLiteKeyStore(tmp_path / "db.sqlite")
    conns = [store.database.connection()]
    worker = threading.Thread(
        target=lambda db: conns.append(db.connection()), args=(store.database,)
    )
    worker.start()
    worker.join()
    assert len(conns) == 2
    assert conns[0] is not conns[1]
    del store, worker
    gc.collect()
    for conn in conns:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    assert not (tmp_path / "db.sqlite-shm").exists()  # the last one closed: SQLite removed it


def test_a_connection_that_fails_its_first_statement_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a file that is not a database closes the connection it made, at once."""
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"not a database " * 512)
    made: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args: object, **kwargs: object) -> sqlite3.Connection:
        made.append(connect(*args, **kwargs))  # type: ignore[call-overload]
        return made[-1]

    monkeypatch.setattr("authcore._sqlite.sqlite3.connect", recording)
    with pytest.raises(StoreError, match="not a database"):
        SQLiteKeyStore(path)
    assert made
    for conn in made:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")


def test_connections_of_another_process_are_forgotten_unclosed(tmp_path: Path) -> None:
    """What a fork() child inherited is abandoned, never closed (SQLite forbids using it).

    It stays referenced, so the collector does not close it either.
    """
    from authcore import _sqlite  # noqa: PLC0415

    conn = sqlite3.connect(tmp_path / "db.sqlite")
    opened = _sqlite._Opened()
    opened.conns[id(conn)] = (threading.current_thread(), conn)
    opened.pid = -1  # another process's
    opened.close_all()
    assert opened.conns == {}
    assert conn.execute("SELECT 1").fetchone() == (1,)  # still open
    assert _sqlite._ABANDONED[-1] is conn
    _sqlite._ABANDONED.pop()  # this test's own: closed below
    opened.pid = os.getpid()
    opened.conns[id(conn)] = (threading.current_thread(), conn)
    opened.close_all()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")


def test_short_or_failed_header_reads_are_never_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header read short is never remembered (every lookup queries); a failed one raises."""
    path = tmp_path / "db.sqlite"
    store, manager, issued = _one_key(path)
    monkeypatch.setattr("authcore.stores.sqlite._pread", lambda *_: b"")
    statements: list[str] = []
    store.database.connection().set_trace_callback(statements.append)
    for _ in range(3):
        manager.verify(issued.token)
    assert sum("FROM authcore_api_keys" in s for s in statements) == 3

    def failing(*_: int) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("authcore.stores.sqlite._pread", failing)
    with pytest.raises(StoreError, match="cannot read the WAL index: Input/output error"):
        store.get(issued.record.key_id)
    store.close()


def test_unknown_header_version_falls_back_to_the_pragma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header of another version than SQLite 3.7.0's is not relied on."""
    monkeypatch.setattr("authcore._sqlite._WAL_INDEX_VERSION", 1)
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path)
    assert store.database.wal_index == -1
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    manager.verify(issued.token)
    proc = _spawn(_REVOKER, str(path), issued.record.key_id)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with pytest.raises(Revoked):
        manager.verify(issued.token)
    store.close()


_RENAMER = """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    for line in sys.stdin:
        n = int(line)
        sql = "UPDATE authcore_api_keys SET name = ? WHERE key_id = ?"
        conn.execute(sql, (str(n), sys.argv[2]))
        if n % 7 == 0:  # a full checkpoint: the next commit restarts the WAL from its start
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(n, flush=True)
"""


def test_every_commit_of_another_process_is_seen_at_the_next_lookup(tmp_path: Path) -> None:
    """Many commits from another process, with WAL restarts: each is seen right after it."""
    path = tmp_path / "db.sqlite"
    store = SQLiteKeyStore(path)
    assert store.database.wal_index >= 0
    manager = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    issued = manager.create(owner="o")
    key_id = issued.record.key_id
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_RENAMER), str(path), key_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_ENV,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        for n in range(60):
            record = store.get(key_id)
            assert record is not None
            assert record.name == (None if n == 0 else str(n - 1))
            assert store.get(key_id) is record  # unchanged since: from the cache
            proc.stdin.write(f"{n}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == str(n)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    store.close()


def test_wal_index_is_used_only_where_it_exists(tmp_path: Path) -> None:
    """Rollback-journal files and WAL in exclusive locking mode (no -shm file) get -1."""
    from authcore import _sqlite  # noqa: PLC0415

    plain = sqlite3.connect(tmp_path / "plain.db", isolation_level=None)
    plain.execute("CREATE TABLE t (x)")
    assert _sqlite._open_wal_index(plain) == (-1, None)  # journal_mode=delete
    plain.close()
    exclusive = sqlite3.connect(tmp_path / "exclusive.db", isolation_level=None)
    exclusive.execute("PRAGMA locking_mode=EXCLUSIVE")
    assert exclusive.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    exclusive.execute("CREATE TABLE t (x)")
    assert not (tmp_path / "exclusive.db-shm").exists()  # the index lives in heap memory
    assert _sqlite._open_wal_index(exclusive) == (-1, None)
    exclusive.close()
    assert _sqlite.wal_index_header(-1) is None  # a read that fails is no header
    _sqlite._release_wal_index((0, 0))  # a key that is not registered: nothing to release
