"""Tampered, corrupted and foreign SQLite files fail closed, with StoreError naming the place.

Issue 12 item 5: every value read back from a store is checked; anything authcore did not
write raises StoreError naming the table and column, and no security decision (a key
verification, a rate-limit decision, a replay check) passes on a store error.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from authcore.apikeys import IssuedKey, KeyHasher, KeyManager, KeyStore
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    InvalidCredentials,
    NotFound,
    StoreError,
)
from authcore.ratelimit import GCRA
from authcore.stores.memory import MemoryKeyStore
from authcore.stores.sqlite import SQLiteKeyStore, SQLiteOneTimeStore, SQLiteRateLimitStore
from authcore.webhooks import WebhookVerifier, sign

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

PEPPER = b"p" * 32
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(minutes=5)
SECRET = "whsec_" + "A" * 32


def _tamper(path: Path, *statements: str) -> None:
    """Change the file behind authcore's back, with constraints off (as an attacker would)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _manager(path: Path) -> tuple[KeyManager, SQLiteKeyStore, SQLiteRateLimitStore]:
    keys, limits = SQLiteKeyStore(path), SQLiteRateLimitStore(path)
    hasher = KeyHasher({"p1": PEPPER})
    return KeyManager(keys, hasher, prefix="sk_test", limiter=limits), keys, limits


@pytest.fixture
def issued(tmp_path: Path) -> tuple[Path, IssuedKey]:
    """A key store file holding one key with every optional column filled."""
    path = tmp_path / "keys.db"
    manager, keys, limits = _manager(path)
    key = manager.create(
        owner="acct",
        scopes=["read"],
        expires_at=NOW + dt.timedelta(days=3650),
        name="n",
        metadata={"k": "v"},
        rate_limit=GCRA(100, 60),
        remaining_uses=10,
    )
    manager.verify(key.token)
    manager.flush()
    keys.close()
    limits.close()
    return path, key


# ---------------------------------------------------------------------------- schema versions

_BAD_INTEGERS = ["'two'", "2.5", "x'02'", "-3", "0"]


@pytest.mark.parametrize("value", _BAD_INTEGERS)
@pytest.mark.parametrize(
    ("component", "opener"),
    [
        ("apikeys", SQLiteKeyStore),
        ("ratelimit", SQLiteRateLimitStore),
        ("onetime", SQLiteOneTimeStore),
    ],
)
def test_tampered_schema_version_is_a_store_error(
    tmp_path: Path, component: str, opener: Callable[[Path], Any], value: str
) -> None:
    """A schema version rewritten to text, a real, a blob or a bad number refuses to open."""
    path = tmp_path / "db.sqlite"
    opener(path).close()
    where = f"component = '{component}'"
    _tamper(path, f"UPDATE authcore_schema SET version = {value} WHERE {where}")  # noqa: S608
    with pytest.raises(StoreError, match=r"authcore_schema\.version"):
        opener(path)


# ---------------------------------------------------------------------------- key rows

_KEY_TAMPERING = [
    ("key_id", "x'ff'"),
    ("prefix", "x'c0'"),
    ("owner", "x'80'"),
    ("secret_hash", "x'ff00'"),
    ("scopes", "'not json'"),
    ("scopes", "'{\"read\": 1}'"),
    ("scopes", "'[1]'"),
    ("scopes", "7"),
    ("status", "'gone'"),
    ("status", "1"),
    ("created_us", "'yesterday'"),
    ("created_us", "1.5"),
    ("created_us", "999999999999999999"),
    ("expires_us", "'never'"),
    ("revoked_us", "x'00'"),
    ("name", "x'ed'"),
    ("metadata", "'[]'"),
    ("metadata", "'{\"k\": 1}'"),
    ("metadata", '\'{"k": "v", "k": "w"}\''),
    ("rate_limit", "'[1, 2]'"),
    ("rate_limit", "'[0, 60, 1]'"),
    ("rate_limit", "'[\"1\", 60, 1]'"),
    ("remaining_uses", "-1"),
    ("remaining_uses", "'many'"),
    ("use_count", "'lots'"),
    ("use_count", "-5"),
    ("last_used_us", "2.5"),
    ("replaces", "x'ff'"),
    ("replaced_by", "x'ff'"),
]


@pytest.mark.parametrize(("column", "value"), _KEY_TAMPERING, ids=repr)
def test_tampered_key_row_is_a_store_error_naming_the_column(
    issued: tuple[Path, IssuedKey], column: str, value: str
) -> None:
    """Each column holding what authcore never writes: lookups, lists and verify all refuse."""
    path, key = issued
    key_id = key.record.key_id
    # A row whose key_id (owner) was tampered cannot be found by id (owner) any more: the
    # other lookup still reads it.
    _tamper(path, f"UPDATE authcore_api_keys SET {column} = {value}")  # noqa: S608
    manager, keys, limits = _manager(path)
    expected = rf"authcore_api_keys\.{column}"
    try:
        if column != "owner":
            with pytest.raises(StoreError, match=expected):
                keys.list_owner("acct")
        if column != "key_id":
            with pytest.raises(StoreError, match=expected):
                manager.verify(key.token)
            with pytest.raises(StoreError, match=expected):
                keys.get(key_id)
            with pytest.raises(StoreError, match=expected):
                manager.revoke(key_id)
        else:
            with pytest.raises(InvalidCredentials):
                manager.verify(key.token)
    finally:
        keys.close()
        limits.close()


def test_tampered_remaining_uses_never_grants_a_use(issued: tuple[Path, IssuedKey]) -> None:
    """consume_use on a tampered credit raises StoreError; the credit is not spent or reset."""
    path, key = issued
    _tamper(path, "UPDATE authcore_api_keys SET remaining_uses = 'plenty'")
    keys = SQLiteKeyStore(path)
    try:
        with pytest.raises(StoreError, match="remaining_uses"):
            keys.consume_use(key.record.key_id)
    finally:
        keys.close()
    conn = sqlite3.connect(path)
    try:
        (left,) = conn.execute("SELECT remaining_uses FROM authcore_api_keys").fetchone()
    finally:
        conn.close()
    assert left == "plenty"


# ---------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("value", ["'soon'", "1.5", "x'01'"])
def test_tampered_rate_limit_row_refuses_the_request(
    issued: tuple[Path, IssuedKey], value: str
) -> None:
    """A tat_ns that is not an integer is a StoreError, and the key's request is refused."""
    path, key = issued
    _tamper(path, f"UPDATE authcore_rate_limits SET tat_ns = {value}")  # noqa: S608
    manager, keys, limits = _manager(path)
    try:
        with pytest.raises(StoreError, match=r"authcore_rate_limits\.tat_ns"):
            GCRA(5, 60).hit(limits, f"apikey:{key.record.key_id}", now=NOW)
        with pytest.raises(StoreError, match=r"authcore_rate_limits\.tat_ns"):
            manager.verify(key.token)
    finally:
        keys.close()
        limits.close()


# ---------------------------------------------------------------------------- one-time values


@pytest.mark.parametrize("value", ["'later'", "1.5", "x'00'"])
def test_tampered_one_time_row_refuses_the_delivery(tmp_path: Path, value: str) -> None:
    """An expires_us that is not an integer is a StoreError; the webhook is not accepted."""
    path = tmp_path / "once.db"
    store = SQLiteOneTimeStore(path)
    delivery = sign(b"{}", SECRET, msg_id="msg_1", timestamp=NOW)
    WebhookVerifier(SECRET, replay_cache=store).verify(b"{}", delivery, now=NOW)
    store.add("k", expires_at=LATER, now=NOW)
    store.close()
    _tamper(path, f"UPDATE authcore_one_time SET expires_us = {value}")  # noqa: S608
    store = SQLiteOneTimeStore(path)
    try:
        with pytest.raises(StoreError, match=r"authcore_one_time\.expires_us"):
            store.contains("k", now=NOW)
        with pytest.raises(StoreError, match=r"authcore_one_time\.expires_us"):
            store.add("k", expires_at=LATER, now=NOW)
        with pytest.raises(StoreError, match=r"authcore_one_time\.expires_us"):
            WebhookVerifier(SECRET, replay_cache=store).verify(b"{}", delivery, now=NOW)
    finally:
        store.close()


# ---------------------------------------------------------------------------- whole files


def _every_operation(path: Path, key: IssuedKey) -> list[Callable[[], object]]:
    def keys_and_limits() -> object:
        manager, keys, limits = _manager(path)
        try:
            return manager.verify(key.token), keys.list_owner("acct")
        finally:
            keys.close()
            limits.close()

    def one_time() -> object:
        store = SQLiteOneTimeStore(path)
        try:
            return store.add("k", expires_at=LATER, now=NOW), store.contains("k", now=NOW)
        finally:
            store.close()

    return [keys_and_limits, one_time]


def _typed_or_correct(operation: Callable[[], object]) -> None:
    try:
        operation()
    except (StoreError, InvalidCredentials):
        pass  # a typed refusal
    except AuthcoreError as exc:  # pragma: no cover - the assertion reports it
        pytest.fail(f"unexpected {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("keep", [0.02, 0.25, 0.5, 0.9])
def test_truncated_file_fails_typed(tmp_path: Path, keep: float) -> None:
    """A file cut short raises StoreError (or refuses the key), never another exception."""
    path = tmp_path / "keys.db"
    manager, keys, limits = _manager(path)
    tokens = [manager.create(owner="acct", remaining_uses=5) for _ in range(200)]
    keys.close()
    limits.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(max(1, int(size * keep)))
    for key in tokens[::40]:
        for operation in _every_operation(path, key):
            _typed_or_correct(operation)


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database" * 200,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096,
        b"SQLite format 3\x00" + b"\xff" * 4080,
    ],
    ids=["text", "png", "bad-header"],
)
@pytest.mark.parametrize("opener", [SQLiteKeyStore, SQLiteRateLimitStore, SQLiteOneTimeStore])
def test_file_that_is_not_sqlite_is_a_store_error(
    tmp_path: Path, content: bytes, opener: Callable[[Path], Any]
) -> None:
    """Opening a file that is not an SQLite database raises StoreError."""
    path = tmp_path / "foreign.db"
    path.write_bytes(content)
    with pytest.raises(StoreError):
        opener(path)
    assert path.read_bytes() == content  # nothing was written over it


def _write_to(path: Path, kind: str) -> object:
    if kind == "keys":
        keys = SQLiteKeyStore(path)
        try:
            manager = KeyManager(keys, KeyHasher({"p1": PEPPER}), prefix="sk_test")
            return manager.create(owner="acct")
        finally:
            keys.close()
    if kind == "limits":
        limits = SQLiteRateLimitStore(path)
        try:
            return GCRA(5, 60).hit(limits, "k", now=NOW)
        finally:
            limits.close()
    once = SQLiteOneTimeStore(path)
    try:
        return once.add("k", expires_at=LATER, now=NOW)
    finally:
        once.close()


@pytest.mark.parametrize("kind", ["keys", "limits", "once"])
def test_read_only_file_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Writing to a database that cannot be written (a read-only file) raises StoreError."""
    path = tmp_path / "ro.db"
    _write_to(path, kind)  # created, migrated and written while writable
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = path.read_bytes()
    path.chmod(0o444)
    if os.geteuid() == 0:
        # root writes through file permissions: open the file read-only at the SQLite level,
        # which refuses writes the same way a read-only file or file system does.
        real_connect = sqlite3.connect

        def read_only(database: object, **options: Any) -> sqlite3.Connection:
            conn: sqlite3.Connection = real_connect(f"file:{database}?mode=ro", uri=True, **options)
            return conn

        monkeypatch.setattr(sqlite3, "connect", read_only)
    try:
        with pytest.raises(StoreError):
            _write_to(path, kind)
    finally:
        path.chmod(0o644)
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------- lone surrogates


@pytest.fixture(params=["memory", "sqlite"])
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    """Each key store implementation."""
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    store = SQLiteKeyStore(tmp_path / "keys.db")
    yield store
    store.close()


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc80" * 3])
def test_lone_surrogates_get_the_same_answer_from_every_store(
    key_store: KeyStore, text: str
) -> None:
    """Unknown ids are NotFound; owners and names are stored and found; nothing escapes."""
    manager = KeyManager(key_store, KeyHasher({"p1": PEPPER}), prefix="sk_test")
    assert key_store.get(text) is None
    with pytest.raises(NotFound):
        manager.get(text)
    with pytest.raises(NotFound):
        manager.revoke(text)
    assert manager.list(text) == ()
    issued = manager.create(owner=text, name=text)
    assert issued.record.owner == text
    (listed,) = manager.list(text)
    assert listed.owner == text
    assert listed.name == text
    assert manager.verify(issued.token).name == text
    assert manager.revoke(issued.record.key_id).owner == text
    with pytest.raises(ConfigurationError, match="metadata"):
        manager.create(owner="acct", metadata={"k": text})
