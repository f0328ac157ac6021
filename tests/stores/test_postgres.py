"""authcore.stores.postgres against a throwaway PostgreSQL server."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading
from typing import TYPE_CHECKING

import pytest

from authcore.errors import ConfigurationError, StoreError
from authcore.ratelimit import GCRA

from . import test_cleanups as cleanups
from .conftest import need_module
from .records import START

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

need_module("psycopg", "psycopg_pool")

import psycopg  # noqa: E402 - after the skip check

from authcore.jose import JWK  # noqa: E402
from authcore.jose.keyring import KeyRing  # noqa: E402
from authcore.stores.postgres import (  # noqa: E402
    KEYS_SCHEMA,
    ONE_TIME_SCHEMA,
    RATE_LIMIT_SCHEMA,
    AsyncPostgresOneTimeStore,
    AsyncPostgresRateLimitStore,
    PostgresDatabase,
    PostgresKeyRingStore,
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


def test_an_unreadable_schema_version_is_refused(
    database: PostgresDatabase, postgres_dsn: str
) -> None:
    """A stored version below 1 is a StoreError naming the column, as in SQLite."""
    PostgresKeyStore(database)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE authcore_schema SET version = 0 WHERE component = 'apikeys'")
    with pytest.raises(StoreError, match=r"authcore_schema\.version"):
        PostgresKeyStore(postgres_dsn)


def test_bad_options_are_configuration_errors(postgres_dsn: str) -> None:
    """Invalid pool options and connection strings are refused before any I/O."""
    with pytest.raises(ConfigurationError):
        PostgresDatabase(postgres_dsn, timeout=0)
    with pytest.raises(ConfigurationError):
        PostgresDatabase(postgres_dsn, min_size=3, max_size=2)
    with pytest.raises(ConfigurationError):
        PostgresDatabase("host=127.0.0.1 bogus_option=1")
    for schemas in ("apikeys", [KEYS_SCHEMA, None], [KEYS_SCHEMA, KEYS_SCHEMA]):
        with pytest.raises(ConfigurationError, match="schemas must"):
            PostgresDatabase(postgres_dsn, schemas=schemas)  # type: ignore[arg-type]
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


def _rows(postgres_dsn: str, table: str) -> Callable[[], int]:
    def rows() -> int:
        with psycopg.connect(postgres_dsn) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()  # noqa: S608 - our table names
        assert row is not None
        return int(row[0])

    return rows


def test_one_time_cleanup_is_bounded_and_drains(
    database: PostgresDatabase, postgres_dsn: str
) -> None:
    """A burst that expired together goes PRUNE_FACTOR * purge_every rows per clean-up."""
    store = PostgresOneTimeStore(database, purge_every=cleanups.EVERY)

    def write(key: str, now: dt.datetime) -> None:
        assert store.add(key, expires_at=now + dt.timedelta(seconds=60), now=now)

    rows = _rows(postgres_dsn, "authcore_one_time")
    assert cleanups.drain_counts(write, rows) == cleanups.expected_counts()


def test_rate_limit_cleanup_is_bounded_and_drains(
    database: PostgresDatabase, postgres_dsn: str
) -> None:
    store = PostgresRateLimitStore(database, prune_every=cleanups.EVERY)

    def write(key: str, now: dt.datetime) -> None:
        now_ns = int(now.timestamp()) * 10**9
        assert store.hit(key, cleanups.LIMIT, cost=1, now_ns=now_ns).allowed

    rows = _rows(postgres_dsn, "authcore_rate_limits")
    assert cleanups.drain_counts(write, rows) == cleanups.expected_counts()


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


# ------------------------------------------------------------------------- key rings


def _ring_key(kid: str) -> JWK:
    return JWK.generate("ES256", kid=kid)


def _unchanged(ring: KeyRing | None) -> KeyRing:
    assert ring is not None
    return ring


def test_key_ring_store_creates_loads_and_rotates(database: PostgresDatabase) -> None:
    """A ring is created by update, read back equal, rotated, and stored sealed (no key)."""
    kek = JWK.generate("A256KW", kid="kek1")
    store = PostgresKeyRingStore(database, keks=kek)
    assert store.load("signing") is None
    first = store.update("signing", lambda ring: ring or KeyRing.create(_ring_key("k1")))
    assert store.load("signing").to_dict() == first.to_dict()  # type: ignore[union-attr]
    assert store.update("signing", _unchanged) is not None  # nothing written
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    rotated = store.update(
        "signing",
        lambda ring: ring.rotate(_ring_key("k2"), retire_previous_at=later),  # type: ignore[union-attr]
    )
    assert [k.kid for k in rotated] == ["k1", "k2"]
    with database.connection() as conn:
        row = conn.execute(
            "SELECT version, sealed FROM authcore_key_rings WHERE name = 'signing'"
        ).fetchone()
    assert row is not None
    assert row[0] == 2  # created, rotated; the unchanged update wrote nothing
    header = json.loads(base64.urlsafe_b64decode(row[1].split(".")[0] + "=="))
    assert header["cty"] == "authcore-keyring+json"  # a JWE: no key material in clear
    assert row[1].count(".") == 4
    assert store.load("other") is None


def test_key_ring_store_concurrent_rotations_lose_nothing(postgres_dsn: str) -> None:
    """Eight machines adding a key to one ring at once: every key is in the result."""
    kek = JWK.generate("A256KW", kid="kek1")
    stores = [PostgresKeyRingStore(postgres_dsn, keks=kek) for _ in range(8)]
    stores[0].update("shared", lambda _: KeyRing.create(_ring_key("base")))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def add(i: int) -> None:
        barrier.wait()
        try:
            stores[i].update(
                "shared",
                lambda ring: ring.rotate(_ring_key(f"k{i}"), retire_previous_at=later),  # type: ignore[union-attr]
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    check = PostgresKeyRingStore(postgres_dsn, keks=kek)
    try:
        ring = check.load("shared")
        assert ring is not None
        assert sorted(str(k.kid) for k in ring) == sorted(["base", *(f"k{i}" for i in range(8))])
    finally:
        check.close()


def test_key_ring_store_refuses_altered_or_moved_rows(database: PostgresDatabase) -> None:
    """A tampered row, a row copied under another name, a foreign KEK: StoreError, typed."""
    kek = JWK.generate("A256KW", kid="kek1")
    store = PostgresKeyRingStore(database, keks=kek)
    store.update("a", lambda _: KeyRing.create(_ring_key("k1")))
    with database.connection() as conn:
        conn.execute(
            "INSERT INTO authcore_key_rings (name, version, sealed, updated_us) "
            "SELECT 'b', 1, sealed, updated_us FROM authcore_key_rings WHERE name = 'a'"
        )
        conn.execute(
            "INSERT INTO authcore_key_rings (name, version, sealed, updated_us) "
            "SELECT 'c', 1, overlay(sealed placing 'A' from length(sealed) - 30 for 1), "
            "updated_us FROM authcore_key_rings WHERE name = 'a'"
        )
        conn.execute(
            "INSERT INTO authcore_key_rings VALUES ('d', 1, 'not a jwe', 0), ('e', 1, '', 0)"
        )
    for name in ("b", "c", "d", "e"):
        with pytest.raises(StoreError, match="could not be unsealed"):
            store.load(name)
        with pytest.raises(StoreError):  # an update refuses too, and writes nothing
            store.update(name, lambda _: KeyRing.create(_ring_key("x")))
    stranger = PostgresKeyRingStore(database, keks=JWK.generate("A256KW", kid="kek1"))
    with pytest.raises(StoreError, match="could not be unsealed"):
        stranger.load("a")
    assert store.load("a") is not None


def test_key_ring_store_rotates_its_key_encryption_key(database: PostgresDatabase) -> None:
    """With [new, old] keks, old rings still load, and the next update reseals under new."""
    old, new = JWK.generate("A256KW", kid="old"), JWK.generate("A256GCMKW", kid="new")
    PostgresKeyRingStore(database, keks=old).update("r", lambda _: KeyRing.create(_ring_key("k1")))
    store = PostgresKeyRingStore(database, keks=[new, old])
    assert store.load("r") is not None
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    store.update("r", lambda ring: ring.rotate(_ring_key("k2"), retire_previous_at=later))  # type: ignore[union-attr]
    assert PostgresKeyRingStore(database, keks=new).load("r") is not None
    with pytest.raises(StoreError):
        PostgresKeyRingStore(database, keks=old).load("r")


def test_key_ring_store_bad_configuration(database: PostgresDatabase) -> None:
    """Bad key-encryption keys, names and changes are ConfigurationErrors."""
    for keks in ([], JWK.generate("HS256"), [JWK.generate("A128KW")], "secret", 42, None):
        with pytest.raises(ConfigurationError):
            PostgresKeyRingStore(database, keks=keks)  # type: ignore[arg-type]
    store = PostgresKeyRingStore(database, keks=JWK.generate("A256KW"))
    with pytest.raises(ConfigurationError):
        store.update("", lambda _: KeyRing.create(_ring_key("k1")))
    with pytest.raises(ConfigurationError):
        store.update("n", lambda _: "not a ring")  # type: ignore[arg-type,return-value]
    assert store.load("n") is None


def test_async_faces(database: PostgresDatabase) -> None:
    """The async one-time and rate-limit stores decide exactly as the sync ones (shared rows)."""
    once = PostgresOneTimeStore(database)
    limits = PostgresRateLimitStore(database)

    async def run() -> None:
        aonce, alimits = AsyncPostgresOneTimeStore(once), AsyncPostgresRateLimitStore(limits)
        later = START + dt.timedelta(seconds=5)
        results = await asyncio.gather(
            *(aonce.add("x", expires_at=later, now=START) for _ in range(6))
        )
        assert sum(results) == 1
        assert await aonce.contains("x", now=START)
        limit = GCRA(3, 3600)
        decisions = await asyncio.gather(
            *(alimits.hit("k", limit, cost=1, now_ns=10**18) for _ in range(5))
        )
        assert sum(d.allowed for d in decisions) == 3
        await alimits.reset("k")
        assert (await alimits.hit("k", limit, cost=3, now_ns=10**18)).allowed

    asyncio.run(run())
    assert once.contains("x", now=START)


def test_async_jwt_denylist(database: PostgresDatabase) -> None:
    """JWTVerifier.averify awaits the async face; the sync store sees the same revocation."""
    from authcore.errors import Revoked  # noqa: PLC0415
    from authcore.jose import JWTVerifier, jwt  # noqa: PLC0415
    from authcore.jose.denylist import arevoke  # noqa: PLC0415

    key = JWK.generate("HS256", kid="d")
    token = jwt.encode({"jti": "j1", "exp": (START + dt.timedelta(hours=1)).timestamp()}, key)
    once = PostgresOneTimeStore(database)
    denylist = AsyncPostgresOneTimeStore(once)
    verifier = JWTVerifier(key, algorithms=["HS256"], denylist=denylist)

    async def run() -> None:
        claims = await verifier.averify(token, now=START)
        await arevoke(denylist, claims, now=START)
        with pytest.raises(Revoked):
            await verifier.averify(token, now=START)

    asyncio.run(run())
    with pytest.raises(Revoked):
        JWTVerifier(key, algorithms=["HS256"], denylist=once).verify(token, now=START)
