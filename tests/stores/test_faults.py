"""Server faults: down, hung or restarted servers give StoreError in bounded time, then recover.

Each test runs its own server so it can stop, freeze (SIGSTOP) and restart it.  "Bounded"
is checked as liveness, not speed: a call must finish (with a StoreError) long before a
generous limit, where an unbounded client would hang forever.  Security decisions fail
closed: a store that cannot answer raises; it never allows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from authcore.errors import StoreError
from authcore.ratelimit import GCRA

from .conftest import need_module
from .records import START, make_record
from .servers import PostgresServer, RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from authcore.apikeys import KeyRecord, KeyStore
    from authcore.oauth import Artefact, Effect, Family, GrantStore

_T = TypeVar("_T")
_LIVENESS = 30.0  # seconds: far above every configured timeout, far below "hung forever"
LIMIT = GCRA(1000, 1)
LATER = START + dt.timedelta(hours=1)


def _bounded(call: Callable[[], _T]) -> _T:
    """Run ``call`` in a thread; fail the test if it has not finished after ``_LIVENESS`` s."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("ok", call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(("error", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(_LIVENESS)
    if thread.is_alive():
        pytest.fail(f"the store call did not return within {_LIVENESS} s")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value  # type: ignore[no-any-return]


def _eventually(call: Callable[[], _T]) -> _T:
    """Retry ``call`` while it raises StoreError, for up to ``_LIVENESS`` seconds."""
    deadline = time.monotonic() + _LIVENESS
    while True:
        try:
            return _bounded(call)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _rotate(store: KeyStore, stop: Callable[[], None]) -> None:
    """An update writing two records, with the server killed between read and write."""

    def change(record: KeyRecord) -> tuple[KeyRecord, ...]:
        stop()
        return (replace(record, replaced_by="n" * 16), make_record("n" * 16))

    with pytest.raises(StoreError):
        _bounded(lambda: store.update("k" * 16, change))


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_faults() -> Iterator[RedisServer]:
    need_module("redis")
    server = RedisServer()
    yield server
    server.close()


def _redis_stores(server: RedisServer) -> tuple[Any, Any, Any, Any]:
    from authcore.stores import redis  # noqa: PLC0415 - optional dependency

    client = redis.connect(server.url, timeout=0.5)
    return (
        client,
        redis.RedisRateLimitStore(client),
        redis.RedisOneTimeStore(client),
        redis.RedisKeyStore(client),
    )


def test_redis_down_fails_closed(redis_faults: RedisServer) -> None:
    """With Redis stopped, every decision raises StoreError (never allows), in bounded time."""
    client, limits, once, keys = _redis_stores(redis_faults)
    assert LIMIT.hit(limits, "k", now=START).allowed
    redis_faults.stop()
    with pytest.raises(StoreError, match="redis ConnectionError"):
        _bounded(lambda: LIMIT.hit(limits, "k", now=START))
    with pytest.raises(StoreError):
        _bounded(lambda: once.add("jti", expires_at=LATER, now=START))
    with pytest.raises(StoreError):
        _bounded(lambda: once.contains("jti", now=START))
    with pytest.raises(StoreError):
        _bounded(lambda: keys.consume_use("k" * 16))
    with pytest.raises(StoreError):
        _bounded(lambda: keys.get("k" * 16))
    redis_faults.start()
    assert _eventually(lambda: once.add("jti", expires_at=LATER, now=START))
    client.close()


def test_redis_hung_server_times_out_then_recovers(redis_faults: RedisServer) -> None:
    """A frozen server (SIGSTOP) gives StoreError after the timeout; thawed, it serves again."""
    client, limits, once, _ = _redis_stores(redis_faults)
    assert once.add("a", expires_at=LATER, now=START)
    redis_faults.pause()
    try:
        with pytest.raises(StoreError, match="redis TimeoutError"):
            _bounded(lambda: once.add("b", expires_at=LATER, now=START))
        with pytest.raises(StoreError):
            _bounded(lambda: LIMIT.hit(limits, "k", now=START))
    finally:
        redis_faults.resume()
    assert not _eventually(lambda: once.add("a", expires_at=LATER, now=START))
    assert _eventually(lambda: LIMIT.hit(limits, "k", now=START)).allowed
    client.close()


def _restart_mid_run(limits: Any, restart: Callable[[], None]) -> None:
    """Decide in a loop while ``restart`` runs: only decisions and StoreErrors, then recovery."""
    outcomes: list[str] = []
    done = threading.Event()

    def decide() -> None:
        while not done.is_set():
            try:
                LIMIT.hit(limits, "k", now=START)
                outcomes.append("decision")
            except StoreError:
                outcomes.append("store_error")
            except BaseException as exc:  # noqa: BLE001 - any other type fails the test
                outcomes.append(repr(exc))

    worker = threading.Thread(target=decide)
    worker.start()
    try:
        time.sleep(0.2)
        restart()
        time.sleep(0.3)
    finally:
        done.set()
        worker.join(_LIVENESS)
    assert set(outcomes) <= {"decision", "store_error"}
    assert "decision" in outcomes
    assert _eventually(lambda: LIMIT.hit(limits, "after", now=START)).allowed


def test_redis_restart_mid_run_recovers_by_itself(redis_faults: RedisServer) -> None:
    """Decisions racing a restart are a Decision or a StoreError, and succeed afterwards."""
    client, limits, _, _ = _redis_stores(redis_faults)

    def restart() -> None:
        redis_faults.stop()
        time.sleep(0.3)
        redis_faults.start()

    _restart_mid_run(limits, restart)
    client.close()


def test_redis_no_partial_rotation(redis_faults: RedisServer) -> None:
    """A rotation whose server dies before the write leaves both records as they were."""
    client, _, _, keys = _redis_stores(redis_faults)
    original = make_record("k" * 16, uses=3)
    keys.add(original)
    try:  # frozen (not stopped: it keeps no data on disk) between the read and the write
        _rotate(keys, redis_faults.pause)
    finally:
        redis_faults.resume()
    assert _eventually(lambda: keys.get("k" * 16)) == original
    assert keys.get("n" * 16) is None
    client.close()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def postgres_faults() -> Iterator[PostgresServer]:
    need_module("psycopg", "psycopg_pool")
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture
def pg(postgres_faults: PostgresServer) -> Iterator[Any]:
    """A database with short timeouts on the fault server, restarted if a test left it down."""
    from authcore.stores import postgres  # noqa: PLC0415 - optional dependency

    db = postgres.PostgresDatabase(postgres_faults.dsn, timeout=2.0, max_size=4)
    yield db
    db.close()
    postgres_faults.start_if_stopped()


def test_postgres_down_fails_closed_then_recovers(postgres_faults: PostgresServer, pg: Any) -> None:
    """With PostgreSQL stopped, calls raise StoreError in bounded time; then work again."""
    from authcore.stores.postgres import (  # noqa: PLC0415
        PostgresKeyStore,
        PostgresOneTimeStore,
        PostgresRateLimitStore,
    )

    keys, limits, once = PostgresKeyStore(pg), PostgresRateLimitStore(pg), PostgresOneTimeStore(pg)
    assert LIMIT.hit(limits, "down", now=START).allowed
    postgres_faults.stop()
    with pytest.raises(StoreError, match="postgres"):
        _bounded(lambda: LIMIT.hit(limits, "down", now=START))
    with pytest.raises(StoreError):
        _bounded(lambda: once.add("down", expires_at=LATER, now=START))
    with pytest.raises(StoreError):
        _bounded(lambda: keys.consume_use("k" * 16))
    postgres_faults.start()
    assert _eventually(lambda: once.add("down", expires_at=LATER, now=START))


def test_postgres_restart_is_invisible_after_it(postgres_faults: PostgresServer, pg: Any) -> None:
    """After a restart, pooled connections the server closed are replaced without an error."""
    from authcore.stores.postgres import PostgresOneTimeStore  # noqa: PLC0415

    once = PostgresOneTimeStore(pg)
    assert once.add("restart:1", expires_at=LATER, now=START)
    postgres_faults.stop()
    postgres_faults.start()
    time.sleep(0.2)  # the kernel has delivered the old connections' end of stream
    assert not _bounded(lambda: once.add("restart:1", expires_at=LATER, now=START))


def test_postgres_restart_mid_run_recovers_by_itself(
    postgres_faults: PostgresServer, pg: Any
) -> None:
    """Decisions racing a restart are a Decision or a StoreError, and succeed afterwards."""
    from authcore.stores.postgres import PostgresRateLimitStore  # noqa: PLC0415

    def restart() -> None:
        postgres_faults.stop()
        postgres_faults.start()

    _restart_mid_run(PostgresRateLimitStore(pg), restart)


def test_postgres_slow_statement_times_out(postgres_faults: PostgresServer, pg: Any) -> None:
    """A statement stuck past the timeout is a StoreError, and is not applied afterwards."""
    import psycopg  # noqa: PLC0415

    from authcore.stores.postgres import PostgresKeyStore  # noqa: PLC0415

    keys = PostgresKeyStore(pg)
    keys.add(make_record("s" * 16, uses=5))
    with psycopg.connect(postgres_faults.dsn) as blocker:
        blocker.execute("SELECT 1 FROM authcore_api_keys WHERE key_id = %s FOR UPDATE", ("s" * 16,))
        with pytest.raises(StoreError, match="postgres"):
            _bounded(lambda: keys.consume_use("s" * 16))
        blocker.rollback()
    assert _eventually(lambda: keys.consume_use("s" * 16)) == 4


def test_postgres_no_partial_rotation(postgres_faults: PostgresServer, pg: Any) -> None:
    """Killing the server in the middle of a rotation leaves it undone, never half done."""
    from authcore.stores.postgres import PostgresKeyStore  # noqa: PLC0415

    keys = PostgresKeyStore(pg)
    original = make_record("k" * 16, uses=3)
    keys.add(original)
    _rotate(keys, postgres_faults.stop)
    postgres_faults.start()
    assert _eventually(lambda: keys.get("k" * 16)) == original
    assert keys.get("n" * 16) is None


# --------------------------------------------------------------------------- OAuth rotation


class _Recording:
    """A grant store that remembers the effects of each apply (to find the successor)."""

    def __init__(self, store: GrantStore) -> None:
        self.store = store
        self.effects: list[Effect] = []

    def get(self, digest_: str) -> Artefact | None:
        return self.store.get(digest_)

    def family(self, family_id: str) -> Family | None:
        return self.store.family(family_id)

    def apply(self, effects: Sequence[Effect]) -> bool:
        self.effects = list(effects)
        return self.store.apply(effects)


def _rotation_fault(
    store: GrantStore, fault: Callable[[], None], recover: Callable[[], None]
) -> str:
    """Rotate a refresh token while ``fault`` breaks the server mid-apply; check all or nothing.

    Returns ``"rotated"`` or ``"unchanged"``: what the store holds after ``recover``.
    """
    from authcore.oauth import Insert, RefreshToken, digest, lifecycle  # noqa: PLC0415
    from tests.oauth import helpers  # noqa: PLC0415

    recording = _Recording(store)
    env = helpers.make_env(store=recording)
    token = helpers.tokens(env)["refresh_token"]
    fault()
    try:
        response = _bounded(lambda: helpers.refresh(env, token))
    finally:
        recover()
    assert response.status >= 500  # a store failure is a server error: nothing is issued
    assert "refresh_token" not in response.body.decode()
    (successor,) = [
        e.record
        for e in recording.effects
        if isinstance(e, Insert) and isinstance(e.record, RefreshToken)
    ]
    old = _eventually(lambda: store.get(digest(token)))
    assert isinstance(old, RefreshToken)
    new = store.get(successor.digest)
    if old.state is lifecycle.RefreshState.ACTIVE:
        assert new is None  # nothing of the rotation landed
        outcome = "unchanged"
    else:
        assert old.state is lifecycle.RefreshState.ROTATED
        assert new == successor  # everything landed
        outcome = "rotated"
    fresh = helpers.tokens(env)["refresh_token"]  # the store works again
    assert helpers.refresh(env, fresh).status == 200
    return outcome


def test_redis_oauth_rotation_is_all_or_nothing(redis_faults: RedisServer) -> None:
    """Redis frozen just before the rotation script: a 5xx, then rotated or not, never half."""
    from authcore.stores import redis  # noqa: PLC0415

    client = redis.connect(redis_faults.url, timeout=0.5)
    store = redis.RedisGrantStore(client)
    script = store._apply
    armed = threading.Event()

    def frozen_script(*args: Any, **kwargs: Any) -> Any:
        if armed.is_set():
            armed.clear()
            redis_faults.pause()
        return script(*args, **kwargs)

    store._apply = frozen_script  # type: ignore[assignment]
    outcome = _rotation_fault(store, armed.set, redis_faults.resume)
    assert outcome in {"rotated", "unchanged"}
    client.close()


def test_postgres_oauth_rotation_killed_mid_transaction(
    postgres_faults: PostgresServer, pg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL killed after the rotation's first statement: a 5xx, and nothing landed."""
    from authcore.stores import _oauth_postgres  # noqa: PLC0415
    from authcore.stores.postgres import PostgresGrantStore  # noqa: PLC0415

    store = PostgresGrantStore(pg)
    original = _oauth_postgres._apply_one
    armed = threading.Event()
    killed: list[Effect] = []

    def killing(conn: Any, effect: Effect) -> None:
        original(conn, effect)
        if armed.is_set():
            armed.clear()
            killed.append(effect)
            postgres_faults.stop()

    monkeypatch.setattr(_oauth_postgres, "_apply_one", killing)
    outcome = _rotation_fault(store, armed.set, postgres_faults.start)
    assert outcome == "unchanged"  # the transaction never committed
    assert len(killed) == 1  # the server died after one statement of the rotation ran
